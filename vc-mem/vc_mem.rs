// SPDX-License-Identifier: GPL-2.0

//! vc-mem: `/dev/vc-mem`, where the VideoCore's memory is and a way to read it, for the
//! firmware debugging tools (vcdbg through libdebug_sym, vclog).
//!
//! As downstream's module it takes its inputs from module parameters, which the firmware
//! writes on the kernel command line (`vc_mem.mem_base=`, `vc_mem.mem_size=`); without them it
//! asks the firmware (GET_VC_MEMORY) where its driver is there. It registers
//! the misc device `vc-mem` with downstream's ioctl ABI (64-bit and compat), an uncached mmap
//! at file offset = VideoCore address and FBIODMACOPY. It needs no other module of the family.
//! Inputs that are missing or inconsistent give a probe message and a device whose calls fail
//! with `ENXIO`; nothing outside the VideoCore's region is ever mapped or copied.
//!
//! * `abi.rs`: ioctl numbers and argument layouts;
//! * `region.rs`: the inputs, their checks and the bounds of every access;
//! * `file.rs`: an open file: ioctls, FBIODMACOPY, mmap and the access policy;
//! * `sys.rs` with `vc_mem_glue.c`: what the 7.3 `kernel` crate lacks.

use core::fmt;
use kernel::debugfs::Scope;
use kernel::fs::File;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::Arc;
use kernel::InPlaceModule;

mod abi;
mod file;
// The family's rate-limited logging rule, from the engine (`Documentation/architecture.rst`).
#[expect(
    unreachable_pub,
    reason = "the engine's items are `pub` for its host crate"
)]
#[path = "../vchiq-core/engine/src/ratelimit.rs"]
mod ratelimit;
mod region;
mod sys;

use abi::Layout;
use file::VcMemFile;
use region::{Inputs, Region};

module! {
    type: VcMemModule,
    name: "vc_mem",
    authors: ["The vchiq-rs developers"],
    description: "/dev/vc-mem: the VideoCore's memory for firmware debugging tools (vchiq-rs)",
    license: "GPL",
    params: {
        phys_addr: u64 {
            default: 0,
            description: "ARM physical address of VideoCore address 0 (0 on a Pi)",
        },
        mem_base: u32 {
            default: 0,
            description: "Start of the firmware's memory, a VideoCore address (set by the firmware)",
        },
        mem_size: u32 {
            default: 0,
            description: "End of VideoCore memory, a VideoCore address (set by the firmware)",
        },
    },
}

/// A value shown in hex in debugfs, as downstream's files.
pub(crate) struct Hex(pub(crate) u64);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Two halves: no 64-bit formatting arithmetic on 32-bit ARM.
        let (hi, lo) = ((self.0 >> 32) as u32, self.0 as u32);
        if hi == 0 {
            write!(f, "0x{lo:08x}")
        } else {
            write!(f, "0x{hi:x}{lo:08x}")
        }
    }
}

/// What the module knows, shared by its files and debugfs.
pub(crate) struct Shared {
    /// `None`: the inputs are unusable and every call fails with `ENXIO`.
    pub(crate) region: Option<Region>,
    phys_addr: Hex,
    base: Hex,
    size: Hex,
    /// Calls refused for their bounds or permissions.
    pub(crate) refused: Atomic<u32>,
}

#[vtable]
impl MiscDevice for VcMemFile {
    type Ptr = KBox<VcMemFile>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<VcMemFile>> {
        // SAFETY: the only registration of this type is the `misc` field of the module's
        // `VcMemModule`, which outlives it (the field is dropped first).
        let m = unsafe { &*kernel::container_of!(core::ptr::from_ref(misc), VcMemModule, misc) };
        Ok(KBox::new(VcMemFile::new(m.shared.clone()), GFP_KERNEL)?)
    }

    fn mmap(device: &VcMemFile, _file: &File, vma: &VmaNew) -> Result {
        device.mmap(vma)
    }

