// SPDX-License-Identifier: GPL-2.0

//! vchiq-kunit: the protocol engine's KUnit suites, in a test module of their own so that
//! loading the driver (vchiq-core) never runs tests.
//!
//! The module compiles the very sources vchiq-core uses (the engine, the shared-memory
//! accessor and the heap tables) and runs them in the kernel with the kernel's rustc and
//! flags, on arm64 and 32-bit ARM. Loading it runs the suites; it does nothing else.

use kernel::prelude::*;

#[path = "../vchiq-core/engine.rs"]
mod engine;
// Only part of the driver's accessor serves the tests.
#[expect(dead_code)]
#[path = "../vchiq-core/shm.rs"]
mod shm;
#[path = "../vchiq-core/tables.rs"]
mod tables;
// 64-bit values printed on 32-bit ARM (core's formatting of them traps there).
#[path = "../vchiq-core/fmt64.rs"]
mod fmt64;

mod copies;
mod loopback;
mod pagelist;

module! {
    type: VchiqKunit,
    name: "vchiq_kunit",
    authors: ["The vchiq-rs developers"],
    description: "KUnit suites of the VCHIQ protocol engine",
    license: "GPL",
}

struct VchiqKunit;

impl kernel::Module for VchiqKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(VchiqKunit)
    }
}
