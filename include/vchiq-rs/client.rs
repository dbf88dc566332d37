// SPDX-License-Identifier: GPL-2.0

//! The typed Rust service API of vchiq-core, for client modules.
//!
//! Rust modules cannot share crates out of tree (see `Documentation/architecture.rst`), so
//! vchiq-core exports a C ABI (`include/vchiq-rs/vchiq.h`) and every Rust client compiles
//! this one file into its own crate (`#[path = "../include/vchiq-rs/client.rs"] mod vchiq;`).
//! The C declarations it calls are generated from the header at build time ([`ffi`],
//! `bindings.rs`), never written out by hand. It wraps them in safe types:
//!
//! * [`State`]: a counted reference on the VideoCore behind one of vchiq-core's auxiliary
//!   devices, taken in the client's probe.
//! * [`Instance`]: a session on that VideoCore; dropping it closes its services.
//! * [`Service<H>`]: an open service; `H: `[`Handler`] receives messages, bulk completions and
//!   the close. Dropping it closes the service.
//! * [`Message`]: a received message, released when dropped (or kept past its callback as a
//!   [`KeptMessage`]). Its payload is only reachable as a copy that vchiq-core makes with the
//!   size it validated: no Rust reference ever points into the slot memory, which the
//!   VideoCore writes.
//! * Services kept in a client's own tables ([`Instance::open_kept`], for `/dev/vchiq`): the
//!   instance keeps their handlers until vchiq-core has forgotten them, and the client works
//!   on them by handle ([`Instance::service`]); user-memory bulks ([`ServiceRef::bulk_user`])
//!   return a [`Cookie`] to wait for.
//!
//! Bulk buffers must stay valid until the transfer ends; the blocking calls borrow them for
//! exactly that long, and the callback/no-callback calls take a raw buffer (`unsafe`).

// One file compiled into every client: each uses a part of it.
#![allow(
    dead_code,
    reason = "a library compiled into each client, which uses a part of it"
)]

use core::ffi::{c_int, c_short, c_uint, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::auxiliary;
use kernel::device::Core;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, Mutex};
use kernel::types::ForeignOwnable;

#[path = "bindings.rs"]
pub(crate) mod ffi;

use ffi::{vchiq_header, vchiq_instance, vchiq_state};

fn check(ret: c_int) -> Result {
    kernel::error::to_result(ret)
}

/// The largest message payload.
pub(crate) const MAX_MSG_SIZE: usize = ffi::VCHIQ_RS_MAX_MSG_SIZE as usize;

/// The size of a message's header (`struct vchiq_header`) in a copy.
pub(crate) const HEADER_SIZE: usize = core::mem::size_of::<vchiq_header>();

/// Bulks in flight per service and direction.
pub(crate) const NUM_SERVICE_BULKS: u32 = ffi::VCHIQ_RS_NUM_SERVICE_BULKS;
/// The number of services, as mainline reports it.
pub(crate) const MAX_SERVICES: u32 = ffi::VCHIQ_RS_MAX_SERVICES;
/// The protocol version.
pub(crate) const VERSION: i16 = ffi::VCHIQ_RS_VERSION as i16;
/// The oldest protocol version spoken.
pub(crate) const VERSION_MIN: i16 = ffi::VCHIQ_RS_VERSION_MIN as i16;

#[path = "enums.rs"]
mod enums;
#[allow(unused_imports, reason = "each client uses a part of the library")]
pub(crate) use enums::{BulkMode, Reason};

/// `VCHIQ_BULK_MODE_WAITING`: user space's mode for resuming an interrupted blocking bulk
/// (`/dev/vchiq` only; never passed to vchiq-core).
pub(crate) const BULK_MODE_WAITING: u32 = ffi::vchiq_bulk_mode_VCHIQ_BULK_MODE_WAITING;

/// Makes a fourcc from four characters, as the firmware does.
pub(crate) const fn fourcc(s: &[u8; 4]) -> u32 {
    (s[0] as u32) << 24 | (s[1] as u32) << 16 | (s[2] as u32) << 8 | s[3] as u32
}

