// SPDX-License-Identifier: GPL-2.0

//! vchiq-dev: `/dev/vchiq`, the user-space ABI of the VCHIQ family (libvchiq_arm and the tools
//! built on it), as a client of vchiq-core's service API.
//!
//! It binds vchiq-core's `cdev` auxiliary device and registers the misc device `vchiq` for
//! it; vchiq-core never refers to this module. Unloading it removes `/dev/vchiq` while the
//! core goes on serving kernel clients; while a process holds the file open the module is
//! busy and cannot be unloaded.
//!
//! * `abi.rs`: ioctl numbers and argument layouts, 64-bit and 32-bit (compat);
//! * `file.rs`: one open file (a vchiq-core instance) and the ioctls;
//! * `delivery.rs`: callbacks from the VideoCore into completion and message queues.

use core::ffi::c_void;
use kernel::device::Core;
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::{auxiliary, bindings, driver, InPlaceModule};

#[path = "../include/vchiq-rs/client.rs"]
mod vchiq;

mod abi;
mod delivery;
mod file;

use abi::Layout;
use file::DevFile;

kernel::auxiliary_device_table!(
    AUX_TABLE,
    <DevDriver as auxiliary::Driver>::IdInfo,
    [(auxiliary::DeviceId::new(c"vchiq_core", c"cdev"), ())]
);

/// The driver's data for one VideoCore: its state and its `/dev/vchiq`.
#[pin_data]
struct DevData {
    /// vchiq-core's state of the device (`vchiq_rs_aux_state`), valid while bound; the
    /// misc device, through which it is used, is deregistered first.
    state: *mut c_void,
    #[pin]
    misc: MiscDeviceRegistration<DevFile>,
}

// SAFETY: `state` is only passed to vchiq-core's exported functions, callable from any thread.
unsafe impl Send for DevData {}
// SAFETY: as above.
unsafe impl Sync for DevData {}

#[vtable]
impl MiscDevice for DevFile {
    type Ptr = Arc<DevFile>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<DevFile>> {
        // SAFETY: every registration of this type is the `misc` field of a `DevData`
        // (`DevDriver::probe`), which outlives the registration.
        let data = unsafe { &*kernel::container_of!(core::ptr::from_ref(misc), DevData, misc) };
        DevFile::new(data.state)
    }

    fn release(device: Arc<DevFile>, _file: &File) {
        device.release();
    }

    fn ioctl(device: ArcBorrow<'_, DevFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        DevFile::ioctl(device, Layout::NATIVE, cmd, arg)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        device: ArcBorrow<'_, DevFile>,
        _file: &File,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        // `compat_ptr` is a zero extension on the architectures with Rust support.
        DevFile::ioctl(device, Layout::COMPAT, cmd, arg)
    }
}

struct DevDriver;

impl auxiliary::Driver for DevDriver {
    type IdInfo = ();
    type Data<'bound> = DevData;
    const ID_TABLE: auxiliary::IdTable<Self::IdInfo> = &AUX_TABLE;

    fn probe<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        _info: &'bound Self::IdInfo,
    ) -> impl PinInit<DevData, Error> + 'bound {
        // CAST: `auxiliary::Device` is `#[repr(transparent)]` over
        // `Opaque<bindings::auxiliary_device>`; its raw accessor is crate-private.
        let raw = core::ptr::from_ref(adev)
            .cast::<bindings::auxiliary_device>()
            .cast_mut();
        // SAFETY: `raw` is a bound auxiliary device of vchiq-core.
        let state = unsafe { vchiq::ffi::vchiq_rs_aux_state(raw) };
        dev_info!(adev.as_ref(), "/dev/vchiq\n");
        try_pin_init!(DevData {
            state,
            misc <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"vchiq" }),
        }? Error)
    }
}

#[pin_data]
struct DevModule {
    #[pin]
    _driver: driver::Registration<auxiliary::Adapter<DevDriver>>,
}

impl InPlaceModule for DevModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- driver::Registration::new(c"vchiq_dev", module),
        })
    }
}

module! {
    type: DevModule,
    name: "vchiq_dev",
    authors: ["The vchiq-rs developers"],
    description: "/dev/vchiq: the VCHIQ user-space interface (vchiq-rs)",
    license: "GPL",
}
