// SPDX-License-Identifier: GPL-2.0

//! VCHIQ core transport.
//!
//! Today this module carries the protocol engine (`engine/src`, shared with the host tests)
//! and KUnit suites that run it in the kernel; the driver itself (platform binding, slot
//! memory, threads, the service API) arrives with the core driver. Loading it creates no
//! device.

use kernel::prelude::*;

mod engine;
// Used only by the KUnit suites until the driver arrives; gated like the suites themselves so
// that a kernel without KUnit (a Pi's) builds without dead-code warnings.
#[cfg(CONFIG_KUNIT = "y")]
mod loopback;
#[cfg(CONFIG_KUNIT = "y")]
mod shm;
#[cfg(CONFIG_KUNIT = "y")]
mod tables;

module! {
    type: VchiqCore,
    name: "vchiq_core",
    authors: ["The vchiq-rs developers"],
    description: "VCHIQ core transport for the Raspberry Pi VideoCore (Rust)",
    license: "GPL",
}

struct VchiqCore;

impl kernel::Module for VchiqCore {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded (protocol engine only, no transport yet)\n");
        Ok(VchiqCore)
    }
}

impl Drop for VchiqCore {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
