// SPDX-License-Identifier: GPL-2.0

//! KUnit: both protocol roles in one thread over one kernel buffer.
//!
//! The ARM-role engine (what this driver runs) talks to a VPU-role engine (what the
//! simulated VideoCore runs) through [`VmallocShm`]: connect, open an echo service, echo
//! messages of every size class with content checks, close. This proves that the engine's
//! sources, compiled by the kernel's rustc with the kernel's flags, work in the kernel on
//! both arm64 and 32-bit ARM; the host tests cover the protocol in depth.

use kernel::prelude::*;

#[kunit_tests(vchiq_engine_loopback)]
mod tests {
    use crate::engine::{
        to_kernel_err as to_err, Engine, Error, Handle, Output, ServerOptions, ServiceParams,
        SharedMem, Tables, Wait,
    };
    use crate::shm::{RawShm, VmallocShm};
    use crate::tables::new_tables;
    use core::ops::DerefMut;
    use kernel::alloc::KVec;
    use kernel::prelude::*;

    /// The standard allocation: slot zero plus 64 slots.
    const SHM_SIZE: u32 = 65 * 4096;
    const ECHO: u32 = u32::from_be_bytes(*b"ECHO");
    const MAX_MSG: usize = 4088;

    /// Runs all pending work of `eng` and hands every output to `sink`. Returns whether anything
    /// happened.
    fn pump<M: SharedMem, T: DerefMut<Target = Tables>>(
        eng: &mut Engine<M, T>,
        sink: &mut dyn FnMut(&mut Engine<M, T>, Output) -> Result,
    ) -> Result<bool> {
        let before = eng.stats();
        let mut progress = false;
        for w in Wait::ALL {
            eng.ack(w);
        }
        progress |= eng.process_recycle().map_err(to_err)? > 0;
        loop {
            match eng.poll() {
                Ok(Some(o)) => {
                    progress = true;
                    sink(eng, o)?;
                }
                Ok(None) | Err(Error::WouldBlock) => break,
                Err(e) => return Err(to_err(e)),
            }
        }
        // Both engines share one thread: the doorbell is implicit in the next pump.
        let _ = eng.take_doorbell();
        Ok(progress || eng.stats() != before)
    }

    fn params() -> ServiceParams {
        ServiceParams {
            fourcc: ECHO,
            version: 3,
            version_min: 1,
        }
    }

    /// The VPU side: echoes every DATA back on the same service.
    fn echo(vpu: &mut Engine<RawShm, KBox<Tables>>, o: Output, buf: &mut [u8]) -> Result {
        if let Output::Data { handle, msg } = o {
            let n = vpu.read(&msg, buf).map_err(to_err)?;
            let reply = buf.get(..n).ok_or(EINVAL)?;
            vpu.send_data(handle, reply).map_err(to_err)?;
            vpu.release(&msg).map_err(to_err)?;
        }
        Ok(())
    }

    /// The engines live on the stack (the kernel's is 8 KiB on 32-bit ARM); their tables are on
    /// the heap.
    const _: () = assert!(core::mem::size_of::<Engine<RawShm, KBox<Tables>>>() <= 1024);

    #[test]
    fn echo_every_size_class() -> Result {
        let shm = VmallocShm::new(SHM_SIZE)?;
        let mut arm = Engine::init_arm(shm.shm(), new_tables()?, [0, 0]).map_err(to_err)?;
        let mut vpu = Engine::init_vpu(shm.shm(), new_tables()?).map_err(to_err)?;
        vpu.add_service(params(), ServerOptions::default())
            .map_err(to_err)?;
        arm.connect().map_err(to_err)?;
        vpu.connect().map_err(to_err)?;

        let mut vbuf = KVec::from_elem(0u8, MAX_MSG, GFP_KERNEL)?;
        let mut abuf = KVec::from_elem(0u8, MAX_MSG, GFP_KERNEL)?;
        let mut sent = KVec::from_elem(0u8, MAX_MSG, GFP_KERNEL)?;

        // Exchange the CONNECTs before opening: `open_service` needs a connected engine.
        let mut connected = false;
        for _ in 0..16 {
            pump(&mut vpu, &mut |_, _| Ok(()))?;
            pump(&mut arm, &mut |_, o| {
                connected |= matches!(o, Output::Connected);
                Ok(())
            })?;
            if connected {
                break;
            }
        }
        assert!(connected);

        let h: Handle = arm.open_service(params(), 7).map_err(to_err)?;
        let mut opened = false;
        for _ in 0..16 {
            pump(&mut vpu, &mut |e, o| echo(e, o, &mut vbuf))?;
            pump(&mut arm, &mut |_, o| {
                if let Output::Opened { handle, .. } = o {
                    opened |= handle == h;
                }
                Ok(())
            })?;
            if opened {
                break;
            }
        }
        assert!(opened);
        assert_eq!(arm.peer_version(h).map_err(to_err)?, 3);

        // Sizes 0..=4088 in steps of 7, so every residue modulo 8 and the maximum occur.
        let mut seed = 0x1234_5678u32;
        let mut size = 0usize;
        let mut echoed = 0u32;
        while size <= MAX_MSG {
            for (i, b) in sent.iter_mut().take(size).enumerate() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (seed >> 24) as u8 ^ i as u8;
            }
            let msg = sent.get(..size).ok_or(EINVAL)?;
            let mut tries = 0;
            loop {
                match arm.send_data(h, msg) {
                    Ok(()) => break,
                    Err(Error::WouldBlock) if tries < 64 => tries += 1,
                    Err(e) => return Err(to_err(e)),
                }
                pump(&mut vpu, &mut |e, o| echo(e, o, &mut vbuf))?;
                pump(&mut arm, &mut |_, _| Ok(()))?;
            }
            let mut got = None;
            for _ in 0..16 {
                pump(&mut vpu, &mut |e, o| echo(e, o, &mut vbuf))?;
                pump(&mut arm, &mut |a, o| {
                    if let Output::Data { msg, .. } = o {
                        let n = a.read(&msg, &mut abuf).map_err(to_err)?;
                        got = Some(n);
                        a.release(&msg).map_err(to_err)?;
                    }
                    Ok(())
                })?;
                if got.is_some() {
                    break;
                }
            }
            assert_eq!(got, Some(size));
            assert!(abuf.get(..size) == Some(msg));
            echoed += 1;
            size += 7;
        }
        assert_eq!(echoed, 585);

        arm.close_service(h).map_err(to_err)?;
        let mut closed = false;
        for _ in 0..16 {
            pump(&mut vpu, &mut |_, _| Ok(()))?;
            pump(&mut arm, &mut |_, o| {
                closed |= matches!(o, Output::Closed { handle } if handle == h);
                Ok(())
            })?;
            if closed {
                break;
            }
        }
        assert!(closed);
        assert_eq!(arm.stats().proto_errors, 0);
        assert_eq!(vpu.stats().proto_errors, 0);
        Ok(())
    }

    #[test]
    fn vpu_rejects_corrupt_slot_zero() -> Result {
        let shm = VmallocShm::new(SHM_SIZE)?;
        let _arm = Engine::init_arm(shm.shm(), new_tables()?, [0, 0]).map_err(to_err)?;
        // Break the magic: the VideoCore side must refuse with EPROTO, not trust it.
        shm.shm().store(0, 0x1234_5678);
        assert!(Engine::init_vpu(shm.shm(), new_tables()?).err() == Some(Error::Proto));
        Ok(())
    }
}
