// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `/dev/vc-mem`, as downstream (`include/linux/broadcom/vc_mem.h`) and
//! raspberrypi/linux PR #5651 (FBIODMACOPY) define it; the numbers are asserted at build time
//! against firmware-services.md §5.2.

use core::mem::offset_of;
use kernel::ioctl::{_IOR, _IOW};
use kernel::prelude::*;
use kernel::transmute::FromBytes;
use kernel::uaccess::{UserPtr, UserSlice};

/// The ioctl magic of vc_mem.
const VC_MEM_MAGIC: u32 = b'v' as u32;
/// The framebuffer ioctl magic, which FBIODMACOPY kept.
const FB_MAGIC: u32 = b'z' as u32;

/// MEM_PHYS_ADDR: `phys_addr` as the caller's `unsigned long`.
pub(crate) const MEM_PHYS_ADDR: u32 = _IOR::<usize>(VC_MEM_MAGIC, 0);
/// MEM_PHYS_ADDR of a 32-bit caller on a 64-bit kernel: a 4-byte value.
#[cfg_attr(not(CONFIG_COMPAT), expect(dead_code))]
pub(crate) const MEM_PHYS_ADDR32: u32 = _IOR::<u32>(VC_MEM_MAGIC, 0);
/// MEM_SIZE: `mem_size` (u32, the end of VideoCore memory).
pub(crate) const MEM_SIZE: u32 = _IOR::<u32>(VC_MEM_MAGIC, 1);
/// MEM_BASE: `mem_base` (u32).
pub(crate) const MEM_BASE: u32 = _IOR::<u32>(VC_MEM_MAGIC, 2);
/// MEM_LOAD: the firmware's load address, which is `mem_base`.
pub(crate) const MEM_LOAD: u32 = _IOR::<u32>(VC_MEM_MAGIC, 3);

/// `struct fb_dmacopy { void *dst; __u32 src; __u32 length; }`, with `dst` of type `P`: the
/// caller's pointer width. Defined once for both widths ([`DmaCopyNative`], [`DmaCopy32`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct DmaCopy<P> {
    /// The user address to copy to.
    pub(crate) dst: P,
    /// The VideoCore address to copy from.
    pub(crate) src: u32,
    /// How many bytes.
    pub(crate) length: u32,
}

// SAFETY: `DmaCopy` is `#[repr(C)]` and holds only a `P` and two `u32`s; with `P: FromBytes`
// every one of its fields accepts every bit pattern, so the structure does too.
unsafe impl<P: FromBytes> FromBytes for DmaCopy<P> {}

/// `struct fb_dmacopy` of the kernel's own ABI: `dst` is a native pointer.
pub(crate) type DmaCopyNative = DmaCopy<usize>;

/// `struct fb_dmacopy` of a 32-bit caller: `{ u32 dst; u32 src; u32 length; }`.
pub(crate) type DmaCopy32 = DmaCopy<u32>;

/// FBIODMACOPY's argument, width-independent.
pub(crate) struct DmaCopyArgs {
    pub(crate) dst: usize,
    pub(crate) src: u32,
    pub(crate) length: u32,
}

impl<P: FromBytes> DmaCopy<P>
where
    usize: TryFrom<P>,
{
    /// Reads the structure from user address `arg`, as a whole (`EFAULT` if it is not
    /// readable). A 32-bit `dst` is zero-extended, as `compat_ptr` does on the architectures
    /// with Rust support.
    pub(crate) fn read(arg: usize) -> Result<DmaCopyArgs> {
        let a: Self = UserSlice::new(UserPtr::from_addr(arg), size_of::<Self>())
            .reader()
            .read()?;
        Ok(DmaCopyArgs {
            dst: usize::try_from(a.dst).map_err(|_| EFAULT)?,
            src: a.src,
            length: a.length,
        })
    }
}

/// FBIODMACOPY: copy `length` bytes from VideoCore address `src` to user `dst`.
pub(crate) const FBIODMACOPY: u32 = _IOW::<DmaCopyNative>(FB_MAGIC, 0x22);
/// FBIODMACOPY of a 32-bit caller.
#[cfg_attr(not(CONFIG_COMPAT), expect(dead_code))]
pub(crate) const FBIODMACOPY32: u32 = _IOW::<DmaCopy32>(FB_MAGIC, 0x22);

/// Which layout a caller uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Native,
    #[cfg_attr(not(CONFIG_COMPAT), expect(dead_code))]
    Compat,
}

// The layouts of firmware-services.md §5.2 (`void *dst; u32 src; u32 length`), 64-bit
// and 32-bit.
#[cfg(CONFIG_64BIT)]
const _: () = {
    assert!(size_of::<DmaCopyNative>() == 16);
    assert!(offset_of!(DmaCopyNative, dst) == 0);
    assert!(offset_of!(DmaCopyNative, src) == 8);
    assert!(offset_of!(DmaCopyNative, length) == 12);
};
#[cfg(not(CONFIG_64BIT))]
const _: () = {
    assert!(size_of::<DmaCopyNative>() == 12);
    assert!(offset_of!(DmaCopyNative, dst) == 0);
    assert!(offset_of!(DmaCopyNative, src) == 4);
    assert!(offset_of!(DmaCopyNative, length) == 8);
};
const _: () = {
    assert!(size_of::<DmaCopy32>() == 12);
    assert!(offset_of!(DmaCopy32, dst) == 0);
    assert!(offset_of!(DmaCopy32, src) == 4);
    assert!(offset_of!(DmaCopy32, length) == 8);
};

// The numbers of firmware-services.md §5.2.
#[cfg(CONFIG_64BIT)]
const _: () = {
    assert!(MEM_PHYS_ADDR == 0x8008_7600);
    assert!(FBIODMACOPY == 0x4010_7a22);
};
#[cfg(not(CONFIG_64BIT))]
const _: () = {
    assert!(MEM_PHYS_ADDR == 0x8004_7600);
    assert!(FBIODMACOPY == 0x400c_7a22);
};
const _: () = {
    assert!(MEM_PHYS_ADDR32 == 0x8004_7600);
    assert!(MEM_SIZE == 0x8004_7601);
    assert!(MEM_BASE == 0x8004_7602);
    assert!(MEM_LOAD == 0x8004_7603);
    assert!(FBIODMACOPY32 == 0x400c_7a22);
};
