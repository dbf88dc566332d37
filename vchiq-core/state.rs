// SPDX-License-Identifier: GPL-2.0

//! Per-device state: the ARM side of one VCHIQ connection.
//!
//! [`VchiqState`] is shared (through `Arc`) by the protocol threads, the doorbell interrupt, the
//! service API and debugfs. One mutex, [`VchiqState::inner`], serialises the engine and everything
//! that must change with it (the service registry, held messages, bulks); the interrupt never
//! takes it. The interrupt and local wake-ups go through [`VchiqState::events`], a spinlock that
//! disables interrupts, so that no wake-up can be lost between a thread's decision to sleep
//! and its sleep (see `Documentation/architecture.rst`, "Threads").

use crate::bulk::BulkTable;
use crate::engine::{Engine, Handle, RemoteEvent, SharedMem, Tables, Wait};
use crate::platform::Platform;
use crate::services::Registry;
use crate::shm::RawShm;
use kernel::device::Device;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, CondVar, CondVarTimeoutResult, Mutex, SpinLockIrq};
use kernel::time::{msecs_to_jiffies, Delta, Instant, Monotonic};
use kernel::{new_condvar, new_mutex, new_spinlock_irq};

/// The engine as the ARM side instantiates it.
pub(crate) type ArmEngine = Engine<RawShm, KBox<Tables>>;

/// How long an operation that needs the VideoCore's answer waits for it (open, close,
/// connect, a send stalled on slots or quota) before it fails with `ETIMEDOUT`.
pub(crate) const REPLY_TIMEOUT_MS: u32 = 5000;

/// Progress of the CONNECT handshake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ConnectState {
    /// Nobody asked to connect yet.
    Idle,
    /// Our CONNECT is sent (the engine says when the VideoCore's has arrived).
    Sent,
}

/// Everything that changes together with the engine, under [`VchiqState::inner`].
pub(crate) struct Inner {
    /// The protocol engine (ARM role).
    pub(crate) engine: ArmEngine,
    /// The device is gone: the slot memory may be freed and nothing may touch the engine.
    pub(crate) dead: bool,
    /// CONNECT handshake.
    pub(crate) connect: ConnectState,
    /// Services opened through the API, and their held messages.
    pub(crate) services: Registry,
    /// Bulk transfers in flight.
    pub(crate) bulks: BulkTable,
    /// Batches of client callbacks being made by the slot or sync thread (without the
    /// lock); an instance is only freed when none is in flight (`VchiqState::detach`).
    pub(crate) delivering: u32,
    /// How many times the slot handler has looked at the sync slot (wrapping; notified on
    /// `VchiqState::sync_parsed`).
    pub(crate) sync_looks: u32,
    /// Services the VideoCore opened for a caller that gave up waiting, whose CLOSE found no
    /// slot yet: retried by the slot handler.
    pub(crate) orphans: KVec<Handle>,
}

impl Inner {
    /// Closes a service that the VideoCore opened for a caller who gave up waiting: it must
    /// be closed, or the VideoCore's listener stays taken. Without a free slot now, the
    /// slot handler retries (`orphans`).
    pub(crate) fn abandon(&mut self, handle: Handle) {
        if self.engine.close_service(handle) == Err(crate::engine::Error::WouldBlock)
            && self.orphans.push(handle, GFP_KERNEL).is_err()
        {
            pr_warn!("vchiq: cannot remember an abandoned service; its listener stays taken\n");
        }
    }
}

/// The engine lock, held.
pub(crate) type InnerGuard<'a> =
    kernel::sync::lock::Guard<'a, Inner, kernel::sync::lock::mutex::MutexBackend>;

/// Wake-up state shared with the interrupt handler.
pub(crate) struct Events {
    /// Events (`Wait::bit`) whose waiter the doorbell woke, not yet consumed.
    pub(crate) pending: u8,
    /// Local requests to re-run the slot handler (a released message, a recycled slot).
    pub(crate) kick: bool,
    /// The threads must exit.
    pub(crate) stop: bool,
    /// The keepalive thread has REMOTE_USE or REMOTE_RELEASE messages to act on.
    pub(crate) keep: bool,
}

