// SPDX-License-Identifier: GPL-2.0

//! The engine: one side of a VCHIQ connection, sans I/O.
//!
//! The engine owns no thread and never sleeps.  The caller drives it:
//!
//! * on the trigger event (or any doorbell) it calls [`Engine::poll`] until
//!   that returns `Ok(None)`, acting on each [`Output`];
//! * on the recycle event it calls [`Engine::process_recycle`];
//! * on the sync-trigger event it calls [`Engine::poll_sync`];
//! * after any call it asks [`Engine::take_doorbell`] whether the peer's
//!   doorbell must be rung;
//! * to sleep on an event it uses [`Engine::ack`], [`Engine::prepare_sleep`]
//!   and [`Engine::finish_sleep`].
//!
//! All methods take `&mut self`: the caller serialises access with its own
//! lock (or, like the host tests, uses the engine from one thread only).

use super::error::{Error, Result};
use super::event::RemoteEvent;
use super::layout::{
    slot_offset, Role, SlotRange, DEBUG_ENTRIES, MAGIC, MAX_SLOTS, MAX_SLOTS_PER_SIDE, SLOT_SHIFT,
    SLOT_SIZE, SLOT_ZERO_SIZE, SS_DEBUG, SS_INITIALISED, SS_RECYCLE, SS_SLOT_FIRST, SS_SLOT_LAST,
    SS_SLOT_QUEUE_RECYCLE, SS_SLOT_SYNC, SS_SYNC_RELEASE, SS_SYNC_TRIGGER, SS_TRIGGER, SS_TX_POS,
    SZ_MAGIC, SZ_MASTER, SZ_MAX_SLOTS, SZ_MAX_SLOTS_PER_SIDE, SZ_PLATFORM_DATA, SZ_SLAVE,
    SZ_SLOT_SIZE, SZ_SLOT_ZERO_SIZE, SZ_VERSIONS, VERSION, VERSION_MIN,
};
use super::msg::versions_compatible;
use super::output::{OutQueue, Output, Stall, Stats, Wait, OUT_PER_MSG};
use super::quota::{DataQuota, Quota};
use super::recycle;
use super::service::{Handle, Service, SrvState, MAX_SERVICES};
use super::shm::{Barrier, SharedMem};
use core::ops::DerefMut;

/// Private receive bookkeeping of one peer slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RxSlot {
    /// References: one for the parser while inside the slot, one per
    /// claimed message.
    pub(crate) use_count: u32,
    /// Released references.
    pub(crate) release_count: u32,
    /// Rx sequence number of the slot when it was taken.
    pub(crate) epoch: u32,
    /// Whether we currently hold the slot (not yet recycled).
    pub(crate) held: bool,
}

impl RxSlot {
    /// Bookkeeping of a slot we do not hold.
    pub(crate) const EMPTY: RxSlot = RxSlot {
        use_count: 0,
        release_count: 0,
        epoch: 0,
        held: false,
    };
}

/// Sync channel receive state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SyncRx {
    /// A DATA message in the peer's sync slot is held by a client.
    pub(crate) held: bool,
    /// Counter distinguishing successive sync messages.
    pub(crate) epoch: u32,
    /// Local port the held message was delivered to.
    pub(crate) port: u32,
}

/// The large per-service and per-slot tables of an [`Engine`] (about
/// 30 KiB), kept apart so that the engine itself stays small and the tables
/// can live on the heap.
///
/// The engine owns them through any `T: DerefMut<Target = Tables>` (a
/// `Box<Tables>` on the host, a `KBox<Tables>` in the kernel, or a
/// `&mut Tables`).  [`Engine::init_arm`] and [`Engine::init_vpu`] reset
/// them, so a `Tables` in any state may be handed over.  To build one in
/// place without a large temporary, initialise each field from the
/// per-element `EMPTY` constants (the kernel does so with `init!`), or
/// call [`Tables::reset`] on an existing one.
pub struct Tables {
    /// Per-service quota records, indexed by local port.
    pub(crate) quotas: [Quota; MAX_SERVICES],
    /// Receive bookkeeping of every slot.
    pub(crate) rx_info: [RxSlot; MAX_SLOTS as usize],
    /// Service records, indexed by local port.
    pub(crate) services: [Service; MAX_SERVICES],
    /// Outputs waiting to be returned by `poll`.
    pub(crate) out: OutQueue,
}

