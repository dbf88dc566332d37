// SPDX-License-Identifier: GPL-2.0

//! BCM2835-family VideoCore: the doorbell register pair and the Raspberry Pi firmware.
//!
//! BELL0 (offset 0x00) is the ARM's doorbell: reading it clears it, and bit 2 says the
//! VideoCore rang. BELL2 (offset 0x08) is the VideoCore's: any write rings it. The slot
//! memory goes to the VideoCore through the firmware property VCHIQ_INIT (tag 0x00048010).

use super::Platform;
use crate::sys;
use kernel::io::mem::DevresIoMem;
use kernel::io::Io;
use kernel::prelude::*;

/// Size of the mapped register window: BELL0 .. BELL2 inclusive.
pub(crate) const REGS_SIZE: usize = 0xc;
const BELL0: usize = 0x00;
const BELL2: usize = 0x08;
// BELL0's ARM_DS_ACTIVE bit (the VideoCore rang the ARM). The simulator models the same
// register, so its boundary header holds the one definition.
use crate::ffi::VCHIQ_SIM_BELL0_RUNG as BELL0_RUNG;

/// Match data of the device tree compatibles.
pub(crate) struct Info {
    /// The SoC's cache line size, which sizes bulk fragments.
    pub(crate) cache_line_size: u32,
}

/// `brcm,bcm2835-vchiq`.
pub(crate) const BCM2835: Info = Info {
    cache_line_size: 32,
};
/// `brcm,bcm2836-vchiq` (BCM2836/2837).
pub(crate) const BCM2836: Info = Info {
    cache_line_size: 64,
};

/// A BCM2835-family VideoCore.
pub(crate) struct Bcm2835 {
    regs: DevresIoMem<REGS_SIZE>,
    cache_line_size: u32,
}

impl Bcm2835 {
    /// Wraps the mapped doorbell registers.
    pub(crate) fn new(regs: DevresIoMem<REGS_SIZE>, info: &Info) -> Self {
        Self {
            regs,
            cache_line_size: info.cache_line_size,
        }
    }
}

impl Platform for Bcm2835 {
    fn name(&self) -> &'static str {
        "bcm2835"
    }

    fn ring_vc(&self) {
        // A revoked mapping means the device is gone; nothing is left to ring.
        let _ = self.regs.try_access_with(|io| io.write32(0, BELL2));
    }

    fn doorbell_rung(&self) -> bool {
        self.regs
            .try_access_with(|io| io.read32(BELL0) & BELL0_RUNG != 0)
            .unwrap_or(false)
    }

    fn vchiq_init(&self, slot_zero: u32) -> Result {
        let status = sys::rpi_vchiq_init(slot_zero)?;
        if status != 0 {
            pr_err!("bcm2835: the firmware refused the slot memory (status {status:#x})\n");
            return Err(ENXIO);
        }
        Ok(())
    }

    fn cache_line_size(&self) -> u32 {
        self.cache_line_size
    }

    fn release_memory(&self) -> bool {
        // The firmware has no call to take the memory back: it keeps writing it.
        false
    }
}