/// Use-count bookkeeping for the VideoCore (REMOTE_USE / REMOTE_RELEASE, see
/// `threads::KeepaliveThread`). The slot handler only adds to `uses` and `releases`; the
/// keepalive thread takes them and alone changes `peer_use_count`. Nothing else acts on the
/// counts: there is no power management.
pub(crate) struct Keepalive {
    /// REMOTE_USE received, not yet taken by the keepalive thread.
    pub(crate) uses: Atomic<u32>,
    /// REMOTE_RELEASE received, not yet taken by the keepalive thread.
    pub(crate) releases: Atomic<u32>,
    /// Uses the VideoCore holds: one per REMOTE_USE, less one per REMOTE_RELEASE.
    pub(crate) peer_use_count: Atomic<u32>,
    /// REMOTE_USE received in all.
    pub(crate) uses_rx: Atomic<u32>,
    /// REMOTE_RELEASE received in all.
    pub(crate) releases_rx: Atomic<u32>,
    /// REMOTE_USE_ACTIVE acks sent.
    pub(crate) acks: Atomic<u32>,
    /// REMOTE_RELEASE with a peer use count of 0 (protocol errors, ignored).
    pub(crate) bad_releases: Atomic<u32>,
}

/// Counters for debugfs, updated without the engine lock.
pub(crate) struct Counters {
    /// Doorbell interrupts that found the doorbell rung.
    pub(crate) irqs: Atomic<u32>,
    /// Doorbell interrupts that found it not rung (spurious).
    pub(crate) spurious_irqs: Atomic<u32>,
    /// Times we rang the VideoCore.
    pub(crate) doorbells: Atomic<u32>,
    /// The last `ping` measurement: round trips and nanoseconds per round trip.
    pub(crate) ping_rounds: Atomic<u32>,
    pub(crate) ping_ns: Atomic<u32>,
    /// Operations that timed out waiting for the VideoCore.
    pub(crate) timeouts: Atomic<u32>,
    /// Protocol errors reported by the engine's poll.
    pub(crate) poll_errors: Atomic<u32>,
}

/// One VCHIQ connection, ARM side.
///
/// # Invariants
///
/// `shm` covers the slot memory handed to the engine; it is valid while `inner.dead` is false.
/// Once `dead` is set (under `inner`) nothing touches `shm` or the platform any more, except
/// the doorbell interrupt, which is freed before the slot memory.
#[pin_data]
pub(crate) struct VchiqState {
    /// The engine and its companions.
    #[pin]
    pub(crate) inner: Mutex<Inner>,
    /// Signalled (under `inner`) whenever `inner` changes in a way a waiter may care about:
    /// connected, a service opened or closed, slots recycled, a bulk completed.
    #[pin]
    pub(crate) changed: CondVar,
    /// Signalled (under `inner`) each time the slot handler has looked at the sync slot
    /// (`Inner::sync_looks`): the sync thread waits on it for the slot handler to take a
    /// message it handed over.
    #[pin]
    pub(crate) sync_parsed: CondVar,
    /// Wake-ups from the doorbell interrupt and from local code.
    #[pin]
    pub(crate) events: SpinLockIrq<Events>,
    /// Signalled with `events`.
    #[pin]
    pub(crate) events_cv: CondVar,
    /// Signalled with `events` for the keepalive thread (`keep`, `stop`).
    #[pin]
    pub(crate) keep_cv: CondVar,
    /// The slot memory (a copy of the engine's window, for the interrupt handler).
    pub(crate) shm: RawShm,
    /// The fragment pool (after the slots in the same allocation).
    pub(crate) frags: RawShm,
    /// Our four events, in `Wait::ALL` order.
    pub(crate) own_events: [(Wait, RemoteEvent); 4],
    /// The VideoCore.
    pub(crate) platform: KBox<dyn Platform>,
    /// The device (for logging and DMA mappings).
    pub(crate) dev: ARef<Device>,
    /// Statistics.
    pub(crate) counters: Counters,
    /// The VideoCore's use count.
    pub(crate) keepalive: Keepalive,
}

