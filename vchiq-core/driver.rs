// SPDX-License-Identifier: GPL-2.0

//! Binding a VideoCore: probe and unbind, the same for every [`Platform`].
//!
//! Probe allocates the slot memory (coherent DMA, 32-bit), lays out slot zero, starts the
//! threads, requests the doorbell interrupt, hands slot zero to the VideoCore and registers
//! one auxiliary device per client kind. Unbind undoes it in reverse; see
//! `Documentation/architecture.rst` ("Unload") for what happens to memory the VideoCore may
//! still write.

use crate::bulk::FRAGMENTS;
use crate::debugfs::DebugDir;
use crate::engine::{to_kernel_err, Engine};
use crate::platform::bcm2835::{self, Bcm2835};
use crate::platform::sim::{self, Sim};
use crate::platform::Platform;
use crate::shm::RawShm;
use crate::state::VchiqState;
use crate::sys::{self, AuxDevice, Kthread};
use crate::tables::new_tables;
use crate::threads::{KeepaliveThread, RecycleThread, SlotThread, SyncThread};
use kernel::device::{Bound, Core};
use kernel::dma::Device as _;
use kernel::dma::DmaMask;
use kernel::irq::{self, IrqReturn};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::{of, platform};

/// Slots of the shared memory: slot zero and 32 for each side, as on a Pi.
const TOTAL_SLOTS: usize = 1 + 2 * 32;
/// The slot size (the protocol's).
const SLOT_SIZE: usize = crate::engine::SLOT_SIZE as usize;

/// The client kinds that get an auxiliary device (`vchiq_core.<name>.<id>`).
const CLIENTS: [&CStr; 4] = [c"audio", c"cdev", c"smem", c"ktest"];

/// The module's name, which prefixes the auxiliary devices.
const MODNAME: &CStr = c"vchiq_core";

/// The protocol threads; dropping them stops and joins them.
struct Threads {
    core: Arc<VchiqState>,
    _slot: Kthread<SlotThread>,
    _recycle: Kthread<RecycleThread>,
    _sync: Kthread<SyncThread>,
    _keep: Kthread<KeepaliveThread>,
}

impl Threads {
    fn start(core: &Arc<VchiqState>) -> Result<Self> {
        // On a failure the threads already started must be told to stop before their
        // `Kthread`s are dropped (which joins them).
        let stop_on_err = |e: Error| {
            core.stop_threads();
            e
        };
        let slot = Arc::new(SlotThread(core.clone()), GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|t| Kthread::start(c"vchiq-slot", t))?;
        let recycle = Arc::new(RecycleThread(core.clone()), GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|t| Kthread::start(c"vchiq-recy", t))
            .map_err(stop_on_err)?;
        let sync = Arc::new(SyncThread(core.clone()), GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|t| Kthread::start(c"vchiq-sync", t))
            .map_err(stop_on_err)?;
        let keep = Arc::new(KeepaliveThread(core.clone()), GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|t| Kthread::start(c"vchiq-keep", t))
            .map_err(stop_on_err)?;
        Ok(Self {
            core: core.clone(),
            _slot: slot,
            _recycle: recycle,
            _sync: sync,
            _keep: keep,
        })
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Before the fields' drops join the threads.
        self.core.stop_threads();
    }
}

/// The slot memory; kept (leaked) instead of freed when the VideoCore may still write it.
struct SlotMemory {
    mem: Option<sys::CoherentBuf>,
    /// VCHIQ_INIT gave (or may have given) the VideoCore the memory's address.
    handed_over: bool,
    keep: bool,
}

impl Drop for SlotMemory {
    fn drop(&mut self) {
        if self.keep {
            if let Some(mem) = self.mem.take() {
                pr_warn!(
                    "vchiq: keeping {} bytes of slot memory the VideoCore may still write\n",
                    mem.size()
                );
                mem.keep();
            }
        }
    }
}

/// The doorbell interrupt handler.
struct DoorbellIrq(Arc<VchiqState>);

