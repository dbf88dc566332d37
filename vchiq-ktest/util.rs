// SPDX-License-Identifier: GPL-2.0

//! Helpers of the tests: a report buffer, a deterministic PRNG and an event collector that
//! implements the service [`Handler`].

use crate::vchiq::{Handler, Message, ServiceRef};
use core::fmt::{self, Write};
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

/// Text report of a run.
pub(crate) struct Report(KVec<u8>);

impl Report {
    pub(crate) fn new() -> Self {
        Self(KVec::new())
    }

    /// Appends a line.
    pub(crate) fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.write_fmt(args);
        let _ = self.0.push(b'\n', GFP_KERNEL);
    }

    pub(crate) fn into_bytes(self) -> KVec<u8> {
        self.0
    }
}

impl Write for Report {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

/// xorshift32: reproducible sizes and contents.
pub(crate) struct Rng(u32);

impl Rng {
    pub(crate) fn new(seed: u32) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What a service reported.
pub(crate) enum Ev {
    /// A message (copied).
    Msg(KVec<u8>),
    /// A callback-mode bulk ended.
    Bulk {
        userdata: usize,
        receive: bool,
        aborted: bool,
    },
    /// The service closed.
    Closed,
    /// The VideoCore opened the (server) service.
    Opened,
}

/// Collects a service's events for the test thread.
#[pin_data]
pub(crate) struct Collector {
    #[pin]
    q: Mutex<KVec<Ev>>,
    #[pin]
    cv: CondVar,
}

impl Collector {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Collector {
                q <- new_mutex!(KVec::new(), "Collector::q"),
                cv <- new_condvar!("Collector::cv"),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn push(&self, e: Ev) {
        let mut q = self.q.lock();
        if q.push(e, GFP_KERNEL).is_err() {
            pr_err!("vchiq-ktest: event lost (out of memory)\n");
        }
        drop(q);
        self.cv.notify_all();
    }

    /// Waits up to `ms` for the oldest event.
    pub(crate) fn wait(&self, ms: u32) -> Result<Ev> {
        let mut left = msecs_to_jiffies(ms);
        let mut q = self.q.lock();
        loop {
            if !q.is_empty() {
                return q.remove(0).map_err(|_| EINVAL);
            }
            if left == 0 {
                return Err(ETIMEDOUT);
            }
            match self.cv.wait_interruptible_timeout(&mut q, left) {
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                kernel::sync::CondVarTimeoutResult::Timeout => left = 0,
                kernel::sync::CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
            }
        }
    }

    /// Waits for the next message (skipping nothing: any other event is an error).
    pub(crate) fn wait_msg(&self, ms: u32) -> Result<KVec<u8>> {
        match self.wait(ms)? {
            Ev::Msg(m) => Ok(m),
            _ => Err(EPROTO),
        }
    }

    /// Number of queued events.
    pub(crate) fn pending(&self) -> usize {
        self.q.lock().len()
    }
}

impl Handler for Collector {
    fn message(&self, _svc: ServiceRef<'_>, msg: Message<'_>) {
        if let Ok(v) = msg.to_kvec() {
            self.push(Ev::Msg(v));
        }
    }

    fn bulk_done(&self, _svc: ServiceRef<'_>, userdata: usize, receive: bool, aborted: bool) {
        self.push(Ev::Bulk {
            userdata,
            receive,
            aborted,
        });
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        self.push(Ev::Closed);
    }

    fn opened(&self, _svc: ServiceRef<'_>) {
        self.push(Ev::Opened);
    }
}

/// `a / b` for 64-bit values without the division helpers 32-bit ARM kernels lack (the
/// kernel's `Delta` division uses `div64_s64` there).
pub(crate) fn div(a: i64, b: i64) -> i64 {
    kernel::time::Delta::from_nanos(a) / kernel::time::Delta::from_nanos(b.max(1))
}
