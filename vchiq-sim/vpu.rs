// SPDX-License-Identifier: GPL-2.0

//! The running VideoCore: its mapping of the ARM's slot memory, its protocol engine in the
//! VPU ("master") role, its services, and one activation of its work item.

use crate::engine::{
    log_nth, BulkDir, BulkResult, CacheLine, Engine, Error as EngError, MsgType, Output, SharedMem,
    Stall, Wait, MAGIC, MAX_SLOTS, SLOT_SIZE, SLOT_ZERO_SIZE, SS_SLOT_FIRST, SS_SLOT_LAST,
    SS_SLOT_SYNC, SZ_MASTER, SZ_PLATFORM_DATA, SZ_SLAVE,
};
use crate::host::{BulkJob, Host, VpuEngine};
use crate::knobs::{bump, Counters, Knobs};
use crate::pagelist::{self, Fragments};
use crate::shm::RawShm;
use crate::sys::{Dev, Mapping};
use crate::tables::new_tables;
use crate::vpu_shm::{Corruption, VpuShm};
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;

/// The ARM port `sync_send` writes to: the last one, where no test opens a service.
const SYNC_SEND_PORT: u32 = 127;

/// Rounds of processing in one activation before the work item requeues itself, so that a
/// flooding ARM cannot keep a worker busy forever.
const MAX_ROUNDS: u32 = 64;

/// How long the services' timed work may wait behind the ARM's messages, in microseconds:
/// while a backlog is parsed, it runs at least this often (a real VideoCore plays audio on
/// its own clock, whatever its message queue holds).
const TICK_MAX_US: u64 = 5_000;

/// The VideoCore after an accepted VCHIQ_INIT.
///
/// Field order is drop order: the engine (whose window points into `map`) and the services
/// go before the mapping.
pub(crate) struct Running {
    eng: VpuEngine,
    host: Host,
    dev: Dev,
    frags: Fragments,
    /// The ARM's receive stream was found corrupt (counted once).
    rx_dead: bool,
    /// The `hold` knob: the doorbell rings once the engine has written this many messages.
    hold_until: Option<u32>,
    /// A doorbell the engine asked for and `hold` kept back.
    ring_owed: bool,
    /// Our own transmit path was found corrupt (counted once).
    tx_dead: bool,
    /// When the services' timed work last ran (microseconds since the simulator's epoch).
    last_tick: u64,
    map: Mapping,
}

/// Why an init was refused.
pub(crate) enum InitError {
    /// Slot zero is not acceptable (the firmware answers with a non-zero status).
    Refused,
    /// A kernel error (allocation, mapping).
    Kernel(Error),
}

impl From<Error> for InitError {
    fn from(e: Error) -> Self {
        InitError::Kernel(e)
    }
}

impl From<kernel::alloc::AllocError> for InitError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        InitError::Kernel(ENOMEM)
    }
}

/// Reads slot zero through a mapping of its first slot and returns the size of the slot
/// memory it describes (up to the highest slot either side uses).
fn slot_memory_size(dev: &Dev, bus: u32) -> Result<u32, InitError> {
    // The mapping starts at the page offset of `bus`: word alignment needs an aligned `bus`.
    if bus % 4 != 0 {
        return Err(InitError::Refused);
    }
    let first = Mapping::new(dev, bus, SLOT_SIZE)?;
    // SAFETY: `first` maps `SLOT_SIZE` bytes at a 4-byte aligned address and outlives `shm`;
    // the memory is only accessed with volatile operations.
    let shm = unsafe { RawShm::new(first.ptr(), first.size()) };
    if shm.load(0) != MAGIC {
        return Err(InitError::Refused);
    }
    let mut top = 0u32;
    for b in [SZ_MASTER, SZ_SLAVE] {
        for f in [SS_SLOT_FIRST, SS_SLOT_LAST, SS_SLOT_SYNC] {
            top = top.max(shm.load(b.wrapping_add(f)));
        }
    }
    if top == 0 || top >= MAX_SLOTS {
        return Err(InitError::Refused);
    }
    // Cannot overflow: top < 128.
    Ok((top + 1) * SLOT_SIZE)
}