impl VchiqState {
    /// Creates the state around an initialised ARM engine.
    pub(crate) fn new(
        dev: &Device,
        engine: ArmEngine,
        frags: RawShm,
        platform: KBox<dyn Platform>,
    ) -> Result<Arc<Self>> {
        let shm = *engine.shm();
        let own_events = Wait::ALL.map(|w| (w, engine.own_event(w)));
        Arc::pin_init(
            try_pin_init!(VchiqState {
                inner <- new_mutex!(Inner {
                    engine,
                    dead: false,
                    connect: ConnectState::Idle,
                    services: Registry::new(),
                    bulks: BulkTable::new(),
                    delivering: 0,
                    sync_looks: 0,
                    orphans: KVec::new(),
                }, "VchiqState::inner"),
                changed <- new_condvar!("VchiqState::changed"),
                sync_parsed <- new_condvar!("VchiqState::sync_parsed"),
                events <- new_spinlock_irq!(Events {
                    pending: 0,
                    kick: false,
                    stop: false,
                    keep: false,
                }, "VchiqState::events"),
                events_cv <- new_condvar!("VchiqState::events_cv"),
                keep_cv <- new_condvar!("VchiqState::keep_cv"),
                shm,
                frags,
                own_events,
                platform,
                dev: dev.into(),
                counters: Counters {
                    irqs: Atomic::new(0),
                    spurious_irqs: Atomic::new(0),
                    doorbells: Atomic::new(0),
                    ping_rounds: Atomic::new(0),
                    ping_ns: Atomic::new(0),
                    timeouts: Atomic::new(0),
                    poll_errors: Atomic::new(0),
                },
                keepalive: Keepalive {
                    uses: Atomic::new(0),
                    releases: Atomic::new(0),
                    peer_use_count: Atomic::new(0),
                    uses_rx: Atomic::new(0),
                    releases_rx: Atomic::new(0),
                    acks: Atomic::new(0),
                    bad_releases: Atomic::new(0),
                },
            }),
            GFP_KERNEL,
        )
    }

