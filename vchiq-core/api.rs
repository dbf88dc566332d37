// SPDX-License-Identifier: GPL-2.0

//! The service API of one device: what kernel clients (through the C ABI in `cabi.rs`) can
//! do with a VCHIQ connection. Every operation validates its arguments against the registry,
//! waits for the VideoCore with a timeout where the protocol has an answer to wait for, and
//! reports errors as errnos.

use crate::bulk::{Entry as BulkEntry, Mode, Outcome, Transfer};
use crate::engine::to_kernel_err;
use crate::engine::{
    BulkDir, Error as EngineError, Handle, ServerOptions, ServiceParams, HEADER_SIZE, MAX_MSG_SIZE,
};
use crate::services::{Client, Phase};
use crate::state::{ConnectState, InnerGuard, VchiqState};
use core::ffi::c_void;
use kernel::prelude::*;

/// How often an uninterruptible bulk wait looks at the table again without a wake-up.
const BULK_RECHECK_MS: u32 = 100;

/// Whether `handle`'s close has been delivered: a client service is gone, a server listens
/// again.
fn closed_and_delivered(inner: &mut crate::state::Inner, handle: Handle) -> bool {
    inner
        .services
        .get(handle)
        .is_none_or(|e| e.phase == Phase::Listening)
}

impl VchiqState {
    /// Connects to the VideoCore (once per device; later calls wait for the first).
    pub(crate) fn connect(&self) -> Result {
        let mut inner = self.lock_live()?;
        if inner.connect == ConnectState::Idle {
            inner.engine.connect().map_err(to_kernel_err)?;
            inner.connect = ConnectState::Sent;
            self.flush_doorbell(&mut inner);
        }
        let _inner = self.wait_changed(inner, |i| Ok(i.engine.is_connected()))?;
        Ok(())
    }

    /// Opens service `params.fourcc` on the VideoCore. Errors: `ENOTCONN` before connecting,
    /// `ECONNREFUSED` if the VideoCore refuses (no listener, versions), `ETIMEDOUT`.
    pub(crate) fn open(
        &self,
        params: ServiceParams,
        client: Client,
        client_id: u32,
    ) -> Result<Handle> {
        if params.fourcc == 0 {
            return Err(EINVAL);
        }
        let inner = self.lock_live()?;
        if !inner.engine.is_connected() {
            return Err(ENOTCONN);
        }
        let mut handle = None;
        let mut inner =
            self.wait_changed(inner, |i| match i.engine.open_service(params, client_id) {
                Ok(h) => {
                    handle = Some(h);
                    Ok(true)
                }
                Err(EngineError::WouldBlock) => Ok(false),
                Err(e) => Err(to_kernel_err(e)),
            })?;
        let handle = handle.ok_or(EINVAL)?;
        if let Err(e) = inner.services.insert(handle, client) {
            let _ = inner.engine.close_service(handle);
            return Err(e);
        }
        self.flush_doorbell(&mut inner);
        let r = self.wait_changed(inner, |i| {
            Ok(i.services
                .get(handle)
                .is_none_or(|e| e.phase != Phase::Opening))
        });
        match r {
            Ok(inner) => self.settle_open(inner, handle, ECONNREFUSED),
            // Interrupted, timed out or unbound: where the open got to is looked at again
            // under the lock, since the VideoCore's answer may have come meanwhile.
            Err(e) => self.settle_open(self.inner.lock(), handle, e),
        }
    }

