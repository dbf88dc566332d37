// SPDX-License-Identifier: GPL-2.0

//! Bulk transfers, ARM side: pagelists, DMA mappings, fragments and completions.
//!
//! The ARM never moves bulk data itself. For each transfer it DMA-maps the buffer's pages,
//! describes them in a pagelist (coherent memory the VideoCore reads) and sends its bus
//! address; the VideoCore copies and answers with a DONE. Receives whose first or last cache
//! line is shared with other data get a *fragment*: the VideoCore writes those partial lines
//! there, and the ARM copies them into place after unmapping (vchiq-protocol.md §6.3, §6.4).
//!
//! Host bookkeeping ([`Transfer`]) lives in the ARM's own memory, keyed by a cookie, never in
//! a field the protocol's abort path overwrites, so aborted transfers free their pagelist,
//! mapping and pages like completed ones (mainline leaks them).

use crate::engine::{
    encode_runs, needs_fragment, pagelist_err, BulkDir, CacheLine, Header, Kind, PagelistError,
    Split, PAGELIST_HEADER_SIZE, PAGELIST_PAGE_SIZE,
};
use crate::services::Client;
use crate::shm::RawShm;
use crate::sys::{BulkPages, CoherentBuf, DmaPages};
use core::ffi::c_void;
use kernel::device::Device;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// The pagelist's page size, as the kernel's page arithmetic uses it.
const PL_PAGE: usize = PAGELIST_PAGE_SIZE as usize;
const _: () = assert!(
    PAGE_SIZE == PL_PAGE,
    "the pagelist format needs 4 KiB pages"
);

/// Number of fragments in the pool (`platform_data[1]`).
pub(crate) use crate::engine::FRAGMENTS;
// The free fragments are a bit mask.
const _: () = assert!(FRAGMENTS <= u64::BITS);

/// The cache line of the platform's `cache_line_size()`: the platforms only give 32 or 64
/// (checked when they probe); anything else is treated as the larger line.
fn cache_line(cls: u32) -> CacheLine {
    CacheLine::new(cls).unwrap_or(CacheLine::B64)
}

/// The largest transfer the ARM accepts (keeps page counts and the encoding in range).
pub(crate) const MAX_BULK: u32 = 64 << 20;

/// `enum vchiq_bulk_mode` (one definition with the clients').
pub(crate) use crate::enums::BulkMode as Mode;

/// The pages spanned by `len` bytes starting `offset` bytes into a page.
fn page_count(offset: usize, len: u32) -> Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    let span = offset.checked_add(len as usize).ok_or(EINVAL)?;
    Ok(span.div_ceil(PL_PAGE))
}

/// The run entries of a mapped buffer, and the bus offset of its first byte in its page
/// (where the first run's data starts).
fn runs_of(dma: &DmaPages) -> Result<(KVec<u32>, u32)> {
    let segments = dma.segment_list()?;
    if segments.is_empty() {
        return Err(EINVAL);
    }
    let mut runs = KVec::new();
    let bus_offset = encode_runs(segments.iter().copied(), |w| {
        runs.push(w, GFP_KERNEL).is_ok()
    })
    .map_err(|e| {
        if e == PagelistError::Unaligned {
            // A mapping that breaks the format (a bounce buffer not keeping the page offset)
            // cannot be described; sending it anyway would make the VideoCore write where it
            // should not.
            kernel::pr_warn_once!(
                "vchiq: a bulk's DMA mapping is not page-aligned inside; transfer refused\n"
            );
        }
        pagelist_err(e)
    })?;
    Ok((runs, bus_offset))
}

/// Allocates the coherent pagelist of `header` and `runs` and writes it.
fn write_pagelist(dev: &Device, header: &Header, runs: &[u32]) -> Result<CoherentBuf> {
    let words = header.words().map_err(pagelist_err)?;
    let first_run = PAGELIST_HEADER_SIZE as usize / 4;
    let size = u32::try_from((first_run + runs.len()) * 4).map_err(|_| EINVAL)?;
    let mut pagelist = CoherentBuf::new(dev, size)?;
    for (i, &w) in Iterator::chain(words.iter(), runs.iter()).enumerate() {
        pagelist.put_u32(i, w)?;
    }
    Ok(pagelist)
}