    /// Takes the engine lock for an API call: `ESHUTDOWN` once the device is dead. Every entry
    /// point of the service API starts here, before it touches the engine, the registry's
    /// messages or the device (pages pinned or mapped for a bulk): after unbind the slot
    /// memory may be freed, and the engine's window points into it.
    pub(crate) fn lock_live(&self) -> Result<InnerGuard<'_>> {
        let inner = self.inner.lock();
        if inner.dead {
            return Err(ESHUTDOWN);
        }
        Ok(inner)
    }

    /// Rings the VideoCore if the engine asks for it. Called with `inner` held.
    pub(crate) fn flush_doorbell(&self, inner: &mut Inner) {
        if !inner.dead && inner.engine.take_doorbell() {
            self.counters.doorbells.add(1, Relaxed);
            self.platform.ring_vc();
        }
    }

    /// The doorbell interrupt: wakes the waiters of our armed events.
    pub(crate) fn doorbell_irq(&self) -> bool {
        if !self.platform.doorbell_rung() {
            self.counters.spurious_irqs.add(1, Relaxed);
            return false;
        }
        self.counters.irqs.add(1, Relaxed);
        let mut mask = 0u8;
        for (w, ev) in &self.own_events {
            // Waking a waiter whose event is armed but not fired is only a spurious wake-up:
            // the waiter re-checks the shared state.
            if ev.is_armed(&self.shm) {
                mask |= w.bit();
            }
        }
        // Under the lock even when no event is armed: `ping` waits for the interrupt count.
        self.events.lock().pending |= mask;
        self.events_cv.notify_all();
        true
    }

    /// Asks the slot handler to run again.
    pub(crate) fn kick(&self) {
        self.events.lock().kick = true;
        self.events_cv.notify_all();
    }

    /// Measures `n` bare doorbell round trips: ring the VideoCore, wait for its interrupt.
    /// Only meaningful with a VideoCore that answers every doorbell (the simulator's
    /// `pingpong` knob) and no traffic; the benchmark's yardstick for the interrupt path.
    pub(crate) fn ping(&self, n: u32) -> Result<i64> {
        let t0 = kernel::time::Instant::<kernel::time::Monotonic>::now();
        for _ in 0..n {
            if self.inner.lock().dead {
                return Err(ESHUTDOWN);
            }
            let mut ev = self.events.lock();
            let before = self.counters.irqs.load(Relaxed);
            self.platform.ring_vc();
            let mut left = msecs_to_jiffies(1000);
            while self.counters.irqs.load(Relaxed) == before {
                if left == 0 {
                    return Err(ETIMEDOUT);
                }
                match self.events_cv.wait_interruptible_timeout(&mut ev, left) {
                    kernel::sync::CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                    kernel::sync::CondVarTimeoutResult::Timeout => left = 0,
                    kernel::sync::CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                }
            }
        }
        // `Delta / Delta` divides without the 64-bit division helpers 32-bit ARM lacks.
        let ns = t0.elapsed() / kernel::time::Delta::from_nanos(i64::from(n.max(1)));
        self.counters.ping_rounds.store(n, Relaxed);
        self.counters
            .ping_ns
            .store(u32::try_from(ns).unwrap_or(u32::MAX), Relaxed);
        Ok(ns)
    }

    /// Tells the threads to exit.
    pub(crate) fn stop_threads(&self) {
        self.events.lock().stop = true;
        self.events_cv.notify_all();
        self.keep_cv.notify_all();
    }

    /// Whether the threads were told to exit.
    pub(crate) fn stopping(&self) -> bool {
        self.events.lock().stop
    }

    /// Wakes the keepalive thread (REMOTE_USE or REMOTE_RELEASE counted). Any context that
    /// may take a spinlock; the slot handler calls it with `inner` held.
    pub(crate) fn wake_keepalive(&self) {
        self.events.lock().keep = true;
        self.keep_cv.notify_all();
    }

    /// Sleeps until the keepalive thread has work. Returns `false` when it must stop.
    pub(crate) fn wait_keepalive(&self) -> bool {
        let mut ev = self.events.lock();
        while !ev.keep && !ev.stop {
            // Kernel threads take no signals.
            let _ = self.keep_cv.wait_interruptible(&mut ev);
        }
        ev.keep = false;
        !ev.stop
    }

    /// Sleeps until event `w` may have work (or, with `kick`, a local kick arrived). Returns
    /// `false` when the threads must stop.
    ///
    /// The pending bit is cleared before the event is armed: a doorbell that comes after the
    /// arming sets it again, and one that came before it left `fired` set, which
    /// `prepare_sleep` sees.
    pub(crate) fn wait_event(&self, w: Wait, kick: bool) -> bool {
        {
            let mut ev = self.events.lock();
            if ev.stop {
                return false;
            }
            ev.pending &= !w.bit();
        }
        let sleep = {
            let mut inner = self.inner.lock();
            if inner.dead {
                return false;
            }
            inner.engine.prepare_sleep(w)
        };
        if sleep {
            let mut ev = self.events.lock();
            while ev.pending & w.bit() == 0 && !(kick && ev.kick) && !ev.stop {
                // Kernel threads take no signals; the return value only says whether one is
                // pending.
                let _ = self.events_cv.wait_interruptible(&mut ev);
            }
            drop(ev);
            let mut inner = self.inner.lock();
            if !inner.dead {
                inner.engine.finish_sleep(w);
            }
        }
        let mut ev = self.events.lock();
        if kick {
            ev.kick = false;
        }
        !ev.stop
    }

    /// Waits until no callback batch is in delivery (the slot thread notifies
    /// [`VchiqState::changed`] at the end of every batch), for at most [`REPLY_TIMEOUT_MS`], on a
    /// live or a dead device; no signal ends the wait. Returns the guard, or `None` on timeout.
    pub(crate) fn wait_delivered<'a>(&'a self, guard: InnerGuard<'a>) -> Option<InnerGuard<'a>> {
        // Neither the condition nor a signal can fail this wait: only the timeout ends it.
        self.wait_for(guard, |i| Ok(i.delivering == 0), false)
            .ok()
            .flatten()
    }

    /// Waits on [`VchiqState::changed`] until `done` holds for the locked state, for at most
    /// [`REPLY_TIMEOUT_MS`]. Errors: `ESHUTDOWN` when the device goes away, `ETIMEDOUT`,
    /// `EINTR` on a signal.
    pub(crate) fn wait_changed<'a>(
        &'a self,
        guard: InnerGuard<'a>,
        done: impl FnMut(&mut Inner) -> Result<bool>,
    ) -> Result<InnerGuard<'a>> {
        self.wait_changed_as(guard, done, true)
    }

    /// As [`VchiqState::wait_changed`]; unless `interruptible`, signals do not end the wait (it
    /// then still ends after [`REPLY_TIMEOUT_MS`]). Teardown uses this: a process being
    /// killed must still wait for its services to close before its instance is freed.
    pub(crate) fn wait_changed_as<'a>(
        &'a self,
        guard: InnerGuard<'a>,
        mut done: impl FnMut(&mut Inner) -> Result<bool>,
        interruptible: bool,
    ) -> Result<InnerGuard<'a>> {
        let live_and_done = |i: &mut Inner| {
            if i.dead {
                return Err(ESHUTDOWN);
            }
            done(i)
        };
        match self.wait_for(guard, live_and_done, interruptible)? {
            Some(guard) => Ok(guard),
            None => {
                self.counters.timeouts.add(1, Relaxed);
                Err(ETIMEDOUT)
            }
        }
    }

    /// Sleeps on [`VchiqState::changed`] until `done` holds for the locked state, for at most
    /// [`REPLY_TIMEOUT_MS`]; unless `interruptible`, signals do not end the wait. Returns the
    /// guard, `None` on timeout, or the error of `done` (`EINTR` on a signal).
    fn wait_for<'a>(
        &'a self,
        mut guard: InnerGuard<'a>,
        mut done: impl FnMut(&mut Inner) -> Result<bool>,
        interruptible: bool,
    ) -> Result<Option<InnerGuard<'a>>> {
        // A deadline in time, not a budget of jiffies: the uninterruptible path below sleeps
        // a millisecond at a time, which is not a jiffy at every HZ.
        let start = Instant::<Monotonic>::now();
        let timeout = Delta::from_millis(i64::from(REPLY_TIMEOUT_MS));
        while !done(&mut guard)? {
            let spent = start.elapsed();
            if spent >= timeout {
                return Ok(None);
            }
            let left_ms = (timeout - spent)
                .as_millis_ceil()
                .clamp(1, i64::from(u32::MAX));
            let left = msecs_to_jiffies(left_ms as u32);
            match self.changed.wait_interruptible_timeout(&mut guard, left) {
                CondVarTimeoutResult::Woken { .. } | CondVarTimeoutResult::Timeout => {}
                CondVarTimeoutResult::Signal { .. } if interruptible => return Err(EINTR),
                CondVarTimeoutResult::Signal { .. } => {
                    // A pending signal makes every interruptible sleep return at once: poll
                    // instead, a millisecond at a time, without the lock.
                    drop(guard);
                    kernel::time::delay::fsleep(Delta::from_millis(1));
                    guard = self.inner.lock();
                }
            }
        }
        Ok(Some(guard))
    }

    /// The kernel virtual address of byte `off` of the slot memory, for the message headers
    /// handed to clients.
    pub(crate) fn slot_ptr(&self, off: u32) -> Option<*mut u8> {
        self.shm.ptr_at(off)
    }

    /// The offset in the slot memory of a pointer handed out by [`VchiqState::slot_ptr`].
    pub(crate) fn slot_offset(&self, p: *const u8) -> Option<u32> {
        self.shm.offset_of(p)
    }

    /// Size of the slot memory.
    pub(crate) fn shm_size(&self) -> u32 {
        self.shm.size()
    }
}