impl Tables {
    /// Empty tables.  A large value: prefer `Box::new(Tables::EMPTY)` (or
    /// an in-place initialiser) to keeping it on a small stack.
    pub const EMPTY: Tables = Tables {
        quotas: [Quota::EMPTY; MAX_SERVICES],
        rx_info: [RxSlot::EMPTY; MAX_SLOTS as usize],
        services: [Service::EMPTY; MAX_SERVICES],
        out: OutQueue::EMPTY,
    };

    /// Resets every entry in place (element by element, without a large
    /// temporary).
    pub fn reset(&mut self) {
        for q in self.quotas.iter_mut() {
            *q = Quota::EMPTY;
        }
        for r in self.rx_info.iter_mut() {
            *r = RxSlot::EMPTY;
        }
        for s in self.services.iter_mut() {
            *s = Service::EMPTY;
        }
        self.out.clear();
    }
}

impl Default for Tables {
    fn default() -> Self {
        Tables::EMPTY
    }
}

impl core::fmt::Debug for Tables {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tables").finish_non_exhaustive()
    }
}

/// One side of a VCHIQ connection.
///
/// `T` owns the engine's [`Tables`] (for instance a `Box<Tables>`).
pub struct Engine<M: SharedMem, T: DerefMut<Target = Tables>> {
    pub(crate) shm: M,
    pub(crate) role: Role,
    /// Offset of our shared block.
    pub(crate) own: u32,
    /// Offset of the peer's shared block.
    pub(crate) peer: u32,
    pub(crate) own_slots: SlotRange,
    pub(crate) peer_slots: SlotRange,
    /// Protocol version both sides speak (valid once connected).
    pub(crate) version_common: u16,
    /// The peer's block is initialised and its recycle counter snapshotted.
    pub(crate) peer_ready: bool,
    pub(crate) conn_sent: bool,
    pub(crate) conn_recvd: bool,

    // Transmit side.
    /// Stream position including reserved, unpublished space (wraps).
    pub(crate) tx_pos: u32,
    /// Slot currently being filled (valid when `tx_pos` is not slot aligned).
    pub(crate) tx_slot: u32,
    /// Free transmit slots (a counting semaphore in the C driver).
    pub(crate) tx_free: u32,
    /// Private mirror of our slot queue, filled only with validated values.
    pub(crate) tx_queue: [u8; MAX_SLOTS_PER_SIDE as usize],
    /// Next index of our slot queue to collect recycled slots from.
    pub(crate) recycle_seen: u32,
    /// Bitmap of our slots currently owned by the peer.
    pub(crate) tx_out: [u32; 4],
    pub(crate) data_quota: DataQuota,

    // Receive side.
    pub(crate) rx_pos: u32,
    /// Peer's published position as last read and validated.
    pub(crate) rx_end: u32,
    /// Slot being parsed (valid when `rx_in_slot`).
    pub(crate) rx_slot: u32,
    pub(crate) rx_in_slot: bool,
    /// Private copy of the peer's `slot_queue_recycle` (we are its writer).
    pub(crate) peer_recycle: u32,
    /// The peer's stream is corrupt; receiving stopped.
    pub(crate) rx_broken: bool,
    /// The peer returned a slot it does not own; transmitting stopped.
    pub(crate) tx_broken: bool,
    /// Receiving is stalled because a reply could not be queued.
    pub(crate) rx_stalled: bool,
    pub(crate) sync_rx: SyncRx,
    /// A close from the peer leaves the messages the client still holds claimed: the client
    /// releases each itself ([`Engine::set_keep_held_on_close`]).
    pub(crate) keep_held_on_close: bool,