/// The VideoCore behind one of vchiq-core's auxiliary devices: a counted reference, valid
/// whatever happens to the device afterwards (calls on an unbound core fail `ESHUTDOWN`).
///
/// # Invariants
///
/// `raw` comes from `vchiq_rs_state_get` and is put only in `Drop`.
pub(crate) struct State {
    raw: NonNull<vchiq_state>,
}

// SAFETY: the reference may be used and dropped from any thread (vchiq-core's contract).
unsafe impl Send for State {}
// SAFETY: `&State` only passes the pointer to vchiq-core, callable from any thread.
unsafe impl Sync for State {}

impl State {
    /// The state of `adev`, one of vchiq-core's auxiliary devices (from the client's probe).
    pub(crate) fn of(adev: &auxiliary::Device<Core<'_>>) -> Result<Self> {
        // CAST: `auxiliary::Device` is `#[repr(transparent)]` over
        // `Opaque<bindings::auxiliary_device>`; its raw accessor is crate-private.
        let raw = core::ptr::from_ref(adev)
            .cast::<kernel::bindings::auxiliary_device>()
            .cast_mut();
        // SAFETY: `raw` is a bound device (the probe's `Core` context), created by vchiq-core
        // (the client's id table names only vchiq-core's devices).
        let state = unsafe { ffi::vchiq_rs_state_get(raw) };
        // INVARIANT: from `vchiq_rs_state_get`.
        NonNull::new(state).map(|raw| Self { raw }).ok_or(ENODEV)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: taken by `vchiq_rs_state_get` (type invariant), put once.
        unsafe { ffi::vchiq_rs_state_put(self.raw.as_ptr()) };
    }
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
    /// The VideoCore opened a server service ([`Instance::add_service`]).
    fn opened(&self, _svc: ServiceRef<'_>) {}
}

/// The handler of a service opened with [`Instance::open_kept`], as vchiq-core holds it.
struct Kept {
    handle: u32,
    /// The foreign form of the handler's `Arc`, which vchiq-core has as the user data.
    userdata: *mut c_void,
    /// Drops `userdata` (the `Arc<H>` of the service's `H`).
    free: unsafe fn(*mut c_void),
}

/// Frees the foreign `Arc<H>` of a kept service.
///
/// # Safety
///
/// `userdata` must come from `Arc<H>::into_foreign` and vchiq-core must no longer use it.
unsafe fn free_kept<H: Handler>(userdata: *mut c_void) {
    // SAFETY: the function's contract.
    drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign(userdata) });
}

/// A session with the VideoCore.
///
/// # Invariants
///
/// `raw` is an instance from `vchiq_initialise`, shut down only in `Drop`. It holds its own
/// reference on the state, so it may outlive the [`State`] it was made from. `kept` holds
/// the handlers of the services opened with [`Instance::open_kept`] that vchiq-core may
/// still call.
pub(crate) struct Instance {
    raw: *mut vchiq_instance,
    kept: Arc<Mutex<KVec<Kept>>>,
}

// SAFETY: the instance may be used and shut down from any thread (vchiq-core's contract).
unsafe impl Send for Instance {}
// SAFETY: vchiq-core only makes shared references to an instance and serialises internally,
// so concurrent calls through `&Instance` are sound.
unsafe impl Sync for Instance {}

impl Instance {
    /// Opens a session on `state` and connects.
    pub(crate) fn new(state: &State) -> Result<Self> {
        let inst = Self::unconnected(state)?;
        inst.connect()?;
        Ok(inst)
    }

    /// Opens a session on `state` without connecting it.
    pub(crate) fn unconnected(state: &State) -> Result<Self> {
        let kept = Arc::pin_init(new_mutex!(KVec::new(), "vchiq::Instance::kept"), GFP_KERNEL)?;
        let mut raw = core::ptr::null_mut();
        // SAFETY: `state` is a live reference (its invariant); `raw` is valid for a write.
        check(unsafe { ffi::vchiq_initialise(state.raw.as_ptr(), &mut raw) })?;
        // INVARIANT: a fresh instance, no kept services.
        Ok(Self { raw, kept })
    }

