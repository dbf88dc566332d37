//! The ioctl argument structures of `/dev/vchiq` (vchiq-protocol.md §11.2) in the native
//! layout of the build target: pointers are pointer-sized, so a 64-bit build speaks the
//! native 64-bit ABI and a 32-bit build the 32-bit one (which a 64-bit kernel serves
//! through its compat handler). Sizes and offsets are asserted at compile time for both.

use std::mem::{offset_of, size_of};
use std::os::raw::c_void;
use std::ptr;

/// Completion reasons (`enum vchiq_reason`).
pub mod reason {
    pub const SERVICE_OPENED: i32 = 0;
    pub const SERVICE_CLOSED: i32 = 1;
    pub const MESSAGE_AVAILABLE: i32 = 2;
    pub const BULK_TRANSMIT_DONE: i32 = 3;
    pub const BULK_RECEIVE_DONE: i32 = 4;
    pub const BULK_TRANSMIT_ABORTED: i32 = 5;
    pub const BULK_RECEIVE_ABORTED: i32 = 6;
}

/// Bulk modes (`enum vchiq_bulk_mode`).
pub mod mode {
    pub const CALLBACK: i32 = 0;
    pub const BLOCKING: i32 = 1;
    pub const NOCALLBACK: i32 = 2;
    /// Written back by the kernel: resume the interrupted blocking transfer.
    pub const WAITING: i32 = 3;
}

/// Service options (`enum vchiq_service_option`).
pub mod option {
    pub const AUTOCLOSE: i32 = 0;
    pub const SLOT_QUOTA: i32 = 1;
    pub const MESSAGE_QUOTA: i32 = 2;
    pub const SYNCHRONOUS: i32 = 3;
    pub const TRACE: i32 = 4;
}

/// The message header as copied into a message buffer (`struct vchiq_header`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Header {
    pub msgid: i32,
    pub size: u32,
}

/// `struct vchiq_service_params`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ServiceParams {
    pub fourcc: i32,
    /// Ignored by the kernel.
    pub callback: *const c_void,
    /// Returned as `service_userdata` in completions.
    pub userdata: *mut c_void,
    pub version: i16,
    pub version_min: i16,
}

/// `struct vchiq_create_service`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CreateService {
    pub params: ServiceParams,
    pub is_open: i32,
    pub is_vchi: i32,
    /// Out: the kernel's handle.
    pub handle: u32,
}

/// `struct vchiq_element`: one piece of a scattered message.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Element {
    pub data: *const c_void,
    pub size: u32,
}

/// `struct vchiq_queue_message`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QueueMessage {
    pub handle: u32,
    pub count: u32,
    pub elements: *const Element,
}

/// `struct vchiq_queue_bulk_transfer`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QueueBulkTransfer {
    pub handle: u32,
    pub data: *mut c_void,
    pub size: u32,
    pub userdata: *mut c_void,
    /// In, and out: [`mode::WAITING`] after an interrupted blocking transfer.
    pub mode: i32,
}

/// `struct vchiq_completion_data`: one record written by AWAIT_COMPLETION.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CompletionData {
    pub reason: i32,
    /// NULL, or one of the caller's message buffers (header + payload).
    pub header: *mut Header,
    pub service_userdata: *mut c_void,
    /// The bulk's userdata (`cb_data` in the compat structure).
    pub cb_userdata: *mut c_void,
}

impl Default for CompletionData {
    fn default() -> Self {
        CompletionData {
            reason: -1,
            header: ptr::null_mut(),
            service_userdata: ptr::null_mut(),
            cb_userdata: ptr::null_mut(),
        }
    }
}

/// `struct vchiq_await_completion`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AwaitCompletion {
    pub count: u32,
    pub buf: *mut CompletionData,
    pub msgbufsize: u32,
    /// In/out: buffers are consumed from the end of `msgbufs`.
    pub msgbufcount: u32,
    pub msgbufs: *mut *mut c_void,
}

/// `struct vchiq_dequeue_message`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DequeueMessage {
    pub handle: u32,
    pub blocking: i32,
    pub bufsize: u32,
    pub buf: *mut c_void,
}

/// `struct vchiq_get_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GetConfig {
    pub config_size: u32,
    pub pconfig: *mut Config,
}

/// `struct vchiq_config` (20 bytes on every target).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub max_msg_size: u32,
    pub bulk_threshold: u32,
    pub max_outstanding_bulks: u32,
    pub max_services: u32,
    pub version: i16,
    pub version_min: i16,
}

/// `struct vchiq_set_service_option`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SetServiceOption {
    pub handle: u32,
    pub option: i32,
    pub value: i32,
}

/// `struct vchiq_dump_mem` (defined, never implemented by the kernel).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DumpMem {
    pub virt_addr: *mut c_void,
    pub num_bytes: usize,
}

/// Size of the message header.
pub const HEADER_SIZE: usize = size_of::<Header>();
/// The largest message payload (`VCHIQ_MAX_MSG_SIZE`).
pub const MAX_MSG_SIZE: usize = 4088;
/// The library version this crate speaks (LIB_VERSION argument).
pub const LIB_VERSION: u32 = 8;

