// SPDX-License-Identifier: GPL-2.0

//! The bulk pagelist: how the ARM describes a bulk buffer to the VideoCore
//! (vchiq-protocol.md §6.3, §6.4). Both sides use this one codec: the ARM encodes
//! ([`Header::words`], [`encode_runs`]) and copies fragments back ([`Split`]); the
//! VideoCore (the simulator) decodes ([`Header::parse`], [`RunWalker`]) and writes the
//! fragments.
//!
//! The pagelist is `{ u32 length; u16 type; u16 offset; u32 runs[] }`, little-endian, in
//! coherent memory the VideoCore reads. Each run is a page-aligned bus address with
//! (pages − 1) in its low 12 bits. The first run starts at the page holding the first byte,
//! `offset` locates that byte in it; every later run starts a page and every run but the last
//! ends one. No run count is sent: the reader walks runs until `offset + length` bytes are
//! covered.
//!
//! Receives whose first or last cache line is shared with other data use a *fragment*
//! (type `2 + n`): the VideoCore writes the partial head and tail lines to fragment `n` of
//! the pool announced in slot zero, not to the pages, and the ARM copies them into place
//! after unmapping.
//!
//! Everything the decoder reads is untrusted: it never panics or overflows, and any
//! inconsistency is a [`PagelistError`].

use super::bulk::BulkDir;

/// The pagelist's page size: the firmware's (the run encoding assumes it is the kernel's).
pub const PAGE_SIZE: u32 = 4096;
/// The in-page bits of an address; in a run, they hold the page count minus one.
const PAGE_MASK: u32 = PAGE_SIZE - 1;
/// The most pages one run can describe (the count field is 12 bits).
pub const MAX_RUN_PAGES: u32 = PAGE_SIZE;
/// Size of the header (`length`, `type`, `offset`).
pub const HEADER_SIZE: u32 = 8;
/// Number of fragments in the pool (`platform_data[1]`).
pub const FRAGMENTS: u32 = 64;

/// `type` of a transmit (the ARM's data goes to the VideoCore).
const TYPE_WRITE: u16 = 0;
/// `type` of a receive without fragment.
const TYPE_READ: u16 = 1;
/// `type` of a receive with fragment `n` is this plus `n`.
const TYPE_READ_FRAGMENTS: u16 = 2;

/// Why a pagelist cannot be built or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagelistError {
    /// A DMA segment inside the buffer does not start or end on a page boundary, so the
    /// mapping cannot be described.
    Unaligned,
    /// An address or length out of range (beyond 32 bits, an empty segment, an overflow).
    Range,
    /// The sink refused a run (out of memory).
    NoSpace,
    /// The header's length is not the transfer's.
    Length,
    /// The header's offset is not inside a page.
    Offset,
    /// The type does not fit the direction, or names a fragment the pool lacks.
    Type,
    /// The runs do not cover the buffer within the entries it allows.
    Runs,
}

impl PagelistError {
    /// The negative errno the kernel glue reports.
    pub const fn to_errno(self) -> i32 {
        match self {
            PagelistError::Unaligned => -5, // EIO
            PagelistError::NoSpace => -12,  // ENOMEM
            _ => -22,                       // EINVAL
        }
    }
}

/// Result of the pagelist codec.
pub type PlResult<T> = core::result::Result<T, PagelistError>;

/// A cache line size the fragment scheme supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLine {
    /// 32 bytes (`brcm,bcm2835-vchiq`).
    B32,
    /// 64 bytes (`brcm,bcm2836-vchiq`).
    B64,
}

impl CacheLine {
    /// The line of `bytes` bytes, if supported.
    pub const fn new(bytes: u32) -> Option<Self> {
        match bytes {
            32 => Some(CacheLine::B32),
            64 => Some(CacheLine::B64),
            _ => None,
        }
    }

    /// The line size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            CacheLine::B32 => 32,
            CacheLine::B64 => 64,
        }
    }

    /// The in-line bits of an offset.
    const fn mask(self) -> u32 {
        self.bytes().wrapping_sub(1)
    }

    /// Size of one fragment: a head line and a tail line.
    pub const fn fragment_size(self) -> u32 {
        self.bytes().wrapping_mul(2)
    }

    /// Size of the pool of [`FRAGMENTS`] fragments.
    pub const fn pool_size(self) -> u32 {
        self.fragment_size().wrapping_mul(FRAGMENTS)
    }

    /// Offset of fragment `n`'s head line in a pool of `count` fragments (its tail line
    /// follows at `+ bytes()`); `None` if there is no such fragment.
    pub fn fragment_offset(self, n: u32, count: u32) -> Option<u32> {
        if n >= count {
            return None;
        }
        n.checked_mul(self.fragment_size())
    }
}

