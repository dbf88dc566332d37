// SPDX-License-Identifier: GPL-2.0

//! Helpers of the loom models: a bounded model runner, a doorbell and a
//! "sleep" that detects lost wake-ups.

use loom::thread;

/// Runs a loom model, bounding preemptions (override with
/// `LOOM_MAX_PREEMPTIONS`) so that the run stays short.
pub fn check<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(5);
    }
    b.check(f);
}

/// The doorbell, as a count of rings.  Only the ringing side writes it,
/// so the sleeper needs no read-and-clear (which loom models poorly); it
/// remembers how many rings it has seen.
#[derive(Default)]
pub struct Doorbell(loom::sync::atomic::AtomicU32);

impl Doorbell {
    pub fn ring(&self) {
        let n = self.0.load(loom::sync::atomic::Ordering::Relaxed);
        self.0.store(n + 1, loom::sync::atomic::Ordering::Release);
    }

    /// Whether it rang since the last call.
    pub fn take(&self, seen: &mut u32) -> bool {
        let n = self.0.load(loom::sync::atomic::Ordering::Acquire);
        let rang = n != *seen;
        *seen = n;
        rang
    }
}

/// "Sleeps" until the doorbell rings.  Instead of blocking, the sleeper
/// waits for the peer to finish (the peer never waits for the sleeper, so
/// this is equivalent to sleeping through the rest of its run) and then
/// requires that the doorbell was rung: otherwise the wake-up was lost.
/// Checking this way keeps loom free of deadlock aborts, so the negative
/// controls can assert the failure.
pub fn sleep(bell: &Doorbell, seen: &mut u32, peer: &mut Option<thread::JoinHandle<()>>) {
    if bell.take(seen) {
        return;
    }
    if let Some(h) = peer.take() {
        h.join().unwrap();
    }
    assert!(
        bell.take(seen),
        "lost wake-up: slept with work pending and no doorbell"
    );
}