    /// A view of service `handle` of this instance (vchiq-core checks the handle on every
    /// call: an unknown one fails `EINVAL`).
    pub(crate) fn service(&self, handle: u32) -> ServiceRef<'_> {
        ServiceRef {
            instance: self.raw,
            handle,
            _p: PhantomData,
        }
    }

    /// Opens service `fourcc` (or, with `server`, creates a server the VideoCore may open)
    /// for a client that keeps its services in its own tables, by handle. The instance
    /// keeps `handler` for as long as vchiq-core may call it: until the service is gone
    /// from vchiq-core (closed and its SERVICE_CLOSED delivered, or removed) and the next
    /// [`Instance::reap`], or until the instance is dropped.
    pub(crate) fn open_kept<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
        server: bool,
    ) -> Result<u32> {
        self.reap();
        // Room first, so that the push below does not fail (the lock is not held across the
        // open, which waits for the VideoCore).
        self.kept.lock().reserve(1, GFP_KERNEL)?;
        let (handle, userdata) = self.create_raw(fourcc, version, version_min, handler, server)?;
        let k = Kept {
            handle,
            userdata,
            free: free_kept::<H>,
        };
        if self.kept.lock().push(k, GFP_KERNEL).is_err() {
            // Only if concurrent opens took the room: the handler cannot be freed safely.
            pr_warn!("vchiq: out of memory; leaking a service's handler\n");
        }
        Ok(handle)
    }

    /// Closes kept service `handle` and waits until the VideoCore has confirmed it and its
    /// SERVICE_CLOSED callback has run (a server listens again).
    pub(crate) fn close(&self, handle: u32) -> Result {
        // SAFETY: `raw` is live (type invariant); vchiq-core checks the handle.
        let r = check(unsafe { ffi::vchiq_close_service(self.raw, handle) });
        self.reap();
        r
    }

    /// Removes kept service `handle`: a listening server is freed, an open service closed
    /// (as by [`Instance::close`]) and freed.
    pub(crate) fn remove(&self, handle: u32) -> Result {
        // SAFETY: `raw` is live (type invariant); vchiq-core checks the handle.
        let r = check(unsafe { ffi::vchiq_remove_service(self.raw, handle) });
        self.reap();
        r
    }

    /// Frees the handlers of kept services vchiq-core has forgotten. vchiq-core calls a
    /// service's handler only from its slot handler thread, and only while
    /// `vchiq_get_service_userdata` finds the service: once it does not (or finds another
    /// service's user data under a reused handle), no call can come.
    pub(crate) fn reap(&self) {
        let mut kept = self.kept.lock();
        let mut i = 0;
        while let Some(k) = kept.get(i) {
            // SAFETY: `raw` is live (type invariant).
            let ud = unsafe { ffi::vchiq_get_service_userdata(self.raw, k.handle) };
            if ud == k.userdata {
                i += 1;
                continue;
            }
            if let Ok(k) = kept.remove(i) {
                // SAFETY: `userdata` is the handler's foreign `Arc`, which vchiq-core no
                // longer uses (see above); freed once, as it left the list.
                unsafe { (k.free)(k.userdata) };
            }
        }
    }

    /// Waits (interruptibly) for a blocking user-memory bulk of this instance: `Ok` when
    /// done, `EINVAL` if aborted or unknown, `EINTR` on a signal (it may be waited for
    /// again, or given up with [`Instance::bulk_forget`]).
    pub(crate) fn bulk_wait(&self, cookie: Cookie) -> Result {
        // SAFETY: `raw` is live (type invariant); vchiq-core checks the cookie.
        check(unsafe { ffi::vchiq_rs_bulk_wait(self.raw, cookie.0) })
    }

    /// Gives up waiting for a blocking user-memory bulk: it ends in the background.
    pub(crate) fn bulk_forget(&self, cookie: Cookie) {
        // SAFETY: `raw` is live (type invariant); vchiq-core checks the cookie.
        unsafe { ffi::vchiq_rs_bulk_forget(self.raw, cookie.0) }
    }

    /// Copies kept message `msg` (header with the validated size, then payload) into `buf`
    /// and releases it; returns the payload size. `EMSGSIZE` if `buf` is too short (the
    /// message stays held); `EINVAL` if it is not held any more (its service closed).
    pub(crate) fn take_message(&self, msg: KeptMessage, buf: &mut [u8]) -> Result<usize> {
        let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `raw` is live (type invariant); `buf` is valid for `len` bytes of writes;
        // vchiq-core validates the header among the messages it holds for the service.
        let n = unsafe {
            ffi::vchiq_rs_take_message(
                self.raw,
                msg.handle,
                msg.header as *mut vchiq_header,
                buf.as_mut_ptr().cast(),
                len,
            )
        };
        check(n.min(0))?;
        Ok(n as usize)
    }

    /// Releases kept message `msg` (nothing if it is not held any more).
    pub(crate) fn release_message(&self, msg: KeptMessage) {
        // SAFETY: `raw` is live (type invariant); vchiq-core validates the header.
        unsafe {
            ffi::vchiq_release_message(self.raw, msg.handle, msg.header as *mut vchiq_header)
        };
    }

    /// Sets the client id that this session's later opens send to the VideoCore (0, the
    /// default: the opening thread's pid). `/dev/vchiq` sets the opener's tgid, as mainline.
    pub(crate) fn set_client_id(&self, id: u32) {
        // SAFETY: `raw` is live (type invariant).
        unsafe { ffi::vchiq_rs_set_client_id(self.raw, id) }
    }

    /// Connects the session (and the VideoCore, the first time).
    pub(crate) fn connect(&self) -> Result {
        // SAFETY: `raw` is live (type invariant).
        check(unsafe { ffi::vchiq_connect(self.raw) })
    }

    /// Opens service `fourcc` with versions (`version`, `version_min`).
    pub(crate) fn open<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
    ) -> Result<Service<'_, H>> {
        self.create(fourcc, version, version_min, handler, false)
    }

    /// Creates a server service `fourcc` that the VideoCore may open ([`Handler::opened`];
    /// after a close it listens again).
    pub(crate) fn add_service<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
    ) -> Result<Service<'_, H>> {
        self.create(fourcc, version, version_min, handler, true)
    }

    fn create<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
        server: bool,
    ) -> Result<Service<'_, H>> {
        let (handle, userdata) = self.create_raw(fourcc, version, version_min, handler, server)?;
        Ok(Service {
            svc: self.service(handle),
            userdata,
            server,
            _h: PhantomData,
        })
    }

    /// Opens or adds a service; returns its handle and the handler's foreign `Arc`, which
    /// vchiq-core now holds.
    fn create_raw<H: Handler>(
        &self,
        fourcc: u32,
        version: i16,
        version_min: i16,
        handler: Arc<H>,
        server: bool,
    ) -> Result<(u32, *mut c_void)> {
        let userdata = handler.into_foreign();
        let params = ffi::vchiq_service_params_kernel {
            fourcc: fourcc as c_int,
            callback: Some(trampoline::<H>),
            userdata,
            version,
            version_min,
        };
        let mut handle: c_uint = 0;
        // SAFETY: `raw` is live; `params` and `handle` are valid for the call; the trampoline
        // matches `userdata`'s type.
        let r = check(unsafe {
            if server {
                ffi::vchiq_add_service(self.raw, &params, &mut handle)
            } else {
                ffi::vchiq_open_service(self.raw, &params, &mut handle)
            }
        });
        if let Err(e) = r {
            // SAFETY: the open failed, so vchiq-core kept no copy of `userdata`.
            drop(unsafe { <Arc<H> as ForeignOwnable>::from_foreign(userdata) });
            return Err(e);
        }
        Ok((handle, userdata))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `raw` is live; it is not used afterwards.
        let r = unsafe { ffi::vchiq_shutdown(self.raw) };
        if r != 0 {
            // A callback did not return: vchiq-core kept the instance, and the handlers
            // must outlive whatever still runs.
            pr_warn!("vchiq: shutdown failed; leaking the instance's handlers\n");
            return;
        }
        for k in self.kept.lock().drain_all() {
            // SAFETY: after a completed shutdown vchiq-core calls no handler of the instance
            // any more; each is freed once, as it leaves the list.
            unsafe { (k.free)(k.userdata) };
        }
    }
}