/// The `type` field: the direction, seen from the ARM, and the fragment of a receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The ARM transmits.
    Write,
    /// The ARM receives, all bytes into the pages.
    Read,
    /// The ARM receives, partial head and tail lines into fragment `n`.
    ReadFragment(u16),
}

impl Kind {
    /// The kind of a transfer without fragment in the ARM's direction `dir`.
    pub const fn of(dir: BulkDir) -> Self {
        match dir {
            BulkDir::Transmit => Kind::Write,
            BulkDir::Receive => Kind::Read,
        }
    }

    /// The ARM's direction.
    pub const fn arm_dir(self) -> BulkDir {
        match self {
            Kind::Write => BulkDir::Transmit,
            Kind::Read | Kind::ReadFragment(_) => BulkDir::Receive,
        }
    }

    /// The fragment, if any.
    pub const fn fragment(self) -> Option<u16> {
        match self {
            Kind::ReadFragment(n) => Some(n),
            _ => None,
        }
    }

    /// The wire value; `None` for a fragment number the field cannot hold.
    pub const fn to_raw(self) -> Option<u16> {
        match self {
            Kind::Write => Some(TYPE_WRITE),
            Kind::Read => Some(TYPE_READ),
            Kind::ReadFragment(n) => TYPE_READ_FRAGMENTS.checked_add(n),
        }
    }

    /// From the wire value (every value means something).
    pub const fn from_raw(v: u16) -> Self {
        match v {
            TYPE_WRITE => Kind::Write,
            TYPE_READ => Kind::Read,
            n => Kind::ReadFragment(n.wrapping_sub(TYPE_READ_FRAGMENTS)),
        }
    }
}

/// The pagelist header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Transfer length in bytes.
    pub length: u32,
    /// Direction and fragment.
    pub kind: Kind,
    /// Offset of the first byte in the first run's first page (below [`PAGE_SIZE`]).
    pub offset: u32,
}

impl Header {
    /// The two header words, as stored (little-endian) at the start of the pagelist.
    pub fn words(&self) -> PlResult<[u32; 2]> {
        if self.offset >= PAGE_SIZE {
            return Err(PagelistError::Offset);
        }
        let ty = self.kind.to_raw().ok_or(PagelistError::Type)?;
        Ok([self.length, u32::from(ty) | (self.offset << 16)])
    }

    /// Reads the header bytes of a transfer expected to move `length` bytes.
    pub fn parse(bytes: [u8; HEADER_SIZE as usize], length: u32) -> PlResult<Self> {
        let [l0, l1, l2, l3, t0, t1, o0, o1] = bytes;
        let h = Header {
            length: u32::from_le_bytes([l0, l1, l2, l3]),
            kind: Kind::from_raw(u16::from_le_bytes([t0, t1])),
            offset: u32::from(u16::from_le_bytes([o0, o1])),
        };
        if h.length != length {
            return Err(PagelistError::Length);
        }
        if h.offset >= PAGE_SIZE {
            return Err(PagelistError::Offset);
        }
        Ok(h)
    }
}

/// One run being built: its first page's bus address and its page count.
#[derive(Clone, Copy)]
struct Run {
    base: u64,
    pages: u32,
}

impl Run {
    /// The run entry.
    fn word(self) -> PlResult<u32> {
        let base = u32::try_from(self.base).map_err(|_| PagelistError::Range)?;
        Ok(base | self.pages.wrapping_sub(1))
    }

    /// The bus address just past the run.
    fn end(self) -> u64 {
        self.base
            .saturating_add(u64::from(self.pages).saturating_mul(u64::from(PAGE_SIZE)))
    }
}

