// SPDX-License-Identifier: GPL-2.0

//! VCHIQ core transport.
//!
//! Today this module carries the protocol engine (`engine/src`, shared with the host tests)
//! and KUnit suites that run it in the kernel; the driver itself (platform binding, slot
//! memory, threads, the service API) arrives with the core driver. Loading it creates no
//! device.

use kernel::prelude::*;

mod engine;
mod loopback;
mod shm;
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

#[kunit_tests(vchiq_core_pipeline)]
mod tests {
    use kernel::alloc::KVec;
    use kernel::prelude::*;

    /// A heap allocation made and freed under KUnit: kmemleak must stay quiet after unload.
    #[test]
    fn allocation_round_trip() -> Result {
        let mut v = KVec::new();
        for i in 0..4096u32 {
            v.push(i, GFP_KERNEL)?;
        }
        assert_eq!(v.len(), 4096);
        assert_eq!(v.iter().map(|&x| u64::from(x)).sum::<u64>(), 4095 * 4096 / 2);
        Ok(())
    }
}
