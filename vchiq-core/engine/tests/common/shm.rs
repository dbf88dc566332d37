// SPDX-License-Identifier: GPL-2.0

//! Host (and loom) implementation of `SharedMem` over 32-bit atomics.

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicU32, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicU32, Ordering};

use vchiq_engine::{Barrier, Engine, SharedMem, Tables};

/// An engine over a host buffer, with boxed tables.
pub type HostEngine<'a> = Engine<&'a HostShm, Box<Tables>>;

/// Shared memory backed by a vector of atomics.  Accesses use relaxed
/// atomics (the engine's barriers provide all ordering); barriers map to
/// fences.  Contract violations (misaligned or out-of-range offsets) are
/// counted, never undefined behaviour.
pub struct HostShm {
    words: Vec<AtomicU32>,
    violations: std::sync::atomic::AtomicU32,
    /// Payload copies are one `memcpy` each, as in the kernel's `RawShm`, rather than word
    /// by word (see [`HostShm::new_memcpy`]).
    memcpy: bool,
}

/// `n` zeroed atomics, from a zeroed allocation (`calloc`: no loop). The fuzz targets create a
/// buffer per execution, and a loop of 66,560 pushes, each with the fuzzer's instrumented loop
/// comparison, was three quarters of an execution's time.
#[cfg(not(loom))]
fn zeroed_words(n: usize) -> Vec<AtomicU32> {
    const _: () = assert!(
        core::mem::size_of::<AtomicU32>() == core::mem::size_of::<u32>()
            && core::mem::align_of::<AtomicU32>() == core::mem::align_of::<u32>()
    );
    let mut zeroed = core::mem::ManuallyDrop::new(vec![0u32; n]);
    // SAFETY: `AtomicU32` has the same size and bit validity as `u32` (std documents it) and,
    // asserted above, the same alignment, so the allocation of `zeroed` (made for `u32`s with
    // this very layout, and no longer owned by `zeroed`, which is never dropped) is a valid
    // allocation of `len` initialised `AtomicU32`s with the same capacity.
    unsafe {
        Vec::from_raw_parts(
            zeroed.as_mut_ptr().cast::<AtomicU32>(),
            zeroed.len(),
            zeroed.capacity(),
        )
    }
}

/// Loom's atomics are not plain integers: one at a time.
#[cfg(loom)]
fn zeroed_words(n: usize) -> Vec<AtomicU32> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}

impl HostShm {
    /// A zeroed buffer of `bytes` bytes (rounded down to words).
    pub fn new(bytes: u32) -> HostShm {
        HostShm {
            words: zeroed_words((bytes / 4) as usize),
            violations: std::sync::atomic::AtomicU32::new(0),
            memcpy: false,
        }
    }

    /// As [`HostShm::new`], but the payload copies are plain `memcpy`s, as the kernel's
    /// `RawShm` does them, so that `cargo bench` measures the engine rather than this
    /// harness's word-by-word atomics. Only for two of our own engines (the benches): a copy
    /// is then never concurrent with another access to the same words, because the protocol
    /// gives a payload range to one side at a time (the sender until it publishes `tx_pos`
    /// with a release barrier, the receiver from its acquire of it until it recycles the
    /// slot). A hostile peer (the fuzz targets) could break that, so they use the word copies.
    #[cfg(not(loom))]
    pub fn new_memcpy(bytes: u32) -> HostShm {
        HostShm {
            memcpy: true,
            ..HostShm::new(bytes)
        }
    }

    /// Number of contract violations seen.
    pub fn violations(&self) -> u32 {
        self.violations.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn word(&self, off: u32) -> Option<&AtomicU32> {
        if off % 4 != 0 {
            self.violations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        let w = self.words.get((off / 4) as usize);
        if w.is_none() {
            self.violations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        w
    }

    /// Raw word write (tests only).
    pub fn store_word(&self, off: u32, v: u32) {
        if let Some(w) = self.words.get((off / 4) as usize) {
            w.store(v, Ordering::Relaxed);
        }
    }

    /// Raw byte write (tests only; not through the engine).
    pub fn poke_bytes(&self, off: u32, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let at = off as usize + i;
            if let Some(w) = self.words.get(at / 4) {
                let shift = (at % 4) * 8;
                let v = w.load(Ordering::Relaxed);
                let v = (v & !(0xff << shift)) | ((*b as u32) << shift);
                w.store(v, Ordering::Relaxed);
            }
        }
    }
}

impl SharedMem for HostShm {
    fn size(&self) -> u32 {
        (self.words.len() * 4) as u32
    }

    fn load(&self, off: u32) -> u32 {
        self.word(off).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    fn store(&self, off: u32, val: u32) {
        if let Some(w) = self.word(off) {
            w.store(val, Ordering::Relaxed)
        }
    }

    fn barrier(&self, kind: Barrier) {
        match kind {
            Barrier::Read => fence(Ordering::Acquire),
            Barrier::Write => fence(Ordering::Release),
            Barrier::Full => fence(Ordering::SeqCst),
        }
    }

    #[cfg(not(loom))]
    fn copy_in(&self, off: u32, src: &[u8]) {
        let Some(first) = (off % 4 == 0).then_some((off / 4) as usize) else {
            self.violations.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let nwords = src.len().div_ceil(4);
        let Some(dst) = self.words.get(first..first + nwords) else {
            self.violations.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.memcpy {
            let to = dst.as_ptr().cast::<u8>().cast_mut();
            // SAFETY: `dst` is `nwords` words of `self.words`, so the `nwords * 4` bytes
            // written are inside it; `AtomicU32` is an `UnsafeCell`, so writing through a
            // pointer derived from a shared reference is allowed, and no other access to these
            // words is concurrent with this one (`new_memcpy`: the protocol gives the range to
            // this side); `src` is ordinary memory, disjoint from the buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), to, src.len());
                std::ptr::write_bytes(to.add(src.len()), 0, nwords * 4 - src.len());
            }
            return;
        }
        let mut chunks = src.chunks_exact(4);
        let mut it = dst.iter();
        for (c, w) in (&mut chunks).zip(&mut it) {
            w.store(
                u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                Ordering::Relaxed,
            );
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 4];
            b[..rest.len()].copy_from_slice(rest);
            if let Some(w) = it.next() {
                w.store(u32::from_le_bytes(b), Ordering::Relaxed);
            }
        }
    }

    #[cfg(not(loom))]
    fn copy_out(&self, off: u32, dst: &mut [u8]) {
        let Some(first) = (off % 4 == 0).then_some((off / 4) as usize) else {
            self.violations.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let nwords = dst.len().div_ceil(4);
        let Some(src) = self.words.get(first..first + nwords) else {
            self.violations.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.memcpy {
            // SAFETY: the `dst.len() <= nwords * 4` bytes read are inside `src`, words of
            // `self.words`; no write to them is concurrent with this read (`new_memcpy`); `dst`
            // is ordinary memory, disjoint from the buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    src.as_ptr().cast::<u8>(),
                    dst.as_mut_ptr(),
                    dst.len(),
                )
            };
            return;
        }
        let mut chunks = dst.chunks_exact_mut(4);
        let mut it = src.iter();
        for (c, w) in (&mut chunks).zip(&mut it) {
            c.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            if let Some(w) = it.next() {
                let b = w.load(Ordering::Relaxed).to_le_bytes();
                let n = rest.len();
                rest.copy_from_slice(&b[..n]);
            }
        }
    }
}

/// Standard allocation: 65 slots (slot zero + 64).
pub const STD_SIZE: u32 = 65 * 4096;
