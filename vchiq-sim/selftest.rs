// SPDX-License-Identifier: GPL-2.0

//! KUnit: the simulator's firmware side without vchiq-core.
//!
//! An ARM-role engine talks to the VideoCore's engine and service host over one vmalloc
//! buffer in one thread: the services' answers (echo replies and errors, func's version
//! rules and second listener, unknown services), `refuse_open`, and `corrupt_header`; plus
//! bulk DMA from hand-made pagelists in kmalloc memory (good ones, and every kind of bad
//! one). The pagelist codec's own tests are in vchiq-kunit and the engine's host tests.

use kernel::prelude::*;

#[kunit_tests(vchiq_sim)]
mod tests {
    use crate::engine::BulkDir;
    use crate::engine::CacheLine;
    use crate::engine::{
        to_kernel_err as to_err, Engine, Error, Handle, Output, ServiceParams, Tables, Wait,
    };
    use crate::host::{Host, VpuEngine};
    use crate::knobs::Counters;
    use crate::pagelist::{transfer, Fragments};
    use crate::shm::{RawShm, VmallocShm};
    use crate::sys::Dev;
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
            let host = Host::new(&mut vpu, &counters, crate::sys::Dev::for_test())?;
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

    const PAGE: usize = 4096;

    /// Page-aligned, physically contiguous kmalloc memory.
    struct Pages {
        mem: KVec<u8>,
        base: usize,
    }

    impl Pages {
        fn new(n: usize) -> Result<Self> {
            let mem = KVec::from_elem(0xeeu8, (n + 1) * PAGE, GFP_KERNEL)?;
            let base = (PAGE - mem.as_ptr() as usize % PAGE) % PAGE;
            Ok(Self { mem, base })
        }

        fn page(&mut self, i: usize) -> &mut [u8] {
            let at = self.base + i * PAGE;
            &mut self.mem[at..at + PAGE]
        }

        fn bus(&self, i: usize) -> u32 {
            Dev::test_bus(self.mem.as_ptr().wrapping_add(self.base + i * PAGE))
        }

        /// Writes a pagelist into page 0.
        fn pagelist(&mut self, len: u32, ty: u16, offset: u16, addrs: &[u32]) {
            let p = self.page(0);
            p[0..4].copy_from_slice(&len.to_le_bytes());
            p[4..6].copy_from_slice(&ty.to_le_bytes());
            p[6..8].copy_from_slice(&offset.to_le_bytes());
            for (i, a) in addrs.iter().enumerate() {
                p[8 + 4 * i..12 + 4 * i].copy_from_slice(&a.to_le_bytes());
            }
            // No stray entry after the last one.
            let end = 8 + 4 * addrs.len();
            p[end..end + 4].fill(0);
        }
    }

