// SPDX-License-Identifier: GPL-2.0

//! KUnit: the engine's pagelist codec, compiled by the kernel's rustc with the kernel's flags
//! (the host tests and property tests in `engine/` cover it in depth): the fragment split
//! against the formulas of vchiq-protocol.md §6.4, and runs written as the ARM writes them
//! and walked as the VideoCore walks them.

use kernel::prelude::*;

#[kunit_tests(vchiq_engine_pagelist)]
mod tests {
    use crate::engine::{
        encode_runs, needs_fragment, BulkDir, CacheLine, Chunk, Header, Kind, RunWalker, Split,
        PAGELIST_PAGE_SIZE as PAGE,
    };
    use kernel::alloc::KVec;
    use kernel::prelude::*;

    #[test]
    fn fragment_split() {
        // The ARM's completion: head bytes from fragment[0..], tail bytes from
        // fragment[cls..]; everything else comes from the pages.
        for cls in [CacheLine::B32, CacheLine::B64] {
            let c = cls.bytes();
            for offset in [0u32, 1, 31, 32, 63, 4064, 4095] {
                for len in [1u32, 2, 31, 32, 33, 63, 64, 65, 200, 4097] {
                    let s = Split::new(cls, offset, len);
                    let head = ((c - offset % c) % c).min(len);
                    let tail = if head < len { (offset + len) % c } else { 0 };
                    assert_eq!((s.head, s.tail), (head, tail));
                    assert!(s.head <= s.tail_start(len));
                    let aligned = offset % c == 0 && (offset + len) % c == 0;
                    assert_eq!(needs_fragment(BulkDir::Receive, cls, offset, len), !aligned);
                }
            }
        }
    }

    #[test]
    fn runs_round_trip() -> Result {
        // 0x2100 bytes from 0xf00 into page 0x10, then pages 0x11 (contiguous) and 0x40.
        let segments = [(0x1_0f00u64, 0x1100u32), (0x4_0000, 0x1000)];
        let mut runs = KVec::<u32>::new();
        let offset =
            encode_runs(segments, |w| runs.push(w, GFP_KERNEL).is_ok()).map_err(|_| EINVAL)?;
        assert_eq!(offset, 0xf00);
        assert!(runs[..] == [0x1_0001, 0x4_0000]);
        let h = Header {
            length: 0x2100,
            kind: Kind::ReadFragment(3),
            offset,
        };
        let [w0, w1] = h.words().map_err(|_| EINVAL)?;
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&w0.to_le_bytes());
        bytes[4..].copy_from_slice(&w1.to_le_bytes());
        let parsed = Header::parse(bytes, 0x2100).map_err(|_| EINVAL)?;
        assert_eq!(parsed, h);
        let mut walk = RunWalker::new(0x8000, &parsed);
        let mut chunks = KVec::<Chunk>::new();
        let mut i = 0;
        while let Some(entry) = walk.next_entry().map_err(|_| EINVAL)? {
            assert_eq!(entry, 0x8008 + 4 * i as u32);
            chunks.push(walk.feed(runs[i]).map_err(|_| EINVAL)?, GFP_KERNEL)?;
            i += 1;
        }
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].bus, chunks[0].at, chunks[0].len),
            (0x1_0f00, 0, 2 * PAGE - 0xf00)
        );
        assert_eq!(
            (chunks[1].bus, chunks[1].at, chunks[1].len),
            (0x4_0000, 0x1100, 0x1000)
        );
        // A second entry that is not needed is never asked for.
        assert!(walk.feed(0).is_err());
        Ok(())
    }
}