/// Encodes the DMA segments (bus address, length) of a mapped buffer, in order, as page runs:
/// a segment contiguous with the previous run extends it, up to [`MAX_RUN_PAGES`] per run.
/// Every run entry goes to `emit` (which returns `false` when it cannot store it). Returns
/// the bus offset of the first byte in its page, the header's `offset` (0 without segments).
pub fn encode_runs<I, F>(segments: I, mut emit: F) -> PlResult<u32>
where
    I: IntoIterator<Item = (u64, u32)>,
    F: FnMut(u32) -> bool,
{
    let mut put = |run: Run| -> PlResult<()> {
        if emit(run.word()?) {
            Ok(())
        } else {
            Err(PagelistError::NoSpace)
        }
    };
    let page = u64::from(PAGE_SIZE);
    let in_page = u64::from(PAGE_MASK);
    let mut first_offset = None;
    let mut cur: Option<Run> = None;
    // End of the previous segment, to check that segments meet on page boundaries.
    let mut prev_end: Option<u64> = None;
    for (addr, len) in segments {
        let end = addr
            .checked_add(u64::from(len))
            .filter(|&e| len != 0 && e <= 1u64 << 32)
            .ok_or(PagelistError::Range)?;
        if let Some(prev) = prev_end {
            if prev & in_page != 0 || addr & in_page != 0 {
                return Err(PagelistError::Unaligned);
            }
        }
        prev_end = Some(end);
        // CAST: masked to 12 bits.
        first_offset.get_or_insert((addr & in_page) as u32);
        let mut start = addr & !in_page;
        // At most 2^20 pages below 4 GiB.
        let span = end.saturating_sub(start).div_ceil(page);
        let mut pages = u32::try_from(span).map_err(|_| PagelistError::Range)?;
        while pages > 0 {
            let run = match cur {
                Some(r) if r.end() == start && r.pages < MAX_RUN_PAGES => r,
                other => {
                    if let Some(r) = other {
                        put(r)?;
                    }
                    Run {
                        base: start,
                        pages: 0,
                    }
                }
            };
            let add = pages.min(MAX_RUN_PAGES.saturating_sub(run.pages));
            pages = pages.saturating_sub(add);
            start = start.saturating_add(u64::from(add).saturating_mul(page));
            cur = Some(Run {
                base: run.base,
                pages: run.pages.saturating_add(add),
            });
        }
    }
    if let Some(r) = cur {
        put(r)?;
    }
    Ok(first_offset.unwrap_or(0))
}

/// Where the bytes of a receive with fragment go: `..head` to the fragment's head line,
/// `len - tail..` to its tail line, the rest to the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// Bytes at the start that belong to a partial first line.
    pub head: u32,
    /// Bytes at the end that belong to a partial last line (0 if the head covers all).
    pub tail: u32,
}

impl Split {
    /// The split of `len` bytes starting `offset` bytes into a page (bus side).
    pub fn new(cls: CacheLine, offset: u32, len: u32) -> Self {
        let mask = cls.mask();
        let head = cls.bytes().wrapping_sub(offset & mask) & mask;
        let head = head.min(len);
        let tail = if head < len {
            offset.wrapping_add(len) & mask
        } else {
            0
        };
        Split { head, tail }
    }

    /// The first byte that is not the tail's.
    pub fn tail_start(&self, len: u32) -> u32 {
        len.saturating_sub(self.tail)
    }
}

/// Whether a transfer of `len` bytes at bus offset `offset` in the ARM's direction `dir`
/// needs a fragment: a receive whose first or last line is partial.
pub fn needs_fragment(dir: BulkDir, cls: CacheLine, offset: u32, len: u32) -> bool {
    let mask = cls.mask();
    dir == BulkDir::Receive
        && len != 0
        && (offset & mask != 0 || offset.wrapping_add(len) & mask != 0)
}

/// Bytes of the buffer at one bus address: bytes `at..at + len` of the transfer are at `bus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Bus address of the first byte.
    pub bus: u32,
    /// Position of the first byte in the transfer.
    pub at: u32,
    /// Number of bytes.
    pub len: u32,
}

impl Chunk {
    /// The part of the chunk that goes to the pages when `split` sends the head and tail of a
    /// transfer of `length` bytes to a fragment; `None` if all of it goes there.
    pub fn outside(&self, split: Split, length: u32) -> Option<Chunk> {
        let end = self.at.checked_add(self.len)?;
        let lo = self.at.max(split.head);
        let hi = end.min(split.tail_start(length));
        if lo >= hi {
            return None;
        }
        Some(Chunk {
            bus: self.bus.checked_add(lo.saturating_sub(self.at))?,
            at: lo,
            len: hi.saturating_sub(lo),
        })
    }
}

/// The reader's walk over the run entries of a pagelist: [`RunWalker::next_entry`] says
/// where the next entry is, [`RunWalker::feed`] takes its value and says where its bytes go.
#[derive(Clone, Debug)]
pub struct RunWalker {
    /// Bus address of the next entry.
    entry: u64,
    /// Bytes to skip at the start of the next run (the header's offset, for the first).
    skip: u32,
    /// Bytes covered so far.
    done: u32,
    /// The transfer's length.
    length: u32,
    /// Entries still allowed: every run covers at least one page.
    runs_left: u32,
}

