//! The few glibc functions the tool calls, declared by hand, and the ioctl numbers and
//! structures of `/dev/vcsm-cma`, dma-buf and udmabuf (DRM's are the `drm` crate's, kms.rs).

use std::os::raw::{c_int, c_long, c_short, c_uint, c_ulong, c_void};

pub const PROT_READ: c_int = 1;
pub const PROT_WRITE: c_int = 2;
pub const MAP_SHARED: c_int = 0x01;
pub const MAP_FAILED: *mut c_void = !0usize as *mut c_void;
pub const F_ADD_SEALS: c_int = 1033;
pub const F_SEAL_SHRINK: c_int = 0x0002;
pub const MFD_ALLOW_SEALING: c_uint = 0x0002;
pub const POLLIN: c_short = 0x0001;

/// `struct pollfd`.
#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: c_short,
    pub revents: c_short,
}

extern "C" {
    pub fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    pub fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut c_void;
    pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
    pub fn memfd_create(name: *const u8, flags: c_uint) -> c_int;
    pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    pub fn ftruncate(fd: c_int, len: c_long) -> c_int;
    pub fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
}

/// `_IOC(dir, type, nr, size)` of the generic Linux encoding.
const fn ioc(dir: u32, ty: u8, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32 & 0x3fff) << 16) | ((ty as u32) << 8) | nr
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `struct vc_sm_cma_ioctl_alloc`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Alloc {
    pub size: u32,
    pub num: u32,
    pub cached: u32,
    pub pad: u32,
    pub name: [u8; 32],
    pub handle: i32,
    pub vc_handle: u32,
    pub dma_addr: u64,
}

/// `struct vc_sm_cma_ioctl_import_dmabuf`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ImportDmabuf {
    pub dmabuf_fd: i32,
    pub cached: u32,
    pub name: [u8; 32],
    pub handle: i32,
    pub vc_handle: u32,
    pub size: u32,
    pub pad: u32,
    pub dma_addr: u64,
}

/// A block of CLEAN_INVALID2 in the caller's layout (pointer-sized address).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Block {
    pub invalidate_mode: u32,
    pub block_count: u32,
    pub start_address: usize,
    pub block_size: u32,
    pub inter_block_stride: u32,
}

/// CLEAN_INVALID2's header followed by its blocks.
#[repr(C)]
pub struct CleanInvalid2<const N: usize> {
    pub op_count: u32,
    pub pad: u32,
    pub blocks: [Block; N],
}

pub const ALLOC: u32 = ioc(IOC_READ, b'J', 0x5a, size_of::<Alloc>());
pub const IMPORT_DMABUF: u32 = ioc(IOC_READ, b'J', 0x5b, size_of::<ImportDmabuf>());
pub const CLEAN_INVALID2: u32 = ioc(IOC_READ, b'J', 0x5c, 8);

/// `struct dma_buf_sync`.
#[repr(C)]
pub struct DmaBufSync {
    pub flags: u64,
}
pub const DMA_BUF_IOCTL_SYNC: u32 = ioc(IOC_WRITE, b'b', 0, 8);
pub const SYNC_RW: u64 = 3;
pub const SYNC_START: u64 = 0;
pub const SYNC_END: u64 = 4;

/// `struct udmabuf_create_item` (and `struct udmabuf_create`, the same fields).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct UdmabufItem {
    pub memfd: u32,
    pub flags_or_pad: u32,
    pub offset: u64,
    pub size: u64,
}

/// `struct udmabuf_create_list` with its items.
#[repr(C)]
pub struct UdmabufList<const N: usize> {
    pub flags: u32,
    pub count: u32,
    pub list: [UdmabufItem; N],
}
pub const UDMABUF_CREATE: u32 = ioc(IOC_WRITE, b'u', 0x42, 24);
pub const UDMABUF_CREATE_LIST: u32 = ioc(IOC_WRITE, b'u', 0x43, 8);
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

// firmware-services.md §4.6; the layouts are the same for 32-bit and 64-bit callers.
const _: () = assert!(ALLOC == 0x8040_4a5a && IMPORT_DMABUF == 0x8040_4a5b);
const _: () = assert!(CLEAN_INVALID2 == 0x8008_4a5c && DMA_BUF_IOCTL_SYNC == 0x4008_6200);
const _: () = assert!(size_of::<Alloc>() == 64 && size_of::<ImportDmabuf>() == 64);
const _: () = assert!(std::mem::offset_of!(Alloc, dma_addr) == 56);
const _: () = assert!(std::mem::offset_of!(ImportDmabuf, dma_addr) == 56);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Block>() == 24);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(size_of::<Block>() == 20);
