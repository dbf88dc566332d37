// SPDX-License-Identifier: GPL-2.0

//! The simulated VideoCore's side of the boundary (`include/vchiq-rs/sim.h`): the simulator
//! module registers a platform device with an ops table standing in for the doorbell
//! registers and the firmware call, and a simulated interrupt as IRQ resource 0.

use super::Platform;
use crate::ffi::{
    vchiq_sim_ops, vchiq_sim_platform_data, VCHIQ_SIM_BELL0_RUNG, VCHIQ_SIM_DEVICE_NAME,
};
use core::ffi::c_void;
use kernel::prelude::*;

/// The platform device's name (`VCHIQ_SIM_DEVICE_NAME`), which the driver binds by.
pub(crate) const DEVICE_NAME: &CStr = match CStr::from_bytes_with_nul(VCHIQ_SIM_DEVICE_NAME) {
    Ok(s) => s,
    Err(_) => panic!("VCHIQ_SIM_DEVICE_NAME is a C string"),
};

/// The simulator's ops (`struct vchiq_sim_ops`, generated from `sim.h`), copied out of its
/// platform data at probe.
///
/// # Invariants
///
/// `fw_vchiq_init`, `ring_bell2` and `read_bell0` are `Some`. The function pointers and `ctx`
/// stay valid while the core is bound to the simulator's device: the simulator unregisters
/// the device, which unbinds the core, before freeing them (the contract in `sim.h`). The
/// core stops calling them before its unbind returns.
pub(crate) struct Sim {
    ops: vchiq_sim_ops,
    ctx: *mut c_void,
    cache_line_size: u32,
}

// SAFETY: the simulator's ops may be called from any context (contract in `sim.h`).
unsafe impl Send for Sim {}
// SAFETY: `&Sim` only calls the ops, which may be called from any context (`sim.h`).
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
        // SAFETY: valid platform data (caller); the simulator does not change it while bound.
        let pd = unsafe { &*pdata.cast::<vchiq_sim_platform_data>() };
        if pd.ops.is_null() || !matches!(pd.cache_line_size, 32 | 64) {
            return Err(EINVAL);
        }
        // SAFETY: `ops` is non-null and valid while bound (caller); copied, not kept.
        let ops = unsafe { *pd.ops };
        if ops.fw_vchiq_init.is_none() || ops.ring_bell2.is_none() || ops.read_bell0.is_none() {
            return Err(EINVAL);
        }
        // INVARIANT: the pointers come from the bound device's platform data; the three
        // mandatory ops were checked. `vc_reset` is optional: without it the simulator
        // behaves like real firmware.
        Ok(Self {
            ops,
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
        if let Some(ring) = self.ops.ring_bell2 {
            // SAFETY: valid while bound (type invariant); callable from any context.
            unsafe { ring(self.ctx) }
        }
    }

    fn doorbell_rung(&self) -> bool {
        self.ops.read_bell0.is_some_and(|read| {
            // SAFETY: valid while bound (type invariant); callable from any context.
            unsafe { read(self.ctx) & VCHIQ_SIM_BELL0_RUNG != 0 }
        })
    }

    fn vchiq_init(&self, slot_zero: u32) -> Result {
        let init = self.ops.fw_vchiq_init.ok_or(ENODEV)?;
        let mut status = 0u32;
        // SAFETY: valid while bound (type invariant); `status` is valid for the call.
        let ret = unsafe { init(self.ctx, slot_zero, &mut status) };
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
        self.ops.vc_reset.is_some_and(|reset| {
            // SAFETY: valid while bound (type invariant); process context, as `vc_reset`
            // needs.
            unsafe { reset(self.ctx) == 0 }
        })
    }
}
