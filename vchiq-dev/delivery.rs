// SPDX-License-Identifier: GPL-2.0

//! How the VideoCore's callbacks reach a process.
//!
//! vchiq-core calls a service's [`SvcInfo`] (its [`Handler`]) from its slot handler thread.
//! The handler only records what happened, in the open file's completion queue (and, for
//! "vchi" services, the service's message queue), and wakes the readers: it never sleeps on a
//! process, so one process that stops reading cannot stall the VideoCore's other services
//! (mainline blocks the slot handler when a process's ring of 128 is full). The queues stay
//! bounded all the same: messages are held in slot memory until the process reads them, so
//! the VideoCore's own quotas stop it; bulk completions are bounded by the bulks the process
//! queued.

use crate::vchiq::{Handler, KeptMessage, Message, Reason, ServiceRef};
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};

/// One completion record, as AWAIT_COMPLETION hands it out.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub(crate) reason: Reason,
    /// The service.
    pub(crate) handle: u32,
    /// A message held for the process, to be copied into one of its buffers.
    pub(crate) msg: Option<KeptMessage>,
    /// The service's user data (a user-space value).
    pub(crate) service_userdata: u64,
    /// The bulk's user data (a user-space value).
    pub(crate) cb_userdata: u64,
}

/// A service of the file, as the ioctls see it.
pub(crate) struct UserService {
    /// vchiq-core's handle.
    pub(crate) handle: u32,
    /// Messages are dequeued with DEQUEUE_MESSAGE, not delivered as completions.
    pub(crate) is_vchi: bool,
    /// A server still registered with vchiq-core: it listens again after a close, so its
    /// record outlives a SERVICE_CLOSED.
    pub(crate) is_server: bool,
    /// Held messages of a vchi service, oldest first.
    pub(crate) msgs: KVec<KeptMessage>,
    /// A MESSAGE_AVAILABLE record for this vchi service is queued and not yet read.
    pub(crate) msg_available_pending: bool,
    /// A blocking DEQUEUE_MESSAGE waits (it takes the next message; no record needed).
    pub(crate) dequeue_pending: bool,
    /// The service has closed (either side).
    pub(crate) closed: bool,
    /// SERVICE_CLOSED was queued and CLOSE_DELIVERED has not confirmed it yet.
    pub(crate) close_pending: bool,
}

impl UserService {
    /// A fresh record.
    pub(crate) fn new(handle: u32, is_vchi: bool, is_server: bool) -> Self {
        Self {
            handle,
            is_vchi,
            is_server,
            msgs: KVec::new(),
            msg_available_pending: false,
            dequeue_pending: false,
            closed: false,
            close_pending: false,
        }
    }
}

/// The mutable state of an open file.
pub(crate) struct FileInner {
    pub(crate) connected: bool,
    /// SHUTDOWN or release: readers return, callbacks drop what they get.
    pub(crate) closing: bool,
    /// LIB_VERSION >= 7: SERVICE_CLOSED waits for CLOSE_DELIVERED.
    pub(crate) use_close_delivered: bool,
    /// Completion records, oldest first.
    pub(crate) records: KVec<Record>,
    pub(crate) services: KVec<UserService>,
    /// Blocking bulks interrupted by a signal: (thread id, cookie), resumed with mode WAITING.
    pub(crate) waiters: KVec<(i32, crate::vchiq::Cookie)>,
    /// Records or messages lost to allocation failures.
    pub(crate) dropped: u32,
}

impl FileInner {
    /// An empty file.
    pub(crate) fn new() -> Self {
        Self {
            connected: false,
            closing: false,
            use_close_delivered: false,
            records: KVec::new(),
            services: KVec::new(),
            waiters: KVec::new(),
            dropped: 0,
        }
    }

    /// The record of service `handle`.
    pub(crate) fn service(&mut self, handle: u32) -> Option<&mut UserService> {
        self.services.iter_mut().find(|s| s.handle == handle)
    }

    /// Forgets a service (its handler is freed by the instance once vchiq-core has too).
    pub(crate) fn remove_service(&mut self, handle: u32) {
        self.services.retain(|s| s.handle != handle);
    }

    /// Counts a record or message lost to an allocation failure.
    pub(crate) fn lose(&mut self) {
        self.dropped = self.dropped.wrapping_add(1);
    }
}

/// What the handlers of a file's services share with its ioctls.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    pub(crate) inner: Mutex<FileInner>,
    /// Signalled on every change of `inner`.
    #[pin]
    pub(crate) changed: CondVar,
}