    fn ioctl(device: &VcMemFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        device.ioctl(Layout::Native, cmd, arg)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(device: &VcMemFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // `compat_ptr` is a zero extension on the architectures with Rust support.
        device.ioctl(Layout::Compat, cmd, arg)
    }
}

/// The module: the misc device (dropped first), its state and its debugfs directory.
#[pin_data]
struct VcMemModule {
    #[pin]
    misc: MiscDeviceRegistration<VcMemFile>,
    shared: Arc<Shared>,
    _debugfs: Pin<KBox<Scope<Arc<Shared>>>>,
}

/// Without `mem_size` (no `vc_mem.*` on the command line): the firmware's GET_VC_MEMORY, as
/// `mem_base` = its base and `mem_size` = its end; the inputs unchanged if it cannot answer.
fn ask_firmware(inputs: Inputs) -> Inputs {
    if inputs.size != 0 {
        return inputs;
    }
    match sys::firmware_vc_memory() {
        Ok((base, size)) => match base.checked_add(size) {
            Some(end) => {
                pr_info!(
                    "no vc_mem.mem_size=: the firmware's GET_VC_MEMORY gives base {:?}, size {:?}\n",
                    Hex(base.into()),
                    Hex(size.into())
                );
                Inputs {
                    base,
                    size: end,
                    ..inputs
                }
            }
            None => {
                pr_err!(
                    "the firmware's GET_VC_MEMORY (base {:?}, size {:?}) wraps: ignored\n",
                    Hex(base.into()),
                    Hex(size.into())
                );
                inputs
            }
        },
        // No firmware here: the parameters are all there is.
        Err(e) if e == ENOENT => inputs,
        Err(e) => {
            pr_warn!("the firmware's GET_VC_MEMORY failed ({e:?})\n");
            inputs
        }
    }
}

/// The module parameters (or the firmware's answer), checked.
fn shared_from_params() -> Result<Arc<Shared>> {
    let inputs = ask_firmware(Inputs {
        phys_addr: *module_parameters::phys_addr.value_ref(),
        base: *module_parameters::mem_base.value_ref(),
        size: *module_parameters::mem_size.value_ref(),
    });
    let region = match inputs.check() {
        Ok(r) => {
            pr_info!(
                "phys_addr:{:?} mem_base={:?} mem_size:{:?}({} MiB)\n",
                Hex(inputs.phys_addr),
                Hex(inputs.base.into()),
                Hex(inputs.size.into()),
                inputs.size >> 20
            );
            Some(r)
        }
        Err(why) => {
            pr_err!(
                "unusable inputs (phys_addr {:?} mem_base {:?} mem_size {:?}): {}; every call fails with ENXIO\n",
                Hex(inputs.phys_addr),
                Hex(inputs.base.into()),
                Hex(inputs.size.into()),
                why
            );
            None
        }
    };
    Ok(Arc::new(
        Shared {
            region,
            phys_addr: Hex(inputs.phys_addr),
            base: Hex(inputs.base.into()),
            size: Hex(inputs.size.into()),
            refused: Atomic::new(0),
        },
        GFP_KERNEL,
    )?)
}

/// `/sys/kernel/debug/vc-mem/`: downstream's three files and the refusal count.
fn debugfs(shared: Arc<Shared>) -> impl PinInit<Scope<Arc<Shared>>> {
    Scope::dir(shared, c"vc-mem", |s, dir| {
        dir.read_only_file(c"vc_mem_phys_addr", &s.phys_addr);
        dir.read_only_file(c"vc_mem_size", &s.size);
        dir.read_only_file(c"vc_mem_base", &s.base);
        dir.read_only_file(c"refused", &s.refused);
    })
}

impl InPlaceModule for VcMemModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let shared = shared_from_params();
        let dir = match &shared {
            Ok(s) => KBox::pin_init(debugfs(s.clone()), GFP_KERNEL),
            Err(e) => Err(*e),
        };
        // The device last: an open finds the state initialised.
        try_pin_init!(Self {
            shared: shared?,
            _debugfs: dir?,
            misc <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"vc-mem" }),
        }? Error)
    }
}
