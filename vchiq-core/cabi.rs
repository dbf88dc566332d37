// SPDX-License-Identifier: GPL-2.0

//! The service API as C functions, exported by `exports.c` and declared for clients in
//! `include/vchiq-rs/vchiq.h` (source-compatible with mainline's
//! `include/linux/raspberrypi/vchiq.h`). Each function converts raw arguments, checks them
//! and calls the typed API in `api.rs`.
//!
//! Pointers from clients are trusted as far as the C API always trusted them (a kernel client
//! passes the instance it was given); handles, lengths and message headers are validated.

use crate::bulk::Mode;
use crate::engine::{
    BulkDir, Handle, ServiceParams, HEADER_SIZE, MAX_MSG_SIZE, NUM_SERVICE_BULKS, VERSION,
    VERSION_MIN,
};
use crate::ffi::{
    self, vchiq_bulk_mode, vchiq_header, vchiq_instance, vchiq_service_params_kernel, vchiq_state,
};
use crate::services::Client;
use crate::state::VchiqState;
use core::ffi::{c_int, c_short, c_uint, c_void};
use kernel::bindings::auxiliary_device;
use kernel::pr_warn_once;
use kernel::prelude::*;
use kernel::sync::atomic::{Acquire, Atomic, Release};
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// Fails the build unless each exported function has exactly the type of its prototype in
/// `vchiq.h` (generated into [`ffi`]): both arms of the `if` must coerce to one function
/// pointer type. A changed parameter, return type or enum on either side is an error.
macro_rules! matches_header {
    ($($name:ident),* $(,)?) => {
        $(const _: () = {
            let _ = if true { ffi::$name } else { $name };
        };)*
    };
}

matches_header!(
    vchiq_rs_state_get,
    vchiq_rs_state_put,
    vchiq_initialise,
    vchiq_shutdown,
    vchiq_connect,
    vchiq_open_service,
    vchiq_add_service,
    vchiq_remove_service,
    vchiq_close_service,
    vchiq_use_service,
    vchiq_release_service,
    vchiq_msg_queue_push,
    vchiq_release_message,
    vchiq_queue_kernel_message,
    vchiq_bulk_transmit,
    vchiq_bulk_receive,
    vchiq_get_service_userdata,
    vchiq_get_peer_version,
    vchiq_msg_hold,
    vchiq_rs_bulk_user,
    vchiq_rs_bulk_wait,
    vchiq_rs_bulk_forget,
    vchiq_rs_set_quota,
    vchiq_rs_read_message,
    vchiq_rs_take_message,
    vchiq_rs_client_id,
    vchiq_rs_set_client_id,
    vchiq_rs_bulk_kernel_blocking,
    vchiq_rs_queue_message_interruptible,
);

// The message header as the C header defines it is the engine's wire header.
const _: () = {
    assert!(core::mem::size_of::<vchiq_header>() == HEADER_SIZE as usize);
    assert!(core::mem::offset_of!(vchiq_header, msgid) == 0);
    assert!(core::mem::offset_of!(vchiq_header, size) == 4);
    assert!(core::mem::offset_of!(vchiq_header, data) == HEADER_SIZE as usize);
    assert!(ffi::VCHIQ_RS_MAX_MSG_SIZE == MAX_MSG_SIZE);
    assert!(ffi::VCHIQ_RS_NUM_SERVICE_BULKS == NUM_SERVICE_BULKS);
    assert!(ffi::VCHIQ_RS_VERSION == VERSION as u32);
    assert!(ffi::VCHIQ_RS_VERSION_MIN == VERSION_MIN as u32);
};

