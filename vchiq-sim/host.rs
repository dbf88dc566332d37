// SPDX-License-Identifier: GPL-2.0

//! The firmware's service host: listeners, the services behind them, their outgoing
//! operations and their bulk buffers.
//!
//! Services (`services/*.rs`) never call the engine directly. They act through a [`Ctx`]:
//! listeners are created and removed at once (so that, for instance, `func`'s second listener
//! is listening before the next ARM message is parsed), while messages, bulks and closes go
//! into a FIFO *outbox* that the host drains into the engine. An operation that would block
//! (no free slot, quota, four bulks outstanding) stays at the head of the outbox and is
//! retried on the next activation, so replies are decoupled from reception and keep their
//! order.
//!
//! Listeners have stable ids ([`Lid`]) that survive the `refuse_open` knob: while it is set,
//! every listening service is removed from the engine (so every OPEN is rejected with a
//! CLOSE, exactly as for an unknown service) and added again when it is cleared.

use crate::engine::{
    log_nth, BulkDir, BulkResult, Engine, Error as EngError, Handle, MsgType, Output,
    ServerOptions, ServiceParams, SrvState, Stall, Tables, MAX_MSG_SIZE,
};
use crate::knobs::{bump, Counters, Knobs};
use crate::services::{self, SimService};
use crate::sys::Dev;
use crate::vpu_shm::VpuShm;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;

/// The VideoCore's engine.
pub(crate) type VpuEngine = Engine<VpuShm, KBox<Tables>>;

/// Outbox length from which no further ARM messages are parsed until it drains.
const OUTBOX_MAX: usize = 256;

/// What the `greet` knob sends on a connection just accepted.
pub(crate) const GREETING: &[u8] = b"greetings";

/// A listener id, stable while the listener exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lid(usize);

/// A service's bulk buffer: bytes `off..off + len` of `data` are transferred.
///
/// # Invariants
///
/// `off + len <= data.len()`.
pub(crate) struct BulkBuf {
    data: KVVec<u8>,
    off: usize,
    len: usize,
}

impl BulkBuf {
    /// A buffer transferring `len` bytes at `off` of `data`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the range is not inside `data`.
    pub(crate) fn new(data: KVVec<u8>, off: usize, len: usize) -> Result<Self> {
        match off.checked_add(len) {
            // INVARIANT: checked.
            Some(end) if end <= data.len() => Ok(Self { data, off, len }),
            _ => Err(EINVAL),
        }
    }

    /// A buffer of `len` bytes, all `fill`, transferred whole.
    pub(crate) fn filled(len: usize, fill: u8) -> Result<Self> {
        let data = KVVec::from_elem(fill, len, GFP_KERNEL)?;
        Self::new(data, 0, len)
    }

    /// The transferred bytes.
    pub(crate) fn region(&self) -> &[u8] {
        // PANIC: cannot fail (type invariant); `get` keeps it panic-free anyway.
        self.data
            .get(self.off..self.off.wrapping_add(self.len))
            .unwrap_or(&[])
    }

    /// The transferred bytes, mutably.
    pub(crate) fn region_mut(&mut self) -> &mut [u8] {
        let end = self.off.wrapping_add(self.len);
        self.data.get_mut(self.off..end).unwrap_or(&mut [])
    }

    /// The whole buffer, including bytes around the transferred region.
    pub(crate) fn all(&self) -> &[u8] {
        &self.data
    }

    /// Offset of the transferred region.
    pub(crate) fn off(&self) -> usize {
        self.off
    }

    /// Length of the transferred region.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// A listener as the host sees it.
struct Listener {
    /// The service (index into `Host::services`) that owns the listener.
    owner: usize,
    params: ServiceParams,
    opts: ServerOptions,
    /// The engine's handle; `None` while removed by `refuse_open`.
    handle: Option<Handle>,
    /// Whether the entry is in use.
    live: bool,
}

/// An operation waiting to reach the engine.
enum Op {
    Send {
        lid: Lid,
        data: KVec<u8>,
    },
    Bulk {
        lid: Lid,
        dir: BulkDir,
        buf: BulkBuf,
        userdata: u64,
    },
    Close {
        lid: Lid,
    },
    /// A DATA message on the connection the VideoCore opened (`open_arm`).
    SendOut {
        data: KVec<u8>,
    },
    Complete {
        handle: Handle,
        dir: BulkDir,
        result: BulkResult,
    },
}

/// A bulk handed to the engine, keyed by its cookie (the index in `Desk::bulks`).
struct BulkSlot {
    lid: Lid,
    userdata: u64,
    buf: BulkBuf,
}

/// Host state a [`Ctx`] works on (everything but the services themselves).
struct Desk {
    listeners: KVec<Listener>,
    outbox: KVec<Op>,
    bulks: KVec<Option<BulkSlot>>,
    /// What the head of the outbox waits for, if it is blocked.
    blocked: Option<Stall>,
    /// Listeners are currently removed because of `refuse_open`.
    refusing: bool,
    /// The VideoCore's connection to an ARM server (`open_arm`) and its fourcc.
    outgoing: Option<(Handle, u32)>,
}

impl Desk {
    fn listener(&self, lid: Lid) -> Option<&Listener> {
        self.listeners.get(lid.0).filter(|l| l.live)
    }