impl RunWalker {
    /// Starts the walk of the pagelist at bus address `pagelist` with header `h`.
    pub fn new(pagelist: u32, h: &Header) -> Self {
        let span = u64::from(h.offset).saturating_add(u64::from(h.length));
        RunWalker {
            entry: u64::from(pagelist).saturating_add(u64::from(HEADER_SIZE)),
            skip: h.offset,
            done: 0,
            length: h.length,
            // At most 2^20 + 1 for a 32-bit length.
            runs_left: u32::try_from(span.div_ceil(u64::from(PAGE_SIZE))).unwrap_or(u32::MAX),
        }
    }

    /// The bus address of the next entry to read, or `None` once the buffer is covered.
    pub fn next_entry(&self) -> PlResult<Option<u32>> {
        if self.done >= self.length {
            return Ok(None);
        }
        if self.runs_left == 0 {
            return Err(PagelistError::Runs);
        }
        // The whole entry must be below 4 GiB.
        if self.entry.saturating_add(4) > 1u64 << 32 {
            return Err(PagelistError::Range);
        }
        u32::try_from(self.entry)
            .map(Some)
            .map_err(|_| PagelistError::Range)
    }

    /// Takes the value of the entry [`RunWalker::next_entry`] named and returns the bytes
    /// of the transfer that its run holds.
    pub fn feed(&mut self, word: u32) -> PlResult<Chunk> {
        if self.next_entry()?.is_none() {
            return Err(PagelistError::Runs);
        }
        let base = u64::from(word & !PAGE_MASK);
        let pages = u64::from(word & PAGE_MASK).saturating_add(1);
        let run_end = base.saturating_add(pages.saturating_mul(u64::from(PAGE_SIZE)));
        if run_end > 1u64 << 32 {
            return Err(PagelistError::Range);
        }
        let start = base.saturating_add(u64::from(self.skip));
        // A run is at least a page and the first run's offset is below one, so `avail` is
        // never 0 for a parsed header (and the entry budget bounds the walk if it were).
        let avail = run_end.saturating_sub(start);
        let left = self.length.saturating_sub(self.done);
        let len = u32::try_from(avail.min(u64::from(left))).map_err(|_| PagelistError::Range)?;
        let chunk = Chunk {
            bus: u32::try_from(start).map_err(|_| PagelistError::Range)?,
            at: self.done,
            len,
        };
        self.done = self.done.saturating_add(len);
        self.skip = 0;
        self.runs_left = self.runs_left.saturating_sub(1);
        self.entry = self.entry.saturating_add(4);
        Ok(chunk)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    fn runs(segments: &[(u64, u32)]) -> PlResult<(u32, Vec<u32>)> {
        let mut v = Vec::new();
        let off = encode_runs(segments.iter().copied(), |w| {
            v.push(w);
            true
        })?;
        Ok((off, v))
    }

    #[test]
    fn header_layout() {
        let h = Header {
            length: 0x1234,
            kind: Kind::ReadFragment(5),
            offset: 0xabc,
        };
        let w = h.words().unwrap();
        assert_eq!(w, [0x1234, 7 | (0xabc << 16)]);
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&w[0].to_le_bytes());
        bytes[4..].copy_from_slice(&w[1].to_le_bytes());
        assert_eq!(bytes, [0x34, 0x12, 0, 0, 7, 0, 0xbc, 0x0a]);
        assert_eq!(Header::parse(bytes, 0x1234), Ok(h));
        assert_eq!(Header::parse(bytes, 0x1235), Err(PagelistError::Length));
        bytes[7] = 0x10;
        assert_eq!(Header::parse(bytes, 0x1234), Err(PagelistError::Offset));
    }

    #[test]
    fn kinds() {
        assert_eq!(Kind::of(BulkDir::Transmit).to_raw(), Some(0));
        assert_eq!(Kind::of(BulkDir::Receive).to_raw(), Some(1));
        assert_eq!(Kind::ReadFragment(63).to_raw(), Some(65));
        assert_eq!(Kind::ReadFragment(u16::MAX).to_raw(), None);
        for v in [0u16, 1, 2, 65, u16::MAX] {
            assert_eq!(Kind::from_raw(v).to_raw(), Some(v));
        }
        assert_eq!(Kind::from_raw(2).fragment(), Some(0));
        assert_eq!(Kind::from_raw(0).arm_dir(), BulkDir::Transmit);
        assert_eq!(Kind::from_raw(9).arm_dir(), BulkDir::Receive);
    }

    #[test]
    fn runs_merge_contiguous_segments() {
        // Three pages, the first two contiguous, the data starting at 0x10 into the first.
        let (off, w) = runs(&[(0x1_0010, 0xff0), (0x1_1000, 0x1000), (0x8_0000, 0x20)]).unwrap();
        assert_eq!(off, 0x10);
        assert_eq!(w, [0x1_0001, 0x8_0000]);
    }

