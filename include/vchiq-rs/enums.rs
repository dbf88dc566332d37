// SPDX-License-Identifier: GPL-2.0

//! The enums of the C ABI (`vchiq.h`) as Rust types, defined once: vchiq-core compiles this
//! file as `crate::enums` and every client as part of `client.rs`. The values come from the
//! header through the generated bindings (`super::ffi`), so a changed value in `vchiq.h`
//! changes both sides, and a removed one fails the build of both.

use super::ffi;

/// `enum vchiq_reason`, with the values of `vchiq.h` (which user space sees too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Reason {
    /// The VideoCore opened a server service.
    ServiceOpened = ffi::vchiq_reason_VCHIQ_SERVICE_OPENED,
    /// The service closed.
    ServiceClosed = ffi::vchiq_reason_VCHIQ_SERVICE_CLOSED,
    /// A message arrived.
    MessageAvailable = ffi::vchiq_reason_VCHIQ_MESSAGE_AVAILABLE,
    /// A transmit ended.
    BulkTransmitDone = ffi::vchiq_reason_VCHIQ_BULK_TRANSMIT_DONE,
    /// A receive ended.
    BulkReceiveDone = ffi::vchiq_reason_VCHIQ_BULK_RECEIVE_DONE,
    /// A transmit was aborted.
    BulkTransmitAborted = ffi::vchiq_reason_VCHIQ_BULK_TRANSMIT_ABORTED,
    /// A receive was aborted.
    BulkReceiveAborted = ffi::vchiq_reason_VCHIQ_BULK_RECEIVE_ABORTED,
}

impl Reason {
    /// The reason a bulk completion is reported with.
    pub(crate) fn bulk(receive: bool, aborted: bool) -> Self {
        match (receive, aborted) {
            (false, false) => Self::BulkTransmitDone,
            (true, false) => Self::BulkReceiveDone,
            (false, true) => Self::BulkTransmitAborted,
            (true, true) => Self::BulkReceiveAborted,
        }
    }
}

/// `enum vchiq_bulk_mode`, with the values of `vchiq.h` (WAITING is user space's only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum BulkMode {
    /// Completion through the service's callback.
    Callback = ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_CALLBACK,
    /// The call returns when the transfer is done.
    Blocking = ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_BLOCKING,
    /// No notification.
    NoCallback = ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_NOCALLBACK,
}

impl BulkMode {
    /// From the C enum value; `None` for anything else.
    pub(crate) fn from_raw(v: ffi::vchiq_bulk_mode) -> Option<Self> {
        match v {
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_CALLBACK => Some(Self::Callback),
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_BLOCKING => Some(Self::Blocking),
            ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_NOCALLBACK => Some(Self::NoCallback),
            _ => None,
        }
    }
}
