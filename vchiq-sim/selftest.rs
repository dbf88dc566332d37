// SPDX-License-Identifier: GPL-2.0

//! KUnit: the simulator's firmware side without vchiq-core.
//!
//! An ARM-role engine talks to the VideoCore's engine and service host over one vmalloc
//! buffer in one thread: the services' answers (echo replies and errors, func's version
//! rules and second listener, unknown services), `refuse_open`, and `corrupt_header`; plus
//! the fragment arithmetic of bulk receives. Bulk DMA itself needs bus addresses and is
//! tested end to end with vchiq-core.

use kernel::prelude::*;

#[kunit_tests(vchiq_sim)]
mod tests {
    use crate::engine::{
        to_kernel_err as to_err, Engine, Error, Handle, Output, ServiceParams, Tables, Wait,
    };
    use crate::host::{Host, VpuEngine};
    use crate::knobs::Counters;
    use crate::pagelist::split;
    use crate::shm::{RawShm, VmallocShm};
    use crate::tables::new_tables;
    use crate::vpu_shm::{Corruption, VpuShm};
    use kernel::alloc::KVec;
    use kernel::prelude::*;

    /// The standard allocation: slot zero plus 64 slots.
    const SHM_SIZE: u32 = 65 * 4096;
    const MAX_MSG: usize = 4088;

    type ArmEngine = Engine<RawShm, KBox<Tables>>;

    /// Both sides over one buffer. The engines and host are boxed: the kernel stack is small.
    struct Pair {
        arm: KBox<ArmEngine>,
        vpu: KBox<VpuEngine>,
        host: KBox<Host>,
        counters: KBox<Counters>,
        /// ARM outputs not consumed yet.
        inbox: KVec<Output>,
        buf: KVec<u8>,
        // Last: the memory outlives both engines.
        _mem: VmallocShm,
    }

    impl Pair {
        fn new() -> Result<Self> {
            let mem = VmallocShm::new(SHM_SIZE)?;
            let arm = Engine::init_arm(mem.shm(), new_tables()?, [0, 64]).map_err(to_err)?;
            let mut vpu =
                Engine::init_vpu(VpuShm::new(mem.shm()), new_tables()?).map_err(to_err)?;
            let own = vpu.own_slots();
            vpu.shm()
                .set_own_slots(own.first.min(own.sync), own.last.max(own.sync));
            let counters = KBox::new(Counters::new(), GFP_KERNEL)?;
            let host = Host::new(&mut vpu, &counters)?;
            let mut p = Pair {
                arm: KBox::new(arm, GFP_KERNEL)?,
                vpu: KBox::new(vpu, GFP_KERNEL)?,
                host: KBox::new(host, GFP_KERNEL)?,
                counters,
                inbox: KVec::new(),
                buf: KVec::from_elem(0u8, MAX_MSG, GFP_KERNEL)?,
                _mem: mem,
            };
            p.vpu.connect().map_err(to_err)?;
            p.arm.connect().map_err(to_err)?;
            p.expect(|o| matches!(o, Output::Connected))?;
            Ok(p)
        }

        /// One round of the VideoCore, like `Running::round` without bulk DMA.
        fn pump_vpu(&mut self) -> Result {
            for w in Wait::ALL {
                self.vpu.ack(w);
            }
            self.vpu.process_recycle().map_err(to_err)?;
            self.host.drain(&mut self.vpu, &self.counters);
            loop {
                match self.vpu.poll() {
                    Ok(Some(o)) => {
                        // No pagelists here: a bulk transfer would be a test bug.
                        assert!(self
                            .host
                            .dispatch(&mut self.vpu, o, &self.counters)
                            .is_none());
                        self.host.drain(&mut self.vpu, &self.counters);
                    }
                    Ok(None) | Err(Error::WouldBlock) => break,
                    Err(e) => return Err(to_err(e)),
                }
            }
            let _ = self.vpu.take_doorbell();
            Ok(())
        }

        /// One round of the ARM; its outputs go to the inbox.
        fn pump_arm(&mut self) -> Result {
            for w in Wait::ALL {
                self.arm.ack(w);
            }
            self.arm.process_recycle().map_err(to_err)?;
            loop {
                match self.arm.poll() {
                    Ok(Some(o)) => self.inbox.push(o, GFP_KERNEL)?,
                    Ok(None) | Err(Error::WouldBlock) => break,
                    Err(e) => return Err(to_err(e)),
                }
            }
            let _ = self.arm.take_doorbell();
            Ok(())
        }