    #[test]
    fn runs_split_at_4096_pages() {
        let (_, w) = runs(&[(0x100_0000, 4097 * 4096)]).unwrap();
        assert_eq!(w, [0x100_0fff, 0x200_0000]);
    }

    #[test]
    fn runs_refuse_bad_segments() {
        assert_eq!(
            runs(&[(0x1000, 0x800), (0x2000, 0x10)]),
            Err(PagelistError::Unaligned)
        );
        assert_eq!(
            runs(&[(0x1000, 0x1000), (0x2010, 0x10)]),
            Err(PagelistError::Unaligned)
        );
        assert_eq!(runs(&[(0x1000, 0)]), Err(PagelistError::Range));
        assert_eq!(runs(&[(0xffff_f000, 0x1001)]), Err(PagelistError::Range));
        assert_eq!(runs(&[]), Ok((0, Vec::new())));
        assert_eq!(
            encode_runs([(0x1000u64, 4u32)], |_| false),
            Err(PagelistError::NoSpace)
        );
    }

    #[test]
    fn splits() {
        // cls 64, offset 10, 100 bytes: head 54, tail (110 % 64) = 46.
        let s = Split::new(CacheLine::B64, 10, 100);
        assert_eq!((s.head, s.tail, s.tail_start(100)), (54, 46, 54));
        // Within one line: all head.
        assert_eq!(Split::new(CacheLine::B32, 3, 5), Split { head: 5, tail: 0 });
        // Aligned start.
        assert_eq!(
            Split::new(CacheLine::B32, 64, 40),
            Split { head: 0, tail: 8 }
        );
        assert!(!needs_fragment(BulkDir::Receive, CacheLine::B32, 64, 64));
        assert!(needs_fragment(BulkDir::Receive, CacheLine::B32, 64, 65));
        assert!(!needs_fragment(BulkDir::Transmit, CacheLine::B32, 1, 1));
        assert!(!needs_fragment(BulkDir::Receive, CacheLine::B64, 7, 0));
    }

    #[test]
    fn fragments() {
        assert_eq!(CacheLine::new(32), Some(CacheLine::B32));
        assert_eq!(CacheLine::new(48), None);
        assert_eq!(CacheLine::B64.pool_size(), 8192);
        assert_eq!(CacheLine::B32.fragment_offset(3, FRAGMENTS), Some(192));
        assert_eq!(CacheLine::B32.fragment_offset(64, FRAGMENTS), None);
    }

    #[test]
    fn walk_covers_the_buffer() {
        let h = Header {
            length: 0x2000,
            kind: Kind::Write,
            offset: 0x800,
        };
        let mut walk = RunWalker::new(0x4000, &h);
        assert_eq!(walk.next_entry(), Ok(Some(0x4008)));
        assert_eq!(
            walk.feed(0x1_0000).unwrap(),
            Chunk {
                bus: 0x1_0800,
                at: 0,
                len: 0x800
            }
        );
        assert_eq!(walk.next_entry(), Ok(Some(0x400c)));
        assert_eq!(
            walk.feed(0x9_0001).unwrap(),
            Chunk {
                bus: 0x9_0000,
                at: 0x800,
                len: 0x1800
            }
        );
        assert_eq!(walk.next_entry(), Ok(None));
        assert_eq!(walk.feed(0), Err(PagelistError::Runs));
    }

    #[test]
    fn chunk_outside_fragment() {
        let c = Chunk {
            bus: 0x1000,
            at: 0,
            len: 100,
        };
        let s = Split::new(CacheLine::B32, 10, 100);
        assert_eq!((s.head, s.tail), (22, 14));
        assert_eq!(
            c.outside(s, 100),
            Some(Chunk {
                bus: 0x1016,
                at: 22,
                len: 64
            })
        );
        let c = Chunk {
            bus: 0x2000,
            at: 86,
            len: 14,
        };
        assert_eq!(c.outside(s, 100), None);
    }

    #[test]
    fn walk_refuses_too_many_runs() {
        let h = Header {
            length: 1,
            kind: Kind::Read,
            offset: 0xfff,
        };
        let mut walk = RunWalker::new(0, &h);
        // A run past 4 GiB is refused; so is a second entry for a one-page buffer.
        assert_eq!(walk.clone().feed(0xffff_f001), Err(PagelistError::Range));
        assert_eq!(walk.feed(0x1000).unwrap().len, 1);
        assert_eq!(walk.next_entry(), Ok(None));
    }
}
