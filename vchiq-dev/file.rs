// SPDX-License-Identifier: GPL-2.0

//! One open `/dev/vchiq`: a vchiq-core instance, its user services, the completion queue and
//! the bulk waiters saved for a restart, and the ioctls (vchiq-protocol.md §11.4).
//!
//! Every handle a process passes is checked against the file's own services before it
//! reaches vchiq-core; every user pointer is accessed through `UserSlice` (faults give
//! `EFAULT`); no kernel pointer is written to user space (headers are copied into the
//! process's buffers, bulk waiters are kept here, keyed by thread).

use crate::abi::{self, Args, Cmd, Layout};
use crate::delivery::{
    callback, Record, SvcInfo, UserService, REASON_CLOSED, REASON_MESSAGE, REASON_OPENED,
};
use crate::vchiq::ffi;
use core::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, CondVar, Mutex};
use kernel::uaccess::{UserPtr, UserSlice};
use kernel::{new_condvar, new_mutex};

extern "C" {
    fn vchiq_dev_fatal_signal_pending() -> bool;
}

/// Header plus the largest payload.
const MSG_BUF: usize = 8 + 4088;

/// The mutable state of an open file.
pub(crate) struct FileInner {
    connected: bool,
    /// SHUTDOWN or release: readers return, callbacks drop what they get.
    closing: bool,
    /// LIB_VERSION >= 7: SERVICE_CLOSED waits for CLOSE_DELIVERED.
    use_close_delivered: bool,
    /// Completion records, oldest first.
    records: KVec<Record>,
    services: KVec<UserService>,
    /// Blocking bulks interrupted by a signal: (thread id, cookie), resumed with mode WAITING.
    waiters: KVec<(i32, u32)>,
    /// Records or messages lost to allocation failures.
    dropped: u32,
}

impl FileInner {
    fn service(&mut self, handle: u32) -> Option<&mut UserService> {
        self.services.iter_mut().find(|s| s.handle == handle)
    }

    /// Forgets a service that vchiq-core no longer calls back, and frees its `SvcInfo`.
    fn remove_service(&mut self, handle: u32) {
        for s in self.services.iter_mut().filter(|s| s.handle == handle) {
            free_info(s);
        }
        self.services.retain(|s| s.handle != handle);
    }
}

/// One open file.
///
/// # Invariants
///
/// `raw` is a vchiq-core instance from `vchiq_initialise`, shut down only by
/// [`DevFile::release`].
#[pin_data]
pub(crate) struct DevFile {
    raw: *mut c_void,
    #[pin]
    inner: Mutex<FileInner>,
    /// Signalled on every change of `inner`.
    #[pin]
    changed: CondVar,
    /// Serialises AWAIT_COMPLETION (records are popped and may be pushed back).
    #[pin]
    await_lock: Mutex<()>,
}

// SAFETY: the instance pointer is only passed to vchiq-core, which may be called from any
// thread; everything else is behind the mutexes.
unsafe impl Send for DevFile {}
// SAFETY: as above.
unsafe impl Sync for DevFile {}

fn check(r: c_int) -> Result {
    kernel::error::to_result(r)
}

/// Mainline's mapping of the core's generic failure: `EINVAL` reaches user space as `EIO`.
fn io(e: Error) -> Error {
    if e == EINVAL {
        EIO
    } else {
        e
    }
}

fn user(addr: u64, len: usize) -> Result<UserSlice> {
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr), len))
}

fn read_args<const N: usize>(layout: Layout, arg: usize, len: usize) -> Result<Args<N>> {
    let mut a = Args::<N>::new(layout, len);
    user(arg as u64, a.len)?.reader().read_slice(a.used_mut())?;
    Ok(a)
}

/// The user address of field `off` of the argument block at `arg`. It wraps instead of
/// overflowing: a wrapped address fails the access check (`EFAULT`).
fn field(arg: usize, off: usize) -> u64 {
    (arg as u64).wrapping_add(off as u64)
}

