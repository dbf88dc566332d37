// SPDX-License-Identifier: GPL-2.0

//! Remote events: the armed/fired wake-up handshake.
//!
//! A remote event lives in the shared block of the side that waits on it
//! (the *owner*).  The owner's peer *signals* it.  `fired` says "there is
//! something to look at"; `armed` says "the owner is about to sleep, ring the
//! doorbell if you fire".  The doorbell is therefore only rung when needed.
//!
//! # The guarantee and why it holds
//!
//! No lost wake-up: if the signaller publishes data and then signals, the
//! owner either sees that data before it sleeps, or the signaller sees
//! `armed` and rings the doorbell.  This is a store-buffering (Dekker)
//! pattern:
//!
//! ```text
//!   signaller                          owner (waiter)
//!   store data, tx_pos                 store armed = 1
//!   [Write]                            [Full]          (A)
//!   store fired = 1                    load fired / load data
//!   [Full]                 (B)         ... sleep only if both empty
//!   load armed -> ring doorbell if set
//! ```
//!
//! Without the `Full` barrier (A) on the owner, the owner's load of `fired`
//! and of the data may be satisfied before its store of `armed` is visible
//! to the peer; without (B) the signaller's load of `armed` may be
//! satisfied before its `fired` store is visible.  Either reordering allows
//! "owner saw nothing, signaller saw unarmed": the owner sleeps, no doorbell
//! is rung, the wake-up is lost.  A `Write` barrier is not enough for (A) or
//! (B): what is needed is store->load ordering, which only the full barrier
//! (DSB on ARM) gives.
//!
//! The owner's sleep condition looks at `fired` *and* at the data itself
//! (see `Engine::prepare_sleep`), and the engine decides what to process
//! on the data alone.  This matters: the owner consumes `fired` with a
//! plain store, which can overwrite a second signal that raced with it.  On
//! multi-copy-atomic hardware the full barrier after the clear still makes
//! the rescan see that signal's data, but the portable (C11/loom) memory
//! model does not promise it, and a data condition does not need it: the
//! data is written before the signaller's full barrier and is therefore
//! covered by the same Dekker argument as `fired`.  `fired` stays what the
//! firmware waits on and a cheap hint for us.

use super::layout::{EV_ARMED, EV_FIRED};
use super::shm::{Barrier, SharedMem};

/// A remote event at a fixed offset in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteEvent {
    off: u32,
}

impl RemoteEvent {
    /// The event whose 12-byte record starts at byte offset `off`.
    pub const fn at(off: u32) -> RemoteEvent {
        RemoteEvent { off }
    }

    fn armed(self) -> u32 {
        self.off.wrapping_add(EV_ARMED)
    }

    fn fired(self) -> u32 {
        self.off.wrapping_add(EV_FIRED)
    }

    /// Signals the event (called by the peer of the owner).
    ///
    /// Returns `true` if the owner is armed, i.e. the caller must ring the
    /// owner's doorbell.
    pub fn signal<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        // Write barrier: every shared store made before this signal
        // (payload, header, tx_pos, slot_queue entries, slot_queue_recycle,
        // sync slot) must be visible before `fired`.  The owner reads those
        // as soon as it sees `fired`; without the barrier it could see
        // `fired == 1` yet stale data, consume the event and go back to
        // sleep with the message unseen.
        shm.barrier(Barrier::Write);
        shm.store(self.fired(), 1);
        // Full barrier (store->load): the `fired` store must be visible to
        // the owner before we read `armed`.  Otherwise our read of `armed`
        // may return the value from before the owner armed, while the owner,
        // having armed, still reads `fired == 0` (and stale data): both
        // sides conclude "nothing to do" and the wake-up is lost.  On the
        // real hardware this is also what makes the `fired` store complete
        // before the doorbell MMIO write that follows.
        shm.barrier(Barrier::Full);
        shm.load(self.armed()) != 0
    }

    /// Whether the event is fired.  No side effects; usable as the sleep
    /// condition and from interrupt context.
    pub fn is_fired<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        shm.load(self.fired()) != 0
    }

    /// Whether the owner is armed.
    pub fn is_armed<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        shm.load(self.armed()) != 0
    }

    /// Consumes a fired event (owner side): clears `fired`.
    ///
    /// Returns whether it was fired.
    pub fn consume<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        let was = shm.load(self.fired()) != 0;
        if was {
            shm.store(self.fired(), 0);
        }
        // Full barrier: the clearing store must not be ordered after the
        // loads of the scan that follows.  If it were, a signal arriving in
        // between could have its `fired = 1` overwritten by our late `0`
        // while our scan still read the data from before that signal.  The
        // engine's conditions re-check the data, so correctness does not
        // rest on this; it keeps `fired` an accurate hint and acts as the
        // read barrier after observing `fired` (later data loads are not
        // satisfied before the `fired` load).
        shm.barrier(Barrier::Full);
        was
    }

    /// Arms the event before sleeping (owner side).
    ///
    /// Returns whether the event is already fired, in which case the caller
    /// must not sleep (and should call [`RemoteEvent::disarm`]).  The caller
    /// must also re-check its data condition after this call and before
    /// sleeping: the full barrier issued here covers that check.
    pub fn arm<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        shm.store(self.armed(), 1);
        // Full barrier (store->load), the owner's half of the Dekker pair:
        // `armed = 1` must be visible to the signaller before we read
        // `fired` and the data.  Without it, both reads may complete before
        // the peer can see `armed`; the peer then skips the doorbell and we
        // sleep through its signal.
        shm.barrier(Barrier::Full);
        shm.load(self.fired()) != 0
    }

    /// Disarms the event after waking (owner side).
    pub fn disarm<M: SharedMem + ?Sized>(self, shm: &M) {
        shm.store(self.armed(), 0);
        // Write barrier: publish "not sleeping any more" before any later
        // store (in particular a later `fired = 0` in `consume`), so the
        // peer never sees `armed == 1` together with our cleared `fired` and
        // rings the doorbell needlessly.  Only efficiency depends on it.
        shm.barrier(Barrier::Write);
    }

    /// Local signalling: sets `fired` and clears `armed`, as the interrupt
    /// handler does before waking the owner's thread.
    pub fn signal_local<M: SharedMem + ?Sized>(self, shm: &M) {
        shm.store(self.armed(), 0);
        shm.store(self.fired(), 1);
    }

    /// Interrupt-side poll: whether the owner is armed and the event fired,
    /// i.e. whether the owner's waiter must be woken.
    pub fn poll<M: SharedMem + ?Sized>(self, shm: &M) -> bool {
        let fired = shm.load(self.fired()) != 0;
        fired && shm.load(self.armed()) != 0
    }

    /// Initialises the owner's record: not armed, `fired` left untouched
    /// because the peer may already have signalled.
    pub fn init<M: SharedMem + ?Sized>(self, shm: &M) {
        shm.store(self.armed(), 0);
    }
}