/// `struct vchiq_instance`: one client's session.
///
/// Clients call into one instance from several threads at once (a blocking bulk wait while
/// the slot thread delivers a callback that sends), so the core only ever makes shared
/// references to it: what changes is atomic.
pub(crate) struct Instance {
    core: Arc<VchiqState>,
    connected: Atomic<bool>,
    /// The client id sent with each OPEN; 0: the opening thread's pid.
    client_id: Atomic<u32>,
}

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Borrows the instance behind a C pointer (shared: see [`Instance`]).
///
/// # Safety
///
/// `instance` must be null or a pointer returned by `vchiq_initialise` and not yet passed to
/// `vchiq_shutdown`.
unsafe fn instance<'a>(instance: *mut vchiq_instance) -> Result<&'a Instance> {
    // SAFETY: a non-null `instance` is a live `KBox<Instance>` (the function's contract); only
    // shared references to it are ever made, so this one aliases no `&mut`.
    unsafe { instance.cast::<Instance>().as_ref() }.ok_or(EINVAL)
}

/// The token the core keeps for an instance (compared and passed back, never dereferenced).
fn token(instance: *mut vchiq_instance) -> *mut c_void {
    instance.cast()
}

/// Takes a reference on the state of a vchiq-core auxiliary device, for
/// [`vchiq_initialise`]; give it back with [`vchiq_rs_state_put`]. Null if `adev` carries no
/// state.
///
/// # Safety
///
/// `adev` must be a live auxiliary device created by vchiq-core (a client calls this from
/// its probe, while the device is bound).
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_state_get(
    adev: *mut auxiliary_device,
) -> *mut vchiq_state {
    if adev.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `adev` is a live vchiq-core auxiliary device (caller's contract).
    let raw = unsafe { ffi::vchiq_rs_aux_state(adev) };
    if raw.is_null() {
        return raw;
    }
    // SAFETY: vchiq-core sets the platform data of its auxiliary devices to the foreign form
    // of an `Arc<VchiqState>` that the device owns until it is released, after the client's
    // remove; the device is live here (caller's contract).
    let state: ArcBorrow<'_, VchiqState> =
        unsafe { <Arc<VchiqState> as ForeignOwnable>::borrow(raw.cast()) };
    Arc::<VchiqState>::from(state).into_foreign().cast()
}

/// Gives back a reference taken by [`vchiq_rs_state_get`].
///
/// # Safety
///
/// `state` must be null or come from `vchiq_rs_state_get`, and is invalid afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_state_put(state: *mut vchiq_state) {
    if !state.is_null() {
        // SAFETY: the reference `vchiq_rs_state_get` made with `into_foreign` (caller's
        // contract), given back once.
        drop(unsafe { <Arc<VchiqState> as ForeignOwnable>::from_foreign(state.cast()) });
    }
}

/// Creates an instance on `state` (from `vchiq_rs_aux_state`).
///
/// # Safety
///
/// `state` must be the state pointer of a live auxiliary device of vchiq-core;
/// `pinstance` must be valid for a write.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_initialise(
    state: *mut vchiq_state,
    pinstance: *mut *mut vchiq_instance,
) -> c_int {
    if state.is_null() || pinstance.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `state` is the foreign form of an `Arc<VchiqState>`: held by the auxiliary
    // device, which is alive while its client calls this, or by the client itself
    // (`vchiq_rs_state_get`) (caller's contract).
    let core: ArcBorrow<'_, VchiqState> =
        unsafe { <Arc<VchiqState> as ForeignOwnable>::borrow(state.cast()) };
    let inst = match KBox::new(
        Instance {
            core: core.into(),
            connected: Atomic::new(false),
            client_id: Atomic::new(0),
        },
        GFP_KERNEL,
    ) {
        Ok(i) => i,
        Err(e) => return Error::from(e).to_errno(),
    };
    // SAFETY: `pinstance` is valid for a write (caller's contract).
    unsafe { *pinstance = KBox::into_raw(inst).cast() };
    0
}

