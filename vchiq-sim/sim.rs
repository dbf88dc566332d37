// SPDX-License-Identifier: GPL-2.0

//! The simulated VideoCore's shared state and the hardware boundary of
//! `include/vchiq-rs/sim.h`: the VCHIQ_INIT firmware call and the two doorbells.
//!
//! The VideoCore runs in its own context: a work item on the simulator's ordered workqueue.
//! The ARM ringing BELL2 ([`Sim::ring_bell2`], any context, possibly under spinlocks) only
//! counts the ring and queues the work item; the work item locks the VideoCore, processes
//! everything, and, when the engine says the ARM is waiting, sets BELL0 and raises the
//! doorbell interrupt. The ARM's interrupt handler reads and clears BELL0
//! ([`Sim::read_bell0`]).
//!
//! Life cycle of the VideoCore ([`Vpu`]): `Off` until the first VCHIQ_INIT, `Running` after
//! an accepted one. Like the real firmware it refuses a second VCHIQ_INIT (status 1).
//!
//! - The core's `vc_reset` op (it unbinds) and writing `reset` in debugfs drop the ARM's
//!   memory and return to `Off`; the next VCHIQ_INIT is accepted. `vc_reset` waits for a
//!   running activation (they share the lock), so the VideoCore never touches the memory
//!   after it returned 0.
//! - With `refuse_reset` set, `vc_reset` fails with -EBUSY, as real firmware cannot let go:
//!   the core keeps (leaks) the memory and the VideoCore keeps running on it, until the
//!   device-managed action below detaches it (with `refuse_reset` 2 it does not: the
//!   VideoCore goes on with what it was asked, as real firmware would, until `reset`).
//! - A device-managed action, registered by every accepted VCHIQ_INIT, moves a `Running`
//!   VideoCore to `Detached` when the core's binding ends (after its `remove()`, before the
//!   slot memory it allocated before VCHIQ_INIT is released): a safety net for a core that
//!   did not call `vc_reset`. `Detached` refuses VCHIQ_INIT until `reset`, so a re-probe
//!   fails cleanly.

use crate::engine::log_nth;
use crate::fmt64::U64;
use crate::knobs::{bump, Counters, Knobs};
use crate::latency::{stamp, Latency};
use crate::sys::HwRef;
use crate::vpu::{InitError, Running};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed, Release},
        Arc, ArcBorrow, Mutex,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

// BELL0's bit that says the VideoCore rang the ARM (`sim.h`).
use crate::ffi::VCHIQ_SIM_BELL0_RUNG as BELL0_RUNG;

/// VCHIQ_INIT status: accepted.
const STATUS_OK: u32 = 0;
/// VCHIQ_INIT status: already initialised (no reset since).
const STATUS_AGAIN: u32 = 1;
/// VCHIQ_INIT status: slot zero not acceptable.
const STATUS_BAD: u32 = 2;

/// The VideoCore's life cycle.
pub(crate) enum Vpu {
    /// No VCHIQ_INIT yet (or reset since).
    Off,
    /// Working on the ARM's memory.
    Running(KBox<Running>),
    /// The core unbound: the memory is gone; VCHIQ_INIT is refused until reset.
    Detached,
}

impl Vpu {
    fn name(&self) -> &'static str {
        match self {
            Vpu::Off => "off",
            Vpu::Running(_) => "running",
            Vpu::Detached => "detached",
        }
    }
}

/// The simulated VideoCore.
#[pin_data]
pub(crate) struct Sim {
    hw: HwRef,
    /// Cache line size assumed for bulk fragments.
    cls: u32,
    #[pin]
    vpu: Mutex<Vpu>,
    #[pin]
    work: Work<Sim>,
    /// The ARM's doorbell register (read to clear).
    bell0: Atomic<u32>,
    /// Module load time, the origin of the latency timestamps.
    epoch: Instant<Monotonic>,
    /// BELL2 ring to activation.
    wake_vc: Latency,
    /// Interrupt raised to BELL0 read.
    wake_arm: Latency,
    /// Duration of activations (with the VideoCore locked).
    busy: Latency,
    pub(crate) knobs: Knobs,
    pub(crate) counters: Counters,
}

