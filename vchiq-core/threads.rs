// SPDX-License-Identifier: GPL-2.0

//! The protocol threads of one device.
//!
//! * `vchiq-slot` parses the VideoCore's messages (trigger event) and calls the clients.
//! * `vchiq-recy` takes back the slots the VideoCore has finished with (recycle event) and
//!   wakes senders waiting for slots or quota. It must be separate from the slot handler:
//!   a client callback that blocks for slot space would otherwise wait for itself.
//! * `vchiq-sync` waits for the sync-trigger event and has the slot handler parse the sync
//!   slot: the slot handler is the only thread that calls clients.
//! * `vchiq-keep` keeps the VideoCore's use count: the slot handler only counts its
//!   REMOTE_USE and REMOTE_RELEASE messages and wakes it; it acks every use with
//!   REMOTE_USE_ACTIVE (which may have to wait for slots, so the slot handler must not).
//!
//! The first three sleep on their own event with the arm/check/sleep protocol of
//! `VchiqState::wait_event`; the slot handler calls clients without holding the engine lock,
//! one batch at a time (see `Documentation/architecture.rst`, "Delivery"); the keepalive thread
//! sleeps on a local flag (`VchiqState::wait_keepalive`).

use crate::bulk::{Mode, Outcome};
use crate::engine::{
    log_nth, to_kernel_err, BulkDir, BulkResult, Error as EngineError, Handle, MsgRef, MsgType,
    Output, SrvState, Wait, HEADER_SIZE,
};
use crate::ffi;
use crate::services::{Client, Phase, Reason};
use crate::state::{Inner, VchiqState};
use crate::sys::ThreadBody;
use core::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;
use kernel::time::msecs_to_jiffies;

/// Outputs handled per engine lock: bounds the time the lock is held.
const BATCH: usize = 16;

/// How often the sync thread looks again whether the slot handler has taken the sync slot's
/// message (it is woken by every look of the slot handler's at the sync slot).
const SYNC_RECHECK_MS: u32 = 20;

/// A callback to make once the engine lock is dropped.
#[derive(Clone, Copy)]
pub(crate) struct Delivery {
    client: Client,
    reason: Reason,
    header: *mut c_void,
    handle: u32,
    cb_data: *mut c_void,
    /// The connection it concerns (`services::Entry::conn`; 0 where it does not matter).
    conn: u32,
}

impl Delivery {
    /// A callback that carries neither a message header nor bulk user data.
    fn event(client: Client, reason: Reason, handle: Handle, conn: u32) -> Self {
        Self {
            client,
            reason,
            header: core::ptr::null_mut(),
            handle: handle.0,
            cb_data: core::ptr::null_mut(),
            conn,
        }
    }

    fn call(&self) {
        // Checked `Some` when the service was created (`cabi::service_args`).
        let Some(callback) = self.client.callback else {
            return;
        };
        // SAFETY: the client registered this callback with its instance and user data when it
        // opened the service; the C API contract is that they stay valid until the service
        // is closed, which cannot complete before this delivery (closes wait for the
        // `Closed` output, which this thread delivers in order).
        unsafe {
            callback(
                self.client.instance.cast(),
                self.reason as ffi::vchiq_reason,
                self.header.cast(),
                self.handle,
                self.cb_data,
                core::ptr::null_mut(),
            )
        };
    }
}

/// Handles one output under the engine lock; returns the callback to make, if any.
pub(crate) fn handle_output(core: &VchiqState, inner: &mut Inner, o: Output) -> Option<Delivery> {
    match o {
        Output::Connected => {
            core.changed.notify_all();
            None
        }
        Output::Opened {
            handle,
            peer_version,
            ..
        } => opened(core, inner, handle, peer_version),
        Output::OpenRejected { handle } => open_rejected(core, inner, handle),
        Output::Data { handle, msg } => data(core, inner, handle, msg),
        Output::Closed { handle } => closed(core, inner, handle),
        Output::BulkDone {
            handle,
            dir,
            cookie,
            result,
        } => bulk_done(core, inner, handle.0, dir, cookie, result),
        Output::BulkTransfer { .. } => None,
        Output::Control(ty) => {
            control(core, ty);
            None
        }
    }
}