impl irq::Handler for DoorbellIrq {
    fn handle(&self) -> IrqReturn {
        if self.0.doorbell_irq() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// What a bound device owns. Fields drop in order: clients, debugfs, threads, the
/// interrupt, and last the memory.
#[pin_data(PinnedDrop)]
pub(crate) struct DeviceData<'bound> {
    core: Arc<VchiqState>,
    aux: KVec<AuxDevice<VchiqState>>,
    debugfs: Option<DebugDir>,
    threads: Option<Threads>,
    #[pin]
    irq: irq::Registration<'bound, DoorbellIrq>,
    mem: SlotMemory,
    /// Bus address of slot zero.
    slot_bus: u32,
}

#[pinned_drop]
impl PinnedDrop for DeviceData<'_> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: no field is structurally pinned except `irq`, which is not moved.
        let this = unsafe { self.get_unchecked_mut() };
        // Clients first: their remove() shuts their instances down while the core works.
        this.aux.clear();
        this.debugfs.take();
        // Tell waiters the device is gone: from here on nothing touches the engine.
        {
            let mut inner = this.core.inner.lock();
            inner.dead = true;
            this.core.changed.notify_all();
        }
        // Ask the VideoCore to let go of the memory before unmapping anything it might still
        // be moving data into (a real one never does; the simulator does).
        // Memory whose address the VideoCore never got is simply freed.
        this.mem.keep = this.mem.handed_over && !this.core.platform.release_memory();
        // Unmaps every transfer still in flight, or keeps them if the VideoCore kept the
        // memory: it may still read their pagelists and move their data.
        let kept = this.core.inner.lock().bulks.clear(this.mem.keep);
        if kept.transfers > 0 {
            dev_warn!(
                this.core.dev,
                "keeping {} bulk transfers ({} bytes) the VideoCore may still access; {} of them in client kernel buffers\n",
                kept.transfers,
                kept.bytes,
                kept.client_buffers
            );
        }
        this.threads.take();
        dev_info!(this.core.dev, "unbound\n");
    }
}

fn probe_with<'bound>(
    pdev: &'bound platform::Device<Core<'_>>,
    platform: KBox<dyn Platform>,
) -> Result<impl PinInit<DeviceData<'bound>, Error> + 'bound> {
    // SAFETY: no DMA mapping or allocation of this device exists yet.
    unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<32>())? };
    sys::keep_page_offset(pdev.as_ref());
    let pdev: &'bound platform::Device<Bound> = pdev;
    let cls = platform.cache_line_size() as usize;
    let slots = TOTAL_SLOTS * SLOT_SIZE;
    let frags = FRAGMENTS as usize * 2 * cls;
    let total = slots + frags;
    let mem = sys::CoherentBuf::new(pdev.as_ref(), u32::try_from(total).map_err(|_| EINVAL)?)?;
    let bus = u32::try_from(mem.bus()).map_err(|_| EINVAL)?;
    let base = mem.ptr();
    // SAFETY: `mem` is `total` bytes of coherent memory, kept until after the engine can no
    // longer touch it (`VchiqState` is marked dead before `SlotMemory` drops); only the engine,
    // the VideoCore and the fragment copies access it, all through volatile accesses.
    let shm = unsafe { RawShm::new(base, slots as u32) };
    // SAFETY: the fragment pool is the last `frags` bytes of the same `total`-byte allocation,
    // after the slots, with the same lifetime; only the fragment copies and the VideoCore touch
    // it, through volatile accesses.
    let frag_shm = unsafe { RawShm::new(base.add(slots), frags as u32) };
    let frag_bus = bus.checked_add(slots as u32).ok_or(EINVAL)?;
    let mut engine =
        Engine::init_arm(shm, new_tables()?, [frag_bus, FRAGMENTS]).map_err(to_kernel_err)?;
    // Callbacks are delivered in batches after the engine has parsed on: the VideoCore's
    // CLOSE must not hand back a message whose MESSAGE_AVAILABLE is still to be delivered.
    // The slot handler releases a closed connection's messages after its SERVICE_CLOSED
    // callback.
    engine.set_keep_held_on_close(true);
    let core = VchiqState::new(pdev.as_ref(), engine, frag_shm, platform)?;
    let threads = Threads::start(&core)?;
    let irq_core = core.clone();
    Ok(try_pin_init!(DeviceData {
        core: core.clone(),
        aux: KVec::new(),
        debugfs: None,
        threads: Some(threads),
        // SAFETY: `DeviceData` is the driver's data, dropped at unbind, never leaked.
        irq <- unsafe {
            pdev.request_irq_by_index(
                irq::Flags::TRIGGER_NONE,
                0,
                c"VCHIQ doorbell",
                Ok::<_, Error>(DoorbellIrq(irq_core)),
            )
        },
        mem: SlotMemory {
            mem: Some(mem),
            handed_over: false,
            keep: false,
        },
        slot_bus: bus,
    }))
}