impl Running {
    /// Maps the slot memory at bus address `slot_zero`, validates it and publishes the
    /// VideoCore's half (`Engine::init_vpu`), creates the services and queues CONNECT.
    pub(crate) fn start(
        dev: Dev,
        slot_zero: u32,
        cls: u32,
        counters: &Counters,
    ) -> Result<KBox<Self>, InitError> {
        let size = slot_memory_size(&dev, slot_zero)?;
        if size < SLOT_ZERO_SIZE {
            return Err(InitError::Refused);
        }
        let map = Mapping::new(&dev, slot_zero, size)?;
        // SAFETY: `map` maps `size` bytes at a 4-byte aligned address (checked by
        // `slot_memory_size`); it is dropped after the engine that holds the window (field
        // order of `Running`), and the memory is only accessed with volatile operations.
        let raw = unsafe { RawShm::new(map.ptr(), map.size()) };
        let shm = VpuShm::new(raw);
        let frags = Fragments {
            bus: shm.load(SZ_PLATFORM_DATA),
            count: shm.load(SZ_PLATFORM_DATA.wrapping_add(4)),
            cls: CacheLine::new(cls).ok_or(EINVAL)?,
        };
        let mut eng = match Engine::init_vpu(shm, new_tables()?) {
            Ok(e) => e,
            Err(e) => {
                pr_warn!("refusing slot zero: {:?}\n", e);
                return Err(InitError::Refused);
            }
        };
        let own = eng.own_slots();
        eng.shm()
            .set_own_slots(own.first.min(own.sync), own.last.max(own.sync));
        let host = Host::new(&mut eng, counters, dev)?;
        // Queued now, sent with the first activation's doorbell; a failure here (no slot) is
        // retried by every activation.
        let _ = eng.connect();
        Ok(KBox::new(
            Running {
                eng,
                host,
                dev,
                frags,
                rx_dead: false,
                hold_until: None,
                ring_owed: false,
                tx_dead: false,
                last_tick: 0,
                map,
            },
            GFP_KERNEL,
        )?)
    }

    /// One activation: processes everything the ARM has asked for, ringing the ARM through
    /// `ring` after every round in which the engine asks for it, then arms the VideoCore's
    /// events ("sleeps"). Returns whether work is left over after [`MAX_ROUNDS`], for which
    /// the caller must run it again. Stops early, without arming, when `stop` is set.
    /// `clock` reads the time (microseconds since the simulator's epoch), for the services'
    /// deadlines: an activation can take long, so it is read afresh for every tick.
    pub(crate) fn activate(
        &mut self,
        knobs: &Knobs,
        counters: &Counters,
        clock: &dyn Fn() -> u64,
        ring: &dyn Fn(),
    ) -> bool {
        // Awake: the ARM need not ring us while we work.
        for w in Wait::ALL {
            self.eng.finish_sleep(w);
        }
        for _ in 0..MAX_ROUNDS {
            if knobs.stopped() {
                return false;
            }
            for w in Wait::ALL {
                self.eng.ack(w);
            }
            bump(&counters.rounds);
            self.take_hold(knobs);
            self.round(knobs, counters, clock, ring);
            self.ring_if_owed(knobs, ring);
            if self.sleep(knobs) {
                return false;
            }
        }
        true
    }

    /// Rings the ARM's doorbell if the engine asked for it and `hold` does not keep it back.
    fn ring_if_owed(&mut self, knobs: &Knobs, ring: &dyn Fn()) {
        if self.eng.take_doorbell() {
            self.ring_owed = true;
        }
        if self.ring_owed && !self.holding(knobs) {
            self.ring_owed = false;
            ring();
        }
    }

    /// Messages written to the ARM so far (control and data).
    fn sent(&self) -> u32 {
        let s = self.eng.stats();
        s.data_tx.wrapping_add(s.ctrl_tx)
    }

