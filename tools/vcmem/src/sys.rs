//! The glibc functions the tool calls, declared by hand (no `libc` crate: the guest build
//! runs offline), and the `/dev/vc-mem` ioctl numbers.

use std::os::raw::{c_int, c_long, c_ulong, c_void};

pub const PROT_READ: c_int = 1;
pub const PROT_WRITE: c_int = 2;
pub const MAP_SHARED: c_int = 0x01;
pub const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

extern "C" {
    pub fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    /// The 64-bit offset variant on every target (a 32-bit `off_t` cannot say 0xfffff000).
    pub fn mmap64(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: i64,
    ) -> *mut c_void;
    pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
    pub fn setuid(uid: u32) -> c_int;
    pub fn setgid(gid: u32) -> c_int;
    pub fn sysconf(name: c_int) -> c_long;
}

/// `_SC_PAGESIZE` in glibc.
pub const SC_PAGESIZE: c_int = 30;

/// `_IOC(dir, type, nr, size)` of the generic Linux encoding.
const fn ioc(dir: u32, ty: u8, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32 & 0x3fff) << 16) | ((ty as u32) << 8) | nr
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `struct fb_dmacopy { void *dst; u32 src; u32 length; }` in the native layout.
#[repr(C)]
pub struct DmaCopy {
    pub dst: *mut c_void,
    pub src: u32,
    pub length: u32,
}

pub const MEM_PHYS_ADDR: u32 = ioc(IOC_READ, b'v', 0, size_of::<c_ulong>());
pub const MEM_SIZE: u32 = ioc(IOC_READ, b'v', 1, 4);
pub const MEM_BASE: u32 = ioc(IOC_READ, b'v', 2, 4);
pub const MEM_LOAD: u32 = ioc(IOC_READ, b'v', 3, 4);
/// In userland's header only; the kernel has no such command.
pub const MEM_COPY: u32 = ioc(IOC_READ | IOC_WRITE, b'v', 4, size_of::<*mut u8>());
pub const FBIODMACOPY: u32 = ioc(IOC_WRITE, b'z', 0x22, size_of::<DmaCopy>());

// firmware-services.md §5.2.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(MEM_PHYS_ADDR == 0x8008_7600 && FBIODMACOPY == 0x4010_7a22);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(MEM_PHYS_ADDR == 0x8004_7600 && FBIODMACOPY == 0x400c_7a22);
const _: () =
    assert!(MEM_SIZE == 0x8004_7601 && MEM_BASE == 0x8004_7602 && MEM_LOAD == 0x8004_7603);
