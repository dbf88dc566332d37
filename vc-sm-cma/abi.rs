// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `/dev/vcsm-cma`, as downstream's `vc_sm_cma_ioctl.h` defines it
//! (firmware-services.md §4.6): magic `'J'`, commands from 0x5A; the numbers, sizes and every
//! field's offset and width are asserted at build time, for 64-bit and 32-bit callers. Like
//! downstream, the driver looks at the magic and the command number only (the `_IOR`
//! direction bits are wrong for in/out arguments, but user space has them).

use kernel::ioctl::_IOR;
use kernel::transmute::{AsBytes, FromBytes};

/// The ioctl magic.
pub(crate) const MAGIC: u32 = b'J' as u32;
/// Command numbers (the request's low byte).
pub(crate) const NR_ALLOC: u32 = ALLOC & 0xff;
pub(crate) const NR_IMPORT_DMABUF: u32 = IMPORT_DMABUF & 0xff;
pub(crate) const NR_CLEAN_INVALID2: u32 = CLEAN_INVALID2 & 0xff;

/// The cache types of user-vcsm's enum: only the host's cache matters to this driver.
pub(crate) const CACHE_NONE: u32 = 0;
pub(crate) const CACHE_HOST: u32 = 1;
pub(crate) const CACHE_VC: u32 = 2;
pub(crate) const CACHE_BOTH: u32 = 3;

/// `struct vc_sm_cma_ioctl_alloc` (the same on 32 and 64 bits).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Alloc {
    pub(crate) size: u32,
    pub(crate) num: u32,
    pub(crate) cached: u32,
    pub(crate) pad: u32,
    pub(crate) name: [u8; 32],
    /// Out: the dma-buf's file descriptor.
    pub(crate) handle: i32,
    pub(crate) vc_handle: u32,
    pub(crate) dma_addr: u64,
}

/// `struct vc_sm_cma_ioctl_import_dmabuf` (the same on 32 and 64 bits).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct ImportDmabuf {
    pub(crate) dmabuf_fd: i32,
    pub(crate) cached: u32,
    pub(crate) name: [u8; 32],
    /// Out: the re-exported dma-buf's file descriptor.
    pub(crate) handle: i32,
    pub(crate) vc_handle: u32,
    pub(crate) size: u32,
    pub(crate) pad: u32,
    pub(crate) dma_addr: u64,
}

/// `struct vc_sm_cma_ioctl_clean_invalid2`'s header; `op_count` blocks follow.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CleanInvalid2 {
    pub(crate) op_count: u32,
    pub(crate) pad: u32,
}

/// A block of CLEAN_INVALID2 for a 64-bit caller.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Block64 {
    pub(crate) invalidate_mode: u32,
    pub(crate) block_count: u32,
    pub(crate) start_address: u64,
    pub(crate) block_size: u32,
    pub(crate) inter_block_stride: u32,
}

/// A block of CLEAN_INVALID2 for a 32-bit caller.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Block32 {
    pub(crate) invalidate_mode: u32,
    pub(crate) block_count: u32,
    pub(crate) start_address: u32,
    pub(crate) block_size: u32,
    pub(crate) inter_block_stride: u32,
}

// SAFETY: `Alloc` is `#[repr(C)]` of `u32`s, an `i32`, a `u64` and a `[u8; 32]`: every bit
// pattern is a valid value of each field, so of the whole.
unsafe impl FromBytes for Alloc {}
// SAFETY: `Alloc`'s fields fill its 64 bytes exactly (every offset and the size are asserted
// below), so it has no padding and every byte of a value is initialised.
unsafe impl AsBytes for Alloc {}
// SAFETY: `ImportDmabuf` is `#[repr(C)]` of `i32`s, `u32`s, a `u64` and a `[u8; 32]`, all of
// which accept any bit pattern.
unsafe impl FromBytes for ImportDmabuf {}
// SAFETY: `ImportDmabuf`'s fields, `pad` included, fill its 64 bytes without gaps (offsets and
// size asserted below): no padding byte can be uninitialised.
unsafe impl AsBytes for ImportDmabuf {}
// SAFETY: `CleanInvalid2` is `#[repr(C)]` of two `u32`s; any 8 bytes are a valid value.
unsafe impl FromBytes for CleanInvalid2 {}
// SAFETY: `Block64` is `#[repr(C)]` of four `u32`s and one `u64`, integers that accept any
// bit pattern.
unsafe impl FromBytes for Block64 {}
// SAFETY: `Block32` is `#[repr(C)]` of five `u32`s; any 20 bytes are a valid value.
unsafe impl FromBytes for Block32 {}

