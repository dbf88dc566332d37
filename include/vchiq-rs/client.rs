// SPDX-License-Identifier: GPL-2.0

//! The typed Rust service API of vchiq-core, for client modules.
//!
//! Rust modules cannot share crates, so vchiq-core exports a C ABI
//! (`include/vchiq-rs/vchiq.h`) and every Rust client compiles this one file into its own
//! crate (`#[path = "../include/vchiq-rs/client.rs"] mod vchiq;`). It wraps the C ABI in safe
//! types:
//!
//! * [`Instance`]: a session on one VideoCore, found through the client's auxiliary device;
//!   dropping it closes its services.
//! * [`Service<H>`]: an open service; `H: `[`Handler`] receives messages, bulk completions and
//!   the close. Dropping it closes the service.
//! * [`Message`]: a received message, released when dropped.
//!
//! Bulk buffers must stay valid until the transfer ends; the blocking calls borrow them for
//! exactly that long, and the callback/no-callback calls take a `'static` buffer owner.

#![allow(dead_code)]

use core::ffi::{c_int, c_short, c_uint, c_void};
use core::marker::PhantomData;
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// `enum vchiq_reason`.
const REASON_CLOSED: c_int = 1;
const REASON_MESSAGE: c_int = 2;
const REASON_TX_DONE: c_int = 3;
const REASON_RX_DONE: c_int = 4;
const REASON_TX_ABORTED: c_int = 5;
const REASON_RX_ABORTED: c_int = 6;

/// `enum vchiq_bulk_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum BulkMode {
    /// Completion through [`Handler::bulk_done`].
    Callback = 0,
    /// The call returns when the transfer is done.
    Blocking = 1,
    /// No notification.
    NoCallback = 2,
}

/// The C ABI of vchiq-core, for clients that need more than the typed wrapper (vchiq-dev
/// acts for user space: user-memory bulks, messages kept past their callback).
pub(crate) mod ffi {
    use core::ffi::{c_int, c_short, c_uint, c_void};
    use kernel::bindings;

    /// `vchiq_callback_t`.
    pub(crate) type RawCallback = unsafe extern "C" fn(
        *mut c_void,
        c_int,
        *mut c_void,
        c_uint,
        *mut c_void,
        *mut c_void,
    ) -> c_int;

    /// `struct vchiq_service_params_kernel`.
    #[repr(C)]
    pub(crate) struct ServiceParamsKernel {
        pub(crate) fourcc: c_int,
        pub(crate) callback: Option<RawCallback>,
        pub(crate) userdata: *mut c_void,
        pub(crate) version: c_short,
        pub(crate) version_min: c_short,
    }

    /// `struct vchiq_header`.
    #[repr(C)]
    pub(crate) struct RawHeader {
        pub(crate) msgid: i32,
        pub(crate) size: u32,
    }

    // Kernel structs appear only behind pointers, which are FFI-safe whatever bindgen made of
    // them.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(crate) fn vchiq_rs_aux_state(adev: *mut bindings::auxiliary_device) -> *mut c_void;
        pub(crate) fn vchiq_initialise(state: *mut c_void, pinstance: *mut *mut c_void) -> c_int;
        pub(crate) fn vchiq_shutdown(instance: *mut c_void) -> c_int;
        pub(crate) fn vchiq_connect(instance: *mut c_void) -> c_int;
        pub(crate) fn vchiq_open_service(
            instance: *mut c_void,
            params: *const ServiceParamsKernel,
            pservice: *mut c_uint,
        ) -> c_int;
        pub(crate) fn vchiq_add_service(
            instance: *mut c_void,
            params: *const ServiceParamsKernel,
            pservice: *mut c_uint,
        ) -> c_int;
        pub(crate) fn vchiq_close_service(instance: *mut c_void, service: c_uint) -> c_int;
        pub(crate) fn vchiq_remove_service(instance: *mut c_void, service: c_uint) -> c_int;
        pub(crate) fn vchiq_use_service(instance: *mut c_void, service: c_uint) -> c_int;
        pub(crate) fn vchiq_release_service(instance: *mut c_void, service: c_uint) -> c_int;
        pub(crate) fn vchiq_release_message(
            instance: *mut c_void,
            service: c_uint,
            header: *mut c_void,
        );
        pub(crate) fn vchiq_queue_kernel_message(
            instance: *mut c_void,
            handle: c_uint,
            data: *mut c_void,
            size: c_uint,
        ) -> c_int;
        pub(crate) fn vchiq_bulk_transmit(
            instance: *mut c_void,
            service: c_uint,
            data: *const c_void,
            size: c_uint,
            userdata: *mut c_void,
            mode: c_int,
        ) -> c_int;
        pub(crate) fn vchiq_bulk_receive(
            instance: *mut c_void,
            service: c_uint,
            data: *mut c_void,
            size: c_uint,
            userdata: *mut c_void,
            mode: c_int,
        ) -> c_int;
        pub(crate) fn vchiq_get_service_userdata(
            instance: *mut c_void,
            service: c_uint,
        ) -> *mut c_void;
        pub(crate) fn vchiq_get_peer_version(
            instance: *mut c_void,
            handle: c_uint,
            v: *mut c_short,
        ) -> c_int;
        pub(crate) fn vchiq_rs_bulk_user(
            instance: *mut c_void,
            service: c_uint,
            data: *mut c_void,
            size: c_uint,
            userdata: *mut c_void,
            mode: c_int,
            dir: c_int,
            pcookie: *mut u32,
        ) -> c_int;
        pub(crate) fn vchiq_rs_bulk_wait(instance: *mut c_void, cookie: u32) -> c_int;
        pub(crate) fn vchiq_rs_bulk_forget(instance: *mut c_void, cookie: u32);
        pub(crate) fn vchiq_rs_set_quota(
            instance: *mut c_void,
            service: c_uint,
            slot_quota: u16,
            msg_quota: u16,
        ) -> c_int;
        pub(crate) fn vchiq_rs_client_id(instance: *mut c_void, service: c_uint) -> c_int;
        pub(crate) fn vchiq_rs_take_message(
            instance: *mut c_void,
            service: c_uint,
            header: *mut c_void,
            buf: *mut c_void,
            len: c_uint,
        ) -> c_int;
    }
}