/// A mapped buffer and its pagelist.
pub(crate) struct Transfer {
    pagelist: CoherentBuf,
    /// Kept alive until completion: unmapping hands the pages back to the CPU. Declared
    /// before `pages`, so that it drops (unmaps) before user pages are unpinned.
    dma: Option<DmaPages>,
    /// The buffer's pages (pinned for user buffers).
    pages: BulkPages,
    /// Offset of the first byte in the first page (CPU side).
    offset: u32,
    /// The pagelist header. Its `offset` (bus side) differs from `offset` when the DMA API
    /// bounces the buffer (swiotlb gives the bounce buffer its own alignment); the VideoCore
    /// and the fragment split use this one.
    header: Header,
}

impl Transfer {
    /// Maps `len` bytes of kernel memory at `buf` (linear map or vmalloc) and writes the
    /// pagelist. The buffer must stay valid until the transfer completes or aborts.
    pub(crate) fn new_kernel(dev: &Device, buf: *const u8, len: u32, dir: BulkDir) -> Result<Self> {
        if len > MAX_BULK || (buf.is_null() && len != 0) {
            return Err(EINVAL);
        }
        let addr = buf as usize;
        let offset = addr % PL_PAGE;
        let pages = BulkPages::kernel(addr - offset, page_count(offset, len)?)?;
        Self::with_pages(dev, pages, offset as u32, len, dir)
    }

    /// Pins and maps `len` bytes of the current process's memory at user address `uaddr`
    /// (`EFAULT` if any of it is not mapped, or not writable for a receive) and writes the
    /// pagelist. The pages stay pinned until the transfer is dropped.
    pub(crate) fn new_user(dev: &Device, uaddr: usize, len: u32, dir: BulkDir) -> Result<Self> {
        if len > MAX_BULK {
            return Err(EINVAL);
        }
        if uaddr == 0 && len != 0 {
            return Err(EFAULT);
        }
        let offset = uaddr % PL_PAGE;
        uaddr.checked_add(len as usize).ok_or(EFAULT)?;
        let npages = page_count(offset, len).map_err(|_| EFAULT)?;
        let pages = BulkPages::pin_user(uaddr - offset, npages, dir == BulkDir::Receive)?;
        Self::with_pages(dev, pages, offset as u32, len, dir)
    }

    /// Maps `pages` for the transfer and writes the pagelist.
    fn with_pages(
        dev: &Device,
        mut pages: BulkPages,
        offset: u32,
        len: u32,
        dir: BulkDir,
    ) -> Result<Self> {
        let (dma, runs, bus_offset) = if pages.is_empty() {
            (None, KVec::new(), offset)
        } else {
            let dma = pages.map(dev, offset, len, dir == BulkDir::Transmit)?;
            let (runs, bus_offset) = runs_of(&dma)?;
            (Some(dma), runs, bus_offset)
        };
        let header = Header {
            length: len,
            kind: Kind::of(dir),
            offset: bus_offset,
        };
        let pagelist = write_pagelist(dev, &header, &runs)?;
        Ok(Self {
            pagelist,
            dma,
            pages,
            offset,
            header,
        })
    }

    /// The number of bytes to move.
    pub(crate) fn len(&self) -> u32 {
        self.header.length
    }

    /// The pagelist's bus address (32-bit by the DMA mask).
    pub(crate) fn pagelist_bus(&self) -> u32 {
        self.pagelist.bus() as u32
    }

    /// Whether this receive needs a fragment for cache line size `cls`.
    pub(crate) fn needs_fragment(&self, cls: u32) -> bool {
        let h = &self.header;
        needs_fragment(h.kind.arm_dir(), cache_line(cls), h.offset, h.length)
    }

