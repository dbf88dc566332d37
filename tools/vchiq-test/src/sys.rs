//! The glibc functions this crate calls, declared by hand (no `libc` crate: the guest
//! build runs offline). Types follow glibc on Linux for x86_64, aarch64 and armhf, where
//! `long`, pointers and `pthread_t` (`unsigned long`) are pointer-sized.

use std::os::raw::{c_int, c_long, c_uint, c_ulong, c_void};

/// `struct sigaction` of glibc's generic `bits/sigaction.h` (x86_64, aarch64, arm).
#[repr(C)]
pub struct SigAction {
    /// `sa_handler` / `sa_sigaction`.
    pub sa_handler: usize,
    /// `sigset_t`: 1024 bits.
    pub sa_mask: [c_ulong; 128 / std::mem::size_of::<c_ulong>()],
    /// `SA_*` flags.
    pub sa_flags: c_int,
    /// Unused by user code.
    pub sa_restorer: usize,
}

pub const SIGALRM: c_int = 14;
pub const SIGKILL: c_int = 9;

pub const PROT_NONE: c_int = 0;
pub const PROT_READ: c_int = 1;
pub const PROT_WRITE: c_int = 2;
pub const MAP_PRIVATE: c_int = 0x02;
pub const MAP_ANONYMOUS: c_int = 0x20;
pub const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

extern "C" {
    pub fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    pub fn sigaction(sig: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
    pub fn getpid() -> c_int;
    pub fn pthread_self() -> c_ulong;
    pub fn pthread_kill(thread: c_ulong, sig: c_int) -> c_int;
    pub fn ualarm(usecs: c_uint, interval: c_uint) -> c_uint;
    pub fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut c_void;
    pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
    pub fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
}

/// The calling process's id (the kernel's tgid).
pub fn pid() -> i32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { getpid() }
}