/// A user-memory bulk transfer, to wait for with [`Instance::bulk_wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cookie(u32);

/// A message kept past its callback ([`Message::keep`]): a token, not a reference (it never
/// points into Rust-visible memory). Copy it out with [`Instance::take_message`] or release
/// it with [`Instance::release_message`]; vchiq-core validates it on every use, so a stale
/// or repeated token fails harmlessly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeptMessage {
    handle: u32,
    /// The header's address in the slot memory, as vchiq-core delivered it.
    header: usize,
}

/// A borrowed view of an open service, usable from its callbacks.
#[derive(Clone, Copy)]
pub(crate) struct ServiceRef<'a> {
    instance: *mut vchiq_instance,
    handle: c_uint,
    _p: PhantomData<&'a Instance>,
}

impl ServiceRef<'_> {
    /// The service handle.
    pub(crate) fn handle(&self) -> u32 {
        self.handle
    }

    /// Sends a message made of `parts` (at most [`MAX_MSG_SIZE`] bytes in all). No signal ends
    /// the wait for room, not even a fatal one, so a process being killed still sends the rest
    /// of a sequence; `ETIMEDOUT` after vchiq-core's reply timeout (5 s) without room, which a
    /// client sending a sequence must still expect midway.
    pub(crate) fn queue(&self, parts: &[&[u8]]) -> Result {
        self.queue_as(parts, false)
    }

    /// [`ServiceRef::queue`] for a client acting for a process (`/dev/vchiq`): a signal ends
    /// the wait for room with `EINTR`, nothing sent.
    pub(crate) fn queue_interruptible(&self, parts: &[&[u8]]) -> Result {
        self.queue_as(parts, true)
    }

    fn queue_as(&self, parts: &[&[u8]], interruptible: bool) -> Result {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > MAX_MSG_SIZE {
            return Err(EINVAL);
        }
        if let [one] = parts {
            return self.queue_one(one, interruptible);
        }
        let mut buf = KVec::with_capacity(total, GFP_KERNEL)?;
        for p in parts {
            buf.extend_from_slice(p, GFP_KERNEL)?;
        }
        self.queue_one(&buf, interruptible)
    }

    fn queue_one(&self, msg: &[u8], interruptible: bool) -> Result {
        let len = c_uint::try_from(msg.len()).map_err(|_| EINVAL)?;
        let data = msg.as_ptr().cast_mut().cast();
        // SAFETY: the instance is live while borrowed (`'a`); `msg` is valid for its length
        // during the call, and vchiq-core only reads it.
        check(unsafe {
            if interruptible {
                ffi::vchiq_rs_queue_message_interruptible(self.instance, self.handle, data, len)
            } else {
                ffi::vchiq_queue_kernel_message(self.instance, self.handle, data, len)
            }
        })
    }

    /// Sends `buf` and waits until the VideoCore has it (`EINVAL` if the transfer was
    /// aborted: the service closed). No signal ends the wait: the transfer uses `buf` until
    /// it ends, so the call cannot return before.
    pub(crate) fn bulk_transmit_blocking(&self, buf: &[u8]) -> Result {
        // SAFETY: `buf` is borrowed until the call returns, which is after the transfer
        // ended; the VideoCore only reads it.
        unsafe { self.bulk_blocking(buf.as_ptr().cast_mut(), buf.len(), false) }
    }

    /// Receives into `buf` and waits until it is filled (`EINVAL` if aborted). No signal
    /// ends the wait, as for [`ServiceRef::bulk_transmit_blocking`].
    pub(crate) fn bulk_receive_blocking(&self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is borrowed mutably until the call returns, after the transfer.
        unsafe { self.bulk_blocking(buf.as_mut_ptr(), buf.len(), true) }
    }

    /// A blocking transfer of `len` bytes at `buf`, through vchiq-core's uninterruptible
    /// wait (`vchiq_rs_bulk_kernel_blocking`), which returns only after the transfer ended
    /// or was unmapped.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for `len` bytes (and unaliased for a receive) until the call
    /// returns.
    unsafe fn bulk_blocking(&self, buf: *mut u8, len: usize, receive: bool) -> Result {
        let len = c_uint::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: the instance is live while borrowed; `buf` per the function's contract,
        // and vchiq-core uses it only until the call returns.
        check(unsafe {
            ffi::vchiq_rs_bulk_kernel_blocking(
                self.instance,
                self.handle,
                buf.cast(),
                len,
                c_int::from(receive),
            )
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
        // SAFETY: the function's contract, passed on.
        unsafe { self.bulk_raw(buf, len, receive, userdata, mode) }
    }

    /// # Safety
    ///
    /// `buf` must stay valid, and for a receive unaliased, until the transfer ends.
    unsafe fn bulk_raw(
        &self,
        buf: *mut u8,
        len: usize,
        receive: bool,
        userdata: usize,
        mode: BulkMode,
    ) -> Result {
        let len = c_uint::try_from(len).map_err(|_| EINVAL)?;
        let (ud, mode) = (userdata as *mut c_void, mode as ffi::vchiq_bulk_mode);
        // SAFETY: the instance is live while borrowed; `buf` per the function's contract.
        check(unsafe {
            if receive {
                ffi::vchiq_bulk_receive(self.instance, self.handle, buf.cast(), len, ud, mode)
            } else {
                ffi::vchiq_bulk_transmit(self.instance, self.handle, buf.cast(), len, ud, mode)
            }
        })
    }

    /// Queues a transfer of the calling process's memory at user address `addr` (pinned by
    /// vchiq-core until the transfer ends); `userdata` comes back in
    /// [`Handler::bulk_done`]. A [`BulkMode::Blocking`] transfer does not wait here: wait
    /// for its cookie with [`Instance::bulk_wait`].
    pub(crate) fn bulk_user(
        &self,
        addr: usize,
        len: u32,
        userdata: usize,
        mode: BulkMode,
        receive: bool,
    ) -> Result<Cookie> {
        let mut cookie = 0u32;
        // SAFETY: the instance is live while borrowed; `addr` is a user address, which
        // vchiq-core only pins (a bad one fails `EFAULT`); `cookie` is valid for a write.
        check(unsafe {
            ffi::vchiq_rs_bulk_user(
                self.instance,
                self.handle,
                addr as *mut c_void,
                len,
                userdata as *mut c_void,
                mode as ffi::vchiq_bulk_mode,
                c_int::from(receive),
                &mut cookie,
            )
        })?;
        Ok(Cookie(cookie))
    }

    /// Takes (`true`) or drops a use count.
    pub(crate) fn set_use(&self, up: bool) -> Result {
        // SAFETY: the instance is live while borrowed; vchiq-core checks the handle.
        check(unsafe {
            if up {
                ffi::vchiq_use_service(self.instance, self.handle)
            } else {
                ffi::vchiq_release_service(self.instance, self.handle)
            }
        })
    }

    /// The version the VideoCore's service announced.
    pub(crate) fn peer_version(&self) -> Result<i16> {
        let mut v: c_short = 0;
        // SAFETY: the instance is live while borrowed; `v` is valid for a write.
        check(unsafe { ffi::vchiq_get_peer_version(self.instance, self.handle, &mut v) })?;
        Ok(v)
    }

    /// Sets the slot and message quotas (0 keeps a value).
    pub(crate) fn set_quota(&self, slot_quota: u16, msg_quota: u16) -> Result {
        // SAFETY: the instance is live while borrowed; vchiq-core checks the handle.
        check(unsafe { ffi::vchiq_rs_set_quota(self.instance, self.handle, slot_quota, msg_quota) })
    }

    /// The service's client id.
    pub(crate) fn client_id(&self) -> Result<u32> {
        // SAFETY: the instance is live while borrowed; vchiq-core checks the handle.
        let id = unsafe { ffi::vchiq_rs_client_id(self.instance, self.handle) };
        check(id.min(0))?;
        Ok(id as u32)
    }
}

/// An open service; closed when dropped.
pub(crate) struct Service<'a, H: Handler> {
    svc: ServiceRef<'a>,
    userdata: *mut c_void,
    server: bool,
    _h: PhantomData<Arc<H>>,
}