    // Services and outputs.
    pub(crate) next_gen: u32,
    pub(crate) doorbell: bool,
    pub(crate) stall: Stall,
    pub(crate) stats: Stats,
    /// The large tables (services, quotas, receive slots, output queue).
    pub(crate) tables: T,
}

/// Offset of field `f` in block `b`.
pub(crate) const fn at(b: u32, f: u32) -> u32 {
    b.wrapping_add(f)
}

impl<M: SharedMem, T: DerefMut<Target = Tables>> Engine<M, T> {
    fn new(shm: M, mut tables: T, role: Role, own_slots: SlotRange, peer_slots: SlotRange) -> Self {
        tables.reset();
        let own = role.block();
        let peer = role.peer().block();
        let count = own_slots.count();
        Engine {
            shm,
            role,
            own,
            peer,
            own_slots,
            peer_slots,
            version_common: VERSION,
            peer_ready: false,
            conn_sent: false,
            conn_recvd: false,
            tx_pos: 0,
            tx_slot: 0,
            tx_free: count,
            tx_queue: [0; MAX_SLOTS_PER_SIDE as usize],
            recycle_seen: count,
            tx_out: [0; 4],
            data_quota: DataQuota {
                quota: count.saturating_sub(1),
                used: 0,
                prev_seq: u32::MAX,
            },
            rx_pos: 0,
            rx_end: 0,
            rx_slot: 0,
            rx_in_slot: false,
            peer_recycle: 0,
            rx_broken: false,
            tx_broken: false,
            rx_stalled: false,
            keep_held_on_close: false,
            sync_rx: SyncRx {
                held: false,
                epoch: 0,
                port: 0,
            },
            next_gen: 1,
            doorbell: false,
            stall: Stall::None,
            stats: Stats::default(),
            tables,
        }
    }

    /// ARM role: lays out and initialises slot zero in `shm` (which must be
    /// zeroed or at least not already initialised), splits the slots
    /// between the two sides and publishes our half.
    ///
    /// `platform_data` goes to `slot_zero.platform_data` (fragment pool bus
    /// address and fragment count).  `tables` are reset and owned by the
    /// engine.
    ///
    /// # Errors
    ///
    /// [`Error::NoSpace`] if the buffer holds fewer than 7 slots,
    /// [`Error::Inval`] if our half is already initialised.
    pub fn init_arm(shm: M, tables: T, platform_data: [u32; 2]) -> Result<Self> {
        let size = shm.size();
        let total = core::cmp::min(size >> SLOT_SHIFT, MAX_SLOTS);
        // Slot 0 holds slot zero itself.
        let n = total.checked_sub(1).ok_or(Error::NoSpace)?;
        let half = n / 2;
        // Each side: one sync slot plus at least two data slots.
        if half < 3 {
            return Err(Error::NoSpace);
        }
        let master = SlotRange::new(2, half, 1, size).ok_or(Error::NoSpace)?;
        let slave = SlotRange::new(half.wrapping_add(2), n, half.wrapping_add(1), size)
            .ok_or(Error::NoSpace)?;
        if shm.load(at(SZ_SLAVE, SS_INITIALISED)) != 0 {
            return Err(Error::Inval);
        }
        let mut off = 0;
        while off < SLOT_ZERO_SIZE {
            shm.store(off, 0);
            off = off.wrapping_add(4);
        }
        shm.store(SZ_MAGIC, MAGIC);
        shm.store(
            SZ_VERSIONS,
            u32::from(VERSION) | (u32::from(VERSION_MIN) << 16),
        );
        shm.store(SZ_SLOT_ZERO_SIZE, SLOT_ZERO_SIZE);
        shm.store(SZ_SLOT_SIZE, SLOT_SIZE);
        shm.store(SZ_MAX_SLOTS, MAX_SLOTS);
        shm.store(SZ_MAX_SLOTS_PER_SIDE, MAX_SLOTS_PER_SIDE);
        shm.store(SZ_PLATFORM_DATA, platform_data[0]);
        shm.store(SZ_PLATFORM_DATA.wrapping_add(4), platform_data[1]);
        for (b, r) in [(SZ_MASTER, master), (SZ_SLAVE, slave)] {
            shm.store(at(b, SS_SLOT_FIRST), r.first);
            shm.store(at(b, SS_SLOT_LAST), r.last);
            shm.store(at(b, SS_SLOT_SYNC), r.sync);
        }
        let mut e = Engine::new(shm, tables, Role::Arm, slave, master);
        e.init_own_block();
        Ok(e)
    }