use ffi::*;

fn check(ret: c_int) -> Result {
    kernel::error::to_result(ret)
}

/// The largest message.
pub(crate) const MAX_MSG_SIZE: usize = 4088;

/// Makes a fourcc from four characters, as the firmware does.
pub(crate) const fn fourcc(s: &[u8; 4]) -> u32 {
    (s[0] as u32) << 24 | (s[1] as u32) << 16 | (s[2] as u32) << 8 | s[3] as u32
}

/// What a service's owner is told. Called from vchiq-core's slot handler thread; may sleep
/// and may send, but must not close its own service.
pub(crate) trait Handler: Send + Sync + 'static {
    /// A message arrived; it is released when `msg` drops.
    fn message(&self, svc: ServiceRef<'_>, msg: Message<'_>);
    /// A callback-mode bulk ended (`aborted`: without moving data).
    fn bulk_done(&self, _svc: ServiceRef<'_>, _userdata: usize, _receive: bool, _aborted: bool) {}
    /// The service closed (either side).
    fn closed(&self, _svc: ServiceRef<'_>) {}
}

/// A session with the VideoCore.
///
/// # Invariants
///
/// `raw` is an instance from `vchiq_initialise`, shut down only in `Drop`.
pub(crate) struct Instance {
    raw: *mut c_void,
}

// SAFETY: the C API may be called from any thread.
unsafe impl Send for Instance {}
// SAFETY: as above; vchiq-core serialises internally.
unsafe impl Sync for Instance {}

impl Instance {
    /// Opens a session on the VideoCore behind `adev` (one of vchiq-core's auxiliary
    /// devices) and connects.
    ///
    /// # Safety
    ///
    /// `adev` must be a bound auxiliary device created by vchiq-core, and the instance must
    /// be dropped before the device's remove() returns.
    pub(crate) unsafe fn new(adev: *mut bindings::auxiliary_device) -> Result<Self> {
        // SAFETY: `adev` is a live vchiq-core auxiliary device (caller).
        let state = unsafe { vchiq_rs_aux_state(adev) };
        if state.is_null() {
            return Err(ENODEV);
        }
        let mut raw = core::ptr::null_mut();
        // SAFETY: `state` is the device's state; `raw` is valid for a write.
        check(unsafe { vchiq_initialise(state, &mut raw) })?;
        let inst = Self { raw };
        // SAFETY: `raw` is a live instance.
        check(unsafe { vchiq_connect(inst.raw) })?;
        Ok(inst)
    }

    /// Opens service `fourcc` with versions (`version`, `version_min`).
    pub(crate) fn open<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
    ) -> Result<Service<'_, H>> {
        let userdata = handler.into_foreign();
        let params = ServiceParamsKernel {
            fourcc: fourcc as c_int,
            callback: Some(trampoline::<H>),
            userdata,
            version,
            version_min,
        };
        let mut handle: c_uint = 0;
        // SAFETY: `params` and `handle` are valid for the call; the trampoline matches
        // `userdata`'s type.
        let r = check(unsafe { vchiq_open_service(self.raw, &params, &mut handle) });
        if let Err(e) = r {
            // SAFETY: the open failed, so vchiq-core kept no copy of `userdata`.
            drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign(userdata) });
            return Err(e);
        }
        Ok(Service {
            svc: ServiceRef {
                instance: self.raw,
                handle,
                _p: PhantomData,
            },
            userdata,
            _h: PhantomData,
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `raw` is live; it is not used afterwards.
        unsafe { vchiq_shutdown(self.raw) };
    }
}

