// SPDX-License-Identifier: GPL-2.0

//! The connection to the VideoCore's SMEM service and its one I/O path.
//!
//! Requests go out from the caller's context (`queue` on the service; it may wait for slot
//! space, never for the VideoCore's answer with a lock held that the answer needs). Everything
//! the VideoCore sends arrives in [`SmemHandler::message`] on vchiq-core's slot thread:
//! replies (bit 31 clear) are matched to the buffer importing with that trans_id, the
//! VideoCore's own commands (bit 31 set) are handled there. A waiter sleeps on
//! [`Smem::changed`] with the registry's lock, interruptibly and for at most `timeout_ms`;
//! when it gives up, the buffer stays `Importing` and the late answer, when it comes, is
//! counted, logged (rate-limited) and handled like any other (a handle is freed at once).

use crate::buffer::{Buffer, Entry, Registry, Vc};
use crate::proto::{self, Incoming, Name};
use crate::ratelimit::log_nth;
use crate::sys::{DmaBuf, DmaDevice, ForeignDmaBuf, Memory};
use crate::vchiq::{self, Handler, Instance, Message, ServiceRef};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

/// The largest buffer (the VideoCore's alias spans 1 GiB; CMA is far smaller anyway).
pub(crate) const MAX_SIZE: usize = 256 << 20;
/// Largest alignment a VC_MEM_REQUEST may ask for.
const MAX_ALIGN: u32 = 1 << 20;
/// Page size (vc-sm-cma rounds every size to pages).
const PAGE: usize = 4096;

/// How many of each event happened, for debugfs.
pub(crate) struct Counters {
    pub(crate) imports: Atomic<u32>,
    pub(crate) frees: Atomic<u32>,
    pub(crate) released: Atomic<u32>,
    /// RELEASED before FREE: the VideoCore let go on its own.
    pub(crate) released_early: Atomic<u32>,
    /// RELEASED for a buffer that is not held (unknown id, wrong handle, twice).
    pub(crate) bad_released: Atomic<u32>,
    /// Replies nobody waits for (unknown trans_id): thrown away.
    pub(crate) unmatched: Atomic<u32>,
    /// Replies that came after their waiter gave up.
    pub(crate) late: Atomic<u32>,
    /// Waits given up: signals and timeouts.
    pub(crate) interrupted: Atomic<u32>,
    pub(crate) timeouts: Atomic<u32>,
    /// IMPORTs answered with handle 0.
    pub(crate) refused: Atomic<u32>,
    /// VC_MEM_REQUESTs served, and refused.
    pub(crate) mem_requests: Atomic<u32>,
    pub(crate) mem_requests_refused: Atomic<u32>,
    /// Unknown event types, malformed messages.
    pub(crate) unknown: Atomic<u32>,
    pub(crate) malformed: Atomic<u32>,
}

impl Counters {
    const fn new() -> Self {
        Self {
            imports: Atomic::new(0),
            frees: Atomic::new(0),
            released: Atomic::new(0),
            released_early: Atomic::new(0),
            bad_released: Atomic::new(0),
            unmatched: Atomic::new(0),
            late: Atomic::new(0),
            interrupted: Atomic::new(0),
            timeouts: Atomic::new(0),
            refused: Atomic::new(0),
            mem_requests: Atomic::new(0),
            mem_requests_refused: Atomic::new(0),
            unknown: Atomic::new(0),
            malformed: Atomic::new(0),
        }
    }
}

/// Buffers kept (not freed) because the VideoCore still had them when its connection went,
/// over the module's life: a DMA master may still write them.
pub(crate) static LEAKED: Atomic<u32> = Atomic::new(0);
pub(crate) static LEAKED_BYTES: Atomic<usize> = Atomic::new(0);

/// Adds one to `c`; returns the new value.
pub(crate) fn bump(c: &Atomic<u32>) -> u32 {
    c.fetch_add(1u32, Relaxed).wrapping_add(1)
}

/// The open service.
struct Conn {
    instance: Instance,
    handle: u32,
}