    /// VPU role: validates the slot zero the ARM laid out and publishes our
    /// (master) half.  `tables` are reset and owned by the engine.
    ///
    /// # Errors
    ///
    /// [`Error::NotConnected`] if the ARM half is not initialised yet,
    /// [`Error::Proto`] for any inconsistent header field or slot range,
    /// [`Error::Version`] for an incompatible protocol version,
    /// [`Error::Inval`] if our half is already initialised.
    pub fn init_vpu(shm: M, tables: T) -> Result<Self> {
        let size = shm.size();
        if size < SLOT_ZERO_SIZE {
            return Err(Error::NoSpace);
        }
        if shm.load(at(SZ_SLAVE, SS_INITIALISED)) == 0 {
            return Err(Error::NotConnected);
        }
        // Read barrier: the header fields below were written before the
        // ARM set `initialised`; without it we could read them stale.
        shm.barrier(Barrier::Read);
        if shm.load(0) != MAGIC {
            return Err(Error::Proto);
        }
        let v = shm.load(SZ_VERSIONS);
        // CAST: splitting the word into its two 16-bit halves.
        let (ver, ver_min) = ((v & 0xffff) as u16, (v >> 16) as u16);
        if !versions_compatible((VERSION, VERSION_MIN), (ver, ver_min)) {
            return Err(Error::Version);
        }
        if shm.load(SZ_SLOT_ZERO_SIZE) != SLOT_ZERO_SIZE
            || shm.load(SZ_SLOT_SIZE) != SLOT_SIZE
            || shm.load(SZ_MAX_SLOTS) != MAX_SLOTS
            || shm.load(SZ_MAX_SLOTS_PER_SIDE) != MAX_SLOTS_PER_SIDE
        {
            return Err(Error::Proto);
        }
        let read_range = |b: u32| {
            SlotRange::new(
                shm.load(at(b, SS_SLOT_FIRST)),
                shm.load(at(b, SS_SLOT_LAST)),
                shm.load(at(b, SS_SLOT_SYNC)),
                size,
            )
        };
        let master = read_range(SZ_MASTER).ok_or(Error::Proto)?;
        let slave = read_range(SZ_SLAVE).ok_or(Error::Proto)?;
        if master.overlaps(&slave) {
            return Err(Error::Proto);
        }
        if shm.load(at(SZ_MASTER, SS_INITIALISED)) != 0 {
            return Err(Error::Inval);
        }
        let peer_recycle = shm.load(at(SZ_SLAVE, SS_SLOT_QUEUE_RECYCLE));
        let mut e = Engine::new(shm, tables, Role::Vpu, master, slave);
        e.version_common = core::cmp::min(ver, VERSION);
        e.peer_recycle = peer_recycle;
        e.peer_ready = true;
        e.init_own_block();
        Ok(e)
    }

