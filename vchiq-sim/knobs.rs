// SPDX-License-Identifier: GPL-2.0

//! Fault-injection knobs and counters (netdevsim style), shown in debugfs by `debugfs.rs`.
//!
//! All of them are plain atomics: the doorbell ops read them from any context, the VideoCore's
//! work item and debugfs writers from process context.

use kernel::sync::atomic::{Atomic, Relaxed};

/// The knobs. Semantics are documented on the debugfs files (`debugfs.rs`).
pub(crate) struct Knobs {
    /// Milliseconds the VideoCore sleeps before each round of processing.
    pub(crate) delay_ms: Atomic<u32>,
    /// Non-zero: every OPEN is rejected (no service listens).
    pub(crate) refuse_open: Atomic<u32>,
    /// Number of upcoming doorbells to the ARM to drop.
    pub(crate) drop_doorbell: Atomic<u32>,
    /// Corruption armed for the next header the VideoCore writes (1 size, 2 type).
    pub(crate) corrupt_header: Atomic<u32>,
    /// Non-zero: the VideoCore does not respond at all.
    pub(crate) stop: Atomic<u32>,
    /// Non-zero: `vc_reset` fails like real firmware would (the VideoCore keeps the memory).
    pub(crate) refuse_reset: Atomic<u32>,
    /// Non-zero: every activation rings the ARM back, even with nothing to say.
    pub(crate) pingpong: Atomic<u32>,
    /// One-shot: the next activation closes every open service from the VideoCore's side.
    pub(crate) close_open: Atomic<u32>,
    /// REMOTE_USE messages still to send to the ARM (writes add to it).
    pub(crate) remote_use: Atomic<u32>,
    /// REMOTE_RELEASE messages still to send to the ARM (writes add to it).
    pub(crate) remote_release: Atomic<u32>,
    /// A `hold` command for the VideoCore's next round ([`NO_HOLD_CMD`]: none): N > 0 holds
    /// the doorbells until N more messages are written, 0 rings at once.
    pub(crate) hold_cmd: Atomic<u32>,
    /// Messages still to write before the held doorbell rings (0: not holding).
    pub(crate) hold_left: Atomic<u32>,
    /// One-shot: the next connection a service accepts gets a DATA message at once, in the
    /// same round as its OPENACK.
    pub(crate) greet: Atomic<u32>,
    /// A fourcc: the VideoCore opens the ARM's server service of that name (one-shot).
    pub(crate) open_arm: Atomic<u32>,
    /// One-shot: the VideoCore closes its connection to the ARM's server and opens it again
    /// in the same round.
    pub(crate) reopen: Atomic<u32>,
    /// DATA messages still to send through the VideoCore's sync slot (writes add to it).
    pub(crate) sync_send: Atomic<u32>,
}

/// `Knobs::hold_cmd` with no command pending.
pub(crate) const NO_HOLD_CMD: u32 = u32::MAX;

impl Knobs {
    /// All knobs off.
    pub(crate) const fn new() -> Self {
        Self {
            delay_ms: Atomic::new(0),
            refuse_open: Atomic::new(0),
            drop_doorbell: Atomic::new(0),
            corrupt_header: Atomic::new(0),
            stop: Atomic::new(0),
            refuse_reset: Atomic::new(0),
            pingpong: Atomic::new(0),
            close_open: Atomic::new(0),
            remote_use: Atomic::new(0),
            remote_release: Atomic::new(0),
            hold_cmd: Atomic::new(NO_HOLD_CMD),
            hold_left: Atomic::new(0),
            greet: Atomic::new(0),
            open_arm: Atomic::new(0),
            reopen: Atomic::new(0),
            sync_send: Atomic::new(0),
        }
    }

    /// Whether the VideoCore is stopped.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Relaxed) != 0
    }

    /// Consumes one dropped doorbell; `true` if this doorbell must be dropped.
    pub(crate) fn take_drop_doorbell(&self) -> bool {
        let mut v = self.drop_doorbell.load(Relaxed);
        while v > 0 {
            match self.drop_doorbell.cmpxchg(v, v.saturating_sub(1), Relaxed) {
                Ok(_) => return true,
                Err(cur) => v = cur,
            }
        }
        false
    }
}