    /// Takes a `hold` command written since the last round.
    fn take_hold(&mut self, knobs: &Knobs) {
        match knobs.hold_cmd.xchg(crate::knobs::NO_HOLD_CMD, Relaxed) {
            crate::knobs::NO_HOLD_CMD => {}
            0 => self.hold_until = None,
            n => self.hold_until = Some(self.sent().wrapping_add(n)),
        }
    }

    /// Whether the doorbell is held back (`hold`); ends the hold once enough was written.
    fn holding(&mut self, knobs: &Knobs) -> bool {
        let Some(until) = self.hold_until else {
            knobs.hold_left.store(0, Relaxed);
            return false;
        };
        // Wrapping distance: the counters wrap at u32::MAX.
        let left = until.wrapping_sub(self.sent());
        if left == 0 || left > i32::MAX as u32 {
            self.hold_until = None;
            knobs.hold_left.store(0, Relaxed);
            return false;
        }
        knobs.hold_left.store(left, Relaxed);
        true
    }

    /// Arms the events to wait on; `false` (with everything disarmed) if there is work.
    fn sleep(&mut self, knobs: &Knobs) -> bool {
        let mut events: [Option<Wait>; 4] = [
            Some(Wait::Trigger),
            Some(Wait::Recycle),
            Some(Wait::SyncTrigger),
            None,
        ];
        // Congested, the ARM's new messages are left alone until it returns slots: waiting
        // for them would be a busy loop. Likewise for a recycle queue found corrupt.
        if self.host.congested() {
            events[0] = None;
        }
        if self.tx_dead {
            events[1] = None;
        }
        // Our sync slot being free is the sync-release condition: only wait for it when a
        // send is stalled on it.
        if self.host.blocked() == Some(Stall::Sync) || knobs.sync_send.load(Relaxed) > 0 {
            events[3] = Some(Wait::SyncRelease);
        }
        for w in events.iter().flatten() {
            if !self.eng.prepare_sleep(*w) {
                for w in Wait::ALL {
                    self.eng.finish_sleep(w);
                }
                return false;
            }
        }
        true
    }