fn write_u32(addr: u64, v: u32) -> Result {
    user(addr, 4)?.writer().write_slice(&v.to_ne_bytes())
}

/// Frees a service's `SvcInfo`, once vchiq-core has forgotten the service.
fn free_info(s: &mut UserService) {
    if !s.info.is_null() {
        // SAFETY: the box from `create_service`, which vchiq-core no longer uses (the
        // caller's precondition) and which is freed only here, once (the pointer is cleared).
        drop(unsafe { KBox::from_raw(s.info) });
        s.info = core::ptr::null_mut();
    }
}

/// Puts `x` first in `v`.
fn insert_front<T>(v: &mut KVec<T>, x: T) -> Result {
    v.push(x, GFP_KERNEL)?;
    v.rotate_right(1);
    Ok(())
}

fn current_tid() -> i32 {
    kernel::current!().pid()
}

impl DevFile {
    /// A file on the VideoCore behind `state` (vchiq-core's state of the auxiliary device).
    pub(crate) fn new(state: *mut c_void) -> Result<Arc<Self>> {
        let mut raw = core::ptr::null_mut();
        // SAFETY: `state` comes from `vchiq_rs_aux_state` of a bound device; `raw` is valid
        // for a write.
        check(unsafe { ffi::vchiq_initialise(state, &mut raw) })?;
        // INVARIANT: `raw` is a fresh instance.
        let r = Arc::pin_init(
            pin_init!(Self {
                raw,
                inner <- new_mutex!(FileInner {
                    connected: false,
                    closing: false,
                    use_close_delivered: false,
                    records: KVec::new(),
                    services: KVec::new(),
                    waiters: KVec::new(),
                    dropped: 0,
                }),
                changed <- new_condvar!(),
                await_lock <- new_mutex!(()),
            }),
            GFP_KERNEL,
        );
        if r.is_err() {
            // SAFETY: `raw` is live and not used afterwards.
            unsafe { ffi::vchiq_shutdown(raw) };
        }
        r
    }

    /// The file is closed: stop the readers, close every service (in-flight bulks are
    /// aborted and their pages unpinned by vchiq-core) and free the instance.
    pub(crate) fn release(&self) {
        let waiters = {
            let mut g = self.inner.lock();
            g.closing = true;
            core::mem::take(&mut g.waiters)
        };
        self.changed.notify_all();
        for (_, cookie) in waiters.iter() {
            // SAFETY: `raw` is live (type invariant).
            unsafe { ffi::vchiq_rs_bulk_forget(self.raw, *cookie) };
        }
        // Closes the services; their SERVICE_CLOSED callbacks free the `SvcInfo`s. Messages
        // still queued here were released by the closes.
        // SAFETY: `raw` is live and not used afterwards (type invariant: only here).
        unsafe { ffi::vchiq_shutdown(self.raw) };
        let mut g = self.inner.lock();
        g.records.clear();
        // The shutdown closed (or detached) every service: no callback comes any more.
        for s in g.services.iter_mut() {
            free_info(s);
        }
        g.services.clear();
        if g.dropped != 0 {
            pr_warn!(
                "vchiq-dev: {} records lost to allocation failures\n",
                g.dropped
            );
        }
    }

