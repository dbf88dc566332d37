// SPDX-License-Identifier: GPL-2.0

//! The protocol threads of one device.
//!
//! * `vchiq-slot/N` parses the VideoCore's messages (trigger event) and calls the clients.
//! * `vchiq-recy/N` takes back the slots the VideoCore has finished with (recycle event) and
//!   wakes senders waiting for slots or quota. It must be separate from the slot handler:
//!   a client callback that blocks for slot space would otherwise wait for itself.
//! * `vchiq-sync/N` receives messages of synchronous services (sync-trigger event).
//!
//! Each sleeps on its own event with the arm/check/sleep protocol of `Core::wait_event` and
//! calls clients without holding the engine lock.

use crate::bulk::{Mode, Outcome};
use crate::engine::{BulkDir, BulkResult, Error as EngineError, Output, Wait};
use crate::services::{Client, Phase, Reason};
use crate::state::{Core, Inner};
use crate::sys::ThreadBody;
use core::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;

/// Outputs handled per engine lock: bounds the time the lock is held.
const BATCH: usize = 16;

/// A callback to make once the engine lock is dropped.
#[derive(Clone, Copy)]
pub(crate) struct Delivery {
    client: Client,
    reason: Reason,
    header: *mut c_void,
    handle: u32,
    cb_data: *mut c_void,
}

impl Delivery {
    fn call(&self) {
        // SAFETY: the client registered this callback with its instance and user data when it
        // opened the service; the C API contract is that they stay valid until the service
        // is closed, which cannot complete before this delivery (closes wait for the
        // `Closed` output, which this thread delivers in order).
        unsafe {
            (self.client.callback)(
                self.client.instance,
                self.reason as i32,
                self.header,
                self.handle,
                self.cb_data,
                core::ptr::null_mut(),
            )
        };
    }
}

/// Handles one output under the engine lock; returns the callback to make, if any.
pub(crate) fn handle_output(core: &Core, inner: &mut Inner, o: Output) -> Option<Delivery> {
    match o {
        Output::Connected => {
            core.changed.notify_all();
            None
        }
        Output::Opened {
            handle,
            peer_version,
            ..
        } => {
            if let Some(e) = inner.services.get(handle) {
                e.phase = Phase::Open;
                e.peer_version = peer_version;
            } else {
                // Nobody waits for it any more (the open timed out): close it again.
                let _ = inner.engine.close_service(handle);
            }
            core.changed.notify_all();
            None
        }
        Output::OpenRejected { handle } => {
            if let Some(e) = inner.services.get(handle) {
                e.phase = Phase::Rejected;
            }
            core.changed.notify_all();
            None
        }
        Output::Data { handle, msg } => {
            let header = msg
                .payload_offset()
                .wrapping_sub(crate::engine::HEADER_SIZE);
            let target = inner.services.get(handle).and_then(|e| {
                (e.phase == Phase::Open).then(|| {
                    e.messages = e.messages.wrapping_add(1);
                    e.client
                })
            });
            let ptr = core.slot_ptr(header);
            match (target, ptr) {
                (Some(client), Some(ptr)) if inner.services.hold(handle, header, msg).is_ok() => {
                    Some(Delivery {
                        client,
                        reason: Reason::MessageAvailable,
                        header: ptr.cast(),
                        handle: handle.0,
                        cb_data: core::ptr::null_mut(),
                    })
                }
                _ => {
                    // No client (closing) or out of memory: nobody will release it.
                    let _ = inner.engine.release(&msg);
                    None
                }
            }
        }
        Output::Closed { handle } => {
            let client = inner.services.get(handle).map(|e| {
                e.phase = Phase::Closed;
                e.client
            });
            for m in inner.services.take_held(handle) {
                let _ = inner.engine.release(&m);
            }
            if client.is_none() {
                core.changed.notify_all();
            }
            // The entry stays until its SERVICE_CLOSED callback has run (`pump` reaps it), so
            // that the callback can still look up the service's user data.
            client.map(|client| Delivery {
                client,
                reason: Reason::ServiceClosed,
                header: core::ptr::null_mut(),
                handle: handle.0,
                cb_data: core::ptr::null_mut(),
            })
        }
        Output::BulkDone {
            handle,
            dir,
            cookie,
            result,
        } => bulk_done(core, inner, handle.0, dir, cookie, result),
        Output::BulkTransfer { .. } => None,
        Output::Control(ty) => {
            pr_debug!("vchiq: control message {:?}\n", ty);
            None
        }
    }
}

fn bulk_done(
    core: &Core,
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
    })
}

/// Drains the engine's outputs for `w` (trigger or sync trigger), delivering callbacks
/// without the lock.
fn pump(core: &Core, w: Wait) {
    loop {
        let mut batch: [Option<Delivery>; BATCH] = [None; BATCH];
        let mut more = false;
        {
            let mut inner = core.inner.lock();
            if inner.dead {
                return;
            }
            inner.engine.ack(w);
            for slot in batch.iter_mut() {
                let r = match w {
                    Wait::SyncTrigger => inner.engine.poll_sync(),
                    _ => inner.engine.poll(),
                };
                match r {
                    Ok(Some(o)) => {
                        more = true;
                        *slot = handle_output(core, &mut inner, o);
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
            core.flush_doorbell(&mut inner);
        }
        let mut closed = false;
        for d in batch.iter().flatten() {
            d.call();
            closed |= d.reason == Reason::ServiceClosed;
        }
        if closed {
            let mut inner = core.inner.lock();
            for d in batch.iter().flatten() {
                if d.reason == Reason::ServiceClosed {
                    inner.services.remove(crate::engine::Handle(d.handle));
                }
            }
            core.changed.notify_all();
        }
        if !more {
            return;
        }
    }
}

fn dev_err_ratelimited(core: &Core, e: EngineError) {
    let n = core.counters.poll_errors.load(Relaxed);
    // The first ten, then every thousandth: a broken peer must not flood the log.
    if n <= 10 || n % 1000 == 0 {
        dev_err!(
            core.dev,
            "protocol error from the VideoCore: {:?} (#{})\n",
            e,
            n
        );
    }
}

/// The slot handler.
pub(crate) struct SlotThread(pub(crate) Arc<Core>);

impl ThreadBody for SlotThread {
    fn run(&self) {
        while self.0.wait_event(Wait::Trigger, true) {
            pump(&self.0, Wait::Trigger);
        }
    }
}

/// The recycler.
pub(crate) struct RecycleThread(pub(crate) Arc<Core>);

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

/// The synchronous-message receiver.
pub(crate) struct SyncThread(pub(crate) Arc<Core>);

impl ThreadBody for SyncThread {
    fn run(&self) {
        while self.0.wait_event(Wait::SyncTrigger, false) {
            pump(&self.0, Wait::SyncTrigger);
        }
    }
}