/// Closes the instance's services and frees it.
///
/// # Safety
///
/// `instance` as for [`instance`]; it is invalid afterwards.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_shutdown(instance: *mut vchiq_instance) -> c_int {
    if instance.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `instance` came from `KBox::into_raw` in `vchiq_initialise` (caller's contract).
    let inst = unsafe { KBox::from_raw(instance.cast::<Instance>()) };
    let instance = token(instance);
    // Signals do not cut these waits short (a process being killed closes its instances):
    // every close waits for its SERVICE_CLOSED delivery, or for the reply timeout.
    let mut timed_out = false;
    for h in inst.core.services_of(instance) {
        // A VideoCore that does not answer cannot stop the shutdown: after one close timed
        // out, the others are sent their CLOSE without waiting (so that the VideoCore's
        // listeners are freed when it answers) and detached below.
        if timed_out {
            inst.core.close_nowait(h);
        } else if inst.core.remove_as(h, false) == Err(ETIMEDOUT) {
            timed_out = true;
        }
    }
    if !inst.core.detach(instance) {
        // A callback into this instance may still be running: keep its memory.
        pr_warn!("vchiq: a client callback does not return; leaking its instance\n");
        core::mem::forget(inst);
        return ETIMEDOUT.to_errno();
    }
    0
}

/// Connects the instance (and the device, the first time).
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_connect(instance: *mut vchiq_instance) -> c_int {
    // SAFETY: caller's contract.
    let inst = match unsafe { self::instance(instance) } {
        Ok(i) => i,
        Err(e) => return e.to_errno(),
    };
    let r = inst.core.connect();
    if r.is_ok() {
        inst.connected.store(true, Release);
    }
    errno(r)
}

/// Checks and converts the arguments of `vchiq_open_service` and `vchiq_add_service`.
///
/// # Safety
///
/// `params` must be null or valid for reads.
unsafe fn service_args(
    instance: *mut vchiq_instance,
    params: *const vchiq_service_params_kernel,
    pservice: *mut c_uint,
) -> Result<(ServiceParams, Client)> {
    // SAFETY: caller's contract.
    let p = unsafe { params.as_ref() }.ok_or(EINVAL)?;
    if pservice.is_null() || instance.is_null() {
        return Err(EINVAL);
    }
    if p.callback.is_none() {
        return Err(EINVAL);
    }
    let version = u16::try_from(p.version).map_err(|_| EINVAL)?;
    let version_min = u16::try_from(p.version_min).map_err(|_| EINVAL)?;
    Ok((
        ServiceParams {
            fourcc: p.fourcc as u32,
            version,
            version_min,
        },
        Client {
            callback: p.callback,
            instance: token(instance),
            userdata: p.userdata,
        },
    ))
}

/// Opens a service; `*pservice` receives its handle.
///
/// # Safety
///
/// `instance` as for [`instance`]; `params` and `pservice` valid.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_open_service(
    instance: *mut vchiq_instance,
    params: *const vchiq_service_params_kernel,
    pservice: *mut c_uint,
) -> c_int {
    // SAFETY: caller's contract.
    let (params, client) = match unsafe { service_args(instance, params, pservice) } {
        Ok(v) => v,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: caller's contract.
    let inst = match unsafe { self::instance(instance) } {
        Ok(i) => i,
        Err(e) => return e.to_errno(),
    };
    if !inst.connected.load(Acquire) {
        return ENOTCONN.to_errno();
    }
    let pid = match inst.client_id.load(Acquire) {
        0 => kernel::current!().pid() as u32,
        id => id,
    };
    // SAFETY: `pservice` was checked non-null by `service_args`; valid (caller's contract).
    unsafe { put_handle(pservice, inst.core.open(params, client, pid)) }
}

/// Writes the handle of a new service to `pservice`, or returns the error.
///
/// # Safety
///
/// `pservice` must be valid for a write.
unsafe fn put_handle(pservice: *mut c_uint, r: Result<Handle>) -> c_int {
    match r {
        Ok(h) => {
            // SAFETY: valid for a write (the function's contract).
            unsafe { *pservice = h.0 };
            0
        }
        Err(e) => e.to_errno(),
    }
}

macro_rules! with_instance {
    ($instance:expr, $fail:expr, |$core:ident| $body:expr) => {{
        // SAFETY: the caller's contract of the exported function.
        match unsafe { instance($instance) } {
            Ok(inst) => {
                let $core: &VchiqState = &inst.core;
                $body
            }
            Err(_) => $fail,
        }
    }};
}

/// Closes a service.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_close_service(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.close(Handle(service))
    ))
}