/// The driver's state for one VideoCore.
#[pin_data]
pub(crate) struct Smem {
    dev: DmaDevice,
    /// `None` before the service is open and after unbind.
    #[pin]
    conn: Mutex<Option<Conn>>,
    #[pin]
    pub(crate) buffers: Mutex<Registry>,
    /// Signalled under `buffers` whenever an import's state changes.
    #[pin]
    changed: CondVar,
    next_trans_id: Atomic<u32>,
    /// The firmware acknowledged CLIENT_VERSION 2: RELEASED follows FREE.
    pub(crate) v2: Atomic<u32>,
    /// How long a request waits for its answer.
    timeout_ms: u32,
    pub(crate) counters: Counters,
}

impl Smem {
    /// The state for `dev`, not connected yet.
    pub(crate) fn new(dev: DmaDevice, timeout_ms: u32) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                dev,
                conn <- new_mutex!(None, "Smem::conn"),
                buffers <- new_mutex!(Registry::new(), "Smem::buffers"),
                changed <- new_condvar!("Smem::changed"),
                next_trans_id: Atomic::new(0),
                v2: Atomic::new(0),
                timeout_ms,
                counters: Counters::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Opens SMEM on `state` and announces protocol 2 (not waiting for the answer).
    pub(crate) fn connect(self: &Arc<Self>, state: &vchiq::State) -> Result {
        let instance = Instance::new(state)?;
        let handler = Arc::new(SmemHandler { smem: self.clone() }, GFP_KERNEL)?;
        let handle = instance.open_kept(
            proto::FOURCC,
            proto::VERSION,
            proto::VERSION_MIN,
            handler,
            false,
        )?;
        *self.conn.lock() = Some(Conn { instance, handle });
        self.send(&proto::client_version(self.trans_id())?)
    }

    /// Closes the connection and forgets the buffers: those the VideoCore may still hold are
    /// kept, not freed (counted in [`LEAKED`]); the others live on while Linux holds them.
    pub(crate) fn disconnect(&self) {
        let conn = self.conn.lock().take();
        // Outside the lock: the shutdown waits for the slot thread's callbacks.
        drop(conn);
        let entries = {
            let mut reg = self.buffers.lock();
            reg.dead = true;
            core::mem::take(&mut reg.entries)
        };
        self.changed.notify_all();
        for e in &entries {
            if !matches!(e.vc, Vc::Gone | Vc::Failed) {
                e.buf.mem().leak();
                bump(&LEAKED);
                LEAKED_BYTES.fetch_add(e.buf.mem().size(), Relaxed);
                pr_warn!(
                    "keeping buffer {} ({} bytes): the VideoCore may still use it\n",
                    e.buf.kernel_id,
                    e.buf.mem().size()
                );
            }
        }
    }

    /// A new trans_id: bit 31 clear, never 0.
    fn trans_id(&self) -> u32 {
        loop {
            let id = self.next_trans_id.fetch_add(1u32, Relaxed).wrapping_add(1) & !proto::EVENT;
            if id != 0 {
                return id;
            }
        }
    }

    /// Sends `msg` on the service.
    fn send(&self, msg: &[u8]) -> Result {
        let conn = self.conn.lock();
        let c = conn.as_ref().ok_or(ESHUTDOWN)?;
        c.instance.service(c.handle).queue(&[msg])
    }

    /// Allocates `size` bytes (rounded up to pages), exports them and imports them to the
    /// VideoCore; returns the dma-buf and the VideoCore's handle.
    pub(crate) fn alloc(
        self: &Arc<Self>,
        size: usize,
        cached: bool,
        name: Name,
    ) -> Result<(DmaBuf, Arc<Buffer>, u32)> {
        let size = page_align(size)?;
        let mem = Memory::alloc(&self.dev, size, cached)?;
        self.export_and_import(mem, name, false, cached)
    }

