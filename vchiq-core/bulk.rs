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

use crate::engine::BulkDir;
use crate::ffi;
use crate::services::Client;
use crate::shm::RawShm;
use crate::sys::{self, CoherentBuf, DmaPages, PinnedPages};
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::device::Device;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;

/// The pagelist's page size: the firmware's, which the run encoding assumes is the kernel's.
const PL_PAGE: usize = 4096;
const _: () = assert!(
    PAGE_SIZE == PL_PAGE,
    "the pagelist format needs 4 KiB pages"
);

/// Pagelist types (`pagelist.type`).
const PAGELIST_WRITE: u32 = 0;
const PAGELIST_READ: u32 = 1;
const PAGELIST_READ_WITH_FRAGMENTS: u32 = 2;

/// Number of fragments in the pool (`platform_data[1]`).
pub(crate) const FRAGMENTS: u32 = 64;

/// The largest transfer the ARM accepts (keeps page counts and the encoding in range).
pub(crate) const MAX_BULK: u32 = 64 << 20;

/// `enum vchiq_bulk_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Report completion through the service callback.
    Callback,
    /// The caller sleeps until completion.
    Blocking,
    /// Fire and forget.
    NoCallback,
}

impl Mode {
    /// From the C enum value (`vchiq.h`; WAITING is user space's, not the core's).
    pub(crate) fn from_raw(v: ffi::vchiq_bulk_mode) -> Option<Self> {
        match v {
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_CALLBACK => Some(Self::Callback),
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_BLOCKING => Some(Self::Blocking),
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_NOCALLBACK => Some(Self::NoCallback),
            _ => None,
        }
    }
}

/// A mapped buffer and its pagelist.
pub(crate) struct Transfer {
    pagelist: CoherentBuf,
    /// Kept alive until completion: unmapping hands the pages back to the CPU. Declared
    /// before `_pinned`, so that it drops (unmaps) before the pages are unpinned.
    dma: Option<DmaPages>,
    /// User pages pinned for the transfer (none for kernel buffers).
    _pinned: Option<PinnedPages>,
    pages: KVec<NonNull<bindings::page>>,
    /// Offset of the first byte in the first page (CPU side).
    offset: u32,
    /// Offset of the first byte in the first run (bus side, the pagelist's `offset`). It
    /// differs from `offset` when the DMA API bounces the buffer (swiotlb gives the bounce
    /// buffer its own alignment); the VideoCore and the fragment split use this one.
    pl_offset: u32,
    len: u32,
    dir: BulkDir,
    fragment: Option<u32>,
}

// SAFETY: the page pointers refer to pages the transfer keeps (kernel buffers owned by the
// caller until completion, or user pages it pinned); they are only used to copy fragments,
// from any thread.
unsafe impl Send for Transfer {}

impl Transfer {
    /// Maps `len` bytes of kernel memory at `buf` (linear map or vmalloc) and writes the
    /// pagelist. The buffer must stay valid until the transfer completes or aborts.
    pub(crate) fn new_kernel(dev: &Device, buf: *const u8, len: u32, dir: BulkDir) -> Result<Self> {
        if len > MAX_BULK || (buf.is_null() && len != 0) {
            return Err(EINVAL);
        }
        let addr = buf as usize;
        let offset = addr % PL_PAGE;
        let span = offset.checked_add(len as usize).ok_or(EINVAL)?;
        let npages = if len == 0 { 0 } else { span.div_ceil(PL_PAGE) };
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        let mut raw = KVec::with_capacity(npages, GFP_KERNEL)?;
        let first = addr - offset;
        for i in 0..npages {
            let va = first.checked_add(i * PL_PAGE).ok_or(EINVAL)?;
            let page = sys::buf_page(va as *const u8).ok_or(EFAULT)?;
            pages.push(page, GFP_KERNEL)?;
            raw.push(page.as_ptr(), GFP_KERNEL)?;
        }
        Self::with_pages(dev, pages, raw, None, offset as u32, len, dir)
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
        let span = offset.checked_add(len as usize).ok_or(EFAULT)?;
        uaddr.checked_add(len as usize).ok_or(EFAULT)?;
        let npages = if len == 0 { 0 } else { span.div_ceil(PL_PAGE) };
        let pinned = PinnedPages::pin(uaddr - offset, npages, dir == BulkDir::Receive)?;
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        let mut raw = KVec::with_capacity(npages, GFP_KERNEL)?;
        for &p in pinned.pages() {
            pages.push(NonNull::new(p).ok_or(EFAULT)?, GFP_KERNEL)?;
            raw.push(p, GFP_KERNEL)?;
        }
        Self::with_pages(dev, pages, raw, Some(pinned), offset as u32, len, dir)
    }