// SAFETY: the handle and the handler's foreign pointer may be used from any thread; `H` is
// `Send + Sync`.
unsafe impl<H: Handler> Send for Service<'_, H> {}
// SAFETY: `&Service` only calls vchiq-core, which serialises internally.
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
        // SAFETY: the instance is live while borrowed; the handle is this service's.
        let r = check(unsafe {
            if self.server {
                ffi::vchiq_remove_service(self.svc.instance, self.svc.handle)
            } else {
                ffi::vchiq_close_service(self.svc.instance, self.svc.handle)
            }
        });
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
///
/// # Invariants
///
/// `header` is the header pointer vchiq-core delivered to `svc`'s callback. It is never
/// dereferenced here: vchiq-core looks it up among the messages it holds for the service.
pub(crate) struct Message<'a> {
    svc: ServiceRef<'a>,
    header: *mut vchiq_header,
}

impl Message<'_> {
    /// Copies the payload into `buf`; returns its length. `EMSGSIZE` if `buf` is too short.
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let copy = self.copy(HEADER_SIZE + buf.len().min(MAX_MSG_SIZE))?;
        let payload = copy.get(HEADER_SIZE..).ok_or(EINVAL)?;
        buf.get_mut(..payload.len())
            .ok_or(EMSGSIZE)?
            .copy_from_slice(payload);
        Ok(payload.len())
    }

    /// The payload, copied.
    pub(crate) fn to_kvec(&self) -> Result<KVec<u8>> {
        let copy = self.copy(HEADER_SIZE + MAX_MSG_SIZE)?;
        let mut v = KVec::new();
        v.extend_from_slice(copy.get(HEADER_SIZE..).ok_or(EINVAL)?, GFP_KERNEL)?;
        Ok(v)
    }

    /// Copies the payload into `buf` and releases the message at once, reporting whether
    /// vchiq-core still held it; returns the payload's length. `EMSGSIZE` if `buf` is too
    /// short (the message is then released when the guard drops), `EINVAL` if vchiq-core
    /// does not hold it any more.
    pub(crate) fn take(self, buf: &mut [u8]) -> Result<usize> {
        let mut copy = KVec::new();
        copy.resize(HEADER_SIZE + buf.len().min(MAX_MSG_SIZE), 0, GFP_KERNEL)?;
        let len = c_uint::try_from(copy.len()).map_err(|_| EINVAL)?;
        // SAFETY: the instance is live while borrowed; `copy` is valid for `len` bytes of
        // writes; vchiq-core validates `header` (type invariant).
        let n = unsafe {
            ffi::vchiq_rs_take_message(
                self.svc.instance,
                self.svc.handle,
                self.header,
                copy.as_mut_ptr().cast(),
                len,
            )
        };
        if n == EMSGSIZE.to_errno() {
            return Err(EMSGSIZE);
        }
        // Released by the call (or not held at all): the guard must not release it again.
        core::mem::forget(self);
        check(n.min(0))?;
        let payload = copy
            .get(HEADER_SIZE..HEADER_SIZE + n as usize)
            .ok_or(EINVAL)?;
        buf.get_mut(..payload.len())
            .ok_or(EMSGSIZE)?
            .copy_from_slice(payload);
        Ok(payload.len())
    }

    /// Keeps the message past its callback: it is not released when this guard would
    /// have been dropped.
    pub(crate) fn keep(self) -> KeptMessage {
        let kept = KeptMessage {
            handle: self.svc.handle,
            header: self.header as usize,
        };
        core::mem::forget(self);
        kept
    }

    /// vchiq-core's copy of the header and payload, in a buffer of `room` bytes, cut to the
    /// message's length.
    fn copy(&self, room: usize) -> Result<KVec<u8>> {
        let mut buf = KVec::new();
        buf.resize(room, 0, GFP_KERNEL)?;
        let n = self.copy_into(&mut buf)?;
        buf.truncate(HEADER_SIZE + n);
        Ok(buf)
    }

    /// vchiq-core's copy of the header and payload into `buf`; the payload's length.
    fn copy_into(&self, buf: &mut [u8]) -> Result<usize> {
        let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: the instance is live while borrowed; `buf` is valid for `len` bytes of
        // writes; vchiq-core validates `header` (type invariant).
        let n = unsafe {
            ffi::vchiq_rs_read_message(
                self.svc.instance,
                self.svc.handle,
                self.header,
                buf.as_mut_ptr().cast(),
                len,
            )
        };
        check(n.min(0))?;
        Ok(n as usize)
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        // SAFETY: the message was delivered to this service and is released once.
        unsafe { ffi::vchiq_release_message(self.svc.instance, self.svc.handle, self.header) };
    }
}