// Pointer-size independent.
const _: () = {
    assert!(size_of::<Header>() == 8);
    assert!(size_of::<Config>() == 20);
    assert!(size_of::<SetServiceOption>() == 12);
    assert!(offset_of!(SetServiceOption, option) == 4);
    assert!(offset_of!(SetServiceOption, value) == 8);
    assert!(offset_of!(Config, version) == 16);
    assert!(offset_of!(Config, version_min) == 18);
};

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<ServiceParams>() == 32);
    assert!(offset_of!(ServiceParams, callback) == 8);
    assert!(offset_of!(ServiceParams, userdata) == 16);
    assert!(offset_of!(ServiceParams, version) == 24);
    assert!(offset_of!(ServiceParams, version_min) == 26);
    assert!(size_of::<CreateService>() == 48);
    assert!(offset_of!(CreateService, is_open) == 32);
    assert!(offset_of!(CreateService, is_vchi) == 36);
    assert!(offset_of!(CreateService, handle) == 40);
    assert!(size_of::<Element>() == 16);
    assert!(offset_of!(Element, size) == 8);
    assert!(size_of::<QueueMessage>() == 16);
    assert!(offset_of!(QueueMessage, count) == 4);
    assert!(offset_of!(QueueMessage, elements) == 8);
    assert!(size_of::<QueueBulkTransfer>() == 40);
    assert!(offset_of!(QueueBulkTransfer, data) == 8);
    assert!(offset_of!(QueueBulkTransfer, size) == 16);
    assert!(offset_of!(QueueBulkTransfer, userdata) == 24);
    assert!(offset_of!(QueueBulkTransfer, mode) == 32);
    assert!(size_of::<CompletionData>() == 32);
    assert!(offset_of!(CompletionData, header) == 8);
    assert!(offset_of!(CompletionData, service_userdata) == 16);
    assert!(offset_of!(CompletionData, cb_userdata) == 24);
    assert!(size_of::<AwaitCompletion>() == 32);
    assert!(offset_of!(AwaitCompletion, buf) == 8);
    assert!(offset_of!(AwaitCompletion, msgbufsize) == 16);
    assert!(offset_of!(AwaitCompletion, msgbufcount) == 20);
    assert!(offset_of!(AwaitCompletion, msgbufs) == 24);
    assert!(size_of::<DequeueMessage>() == 24);
    assert!(offset_of!(DequeueMessage, blocking) == 4);
    assert!(offset_of!(DequeueMessage, bufsize) == 8);
    assert!(offset_of!(DequeueMessage, buf) == 16);
    assert!(size_of::<GetConfig>() == 16);
    assert!(offset_of!(GetConfig, pconfig) == 8);
    assert!(size_of::<DumpMem>() == 16);
};

#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(size_of::<ServiceParams>() == 16);
    assert!(offset_of!(ServiceParams, callback) == 4);
    assert!(offset_of!(ServiceParams, userdata) == 8);
    assert!(offset_of!(ServiceParams, version) == 12);
    assert!(offset_of!(ServiceParams, version_min) == 14);
    assert!(size_of::<CreateService>() == 28);
    assert!(offset_of!(CreateService, is_open) == 16);
    assert!(offset_of!(CreateService, is_vchi) == 20);
    assert!(offset_of!(CreateService, handle) == 24);
    assert!(size_of::<Element>() == 8);
    assert!(offset_of!(Element, size) == 4);
    assert!(size_of::<QueueMessage>() == 12);
    assert!(offset_of!(QueueMessage, count) == 4);
    assert!(offset_of!(QueueMessage, elements) == 8);
    assert!(size_of::<QueueBulkTransfer>() == 20);
    assert!(offset_of!(QueueBulkTransfer, data) == 4);
    assert!(offset_of!(QueueBulkTransfer, size) == 8);
    assert!(offset_of!(QueueBulkTransfer, userdata) == 12);
    assert!(offset_of!(QueueBulkTransfer, mode) == 16);
    assert!(size_of::<CompletionData>() == 16);
    assert!(offset_of!(CompletionData, header) == 4);
    assert!(offset_of!(CompletionData, service_userdata) == 8);
    assert!(offset_of!(CompletionData, cb_userdata) == 12);
    assert!(size_of::<AwaitCompletion>() == 20);
    assert!(offset_of!(AwaitCompletion, buf) == 4);
    assert!(offset_of!(AwaitCompletion, msgbufsize) == 8);
    assert!(offset_of!(AwaitCompletion, msgbufcount) == 12);
    assert!(offset_of!(AwaitCompletion, msgbufs) == 16);
    assert!(size_of::<DequeueMessage>() == 16);
    assert!(offset_of!(DequeueMessage, blocking) == 4);
    assert!(offset_of!(DequeueMessage, bufsize) == 8);
    assert!(offset_of!(DequeueMessage, buf) == 12);
    assert!(size_of::<GetConfig>() == 8);
    assert!(offset_of!(GetConfig, pconfig) == 4);
    assert!(size_of::<DumpMem>() == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_sizes_follow_pointer_width() {
        let p = size_of::<usize>();
        assert_eq!(size_of::<CreateService>(), if p == 8 { 48 } else { 28 });
        assert_eq!(size_of::<QueueBulkTransfer>(), if p == 8 { 40 } else { 20 });
        assert_eq!(size_of::<CompletionData>(), 4 * p);
        assert_eq!(size_of::<Config>(), 20);
        assert_eq!(size_of::<Header>(), HEADER_SIZE);
    }

    #[test]
    fn config_offsets() {
        assert_eq!(offset_of!(Config, max_services), 12);
        assert_eq!(offset_of!(Config, max_outstanding_bulks), 8);
    }
}