    fn handle(&self, lid: Lid) -> Option<Handle> {
        self.listener(lid).and_then(|l| l.handle)
    }

    fn by_handle(&self, h: Handle) -> Option<(Lid, usize)> {
        self.listeners
            .iter()
            .enumerate()
            .find(|(_, l)| l.live && l.handle == Some(h))
            .map(|(i, l)| (Lid(i), l.owner))
    }
}

/// What a service may do from its callbacks.
pub(crate) struct Ctx<'a> {
    eng: &'a mut VpuEngine,
    desk: &'a mut Desk,
    owner: usize,
    counters: &'a Counters,
    dev: Dev,
}

impl Ctx<'_> {
    /// The device whose bus addresses the ARM's memory has (for DMA by bus address).
    pub(crate) fn dev(&self) -> &Dev {
        &self.dev
    }

    /// The simulator's counters.
    pub(crate) fn counters(&self) -> &Counters {
        self.counters
    }

    /// Creates a listener owned by the calling service. It listens at once (or, while
    /// `refuse_open` is set, as soon as that is cleared).
    pub(crate) fn add_listener(
        &mut self,
        params: ServiceParams,
        opts: ServerOptions,
    ) -> Result<Lid> {
        let handle = if self.desk.refusing {
            None
        } else {
            Some(
                self.eng
                    .add_service(params, opts)
                    .map_err(crate::engine::to_kernel_err)?,
            )
        };
        let l = Listener {
            owner: self.owner,
            params,
            opts,
            handle,
            live: true,
        };
        if let Some((i, slot)) = self
            .desk
            .listeners
            .iter_mut()
            .enumerate()
            .find(|(_, l)| !l.live)
        {
            *slot = l;
            return Ok(Lid(i));
        }
        self.desk.listeners.push(l, GFP_KERNEL)?;
        Ok(Lid(self.desk.listeners.len().saturating_sub(1)))
    }

    /// Removes a listener. A connected one is closed first; no callback follows.
    pub(crate) fn remove_listener(&mut self, lid: Lid) {
        let Some(l) = self.desk.listeners.get_mut(lid.0).filter(|l| l.live) else {
            return;
        };
        l.live = false;
        if let Some(h) = l.handle.take() {
            if self.eng.remove_service(h).is_err() {
                bump(&self.counters.errors);
            }
        }
    }

    /// Closes the connection of a listener (a listener in CLOSEWAIT listens again at once).
    pub(crate) fn close(&mut self, lid: Lid) -> Result {
        if let Some(h) = self.desk.handle(lid) {
            if self.eng.service_state(h) == Ok(SrvState::CloseWait) {
                // Never blocks: the service goes straight back to listening, which must be
                // visible before the next ARM message is parsed.
                return self
                    .eng
                    .close_service(h)
                    .map_err(crate::engine::to_kernel_err);
            }
        }
        self.desk.outbox.push(Op::Close { lid }, GFP_KERNEL)?;
        Ok(())
    }

    /// Sends a DATA message (at most 4088 bytes) on a listener's connection.
    pub(crate) fn send(&mut self, lid: Lid, data: &[u8]) -> Result {
        if data.len() > MAX_MSG_SIZE as usize {
            return Err(EINVAL);
        }
        let mut v = KVec::with_capacity(data.len(), GFP_KERNEL)?;
        v.extend_from_slice(data, GFP_KERNEL)?;
        self.desk
            .outbox
            .push(Op::Send { lid, data: v }, GFP_KERNEL)?;
        Ok(())
    }

    /// Queues a bulk in direction `dir` (seen from the VideoCore) with `buf`; the buffer
    /// comes back with `userdata` in [`SimService::bulk_done`].
    pub(crate) fn bulk(&mut self, lid: Lid, dir: BulkDir, buf: BulkBuf, userdata: u64) -> Result {
        self.desk.outbox.push(
            Op::Bulk {
                lid,
                dir,
                buf,
                userdata,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Sets a listener's message quota (0 keeps the current one).
    pub(crate) fn set_msg_quota(&mut self, lid: Lid, quota: u16) -> Result {
        let h = self.desk.handle(lid).ok_or(EINVAL)?;
        self.eng
            .set_quota(h, 0, quota)
            .map_err(crate::engine::to_kernel_err)
    }
}

/// A bulk transfer the VideoCore must perform now (from [`Output::BulkTransfer`]).
pub(crate) struct BulkJob {
    /// The VideoCore's service.
    pub(crate) handle: Handle,
    /// Direction seen from the VideoCore.
    pub(crate) dir: BulkDir,
    /// Cookie of the local bulk (to find its buffer).
    pub(crate) cookie: u32,
    /// Size of the local bulk.
    pub(crate) size: u32,
    /// Bus address of the ARM's pagelist.
    pub(crate) pagelist: u32,
    /// Size the ARM asked for.
    pub(crate) remote_size: u32,
}

/// The service host of one connection.
pub(crate) struct Host {
    services: KVec<KBox<dyn SimService>>,
    desk: Desk,
    dev: Dev,
    /// Buffer for reading DATA messages (never on the stack).
    scratch: KVec<u8>,
    /// The earliest deadline the services asked for at the last tick.
    deadline: Option<u64>,
}

/// The `reopen` knob's value that closes the connection without opening a new one.
const CLOSE_ONLY: u32 = 2;

impl Host {
    /// Closes every open connection from the VideoCore's side (the `close_open` knob).
    /// Returns how many closes were queued.
    pub(crate) fn close_all_open(&mut self, eng: &VpuEngine) -> u32 {
        let mut n = 0;
        for (i, l) in self.desk.listeners.iter().enumerate() {
            let Some(h) = l.handle.filter(|_| l.live) else {
                continue;
            };
            if eng.service_state(h) == Ok(SrvState::Open)
                && self
                    .desk
                    .outbox
                    .push(Op::Close { lid: Lid(i) }, GFP_KERNEL)
                    .is_ok()
            {
                n += 1;
            }
        }
        n
    }

    /// The `greet` knob: queues the DATA message `greetings` on the connection of `handle`
    /// (a listener's, or the VideoCore's own to an ARM server).
    pub(crate) fn greet(&mut self, handle: Handle, counters: &Counters) {
        let mut data = KVec::new();
        if data.extend_from_slice(GREETING, GFP_KERNEL).is_err() {
            bump(&counters.errors);
            return;
        }
        let op = match self.desk.by_handle(handle) {
            Some((lid, _)) => Op::Send { lid, data },
            None if self.desk.outgoing.is_some_and(|(h, _)| h == handle) => Op::SendOut { data },
            None => return,
        };
        if self.desk.outbox.push(op, GFP_KERNEL).is_err() {
            bump(&counters.errors);
        }
    }

    /// The `open_arm` and `reopen` knobs: the VideoCore's own connection to an ARM server.
    /// A reopen (1) closes it and opens a new one in the same round, so that the ARM parses
    /// the CLOSE and the OPEN in one batch; 2 only closes it.
    pub(crate) fn outgoing(&mut self, eng: &mut VpuEngine, knobs: &Knobs, counters: &Counters) {
        let fourcc = knobs.open_arm.xchg(0, Relaxed);
        let reopen = knobs.reopen.xchg(0, Relaxed);
        let target = match (fourcc, self.desk.outgoing) {
            (0, Some((h, f))) if reopen != 0 => {
                if eng.close_service(h).is_err() {
                    bump(&counters.errors);
                }
                if reopen == CLOSE_ONLY {
                    self.desk.outgoing = None;
                    return;
                }
                f
            }
            (0, _) => return,
            (f, _) => f,
        };
        let params = ServiceParams {
            fourcc: target,
            version: 3,
            version_min: 3,
        };
        match eng.open_service(params, 0) {
            Ok(h) => self.desk.outgoing = Some((h, target)),
            Err(e) => {
                self.desk.outgoing = None;
                let n = bump(&counters.errors);
                if log_nth(n) {
                    pr_warn!("opening the ARM's service failed: {:?}\n", e);
                }
            }
        }
    }

    /// Creates every service of `services::ALL` and lets each register its listeners.
    pub(crate) fn new(eng: &mut VpuEngine, counters: &Counters, dev: Dev) -> Result<Self> {
        let mut host = Host {
            services: KVec::new(),
            dev,
            desk: Desk {
                listeners: KVec::new(),
                outbox: KVec::new(),
                bulks: KVec::new(),
                blocked: None,
                refusing: false,
                outgoing: None,
            },
            scratch: KVec::from_elem(0u8, MAX_MSG_SIZE as usize, GFP_KERNEL)?,
            deadline: None,
        };
        for make in services::ALL {
            host.services.push(make()?, GFP_KERNEL)?;
        }
        for (owner, svc) in host.services.iter_mut().enumerate() {
            let mut cx = Ctx {
                eng: &mut *eng,
                desk: &mut host.desk,
                owner,
                counters,
                dev,
            };
            svc.start(&mut cx)?;
        }
        Ok(host)
    }

    /// Lets every service do its timed work at `now` (microseconds since the simulator's
    /// epoch) and collects the earliest deadline they ask for.
    pub(crate) fn tick(&mut self, eng: &mut VpuEngine, counters: &Counters, now: u64) {
        let mut deadline: Option<u64> = None;
        for (owner, svc) in self.services.iter_mut().enumerate() {
            let mut cx = Ctx {
                eng: &mut *eng,
                desk: &mut self.desk,
                owner,
                counters,
                dev: self.dev,
            };
            if let Some(at) = svc.tick(&mut cx, now) {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        self.deadline = deadline;
    }

    /// The earliest deadline of the last [`Host::tick`].
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Whether no further ARM messages should be parsed until the outbox drains: it is long
    /// and its head waits for the ARM to hand slots back (which parsing more cannot bring
    /// about, unlike a bulk stall, which waits for the ARM's next bulk request).
    pub(crate) fn congested(&self) -> bool {
        self.desk.outbox.len() >= OUTBOX_MAX
            && matches!(
                self.desk.blocked,
                Some(Stall::Slots | Stall::DataQuota | Stall::ServiceQuota)
            )
    }

    /// What the blocked head of the outbox waits for.
    pub(crate) fn blocked(&self) -> Option<Stall> {
        self.desk.blocked
    }

    /// Number of listeners that exist.
    pub(crate) fn listeners(&self) -> usize {
        self.desk.listeners.iter().filter(|l| l.live).count()
    }

    /// Operations waiting in the outbox.
    pub(crate) fn outbox_len(&self) -> usize {
        self.desk.outbox.len()
    }

    /// Applies the `refuse_open` knob: removes every listening service from the engine, or
    /// adds the removed ones back.
    pub(crate) fn apply_refuse(&mut self, eng: &mut VpuEngine, refuse: bool, counters: &Counters) {
        if refuse {
            // Also catches services that went back to listening since the last call.
            for l in self.desk.listeners.iter_mut().filter(|l| l.live) {
                if let Some(h) = l.handle {
                    if eng.service_state(h) == Ok(SrvState::Listening) {
                        if eng.remove_service(h).is_err() {
                            bump(&counters.errors);
                        }
                        l.handle = None;
                    }
                }
            }
        } else if self.desk.refusing {
            for l in self.desk.listeners.iter_mut().filter(|l| l.live) {
                if l.handle.is_none() {
                    match eng.add_service(l.params, l.opts) {
                        Ok(h) => l.handle = Some(h),
                        Err(_) => {
                            bump(&counters.errors);
                        }
                    }
                }
            }
        }
        self.desk.refusing = refuse;
    }

    /// Feeds the outbox to the engine until it is empty or the head would block. Returns
    /// whether it is empty.
    pub(crate) fn drain(&mut self, eng: &mut VpuEngine, counters: &Counters) -> bool {
        self.desk.blocked = None;
        while !self.desk.outbox.is_empty() {
            let Ok(op) = self.desk.outbox.remove(0) else {
                break;
            };
            match self.exec(eng, op, counters) {
                Ok(()) => {}
                Err(op) => {
                    self.desk.blocked = Some(eng.stall());
                    // Cannot fail: the slot was freed just now.
                    if self.desk.outbox.insert_within_capacity(0, op).is_err() {
                        bump(&counters.errors);
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Executes one operation; gives it back if the engine would block.
    fn exec(&mut self, eng: &mut VpuEngine, op: Op, counters: &Counters) -> Result<(), Op> {
        let r = match &op {
            Op::Send { lid, data } => match self.desk.handle(*lid) {
                Some(h) => eng.send_data(h, data).inspect(|()| {
                    bump(&counters.messages_tx);
                }),
                None => Err(EngError::BadHandle),
            },
            Op::SendOut { data } => match self.desk.outgoing {
                Some((h, _)) => eng.send_data(h, data).inspect(|()| {
                    bump(&counters.messages_tx);
                }),
                None => Err(EngError::BadHandle),
            },
            Op::Close { lid } => match self.desk.handle(*lid) {
                Some(h) => eng.close_service(h),
                None => Err(EngError::BadHandle),
            },
            Op::Complete {
                handle,
                dir,
                result,
            } => eng.complete_bulk(*handle, *dir, *result),
            Op::Bulk { .. } => return self.exec_bulk(eng, op, counters),
        };
        match r {
            Err(EngError::WouldBlock) => Err(op),
            Err(e) => {
                // The service closed meanwhile (normal) or a bug: drop the operation.
                if e != EngError::Closed && e != EngError::BadHandle {
                    let n = bump(&counters.errors);
                    if log_nth(n) {
                        pr_warn!("operation failed: {:?} (error #{})\n", e, n);
                    }
                }
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    fn exec_bulk(&mut self, eng: &mut VpuEngine, op: Op, counters: &Counters) -> Result<(), Op> {
        let Op::Bulk {
            lid,
            dir,
            buf,
            userdata,
        } = op
        else {
            return Ok(());
        };
        let Some(h) = self.desk.handle(lid) else {
            return Ok(());
        };
        let Ok(size) = u32::try_from(buf.len()) else {
            bump(&counters.errors);
            return Ok(());
        };
        let free = self.desk.bulks.iter().position(|b| b.is_none());
        let idx = match free {
            Some(i) => i,
            None => {
                if self.desk.bulks.push(None, GFP_KERNEL).is_err() {
                    bump(&counters.errors);
                    return Ok(());
                }
                self.desk.bulks.len().saturating_sub(1)
            }
        };
        let Ok(cookie) = u32::try_from(idx) else {
            return Ok(());
        };
        match eng.queue_bulk(h, dir, cookie, 0, size) {
            Ok(()) => {
                if let Some(slot) = self.desk.bulks.get_mut(idx) {
                    *slot = Some(BulkSlot { lid, userdata, buf });
                }
                Ok(())
            }
            Err(EngError::WouldBlock) => Err(Op::Bulk {
                lid,
                dir,
                buf,
                userdata,
            }),
            Err(_) => {
                // Closed meanwhile: the buffer is dropped.
                Ok(())
            }
        }
    }

    /// The buffer of the local bulk with `cookie`, for a transfer.
    pub(crate) fn bulk_buf(&mut self, cookie: u32) -> Option<&mut BulkBuf> {
        let i = usize::try_from(cookie).ok()?;
        self.desk
            .bulks
            .get_mut(i)
            .and_then(|b| b.as_mut())
            .map(|b| &mut b.buf)
    }

    /// Completes a transfer in the engine (through the outbox if that is not empty, to keep
    /// the order).
    pub(crate) fn complete(
        &mut self,
        eng: &mut VpuEngine,
        handle: Handle,
        dir: BulkDir,
        result: BulkResult,
        counters: &Counters,
    ) {
        let op = Op::Complete {
            handle,
            dir,
            result,
        };
        let op = if self.desk.outbox.is_empty() {
            match self.exec(eng, op, counters) {
                Ok(()) => return,
                Err(op) => op,
            }
        } else {
            op
        };
        if self.desk.outbox.push(op, GFP_KERNEL).is_err() {
            bump(&counters.errors);
        }
    }

    /// Acts on one engine output. A bulk transfer is returned for the caller to perform.
    pub(crate) fn dispatch(
        &mut self,
        eng: &mut VpuEngine,
        o: Output,
        counters: &Counters,
    ) -> Option<BulkJob> {
        match o {
            Output::BulkTransfer {
                handle,
                dir,
                cookie,
                size,
                pagelist,
                remote_size,
            } => {
                return Some(BulkJob {
                    handle,
                    dir,
                    cookie,
                    size,
                    pagelist,
                    remote_size,
                })
            }
            Output::Opened {
                handle, client_id, ..
            } => {
                bump(&counters.opens);
                self.log_service(handle, "opened");
                self.call(eng, handle, counters, |s, cx, lid| {
                    s.opened(cx, lid, client_id)
                });
            }
            Output::Closed { handle } | Output::OpenRejected { handle }
                if self.desk.outgoing.is_some_and(|(h, _)| h == handle) =>
            {
                // The VideoCore's own connection ended (or was refused).
                self.desk.outgoing = None;
            }
            Output::Closed { handle } => {
                self.log_service(handle, "closed");
                self.call(eng, handle, counters, |s, cx, lid| s.closed(cx, lid));
            }
            Output::Data { handle, msg } => {
                bump(&counters.messages);
                let n = eng.read(&msg, &mut self.scratch).unwrap_or(0);
                if eng.release(&msg).is_err() {
                    bump(&counters.errors);
                }
                // Borrow the scratch buffer out while the service runs.
                let scratch = core::mem::take(&mut self.scratch);
                let data = scratch.get(..n).unwrap_or(&[]);
                self.call(eng, handle, counters, |s, cx, lid| s.message(cx, lid, data));
                self.scratch = scratch;
            }
            Output::BulkDone {
                handle: _,
                dir,
                cookie,
                result,
            } => {
                let slot = usize::try_from(cookie)
                    .ok()
                    .and_then(|i| self.desk.bulks.get_mut(i))
                    .and_then(|b| b.take());
                if let Some(b) = slot {
                    if let Some(owner) = self.desk.listener(b.lid).map(|l| l.owner) {
                        self.call_owner(eng, owner, b.lid, counters, |s, cx, lid| {
                            s.bulk_done(cx, lid, dir, b.userdata, result, b.buf)
                        });
                    }
                }
            }
            Output::Control(MsgType::RemoteUseActive) => {
                bump(&counters.use_acks);
            }
            Output::Connected | Output::OpenRejected { .. } | Output::Control(_) => {}
        }
        None
    }

    /// Logs an open or close in the firmware's message log (`fwmem.rs`).
    fn log_service(&self, handle: Handle, what: &str) {
        let Some(l) = self
            .desk
            .by_handle(handle)
            .and_then(|(lid, _)| self.desk.listener(lid))
        else {
            return;
        };
        let f = l
            .params
            .fourcc
            .to_be_bytes()
            .map(|c| if c.is_ascii_graphic() { c } else { b'?' });
        let f = core::str::from_utf8(&f).unwrap_or("????");
        crate::fwmem::msg(format_args!("vchiq: service {f} {what}"));
    }

    /// Calls the owner of the listener behind `handle`, if any.
    fn call(
        &mut self,
        eng: &mut VpuEngine,
        handle: Handle,
        counters: &Counters,
        f: impl FnOnce(&mut dyn SimService, &mut Ctx<'_>, Lid),
    ) {
        if let Some((lid, owner)) = self.desk.by_handle(handle) {
            self.call_owner(eng, owner, lid, counters, f);
        }
    }

    fn call_owner(
        &mut self,
        eng: &mut VpuEngine,
        owner: usize,
        lid: Lid,
        counters: &Counters,
        f: impl FnOnce(&mut dyn SimService, &mut Ctx<'_>, Lid),
    ) {
        let Some(svc) = self.services.get_mut(owner) else {
            return;
        };
        let mut cx = Ctx {
            eng,
            desk: &mut self.desk,
            owner,
            counters,
            dev: self.dev,
        };
        f(&mut **svc, &mut cx, lid);
    }

    /// Runs a debugfs command in the first service that takes it; `EINVAL` if none does.
    pub(crate) fn command(
        &mut self,
        eng: &mut VpuEngine,
        line: &str,
        counters: &Counters,
    ) -> Result {
        for (owner, svc) in self.services.iter_mut().enumerate() {
            let mut cx = Ctx {
                eng: &mut *eng,
                desk: &mut self.desk,
                owner,
                counters,
                dev: self.dev,
            };
            if let Some(r) = svc.command(&mut cx, line) {
                self.drain(eng, counters);
                return r;
            }
        }
        Err(EINVAL)
    }

    /// Every service's debugfs lines.
    pub(crate) fn describe_services(
        &self,
        f: &mut kernel::fmt::Formatter<'_>,
    ) -> kernel::fmt::Result {
        self.services.iter().try_for_each(|s| s.describe(f))
    }
}
