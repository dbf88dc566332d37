// SPDX-License-Identifier: GPL-2.0

//! VCHIQ core transport: the ARM side of the message queue between Linux and the VideoCore.
//!
//! The module registers two platform drivers with one implementation behind the [`Platform`]
//! boundary: one for the Raspberry Pi's device tree compatibles and one for the simulated
//! VideoCore (`vchiq-sim`). A bound device offers the service API to other modules
//! (`include/vchiq-rs/vchiq.h`, exported by `exports.c`) and an auxiliary device per client
//! kind. Loading it creates no character device: `/dev/vchiq` is vchiq-dev's.
//!
//! [`Platform`]: platform::Platform

use kernel::prelude::*;
use kernel::{platform as kplatform, InPlaceModule};

mod api;
mod bulk;
mod cabi;
mod debugfs;
mod driver;
mod engine;
#[path = "../include/vchiq-rs/enums.rs"]
#[allow(
    dead_code,
    reason = "shared with the clients: each side uses a part of it"
)]
mod enums;
#[path = "../include/vchiq-rs/bindings.rs"]
mod ffi;
mod fmt64;
mod platform;
mod services;
mod shm;
mod state;
mod sys;
mod tables;
mod threads;

module! {
    type: VchiqCore,
    name: "vchiq_core",
    authors: ["The vchiq-rs developers"],
    description: "VCHIQ core transport for the Raspberry Pi VideoCore (Rust)",
    license: "GPL",
}

#[pin_data]
struct VchiqCore {
    #[pin]
    bcm2835: kernel::driver::Registration<kplatform::Adapter<driver::Bcm2835Driver>>,
    #[pin]
    sim: kernel::driver::Registration<kplatform::Adapter<driver::SimDriver>>,
}

impl InPlaceModule for VchiqCore {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            bcm2835 <- kernel::driver::Registration::new(c"vchiq-bcm2835", module),
            sim <- kernel::driver::Registration::new(driver::SIM_DRIVER_NAME, module),
        })
    }
}