    /// Imports `src` (one DMA segment) to the VideoCore and re-exports it.
    pub(crate) fn import(
        self: &Arc<Self>,
        src: &ForeignDmaBuf,
    ) -> Result<(DmaBuf, Arc<Buffer>, u32)> {
        let mem = Memory::import(&self.dev, src)?;
        self.export_and_import(mem, proto::name_of(b"sm-host-resource"), true, false)
    }

    fn export_and_import(
        self: &Arc<Self>,
        mem: Memory,
        name: Name,
        imported: bool,
        cached: bool,
    ) -> Result<(DmaBuf, Arc<Buffer>, u32)> {
        let kernel_id = self.buffers.lock().new_id()?;
        let buf = Buffer::new(self.clone(), kernel_id, name, imported, cached, mem)?;
        let bus = buf.bus()?;
        let size = u32::try_from(buf.mem().size()).map_err(|_| EINVAL)?;
        let trans_id = self.trans_id();
        let tgid = kernel::current!().group_leader().pid() as u32;
        let msg = proto::import(trans_id, bus, size, kernel_id, tgid, &buf.name)?;
        let dmabuf = DmaBuf::export(&buf)?;
        // From here on, dropping `dmabuf` releases Linux's hold (`linux_released`).
        self.buffers.lock().add(Entry {
            buf: buf.clone(),
            vc: Vc::Importing(trans_id),
            handle: 0,
            linux: true,
            waiting: true,
        })?;
        bump(&self.counters.imports);
        if let Err(e) = self.send(&msg) {
            // Never sent: the VideoCore cannot answer.
            self.set_vc(kernel_id, Vc::Failed);
            return Err(e);
        }
        let handle = self.wait_import(kernel_id)?;
        Ok((dmabuf, buf, handle))
    }

    /// Sets the VideoCore state of `kernel_id` (and reaps it).
    fn set_vc(&self, kernel_id: u32, vc: Vc) {
        let gone = {
            let mut reg = self.buffers.lock();
            if let Some(e) = reg.get_mut(kernel_id) {
                e.vc = vc;
                e.waiting = false;
            }
            reg.reap(kernel_id)
        };
        drop(gone);
    }

    /// Waits for the answer to the IMPORT of `kernel_id`: its handle, `ENOMEM` if refused,
    /// `ERESTARTSYS` on a signal, `ETIMEDOUT`, `ESHUTDOWN` if the connection went.
    fn wait_import(&self, kernel_id: u32) -> Result<u32> {
        let mut reg = self.buffers.lock();
        let mut left = msecs_to_jiffies(self.timeout_ms);
        loop {
            if reg.dead {
                return Err(ESHUTDOWN);
            }
            let e = reg.get_mut(kernel_id).ok_or(ESHUTDOWN)?;
            match e.vc {
                Vc::Importing(_) => {}
                Vc::Held(h) => {
                    e.waiting = false;
                    return Ok(h);
                }
                _ => {
                    e.waiting = false;
                    return Err(ENOMEM);
                }
            }
            let r = self.changed.wait_interruptible_timeout(&mut reg, left);
            let (err, counter) = match r {
                kernel::sync::CondVarTimeoutResult::Woken { jiffies } => {
                    left = jiffies;
                    continue;
                }
                kernel::sync::CondVarTimeoutResult::Signal { .. } => {
                    (ERESTARTSYS, &self.counters.interrupted)
                }
                kernel::sync::CondVarTimeoutResult::Timeout => (ETIMEDOUT, &self.counters.timeouts),
            };
            if let Some(e) = reg.get_mut(kernel_id) {
                if matches!(e.vc, Vc::Importing(_)) {
                    e.waiting = false;
                    bump(counter);
                    return Err(err);
                }
            }
        }
    }

    /// The VideoCore's handle of `kernel_id`, while it has one.
    pub(crate) fn vc_handle(&self, kernel_id: u32) -> Option<u32> {
        let mut reg = self.buffers.lock();
        reg.get_mut(kernel_id).and_then(|e| e.vc.handle())
    }