/// Hands the memory to the VideoCore, then registers the auxiliary devices and debugfs, once
/// the data is in place: a failure drops the data through its normal teardown (threads
/// stopped, interrupt freed, then the memory).
fn finish(data: Pin<&mut DeviceData<'_>>, pdev: &platform::Device<Bound>) -> Result {
    // SAFETY: `aux` and `debugfs` are not structurally pinned.
    let data = unsafe { data.get_unchecked_mut() };
    let core = &data.core;
    data.mem.handed_over = true;
    core.platform.vchiq_init(data.slot_bus).inspect_err(|e| {
        dev_err!(pdev.as_ref(), "VCHIQ_INIT failed: {:?}\n", e);
        // No firmware to ask, or it refused: the VideoCore does not have the address. (After
        // a transport error it may have: the memory is then kept.)
        if [ENOENT, ENODEV, EPROBE_DEFER, ENXIO].contains(e) {
            data.mem.handed_over = false;
        }
    })?;
    dev_info!(
        pdev.as_ref(),
        "VideoCore ({}) has the slot memory at {:#x}: {} slots, {} fragments of {} bytes\n",
        core.platform.name(),
        data.slot_bus,
        TOTAL_SLOTS,
        FRAGMENTS,
        2 * core.platform.cache_line_size()
    );
    for (i, name) in CLIENTS.iter().enumerate() {
        let a = AuxDevice::add(pdev.as_ref(), MODNAME, name, 0, data.core.clone())
            .inspect_err(|e| dev_err!(pdev.as_ref(), "auxiliary device {} failed: {:?}\n", i, e))?;
        data.aux.push(a, GFP_KERNEL)?;
    }
    data.debugfs = DebugDir::new(pdev.as_ref(), &data.core).ok();
    Ok(())
}

kernel::of_device_table!(
    OF_TABLE,
    <Bcm2835Driver as platform::Driver>::IdInfo,
    [
        (of::DeviceId::new(c"brcm,bcm2836-vchiq"), &bcm2835::BCM2836),
        (of::DeviceId::new(c"brcm,bcm2835-vchiq"), &bcm2835::BCM2835),
    ]
);

/// The driver for a Raspberry Pi's VideoCore (device tree).
pub(crate) struct Bcm2835Driver;

impl platform::Driver for Bcm2835Driver {
    type IdInfo = &'static bcm2835::Info;
    type Data<'bound> = DeviceData<'bound>;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let info = info.ok_or(EINVAL)?;
            let regs = pdev
                .io_request_by_index(0)
                .ok_or(ENODEV)?
                .iomap_sized::<{ bcm2835::REGS_SIZE }>()?
                .into_devres()?;
            let bcm = Bcm2835::new(regs, info);
            // BELL0 is read-to-clear: drop a doorbell left rung by an earlier kernel or load
            // before the interrupt is requested.
            let stale = bcm.doorbell_rung();
            dev_info!(
                pdev.as_ref(),
                "bcm2835 doorbell registers mapped ({}-byte cache lines{})\n",
                info.cache_line_size,
                if stale {
                    ", stale doorbell cleared"
                } else {
                    ""
                }
            );
            let platform: KBox<dyn Platform> = KBox::new(bcm, GFP_KERNEL)?;
            let init = probe_with(pdev, platform)?;
            let pdev: &'bound platform::Device<Bound> = pdev;
            Ok(init.pin_chain(move |data| finish(data, pdev)))
        })
    }
}

/// The driver for the simulated VideoCore (bound by device name).
pub(crate) struct SimDriver;

impl platform::Driver for SimDriver {
    type IdInfo = ();
    type Data<'bound> = DeviceData<'bound>;

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            // SAFETY: a device named `vchiq-sim` is registered by the simulator with its
            // platform data, valid while we are bound (`include/vchiq-rs/sim.h`).
            let sim = unsafe { Sim::from_platdata(sys::platdata(pdev.as_ref()))? };
            let platform: KBox<dyn Platform> = KBox::new(sim, GFP_KERNEL)?;
            let init = probe_with(pdev, platform)?;
            let pdev: &'bound platform::Device<Bound> = pdev;
            Ok(init.pin_chain(move |data| finish(data, pdev)))
        })
    }
}

/// The simulator's device name, which the sim driver is registered under.
pub(crate) const SIM_DRIVER_NAME: &CStr = sim::DEVICE_NAME;