    /// Records a callback of one of the file's services (slot handler thread; never sleeps
    /// on user space).
    pub(crate) fn deliver(&self, info: &SvcInfo, reason: i32, header: usize, handle: u32, cb: u64) {
        let mut g = self.inner.lock();
        if g.closing {
            drop(g);
            if reason == REASON_MESSAGE && header != 0 {
                self.release_msg(handle, header);
            }
            return;
        }
        if g.service(handle).is_none() {
            // The open's reply raced ahead of CREATE_SERVICE's bookkeeping.
            let ptr = core::ptr::from_ref(info).cast_mut();
            let s = UserService::new(handle, info.is_vchi, ptr, info.is_server);
            if g.services.push(s, GFP_KERNEL).is_err() {
                g.dropped = g.dropped.wrapping_add(1);
                drop(g);
                if reason == REASON_MESSAGE && header != 0 {
                    self.release_msg(handle, header);
                }
                return;
            }
        }
        let use_cd = g.use_close_delivered;
        let mut record = Record {
            reason,
            handle,
            header: 0,
            service_userdata: info.userdata,
            cb_userdata: 0,
        };
        let mut queue = true;
        let mut release = false;
        if let Some(s) = g.service(handle) {
            match reason {
                REASON_MESSAGE if s.is_vchi => {
                    if s.msgs.push(header, GFP_KERNEL).is_err() {
                        release = true;
                        queue = false;
                    } else if s.dequeue_pending {
                        s.dequeue_pending = false;
                        queue = false;
                    } else if s.msg_available_pending {
                        queue = false;
                    } else {
                        s.msg_available_pending = true;
                    }
                }
                REASON_MESSAGE => record.header = header,
                REASON_OPENED => s.closed = false,
                REASON_CLOSED => {
                    s.closed = true;
                    // vchiq-core released the service's messages before this callback.
                    s.msgs.clear();
                    s.close_pending = use_cd;
                }
                _ => record.cb_userdata = cb,
            }
        }
        // Out of memory: a vchi message not queued (`release` already set), or a record lost.
        let mut lost = release;
        if queue && g.records.push(record, GFP_KERNEL).is_err() {
            release = reason == REASON_MESSAGE && record.header != 0;
            lost = true;
        }
        if lost {
            g.dropped = g.dropped.wrapping_add(1);
        }
        drop(g);
        if release {
            self.release_msg(handle, header);
        }
        self.changed.notify_all();
    }

    fn release_msg(&self, handle: u32, header: usize) {
        // SAFETY: `raw` is live; the message was delivered to `handle` and is released once.
        unsafe { ffi::vchiq_release_message(self.raw, handle, header as *mut c_void) };
    }

    /// Checks that `handle` is one of the file's services.
    fn own(&self, handle: u32) -> Result {
        let mut g = self.inner.lock();
        g.service(handle).map(|_| ()).ok_or(EINVAL)
    }

    /// Dispatches an ioctl; `layout` is the caller's ABI.
    pub(crate) fn ioctl(
        this: ArcBorrow<'_, DevFile>,
        layout: Layout,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        let Some(cmd) = layout.cmd(cmd) else {
            return Err(ENOTTY);
        };
        let r = match cmd {
            Cmd::Connect => this.connect(),
            Cmd::Shutdown => this.shutdown(),
            Cmd::CreateService => this.create_service(&this, layout, arg),
            Cmd::RemoveService => this.close_service(arg as u32, true),
            Cmd::CloseService => this.close_service(arg as u32, false),
            Cmd::QueueMessage => this.queue_message(layout, arg),
            Cmd::QueueBulkTransmit => this.queue_bulk(layout, arg, 0),
            Cmd::QueueBulkReceive => this.queue_bulk(layout, arg, 1),
            Cmd::AwaitCompletion => return this.await_completion(layout, arg),
            Cmd::DequeueMessage => return this.dequeue_message(layout, arg),
            Cmd::GetClientId => return Ok(this.client_id(arg as u32)),
            Cmd::GetConfig => this.get_config(layout, arg),
            Cmd::UseService => this.use_service(arg as u32, true),
            Cmd::ReleaseService => this.use_service(arg as u32, false),
            Cmd::SetServiceOption => this.set_option(layout, arg),
            Cmd::LibVersion => this.lib_version(arg),
            Cmd::CloseDelivered => this.close_delivered(arg as u32),
        };
        r.map(|()| 0)
    }

