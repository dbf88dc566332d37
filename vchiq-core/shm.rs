// SPDX-License-Identifier: GPL-2.0

//! Kernel implementation of the engine's [`SharedMem`] over a vmalloc'd buffer.
//!
//! Used by the in-kernel tests, which run both protocol roles over one buffer. The driver's
//! coherent-DMA implementation follows the same access rules: single 32-bit volatile accesses
//! and the kernel's mandatory barriers (`mb`/`rmb`/`wmb`, which also order against other bus
//! masters such as the VideoCore).

use crate::engine::{Barrier, SharedMem};
use kernel::alloc::VVec;
use kernel::prelude::*;
use kernel::sync::barrier::{mb, Full, Read, Write};

/// A zeroed, word-aligned shared buffer.
///
/// # Invariants
///
/// `ptr` points to the `words` initialised `u32`s owned by `buf`, which is never resized, so
/// the pointer stays valid for the lifetime of `self`. All accesses through `ptr` are volatile.
pub(crate) struct VmallocShm {
    /// Owns the memory behind `ptr`; never touched after `new`.
    _buf: VVec<u32>,
    ptr: *mut u32,
    words: u32,
}

impl VmallocShm {
    /// Allocates `bytes` bytes (rounded down to whole words), zeroed.
    pub(crate) fn new(bytes: u32) -> Result<Self> {
        let words = bytes / 4;
        let len = usize::try_from(words).map_err(|_| EINVAL)?;
        let mut buf = VVec::with_capacity(len, GFP_KERNEL)?;
        buf.resize(len, 0, GFP_KERNEL)?;
        let ptr = buf.as_mut_ptr();
        // INVARIANT: `buf` holds `len == words` initialised words at `ptr` and is not resized
        // after this point.
        Ok(Self {
            _buf: buf,
            ptr,
            words,
        })
    }

    /// The word index for byte offset `off`, if it is aligned and inside the buffer.
    fn index(&self, off: u32) -> Option<usize> {
        if off % 4 != 0 || off / 4 >= self.words {
            return None;
        }
        usize::try_from(off / 4).ok()
    }
}

impl SharedMem for VmallocShm {
    fn size(&self) -> u32 {
        self.words.saturating_mul(4)
    }

    fn load(&self, off: u32) -> u32 {
        match self.index(off) {
            // SAFETY: `i < words`, so by the type invariant `ptr.add(i)` is a valid, aligned,
            // initialised `u32` inside `buf`.
            Some(i) => unsafe { self.ptr.add(i).read_volatile() },
            None => 0,
        }
    }

    fn store(&self, off: u32, val: u32) {
        if let Some(i) = self.index(off) {
            // SAFETY: as in `load`; `buf` is only ever accessed through `ptr` after `new`, so
            // writing through it while `&self` is shared aliases no Rust reference.
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