/// Event counters. They wrap at `u32::MAX`.
pub(crate) struct Counters {
    /// Accepted VCHIQ_INIT calls.
    pub(crate) inits: Atomic<u32>,
    /// Refused VCHIQ_INIT calls (second init without reset, or bad slot zero).
    pub(crate) refused_inits: Atomic<u32>,
    /// `vc_reset` calls (the core unbinding) and debugfs resets.
    pub(crate) resets: Atomic<u32>,
    /// `vc_reset` calls refused because of `refuse_reset`.
    pub(crate) refused_resets: Atomic<u32>,
    /// Doorbells the ARM rang (BELL2 writes).
    pub(crate) bell2: Atomic<u32>,
    /// Doorbells rung to the ARM (interrupts raised).
    pub(crate) doorbells: Atomic<u32>,
    /// Doorbells dropped by `drop_doorbell`.
    pub(crate) doorbells_dropped: Atomic<u32>,
    /// DATA messages delivered to the services.
    pub(crate) messages: Atomic<u32>,
    /// DATA messages the services sent.
    pub(crate) messages_tx: Atomic<u32>,
    /// OPENs accepted by a service.
    pub(crate) opens: Atomic<u32>,
    /// Bulk transfers completed with data moved.
    pub(crate) bulks: Atomic<u32>,
    /// Bulk transfers aborted because the two sides' sizes differ (protocol rule, not an
    /// error).
    pub(crate) bulk_mismatches: Atomic<u32>,
    /// Bulk transfers aborted because of a bad pagelist or address.
    pub(crate) bulk_errors: Atomic<u32>,
    /// fun2 transfers whose data or guard bytes were wrong.
    pub(crate) fun2_mismatches: Atomic<u32>,
    /// Headers corrupted by `corrupt_header`.
    pub(crate) corrupted: Atomic<u32>,
    /// Engine and service errors (protocol errors of the ARM, failed operations).
    pub(crate) errors: Atomic<u32>,
    /// Rounds of processing (several per activation when the ARM keeps sending).
    pub(crate) rounds: Atomic<u32>,
    /// REMOTE_USE messages sent to the ARM.
    pub(crate) remote_uses: Atomic<u32>,
    /// REMOTE_RELEASE messages sent to the ARM.
    pub(crate) remote_releases: Atomic<u32>,
    /// REMOTE_USE_ACTIVE messages (the ARM's acks of REMOTE_USE) received.
    pub(crate) use_acks: Atomic<u32>,
    /// DATA messages sent through the sync slot (`sync_send`).
    pub(crate) sync_sent: Atomic<u32>,
}

impl Counters {
    /// All zero.
    pub(crate) const fn new() -> Self {
        Self {
            inits: Atomic::new(0),
            refused_inits: Atomic::new(0),
            resets: Atomic::new(0),
            refused_resets: Atomic::new(0),
            bell2: Atomic::new(0),
            doorbells: Atomic::new(0),
            doorbells_dropped: Atomic::new(0),
            messages: Atomic::new(0),
            messages_tx: Atomic::new(0),
            opens: Atomic::new(0),
            bulks: Atomic::new(0),
            bulk_mismatches: Atomic::new(0),
            bulk_errors: Atomic::new(0),
            fun2_mismatches: Atomic::new(0),
            corrupted: Atomic::new(0),
            errors: Atomic::new(0),
            rounds: Atomic::new(0),
            remote_uses: Atomic::new(0),
            remote_releases: Atomic::new(0),
            use_acks: Atomic::new(0),
            sync_sent: Atomic::new(0),
        }
    }
}

/// Adds one to `c` and returns the new value.
pub(crate) fn bump(c: &Atomic<u32>) -> u32 {
    c.fetch_add(1u32, Relaxed).wrapping_add(1)
}