/// A service is open: ours, acknowledged, or one of our servers, opened by the VideoCore
/// (whose client is told).
fn opened(
    core: &VchiqState,
    inner: &mut Inner,
    handle: Handle,
    peer_version: u16,
) -> Option<Delivery> {
    let Some(e) = inner.services.get(handle) else {
        // Nobody waits for it any more (the open timed out or was interrupted).
        inner.abandon(handle);
        core.changed.notify_all();
        return None;
    };
    // `Closed`: the VideoCore closed and reopened the server in one batch; its
    // SERVICE_CLOSED is queued before this.
    let tell = e.server && matches!(e.phase, Phase::Listening | Phase::Closed);
    e.phase = Phase::Open;
    e.conn = e.conn.wrapping_add(1);
    e.peer_version = peer_version;
    core.changed.notify_all();
    // The VideoCore opened one of our servers: tell its client.
    tell.then(|| Delivery::event(e.client, Reason::ServiceOpened, handle, 0))
}

/// The VideoCore refused our OPEN: the waiting opener fails.
fn open_rejected(core: &VchiqState, inner: &mut Inner, handle: Handle) -> Option<Delivery> {
    if let Some(e) = inner.services.get(handle) {
        e.phase = Phase::Rejected;
    }
    core.changed.notify_all();
    None
}

/// A message: held for the service's client and handed to it, or released at once.
fn data(core: &VchiqState, inner: &mut Inner, handle: Handle, msg: MsgRef) -> Option<Delivery> {
    let header = msg.payload_offset().wrapping_sub(HEADER_SIZE);
    let target = open_target(inner, handle);
    match (target, core.slot_ptr(header)) {
        (Some((client, conn)), Some(ptr))
            if inner.services.hold(handle, header, msg, conn).is_ok() =>
        {
            Some(Delivery {
                client,
                reason: Reason::MessageAvailable,
                header: ptr.cast(),
                handle: handle.0,
                cb_data: core::ptr::null_mut(),
                conn,
            })
        }
        _ => {
            // No client (closing) or out of memory: nobody will release it.
            let _ = inner.engine.release(&msg);
            None
        }
    }
}

/// The client and connection of service `handle` if it is open, counting a message for it.
fn open_target(inner: &mut Inner, handle: Handle) -> Option<(Client, u32)> {
    let e = inner
        .services
        .get(handle)
        .filter(|e| e.phase == Phase::Open)?;
    e.messages = e.messages.wrapping_add(1);
    Some((e.client, e.conn))
}

/// A service finished closing: its client gets SERVICE_CLOSED; without a client, what it
/// held goes back to the VideoCore now.
fn closed(core: &VchiqState, inner: &mut Inner, handle: Handle) -> Option<Delivery> {
    let Some(e) = inner.services.get(handle) else {
        for m in inner.services.take_held(handle) {
            let _ = inner.engine.release(&m);
        }
        core.changed.notify_all();
        return None;
    };
    e.phase = Phase::Closed;
    // With a client, its held messages are released only after its SERVICE_CLOSED
    // callback (`reap_closed`): a MESSAGE_AVAILABLE earlier in this batch has not been
    // delivered yet, and its callback must find the message still held.
    // The entry stays until its SERVICE_CLOSED callback has run (`reap_closed`), so
    // that the callback can still look up the service's user data.
    Some(Delivery::event(
        e.client,
        Reason::ServiceClosed,
        handle,
        e.conn,
    ))
}

/// A connection-level control message.
fn control(core: &VchiqState, ty: MsgType) {
    let k = &core.keepalive;
    match ty {
        MsgType::RemoteUse => {
            // Counted here, acked by the keepalive thread: the ack may wait for slots.
            k.uses_rx.add(1, Relaxed);
            k.uses.add(1, Relaxed);
            core.wake_keepalive();
        }
        MsgType::RemoteRelease => {
            k.releases_rx.add(1, Relaxed);
            k.releases.add(1, Relaxed);
            core.wake_keepalive();
        }
        _ => pr_debug!("vchiq: control message {:?}\n", ty),
    }
}