    /// Initialises our own shared block, then marks it initialised.
    fn init_own_block(&mut self) {
        let own = self.own;
        let r = self.own_slots;
        let mut i = 0u32;
        let mut slot = r.first;
        while slot <= r.last {
            self.shm.store(recycle::queue_entry(own, i), slot);
            if let Some(q) = self.tx_queue.get_mut(i as usize) {
                // CAST: slot < MAX_SLOTS = 128.
                *q = slot as u8;
            }
            i = i.wrapping_add(1);
            slot = slot.wrapping_add(1);
        }
        for w in Wait::ALL {
            self.own_event(w).init(&self.shm);
        }
        self.shm.store(at(own, SS_TX_POS), 0);
        self.shm.store(at(own, SS_SLOT_QUEUE_RECYCLE), r.count());
        // The sync slot starts empty, and sync_release starts fired so the
        // first synchronous send does not wait.
        self.shm.store(slot_offset(r.sync), 0);
        self.shm.store(slot_offset(r.sync).wrapping_add(4), 0);
        self.own_event(Wait::SyncRelease).signal_local(&self.shm);
        self.shm.store(at(own, SS_DEBUG), DEBUG_ENTRIES);
        // Write barrier: all of the above must be visible before the peer
        // can observe `initialised`; the peer reads our slot queue, events
        // and positions as soon as it does.
        self.shm.barrier(Barrier::Write);
        self.shm.store(at(own, SS_INITIALISED), 1);
    }

    /// Whether the peer's half is initialised.  On the ARM this polls the
    /// master's `initialised` flag (the firmware sets it after it received
    /// the slot-zero address).
    pub fn peer_initialised(&mut self) -> bool {
        if self.peer_ready {
            return true;
        }
        if self.shm.load(at(self.peer, SS_INITIALISED)) == 0 {
            return false;
        }
        // Read barrier: the peer's recycle counter was initialised before
        // its `initialised` flag.
        self.shm.barrier(Barrier::Read);
        self.peer_recycle = self.shm.load(at(self.peer, SS_SLOT_QUEUE_RECYCLE));
        self.peer_ready = true;
        true
    }

    /// The role of this engine.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Our slot assignment.
    pub fn own_slots(&self) -> SlotRange {
        self.own_slots
    }

    /// The peer's slot assignment.
    pub fn peer_slots(&self) -> SlotRange {
        self.peer_slots
    }

    /// Shared memory.
    pub fn shm(&self) -> &M {
        &self.shm
    }

    /// Statistics.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Reason of the last [`Error::WouldBlock`].
    pub fn stall(&self) -> Stall {
        self.stall
    }

    /// Whether both CONNECT messages were exchanged.
    pub fn is_connected(&self) -> bool {
        self.conn_sent && self.conn_recvd
    }

    /// Protocol version both sides speak.
    pub fn version_common(&self) -> u16 {
        self.version_common
    }

    /// Whether the peer must be woken with the doorbell; clears the flag.
    pub fn take_doorbell(&mut self) -> bool {
        core::mem::replace(&mut self.doorbell, false)
    }

    /// Whether outputs are waiting to be polled.
    pub fn has_output(&self) -> bool {
        !self.tables.out.is_empty()
    }

    /// Counts a protocol error.
    pub(crate) fn proto(&mut self) {
        self.stats.proto_errors = self.stats.proto_errors.wrapping_add(1);
    }

    /// Records a stall and returns `WouldBlock`.
    pub(crate) fn would_block<R>(&mut self, s: Stall) -> Result<R> {
        self.stall = s;
        Err(Error::WouldBlock)
    }

    /// Queues an output.  Callers check room first; a full queue is a bug
    /// that is reported as a protocol error rather than a panic.
    pub(crate) fn emit(&mut self, o: Output) {
        if !self.tables.out.push(o) {
            self.proto();
        }
    }

    /// Whether there is room for the outputs of one more message.
    pub(crate) fn out_room(&self) -> bool {
        self.tables.out.room() >= OUT_PER_MSG
    }

    /// Signals an event in the peer's block; remembers to ring the doorbell.
    pub(crate) fn signal_peer(&mut self, w: Wait) {
        if self.peer_event(w).signal(&self.shm) {
            self.doorbell = true;
            self.stats.doorbells = self.stats.doorbells.wrapping_add(1);
        }
    }