    fn connect(&self) -> Result {
        if self.inner.lock().connected {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is live (type invariant).
        check(unsafe { ffi::vchiq_connect(self.raw) }).map_err(io)?;
        self.inner.lock().connected = true;
        Ok(())
    }

    fn shutdown(&self) -> Result {
        let handles = {
            let g = self.inner.lock();
            if !g.connected {
                return Ok(());
            }
            let mut v = KVec::new();
            for s in g.services.iter().filter(|s| !s.closed) {
                v.push(s.handle, GFP_KERNEL)?;
            }
            v
        };
        for h in handles.iter() {
            // SAFETY: `raw` is live; `h` is one of the file's services.
            match check(unsafe { ffi::vchiq_close_service(self.raw, *h) }) {
                Ok(()) | Err(EINVAL) => {}
                Err(e) => return Err(io(e)),
            }
        }
        self.inner.lock().closing = true;
        self.changed.notify_all();
        Ok(())
    }

    fn create_service(&self, this: &ArcBorrow<'_, DevFile>, layout: Layout, arg: usize) -> Result {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.create_size())?;
        let is_open = a.u32(layout.create_is_open()) != 0;
        let is_vchi = a.u32(layout.create_is_vchi()) != 0;
        if is_open && !self.inner.lock().connected {
            return Err(ENOTCONN);
        }
        let userdata = a.ptr(layout.create_userdata());
        self.inner.lock().services.reserve(1, GFP_KERNEL)?;
        let info = KBox::new(
            SvcInfo {
                file: (*this).into(),
                is_vchi,
                is_server: !is_open,
                userdata,
            },
            GFP_KERNEL,
        )?;
        let info = KBox::into_raw(info);
        let params = ffi::ServiceParamsKernel {
            fourcc: a.u32(Layout::CREATE_FOURCC) as c_int,
            callback: Some(callback),
            userdata: info.cast(),
            version: a.i16(layout.create_version()),
            version_min: a.i16(layout.create_version_min()),
        };
        let mut handle: c_uint = 0;
        // SAFETY: `raw` is live; `params` and `handle` are valid for the call.
        let r = check(unsafe {
            if is_open {
                ffi::vchiq_open_service(self.raw, &params, &mut handle)
            } else {
                // A server, hidden until connected, then listening for the VideoCore.
                ffi::vchiq_add_service(self.raw, &params, &mut handle)
            }
        });
        if let Err(e) = r {
            // SAFETY: the open failed, so vchiq-core kept no copy of `info`.
            drop(unsafe { KBox::from_raw(info) });
            return Err(match e {
                // A bad fourcc or a full table: mainline's "the add failed".
                EINVAL | ENOSPC if !is_open => EEXIST,
                EINVAL | ECONNREFUSED => EIO,
                e => e,
            });
        }
        {
            let mut g = self.inner.lock();
            if g.service(handle).is_none() {
                // Room was reserved above.
                let _ = g.services.push(
                    UserService::new(handle, is_vchi, info, !is_open),
                    GFP_KERNEL,
                );
            }
        }
        if write_u32(field(arg, layout.create_handle()), handle).is_err() {
            let _ = self.close_service(handle, true);
            return Err(EFAULT);
        }
        Ok(())
    }

    fn close_service(&self, handle: u32, remove: bool) -> Result {
        let pending = {
            let mut g = self.inner.lock();
            let s = g.service(handle).ok_or(EINVAL)?;
            (s.closed, s.close_pending)
        };
        if !pending.0 {
            // SAFETY: `raw` is live; `handle` is one of the file's services.
            let r = check(unsafe {
                if remove {
                    ffi::vchiq_remove_service(self.raw, handle)
                } else {
                    ffi::vchiq_close_service(self.raw, handle)
                }
            });
            match r {
                Ok(()) if remove => {
                    let mut g = self.inner.lock();
                    let pending = g.service(handle).is_some_and(|s| s.close_pending);
                    if !pending {
                        g.remove_service(handle);
                    } else if let Some(s) = g.service(handle) {
                        // CLOSE_DELIVERED forgets it; vchiq-core already has.
                        free_info(s);
                        s.is_server = false;
                    }
                }
                Ok(()) => {}
                // The VideoCore closed it first (or a server that was not open).
                Err(EINVAL) if !remove => {}
                Err(e) => return Err(io(e)),
            }
        }
        // With the close-delivered handshake, wait for the process's completion thread to
        // see SERVICE_CLOSED.
        let mut g = self.inner.lock();
        loop {
            match g.service(handle) {
                Some(s) if s.close_pending => {}
                _ => return Ok(()),
            }
            if g.closing {
                return Ok(());
            }
            if self.changed.wait_interruptible(&mut g) {
                return Err(EINTR);
            }
        }
    }

    fn close_delivered(&self, handle: u32) -> Result {
        let mut g = self.inner.lock();
        match g.service(handle) {
            // A server that listens again keeps its handle.
            Some(s) if s.close_pending && s.is_server => s.close_pending = false,
            Some(s) if s.close_pending => g.remove_service(handle),
            _ => return Err(EINVAL),
        }
        drop(g);
        self.changed.notify_all();
        Ok(())
    }

    fn queue_message(&self, layout: Layout, arg: usize) -> Result {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.queue_size())?;
        let handle = a.u32(Layout::QUEUE_HANDLE);
        let count = a.u32(Layout::QUEUE_COUNT) as usize;
        let elements = a.ptr(Layout::QUEUE_ELEMENTS);
        self.own(handle)?;
        if count > abi::MAX_ELEMENTS {
            return Err(EINVAL);
        }
        let esize = layout.element_size();
        let mut table = [0u8; 16 * abi::MAX_ELEMENTS];
        let tbytes = table.get_mut(..count * esize).ok_or(EINVAL)?;
        user(elements, tbytes.len())?.reader().read_slice(tbytes)?;
        let mut msg = KVec::with_capacity(MSG_BUF, GFP_KERNEL)?;
        for i in 0..count {
            let mut e = Args::<16>::new(layout, esize);
            e.used_mut()
                .copy_from_slice(tbytes.get(i * esize..(i + 1) * esize).ok_or(EINVAL)?);
            let data = e.ptr(0);
            let len = e.u32(layout.element_len()) as usize;
            if len == 0 {
                continue;
            }
            if data == 0 {
                return Err(EFAULT);
            }
            // Too big for one message: the core's generic failure.
            if len > MSG_BUF - 8 - msg.len() {
                return Err(EIO);
            }
            let at = msg.len();
            msg.resize(at + len, 0, GFP_KERNEL)?;
            user(data, len)?
                .reader()
                .read_slice(msg.get_mut(at..).ok_or(EINVAL)?)?;
        }
        // Mainline refuses empty messages (the core's generic failure).
        if msg.is_empty() {
            return Err(EIO);
        }
        // SAFETY: `raw` is live; `msg` is valid for its length during the call.
        check(unsafe {
            ffi::vchiq_queue_kernel_message(
                self.raw,
                handle,
                msg.as_mut_ptr().cast(),
                msg.len() as c_uint,
            )
        })
        .map_err(io)
    }