fn bulk_done(
    core: &VchiqState,
    inner: &mut Inner,
    handle: u32,
    dir: BulkDir,
    cookie: u32,
    result: BulkResult,
) -> Option<Delivery> {
    let cls = core.platform.cache_line_size();
    let frags = core.frags;
    let e = inner.bulks.get(cookie)?;
    let (outcome, actual) = match result {
        BulkResult::Done(n) => (Outcome::Done(n), Some(n)),
        BulkResult::Aborted => (Outcome::Aborted, None),
    };
    e.outcome = outcome;
    let frag = e
        .transfer
        .take()
        .and_then(|t| t.finish(actual, &frags, cls));
    let (mode, client, userdata) = (e.mode, e.client, e.userdata);
    if let Some(n) = frag {
        inner.bulks.free_fragment(n);
    }
    match outcome {
        Outcome::Done(n) => {
            inner.bulks.done = inner.bulks.done.wrapping_add(1);
            inner.bulks.bytes = inner.bulks.bytes.wrapping_add(u64::from(n));
        }
        _ => inner.bulks.aborted = inner.bulks.aborted.wrapping_add(1),
    }
    core.changed.notify_all();
    if mode == Mode::Blocking {
        // The waiter collects the entry.
        return None;
    }
    let _ = inner.bulks.take(cookie);
    let client = client.filter(|_| mode == Mode::Callback)?;
    let reason = match (dir, outcome) {
        (BulkDir::Transmit, Outcome::Done(_)) => Reason::BulkTransmitDone,
        (BulkDir::Receive, Outcome::Done(_)) => Reason::BulkReceiveDone,
        (BulkDir::Transmit, _) => Reason::BulkTransmitAborted,
        (BulkDir::Receive, _) => Reason::BulkReceiveAborted,
    };
    Some(Delivery {
        client,
        reason,
        header: core::ptr::null_mut(),
        handle,
        cb_data: userdata,
        conn: 0,
    })
}

/// The callbacks of one batch, taken from the engine under one lock.
struct Batch {
    deliveries: [Option<Delivery>; BATCH],
    /// Every poll of the batch gave an output: the engine may have more.
    more: bool,
}

impl Batch {
    /// The callbacks to make, in the engine's order.
    fn iter(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries.iter().flatten()
    }

    fn is_empty(&self) -> bool {
        self.deliveries.iter().all(Option::is_none)
    }
}

/// Drains the engine's outputs, the slot handler's and the sync slot's (they share one output
/// queue), delivering callbacks without the lock.
///
/// Only the slot handler thread runs this: it is the one thread that calls clients, so a
/// service's callbacks run one at a time and in the engine's order, and a close that waited
/// for SERVICE_CLOSED knows no callback of its service is still running.
fn pump(core: &VchiqState) {
    loop {
        let Some(batch) = take_batch(core) else {
            return;
        };
        if !batch.is_empty() {
            for d in batch.iter() {
                d.call();
            }
            finish_batch(core, &batch);
        }
        if !batch.more {
            return;
        }
    }
}

/// Polls up to [`BATCH`] outputs under the engine lock and handles them; `None` once the
/// device is dead. A batch with callbacks counts as in delivery (`Inner::delivering`) until
/// [`finish_batch`].
fn take_batch(core: &VchiqState) -> Option<Batch> {
    let mut inner = core.inner.lock();
    if inner.dead {
        return None;
    }
    inner.engine.ack(Wait::Trigger);
    retry_orphans(&mut inner);
    let mut batch = Batch {
        deliveries: [None; BATCH],
        more: false,
    };
    let looked_at_sync = fill(core, &mut inner, &mut batch);
    core.flush_doorbell(&mut inner);
    if !batch.is_empty() {
        inner.delivering += 1;
    }
    if looked_at_sync {
        inner.sync_looks = inner.sync_looks.wrapping_add(1);
        core.sync_parsed.notify_all();
    }
    Some(batch)
}

/// Fills `batch` with the callbacks of the engine's next outputs; returns whether the sync
/// slot was looked at.
fn fill(core: &VchiqState, inner: &mut Inner, batch: &mut Batch) -> bool {
    let mut looked_at_sync = false;
    let mut more = false;
    for slot in batch.deliveries.iter_mut() {
        match poll_next(inner, &mut looked_at_sync) {
            Ok(Some(o)) => {
                more = true;
                *slot = handle_output(core, inner, o);
            }
            Ok(None) | Err(EngineError::WouldBlock) => {
                more = false;
                break;
            }
            Err(e) => {
                core.counters.poll_errors.add(1, Relaxed);
                dev_err_ratelimited(core, e);
                more = false;
                break;
            }
        }
    }
    batch.more = more;
    looked_at_sync
}