/// A borrowed view of an open service, usable from its callbacks.
#[derive(Clone, Copy)]
pub(crate) struct ServiceRef<'a> {
    instance: *mut c_void,
    handle: c_uint,
    _p: PhantomData<&'a Instance>,
}

impl ServiceRef<'_> {
    /// The service handle.
    pub(crate) fn handle(&self) -> u32 {
        self.handle
    }

    /// Sends a message made of `parts` (at most [`MAX_MSG_SIZE`] bytes in all).
    pub(crate) fn queue(&self, parts: &[&[u8]]) -> Result {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > MAX_MSG_SIZE {
            return Err(EINVAL);
        }
        if let [one] = parts {
            // SAFETY: `one` is valid for its length for the call.
            return check(unsafe {
                vchiq_queue_kernel_message(
                    self.instance,
                    self.handle,
                    one.as_ptr().cast_mut().cast(),
                    one.len() as c_uint,
                )
            });
        }
        let mut buf = KVec::with_capacity(total, GFP_KERNEL)?;
        for p in parts {
            buf.extend_from_slice(p, GFP_KERNEL)?;
        }
        // SAFETY: as above.
        check(unsafe {
            vchiq_queue_kernel_message(
                self.instance,
                self.handle,
                buf.as_mut_ptr().cast(),
                total as c_uint,
            )
        })
    }

    /// Sends `buf` and waits until the VideoCore has it.
    pub(crate) fn bulk_transmit_blocking(&self, buf: &[u8]) -> Result {
        // SAFETY: `buf` is borrowed until the blocking transfer ends; the VideoCore only
        // reads it.
        unsafe { self.bulk_blocking(buf.as_ptr().cast_mut(), buf.len(), false) }
    }

    /// Receives into `buf` and waits until it is filled.
    pub(crate) fn bulk_receive_blocking(&self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is borrowed mutably until the blocking transfer ends.
        unsafe { self.bulk_blocking(buf.as_mut_ptr(), buf.len(), true) }
    }

    /// A blocking transfer of `len` bytes at `buf`.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for `len` bytes (and unaliased for a receive) until the call
    /// returns.
    unsafe fn bulk_blocking(&self, buf: *mut u8, len: usize, receive: bool) -> Result {
        let len = c_uint::try_from(len).map_err(|_| EINVAL)?;
        let (ud, mode) = (core::ptr::null_mut(), BulkMode::Blocking as c_int);
        // SAFETY: per the function's contract; the call returns when the transfer ended.
        check(unsafe {
            if receive {
                vchiq_bulk_receive(self.instance, self.handle, buf.cast(), len, ud, mode)
            } else {
                vchiq_bulk_transmit(self.instance, self.handle, buf.cast(), len, ud, mode)
            }
        })
    }

    /// Queues a transfer that reports through [`Handler::bulk_done`] (or not at all).
    ///
    /// # Safety
    ///
    /// `buf` must stay valid, and for a receive unaliased, until the transfer ends (its
    /// callback, or the service's close).
    pub(crate) unsafe fn bulk_async(
        &self,
        buf: *mut u8,
        len: usize,
        receive: bool,
        userdata: usize,
        mode: BulkMode,
    ) -> Result {
        if mode == BulkMode::Blocking {
            return Err(EINVAL);
        }
        let len = c_uint::try_from(len).map_err(|_| EINVAL)?;
        let ud = userdata as *mut c_void;
        // SAFETY: per the function's contract.
        check(unsafe {
            if receive {
                vchiq_bulk_receive(
                    self.instance,
                    self.handle,
                    buf.cast(),
                    len,
                    ud,
                    mode as c_int,
                )
            } else {
                vchiq_bulk_transmit(
                    self.instance,
                    self.handle,
                    buf.cast(),
                    len,
                    ud,
                    mode as c_int,
                )
            }
        })
    }

    /// Takes (`true`) or drops a use count.
    pub(crate) fn set_use(&self, up: bool) -> Result {
        // SAFETY: valid instance and handle.
        check(unsafe {
            if up {
                vchiq_use_service(self.instance, self.handle)
            } else {
                vchiq_release_service(self.instance, self.handle)
            }
        })
    }

    /// The version the VideoCore's service announced.
    pub(crate) fn peer_version(&self) -> Result<i16> {
        let mut v: c_short = 0;
        // SAFETY: `v` is valid for a write.
        check(unsafe { vchiq_get_peer_version(self.instance, self.handle, &mut v) })?;
        Ok(v)
    }
}

