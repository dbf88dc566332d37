// SPDX-License-Identifier: GPL-2.0

//! How the VideoCore's callbacks reach a process.
//!
//! vchiq-core calls [`callback`] from its slot handler thread. The callback only records what
//! happened, in the open file's completion queue (and, for "vchi" services, the service's
//! message queue), and wakes the readers: it never sleeps on a process, so one process that
//! stops reading cannot stall the VideoCore's other services (mainline blocks the slot
//! handler when a process's ring of 128 is full). The queues stay bounded all the same:
//! messages are held in slot memory until the process reads them, so the VideoCore's own
//! quotas stop it; bulk completions are bounded by the bulks the process queued.

use crate::file::DevFile;
use crate::vchiq::ffi;
use core::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

/// `enum vchiq_reason`.
pub(crate) const REASON_OPENED: i32 = 0;
pub(crate) const REASON_CLOSED: i32 = 1;
pub(crate) const REASON_MESSAGE: i32 = 2;

/// One completion record, as AWAIT_COMPLETION hands it out.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    /// `enum vchiq_reason`.
    pub(crate) reason: i32,
    /// The service.
    pub(crate) handle: u32,
    /// A message held for the process (its header in slot memory), or 0.
    pub(crate) header: usize,
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
    /// The `KBox<SvcInfo>` vchiq-core holds as the service's user data. It is freed with
    /// this record (or earlier, once vchiq-core has forgotten the service), never by a
    /// callback: records are removed only after vchiq-core's last callback for the service
    /// (its SERVICE_CLOSED, or the file's shutdown, after which no callback comes).
    pub(crate) info: *mut SvcInfo,
    /// A server still registered with vchiq-core: it listens again after a close, so its
    /// record outlives a SERVICE_CLOSED.
    pub(crate) is_server: bool,
    /// Held messages of a vchi service, oldest first (headers in slot memory).
    pub(crate) msgs: KVec<usize>,
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
    pub(crate) fn new(handle: u32, is_vchi: bool, info: *mut SvcInfo, is_server: bool) -> Self {
        Self {
            handle,
            is_vchi,
            info,
            is_server,
            msgs: KVec::new(),
            msg_available_pending: false,
            dequeue_pending: false,
            closed: false,
            close_pending: false,
        }
    }
}

/// What vchiq-core holds as a service's user data, fixed for the service's life (see
/// [`UserService::info`] for when it is freed).
pub(crate) struct SvcInfo {
    /// The file the service belongs to.
    pub(crate) file: Arc<DevFile>,
    /// See [`UserService::is_vchi`].
    pub(crate) is_vchi: bool,
    /// A server service (the VideoCore opens it, maybe several times).
    pub(crate) is_server: bool,
    /// The process's user data for the service, given back in its completion records.
    pub(crate) userdata: u64,
}

/// The service callback given to vchiq-core for every user service.
///
/// # Safety
///
/// Called by vchiq-core only, with the instance and handle of a service opened by
/// [`DevFile`] with a `KBox<SvcInfo>` as its user data.
pub(crate) unsafe extern "C" fn callback(
    instance: *mut c_void,
    reason: c_int,
    header: *mut c_void,
    handle: c_uint,
    cb_data: *mut c_void,
    _cb_userdata: *mut c_void,
) -> c_int {
    // SAFETY: vchiq-core calls back with a live instance and the service's handle.
    let ud = unsafe { ffi::vchiq_get_service_userdata(instance, handle) };
    if ud.is_null() {
        if reason == REASON_MESSAGE && !header.is_null() {
            // SAFETY: the message was delivered to this service; nobody else will release it.
            unsafe { ffi::vchiq_release_message(instance, handle, header) };
        }
        return 0;
    }
    // SAFETY: the user data is the `KBox<SvcInfo>` given at open, freed only after the
    // service's last callback (`UserService::info`).
    let info = unsafe { &*ud.cast::<SvcInfo>() };
    info.file
        .deliver(info, reason, header as usize, handle, cb_data as u64);
    0
}
