// SPDX-License-Identifier: GPL-2.0

//! Property tests of the pagelist codec: every buffer (offset, length, page runs, cache line
//! 32/64, both directions) round-trips through an ARM that encodes and copies fragments back
//! and a VideoCore that decodes and moves the data over a simulated bus, touching no byte
//! outside the buffer; and decoding hostile pagelists never panics.

#![cfg(not(loom))]

use proptest::prelude::*;
use std::collections::HashMap;
use vchiq_engine::{
    encode_runs, needs_fragment, BulkDir, CacheLine, Header, Kind, PagelistError, RunWalker, Split,
    FRAGMENTS, PAGELIST_HEADER_SIZE, PAGELIST_PAGE_SIZE as PAGE,
};

/// Bytes no one should write: what every bus page starts as.
const CANARY: u8 = 0xa5;
/// Bus address of the pagelist and of the fragment pool (above every data page).
const PAGELIST_BUS: u32 = 0xf000_0000;
const POOL_BUS: u32 = 0xf800_0000;

/// Sparse bus memory in pages.
#[derive(Default)]
struct Bus(HashMap<u32, Vec<u8>>);

impl Bus {
    fn byte(&mut self, addr: u32) -> &mut u8 {
        let page = self
            .0
            .entry(addr / PAGE)
            .or_insert_with(|| vec![CANARY; PAGE as usize]);
        &mut page[(addr % PAGE) as usize]
    }

    fn write(&mut self, addr: u32, src: &[u8]) {
        for (i, &b) in src.iter().enumerate() {
            *self.byte(addr + i as u32) = b;
        }
    }

    fn read(&mut self, addr: u32, dst: &mut [u8]) {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = *self.byte(addr + i as u32);
        }
    }

    fn word(&mut self, addr: u32) -> u32 {
        let mut w = [0u8; 4];
        self.read(addr, &mut w);
        u32::from_le_bytes(w)
    }
}

/// A buffer as the ARM maps it: data `offset` bytes into its first page, pages at bus page
/// frames `frames`, DMA segments ending at the pages listed in `seg_ends`.
#[derive(Debug, Clone)]
struct Buffer {
    offset: u32,
    len: u32,
    frames: Vec<u32>,
    /// Whether the DMA mapping starts a new segment at page `i` (i ≥ 1), even when the page
    /// is contiguous with the previous one.
    seg_breaks: Vec<bool>,
}

impl Buffer {
    /// The DMA segments (bus address, length) in order.
    fn segments(&self) -> Vec<(u64, u32)> {
        let mut segs: Vec<(u64, u32)> = Vec::new();
        let mut pos = 0u32;
        for (i, &frame) in self.frames.iter().enumerate() {
            let in_page = if i == 0 { self.offset } else { 0 };
            let n = (PAGE - in_page).min(self.len - pos);
            let addr = u64::from(frame) * u64::from(PAGE) + u64::from(in_page);
            match segs.last_mut() {
                Some(last) if !self.seg_breaks[i] && last.0 + u64::from(last.1) == addr => {
                    last.1 += n
                }
                _ => segs.push((addr, n)),
            }
            pos += n;
        }
        assert_eq!(pos, self.len);
        segs
    }

    /// Bus address of byte `i` of the buffer.
    fn bus(&self, i: u32) -> u32 {
        let p = self.offset + i;
        self.frames[(p / PAGE) as usize] * PAGE + p % PAGE
    }
}

fn buffer(max_len: u32) -> impl Strategy<Value = Buffer> {
    (0..PAGE, 0..=max_len, 1u32..0x1000).prop_flat_map(|(offset, len, base)| {
        let pages = if len == 0 {
            0
        } else {
            (offset + len).div_ceil(PAGE) as usize
        };
        (
            prop::collection::vec(prop_oneof![3 => Just(0u32), 1 => 1u32..50], pages),
            prop::collection::vec(any::<bool>(), pages),
        )
            .prop_map(move |(gaps, seg_breaks)| {
                let mut frames = Vec::with_capacity(gaps.len());
                let mut f = base;
                for (i, g) in gaps.iter().enumerate() {
                    if i > 0 {
                        f += 1 + g;
                    }
                    frames.push(f);
                }
                Buffer {
                    offset,
                    len,
                    frames,
                    seg_breaks,
                }
            })
    })
}