/// The request numbers user space uses.
pub(crate) const ALLOC: u32 = _IOR::<Alloc>(MAGIC, 0x5a);
pub(crate) const IMPORT_DMABUF: u32 = _IOR::<ImportDmabuf>(MAGIC, 0x5b);
pub(crate) const CLEAN_INVALID2: u32 = _IOR::<CleanInvalid2>(MAGIC, 0x5c);

/// Cache maintenance modes of a block.
pub(crate) const MODE_NOP: u32 = 0;
pub(crate) const MODE_INVALIDATE: u32 = 1;
pub(crate) const MODE_CLEAN: u32 = 2;
pub(crate) const MODE_FLUSH: u32 = 3;

/// Which layout a caller uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Native,
    /// A 32-bit caller on a 64-bit kernel (named in `block_is_32` on every kernel).
    Compat,
}

impl Layout {
    /// The native layout is the 32-bit one on 32-bit kernels.
    pub(crate) fn block_is_32(self) -> bool {
        self == Layout::Compat || cfg!(not(CONFIG_64BIT))
    }
}

// firmware-services.md §4.6: the request numbers, each structure's size, and every field's
// offset and width.
const _: () = {
    // The size of what `_f` returns: a field's width (a field made narrower can leave every
    // offset in place and hide in padding).
    const fn width<S, T>(_f: fn(S) -> T) -> usize {
        core::mem::size_of::<T>()
    }
    // Field `$f` of `$t` starts at byte `$off` and is `$w` bytes wide.
    macro_rules! field_at {
        ($t:ty, $f:ident, $off:expr, $w:expr) => {
            assert!(core::mem::offset_of!($t, $f) == $off);
            assert!(width(|s: $t| s.$f) == $w);
        };
    }
    assert!(ALLOC == 0x8040_4a5a);
    assert!(IMPORT_DMABUF == 0x8040_4a5b);
    assert!(CLEAN_INVALID2 == 0x8008_4a5c);
    assert!(core::mem::size_of::<Alloc>() == 64);
    field_at!(Alloc, size, 0, 4);
    field_at!(Alloc, num, 4, 4);
    field_at!(Alloc, cached, 8, 4);
    field_at!(Alloc, pad, 12, 4);
    field_at!(Alloc, name, 16, 32);
    field_at!(Alloc, handle, 48, 4);
    field_at!(Alloc, vc_handle, 52, 4);
    field_at!(Alloc, dma_addr, 56, 8);
    assert!(core::mem::size_of::<ImportDmabuf>() == 64);
    field_at!(ImportDmabuf, dmabuf_fd, 0, 4);
    field_at!(ImportDmabuf, cached, 4, 4);
    field_at!(ImportDmabuf, name, 8, 32);
    field_at!(ImportDmabuf, handle, 40, 4);
    field_at!(ImportDmabuf, vc_handle, 44, 4);
    field_at!(ImportDmabuf, size, 48, 4);
    field_at!(ImportDmabuf, pad, 52, 4);
    field_at!(ImportDmabuf, dma_addr, 56, 8);
    assert!(core::mem::size_of::<CleanInvalid2>() == 8);
    field_at!(CleanInvalid2, op_count, 0, 4);
    field_at!(CleanInvalid2, pad, 4, 4);
    assert!(core::mem::size_of::<Block64>() == 24);
    field_at!(Block64, invalidate_mode, 0, 4);
    field_at!(Block64, block_count, 4, 4);
    field_at!(Block64, start_address, 8, 8);
    field_at!(Block64, block_size, 16, 4);
    field_at!(Block64, inter_block_stride, 20, 4);
    assert!(core::mem::size_of::<Block32>() == 20);
    field_at!(Block32, invalidate_mode, 0, 4);
    field_at!(Block32, block_count, 4, 4);
    field_at!(Block32, start_address, 8, 4);
    field_at!(Block32, block_size, 12, 4);
    field_at!(Block32, inter_block_stride, 16, 4);
};
