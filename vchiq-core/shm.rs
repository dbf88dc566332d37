// SPDX-License-Identifier: GPL-2.0

//! The kernel implementation of the engine's [`SharedMem`]: memory shared with another bus
//! master, reached through a raw pointer.
//!
//! Every access is a single, aligned, volatile 32-bit load or store, and the barriers are the
//! kernel's mandatory ones (`mb`/`rmb`/`wmb`), which also order against other bus masters such
//! as the VideoCore; `smp_*` barriers would not. The ARM side points [`RawShm`] at its coherent
//! DMA slot memory; the simulated VideoCore at its own mapping of the same pages; the KUnit
//! suites at a vmalloc buffer ([`VmallocShm`]).

use crate::engine::{Barrier, SharedMem};
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::barrier::{mb, Full, Read, Write};

/// A window of shared memory.
///
/// # Invariants
///
/// `ptr` is 4-byte aligned and valid for volatile reads and writes of `words` `u32`s for as long
/// as any copy of this value exists (the creator guarantees it, see [`RawShm::new`]). No Rust
/// reference to that memory exists: it is only ever accessed through volatile operations.
#[derive(Clone, Copy)]
pub(crate) struct RawShm {
    ptr: NonNull<u32>,
    words: u32,
}

// SAFETY: `RawShm` is a window on memory that other agents modify concurrently by design; all
// accesses are volatile word accesses, which are valid from any thread.
unsafe impl Send for RawShm {}
// SAFETY: through a `&RawShm` the window is reached only by raw-pointer accesses inside its
// `words` words (volatile word loads and stores, the payload copies, barriers), never through
// a Rust reference (type invariant). The window is written concurrently by another agent by
// design and the protocol, not Rust aliasing, decides who writes which range, so threads that
// share a `&RawShm` make no access the window does not already have to allow.
unsafe impl Sync for RawShm {}

impl RawShm {
    /// Wraps `bytes` bytes (rounded down to whole words) at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be 4-byte aligned and valid for volatile reads and writes of `bytes` bytes
    /// for as long as the returned value or any copy of it exists, and no Rust reference to
    /// that memory may exist meanwhile.
    pub(crate) unsafe fn new(ptr: NonNull<u8>, bytes: u32) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr: ptr.cast(),
            words: bytes / 4,
        }
    }

    /// The word index for byte offset `off`, if it is aligned and inside the window.
    fn index(&self, off: u32) -> Option<usize> {
        if off % 4 != 0 || off / 4 >= self.words {
            return None;
        }
        usize::try_from(off / 4).ok()
    }

    /// Copies `buf.len()` bytes from offset `off` into `buf`. Returns `false` (copying nothing)
    /// if the range is not inside the window.
    pub(crate) fn read_bytes(&self, off: u32, buf: &mut [u8]) -> bool {
        let Some(start) = usize::try_from(off).ok() else {
            return false;
        };
        let Some(end) = start.checked_add(buf.len()) else {
            return false;
        };
        if end > self.len() {
            return false;
        }
        // SAFETY: `start + buf.len() = end <= len`, so the source is inside the window, valid
        // for reads (type invariant); `buf` is ordinary memory and cannot overlap it. One copy
        // through raw pointers, as the payload copies of `SharedMem` below.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.ptr.cast::<u8>().as_ptr().add(start),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        true
    }

    /// The address of byte `off`, if it is inside the window.
    pub(crate) fn ptr_at(&self, off: u32) -> Option<*mut u8> {
        let off = usize::try_from(off).ok()?;
        if off >= self.len() {
            return None;
        }
        // SAFETY: `off` is inside the window (type invariant), so the result stays inside
        // the same allocation.
        Some(unsafe { self.ptr.cast::<u8>().as_ptr().add(off) })
    }

    /// The offset of `p` in the window, if it points inside it.
    pub(crate) fn offset_of(&self, p: *const u8) -> Option<u32> {
        let base = self.ptr.as_ptr() as usize;
        let off = (p as usize).checked_sub(base)?;
        if off >= self.len() {
            return None;
        }
        u32::try_from(off).ok()
    }

    /// The window's size in bytes.
    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.words).unwrap_or(0).saturating_mul(4)
    }
}

impl SharedMem for RawShm {
    fn size(&self) -> u32 {
        self.words.saturating_mul(4)
    }