    #[test]
    fn pagelist_transfers() -> Result {
        // Page 0: pagelist; 1 and 3: data (separate runs); 4: fragments.
        let mut m = Pages::new(5)?;
        let dev = Dev::for_test();
        let frags = Fragments {
            bus: m.bus(4),
            count: 4,
            cls: CacheLine::B64,
        };
        let (a, b) = (m.bus(1), m.bus(3));

        // ARM transmit (VPU receive), 100 bytes from offset 4000 across two runs.
        for i in 0..96 {
            m.page(1)[4000 + i] = i as u8;
        }
        for i in 96..100 {
            m.page(3)[i - 96] = i as u8;
        }
        m.pagelist(100, 0, 4000, &[a, b]);
        let mut buf = KVec::from_elem(0u8, 100, GFP_KERNEL)?;
        assert_eq!(
            transfer(&dev, &frags, BulkDir::Receive, m.bus(0), &mut buf),
            Ok(100)
        );
        assert!(buf.iter().enumerate().all(|(i, &x)| x == i as u8));

        // ARM receive without fragments: exactly the described bytes are written.
        let mut m = Pages::new(5)?;
        let a = m.bus(1);
        m.pagelist(30, 1, 10, &[a]);
        let mut buf = KVec::from_elem(0x5au8, 30, GFP_KERNEL)?;
        assert_eq!(
            transfer(&dev, &frags, BulkDir::Transmit, m.bus(0), &mut buf),
            Ok(30)
        );
        assert!(m.page(1)[10..40].iter().all(|&x| x == 0x5a));
        assert!(m.page(1)[9] == 0xee && m.page(1)[40] == 0xee);

        // ARM receive with fragment 1, 65 bytes at offset 4095: the first byte goes to the
        // fragment's head line, the next 64 fill the second page's first line, no tail.
        let mut m = Pages::new(5)?;
        let frags = Fragments {
            bus: m.bus(4),
            count: 4,
            cls: CacheLine::B64,
        };
        let (a, b) = (m.bus(1), m.bus(3));
        m.pagelist(65, 2 + 1, 4095, &[a, b]);
        let mut buf = KVec::new();
        for i in 0..65u8 {
            buf.push(i + 1, GFP_KERNEL)?;
        }
        assert_eq!(
            transfer(&dev, &frags, BulkDir::Transmit, m.bus(0), &mut buf),
            Ok(65)
        );
        assert_eq!(m.page(4)[128], 1);
        assert!(m.page(4)[129..256].iter().all(|&x| x == 0xee));
        assert!(m.page(4)[..128].iter().all(|&x| x == 0xee));
        assert_eq!(m.page(1)[4095], 0xee);
        assert!(m.page(3)[..64] == buf[1..]);
        assert_eq!(m.page(3)[64], 0xee);
        Ok(())
    }

    #[test]
    fn pagelist_errors() -> Result {
        let mut m = Pages::new(5)?;
        let dev = Dev::for_test();
        let frags = Fragments {
            bus: m.bus(4),
            count: 4,
            cls: CacheLine::B64,
        };
        let (a, b) = (m.bus(1), m.bus(3));
        let mut buf = KVec::from_elem(0u8, 100, GFP_KERNEL)?;
        let mut run = |m: &mut Pages, dir, len, ty, off, addrs: &[u32]| {
            m.pagelist(len, ty, off, addrs);
            transfer(&dev, &frags, dir, m.bus(0), &mut buf)
        };
        // Length differs from the message's size.
        assert_eq!(run(&mut m, BulkDir::Receive, 99, 0, 0, &[a]), Err(EINVAL));
        // Type does not match the direction.
        assert_eq!(run(&mut m, BulkDir::Receive, 100, 1, 0, &[a]), Err(EINVAL));
        assert_eq!(run(&mut m, BulkDir::Transmit, 100, 0, 0, &[a]), Err(EINVAL));
        // Fragment beyond the pool.
        assert_eq!(
            run(&mut m, BulkDir::Transmit, 100, 2 + 4, 0, &[a]),
            Err(EINVAL)
        );
        // Offset outside the first page.
        assert_eq!(
            run(&mut m, BulkDir::Receive, 100, 0, 4096, &[a]),
            Err(EINVAL)
        );
        // Too few runs for the span: the missing entry reads as 0, which is not RAM.
        assert_eq!(
            run(&mut m, BulkDir::Receive, 100, 0, 4000, &[a]),
            Err(EFAULT)
        );
        // A run that wraps the 32-bit bus space.
        assert_eq!(
            run(&mut m, BulkDir::Receive, 100, 0, 0, &[0xffff_f000 | 0xfff]),
            Err(EINVAL)
        );
        // A run in the last page of the bus space that is not RAM.
        assert_eq!(
            run(&mut m, BulkDir::Receive, 100, 0, 0, &[0xffff_f000]),
            Err(EFAULT)
        );
        // Both good runs still work afterwards.
        assert_eq!(
            run(&mut m, BulkDir::Receive, 100, 0, 4000, &[a, b]),
            Ok(100)
        );
        // A pagelist that is not in RAM.
        assert_eq!(
            transfer(&dev, &frags, BulkDir::Receive, 0, &mut buf),
            Err(EFAULT)
        );
        Ok(())
    }
}
