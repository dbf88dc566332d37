// SPDX-License-Identifier: GPL-2.0

//! Latencies for the `state` file: the wake-up latency of the two doorbells (from the ARM
//! ringing BELL2 to the VideoCore's activation, and from the VideoCore raising the interrupt
//! to the ARM reading BELL0), and the duration of activations. Timestamps are microseconds since module
//! load, plus one (zero = none).

use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::time::{Instant, Monotonic};

/// Microseconds since `epoch`, plus one.
pub(crate) fn stamp(epoch: &Instant<Monotonic>) -> u64 {
    u64::try_from(epoch.elapsed().as_micros_ceil())
        .unwrap_or(0)
        .saturating_add(1)
}

/// One latency: a pending start mark and the statistics of completed ones.
pub(crate) struct Latency {
    start: Atomic<u64>,
    total_us: Atomic<u64>,
    count: Atomic<u64>,
    max_us: Atomic<u64>,
}

impl Latency {
    /// No measurements.
    pub(crate) const fn new() -> Self {
        Self {
            start: Atomic::new(0),
            total_us: Atomic::new(0),
            count: Atomic::new(0),
            max_us: Atomic::new(0),
        }
    }

    /// Marks the start, unless one is pending (the earliest ring counts).
    pub(crate) fn start(&self, now: u64) {
        let _ = self.start.cmpxchg(0, now, Relaxed);
    }

    /// Ends the pending measurement, if any.
    pub(crate) fn end(&self, now: u64) {
        let t = self.start.xchg(0, Relaxed);
        if t == 0 {
            return;
        }
        let d = now.saturating_sub(t);
        self.total_us.add(d, Relaxed);
        self.count.add(1u64, Relaxed);
        let mut m = self.max_us.load(Relaxed);
        while d > m {
            match self.max_us.cmpxchg(m, d, Relaxed) {
                Ok(_) => break,
                Err(cur) => m = cur,
            }
        }
    }

    /// Count, total and maximum in microseconds. (No average: 64-bit division is not
    /// available to Rust on 32-bit ARM.)
    pub(crate) fn summary(&self) -> (u64, u64, u64) {
        (
            self.count.load(Relaxed),
            self.total_us.load(Relaxed),
            self.max_us.load(Relaxed),
        )
    }
}