impl_has_work! {
    impl HasWork<Self> for Sim { self.work }
}

impl WorkItem for Sim {
    type Pointer = Arc<Sim>;

    fn run(this: Arc<Sim>) {
        this.activate();
    }
}

impl Sim {
    /// A VideoCore that is off.
    pub(crate) fn new(hw: HwRef, cls: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            hw,
            cls,
            vpu <- new_mutex!(Vpu::Off, "vchiq_sim::vpu"),
            work <- new_work!("vchiq_sim::work"),
            bell0: Atomic::new(0),
            epoch: Instant::now(),
            wake_vc: Latency::new(),
            wake_arm: Latency::new(),
            busy: Latency::new(),
            knobs: Knobs::new(),
            counters: Counters::new(),
        })
    }

    /// Queues an activation of the VideoCore. Any context.
    pub(crate) fn kick(&self) {
        // SAFETY: every `Sim` lives in the `Arc` the module created, which the module holds
        // until after the queue is drained, so the count cannot reach zero meanwhile, and no
        // `UniqueArc` of it exists.
        let this: Arc<Sim> = unsafe { ArcBorrow::from_raw(self) }.into();
        // An activation that is already queued will see whatever this one was for.
        let _ = self.hw.queue().enqueue(this);
    }

    /// One activation (the work item).
    fn activate(&self) {
        if self.knobs.stopped() {
            return;
        }
        self.wake_vc.end(stamp(&self.epoch));
        let delay = self.knobs.delay_ms.load(Relaxed);
        if delay > 0 {
            fsleep(Delta::from_millis(i64::from(delay)));
        }
        let (again, deadline) = {
            let mut vpu = self.vpu.lock();
            let Vpu::Running(r) = &mut *vpu else {
                return;
            };
            let now = stamp(&self.epoch);
            self.busy.start(now);
            let again = r.activate(&self.knobs, &self.counters, &|| stamp(&self.epoch), &|| {
                self.ring_arm()
            });
            self.busy.end(stamp(&self.epoch));
            (again, r.deadline())
        };
        if let Some(at) = deadline {
            // The next service deadline (microseconds since `epoch`), at most a second away
            // per arming: a later one is re-armed by that activation.
            let left = at.saturating_sub(stamp(&self.epoch)).min(1_000_000);
            self.hw.kick_after(left as u32);
        }
        if self.knobs.pingpong.load(Relaxed) != 0 {
            self.ring_arm();
        }
        if again {
            self.kick();
        }
    }

    /// Sets BELL0 and raises the ARM's doorbell interrupt, unless `drop_doorbell` eats it.
    fn ring_arm(&self) {
        if self.knobs.take_drop_doorbell() {
            bump(&self.counters.doorbells_dropped);
            return;
        }
        self.wake_arm.start(stamp(&self.epoch));
        self.bell0.store(BELL0_RUNG, Release);
        bump(&self.counters.doorbells);
        self.hw.raise();
    }

    /// The ARM wrote BELL2. Any context.
    pub(crate) fn ring_bell2(&self) {
        bump(&self.counters.bell2);
        self.wake_vc.start(stamp(&self.epoch));
        self.kick();
    }

    /// The ARM read BELL0, which clears it. Any context (the ARM's hard IRQ handler).
    pub(crate) fn read_bell0(&self) -> u32 {
        let v = self.bell0.xchg(0, Full);
        if v != 0 {
            self.wake_arm.end(stamp(&self.epoch));
        }
        v
    }

    /// The firmware's VCHIQ_INIT with the bus address of slot zero. Returns the firmware's
    /// status (0 accepted, 1 already initialised, 2 bad slot zero).
    ///
    /// # Errors
    ///
    /// `ETIMEDOUT` while stopped (the firmware does not answer), `ENODEV` without a device,
    /// `ENOMEM`.
    pub(crate) fn fw_vchiq_init(&self, slot_zero: u32) -> Result<u32> {
        if self.knobs.stopped() {
            return Err(ETIMEDOUT);
        }
        let dev = self.hw.dev().ok_or(ENODEV)?;
        let mut vpu = self.vpu.lock();
        if !matches!(*vpu, Vpu::Off) {
            let n = bump(&self.counters.refused_inits);
            if log_nth(n) {
                pr_warn!(
                    "VCHIQ_INIT refused: already initialised ({}); write 1 to reset first\n",
                    vpu.name()
                );
            }
            return Ok(STATUS_AGAIN);
        }
        let running = match Running::start(dev, slot_zero, self.cls, &self.counters) {
            Ok(r) => r,
            Err(InitError::Refused) => {
                bump(&self.counters.refused_inits);
                pr_warn!("VCHIQ_INIT refused: bad slot zero at {:#x}\n", slot_zero);
                return Ok(STATUS_BAD);
            }
            Err(InitError::Kernel(e)) if e == EFAULT => {
                bump(&self.counters.refused_inits);
                pr_warn!("VCHIQ_INIT refused: bad slot zero at {:#x}\n", slot_zero);
                return Ok(STATUS_BAD);
            }
            Err(InitError::Kernel(e)) => return Err(e),
        };
        // SAFETY: `self` is the module's `Sim`, which outlives the platform device.
        unsafe { dev.add_detach_action(core::ptr::from_ref(self).cast()) }?;
        *vpu = Vpu::Running(running);
        drop(vpu);
        bump(&self.counters.inits);
        pr_info!("VCHIQ_INIT accepted: slot zero at {:#x}\n", slot_zero);
        crate::fwmem::msg(format_args!("vchiq: VCHIQ_INIT accepted"));
        self.kick();
        Ok(STATUS_OK)
    }

    /// The platform device's reference count (debugfs `device_refs`).
    pub(crate) fn device_refs(&self) -> u32 {
        self.hw.dev_refs()
    }

    /// The core unbound: stop touching its memory, unless `refuse_reset` is 2 (a VideoCore
    /// that, like real firmware, goes on with whatever it was asked: it then reads and writes
    /// the memory the core had to keep). Process context.
    pub(crate) fn detach(&self) {
        if self.knobs.refuse_reset.load(Relaxed) >= 2 {
            pr_info!("the core unbound; still running on its memory (refuse_reset 2)\n");
            return;
        }
        let old = {
            let mut vpu = self.vpu.lock();
            if !matches!(*vpu, Vpu::Running(_)) {
                return;
            }
            core::mem::replace(&mut *vpu, Vpu::Detached)
        };
        drop(old);
        pr_info!("detached from the ARM's memory\n");
    }

    /// Forgets the ARM's memory and allows a new VCHIQ_INIT. Process context.
    pub(crate) fn reset(&self) {
        let old = core::mem::replace(&mut *self.vpu.lock(), Vpu::Off);
        self.bell0.store(0, Relaxed);
        if !matches!(old, Vpu::Off) {
            bump(&self.counters.resets);
            pr_info!("reset: was {}\n", old.name());
            crate::fwmem::msg(format_args!("vchiq: reset (was {})", old.name()));
        }
        drop(old);
    }

    /// The core unbinds: let go of its memory, unless told to behave like real firmware.
    ///
    /// # Errors
    ///
    /// `EBUSY` with `refuse_reset` set: the VideoCore keeps using the memory.
    pub(crate) fn vc_reset(&self) -> Result {
        if self.knobs.refuse_reset.load(Relaxed) != 0 {
            bump(&self.counters.refused_resets);
            pr_info!("vc_reset refused (refuse_reset): keeping the ARM's memory\n");
            return Err(EBUSY);
        }
        self.reset();
        Ok(())
    }

    /// Runs a service command (debugfs `smem`) in the VideoCore's context, then lets an
    /// activation send what it queued. Process context.
    ///
    /// # Errors
    ///
    /// `ENODEV` while the VideoCore is not running; the command's own error otherwise.
    pub(crate) fn command(&self, line: &str) -> Result {
        let r = match &mut *self.vpu.lock() {
            Vpu::Running(r) => r.command(line, &self.counters),
            _ => Err(ENODEV),
        };
        self.kick();
        r
    }

    /// The services' lines (debugfs `smem`).
    pub(crate) fn describe_services(
        &self,
        f: &mut kernel::fmt::Formatter<'_>,
    ) -> kernel::fmt::Result {
        match &*self.vpu.lock() {
            Vpu::Running(r) => r.describe_services(f),
            _ => writeln!(f, "off"),
        }
    }

    /// Writes the `state` file.
    pub(crate) fn describe(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        let vpu = self.vpu.lock();
        writeln!(f, "state: {}", vpu.name())?;
        writeln!(f, "stopped: {}", self.knobs.stopped())?;
        writeln!(f, "cache_line_size: {}", self.cls)?;
        writeln!(f, "bell0: {:#x}", self.bell0.load(Relaxed))?;
        for (name, l) in [
            ("wake bell2->vc", &self.wake_vc),
            ("wake irq->arm", &self.wake_arm),
            ("activations", &self.busy),
        ] {
            let (n, total, max) = l.summary();
            // 64-bit values go through `U64`: `core` cannot format them on 32-bit ARM.
            writeln!(
                f,
                "{name}: {} total {} us max {} us",
                U64(n),
                U64(total),
                U64(max)
            )?;
        }
        if let Vpu::Running(r) = &*vpu {
            r.describe(f)?;
        }
        Ok(())
    }
}

