// SPDX-License-Identifier: GPL-2.0

//! vchiq-dev: `/dev/vchiq`, the user-space ABI of the VCHIQ family (libvchiq_arm and the tools
//! built on it), as a client of vchiq-core's service API.
//!
//! It binds vchiq-core's `cdev` auxiliary device and registers the misc device `vchiq` for
//! it; vchiq-core never refers to this module. Unloading it removes `/dev/vchiq` while the
//! core goes on serving kernel clients; while a process holds the file open the module is
//! busy and cannot be unloaded.
//!
//! It uses vchiq-core only through the typed client API (`include/vchiq-rs/client.rs`):
//!
//! * `abi.rs`: ioctl numbers and argument structures, 64-bit and 32-bit (compat);
//! * `file.rs`: one open file (a vchiq-core instance), its services and the ioctls;
//! * `messages.rs`: QUEUE_MESSAGE, AWAIT_COMPLETION, DEQUEUE_MESSAGE;
//! * `transfer.rs`: bulk transfers of user memory;
//! * `delivery.rs`: callbacks from the VideoCore into completion and message queues;
//! * `sys.rs`: the one kernel helper the 7.3 `kernel` crate lacks.

use kernel::device::Core;
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;
use kernel::{auxiliary, driver, InPlaceModule};

#[path = "../include/vchiq-rs/client.rs"]
mod vchiq;

mod abi;
mod delivery;
mod file;
mod messages;
mod sys;
mod transfer;

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
    /// The VideoCore of the auxiliary device.
    state: vchiq::State,
    #[pin]
    misc: MiscDeviceRegistration<DevFile>,
}

#[vtable]
impl MiscDevice for DevFile {
    type Ptr = Pin<KBox<DevFile>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<DevFile>>> {
        // SAFETY: every registration of this type is the `misc` field of a `DevData`
        // (`DevDriver::probe`), which outlives the registration.
        let data = unsafe { &*kernel::container_of!(core::ptr::from_ref(misc), DevData, misc) };
        DevFile::new(&data.state)
    }

    fn release(device: Pin<KBox<DevFile>>, _file: &File) {
        DevFile::release(device);
    }

    fn ioctl(device: Pin<&DevFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        device.ioctl(Layout::NATIVE, cmd, arg)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(device: Pin<&DevFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // `compat_ptr` is a zero extension on the architectures with Rust support.
        device.ioctl(Layout::COMPAT, cmd, arg)
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
        let state = vchiq::State::of(adev);
        dev_info!(adev.as_ref(), "/dev/vchiq\n");
        try_pin_init!(DevData {
            state: state?,
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
