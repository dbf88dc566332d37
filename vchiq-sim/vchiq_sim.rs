// SPDX-License-Identifier: GPL-2.0

//! vchiq-sim: a simulated VideoCore for testing the VCHIQ driver family in QEMU.
//!
//! The module registers the platform device "vchiq-sim" (`include/vchiq-rs/sim.h`) that
//! vchiq-core binds: doorbell registers and the VCHIQ_INIT firmware call as ops in the
//! platform data, the doorbell as an interrupt of an interrupt-simulator domain. Behind it
//! runs the protocol engine in the VideoCore ("master") role over the ARM's own slot memory,
//! with the firmware's test services (`services/`), bulk DMA driven by the ARM's pagelists,
//! and debugfs fault knobs. The two modules share no symbols.
//!
//! Files: `sim.rs` (state, ops, life cycle), `vpu.rs` (the running VideoCore), `host.rs`
//! (service host), `services/` (the services), `pagelist.rs` (bulk DMA), `vpu_shm.rs` (shared
//! memory window and header corruption), `knobs.rs` and `debugfs.rs`, `sys.rs` with
//! `sim_glue.c` (kernel glue), and `engine.rs` (the engine sources from `../vchiq-core`).

use kernel::{prelude::*, sync::Arc};

mod audsfs;
mod debugfs;
#[path = "../vchiq-core/engine.rs"]
mod engine;
#[path = "../include/vchiq-rs/bindings.rs"]
mod ffi;
#[path = "../vchiq-core/fmt64.rs"]
mod fmt64;
mod fwknobs;
mod fwlog;
mod fwmem;
mod host;
mod knobs;
mod latency;
mod pagelist;
#[cfg(CONFIG_KUNIT = "y")]
mod selftest;
mod services;
// Only `RawShm` is used; the file also holds the core's KUnit-only buffer.
#[expect(dead_code)]
#[path = "../vchiq-core/shm.rs"]
mod shm;
mod sim;
mod sys;
#[path = "../vchiq-core/tables.rs"]
mod tables;
mod vpu;
mod vpu_shm;

module! {
    type: VchiqSim,
    name: "vchiq_sim",
    authors: ["The vchiq-rs developers"],
    description: "Simulated VideoCore (VCHIQ firmware side) for testing vchiq-core",
    license: "GPL",
    params: {
        cache_line_size: u32 {
            default: 64,
            description: "Cache line size the VideoCore assumes for bulk fragments (32 or 64)",
        },
        vc_phys_addr: u64 {
            default: 0,
            description: "Firmware memory: ARM physical address of VideoCore address 0",
        },
        vc_mem_base: u32 {
            default: 0,
            description: "Firmware memory: start (VideoCore address; the image's load address)",
        },
        vc_mem_size: u32 {
            default: 0,
            description: "Firmware memory: end (VideoCore address); 0: no firmware memory",
        },
        vc_log_base: u32 {
            default: 0,
            description: "Firmware memory: the log area (VideoCore address, /chosen/log)",
        },
        vc_log_size: u32 {
            default: 0,
            description: "Firmware memory: the log area's size",
        },
    },
}

/// The module: hardware, the VideoCore, and its debugfs directory. Its `Drop` is the one
/// teardown path, also for a failed init.
struct VchiqSim {
    /// `None` only while `drop` tears down, which destroys it after the device is gone.
    hw: Option<sys::Hw>,
    sim: Arc<sim::Sim>,
    debugfs: Option<Pin<KBox<kernel::debugfs::Scope<Arc<sim::Sim>>>>>,
}

impl kernel::Module for VchiqSim {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let cls = *module_parameters::cache_line_size.value_ref();
        if engine::CacheLine::new(cls).is_none() {
            pr_err!("cache_line_size must be 32 or 64, not {}\n", cls);
            return Err(EINVAL);
        }
        services::auds::init_captures();
        fwmem::init(fw_params())?;
        // Until `this` exists, dropping what was made is all the cleanup there is, but for
        // the firmware memory; from then on `Drop` tears everything down.
        let parts = (|| -> Result<_> {
            let hw = sys::Hw::new()?;
            let sim = Arc::pin_init(sim::Sim::new(hw.handle(), cls), GFP_KERNEL)?;
            let debugfs = KBox::pin_init(debugfs::create(sim.clone()), GFP_KERNEL)?;
            Ok((hw, sim, debugfs))
        })();
        let (hw, sim, debugfs) = match parts {
            Ok(p) => p,
            Err(e) => {
                fwmem::exit();
                return Err(e);
            }
        };
        let this = VchiqSim {
            hw: Some(hw),
            sim,
            debugfs: Some(debugfs),
        };
        if let Some(hw) = &this.hw {
            // SAFETY: `this.sim` outlives the device: `drop` unregisters the device before
            // anything else. On an error, dropping `this` tears down.
            unsafe { hw.register(Arc::as_ptr(&this.sim).cast(), cls) }?;
        }
        pr_info!("VideoCore simulator ready (cache line {} bytes)\n", cls);
        Ok(this)
    }
}

/// The firmware memory's module parameters.
fn fw_params() -> fwmem::Params {
    fwmem::Params {
        phys_addr: *module_parameters::vc_phys_addr.value_ref(),
        base: *module_parameters::vc_mem_base.value_ref(),
        size: *module_parameters::vc_mem_size.value_ref(),
        log_base: *module_parameters::vc_log_base.value_ref(),
        log_size: *module_parameters::vc_log_size.value_ref(),
    }
}

impl Drop for VchiqSim {
    /// Unregisters the device (unbinding the core, which detaches the VideoCore), removes
    /// debugfs, destroys the hardware (draining the queue, removing the interrupt), then
    /// forgets any ARM memory still mapped.
    fn drop(&mut self) {
        if let Some(hw) = &self.hw {
            hw.unregister();
        }
        self.debugfs = None;
        self.hw = None;
        // Normally a no-op: the core's unbinding reset or detached the VideoCore.
        self.sim.reset();
        services::auds::free_captures();
        fwmem::exit();
        pr_info!("unloaded\n");
    }
}