    /// Linux's last reference on `buf`'s dma-buf went: FREE if the VideoCore has it.
    pub(crate) fn linux_released(&self, buf: &Arc<Buffer>) {
        let free = {
            let mut reg = self.buffers.lock();
            let Some(e) = reg.get_mut(buf.kernel_id) else {
                return;
            };
            e.linux = false;
            self.free_if_held(e)
        };
        if let Some(h) = free {
            self.send_free(h);
        }
        let gone = self.buffers.lock().reap(buf.kernel_id);
        drop(gone);
    }

    /// For an entry Linux released: moves a held handle on (to `Freeing`, or `Gone` with a
    /// protocol-1 firmware) and returns it for a FREE.
    fn free_if_held(&self, e: &mut Entry) -> Option<u32> {
        let Vc::Held(h) = e.vc else { return None };
        e.vc = if self.v2.load(Relaxed) != 0 {
            Vc::Freeing(h)
        } else {
            Vc::Gone
        };
        Some(h)
    }

    fn send_free(&self, handle: u32) {
        bump(&self.counters.frees);
        let r = proto::free(self.trans_id(), handle).and_then(|m| self.send(&m));
        if let Err(e) = r {
            pr_warn!("FREE of handle {:#x} not sent: {:?}\n", handle, e);
        }
    }

    /// Handles one message from the VideoCore (slot thread); `svc` answers.
    fn incoming(self: &Arc<Self>, svc: ServiceRef<'_>, data: &[u8]) {
        match proto::parse(data) {
            Incoming::Reply { trans_id, handle } => self.reply(svc, trans_id, handle),
            Incoming::VersionAck => {
                self.v2.store(1, Relaxed);
                pr_info!("SMEM protocol 2: the VideoCore reports released buffers\n");
            }
            Incoming::Released {
                kernel_id, handle, ..
            } => self.vc_released(kernel_id, handle),
            Incoming::MemRequest {
                trans_id,
                size,
                align,
                handle,
                name,
            } => self.mem_request(svc, trans_id, size, align, handle, name),
            Incoming::Unknown(ty) => {
                let n = bump(&self.counters.unknown);
                if log_nth(n) {
                    pr_warn!("unknown VideoCore command {:#x} (#{})\n", ty, n);
                }
            }
            Incoming::Malformed(len) => {
                let n = bump(&self.counters.malformed);
                if log_nth(n) {
                    pr_warn!(
                        "malformed message of {} bytes from the VideoCore (#{})\n",
                        len,
                        n
                    );
                }
            }
        }
    }

    /// The answer to an IMPORT.
    fn reply(&self, svc: ServiceRef<'_>, trans_id: u32, handle: u32) {
        let (free, late, kid) = {
            let mut reg = self.buffers.lock();
            let Some(e) = reg.by_trans_id(trans_id) else {
                drop(reg);
                let n = bump(&self.counters.unmatched);
                if log_nth(n) {
                    pr_warn!("received response {}, throw away (#{})\n", trans_id, n);
                }
                return;
            };
            e.vc = if handle == 0 {
                bump(&self.counters.refused);
                Vc::Failed
            } else {
                Vc::Held(handle)
            };
            e.handle = handle;
            let late = !e.waiting;
            let free = if e.linux { None } else { self.free_if_held(e) };
            (free, late, e.buf.kernel_id)
        };
        self.changed.notify_all();
        if late {
            let n = bump(&self.counters.late);
            if log_nth(n) {
                pr_warn!(
                    "late response {} to an abandoned import (#{})\n",
                    trans_id,
                    n
                );
            }
        }
        if let Some(h) = free {
            bump(&self.counters.frees);
            let r = proto::free(self.trans_id(), h).and_then(|m| svc.queue(&[&m]));
            if let Err(e) = r {
                pr_warn!("FREE of handle {:#x} not sent: {:?}\n", h, e);
            }
        }
        let gone = self.buffers.lock().reap(kid);
        drop(gone);
    }