/// What the ARM builds: the pagelist in bus memory and the fragment it claimed.
fn arm_encode(bus: &mut Bus, b: &Buffer, dir: BulkDir, cls: CacheLine, frag: u16) -> Header {
    let mut runs = Vec::new();
    let offset = encode_runs(b.segments(), |w| {
        runs.push(w);
        true
    })
    .expect("encode");
    if b.len != 0 {
        assert_eq!(offset, b.offset);
    }
    let kind = if needs_fragment(dir, cls, offset, b.len) {
        Kind::ReadFragment(frag)
    } else {
        Kind::of(dir)
    };
    let h = Header {
        length: b.len,
        kind,
        offset,
    };
    let words = h.words().expect("header");
    for (i, w) in words.iter().chain(runs.iter()).enumerate() {
        bus.write(PAGELIST_BUS + 4 * i as u32, &w.to_le_bytes());
    }
    // Runs stay within the limit of the count field, and none is empty.
    assert!(runs.len() <= b.frames.len());
    h
}

/// What the VideoCore does with the pagelist: receive (`dir` of the ARM) moves `vpu` into the
/// ARM's buffer, transmit fills `vpu` from it.
fn vpu_transfer(bus: &mut Bus, dir: BulkDir, cls: CacheLine, vpu: &mut [u8]) {
    let len = vpu.len() as u32;
    let mut hdr = [0u8; PAGELIST_HEADER_SIZE as usize];
    bus.read(PAGELIST_BUS, &mut hdr);
    let h = Header::parse(hdr, len).expect("parse");
    assert_eq!(h.kind.arm_dir(), dir);
    let frag = h.kind.fragment().map(|n| {
        let off = cls
            .fragment_offset(u32::from(n), FRAGMENTS)
            .expect("fragment");
        POOL_BUS + off
    });
    let split = match frag {
        Some(_) => Split::new(cls, h.offset, len),
        None => Split { head: 0, tail: 0 },
    };
    let mut walk = RunWalker::new(PAGELIST_BUS, &h);
    let mut covered = 0;
    while let Some(entry) = walk.next_entry().expect("entry") {
        let word = bus.word(entry);
        let chunk = walk.feed(word).expect("feed");
        assert_eq!(chunk.at, covered);
        covered += chunk.len;
        let Some(part) = chunk.outside(split, len) else {
            continue;
        };
        let data = &mut vpu[part.at as usize..(part.at + part.len) as usize];
        match dir {
            BulkDir::Receive => bus.write(part.bus, data),
            BulkDir::Transmit => bus.read(part.bus, data),
        }
    }
    assert_eq!(covered, len);
    if let (Some(f), BulkDir::Receive) = (frag, dir) {
        bus.write(f, &vpu[..split.head as usize]);
        bus.write(f + cls.bytes(), &vpu[split.tail_start(len) as usize..]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_buffer_round_trips(
        b in buffer(5 * PAGE),
        receive in any::<bool>(),
        big_line in any::<bool>(),
        frag in 0..FRAGMENTS as u16,
        seed in any::<u8>(),
    ) {
        let dir = if receive { BulkDir::Receive } else { BulkDir::Transmit };
        let cls = if big_line { CacheLine::B64 } else { CacheLine::B32 };
        let data: Vec<u8> = (0..b.len).map(|i| (i as u8).wrapping_mul(31) ^ seed ^ 0x5a).collect();
        let mut bus = Bus::default();
        if dir == BulkDir::Transmit {
            for i in 0..b.len {
                *bus.byte(b.bus(i)) = data[i as usize];
            }
        }
        let h = arm_encode(&mut bus, &b, dir, cls, frag);
        let mut vpu = if dir == BulkDir::Receive { data.clone() } else { vec![0; b.len as usize] };
        vpu_transfer(&mut bus, dir, cls, &mut vpu);

        if dir == BulkDir::Transmit {
            prop_assert_eq!(&vpu, &data);
        } else {
            // The VideoCore never wrote the partial lines' bytes into the pages.
            let split = Split::new(cls, h.offset, b.len);
            if h.kind.fragment().is_some() {
                // What goes to the pages is whole cache lines: it starts and ends on a line
                // boundary, and the fragment holds less than a line at each end.
                let (lo, hi) = (split.head, split.tail_start(b.len));
                prop_assert!(split.head < cls.bytes() && split.tail < cls.bytes());
                if lo < hi {
                    prop_assert_eq!(b.bus(lo) % cls.bytes(), 0);
                    prop_assert_eq!((b.bus(hi - 1) + 1) % cls.bytes(), 0);
                }
                for i in (0..split.head).chain(split.tail_start(b.len)..b.len) {
                    prop_assert_eq!(*bus.byte(b.bus(i)), CANARY);
                }
            }
            // The ARM copies the fragment into place (after unmapping).
            if let Some(n) = h.kind.fragment() {
                let f = POOL_BUS + cls.fragment_offset(u32::from(n), FRAGMENTS).unwrap();
                let mut head = vec![0; split.head as usize];
                bus.read(f, &mut head);
                let mut tail = vec![0; split.tail as usize];
                bus.read(f + cls.bytes(), &mut tail);
                for (i, v) in head.into_iter().enumerate() {
                    *bus.byte(b.bus(i as u32)) = v;
                }
                for (i, v) in tail.into_iter().enumerate() {
                    *bus.byte(b.bus(split.tail_start(b.len) + i as u32)) = v;
                }
            }
            for i in 0..b.len {
                prop_assert_eq!(*bus.byte(b.bus(i)), data[i as usize]);
            }
        }
        // Nothing around the buffer in its pages was touched.
        if let (Some(&first), Some(&last)) = (b.frames.first(), b.frames.last()) {
            for a in first * PAGE..first * PAGE + b.offset {
                prop_assert_eq!(*bus.byte(a), CANARY);
            }
            let end = b.bus(b.len - 1) + 1;
            for a in end..(last + 1) * PAGE {
                prop_assert_eq!(*bus.byte(a), CANARY);
            }
        }
    }

    #[test]
    fn long_runs_split_at_the_count_limit(pages in 1u32..10_000, offset in 0..PAGE) {
        let len = pages * PAGE - offset;
        let mut runs = Vec::new();
        let off = encode_runs([(0x1000_0000u64 + u64::from(offset), len)], |w| {
            runs.push(w);
            true
        }).unwrap();
        prop_assert_eq!(off, offset);
        prop_assert_eq!(runs.len() as u32, pages.div_ceil(4096));
        let total: u32 = runs.iter().map(|w| (w & (PAGE - 1)) + 1).sum();
        prop_assert_eq!(total, pages);
    }

    #[test]
    fn hostile_pagelists_never_panic(
        length in prop_oneof![any::<u32>(), 0u32..0x10000],
        ty in any::<u16>(),
        offset in prop_oneof![any::<u16>(), 0u16..0x1000],
        mismatch in prop_oneof![9 => Just(0u32), 1 => any::<u32>()],
        at in any::<u32>(),
        words in prop::collection::vec(any::<u32>(), 0..64),
        cls in prop_oneof![Just(CacheLine::B32), Just(CacheLine::B64)],
    ) {
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(&length.to_le_bytes());
        hdr[4..6].copy_from_slice(&ty.to_le_bytes());
        hdr[6..].copy_from_slice(&offset.to_le_bytes());
        let Ok(h) = Header::parse(hdr, length ^ mismatch) else {
            prop_assert!(mismatch != 0 || offset >= 0x1000);
            return Ok(());
        };
        let split = Split::new(cls, h.offset, h.length);
        prop_assert!(split.head <= h.length && split.tail <= h.length - split.head);
        let _ = cls.fragment_offset(u32::from(h.kind.fragment().unwrap_or(0)), FRAGMENTS);
        let mut walk = RunWalker::new(at, &h);
        let mut covered = 0u64;
        for &w in words.iter().cycle().take(words.len().max(1) * 4) {
            match walk.next_entry() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
            match walk.feed(w) {
                Ok(c) => {
                    prop_assert!(u64::from(c.bus) + u64::from(c.len) <= 1 << 32);
                    prop_assert_eq!(u64::from(c.at), covered);
                    covered += u64::from(c.len);
                    prop_assert!(covered <= u64::from(h.length));
                    let _ = c.outside(split, h.length);
                }
                Err(e) => {
                    prop_assert!(matches!(e, PagelistError::Range | PagelistError::Runs));
                    break;
                }
            }
        }
    }

    #[test]
    fn hostile_segments_never_panic(
        segs in prop::collection::vec((any::<u64>(), any::<u32>()), 0..8),
    ) {
        let mut n = 0usize;
        let _ = encode_runs(segs, |_| { n += 1; n < 100 });
    }
}