/// The engine's next output: from the slots, else from the sync slot (which sets
/// `looked_at_sync`).
fn poll_next(
    inner: &mut Inner,
    looked_at_sync: &mut bool,
) -> core::result::Result<Option<Output>, EngineError> {
    match inner.engine.poll() {
        Ok(None) => {
            *looked_at_sync = true;
            inner.engine.poll_sync()
        }
        r => r,
    }
}

/// Ends a batch whose callbacks have all run: reaps the services it closed and wakes the
/// waiters.
fn finish_batch(core: &VchiqState, batch: &Batch) {
    let mut inner = core.inner.lock();
    inner.delivering = inner.delivering.saturating_sub(1);
    for d in batch.iter().filter(|d| d.reason == Reason::ServiceClosed) {
        reap_closed(&mut inner, d);
    }
    core.flush_doorbell(&mut inner);
    // Also for `VchiqState::wait_delivered`.
    core.changed.notify_all();
}

/// After the SERVICE_CLOSED callback `d` has run: gives back what the client still holds of
/// the closed connection and forgets the service unless it lives on.
fn reap_closed(inner: &mut Inner, d: &Delivery) {
    let h = Handle(d.handle);
    // Every callback of the batch before SERVICE_CLOSED has run: what the client still holds
    // of the service goes back to the VideoCore now (not after unbind, when the slots may be
    // freed memory).
    let held = inner.services.take_held_of(h, d.conn);
    if !inner.dead {
        for m in held {
            let _ = inner.engine.release(&m);
        }
    }
    // A service the VideoCore opened again in this batch (a newer connection: its
    // SERVICE_OPENED followed) stays, whatever happened to it since (a removal running now
    // makes it a client that closes the new connection); so does a server whose close put it
    // back to listening. Anything else is forgotten now that its client has seen the close.
    let listens = inner.engine.service_state(h) == Ok(SrvState::Listening);
    match inner.services.get(h) {
        Some(e) if e.conn != d.conn => {}
        Some(e) if e.server && listens => e.phase = Phase::Listening,
        _ => inner.services.remove(h),
    }
}

/// Retries the CLOSE of services nobody waits for (`Inner::orphans`).
fn retry_orphans(inner: &mut Inner) {
    let mut i = 0;
    while let Some(&h) = inner.orphans.get(i) {
        if inner.engine.close_service(h) == Err(EngineError::WouldBlock) {
            i += 1;
        } else {
            let _ = inner.orphans.remove(i);
        }
    }
}

fn dev_err_ratelimited(core: &VchiqState, e: EngineError) {
    let n = core.counters.poll_errors.load(Relaxed);
    // A broken peer must not flood the log (`engine::log_nth`).
    if log_nth(n) {
        dev_err!(
            core.dev,
            "protocol error from the VideoCore: {:?} (#{})\n",
            e,
            n
        );
    }
}

/// The slot handler.
pub(crate) struct SlotThread(pub(crate) Arc<VchiqState>);

impl ThreadBody for SlotThread {
    fn run(&self) {
        while self.0.wait_event(Wait::Trigger, true) {
            pump(&self.0);
        }
    }
}

/// The recycler.
pub(crate) struct RecycleThread(pub(crate) Arc<VchiqState>);

impl ThreadBody for RecycleThread {
    fn run(&self) {
        let core = &self.0;
        while core.wait_event(Wait::Recycle, false) {
            let mut inner = core.inner.lock();
            if inner.dead {
                return;
            }
            inner.engine.ack(Wait::Recycle);
            match inner.engine.process_recycle() {
                Ok(n) if n > 0 => {
                    core.changed.notify_all();
                    drop(inner);
                    // A reply the slot handler could not send may go now.
                    core.kick();
                }
                Ok(_) => {}
                Err(e) => {
                    core.counters.poll_errors.add(1, Relaxed);
                    dev_err_ratelimited(core, e);
                }
            }
        }
    }
}