    /// Assigns fragment `n`.
    pub(crate) fn set_fragment(&mut self, n: u32) -> Result {
        let n = u16::try_from(n).map_err(|_| EINVAL)?;
        let header = Header {
            kind: Kind::ReadFragment(n),
            ..self.header
        };
        let [_, w1] = header.words().map_err(pagelist_err)?;
        self.pagelist.put_u32(1, w1)?;
        self.header = header;
        Ok(())
    }

    /// Gives the transfer up without taking anything from the VideoCore, which may still use
    /// it: the pagelist stays allocated and the pages mapped (user pages pinned), for good.
    /// Returns the transfer's length and whether all of it could be kept (a kernel buffer
    /// belongs to its client, which may free it).
    pub(crate) fn keep(self) -> (u32, bool) {
        let Self {
            pagelist,
            dma,
            pages,
            header,
            ..
        } = self;
        pagelist.keep();
        if let Some(dma) = dma {
            dma.keep();
        }
        (header.length, pages.keep())
    }

    /// Finishes the transfer: unmaps, and for a completed receive with a fragment copies the
    /// partial head and tail lines into place. Returns the fragment to free.
    pub(crate) fn finish(mut self, actual: Option<u32>, frags: &RawShm, cls: u32) -> Option<u32> {
        let cls = cache_line(cls);
        // Unmapping first: the CPU owns the pages again before it writes the fragments.
        drop(self.dma.take());
        let n = u32::from(self.header.kind.fragment()?);
        let Some(actual) = actual else {
            return Some(n);
        };
        let actual = core::cmp::min(actual, self.header.length);
        let split = Split::new(cls, self.header.offset, actual);
        let mut line = [0u8; CacheLine::B64.bytes() as usize];
        let Some(base) = cls.fragment_offset(n, FRAGMENTS) else {
            return Some(n);
        };
        let head = (0, base, split.head);
        let tail = (split.tail_start(actual), base + cls.bytes(), split.tail);
        for (at, from, count) in [head, tail] {
            if let Some(buf) = line.get_mut(..count as usize) {
                if !buf.is_empty() && frags.read_bytes(from, buf) {
                    self.copy_in(at, buf);
                }
            }
        }
        Some(n)
    }

    /// Copies `src` to byte `at` of the transfer (which may span two pages).
    fn copy_in(&self, at: u32, src: &[u8]) {
        let mut pos = (self.offset + at) as usize;
        let mut src = src;
        while !src.is_empty() {
            let in_page = pos % PL_PAGE;
            let n = core::cmp::min(src.len(), PL_PAGE - in_page);
            let (now, rest) = src.split_at(n);
            if self.pages.write(pos / PL_PAGE, in_page, now).is_err() {
                return;
            }
            src = rest;
            pos += n;
        }
    }
}

/// How a bulk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still with the VideoCore.
    Pending,
    /// Done; the VideoCore moved this many bytes.
    Done(u32),
    /// Aborted (close, size mismatch, or the VideoCore).
    Aborted,
}

/// One bulk in flight.
pub(crate) struct Entry {
    /// The engine's cookie.
    pub(crate) cookie: u32,
    /// Notification mode.
    pub(crate) mode: Mode,
    /// The caller's `userdata`, given back in callbacks.
    pub(crate) userdata: *mut c_void,
    /// Callback target (callback mode).
    pub(crate) client: Option<Client>,
    /// Result.
    pub(crate) outcome: Outcome,
    /// Mapping and pagelist, until completion.
    pub(crate) transfer: Option<Transfer>,
}

impl Entry {
    /// Whether the bulk was queued by `instance`.
    pub(crate) fn is_of(&self, instance: *mut c_void) -> bool {
        self.client.is_some_and(|c| c.instance == instance)
    }
}

