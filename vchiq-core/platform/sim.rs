// SPDX-License-Identifier: GPL-2.0

//! The simulated VideoCore's side of the boundary (`include/vchiq-rs/sim.h`): the simulator
//! module registers a platform device with an ops table standing in for the doorbell
//! registers and the firmware call, and a simulated interrupt as IRQ resource 0.

use super::Platform;
use core::ffi::c_void;
use kernel::prelude::*;

/// `struct vchiq_sim_ops` (`include/vchiq-rs/sim.h`).
#[repr(C)]
struct SimOps {
    fw_vchiq_init: Option<unsafe extern "C" fn(*mut c_void, u32, *mut u32) -> i32>,
    ring_bell2: Option<unsafe extern "C" fn(*mut c_void)>,
    read_bell0: Option<unsafe extern "C" fn(*mut c_void) -> u32>,
    vc_reset: Option<unsafe extern "C" fn(*mut c_void) -> i32>,
}

/// `struct vchiq_sim_platform_data`.
#[repr(C)]
struct SimPlatformData {
    ops: *const SimOps,
    ctx: *mut c_void,
    cache_line_size: u32,
}

/// `VCHIQ_SIM_BELL0_RUNG`.
const BELL0_RUNG: u32 = 0x4;

/// The platform device's name (`VCHIQ_SIM_DEVICE_NAME`), which the driver binds by.
pub(crate) const DEVICE_NAME: &CStr = c"vchiq-sim";

/// The simulator's ops, copied out of its platform data at probe.
///
/// # Invariants
///
/// The function pointers and `ctx` stay valid while the core is bound to the simulator's
/// device: the simulator unregisters the device, which unbinds the core, before freeing them
/// (the contract in `sim.h`). The core stops calling them before its unbind returns.
pub(crate) struct Sim {
    fw_vchiq_init: unsafe extern "C" fn(*mut c_void, u32, *mut u32) -> i32,
    ring_bell2: unsafe extern "C" fn(*mut c_void),
    read_bell0: unsafe extern "C" fn(*mut c_void) -> u32,
    /// Optional: a simulator without it behaves like real firmware.
    vc_reset: Option<unsafe extern "C" fn(*mut c_void) -> i32>,
    ctx: *mut c_void,
    cache_line_size: u32,
}

// SAFETY: the simulator's ops may be called from any context (contract in `sim.h`).
unsafe impl Send for Sim {}
// SAFETY: as above.
unsafe impl Sync for Sim {}

impl Sim {
    /// Reads the simulator's platform data.
    ///
    /// # Safety
    ///
    /// `pdata` must be the platform data of a bound `vchiq-sim` device, that is a valid
    /// `struct vchiq_sim_platform_data` that outlives the binding.
    pub(crate) unsafe fn from_platdata(pdata: *mut c_void) -> Result<Self> {
        if pdata.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: valid platform data (caller).
        let pd = unsafe { &*pdata.cast::<SimPlatformData>() };
        if pd.ops.is_null() || !matches!(pd.cache_line_size, 32 | 64) {
            return Err(EINVAL);
        }
        // SAFETY: `ops` is valid while bound (caller).
        let ops = unsafe { &*pd.ops };
        // INVARIANT: the pointers come from the bound device's platform data.
        Ok(Self {
            fw_vchiq_init: ops.fw_vchiq_init.ok_or(EINVAL)?,
            ring_bell2: ops.ring_bell2.ok_or(EINVAL)?,
            read_bell0: ops.read_bell0.ok_or(EINVAL)?,
            vc_reset: ops.vc_reset,
            ctx: pd.ctx,
            cache_line_size: pd.cache_line_size,
        })
    }
}

impl Platform for Sim {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn ring_vc(&self) {
        // SAFETY: valid while bound (type invariant); callable from any context.
        unsafe { (self.ring_bell2)(self.ctx) }
    }

    fn doorbell_rung(&self) -> bool {
        // SAFETY: as above.
        unsafe { (self.read_bell0)(self.ctx) & BELL0_RUNG != 0 }
    }

    fn vchiq_init(&self, slot_zero: u32) -> Result {
        let mut status = 0u32;
        // SAFETY: as above; `status` is valid for the call.
        let ret = unsafe { (self.fw_vchiq_init)(self.ctx, slot_zero, &mut status) };
        kernel::error::to_result(ret)?;
        if status != 0 {
            pr_err!("vchiq-sim: the VideoCore refused the slot memory (status {status})\n");
            return Err(ENXIO);
        }
        Ok(())
    }

    fn cache_line_size(&self) -> u32 {
        self.cache_line_size
    }

    fn release_memory(&self) -> bool {
        // SAFETY: as above; process context.
        self.vc_reset.is_some_and(|f| unsafe { f(self.ctx) } == 0)
    }
}