    /// Maps `pages` (`raw`: the same, as the DMA API wants them) for the transfer and writes
    /// the pagelist.
    fn with_pages(
        dev: &Device,
        pages: KVec<NonNull<bindings::page>>,
        mut raw: KVec<*mut bindings::page>,
        pinned: Option<PinnedPages>,
        offset: u32,
        len: u32,
        dir: BulkDir,
    ) -> Result<Self> {
        let dma = if raw.is_empty() {
            None
        } else {
            Some(DmaPages::map(
                dev,
                &mut raw,
                offset,
                len,
                dir == BulkDir::Transmit,
            )?)
        };
        // Runs: every mapped segment, merged with the previous run when contiguous.
        let mut runs: KVec<(u64, u32)> = KVec::new();
        let segments = match &dma {
            Some(d) => d.segment_list()?,
            None => KVec::new(),
        };
        // The format describes the pages from the first byte on: every segment but the first
        // must start a page, and every one but the last must end one. A mapping that breaks
        // this (a bounce buffer not keeping the page offset) cannot be described; sending it
        // anyway would make the VideoCore write where it should not.
        let last = segments.len().saturating_sub(1);
        for (i, &(addr, seg_len)) in segments.iter().enumerate() {
            let end = addr.checked_add(u64::from(seg_len)).ok_or(EINVAL)?;
            let page_mask = PL_PAGE as u64 - 1;
            if (i > 0 && addr & page_mask != 0) || (i < last && end & page_mask != 0) {
                kernel::pr_warn_once!(
                    "vchiq: a bulk's DMA mapping is not page-aligned inside; transfer refused\n"
                );
                return Err(EIO);
            }
        }
        for &(addr, seg_len) in segments.iter() {
            let start = addr & !(PL_PAGE as u64 - 1);
            let end = addr.checked_add(u64::from(seg_len)).ok_or(EINVAL)?;
            // 32-bit arithmetic: a segment spans far less than 4 GiB.
            let mut npages = u32::try_from(end - start)
                .map_err(|_| EINVAL)?
                .div_ceil(PL_PAGE as u32);
            let mut start = start;
            if let Some(last) = runs.last_mut() {
                let last_end = last.0 + u64::from(last.1) * PL_PAGE as u64;
                if last_end == start {
                    // The count field holds at most 4096 pages.
                    let add = core::cmp::min(npages, 4096 - last.1);
                    last.1 += add;
                    npages -= add;
                    start += u64::from(add) * PL_PAGE as u64;
                }
            }
            while npages > 0 {
                let n = core::cmp::min(npages, 4096);
                runs.push((start, n), GFP_KERNEL)?;
                npages -= n;
                start += u64::from(n) * PL_PAGE as u64;
            }
        }
        // The bus offset of the first byte: where the first run's data starts.
        let pl_offset = match (&dma, segments.first()) {
            (Some(_), Some(first)) => (first.0 as u32) & (PL_PAGE as u32 - 1),
            (Some(_), None) => return Err(EINVAL),
            (None, _) => offset,
        };
        let words = 2 + runs.len();
        let size = u32::try_from(words * 4).map_err(|_| EINVAL)?;
        let mut pagelist = CoherentBuf::new(dev, size)?;
        pagelist.put_u32(0, len)?;
        let ty = match dir {
            BulkDir::Transmit => PAGELIST_WRITE,
            BulkDir::Receive => PAGELIST_READ,
        };
        pagelist.put_u32(1, ty | (pl_offset << 16))?;
        for (i, (addr, n)) in runs.iter().enumerate() {
            let addr = u32::try_from(*addr).map_err(|_| EINVAL)?;
            pagelist.put_u32(2 + i, addr | (n - 1))?;
        }
        Ok(Self {
            pagelist,
            dma,
            _pinned: pinned,
            pages,
            offset,
            pl_offset,
            len,
            dir,
            fragment: None,
        })
    }

    /// The number of bytes to move.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The pagelist's bus address (32-bit by the DMA mask).
    pub(crate) fn pagelist_bus(&self) -> u32 {
        self.pagelist.bus() as u32
    }

    /// Whether this receive needs a fragment for cache line size `cls`.
    pub(crate) fn needs_fragment(&self, cls: u32) -> bool {
        self.dir == BulkDir::Receive
            && self.len != 0
            && (self.pl_offset % cls != 0 || (self.pl_offset + self.len) % cls != 0)
    }

    /// Assigns fragment `n`.
    pub(crate) fn set_fragment(&mut self, n: u32) -> Result {
        self.fragment = Some(n);
        self.pagelist.put_u32(
            1,
            (PAGELIST_READ_WITH_FRAGMENTS + n) | (self.pl_offset << 16),
        )
    }

    /// Finishes the transfer: unmaps, and for a completed receive with a fragment copies the
    /// partial head and tail lines into place. Returns the fragment to free.
    pub(crate) fn finish(mut self, actual: Option<u32>, frags: &RawShm, cls: u32) -> Option<u32> {
        // Unmapping first: the CPU owns the pages again before it writes the fragments.
        drop(self.dma.take());
        let (Some(n), Some(actual)) = (self.fragment, actual) else {
            return self.fragment;
        };
        let actual = core::cmp::min(actual, self.len);
        let base = n * 2 * cls;
        let head = (cls - self.pl_offset % cls) % cls;
        let tail = (self.pl_offset + actual) % cls;
        let mut line = [0u8; 64];
        if head != 0 {
            let k = core::cmp::min(head, actual);
            if let Some(buf) = line.get_mut(..k as usize) {
                if frags.read_bytes(base, buf) {
                    self.copy_in(0, buf);
                }
            }
        }
        if actual > head && tail != 0 {
            if let Some(buf) = line.get_mut(..tail as usize) {
                if frags.read_bytes(base + cls, buf) {
                    self.copy_in(actual - tail, buf);
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
            let Some(page) = self.pages.get(pos / PL_PAGE) else {
                return;
            };
            let in_page = pos % PL_PAGE;
            let n = core::cmp::min(src.len(), PL_PAGE - in_page);
            let (now, rest) = src.split_at(n);
            // SAFETY: `page` is one of the transfer's pages, which the caller keeps until
            // completion; `in_page + n <= PAGE_SIZE`.
            unsafe { sys::copy_to_page(*page, in_page, now) };
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

    /// Removes every entry (device teardown); their transfers unmap as they drop.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
