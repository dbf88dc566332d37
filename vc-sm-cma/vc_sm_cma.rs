// SPDX-License-Identifier: GPL-2.0

//! vc-sm-cma: VideoCore shared memory as dma-bufs (Documentation/vc-sm-cma.rst).
//!
//! It binds vchiq-core's `smem` auxiliary device, opens the VideoCore's `SMEM` service
//! (version 1, min 0) and announces protocol 2; it allocates memory the VideoCore can use
//! (ALLOC, and the VideoCore's own VC_MEM_REQUEST) and imports foreign dma-bufs to it
//! (IMPORT_DMABUF), each exported as a dma-buf whose release hands the buffer back to the
//! VideoCore. `/dev/vcsm-cma` has downstream's ioctl ABI (64-bit and compat). It needs
//! neither vchiq-dev nor `/dev/vchiq`.
//!
//! * `proto.rs`: the SMEM messages, built and parsed;
//! * `smem.rs`: the connection, its one I/O path and the VideoCore's commands;
//! * `buffer.rs`: buffers and their life cycle with the VideoCore;
//! * `file.rs`, `abi.rs`: `/dev/vcsm-cma`;
//! * `debugfs.rs`: `vcsm-cma/state`;
//! * `sys.rs` with `vcsm_glue.c`: the dma-buf layer the 7.3 `kernel` crate lacks.

use kernel::debugfs::Scope;
use kernel::device::Core;
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::{auxiliary, driver, InPlaceModule};

#[path = "../include/vchiq-rs/client.rs"]
mod vchiq;

mod abi;
mod buffer;
mod debugfs;
mod file;
mod kapi;
mod proto;
// The family's rate-limited logging rule, from the engine (`Documentation/architecture.rst`).
#[expect(
    unreachable_pub,
    reason = "the engine's items are `pub` for its host crate"
)]
#[path = "../vchiq-core/engine/src/ratelimit.rs"]
mod ratelimit;
mod smem;
mod sys;

use abi::Layout;
use file::VcsmFile;
use smem::Smem;

kernel::auxiliary_device_table!(
    AUX_TABLE,
    <VcsmDriver as auxiliary::Driver>::IdInfo,
    [(auxiliary::DeviceId::new(c"vchiq_core", c"smem"), ())]
);

/// Disconnects from the VideoCore when dropped (after the device node is gone).
struct Connection(Arc<Smem>);

impl Drop for Connection {
    fn drop(&mut self) {
        kapi::unbind(&self.0);
        self.0.disconnect();
    }
}

/// The driver's data for one VideoCore. Fields drop in order: the device node first, then
/// debugfs, then the connection.
#[pin_data]
struct VcsmData {
    #[pin]
    misc: MiscDeviceRegistration<VcsmFile>,
    _debugfs: Pin<KBox<Scope<Arc<Smem>>>>,
    conn: Connection,
}

#[vtable]
impl MiscDevice for VcsmFile {
    type Ptr = KBox<VcsmFile>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<VcsmFile>> {
        // SAFETY: every registration of this type is the `misc` field of a `VcsmData`
        // (`VcsmDriver::probe`), which outlives the registration.
        let data = unsafe { &*kernel::container_of!(core::ptr::from_ref(misc), VcsmData, misc) };
        Ok(KBox::new(VcsmFile::new(data.conn.0.clone()), GFP_KERNEL)?)
    }

    fn ioctl(device: &VcsmFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        device.ioctl(Layout::Native, cmd, arg)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(device: &VcsmFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // `compat_ptr` is a zero extension on the architectures with Rust support.
        device.ioctl(Layout::Compat, cmd, arg)
    }
}

struct VcsmDriver;

impl auxiliary::Driver for VcsmDriver {
    type IdInfo = ();
    type Data<'bound> = VcsmData;
    const ID_TABLE: auxiliary::IdTable<Self::IdInfo> = &AUX_TABLE;

    fn probe<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        _info: &'bound Self::IdInfo,
    ) -> impl PinInit<VcsmData, Error> + 'bound {
        let smem = connect(adev);
        let dir = match &smem {
            Ok(s) => KBox::pin_init(debugfs::create(s.clone()), GFP_KERNEL),
            Err(e) => Err(*e),
        };
        try_pin_init!(VcsmData {
            conn: Connection(smem?),
            _debugfs: dir?,
            misc <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"vcsm-cma" }),
        }? Error)
    }
}

/// The state for `adev`, connected to SMEM.
fn connect(adev: &auxiliary::Device<Core<'_>>) -> Result<Arc<Smem>> {
    let state = vchiq::State::of(adev)?;
    let dev = sys::DmaDevice::of(adev)?;
    let smem = Smem::new(dev, *module_parameters::timeout_ms.value_ref())?;
    if let Err(e) = smem.connect(&state) {
        dev_err!(adev.as_ref(), "cannot open SMEM: {:?}\n", e);
        smem.disconnect();
        return Err(e);
    }
    kapi::bind(&smem);
    dev_info!(adev.as_ref(), "/dev/vcsm-cma\n");
    Ok(smem)
}

#[pin_data]
struct VcsmModule {
    #[pin]
    _driver: driver::Registration<auxiliary::Adapter<VcsmDriver>>,
}

impl InPlaceModule for VcsmModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: called once, before the driver (the only user) is registered.
        unsafe { kapi::CURRENT.init() };
        try_pin_init!(Self {
            _driver <- driver::Registration::new(c"vc_sm_cma", module),
        })
    }
}

module! {
    type: VcsmModule,
    name: "vc_sm_cma",
    authors: ["The vchiq-rs developers"],
    description: "VideoCore shared memory as dma-bufs: /dev/vcsm-cma (vchiq-rs)",
    license: "GPL",
    params: {
        timeout_ms: u32 {
            default: 5000,
            description: "How long a request waits for the VideoCore's answer (ms)",
        },
    },
}
