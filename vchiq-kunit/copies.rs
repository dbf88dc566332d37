// SPDX-License-Identifier: GPL-2.0

//! KUnit: the payload copies of the kernel's shared-memory window ([`RawShm`]), one `memcpy`
//! each: every length pads to whole words with zeros and touches nothing after them, a copy
//! that would leave the window copies nothing, and what goes in comes out.

use kernel::prelude::*;

#[kunit_tests(vchiq_shm_copies)]
mod tests {
    use crate::engine::SharedMem;
    use crate::fmt64::I64;
    use crate::shm::VmallocShm;
    use kernel::prelude::*;

    const SIZE: u32 = 2 * 4096;
    /// What the window holds where nothing was copied.
    const FILL: u32 = 0xa5a5_a5a5;

    fn pattern(len: usize) -> KVec<u8> {
        let mut v = KVec::new();
        for i in 0..len {
            // Never zero, so that padding is told from data.
            let _ = v.push(((i % 251) + 1) as u8, GFP_KERNEL);
        }
        v
    }

    #[test]
    fn copy_in_pads_and_stops() -> Result {
        let buf = VmallocShm::new(SIZE)?;
        let shm = buf.shm();
        for len in [0usize, 1, 2, 3, 4, 5, 7, 8, 4000, 4088] {
            for w in 0..SIZE / 4 {
                shm.store(w * 4, FILL);
            }
            let src = pattern(len);
            shm.copy_in(16, &src);
            let mut back = KVec::from_elem(0u8, len, GFP_KERNEL)?;
            shm.copy_out(16, &mut back);
            assert_eq!(&back[..], &src[..]);
            let end = 16 + len as u32;
            let padded = 16 + len.next_multiple_of(4) as u32;
            for off in end..padded {
                let word = shm.load(off & !3).to_le_bytes();
                assert_eq!(word[(off % 4) as usize], 0);
            }
            assert_eq!(shm.load(padded), FILL);
            assert_eq!(shm.load(12), FILL);
        }
        Ok(())
    }

    #[test]
    fn copies_outside_the_window_do_nothing() -> Result {
        let buf = VmallocShm::new(SIZE)?;
        let shm = buf.shm();
        for w in 0..SIZE / 4 {
            shm.store(w * 4, FILL);
        }
        let src = pattern(64);
        // Past the end, wrapping past it, and unaligned.
        shm.copy_in(SIZE - 60, &src);
        shm.copy_in(u32::MAX - 3, &src);
        shm.copy_in(2, &src);
        for w in 0..SIZE / 4 {
            assert_eq!(shm.load(w * 4), FILL);
        }
        let mut dst = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
        shm.copy_out(SIZE - 60, &mut dst);
        assert!(dst.iter().all(|b| *b == 0));
        assert!(!shm.read_bytes(SIZE - 63, &mut dst));
        assert!(dst.iter().all(|b| *b == 0));
        assert!(shm.read_bytes(SIZE - 64, &mut dst));
        assert!(dst.iter().all(|b| *b == 0xa5));
        Ok(())
    }

    /// Logs what a 4000-byte payload costs in and out, against the word-by-word copy the
    /// trait's default does (a figure for the log, not a check: the machine's speed varies).
    #[test]
    fn copy_cost() -> Result {
        use kernel::time::{Instant, Monotonic};
        const ROUNDS: u32 = 200;
        let buf = VmallocShm::new(SIZE)?;
        let shm = buf.shm();
        let src = pattern(4000);
        let mut dst = KVec::from_elem(0u8, 4000, GFP_KERNEL)?;
        let t = Instant::<Monotonic>::now();
        for _ in 0..ROUNDS {
            shm.copy_in(0, &src);
            shm.copy_out(0, &mut dst);
        }
        let bulk = t.elapsed().as_micros_ceil();
        let t = Instant::<Monotonic>::now();
        for _ in 0..ROUNDS {
            for (i, c) in src.chunks_exact(4).enumerate() {
                shm.store(4 * i as u32, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            }
            for (i, c) in dst.chunks_exact_mut(4).enumerate() {
                c.copy_from_slice(&shm.load(4 * i as u32).to_le_bytes());
            }
        }
        let words = t.elapsed().as_micros_ceil();
        // Through `I64`: on 32-bit ARM, printing an `i64` of five digits or more with `{}`
        // traps (a slow run took 12107 us here).
        pr_info!(
            "4000 B in and out, {} rounds: {} us as one copy each, {} us word by word\n",
            ROUNDS,
            I64(bulk),
            I64(words)
        );
        assert_eq!(&dst[..], &src[..]);
        Ok(())
    }
}