/// An open service; closed when dropped.
pub(crate) struct Service<'a, H: Handler> {
    svc: ServiceRef<'a>,
    userdata: *mut c_void,
    _h: PhantomData<Arc<H>>,
}

// SAFETY: see `Instance`.
unsafe impl<H: Handler> Send for Service<'_, H> {}
// SAFETY: see `Instance`.
unsafe impl<H: Handler> Sync for Service<'_, H> {}

impl<'a, H: Handler> Service<'a, H> {
    /// The borrowed view.
    pub(crate) fn get(&self) -> ServiceRef<'a> {
        self.svc
    }

    /// Closes the service, reporting the close's result.
    pub(crate) fn close(self) -> Result {
        let r = self.close_inner();
        core::mem::forget(self);
        r
    }

    fn close_inner(&self) -> Result {
        // SAFETY: valid instance and handle.
        let r = check(unsafe { vchiq_close_service(self.svc.instance, self.svc.handle) });
        match r {
            Ok(()) | Err(ESHUTDOWN) | Err(EINVAL) => {
                // SAFETY: after a completed close, with the device gone, or for a service the
                // VideoCore already closed (the handle is unknown: EINVAL), no callback runs
                // any more: vchiq-core delivers SERVICE_CLOSED before it forgets a service.
                drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign(self.userdata) })
            }
            // The VideoCore did not confirm the close: callbacks may still come, so the
            // handler must outlive them; it is leaked.
            Err(_) => pr_warn!("vchiq: close failed; leaking the service's handler\n"),
        }
        r
    }
}

impl<H: Handler> Drop for Service<'_, H> {
    fn drop(&mut self) {
        let _ = self.close_inner();
    }
}

/// A received message; released when dropped.
pub(crate) struct Message<'a> {
    svc: ServiceRef<'a>,
    header: *mut RawHeader,
}

impl Message<'_> {
    /// The payload.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: vchiq-core hands out a header in slot memory that stays valid and unchanged
        // until the message is released; the payload follows the 8-byte header.
        unsafe {
            let size = (*self.header).size as usize;
            core::slice::from_raw_parts(self.header.cast::<u8>().add(8), size.min(MAX_MSG_SIZE))
        }
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        // SAFETY: the message was delivered to this service and is released once.
        unsafe { vchiq_release_message(self.svc.instance, self.svc.handle, self.header.cast()) };
    }
}

/// The service callback handed to vchiq-core.
///
/// # Safety
///
/// Called by vchiq-core only, with an instance and the handle of a service opened by
/// [`Instance::open`] with this `H`.
unsafe extern "C" fn trampoline<H: Handler>(
    instance: *mut c_void,
    reason: c_int,
    header: *mut c_void,
    handle: c_uint,
    cb_data: *mut c_void,
    _cb_userdata: *mut c_void,
) -> c_int {
    // SAFETY: vchiq-core calls back with the instance and handle of an open service.
    let ud = unsafe { vchiq_get_service_userdata(instance, handle) };
    if ud.is_null() {
        return 0;
    }
    // SAFETY: the service's user data is the `Arc<H>` from `Instance::open`, alive until the
    // service is closed, which waits for this callback.
    let h: ArcBorrow<'_, H> = unsafe { <Arc<H> as ForeignOwnable>::borrow(ud) };
    let svc = ServiceRef {
        instance,
        handle,
        _p: PhantomData,
    };
    match reason {
        REASON_MESSAGE if !header.is_null() => h.message(
            svc,
            Message {
                svc,
                header: header.cast(),
            },
        ),
        REASON_CLOSED => h.closed(svc),
        REASON_TX_DONE => h.bulk_done(svc, cb_data as usize, false, false),
        REASON_RX_DONE => h.bulk_done(svc, cb_data as usize, true, false),
        REASON_TX_ABORTED => h.bulk_done(svc, cb_data as usize, false, true),
        REASON_RX_ABORTED => h.bulk_done(svc, cb_data as usize, true, true),
        _ => {}
    }
    0
}