    fn event_field(w: Wait) -> u32 {
        match w {
            Wait::Trigger => SS_TRIGGER,
            Wait::Recycle => SS_RECYCLE,
            Wait::SyncTrigger => SS_SYNC_TRIGGER,
            Wait::SyncRelease => SS_SYNC_RELEASE,
        }
    }

    /// One of our own events.
    pub fn own_event(&self, w: Wait) -> RemoteEvent {
        RemoteEvent::at(at(self.own, Self::event_field(w)))
    }

    /// One of the peer's events.
    pub fn peer_event(&self, w: Wait) -> RemoteEvent {
        RemoteEvent::at(at(self.peer, Self::event_field(w)))
    }

    /// Whether a close from the peer leaves the messages the service's client still holds
    /// claimed, for the client to release one by one with [`Engine::release`] (`true`), or
    /// releases them (`false`, the default). A driver whose client callbacks run after the
    /// engine has parsed further (a batch) keeps them: a message whose callback has not run
    /// yet must not be handed back, or its slot may be recycled under the callback. A close
    /// of our own ([`Engine::close_service`]) always releases them: the peer may need those
    /// very slots to send its CLOSE reply, and our client asked for the close.
    pub fn set_keep_held_on_close(&mut self, keep: bool) {
        self.keep_held_on_close = keep;
    }

    /// Consumes our event `w` before doing the work it announces.  Returns
    /// whether it was fired.
    ///
    /// Only a hint: every decision of the engine is taken on the shared data
    /// itself (positions, counters, sync-slot headers), never on `fired`
    /// alone (see `event.rs` and Documentation/engine-model.rst).
    pub fn ack(&mut self, w: Wait) -> bool {
        let fired = self.own_event(w).consume(&self.shm);
        if fired && w == Wait::Trigger {
            self.rx_stalled = false;
        }
        fired
    }

    /// Arms event `w` and decides whether the caller may sleep on it.
    ///
    /// Returns `true` if the caller may sleep until the doorbell (or a local
    /// wake-up); it must then call [`Engine::finish_sleep`] after waking.
    /// Returns `false` if there is work; the event is already disarmed.
    pub fn prepare_sleep(&mut self, w: Wait) -> bool {
        let ev = self.own_event(w);
        // `arm` issues the full barrier that orders the arming store before
        // both the `fired` load and the work check below.
        let fired = ev.arm(&self.shm);
        if fired || self.work_pending(w) {
            ev.disarm(&self.shm);
            return false;
        }
        true
    }

    /// Disarms event `w` after a sleep.
    pub fn finish_sleep(&mut self, w: Wait) {
        self.own_event(w).disarm(&self.shm);
    }

    /// Whether `w` announces work (fired, or its data condition holds).
    /// Side-effect free; usable as a wait condition.
    pub fn has_work(&self, w: Wait) -> bool {
        self.own_event(w).is_fired(&self.shm) || self.work_pending(w)
    }

    /// The data condition of each event (see `event.rs`).
    fn work_pending(&self, w: Wait) -> bool {
        match w {
            Wait::Trigger => {
                if !self.tables.out.is_empty() {
                    return true;
                }
                if self.rx_broken || self.rx_stalled || !self.peer_ready {
                    // A peer that becomes ready signals its trigger with
                    // its CONNECT, which `fired` covers.
                    return false;
                }
                self.shm.load(at(self.peer, SS_TX_POS)) != self.rx_pos
            }
            Wait::Recycle => {
                self.shm.load(at(self.own, SS_SLOT_QUEUE_RECYCLE)) != self.recycle_seen
            }
            Wait::SyncTrigger => {
                self.peer_ready
                    && !self.sync_rx.held
                    && self.shm.load(slot_offset(self.peer_slots.sync)) != 0
            }
            Wait::SyncRelease => self.shm.load(slot_offset(self.own_slots.sync)) == 0,
        }
    }