/// Takes a use count on a service.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_use_service(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.use_service(Handle(service), true)
    ))
}

/// Drops a use count.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_release_service(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.use_service(Handle(service), false)
    ))
}

/// Keeps a delivered message for `vchiq_msg_hold`.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_msg_queue_push(
    instance: *mut vchiq_instance,
    handle: c_uint,
    header: *mut vchiq_header,
) {
    with_instance!(instance, (), |core| {
        if core.msg_queue_push(Handle(handle), header.cast()).is_err() {
            pr_warn_once!("vchiq: msg_queue_push of a message the service does not hold\n");
        }
    })
}

/// Releases a delivered message.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_release_message(
    instance: *mut vchiq_instance,
    service: c_uint,
    header: *mut vchiq_header,
) {
    with_instance!(instance, (), |core| {
        if core
            .release_message(Handle(service), header.cast())
            .is_err()
        {
            pr_warn_once!("vchiq: release of a message the service does not hold\n");
        }
    })
}

/// Sends a message of `size` bytes at `data`; no signal ends the wait for room (it ends
/// after the core's reply timeout).
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_queue_kernel_message(
    instance: *mut vchiq_instance,
    handle: c_uint,
    data: *mut c_void,
    size: c_uint,
) -> c_int {
    // SAFETY: the caller's contract is this function's.
    unsafe { queue(instance, handle, data, size, false) }
}

/// [`vchiq_queue_kernel_message`], except that a signal ends the wait (`-EINTR`).
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_queue_message_interruptible(
    instance: *mut vchiq_instance,
    handle: c_uint,
    data: *mut c_void,
    size: c_uint,
) -> c_int {
    // SAFETY: the caller's contract is this function's.
    unsafe { queue(instance, handle, data, size, true) }
}

/// The two queue entries.
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes.
unsafe fn queue(
    instance: *mut vchiq_instance,
    handle: c_uint,
    data: *mut c_void,
    size: c_uint,
    interruptible: bool,
) -> c_int {
    if data.is_null() && size != 0 {
        return EINVAL.to_errno();
    }
    let msg: &[u8] = if size == 0 {
        &[]
    } else {
        // SAFETY: `data` is valid for `size` bytes (caller's contract).
        unsafe { core::slice::from_raw_parts(data.cast::<u8>(), size as usize) }
    };
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.queue_message_as(Handle(handle), msg, interruptible)
    ))
}

fn bulk(
    core: &VchiqState,
    service: c_uint,
    data: *const c_void,
    size: c_uint,
    userdata: *mut c_void,
    mode: vchiq_bulk_mode,
    dir: BulkDir,
) -> c_int {
    let Some(mode) = Mode::from_raw(mode) else {
        return EINVAL.to_errno();
    };
    errno(core.bulk_kernel(Handle(service), data.cast(), size, dir, mode, userdata))
}

/// Transmits `size` bytes at `data` (kernel memory, linear map or vmalloc).
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes until the transfer ends.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_bulk_transmit(
    instance: *mut vchiq_instance,
    service: c_uint,
    data: *const c_void,
    size: c_uint,
    userdata: *mut c_void,
    mode: vchiq_bulk_mode,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| bulk(
        core,
        service,
        data,
        size,
        userdata,
        mode,
        BulkDir::Transmit
    ))
}

/// Receives `size` bytes into `data`.
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes until the transfer ends.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_bulk_receive(
    instance: *mut vchiq_instance,
    service: c_uint,
    data: *mut c_void,
    size: c_uint,
    userdata: *mut c_void,
    mode: vchiq_bulk_mode,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| bulk(
        core,
        service,
        data,
        size,
        userdata,
        mode,
        BulkDir::Receive
    ))
}

/// A blocking bulk of kernel memory that no signal interrupts (`dir` 0 transmits, 1
/// receives): returns once the transfer has ended, or after unbind once it is unmapped.
///
/// # Safety
///
/// `instance` as for [`instance`]; `data` valid for `size` bytes (writable for a receive)
/// until the call returns.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_bulk_kernel_blocking(
    instance: *mut vchiq_instance,
    service: c_uint,
    data: *mut c_void,
    size: c_uint,
    dir: c_int,
) -> c_int {
    let dir = match dir {
        0 => BulkDir::Transmit,
        1 => BulkDir::Receive,
        _ => return EINVAL.to_errno(),
    };
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.bulk_kernel_blocking(Handle(service), data.cast_const().cast(), size, dir)
    ))
}