/// The service callback handed to vchiq-core.
///
/// # Safety
///
/// Called by vchiq-core only, with an instance and the handle of a service opened by
/// [`Instance::open`] or [`Instance::add_service`] with this `H`.
unsafe extern "C" fn trampoline<H: Handler>(
    instance: *mut vchiq_instance,
    reason: ffi::vchiq_reason,
    header: *mut vchiq_header,
    handle: c_uint,
    cb_data: *mut c_void,
    _cb_userdata: *mut c_void,
) -> c_int {
    // SAFETY: vchiq-core calls back with the live instance and handle of an open service.
    let ud = unsafe { ffi::vchiq_get_service_userdata(instance, handle) };
    if ud.is_null() {
        return 0;
    }
    // SAFETY: the service's user data is the `Arc<H>` from `Instance::create`, alive until
    // the service is closed, which waits for this callback.
    let h: ArcBorrow<'_, H> = unsafe { <Arc<H> as ForeignOwnable>::borrow(ud) };
    let svc = ServiceRef {
        instance,
        handle,
        _p: PhantomData,
    };
    let ud = cb_data as usize;
    match reason {
        ffi::vchiq_reason_VCHIQ_MESSAGE_AVAILABLE if !header.is_null() => {
            // INVARIANT: the header vchiq-core delivered to this service.
            h.message(svc, Message { svc, header })
        }
        ffi::vchiq_reason_VCHIQ_SERVICE_OPENED => h.opened(svc),
        ffi::vchiq_reason_VCHIQ_SERVICE_CLOSED => h.closed(svc),
        ffi::vchiq_reason_VCHIQ_BULK_TRANSMIT_DONE => h.bulk_done(svc, ud, false, false),
        ffi::vchiq_reason_VCHIQ_BULK_RECEIVE_DONE => h.bulk_done(svc, ud, true, false),
        ffi::vchiq_reason_VCHIQ_BULK_TRANSMIT_ABORTED => h.bulk_done(svc, ud, false, true),
        ffi::vchiq_reason_VCHIQ_BULK_RECEIVE_ABORTED => h.bulk_done(svc, ud, true, true),
        _ => {}
    }
    0
}