    /// RELEASED: the VideoCore let go of `kernel_id`.
    fn vc_released(&self, kernel_id: u32, handle: u32) {
        let gone = {
            let mut reg = self.buffers.lock();
            let ok = match reg.get_mut(kernel_id) {
                Some(e) => match e.vc {
                    Vc::Freeing(h) if h == handle => {
                        e.vc = Vc::Gone;
                        true
                    }
                    Vc::Held(h) if h == handle => {
                        bump(&self.counters.released_early);
                        e.vc = Vc::Gone;
                        true
                    }
                    // An import whose answer never came: the VideoCore says it is done.
                    Vc::Importing(_) => {
                        e.vc = Vc::Gone;
                        true
                    }
                    _ => false,
                },
                None => false,
            };
            if !ok {
                drop(reg);
                let n = bump(&self.counters.bad_released);
                if log_nth(n) {
                    pr_warn!(
                        "VC released a buffer that is already released: id {} handle {:#x} (#{})\n",
                        kernel_id,
                        handle,
                        n
                    );
                }
                return;
            }
            bump(&self.counters.released);
            reg.reap(kernel_id)
        };
        self.changed.notify_all();
        drop(gone);
    }

    /// VC_MEM_REQUEST: the VideoCore asks for memory; the answer carries its bus address
    /// (0: refused).
    fn mem_request(
        self: &Arc<Self>,
        svc: ServiceRef<'_>,
        vc_trans_id: u32,
        size: u32,
        align: u32,
        handle: u32,
        name: Name,
    ) {
        let (addr, kid) = match self.serve_request(size, align, handle, name) {
            Ok(v) => {
                bump(&self.counters.mem_requests);
                v
            }
            Err(e) => {
                let n = bump(&self.counters.mem_requests_refused);
                if log_nth(n) {
                    pr_warn!(
                        "memory request of {} bytes refused: {:?} (#{})\n",
                        size,
                        e,
                        n
                    );
                }
                (0, 0)
            }
        };
        let r = proto::mem_request_reply(self.trans_id(), vc_trans_id, addr, kid)
            .and_then(|m| svc.queue(&[&m]));
        if r.is_err() {
            pr_warn!("memory request answer not sent\n");
        }
    }

    fn serve_request(
        self: &Arc<Self>,
        size: u32,
        align: u32,
        handle: u32,
        name: Name,
    ) -> Result<(u32, u32)> {
        if handle == 0 || align > MAX_ALIGN || (align != 0 && !align.is_power_of_two()) {
            return Err(EINVAL);
        }
        let size = usize::try_from(size).map_err(|_| EINVAL)?;
        let size = page_align(
            size.checked_next_multiple_of(align.max(1) as usize)
                .ok_or(EINVAL)?,
        )?;
        let mem = Memory::alloc(&self.dev, size, false)?;
        let kernel_id = self.buffers.lock().new_id()?;
        let buf = Buffer::new(self.clone(), kernel_id, name, false, false, mem)?;
        let bus = buf.bus()?;
        self.buffers.lock().add(Entry {
            buf,
            vc: Vc::Held(handle),
            handle,
            linux: false,
            waiting: false,
        })?;
        Ok((bus, kernel_id))
    }
}

/// `size` rounded up to pages; `EINVAL` for 0 or more than [`MAX_SIZE`].
fn page_align(size: usize) -> Result<usize> {
    if size == 0 || size > MAX_SIZE {
        return Err(EINVAL);
    }
    size.checked_next_multiple_of(PAGE).ok_or(EINVAL)
}

/// The service's handler.
struct SmemHandler {
    smem: Arc<Smem>,
}

impl Handler for SmemHandler {
    fn message(&self, svc: ServiceRef<'_>, msg: Message<'_>) {
        let mut buf = [0u8; proto::MAX_MSG_LEN + 4];
        match msg.read(&mut buf) {
            Ok(n) => self.smem.incoming(svc, buf.get(..n).unwrap_or(&[])),
            Err(_) => {
                // Longer than any message of the protocol.
                let n = bump(&self.smem.counters.malformed);
                if log_nth(n) {
                    pr_warn!("oversized message from the VideoCore (#{})\n", n);
                }
            }
        }
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        pr_info!("the VideoCore closed SMEM\n");
    }
}