/// The user data a service was opened with (null if the handle is unknown).
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_get_service_userdata(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> *mut c_void {
    with_instance!(instance, core::ptr::null_mut(), |core| core
        .service_userdata(Handle(service))
        .unwrap_or(core::ptr::null_mut()))
}

/// The service version the VideoCore announced.
///
/// # Safety
///
/// `instance` as for [`instance`]; `peer_version` valid for a write.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_get_peer_version(
    instance: *mut vchiq_instance,
    handle: c_uint,
    peer_version: *mut c_short,
) -> c_int {
    if peer_version.is_null() {
        return EINVAL.to_errno();
    }
    with_instance!(
        instance,
        EINVAL.to_errno(),
        |core| match core.peer_version(Handle(handle)) {
            Ok(v) => {
                // SAFETY: checked non-null; valid per the caller's contract.
                unsafe { *peer_version = v as c_short };
                0
            }
            Err(e) => e.to_errno(),
        }
    )
}

/// The oldest message pushed with `vchiq_msg_queue_push`, or null.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_msg_hold(
    instance: *mut vchiq_instance,
    handle: c_uint,
) -> *mut vchiq_header {
    with_instance!(instance, core::ptr::null_mut(), |core| core
        .msg_hold(Handle(handle))
        .map_or(core::ptr::null_mut(), |p| p.cast()))
}

/// Queues a bulk transfer of the calling process's memory: `data` is a user address, pinned
/// until the transfer ends (`dir` 0 transmits, 1 receives). `*pcookie` receives the
/// transfer's cookie; a `VCHIQ_BULK_MODE_BLOCKING` transfer does not wait here: the caller
/// waits with `vchiq_rs_bulk_wait` and, if it gives up, calls `vchiq_rs_bulk_forget`.
///
/// # Safety
///
/// `instance` as for [`instance`]; `pcookie` valid for a write. Called in the context of the
/// process that owns `data`.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_bulk_user(
    instance: *mut vchiq_instance,
    service: c_uint,
    data: *mut c_void,
    size: c_uint,
    userdata: *mut c_void,
    mode: vchiq_bulk_mode,
    dir: c_int,
    pcookie: *mut u32,
) -> c_int {
    let (Some(mode), false) = (Mode::from_raw(mode), pcookie.is_null()) else {
        return EINVAL.to_errno();
    };
    let dir = match dir {
        0 => BulkDir::Transmit,
        1 => BulkDir::Receive,
        _ => return EINVAL.to_errno(),
    };
    with_instance!(instance, EINVAL.to_errno(), |core| {
        match core.bulk_user(Handle(service), data as usize, size, dir, mode, userdata) {
            Ok(cookie) => {
                // SAFETY: checked non-null; valid per the caller's contract.
                unsafe { *pcookie = cookie };
                0
            }
            Err(e) => e.to_errno(),
        }
    })
}

/// Waits (interruptibly) for a blocking transfer queued by this instance with
/// `vchiq_rs_bulk_user`: 0 when done, `-EINVAL` if aborted or unknown, `-EINTR` on a
/// signal (the transfer stays queued and may be waited for again).
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_bulk_wait(
    instance: *mut vchiq_instance,
    cookie: u32,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.bulk_wait(cookie, token(instance))
    ))
}

/// Gives up waiting for a blocking transfer of this instance: it ends in the background.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_bulk_forget(instance: *mut vchiq_instance, cookie: u32) {
    with_instance!(instance, (), |core| core
        .bulk_forget(cookie, token(instance)))
}

/// Sets a service's slot and message quotas (0 keeps the current value; a quota below what is
/// in use is `-EINVAL`).
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_set_quota(
    instance: *mut vchiq_instance,
    service: c_uint,
    slot_quota: u16,
    msg_quota: u16,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(core.set_quota(
        Handle(service),
        slot_quota,
        msg_quota
    )))
}