/// The handler of one user service, fixed for the service's life.
pub(crate) struct SvcInfo {
    /// The file the service belongs to.
    pub(crate) file: Arc<Shared>,
    /// See [`UserService::is_vchi`].
    pub(crate) is_vchi: bool,
    /// A server service (the VideoCore opens it, maybe several times).
    pub(crate) is_server: bool,
    /// The process's user data for the service, given back in its completion records.
    pub(crate) userdata: u64,
}

impl Handler for SvcInfo {
    fn message(&self, svc: ServiceRef<'_>, msg: Message<'_>) {
        self.file
            .deliver(self, Reason::MessageAvailable, svc.handle(), Some(msg), 0);
    }

    fn bulk_done(&self, svc: ServiceRef<'_>, userdata: usize, receive: bool, aborted: bool) {
        let reason = Reason::bulk(receive, aborted);
        self.file
            .deliver(self, reason, svc.handle(), None, userdata as u64);
    }

    fn closed(&self, svc: ServiceRef<'_>) {
        self.file
            .deliver(self, Reason::ServiceClosed, svc.handle(), None, 0);
    }

    fn opened(&self, svc: ServiceRef<'_>) {
        self.file
            .deliver(self, Reason::ServiceOpened, svc.handle(), None, 0);
    }
}

impl Shared {
    /// Records a callback of one of the file's services (slot handler thread; never sleeps
    /// on user space). A message that cannot be queued is released when `msg` drops.
    fn deliver(
        &self,
        info: &SvcInfo,
        reason: Reason,
        handle: u32,
        msg: Option<Message<'_>>,
        cb: u64,
    ) {
        let mut g = self.inner.lock();
        if g.closing || !Self::known(&mut g, info, handle) {
            return;
        }
        let record = Record {
            reason,
            handle,
            msg: None,
            service_userdata: info.userdata,
            cb_userdata: 0,
        };
        let queued = match msg {
            Some(m) => Self::queue_message(&mut g, record, m),
            None => Self::queue_event(&mut g, record, cb),
        };
        if !queued {
            g.lose();
        }
        drop(g);
        self.changed.notify_all();
    }

    /// Whether `handle` has a record, making one if the open's reply raced ahead of
    /// CREATE_SERVICE's bookkeeping.
    fn known(g: &mut FileInner, info: &SvcInfo, handle: u32) -> bool {
        if g.service(handle).is_some() {
            return true;
        }
        let s = UserService::new(handle, info.is_vchi, info.is_server);
        if g.services.push(s, GFP_KERNEL).is_err() {
            g.lose();
            return false;
        }
        true
    }

    /// Queues a message: on the vchi service's queue (with at most one MESSAGE_AVAILABLE
    /// record pending), or as a record. Returns `false` if it was lost (released).
    fn queue_message(g: &mut FileInner, mut record: Record, msg: Message<'_>) -> bool {
        let Some(s) = g.service(record.handle) else {
            return false;
        };
        if !s.is_vchi {
            // Room first: a message that cannot be queued is released (`msg` drops).
            if g.records.reserve(1, GFP_KERNEL).is_err() {
                return false;
            }
            record.msg = Some(msg.keep());
            return Self::push_record(g, record);
        }
        if s.msgs.reserve(1, GFP_KERNEL).is_err() {
            return false;
        }
        // Room was reserved above.
        let _ = s.msgs.push(msg.keep(), GFP_KERNEL);
        if s.dequeue_pending {
            s.dequeue_pending = false;
            return true;
        }
        if s.msg_available_pending {
            return true;
        }
        s.msg_available_pending = true;
        Self::push_record(g, record)
    }

    /// Queues an event record (open, close, bulk); updates the service's state.
    fn queue_event(g: &mut FileInner, mut record: Record, cb: u64) -> bool {
        let use_cd = g.use_close_delivered;
        if let Some(s) = g.service(record.handle) {
            match record.reason {
                Reason::ServiceOpened => s.closed = false,
                Reason::ServiceClosed => {
                    s.closed = true;
                    // vchiq-core released the service's messages before this callback.
                    s.msgs.clear();
                    s.close_pending = use_cd;
                }
                _ => record.cb_userdata = cb,
            }
        }
        Self::push_record(g, record)
    }

    /// Appends `record` (a record with a message only where room was reserved).
    fn push_record(g: &mut FileInner, record: Record) -> bool {
        g.records.push(record, GFP_KERNEL).is_ok()
    }
}