        /// Pumps both sides until an ARM output matches `f`, and returns it.
        fn expect(&mut self, f: impl Fn(&Output) -> bool) -> Result<Output> {
            for _ in 0..32 {
                if let Some(i) = self.inbox.iter().position(&f) {
                    return self.inbox.remove(i).map_err(|_| EINVAL);
                }
                self.pump_vpu()?;
                self.pump_arm()?;
            }
            Err(ETIMEDOUT)
        }

        /// Opens `fourcc` with the given versions; `Ok(None)` if the VideoCore rejected it.
        fn open(&mut self, fourcc: &[u8; 4], v: u16, vmin: u16) -> Result<Option<Handle>> {
            let p = ServiceParams {
                fourcc: u32::from_be_bytes(*fourcc),
                version: v,
                version_min: vmin,
            };
            let h = self.arm.open_service(p, 42).map_err(to_err)?;
            let o = self.expect(|o| {
                matches!(o, Output::Opened { handle, .. } | Output::OpenRejected { handle }
                    if *handle == h)
            })?;
            Ok(matches!(o, Output::Opened { .. }).then_some(h))
        }

        /// Sends `data` on `h` and returns the reply.
        fn call(&mut self, h: Handle, data: &[u8]) -> Result<KVec<u8>> {
            self.arm.send_data(h, data).map_err(to_err)?;
            let o = self.expect(|o| matches!(o, Output::Data { handle, .. } if *handle == h))?;
            let Output::Data { msg, .. } = o else {
                return Err(EINVAL);
            };
            let n = self.arm.read(&msg, &mut self.buf).map_err(to_err)?;
            self.arm.release(&msg).map_err(to_err)?;
            let mut v = KVec::new();
            v.extend_from_slice(self.buf.get(..n).ok_or(EINVAL)?, GFP_KERNEL)?;
            Ok(v)
        }
    }

    fn words(w: &[i32]) -> Result<KVec<u8>> {
        let mut v = KVec::new();
        for x in w {
            v.extend_from_slice(&x.to_le_bytes(), GFP_KERNEL)?;
        }
        Ok(v)
    }

    #[test]
    fn echo_replies() -> Result {
        let mut p = Pair::new()?;
        let h = p.open(b"echo", 3, 3)?.ok_or(ENOENT)?;
        // MSG_ECHO: the whole message comes back.
        let msg = words(&[5, 0x1234, -1, 7])?;
        assert!(p.call(h, &msg)?[..] == msg[..]);
        // Too short, MSG_ASYNC (empty reply), MSG_SYNC (one NUL), unknown type, bad config.
        assert!(&p.call(h, &[1, 2])?[..] == b"message too short\0");
        assert!(p.call(h, &words(&[2])?)?.is_empty());
        assert!(&p.call(h, &words(&[3])?)?[..] == b"\0");
        assert!(&p.call(h, &words(&[99])?)?[..] == b"Unexpected message type\0");
        assert!(&p.call(h, &words(&[4, 1])?)?[..] == b"Bad params size\0");
        // MSG_CONFIG with blocksize 0 (the ping test's synchronisation): one NUL, no bulk.
        assert!(&p.call(h, &words(&[4, 0, 1000, 0, 0, 1, 0, 0, 0, 0])?)?[..] == b"\0");
        // A maximum-size echo.
        let mut big = KVec::from_elem(0xa5u8, MAX_MSG, GFP_KERNEL)?;
        if let Some(w) = big.get_mut(..4) {
            w.copy_from_slice(&5i32.to_le_bytes());
        }
        assert!(p.call(h, &big)?[..] == big[..]);
        // Eight independent listeners, then none.
        let mut more = KVec::new();
        for _ in 0..7 {
            more.push(p.open(b"echo", 3, 3)?.ok_or(ENOENT)?, GFP_KERNEL)?;
        }
        assert!(p.open(b"echo", 3, 3)?.is_none());
        p.arm.close_service(h).map_err(to_err)?;
        p.expect(|o| matches!(o, Output::Closed { handle } if *handle == h))?;
        // Auto-close: the listener is back.
        assert!(p.open(b"echo", 3, 3)?.is_some());
        assert_eq!(p.arm.stats().proto_errors, 0);
        assert_eq!(p.vpu.stats().proto_errors, 0);
        Ok(())
    }