    /// The earliest deadline a service asked for at the last round (microseconds since the
    /// simulator's epoch).
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.host.deadline()
    }

    /// One round of processing.
    fn round(
        &mut self,
        knobs: &Knobs,
        counters: &Counters,
        clock: &dyn Fn() -> u64,
        ring: &dyn Fn(),
    ) {
        if !self.eng.is_connected() {
            let _ = self.eng.connect();
        }
        match self.eng.process_recycle() {
            Ok(_) => {}
            Err(e) => self.tx_broken(e, counters),
        }
        let armed = Corruption::from_knob(knobs.corrupt_header.xchg(0, Relaxed));
        if armed != Corruption::None {
            self.eng.shm().arm(armed);
        }
        self.host.outgoing(&mut self.eng, knobs, counters);
        if knobs.close_open.xchg(0, Relaxed) != 0 {
            let n = self.host.close_all_open(&self.eng);
            pr_info!("closing {} open services from the VideoCore's side\n", n);
        }
        self.send_remote(knobs, counters);
        self.send_sync(knobs, counters);
        let refuse = knobs.refuse_open.load(Relaxed) != 0;
        self.host.apply_refuse(&mut self.eng, refuse, counters);
        self.host.drain(&mut self.eng, counters);

        loop {
            if self.host.congested() && !self.eng.has_output() {
                break;
            }
            if refuse {
                // A service that closed since the last message listens again: hide it before
                // the next OPEN is parsed.
                self.host.apply_refuse(&mut self.eng, true, counters);
            }
            match self.eng.poll() {
                Ok(Some(o)) => {
                    let opened = match o {
                        Output::Opened { handle, .. } => Some(handle),
                        _ => None,
                    };
                    if let Some(job) = self.host.dispatch(&mut self.eng, o, counters) {
                        self.bulk(job, counters);
                    }
                    if let Some(h) = opened.filter(|_| knobs.greet.xchg(0, Relaxed) != 0) {
                        self.host.greet(h, counters);
                    }
                    self.host.drain(&mut self.eng, counters);
                    if self.tick_if_due(counters, clock()) {
                        // What the timed work sent (COMPLETEs) reaches the ARM now, not
                        // after the backlog.
                        self.ring_if_owed(knobs, ring);
                    }
                }
                Ok(None) | Err(EngError::WouldBlock) => break,
                Err(e) => {
                    self.rx_broken(e, counters);
                    break;
                }
            }
        }
        loop {
            match self.eng.poll_sync() {
                Ok(Some(o)) => {
                    if let Some(job) = self.host.dispatch(&mut self.eng, o, counters) {
                        self.bulk(job, counters);
                    }
                    self.host.drain(&mut self.eng, counters);
                }
                Ok(None) | Err(EngError::WouldBlock) => break,
                Err(e) => {
                    self.rx_broken(e, counters);
                    break;
                }
            }
        }
        // Timed work (AUDS playing) after the messages, so that data that just came is
        // played in the same round.
        self.tick(counters, clock());

        // A corruption still armed waits for the next message; one that fired is counted.
        let left = self.eng.shm().disarm();
        if left != Corruption::None {
            let _ = knobs.corrupt_header.cmpxchg(0, left.to_knob(), Relaxed);
        }
        if self.eng.shm().take_fired() {
            bump(&counters.corrupted);
            pr_info!("corrupted the header of a message to the ARM\n");
        }
    }

    /// The services' timed work at `now`, and what it queued sent.
    fn tick(&mut self, counters: &Counters, now: u64) {
        self.host.tick(&mut self.eng, counters, now);
        self.host.drain(&mut self.eng, counters);
        self.last_tick = now;
    }

    /// [`Self::tick`] between two ARM messages, if a service's deadline passed or the last
    /// tick is [`TICK_MAX_US`] old (a stream that just started has no deadline yet).
    /// Returns whether it ran.
    fn tick_if_due(&mut self, counters: &Counters, now: u64) -> bool {
        let stale = now.saturating_sub(self.last_tick) >= TICK_MAX_US;
        if stale || self.host.deadline().is_some_and(|d| d <= now) {
            self.tick(counters, now);
            return true;
        }
        false
    }

    /// Sends the REMOTE_USE, then the REMOTE_RELEASE messages the knobs ask for; what does
    /// not fit in the slots waits for the next activation (a recycle wakes us).
    fn send_remote(&mut self, knobs: &Knobs, counters: &Counters) {
        if self.tx_dead {
            return;
        }
        let kinds = [
            (&knobs.remote_use, MsgType::RemoteUse, &counters.remote_uses),
            (
                &knobs.remote_release,
                MsgType::RemoteRelease,
                &counters.remote_releases,
            ),
        ];
        for (knob, ty, sent) in kinds {
            // Only this work item takes from the knobs; writers only add.
            while knob.load(Relaxed) > 0 {
                match self.eng.send_control(ty) {
                    Ok(()) => {
                        knob.fetch_sub(1u32, Relaxed);
                        bump(sent);
                    }
                    // Releases wait behind the uses still pending.
                    Err(EngError::WouldBlock) => return,
                    Err(e) => {
                        knob.store(0, Relaxed);
                        let n = bump(&counters.errors);
                        if log_nth(n) {
                            pr_err!("sending {:?} failed: {:?}\n", ty, e);
                        }
                    }
                }
            }
        }
    }

    /// Sends the DATA messages of `sync_send` through the sync slot, one per ARM release.
    fn send_sync(&mut self, knobs: &Knobs, counters: &Counters) {
        while knobs.sync_send.load(Relaxed) > 0 {
            match self.eng.send_sync_raw(0, SYNC_SEND_PORT, b"sync") {
                Ok(()) => {
                    knobs.sync_send.fetch_sub(1u32, Relaxed);
                    bump(&counters.sync_sent);
                }
                // The ARM still has the last one: its release wakes us (`sleep`).
                Err(EngError::WouldBlock) => return,
                Err(e) => {
                    knobs.sync_send.store(0, Relaxed);
                    let n = bump(&counters.errors);
                    if log_nth(n) {
                        pr_err!("sending through the sync slot failed: {:?}\n", e);
                    }
                }
            }
        }
    }

    fn rx_broken(&mut self, e: EngError, counters: &Counters) {
        if !self.rx_dead {
            self.rx_dead = true;
            bump(&counters.errors);
            pr_err!(
                "the ARM's message stream is corrupt ({:?}): not receiving any more\n",
                e
            );
        }
    }

    fn tx_broken(&mut self, e: EngError, counters: &Counters) {
        if !self.tx_dead {
            self.tx_dead = true;
            bump(&counters.errors);
            pr_err!(
                "the ARM returned slots it does not hold ({:?}): not sending any more\n",
                e
            );
        }
    }

    /// Performs a paired bulk transfer and completes it.
    fn bulk(&mut self, job: BulkJob, counters: &Counters) {
        let result = self.move_bulk(&job, counters);
        self.host
            .complete(&mut self.eng, job.handle, job.dir, result, counters);
    }

    /// Moves the data of `job` between the ARM's pagelist and the service's buffer.
    fn move_bulk(&mut self, job: &BulkJob, counters: &Counters) -> BulkResult {
        if job.size != job.remote_size {
            // The protocol's rule: no data moves, both sides abort.
            bump(&counters.bulk_mismatches);
            return BulkResult::Aborted;
        }
        let Some(buf) = self.host.bulk_buf(job.cookie) else {
            bump(&counters.errors);
            return BulkResult::Aborted;
        };
        let region = buf.region_mut();
        match pagelist::transfer(&self.dev, &self.frags, job.dir, job.pagelist, region) {
            Ok(n) => {
                bump(&counters.bulks);
                BulkResult::Done(n)
            }
            Err(e) => {
                bulk_failed(job, e, counters);
                BulkResult::Aborted
            }
        }
    }

    /// Runs a service's debugfs command (`smem`).
    pub(crate) fn command(&mut self, line: &str, counters: &Counters) -> Result {
        self.host.command(&mut self.eng, line, counters)
    }

    /// The services' debugfs lines (`smem`).
    pub(crate) fn describe_services(
        &self,
        f: &mut kernel::fmt::Formatter<'_>,
    ) -> kernel::fmt::Result {
        self.host.describe_services(f)
    }

    /// A summary for the `state` file.
    pub(crate) fn describe(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        let s = self.eng.stats();
        let own = self.eng.own_slots();
        let peer = self.eng.peer_slots();
        writeln!(f, "memory: {} bytes", self.map.size())?;
        writeln!(
            f,
            "slots: vpu {}..={} sync {}, arm {}..={} sync {}",
            own.first, own.last, own.sync, peer.first, peer.last, peer.sync
        )?;
        writeln!(
            f,
            "fragments: bus {:#x} count {} line {}",
            self.frags.bus,
            self.frags.count,
            self.frags.cls.bytes()
        )?;
        writeln!(f, "connected: {}", self.eng.is_connected())?;
        writeln!(f, "version: {}", self.eng.version_common())?;
        writeln!(f, "listeners: {}", self.host.listeners())?;
        writeln!(
            f,
            "outbox: {} blocked: {:?}",
            self.host.outbox_len(),
            self.host.blocked()
        )?;
        writeln!(f, "rx_broken: {} tx_broken: {}", self.rx_dead, self.tx_dead)?;
        writeln!(f, "{:?}", s)
    }
}

/// Counts a failed transfer and logs it (rate-limited).
fn bulk_failed(job: &BulkJob, e: Error, counters: &Counters) {
    let n = bump(&counters.bulk_errors);
    if !log_nth(n) {
        return;
    }
    let towards = match job.dir {
        BulkDir::Transmit => "to",
        BulkDir::Receive => "from",
    };
    pr_warn!(
        "bulk of {} bytes {} the ARM (pagelist {:#x}) failed: {:?} (error #{})\n",
        job.size,
        towards,
        job.pagelist,
        e,
        n
    );
}
