// SPDX-License-Identifier: GPL-2.0

//! The VideoCore's window on the slot memory, with the `corrupt_header` fault.
//!
//! [`VpuShm`] forwards every access to a [`RawShm`] over the simulator's own mapping of the
//! ARM's slot memory. When a corruption is armed, it recognises the next message header the
//! engine writes into one of the VideoCore's own slots and damages it. The engine always
//! writes a message as payload (`copy_in`), then the size word at `hdr + 4`, then the msgid at
//! `hdr` (`tx.rs`: `write_msg`, `send_sync`); no other store pair of the engine goes
//! downwards by one word, so "a store at `x` right after a store at `x + 4`" is a header.

use crate::engine::{Barrier, SharedMem};
use crate::shm::RawShm;
use core::cell::Cell;

/// Offsets of slot zero and of the slots are in units of this.
use crate::engine::SLOT_SIZE;

/// What to do to the next header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Corruption {
    /// Nothing armed.
    None,
    /// Replace the message type with an unknown one (0x20): the ARM must skip the message
    /// and count a protocol error.
    Type,
    /// Replace the size with one that does not fit in a slot: the ARM must treat its receive
    /// stream as corrupt.
    Size,
}

impl Corruption {
    /// Decodes the debugfs value (1 = size, 2 = type, anything else = none).
    pub(crate) fn from_knob(v: u32) -> Self {
        match v {
            1 => Corruption::Size,
            2 => Corruption::Type,
            _ => Corruption::None,
        }
    }

    /// The debugfs value.
    pub(crate) fn to_knob(self) -> u32 {
        match self {
            Corruption::None => 0,
            Corruption::Size => 1,
            Corruption::Type => 2,
        }
    }
}

/// The VideoCore's [`SharedMem`].
pub(crate) struct VpuShm {
    raw: RawShm,
    /// Byte range `[own_lo, own_hi)` of shared memory holding the VideoCore's slots (its data
    /// slots and its sync slot); set once the engine has published its half.
    own_lo: Cell<u32>,
    own_hi: Cell<u32>,
    /// Offset of the last store, to recognise the size-then-msgid pattern.
    last_store: Cell<u32>,
    armed: Cell<Corruption>,
    /// Set when an armed corruption was applied; cleared by [`VpuShm::take_fired`].
    fired: Cell<bool>,
}

impl VpuShm {
    /// Wraps `raw`; nothing is corrupted until [`VpuShm::arm`].
    pub(crate) fn new(raw: RawShm) -> Self {
        Self {
            raw,
            own_lo: Cell::new(0),
            own_hi: Cell::new(0),
            last_store: Cell::new(u32::MAX),
            armed: Cell::new(Corruption::None),
            fired: Cell::new(false),
        }
    }

    /// Sets the VideoCore's slot range (slot numbers, inclusive).
    pub(crate) fn set_own_slots(&self, first: u32, last: u32) {
        self.own_lo.set(first.saturating_mul(SLOT_SIZE));
        self.own_hi
            .set(last.saturating_add(1).saturating_mul(SLOT_SIZE));
    }

    /// Arms `c` for the next header (replacing whatever was armed).
    pub(crate) fn arm(&self, c: Corruption) {
        self.armed.set(c);
    }

    /// Disarms and returns what was still armed.
    pub(crate) fn disarm(&self) -> Corruption {
        self.armed.replace(Corruption::None)
    }

    /// Whether a corruption was applied since the last call.
    pub(crate) fn take_fired(&self) -> bool {
        self.fired.replace(false)
    }
}

impl SharedMem for VpuShm {
    fn size(&self) -> u32 {
        self.raw.size()
    }

    fn load(&self, off: u32) -> u32 {
        self.raw.load(off)
    }

    fn store(&self, off: u32, val: u32) {
        let prev = self.last_store.replace(off);
        let armed = self.armed.get();
        let header = armed != Corruption::None
            && off % 8 == 0
            && off >= self.own_lo.get()
            && off < self.own_hi.get()
            && prev == off.wrapping_add(4);
        if !header {
            self.raw.store(off, val);
            return;
        }
        self.armed.set(Corruption::None);
        self.fired.set(true);
        match armed {
            Corruption::Type => self.raw.store(off, (val & 0x00ff_ffff) | (0x20 << 24)),
            _ => {
                // The msgid is written last: the ARM sees the bad size with a valid id.
                self.raw.store(off.wrapping_add(4), 0xffff_0000);
                self.raw.barrier(Barrier::Write);
                self.raw.store(off, val);
            }
        }
    }

    fn barrier(&self, kind: Barrier) {
        self.raw.barrier(kind)
    }

    // Payload copies go straight to the window, so that only header stores are seen above,
    // and as one memory copy (the engine's word-by-word default cost about half a millisecond
    // per 4000-byte message on the debug kernels under QEMU: CPU the ARM then lacks, which
    // a real VideoCore's DMA never takes from it). Whole words, as the default: the tail of
    // a message that is not a multiple of four is written as one zero-padded word.
    fn copy_in(&self, off: u32, src: &[u8]) {
        let whole = src.len() & !3;
        match self.span(off, src.len().next_multiple_of(4)) {
            Some(dst) => {
                // SAFETY: `span` checked that `whole` (and more) bytes at `dst` are inside
                // the window, which is valid for writes (type invariant of `RawShm`);
                // `src` is our own memory, not the window.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, whole) };
                if let Some(rest) = src.get(whole..).filter(|r| !r.is_empty()) {
                    let mut w = [0u8; 4];
                    for (d, s) in w.iter_mut().zip(rest) {
                        *d = *s;
                    }
                    self.raw
                        .store(off.wrapping_add(whole as u32), u32::from_le_bytes(w));
                }
            }
            None => self.raw.copy_in(off, src),
        }
    }

    fn copy_out(&self, off: u32, dst: &mut [u8]) {
        match self.span(off, dst.len()) {
            Some(src) => {
                // SAFETY: `span` checked that `dst.len()` bytes at `src` are inside the
                // window, valid for reads (type invariant of `RawShm`); `dst` is our own
                // memory.
                unsafe { core::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
            }
            None => self.raw.copy_out(off, dst),
        }
    }
}

impl VpuShm {
    /// The address of `len` bytes at the word-aligned `off`, if they are all inside the
    /// window (else the copies fall back to the word accesses, which skip what is outside).
    fn span(&self, off: u32, len: usize) -> Option<*mut u8> {
        let end = usize::try_from(off).ok()?.checked_add(len)?;
        if off % 4 != 0 || len == 0 || end > self.raw.len() {
            return None;
        }
        self.raw.ptr_at(off)
    }
}