/// The sync-trigger waiter: it hands the VideoCore's sync-slot messages to the slot handler,
/// which parses and delivers them with the rest ([`pump`]). It never pops the engine's
/// output queue itself: two threads popping one queue delivered one service's callbacks
/// concurrently and out of order.
pub(crate) struct SyncThread(pub(crate) Arc<VchiqState>);

impl ThreadBody for SyncThread {
    fn run(&self) {
        let core = &self.0;
        while core.wait_event(Wait::SyncTrigger, false) {
            let mut inner = core.inner.lock();
            if inner.dead {
                return;
            }
            // Until the slot handler has parsed the sync slot, the event keeps saying there
            // is work: wait for the slot handler's look at it (`sync_parsed`) rather than spin
            // (a batch of callbacks may take long). Each round hands the event over again: a
            // message the VideoCore sent after the slot handler's last look fires it without a
            // doorbell (we were not armed), and nothing else would make the slot handler look
            // again (the VideoCore's next sync send then waited for an unrelated wake-up, for
            // seconds).
            while !inner.dead && inner.engine.has_work(Wait::SyncTrigger) && !core.stopping() {
                inner.engine.ack(Wait::SyncTrigger);
                let looks = inner.sync_looks;
                drop(inner);
                core.kick();
                inner = core.inner.lock();
                // The slot handler's next look (it may have been already); the timeout only
                // bounds a wait that a stop or an unbind would otherwise prolong.
                if inner.sync_looks == looks && !inner.dead {
                    let _ = core
                        .sync_parsed
                        .wait_interruptible_timeout(&mut inner, msecs_to_jiffies(SYNC_RECHECK_MS));
                }
            }
        }
    }
}

/// The keepalive thread: keeps the VideoCore's use count (`VchiqState::keepalive`).
pub(crate) struct KeepaliveThread(pub(crate) Arc<VchiqState>);

impl ThreadBody for KeepaliveThread {
    fn run(&self) {
        let core = &self.0;
        let k = &core.keepalive;
        while core.wait_keepalive() {
            // Releases first, then uses: every release taken here follows a use taken now or
            // before, so releases never outnumber uses.
            let releases = k.releases.xchg(0, Relaxed);
            let uses = k.uses.xchg(0, Relaxed);
            for _ in 0..uses {
                k.peer_use_count.add(1, Relaxed);
                if send_use_ack(core).is_err() {
                    // The device is gone (or the thread is stopping): nobody to ack.
                    return;
                }
                k.acks.add(1, Relaxed);
            }
            for _ in 0..releases {
                release_use(core);
            }
        }
    }
}

/// Gives back one of the VideoCore's uses (a REMOTE_RELEASE). One without a use is the
/// VideoCore's protocol error: counted and logged, the count stays 0.
fn release_use(core: &VchiqState) {
    let k = &core.keepalive;
    // Only the keepalive thread changes the count, so load and store do not race.
    let n = k.peer_use_count.load(Relaxed);
    if n != 0 {
        k.peer_use_count.store(n - 1, Relaxed);
        return;
    }
    let bad = k.bad_releases.fetch_add(1u32, Relaxed).wrapping_add(1);
    if log_nth(bad) {
        dev_err!(
            core.dev,
            "protocol error from the VideoCore: REMOTE_RELEASE without a use (#{})\n",
            bad
        );
    }
}

/// Sends one REMOTE_USE_ACTIVE, waiting for slot space. Fails once the device is dead or the
/// threads are stopping.
fn send_use_ack(core: &VchiqState) -> Result {
    loop {
        let inner = core.inner.lock();
        let r = core.wait_changed(inner, |i| {
            match i.engine.send_control(MsgType::RemoteUseActive) {
                Ok(()) => Ok(true),
                Err(EngineError::WouldBlock) => Ok(false),
                Err(e) => Err(to_kernel_err(e)),
            }
        });
        match r {
            Ok(mut inner) => {
                core.flush_doorbell(&mut inner);
                return Ok(());
            }
            // No slot for 5 s (counted in `timeouts`): keep waiting unless told to stop.
            Err(e) if e == ETIMEDOUT && !core.stopping() => continue,
            Err(e) => return Err(e),
        }
    }
}
