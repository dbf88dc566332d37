// SPDX-License-Identifier: GPL-2.0

//! The narrow interface through which the engine touches shared memory.
//!
//! The engine never holds a pointer into the shared buffer.  Every access is
//! a 32-bit load or store at a byte offset from the start of slot zero, or a
//! byte copy built on top of those, plus explicit barriers.  The host tests
//! implement the trait with atomics and fences (and with loom's atomics for
//! the model checks); the kernel implements it over the coherent DMA buffer
//! with `READ_ONCE`/`WRITE_ONCE`-style accesses and the kernel's barriers.

/// Barrier kinds the protocol needs.
///
/// The mapping in a kernel implementation is `Read` -> `rmb()`,
/// `Write` -> `wmb()`, `Full` -> `mb()` (a `dsb sy` on ARM), because the
/// other agent (the VideoCore) is outside the inner-shareable domain.
/// A host implementation maps them to `fence(Acquire)`, `fence(Release)` and
/// `fence(SeqCst)`, which are at least as strong as the definitions below.
/// Where the engine needs earlier *loads* ordered before later stores (for
/// example before handing a slot back to its owner) it uses `Full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// Orders earlier loads before later loads.
    Read,
    /// Orders earlier stores before later stores.
    Write,
    /// Orders everything before against everything after, including
    /// earlier stores against later loads.
    Full,
}

/// Shared memory as seen by the engine.
///
/// All offsets are byte offsets from the start of slot zero.  Words are
/// little-endian 32-bit quantities: `load` returns the value of the word and
/// `store` writes it, each as a single, non-torn access that the compiler may
/// neither merge, split nor elide (volatile or relaxed-atomic semantics).
///
/// # Contract
///
/// The engine only passes 4-byte aligned offsets with `off + 4 <= size()`
/// (and, for the copies, ranges inside `size()`).  It checks this itself, so
/// an implementation does not need to; but an implementation must never cause
/// undefined behaviour even if the contract is broken: ignoring the store or
/// returning 0 is acceptable.  The host test implementation records such
/// violations so that the fuzz harness can prove there are none.
pub trait SharedMem {
    /// Size of the shared buffer in bytes.
    fn size(&self) -> u32;

    /// Loads the 32-bit word at `off`.
    fn load(&self, off: u32) -> u32;

    /// Stores `val` into the 32-bit word at `off`.
    fn store(&self, off: u32, val: u32);

    /// Issues a barrier of the given kind.
    fn barrier(&self, kind: Barrier);

    /// Copies `src` into shared memory starting at the 4-byte aligned `off`.
    ///
    /// A trailing partial word is padded with zero bytes: the engine only
    /// copies payloads into space it has reserved, which is always a whole
    /// number of 8-byte units, so the padding never clobbers foreign data.
    fn copy_in(&self, off: u32, src: &[u8]) {
        let mut at = off;
        let mut chunks = src.chunks_exact(4);
        for c in &mut chunks {
            let mut w = [0u8; 4];
            w.copy_from_slice(c);
            self.store(at, u32::from_le_bytes(w));
            at = at.wrapping_add(4);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 4];
            for (d, s) in w.iter_mut().zip(rest) {
                *d = *s;
            }
            self.store(at, u32::from_le_bytes(w));
        }
    }

    /// Copies shared memory starting at the 4-byte aligned `off` into `dst`.
    fn copy_out(&self, off: u32, dst: &mut [u8]) {
        let mut at = off;
        let mut chunks = dst.chunks_exact_mut(4);
        for c in &mut chunks {
            c.copy_from_slice(&self.load(at).to_le_bytes());
            at = at.wrapping_add(4);
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let w = self.load(at).to_le_bytes();
            for (d, s) in rest.iter_mut().zip(w.iter()) {
                *d = *s;
            }
        }
    }
}

impl<T: SharedMem + ?Sized> SharedMem for &T {
    fn size(&self) -> u32 {
        (**self).size()
    }
    fn load(&self, off: u32) -> u32 {
        (**self).load(off)
    }
    fn store(&self, off: u32, val: u32) {
        (**self).store(off, val)
    }
    fn barrier(&self, kind: Barrier) {
        (**self).barrier(kind)
    }
    fn copy_in(&self, off: u32, src: &[u8]) {
        (**self).copy_in(off, src)
    }
    fn copy_out(&self, off: u32, dst: &mut [u8]) {
        (**self).copy_out(off, dst)
    }
}
