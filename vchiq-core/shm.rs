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
// SAFETY: as above, `&RawShm` only allows volatile word accesses.
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
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: `start + i < end <= len`, so the byte is inside the window (type
            // invariant); byte reads are always aligned.
            *b = unsafe { self.ptr.cast::<u8>().add(start + i).read_volatile() };
        }
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