// The ops of `struct vchiq_sim_ops`, collected by sim_glue.c. `ctx` is the module's `Sim`
// (platform data), valid while the platform device is registered.

/// `fw_vchiq_init`.
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim` and `status` valid for a write.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_fw_vchiq_init(
    ctx: *mut c_void,
    slot_zero: u32,
    status: *mut u32,
) -> c_int {
    // SAFETY: the caller guarantees `ctx`.
    let sim = unsafe { &*ctx.cast::<Sim>() };
    match sim.fw_vchiq_init(slot_zero) {
        Ok(s) => {
            // SAFETY: the caller guarantees `status`.
            unsafe { status.write(s) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The VideoCore's timer fired (sim_glue.c): activate it.
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim`.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_tick(ctx: *mut c_void) {
    // SAFETY: the caller guarantees `ctx`.
    unsafe { &*ctx.cast::<Sim>() }.kick()
}

/// `ring_bell2`.
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim`.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_ring_bell2(ctx: *mut c_void) {
    // SAFETY: the caller guarantees `ctx`.
    unsafe { &*ctx.cast::<Sim>() }.ring_bell2()
}

/// `read_bell0`.
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim`.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_read_bell0(ctx: *mut c_void) -> u32 {
    // SAFETY: the caller guarantees `ctx`.
    unsafe { &*ctx.cast::<Sim>() }.read_bell0()
}

/// `vc_reset`.
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim`.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_vc_reset(ctx: *mut c_void) -> c_int {
    // SAFETY: the caller guarantees `ctx`.
    match unsafe { &*ctx.cast::<Sim>() }.vc_reset() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The device-managed detach action (sim_glue.c).
///
/// # Safety
///
/// `ctx` must be the simulator's `Sim`.
#[no_mangle]
unsafe extern "C" fn vchiq_sim_rs_detach(ctx: *mut c_void) {
    // SAFETY: the caller guarantees `ctx`.
    unsafe { &*ctx.cast::<Sim>() }.detach()
}

// The ops above have exactly the types `struct vchiq_sim_ops` gives them in `sim.h`
// (generated): a changed op on either side fails the build.
const _: crate::ffi::vchiq_sim_ops = crate::ffi::vchiq_sim_ops {
    fw_vchiq_init: Some(vchiq_sim_rs_fw_vchiq_init),
    ring_bell2: Some(vchiq_sim_rs_ring_bell2),
    read_bell0: Some(vchiq_sim_rs_read_bell0),
    vc_reset: Some(vchiq_sim_rs_vc_reset),
};