    /// Interrupt-side poll after the doorbell rang: returns a mask
    /// ([`Wait::bit`]) of our events whose waiter is armed and must be
    /// woken.  Waking a waiter whose event is armed but not fired is only a
    /// spurious wake-up (the waiter re-checks), so this is deliberately
    /// generous.
    pub fn irq_poll(&self) -> u8 {
        let mut mask = 0;
        for w in Wait::ALL {
            if self.own_event(w).is_armed(&self.shm) {
                mask |= w.bit();
            }
        }
        mask
    }

    /// Consumes the engine, returning its tables (for instance to reuse
    /// their allocation).
    pub fn into_tables(self) -> T {
        self.tables
    }

    /// Looks up a live service by handle.
    pub(crate) fn lookup(&self, h: Handle) -> Result<usize> {
        // CAST: port is 12 bits.
        let idx = h.port() as usize;
        match self.tables.services.get(idx) {
            Some(s) if s.handle == h.0 && s.state != SrvState::Free && h.0 != 0 => Ok(idx),
            _ => Err(Error::BadHandle),
        }
    }

    /// A service by index.
    pub(crate) fn srv(&self, idx: usize) -> Option<&Service> {
        self.tables.services.get(idx)
    }

    /// A service by index, mutably.
    pub(crate) fn srv_mut(&mut self, idx: usize) -> Option<&mut Service> {
        self.tables.services.get_mut(idx)
    }

    /// State of a service.
    pub fn service_state(&self, h: Handle) -> Result<SrvState> {
        let i = self.lookup(h)?;
        self.srv(i).map(|s| s.state).ok_or(Error::BadHandle)
    }

    /// Version the peer announced for a service.
    pub fn peer_version(&self, h: Handle) -> Result<u16> {
        let i = self.lookup(h)?;
        self.srv(i).map(|s| s.peer_version).ok_or(Error::BadHandle)
    }

    /// The peer's port of a service (0x1000 when not connected).
    pub fn remote_port(&self, h: Handle) -> Result<u16> {
        let i = self.lookup(h)?;
        self.srv(i).map(|s| s.remote_port).ok_or(Error::BadHandle)
    }

    /// The client id of a service: the one sent in our OPEN, or received in the peer's.
    pub fn client_id(&self, h: Handle) -> Result<u32> {
        let i = self.lookup(h)?;
        self.srv(i).map(|s| s.client_id).ok_or(Error::BadHandle)
    }

    /// The quota record of a service.
    pub fn quota(&self, h: Handle) -> Result<Quota> {
        let i = self.lookup(h)?;
        self.tables.quotas.get(i).copied().ok_or(Error::BadHandle)
    }

    /// Sets a service's slot and message quotas (0 keeps the current
    /// value).  A quota may not go below what is in use.
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] for a quota below the current use.
    pub fn set_quota(&mut self, h: Handle, slot_quota: u16, msg_quota: u16) -> Result<()> {
        let i = self.lookup(h)?;
        let q = self.tables.quotas.get_mut(i).ok_or(Error::BadHandle)?;
        if (slot_quota != 0 && slot_quota < q.slot_use) || (msg_quota != 0 && msg_quota < q.msg_use)
        {
            return Err(Error::Inval);
        }
        if slot_quota != 0 {
            q.slot_quota = slot_quota;
        }
        if msg_quota != 0 {
            q.msg_quota = msg_quota;
        }
        Ok(())
    }

    /// Test hook: starts both stream positions of this side at `pos`
    /// (which must be a multiple of 64 slots), so that tests can cross the
    /// 32-bit wrap without sending 4 GiB.  Call on both engines, before
    /// anything is sent.
    #[cfg(feature = "test-hooks")]
    pub fn test_start_position(&mut self, pos: u32) {
        self.tx_pos = pos;
        self.rx_pos = pos;
        self.rx_end = pos;
        self.shm.store(at(self.own, SS_TX_POS), pos);
        let seq = pos >> SLOT_SHIFT;
        for q in self.tables.quotas.iter_mut() {
            q.prev_seq = seq.wrapping_sub(1);
        }
        self.data_quota.prev_seq = seq.wrapping_sub(1);
    }
}