    fn queue_bulk(&self, layout: Layout, arg: usize, dir: c_int) -> Result {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.bulk_size())?;
        let handle = a.u32(Layout::BULK_HANDLE);
        let data = a.ptr(layout.bulk_data());
        let len = a.u32(layout.bulk_len());
        let userdata = a.ptr(layout.bulk_userdata());
        let mode = a.u32(layout.bulk_mode());
        self.own(handle)?;
        let cookie = match mode {
            abi::MODE_WAITING => {
                let tid = current_tid();
                let mut g = self.inner.lock();
                let i = g.waiters.iter().position(|w| w.0 == tid).ok_or(ESRCH)?;
                g.waiters.remove(i)?.1
            }
            abi::MODE_CALLBACK | abi::MODE_NOCALLBACK | abi::MODE_BLOCKING => {
                let data = usize::try_from(data).map_err(|_| EFAULT)?;
                let mut cookie = 0u32;
                // SAFETY: `raw` is live; `data` is a user address of the calling process, which
                // vchiq-core pins; `cookie` is valid for a write.
                check(unsafe {
                    ffi::vchiq_rs_bulk_user(
                        self.raw,
                        handle,
                        data as *mut c_void,
                        len,
                        userdata as usize as *mut c_void,
                        mode as c_int,
                        dir,
                        &mut cookie,
                    )
                })
                .map_err(io)?;
                if mode != abi::MODE_BLOCKING {
                    return Ok(());
                }
                cookie
            }
            _ => return Err(EINVAL),
        };
        // SAFETY: `raw` is live; the cookie is one of this instance's blocking transfers.
        match check(unsafe { ffi::vchiq_rs_bulk_wait(self.raw, cookie) }) {
            Err(EINTR) => {
                // SAFETY: FFI call without arguments about the current task.
                if unsafe { vchiq_dev_fatal_signal_pending() } {
                    // SAFETY: as above.
                    unsafe { ffi::vchiq_rs_bulk_forget(self.raw, cookie) };
                    return Err(EINTR);
                }
                // Keep the waiter for this thread, and tell the library to resume it.
                let saved = self
                    .inner
                    .lock()
                    .waiters
                    .push((current_tid(), cookie), GFP_KERNEL);
                if saved.is_err()
                    || write_u32(field(arg, layout.bulk_mode()), abi::MODE_WAITING).is_err()
                {
                    let mut g = self.inner.lock();
                    g.waiters.retain(|w| w.1 != cookie);
                    drop(g);
                    // SAFETY: as above.
                    unsafe { ffi::vchiq_rs_bulk_forget(self.raw, cookie) };
                }
                Err(EINTR)
            }
            r => r.map_err(io),
        }
    }

    fn await_completion(&self, layout: Layout, arg: usize) -> Result<isize> {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.await_size())?;
        let count = a.u32(Layout::AWAIT_COUNT) as usize;
        let buf = a.ptr(layout.await_buf());
        let msgbufsize = a.u32(layout.await_msgbufsize()) as usize;
        let msgbufcount0 = a.u32(layout.await_msgbufcount());
        let msgbufs = a.ptr(layout.await_msgbufs());
        let mut msgbufcount = msgbufcount0;
        if !self.inner.lock().connected {
            return Err(ENOTCONN);
        }
        let _serial = self.await_lock.lock();
        let mut kbuf: KVec<u8> = KVec::new();
        let rsize = layout.record_size();
        let mut done = 0usize;
        let mut result: Result = Ok(());
        while done < count {
            let rec = {
                let mut g = self.inner.lock();
                while g.records.is_empty() && !g.closing && done == 0 {
                    if self.changed.wait_interruptible(&mut g) {
                        return Err(EINTR);
                    }
                }
                if g.records.is_empty() {
                    break;
                }
                g.records.remove(0)?
            };
            let mut out = Args::<32>::new(layout, rsize);
            out.set_u32(0, rec.reason as u32);
            out.set_ptr(layout.record_service_userdata(), rec.service_userdata);
            out.set_ptr(layout.record_cb_userdata(), rec.cb_userdata);
            if rec.reason == REASON_MESSAGE && rec.header != 0 {
                if msgbufcount == 0 {
                    self.push_front(rec);
                    break;
                }
                // The process's buffer `msgbufs[msgbufcount - 1]`, found before the message
                // is taken, so that a bad array loses nothing.
                let mut p = Args::<8>::new(layout, layout.ptr);
                let dst = u64::from(msgbufcount - 1)
                    .checked_mul(layout.ptr as u64)
                    .and_then(|o| msgbufs.checked_add(o))
                    .ok_or(EFAULT)
                    .and_then(|slot| user(slot, layout.ptr))
                    .and_then(|u| u.reader().read_slice(p.used_mut()))
                    .map(|()| p.ptr(0));
                let Ok(dst) = dst else {
                    self.push_front(rec);
                    if done == 0 {
                        result = Err(EFAULT);
                    }
                    break;
                };
                if kbuf.is_empty() {
                    kbuf.resize(MSG_BUF, 0, GFP_KERNEL)?;
                }
                let room = core::cmp::min(msgbufsize, MSG_BUF);
                // SAFETY: `raw` is live; `kbuf` has `room` bytes.
                let n = unsafe {
                    ffi::vchiq_rs_take_message(
                        self.raw,
                        rec.handle,
                        rec.header as *mut c_void,
                        kbuf.as_mut_ptr().cast(),
                        room as c_uint,
                    )
                };
                if n == EMSGSIZE.to_errno() {
                    self.push_front(rec);
                    if done == 0 {
                        result = Err(EMSGSIZE);
                    }
                    break;
                }
                if n < 0 {
                    // The service closed meanwhile and took its messages with it.
                    continue;
                }
                let copied = kbuf
                    .get(..8 + n as usize)
                    .ok_or(EINVAL)
                    .and_then(|msg| user(dst, msg.len())?.writer().write_slice(msg));
                if copied.is_err() {
                    // The message is lost to the fault, as in mainline.
                    if done == 0 {
                        result = Err(EFAULT);
                    }
                    break;
                };
                msgbufcount -= 1;
                out.set_ptr(layout.record_header(), dst);
            } else if rec.reason == REASON_MESSAGE {
                if let Some(s) = self.inner.lock().service(rec.handle) {
                    s.msg_available_pending = false;
                }
            }
            let at = buf.wrapping_add((done * rsize) as u64);
            if user(at, rsize)
                .and_then(|u| u.writer().write_slice(out.used()))
                .is_err()
            {
                if rec.header == 0 {
                    self.push_front(rec);
                }
                if done == 0 {
                    result = Err(EFAULT);
                }
                break;
            }
            if rec.reason == REASON_CLOSED {
                let mut g = self.inner.lock();
                let server = g.service(rec.handle).is_some_and(|s| s.is_server);
                // A server listens again and keeps its handle.
                if !g.use_close_delivered && !server {
                    g.remove_service(rec.handle);
                }
            }
            done += 1;
        }
        if msgbufcount != msgbufcount0
            && write_u32(field(arg, layout.await_msgbufcount()), msgbufcount).is_err()
        {
            return Err(EFAULT);
        }
        result?;
        Ok(done as isize)
    }

    fn push_front(&self, rec: Record) {
        let mut g = self.inner.lock();
        if insert_front(&mut g.records, rec).is_err() {
            g.dropped = g.dropped.wrapping_add(1);
        }
    }

    fn dequeue_message(&self, layout: Layout, arg: usize) -> Result<isize> {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.dequeue_size())?;
        let handle = a.u32(Layout::DEQUEUE_HANDLE);
        let blocking = a.u32(Layout::DEQUEUE_BLOCKING) != 0;
        let bufsize = a.u32(Layout::DEQUEUE_BUFSIZE) as usize;
        let buf = a.ptr(layout.dequeue_buf());
        let header = {
            let mut g = self.inner.lock();
            loop {
                let closing = g.closing;
                let s = g.service(handle).ok_or(EINVAL)?;
                if !s.is_vchi {
                    return Err(EINVAL);
                }
                if !s.msgs.is_empty() {
                    s.dequeue_pending = false;
                    break s.msgs.remove(0)?;
                }
                if s.closed || closing {
                    return Err(ENOTCONN);
                }
                if !blocking {
                    return Err(EAGAIN);
                }
                s.dequeue_pending = true;
                if self.changed.wait_interruptible(&mut g) {
                    if let Some(s) = g.service(handle) {
                        s.dequeue_pending = false;
                    }
                    return Err(EINTR);
                }
            }
        };
        let mut kbuf = KVec::<u8>::new();
        kbuf.resize(MSG_BUF, 0, GFP_KERNEL)?;
        let room = core::cmp::min(bufsize.saturating_add(8), MSG_BUF);
        // SAFETY: `raw` is live; `kbuf` has `room` bytes.
        let n = unsafe {
            ffi::vchiq_rs_take_message(
                self.raw,
                handle,
                header as *mut c_void,
                kbuf.as_mut_ptr().cast(),
                room as c_uint,
            )
        };
        if n < 0 {
            if n == EMSGSIZE.to_errno() {
                // Unlike mainline, the message is not lost: it stays first in the queue.
                let mut g = self.inner.lock();
                if let Some(s) = g.service(handle) {
                    let _ = insert_front(&mut s.msgs, header);
                }
                return Err(EMSGSIZE);
            }
            return Err(ENOTCONN);
        }
        let payload = kbuf.get(8..8 + n as usize).ok_or(EINVAL)?;
        if buf != 0 {
            user(buf, payload.len())?.writer().write_slice(payload)?;
        }
        Ok(n as isize)
    }

    fn client_id(&self, handle: u32) -> isize {
        if self.own(handle).is_err() {
            return 0;
        }
        // SAFETY: `raw` is live; `handle` is one of the file's services.
        let id = unsafe { ffi::vchiq_rs_client_id(self.raw, handle) };
        core::cmp::max(id, 0) as isize
    }

    fn get_config(&self, layout: Layout, arg: usize) -> Result {
        let a: Args<{ abi::MAX_ARGS }> = read_args(layout, arg, layout.config_args_size())?;
        let size = a.u32(Layout::CONFIG_SIZE) as usize;
        let cfg = abi::config_bytes();
        let part = cfg.get(..size).ok_or(EINVAL)?;
        user(a.ptr(layout.config_ptr()), size)?
            .writer()
            .write_slice(part)
    }

    fn use_service(&self, handle: u32, up: bool) -> Result {
        self.own(handle)?;
        // SAFETY: `raw` is live; `handle` is one of the file's services.
        let r = unsafe {
            if up {
                ffi::vchiq_use_service(self.raw, handle)
            } else {
                ffi::vchiq_release_service(self.raw, handle)
            }
        };
        check(r).map_err(|_| EINVAL)
    }

    fn set_option(&self, layout: Layout, arg: usize) -> Result {
        let a: Args<{ abi::OPTION_SIZE }> = read_args(layout, arg, abi::OPTION_SIZE)?;
        let handle = a.u32(0);
        let option = a.u32(4) as i32;
        let value = a.u32(8) as i32;
        self.own(handle)?;
        match option {
            abi::OPTION_AUTOCLOSE | abi::OPTION_TRACE => Ok(()),
            abi::OPTION_SLOT_QUOTA | abi::OPTION_MESSAGE_QUOTA => {
                let q = u16::try_from(value)
                    .ok()
                    .filter(|q| *q != u16::MAX)
                    .ok_or(EINVAL)?;
                let (slot, msg) = if option == abi::OPTION_SLOT_QUOTA {
                    (q, 0)
                } else {
                    (0, q)
                };
                // SAFETY: `raw` is live; `handle` is one of the file's services.
                check(unsafe { ffi::vchiq_rs_set_quota(self.raw, handle, slot, msg) })
            }
            // Only for server services, which the VideoCore opens; none exist here.
            abi::OPTION_SYNCHRONOUS => Err(EINVAL),
            _ => Err(EINVAL),
        }
    }

    fn lib_version(&self, version: usize) -> Result {
        if version < 3 {
            return Err(EINVAL);
        }
        if version >= 7 {
            self.inner.lock().use_close_delivered = true;
        }
        Ok(())
    }
}
