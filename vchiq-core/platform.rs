// SPDX-License-Identifier: GPL-2.0

//! The hardware boundary: what the core needs from the machine it runs on.
//!
//! Everything above this trait is the same on a Raspberry Pi and on the simulated VideoCore:
//! slot memory from coherent DMA, the doorbell interrupt requested as a real IRQ, the protocol
//! threads. Below it, [`bcm2835::Bcm2835`] drives the doorbell registers and the firmware
//! property call, and [`sim::Sim`] the simulator's stand-ins for them.

pub(crate) mod bcm2835;
pub(crate) mod sim;

use kernel::prelude::*;

/// One VideoCore as seen from the ARM.
pub(crate) trait Platform: Send + Sync + 'static {
    /// A short name for logs and debugfs.
    fn name(&self) -> &'static str;

    /// Rings the VideoCore's doorbell (BELL2). Called from any context.
    fn ring_vc(&self);

    /// Reads and clears the ARM's doorbell (BELL0); `true` if the VideoCore rang it. Called
    /// from the hard IRQ handler.
    fn doorbell_rung(&self) -> bool;

    /// Hands slot zero's bus address to the VideoCore (the firmware's VCHIQ_INIT).
    ///
    /// # Errors
    ///
    /// `ENXIO` if the VideoCore refuses the memory (as real firmware does after its first
    /// init), or the error of the call itself.
    fn vchiq_init(&self, slot_zero: u32) -> Result;

    /// The cache line size that sizes bulk fragments.
    fn cache_line_size(&self) -> u32;

    /// Asks the VideoCore to stop using the slot memory. `true` if it will not touch it any
    /// more, so that it may be freed; `false` if it may still write it (a real VideoCore
    /// never lets go), so that the memory must be kept.
    fn release_memory(&self) -> bool;
}