    /// How an open that stopped waiting ends, under the lock. Once the OPENACK has been
    /// handled (phase `Open`, or `Closed` when the VideoCore's CLOSE came in the same batch)
    /// a callback batch may already carry the service and its client's data: the open then
    /// succeeds (a pending signal is seen by the caller's next wait; a close is delivered as
    /// SERVICE_CLOSED), so that the caller never frees what a callback still uses. Only an
    /// entry still `Opening` (no callback can target it: messages need `Open`) or refused is
    /// forgotten; a late OPENACK then finds no entry and closes the service again.
    fn settle_open<'a>(
        &'a self,
        mut inner: InnerGuard<'a>,
        handle: Handle,
        err: Error,
    ) -> Result<Handle> {
        let phase = inner.services.get(handle).map(|e| e.phase);
        if inner.dead {
            // No CLOSE after unbind; wait for a batch in flight, which may carry the service.
            inner.services.remove(handle);
            return Err(self.quiesce(inner));
        }
        match phase {
            Some(Phase::Open | Phase::Closed) => Ok(handle),
            Some(Phase::Rejected) => {
                inner.services.remove(handle);
                Err(ECONNREFUSED)
            }
            Some(_) => {
                inner.services.remove(handle);
                Err(err)
            }
            // Opened, closed and its SERVICE_CLOSED delivered: every callback is over.
            None => Err(ECONNREFUSED),
        }
    }

    /// The error of an API call on a dead device, returned once no callback batch is in
    /// flight any more (the threads stop, so it ends soon): the caller may then free what
    /// its callbacks use. Gives up after the reply timeout (logged).
    fn quiesce<'a>(&'a self, inner: InnerGuard<'a>) -> Error {
        if self.wait_delivered(inner).is_none() {
            pr_warn!("vchiq: a client callback does not return after unbind\n");
        }
        ESHUTDOWN
    }

    /// Creates a server service that the VideoCore may open (`vchiq_add_service`): hidden
    /// until the device connects, then listening. Its client gets SERVICE_OPENED when the
    /// VideoCore opens it, and SERVICE_CLOSED (after which it listens again) when it closes.
    pub(crate) fn add_service(&self, params: ServiceParams, client: Client) -> Result<Handle> {
        if params.fourcc == 0 {
            return Err(EINVAL);
        }
        let mut inner = self.lock_live()?;
        let handle = inner
            .engine
            .add_service(params, ServerOptions::default())
            .map_err(to_kernel_err)?;
        if let Err(e) = inner.services.insert_server(handle, client) {
            let _ = inner.engine.remove_service(handle);
            return Err(e);
        }
        Ok(handle)
    }

    /// Removes a service (`vchiq_remove_service`): a listening server is freed at once
    /// (without callbacks), one the VideoCore just closed once its SERVICE_CLOSED callback
    /// returned; an open service, server or client, is closed as by [`VchiqState::close`] and
    /// then freed.
    pub(crate) fn remove(&self, handle: Handle) -> Result {
        self.remove_as(handle, true)
    }

    /// [`VchiqState::remove`], with waits that signals do not end unless `interruptible`.
    pub(crate) fn remove_as(&self, handle: Handle, interruptible: bool) -> Result {
        self.remove_wait(handle, interruptible)
            .map_err(|e| self.settle_dead(e))
    }

    fn remove_wait(&self, handle: Handle, interruptible: bool) -> Result {
        {
            // Dead first: removing a server the VideoCore opened queues a CLOSE into the
            // transmit slots, which may be freed memory after unbind.
            let mut inner = self.lock_live()?;
            let e = inner.services.get(handle).ok_or(EINVAL)?;
            // A server stays valid through a close of the VideoCore's (it listens again).
            let mut closing = e.phase == Phase::Closed && e.server;
            match (e.phase, e.server) {
                (Phase::Listening, _) => {
                    inner.services.remove(handle);
                    return inner.engine.remove_service(handle).map_err(to_kernel_err);
                }
                (_, true) => {
                    // From now on a client: its close ends in a free, not in listening.
                    e.server = false;
                    match inner.engine.remove_service(handle) {
                        // The close is under way (or done): the VideoCore may confirm it, and
                        // the slot handler deliver its SERVICE_CLOSED, before we look again,
                        // so `close_wait` (which reports a closed service as gone) is not
                        // for it.
                        Ok(()) => closing = true,
                        // No slot for the CLOSE yet: `close_wait` retries it.
                        Err(EngineError::WouldBlock) => {}
                        Err(e) => return Err(to_kernel_err(e)),
                    }
                    self.flush_doorbell(&mut inner);
                }
                _ => {}
            }
            if closing {
                // Removed once its SERVICE_CLOSED has been delivered (the entry goes then).
                return self.wait_close_delivered(inner, handle, interruptible);
            }
        }
        self.close_wait(handle, interruptible)
    }

    /// Closes a service and waits until the VideoCore has acknowledged it and the client has
    /// had its SERVICE_CLOSED callback.
    pub(crate) fn close(&self, handle: Handle) -> Result {
        self.close_as(handle, true)
    }

    /// [`VchiqState::close`], with waits that signals do not end unless `interruptible`.
    /// On an unbound device (`ESHUTDOWN`) it returns once no callback batch is in flight.
    pub(crate) fn close_as(&self, handle: Handle, interruptible: bool) -> Result {
        self.close_wait(handle, interruptible)
            .map_err(|e| self.settle_dead(e))
    }

    /// `e`, after [`VchiqState::quiesce`] if it says the device is gone.
    fn settle_dead(&self, e: Error) -> Error {
        if e == ESHUTDOWN {
            self.quiesce(self.inner.lock())
        } else {
            e
        }
    }

    fn close_wait(&self, handle: Handle, interruptible: bool) -> Result {
        let mut inner = self.lock_live()?;
        match inner.services.get(handle).map(|e| e.phase) {
            // Nothing to close (mainline: EINVAL); `remove` frees a listening server.
            None | Some(Phase::Listening) => return Err(EINVAL),
            Some(Phase::Closed) => {
                // Closed already (by the VideoCore): its SERVICE_CLOSED callback may still be
                // running. Wait until it has been delivered, so that the client may free what
                // the callback uses, and report the handle as gone, as after the delivery.
                let _inner = self.wait_changed_as(
                    inner,
                    |i| Ok(closed_and_delivered(i, handle)),
                    interruptible,
                )?;
                return Err(EINVAL);
            }
            Some(_) => {}
        }
        let inner = self.wait_changed_as(
            inner,
            |i| match i.engine.close_service(handle) {
                Ok(()) => Ok(true),
                // Already closing (from the VideoCore's side, or a retry).
                Err(EngineError::Closed) | Err(EngineError::BadHandle) => Ok(true),
                Err(EngineError::WouldBlock) => Ok(false),
                Err(e) => Err(to_kernel_err(e)),
            },
            interruptible,
        )?;
        let mut inner = inner;
        self.flush_doorbell(&mut inner);
        self.wait_close_delivered(inner, handle, interruptible)
    }

    /// Waits, after a close of `handle` is under way, until its SERVICE_CLOSED callback has
    /// been delivered (the slot handler is kicked first: it may have work for the close, such
    /// as aborted bulks).
    fn wait_close_delivered<'a>(
        &'a self,
        inner: InnerGuard<'a>,
        handle: Handle,
        interruptible: bool,
    ) -> Result {
        drop(inner);
        self.kick();
        let inner = self.inner.lock();
        let _inner = self.wait_changed_as(
            inner,
            |i| Ok(closed_and_delivered(i, handle)),
            interruptible,
        )?;
        Ok(())
    }

    /// Sends the CLOSE of `handle` without waiting for the VideoCore (a shutdown that already
    /// timed out once): a listening server is removed, anything else closed, with the slot
    /// handler retrying the CLOSE if no slot is free (`Inner::orphans`). The VideoCore's
    /// listener is freed when its CLOSE arrives; the caller then detaches the service.
    pub(crate) fn close_nowait(&self, handle: Handle) {
        let Ok(mut inner) = self.lock_live() else {
            return;
        };
        match inner.services.get(handle).map(|e| e.phase) {
            Some(Phase::Listening) => {
                let _ = inner.engine.remove_service(handle);
            }
            Some(Phase::Open | Phase::Opening) => inner.abandon(handle),
            _ => {}
        }
        self.flush_doorbell(&mut inner);
    }

    /// Queues a DATA message, waiting for slots or quota if needed, for at most
    /// [`REPLY_TIMEOUT_MS`](crate::state::REPLY_TIMEOUT_MS) (`ETIMEDOUT`). Unless
    /// `interruptible`, no signal ends the wait, not even a fatal one: a kernel client's
    /// message is often one of a sequence that the VideoCore must receive whole (a header and
    /// its data, or the FREE of memory it still maps), sent by a process that may be being
    /// killed. (Mainline 7.3's slot wait ends on any signal, its quota waits on a fatal one,
    /// and it has no timeout.) `/dev/vchiq` queues interruptibly (`EINTR`), for the process it
    /// acts for.
    pub(crate) fn queue_message_as(
        &self,
        handle: Handle,
        data: &[u8],
        interruptible: bool,
    ) -> Result {
        let inner = self.lock_live()?;
        let done = |i: &mut crate::state::Inner| {
            if i.services
                .get(handle)
                .is_none_or(|e| e.phase != Phase::Open)
            {
                return Err(EINVAL);
            }
            match i.engine.send_data(handle, data) {
                Ok(()) => Ok(true),
                Err(EngineError::WouldBlock) => Ok(false),
                Err(e) => Err(to_kernel_err(e)),
            }
        };
        let mut inner = self.wait_changed_as(inner, done, interruptible)?;
        self.flush_doorbell(&mut inner);
        Ok(())
    }

    /// Releases a message delivered to `handle`'s client; `header` is the pointer it got.
    pub(crate) fn release_message(&self, handle: Handle, header: *const u8) -> Result {
        let off = self.slot_offset(header).ok_or(EINVAL)?;
        let mut inner = self.lock_live()?;
        // Drop it from the hold queue too, if it was pushed there.
        if let Some(e) = inner.services.get(handle) {
            e.queue.retain(|h| *h != off);
        }
        let msg = inner.services.unhold(handle, off).ok_or(EINVAL)?;
        inner.engine.release(&msg).map_err(to_kernel_err)?;
        self.flush_doorbell(&mut inner);
        Ok(())
    }

    /// Copies a message delivered to `handle`'s client (its header, then the payload, with
    /// the size the engine validated) into `buf`; the message stays held. Returns the payload
    /// size. `EMSGSIZE` if `buf` is too short; `EINVAL` if the message is not held (released,
    /// or its service closed).
    pub(crate) fn read_message(
        &self,
        handle: Handle,
        header: *const u8,
        buf: &mut [u8],
    ) -> Result<u32> {
        let off = self.slot_offset(header).ok_or(EINVAL)?;
        let inner = self.lock_live()?;
        self.copy_held(&inner, handle, off, buf)
    }

    /// [`VchiqState::read_message`], and then releases the message (not when the copy failed).
    pub(crate) fn take_message(
        &self,
        handle: Handle,
        header: *const u8,
        buf: &mut [u8],
    ) -> Result<u32> {
        let off = self.slot_offset(header).ok_or(EINVAL)?;
        let mut inner = self.lock_live()?;
        let size = self.copy_held(&inner, handle, off, buf)?;
        if let Some(e) = inner.services.get(handle) {
            e.queue.retain(|h| *h != off);
        }
        let msg = inner.services.unhold(handle, off).ok_or(EINVAL)?;
        inner.engine.release(&msg).map_err(to_kernel_err)?;
        self.flush_doorbell(&mut inner);
        Ok(size)
    }

    /// Copies the held message at slot offset `off` out of the slot memory.
    fn copy_held(
        &self,
        inner: &crate::state::Inner,
        handle: Handle,
        off: u32,
        buf: &mut [u8],
    ) -> Result<u32> {
        let msg = inner.services.held_msg(handle, off).ok_or(EINVAL)?;
        // The engine must still hold its slot (same epoch): a message a close released may
        // have had its slot recycled, and the bytes there are another message's.
        inner.engine.read(&msg, &mut []).map_err(|_| EINVAL)?;
        let total = HEADER_SIZE
            .checked_add(msg.size)
            .filter(|t| *t <= HEADER_SIZE + MAX_MSG_SIZE)
            .ok_or(EINVAL)?;
        let dst = buf.get_mut(..total as usize).ok_or(EMSGSIZE)?;
        if !self.shm.read_bytes(off, dst) {
            return Err(EINVAL);
        }
        // The size as validated, whatever the slot says now.
        if let Some(size) = dst.get_mut(4..8) {
            size.copy_from_slice(&msg.size.to_ne_bytes());
        }
        Ok(msg.size)
    }

    /// `vchiq_msg_queue_push`: keeps a delivered message for a later `msg_hold`.
    pub(crate) fn msg_queue_push(&self, handle: Handle, header: *const u8) -> Result {
        let off = self.slot_offset(header).ok_or(EINVAL)?;
        let mut inner = self.lock_live()?;
        if !inner.services.holds(handle, off) {
            return Err(EINVAL);
        }
        let e = inner.services.get(handle).ok_or(EINVAL)?;
        e.queue.push(off, GFP_KERNEL)?;
        Ok(())
    }

    /// `vchiq_msg_hold`: the oldest pushed message, if any.
    pub(crate) fn msg_hold(&self, handle: Handle) -> Option<*mut u8> {
        let mut inner = self.lock_live().ok()?;
        let e = inner.services.get(handle)?;
        if e.queue.is_empty() {
            return None;
        }
        let off = e.queue.remove(0).ok()?;
        self.slot_ptr(off)
    }

    /// The version the VideoCore's service announced.
    pub(crate) fn peer_version(&self, handle: Handle) -> Result<u16> {
        let mut inner = self.lock_live()?;
        inner
            .services
            .get(handle)
            .map(|e| e.peer_version)
            .ok_or(EINVAL)
    }

    /// The user data a service was opened with. It works after unbind too (it reads only the
    /// registry): a callback batch in flight when the device died still looks its services
    /// up, and the typed API frees a kept handler only once this no longer finds it.
    pub(crate) fn service_userdata(&self, handle: Handle) -> Option<*mut c_void> {
        let mut inner = self.inner.lock();
        inner.services.get(handle).map(|e| e.client.userdata)
    }

    /// `vchiq_use_service` / `vchiq_release_service`: the use count, which keeps the
    /// VideoCore awake on a Pi. Counted and shown in debugfs; no power management exists.
    pub(crate) fn use_service(&self, handle: Handle, up: bool) -> Result {
        let mut inner = self.lock_live()?;
        let e = inner.services.get(handle).ok_or(EINVAL)?;
        if up {
            e.use_count = e.use_count.checked_add(1).ok_or(EINVAL)?;
        } else {
            e.use_count = e.use_count.checked_sub(1).ok_or(EINVAL)?;
        }
        Ok(())
    }

    /// Forgets what a departing `instance` still has after its services were closed (a
    /// close that timed out): its services (their held messages are released; what the
    /// VideoCore still sends for them is dropped) and its bulks (they end in the
    /// background), then waits until no callback batch is in flight, since one may target
    /// the instance. Returns false if callbacks are still running after the reply timeout:
    /// the caller must then not free the instance.
    pub(crate) fn detach(&self, instance: *mut c_void) -> bool {
        let mut inner = self.inner.lock();
        let mut mine = KVec::new();
        for e in inner.services.entries() {
            if e.client.instance == instance && mine.push(e.handle, GFP_KERNEL).is_err() {
                return false;
            }
        }
        for h in mine {
            let held = inner.services.take_held(h);
            // After unbind the messages' slots may be freed memory: they are only forgotten
            // (the engine that counted them is gone with the device).
            if !inner.dead {
                for m in held {
                    let _ = inner.engine.release(&m);
                }
            }
            inner.services.remove(h);
        }
        inner.bulks.detach(instance);
        self.flush_doorbell(&mut inner);
        // Also on a dead device, whose threads are stopping.
        self.wait_delivered(inner).is_some()
    }

    /// Services whose client is `instance` (for shutdown).
    pub(crate) fn services_of(&self, instance: *mut c_void) -> KVec<Handle> {
        let inner = self.inner.lock();
        let mut v = KVec::new();
        for e in inner.services.entries() {
            if e.client.instance == instance {
                let _ = v.push(e.handle, GFP_KERNEL);
            }
        }
        v
    }

    /// A blocking bulk transfer of kernel memory whose wait nothing interrupts: it returns
    /// only once the transfer has ended (`Ok`, `EINVAL` if aborted: the service closed) or,
    /// after unbind (`ESHUTDOWN`), once the teardown has unmapped it. The buffer may be
    /// reused as soon as it returns; the typed API's safe blocking bulks rely on that.
    pub(crate) fn bulk_kernel_blocking(
        &self,
        handle: Handle,
        buf: *const u8,
        len: u32,
        dir: BulkDir,
    ) -> Result {
        let client = self.open_client(handle)?;
        let transfer = Transfer::new_kernel(&self.dev, buf, len, dir)?;
        let cookie = self.bulk_queue(
            handle,
            client,
            transfer,
            dir,
            Mode::Blocking,
            core::ptr::null_mut(),
        )?;
        self.bulk_wait_as(cookie, client.instance, false)
    }

    /// Queues a bulk transfer of kernel memory. In blocking mode waits for the outcome
    /// (`EINVAL` if aborted, `EINTR` if interrupted; the transfer then stays queued and owns
    /// the buffer until it completes or the service closes).
    pub(crate) fn bulk_kernel(
        &self,
        handle: Handle,
        buf: *const u8,
        len: u32,
        dir: BulkDir,
        mode: Mode,
        userdata: *mut c_void,
    ) -> Result {
        let client = self.open_client(handle)?;
        let transfer = Transfer::new_kernel(&self.dev, buf, len, dir)?;
        let cookie = self.bulk_queue(handle, client, transfer, dir, mode, userdata)?;
        if mode != Mode::Blocking {
            return Ok(());
        }
        let r = self.bulk_wait(cookie, client.instance);
        if r == Err(EINTR) {
            // Leave it to complete in the background as a no-callback bulk.
            self.bulk_forget(cookie, client.instance);
        }
        r
    }

    /// Queues a bulk transfer of the calling process's memory at `uaddr` (pinned until it
    /// ends). Returns the transfer's cookie; a blocking transfer is then waited for with
    /// [`VchiqState::bulk_wait`], and forgotten with [`VchiqState::bulk_forget`] if nobody will wait.
    pub(crate) fn bulk_user(
        &self,
        handle: Handle,
        uaddr: usize,
        len: u32,
        dir: BulkDir,
        mode: Mode,
        userdata: *mut c_void,
    ) -> Result<u32> {
        let client = self.open_client(handle)?;
        let transfer = Transfer::new_user(&self.dev, uaddr, len, dir)?;
        self.bulk_queue(handle, client, transfer, dir, mode, userdata)
    }

    /// The client of an open service.
    fn open_client(&self, handle: Handle) -> Result<Client> {
        // Before any page is pinned or mapped: after unbind, `ESHUTDOWN` and nothing else.
        let mut inner = self.lock_live()?;
        let e = inner.services.get(handle).ok_or(EINVAL)?;
        if e.phase != Phase::Open {
            return Err(EINVAL);
        }
        Ok(e.client)
    }

    /// Hands a mapped transfer to the VideoCore; returns its cookie.
    fn bulk_queue(
        &self,
        handle: Handle,
        client: Client,
        mut transfer: Transfer,
        dir: BulkDir,
        mode: Mode,
        userdata: *mut c_void,
    ) -> Result<u32> {
        let len = transfer.len();
        let cls = self.platform.cache_line_size();
        let mut inner = self.lock_live()?;
        if transfer.needs_fragment(cls) {
            let mut frag = None;
            inner = self.wait_changed(inner, |i| {
                frag = i.bulks.claim_fragment();
                Ok(frag.is_some())
            })?;
            if let Some(n) = frag {
                if let Err(e) = transfer.set_fragment(n) {
                    inner.bulks.free_fragment(n);
                    return Err(e);
                }
            }
        }
        if let Err(e) = inner.bulks.reserve() {
            if let Some(n) = transfer.finish(None, &self.frags, cls) {
                inner.bulks.free_fragment(n);
            }
            return Err(e);
        }
        let cookie = inner.bulks.next_cookie();
        let pagelist = transfer.pagelist_bus();
        let r = self.wait_changed(inner, |i| {
            if i.services
                .get(handle)
                .is_none_or(|e| e.phase != Phase::Open)
            {
                return Err(EINVAL);
            }
            match i.engine.queue_bulk(handle, dir, cookie, pagelist, len) {
                Ok(()) => Ok(true),
                Err(EngineError::WouldBlock) => Ok(false),
                Err(e) => Err(to_kernel_err(e)),
            }
        });
        let mut inner = match r {
            Ok(inner) => inner,
            Err(e) => {
                let frag = transfer.finish(None, &self.frags, cls);
                let mut inner = self.inner.lock();
                if let Some(n) = frag {
                    inner.bulks.free_fragment(n);
                }
                return Err(e);
            }
        };
        let entry = BulkEntry {
            cookie,
            mode,
            userdata,
            client: Some(client),
            outcome: Outcome::Pending,
            transfer: Some(transfer),
        };
        // Room was reserved before the bulk was queued: once the VideoCore knows the
        // pagelist, the transfer must stay mapped until it completes.
        inner.bulks.push_reserved(entry);
        self.flush_doorbell(&mut inner);
        Ok(cookie)
    }

    /// Waits for blocking transfer `cookie` of `instance` to end: `Ok` when done, `EINVAL`
    /// if aborted or unknown, `EINTR` on a signal (the transfer stays queued, and may be
    /// waited for again), `ESHUTDOWN` if the device went away. No timeout: the transfer owns
    /// its buffer until it ends.
    pub(crate) fn bulk_wait(&self, cookie: u32, instance: *mut c_void) -> Result {
        self.bulk_wait_as(cookie, instance, true)
    }

    /// [`VchiqState::bulk_wait`]; unless `interruptible`, no signal ends the wait, and after
    /// unbind it returns only once the teardown has unmapped the transfer (the VideoCore
    /// may write the buffer until then).
    fn bulk_wait_as(&self, cookie: u32, instance: *mut c_void, interruptible: bool) -> Result {
        let mut inner = self.inner.lock();
        loop {
            let outcome = match inner.bulks.get(cookie) {
                Some(e) if e.mode == Mode::Blocking && e.is_of(instance) => Some(e.outcome),
                _ => None,
            };
            if inner.dead && (interruptible || outcome.is_none()) {
                return Err(ESHUTDOWN);
            }
            let Some(outcome) = outcome else {
                return Err(EINVAL);
            };
            match outcome {
                Outcome::Done(_) => {
                    let _ = inner.bulks.take(cookie);
                    return Ok(());
                }
                Outcome::Aborted => {
                    let _ = inner.bulks.take(cookie);
                    return Err(EINVAL);
                }
                Outcome::Pending => {}
            }
            if interruptible {
                if self.changed.wait_interruptible(&mut inner) {
                    return Err(EINTR);
                }
                continue;
            }
            // The teardown clears the table without a wake-up: look again now and then.
            let left = kernel::time::msecs_to_jiffies(BULK_RECHECK_MS);
            if let kernel::sync::CondVarTimeoutResult::Signal { .. } =
                self.changed.wait_interruptible_timeout(&mut inner, left)
            {
                // A pending signal ends every interruptible sleep at once: poll instead.
                drop(inner);
                kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
                inner = self.inner.lock();
            }
        }
    }

    /// Gives up waiting for blocking transfer `cookie` of `instance`: it completes in the
    /// background (or is collected now if it has ended).
    pub(crate) fn bulk_forget(&self, cookie: u32, instance: *mut c_void) {
        let mut inner = self.inner.lock();
        let ended = match inner.bulks.get(cookie) {
            Some(e) if e.mode == Mode::Blocking && e.is_of(instance) => {
                e.mode = Mode::NoCallback;
                e.outcome != Outcome::Pending
            }
            _ => return,
        };
        if ended {
            let _ = inner.bulks.take(cookie);
        }
    }

    /// `SET_SERVICE_OPTION` for the quotas: 0 keeps the current value.
    pub(crate) fn set_quota(&self, handle: Handle, slot_quota: u16, msg_quota: u16) -> Result {
        let mut inner = self.lock_live()?;
        inner.services.get(handle).ok_or(EINVAL)?;
        inner
            .engine
            .set_quota(handle, slot_quota, msg_quota)
            .map_err(to_kernel_err)?;
        // Senders waiting for quota may go on.
        self.changed.notify_all();
        Ok(())
    }

    /// The client id of a service (the VideoCore's, for services it opened; ours otherwise).
    pub(crate) fn client_id(&self, handle: Handle) -> Result<u32> {
        let inner = self.lock_live()?;
        inner.engine.client_id(handle).map_err(to_kernel_err)
    }
}