/// The client id of a service (non-negative), or a negative errno.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_client_id(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> c_int {
    with_instance!(
        instance,
        EINVAL.to_errno(),
        |core| match core.client_id(Handle(service)) {
            Ok(id) => (id & 0x7fff_ffff) as c_int,
            Err(e) => e.to_errno(),
        }
    )
}

/// Sets the client id that the instance's later opens send (0: the opening thread's pid).
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_set_client_id(instance: *mut vchiq_instance, id: c_uint) {
    // SAFETY: the caller's contract of the exported function.
    if let Ok(inst) = unsafe { self::instance(instance) } {
        inst.client_id.store(id, Release);
    }
}

/// Copies a message delivered to this instance's service `service` (header pointer from the
/// callback) into `buf` (header and payload) and releases it. Returns the payload size, or
/// `-EMSGSIZE` if `buf` is too short (the message stays held), `-EINVAL` if not held.
///
/// # Safety
///
/// `instance` as for [`instance`]; `buf` valid for `len` bytes of writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_take_message(
    instance: *mut vchiq_instance,
    service: c_uint,
    header: *mut vchiq_header,
    buf: *mut c_void,
    len: c_uint,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { copy_message(instance, service, header, buf, len, true) }
}

/// Copies a message delivered to this instance's service `service` into `buf` (header and
/// payload, with the size the core validated); the message stays held. Returns the payload
/// size, or `-EMSGSIZE` if `buf` is too short, `-EINVAL` if not held.
///
/// # Safety
///
/// `instance` as for [`instance`]; `buf` valid for `len` bytes of writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_rs_read_message(
    instance: *mut vchiq_instance,
    service: c_uint,
    header: *mut vchiq_header,
    buf: *mut c_void,
    len: c_uint,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { copy_message(instance, service, header, buf, len, false) }
}

/// The body of [`vchiq_rs_take_message`] (`release`) and [`vchiq_rs_read_message`].
///
/// # Safety
///
/// `instance` as for [`instance`]; `buf` valid for `len` bytes of writes.
unsafe fn copy_message(
    instance: *mut vchiq_instance,
    service: c_uint,
    header: *mut vchiq_header,
    buf: *mut c_void,
    len: c_uint,
    release: bool,
) -> c_int {
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `buf` is non-null and valid for `len` bytes of writes (caller's contract); it
    // is kernel memory of the caller's, not slot memory.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len as usize) };
    let header = header.cast::<u8>().cast_const();
    with_instance!(instance, EINVAL.to_errno(), |core| {
        let r = if release {
            core.take_message(Handle(service), header, buf)
        } else {
            core.read_message(Handle(service), header, buf)
        };
        match r {
            Ok(n) => n as c_int,
            Err(e) => e.to_errno(),
        }
    })
}

/// Creates a server service that the VideoCore may open; `*pservice` receives its handle.
///
/// # Safety
///
/// `instance` as for [`instance`]; `params` and `pservice` valid.
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_add_service(
    instance: *mut vchiq_instance,
    params: *const vchiq_service_params_kernel,
    pservice: *mut c_uint,
) -> c_int {
    // SAFETY: caller's contract.
    let (params, client) = match unsafe { service_args(instance, params, pservice) } {
        Ok(v) => v,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: `pservice` was checked non-null by `service_args`; valid (caller's contract).
    with_instance!(instance, EINVAL.to_errno(), |core| unsafe {
        put_handle(pservice, core.add_service(params, client))
    })
}

/// Removes a service: a listening server is freed, an open service closed and freed.
///
/// # Safety
///
/// `instance` as for [`instance`].
#[no_mangle]
pub(crate) unsafe extern "C" fn vchiq_remove_service(
    instance: *mut vchiq_instance,
    service: c_uint,
) -> c_int {
    with_instance!(instance, EINVAL.to_errno(), |core| errno(
        core.remove(Handle(service))
    ))
}