    fn load(&self, off: u32) -> u32 {
        match self.index(off) {
            // SAFETY: `i < words`, so by the type invariant `ptr.add(i)` is a valid, aligned
            // `u32` of the window.
            Some(i) => unsafe { self.ptr.add(i).read_volatile() },
            None => 0,
        }
    }

    fn store(&self, off: u32, val: u32) {
        if let Some(i) = self.index(off) {
            // SAFETY: as in `load`; no Rust reference to the window exists (type invariant).
            unsafe { self.ptr.add(i).write_volatile(val) }
        }
    }

    fn barrier(&self, kind: Barrier) {
        match kind {
            Barrier::Read => mb(Read),
            Barrier::Write => mb(Write),
            Barrier::Full => mb(Full),
        }
    }

    // The payload copies are one `memcpy` each rather than the trait's word loop: a 4000-byte
    // message cost 0.6 ms word by word on the debug kernels under QEMU. Like
    // `kernel::dma::CoherentAllocation::write`, they copy through raw pointers, so no Rust
    // reference to the shared memory is made; the engine copies only ranges the protocol gives
    // to this side for the time of the copy (a message being written or read), and a range
    // outside the window copies nothing, as the trait's contract allows.

    fn copy_in(&self, off: u32, src: &[u8]) {
        let Some((start, padded)) = self.span(off, src.len()) else {
            return;
        };
        let base = self.ptr.cast::<u8>().as_ptr();
        // SAFETY: `start + padded <= len` (`span`), so both the copy and the zero padding
        // after it stay inside the window, which is valid for writes (type invariant); `src`
        // is ordinary memory, which cannot overlap the window (no Rust reference to it exists).
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), base.add(start), src.len());
            core::ptr::write_bytes(base.add(start + src.len()), 0, padded - src.len());
        }
    }

    fn copy_out(&self, off: u32, dst: &mut [u8]) {
        let Some((start, _)) = self.span(off, dst.len()) else {
            return;
        };
        // SAFETY: `start + dst.len() <= len` (`span`): the source is inside the window, valid
        // for reads (type invariant); `dst` is ordinary memory and cannot overlap it.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.ptr.cast::<u8>().as_ptr().add(start),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
    }
}

impl RawShm {
    /// For a copy of `len` bytes at the aligned offset `off`: the start and the length rounded
    /// up to whole words, if all of it is inside the window.
    fn span(&self, off: u32, len: usize) -> Option<(usize, usize)> {
        if off % 4 != 0 {
            return None;
        }
        let start = usize::try_from(off).ok()?;
        let padded = len.checked_next_multiple_of(4)?;
        (start.checked_add(padded)? <= self.len()).then_some((start, padded))
    }
}

/// A zeroed vmalloc buffer with a [`RawShm`] window on it, for the KUnit suites of
/// vchiq-kunit and vchiq-sim (which compile this file too); unused by the driver itself.
#[cfg(CONFIG_KUNIT = "y")]
#[allow(
    dead_code,
    reason = "used by the KUnit suites of the crates that include this file"
)]
pub(crate) struct VmallocShm {
    /// Owns the memory behind `shm`; never touched after `new`.
    _buf: kernel::alloc::VVec<u32>,
    shm: RawShm,
}

#[cfg(CONFIG_KUNIT = "y")]
#[allow(
    dead_code,
    reason = "used by the KUnit suites of the crates that include this file"
)]
impl VmallocShm {
    /// Allocates `bytes` bytes (rounded down to whole words), zeroed.
    pub(crate) fn new(bytes: u32) -> Result<Self> {
        let len = usize::try_from(bytes / 4).map_err(|_| EINVAL)?;
        let mut buf = kernel::alloc::VVec::with_capacity(len, GFP_KERNEL)?;
        buf.resize(len, 0, GFP_KERNEL)?;
        let ptr = NonNull::new(buf.as_mut_ptr().cast::<u8>()).ok_or(ENOMEM)?;
        // SAFETY: `buf` owns `len` words at `ptr`, is never resized or accessed again and
        // outlives `shm`, which is only handed out by reference-bound copies in the tests.
        let shm = unsafe { RawShm::new(ptr, bytes) };
        Ok(Self { _buf: buf, shm })
    }

    /// A window on the buffer; valid while `self` lives.
    pub(crate) fn shm(&self) -> RawShm {
        self.shm
    }
}