/// What [`BulkTable::clear`] kept for a VideoCore that kept the memory.
#[derive(Default)]
pub(crate) struct Kept {
    /// Transfers left mapped.
    pub(crate) transfers: u32,
    /// Their bytes (saturating).
    pub(crate) bytes: u32,
    /// Of them, transfers of a client's kernel buffer, which the client may free.
    pub(crate) client_buffers: u32,
}

/// The bulks in flight and the fragment pool.
pub(crate) struct BulkTable {
    entries: KVec<Entry>,
    next_cookie: u32,
    free_fragments: u64,
    /// Completed transfers.
    pub(crate) done: u32,
    /// Aborted transfers.
    pub(crate) aborted: u32,
    /// Bytes moved.
    pub(crate) bytes: u64,
}

// SAFETY: `userdata` and `client` are opaque tokens handed back to the client only.
unsafe impl Send for BulkTable {}

impl BulkTable {
    /// An empty table with every fragment free.
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
            next_cookie: 1,
            free_fragments: u64::MAX,
            done: 0,
            aborted: 0,
            bytes: 0,
        }
    }

    /// Claims a free fragment.
    pub(crate) fn claim_fragment(&mut self) -> Option<u32> {
        if self.free_fragments == 0 {
            return None;
        }
        let n = self.free_fragments.trailing_zeros();
        self.free_fragments &= !(1u64 << n);
        Some(n)
    }

    /// Returns a fragment to the pool.
    pub(crate) fn free_fragment(&mut self, n: u32) {
        if n < FRAGMENTS {
            self.free_fragments |= 1u64 << n;
        }
    }

    /// A new cookie (never 0).
    pub(crate) fn next_cookie(&mut self) -> u32 {
        let c = self.next_cookie;
        self.next_cookie = self.next_cookie.wrapping_add(1).max(1);
        c
    }

    /// Makes room for one more entry, so that [`BulkTable::push_reserved`] cannot fail.
    pub(crate) fn reserve(&mut self) -> Result {
        self.entries.reserve(1, GFP_KERNEL)?;
        Ok(())
    }

    /// Adds a queued bulk into the room made by [`BulkTable::reserve`] (under the same lock).
    pub(crate) fn push_reserved(&mut self, e: Entry) {
        if let Err(e) = self.entries.push_within_capacity(e) {
            // Unreachable with a prior `reserve`; keep the transfer mapped rather than free
            // memory the VideoCore was told about.
            pr_err!("vchiq: bulk table full; leaking a transfer\n");
            core::mem::forget(e);
        }
    }

    /// The entry with `cookie`.
    pub(crate) fn get(&mut self, cookie: u32) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.cookie == cookie)
    }

    /// Removes and returns the entry with `cookie`.
    pub(crate) fn take(&mut self, cookie: u32) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.cookie == cookie)?;
        self.entries.remove(i).ok()
    }

    /// Detaches the bulks of a departing `instance`: nobody will be called back or wait for
    /// them; they end in the background (those that have ended are dropped now).
    pub(crate) fn detach(&mut self, instance: *mut c_void) {
        for e in self.entries.iter_mut().filter(|e| e.is_of(instance)) {
            e.client = None;
            e.mode = Mode::NoCallback;
        }
        self.entries
            .retain(|e| e.client.is_some() || e.outcome == Outcome::Pending);
    }

    /// Number of bulks in flight.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes every entry (device teardown); their transfers unmap as they drop, unless
    /// `keep`: the VideoCore kept the memory and may still use them, so the transfers in
    /// flight stay mapped and allocated for good ([`Transfer::keep`]).
    pub(crate) fn clear(&mut self, keep: bool) -> Kept {
        let mut kept = Kept::default();
        for e in self.entries.drain_all() {
            let Some(t) = e.transfer else {
                continue;
            };
            if !keep {
                drop(t);
                continue;
            }
            let (len, all) = t.keep();
            kept.transfers += 1;
            kept.bytes = kept.bytes.saturating_add(len);
            if !all {
                kept.client_buffers += 1;
            }
        }
        kept
    }
}