    #[test]
    fn func_versions_and_second_listener() -> Result {
        let mut p = Pair::new()?;
        // Version rule: listener 3 (minimum 2).
        assert!(p.open(b"func", 0, 0)?.is_none());
        assert!(p.open(b"func", 1, 1)?.is_none());
        assert!(p.open(b"func", 4, 4)?.is_none());
        let c1 = p.open(b"func", 3, 3)?.ok_or(ENOENT)?;
        // Unknown services are rejected.
        assert!(p.open(b"none", 3, 3)?.is_none());
        // F1's opening created F2, and only F2.
        let c2 = p.open(b"func", 3, 3)?.ok_or(ENOENT)?;
        assert!(p.open(b"func", 3, 3)?.is_none());
        // F1 echoes a message.
        assert!(&p.call(c1, b"abcdefghijklmnopqrstuvwxyz")?[..] == b"abcdefghijklmnopqrstuvwxyz");
        // Closing C2 makes F2 (no auto-close) listen again.
        p.arm.close_service(c2).map_err(to_err)?;
        p.expect(|o| matches!(o, Output::Closed { handle } if *handle == c2))?;
        assert!(p.open(b"func", 3, 3)?.is_some());
        Ok(())
    }

    #[test]
    fn refuse_open() -> Result {
        let mut p = Pair::new()?;
        p.host.apply_refuse(&mut p.vpu, true, &p.counters);
        assert!(p.open(b"echo", 3, 3)?.is_none());
        assert!(p.open(b"fun2", 3, 3)?.is_none());
        p.host.apply_refuse(&mut p.vpu, false, &p.counters);
        assert!(p.open(b"echo", 3, 3)?.is_some());
        assert!(p.open(b"fun2", 3, 3)?.is_some());
        Ok(())
    }

    #[test]
    fn corrupt_header_breaks_the_arm_stream() -> Result {
        let mut p = Pair::new()?;
        let h = p.open(b"echo", 3, 3)?.ok_or(ENOENT)?;
        p.vpu.shm().arm(Corruption::Size);
        p.arm.send_data(h, &words(&[3])?).map_err(to_err)?;
        p.pump_vpu()?;
        assert!(p.vpu.shm().take_fired());
        assert!(p.pump_arm() == Err(EPROTO));
        Ok(())
    }

    #[test]
    fn corrupt_header_type_is_skipped() -> Result {
        let mut p = Pair::new()?;
        let h = p.open(b"echo", 3, 3)?.ok_or(ENOENT)?;
        p.vpu.shm().arm(Corruption::Type);
        p.arm.send_data(h, &words(&[3])?).map_err(to_err)?;
        p.pump_vpu()?;
        assert!(p.vpu.shm().take_fired());
        p.pump_arm()?;
        assert_eq!(p.arm.stats().proto_errors, 1);
        // The stream goes on.
        assert!(&p.call(h, &words(&[3])?)?[..] == b"\0");
        Ok(())
    }

    #[test]
    fn fragment_split() {
        // The ARM's completion (vchiq-protocol.md §6.4): head bytes from fragment[0..], tail
        // bytes from fragment[cls..]; everything else must come from the pages.
        for cls in [32u32, 64] {
            for offset in [0u32, 1, 31, 32, 63, 4064, 4095] {
                for len in [1usize, 2, 31, 32, 33, 63, 64, 65, 200, 4097] {
                    let s = split(cls, offset, len, Some(0));
                    let len32 = len as u32;
                    let head = ((cls - offset % cls) % cls).min(len32) as usize;
                    let tail = if (head as u32) < len32 {
                        ((offset + len32) % cls) as usize
                    } else {
                        0
                    };
                    assert_eq!(s.head, head);
                    assert_eq!(s.mid_end, len - tail);
                    assert!(s.head <= s.mid_end);
                }
            }
        }
        let s = split(64, 5, 100, None);
        assert_eq!((s.head, s.mid_end), (0, 100));
    }
}
