//! Addresses that must make the kernel fail with EFAULT: a page mapped without access, a
//! hole (unmapped after mapping), a read-only page, and kernel-looking addresses.

use crate::sys;
use std::io;
use std::os::raw::c_void;
use std::ptr;

const PAGE: usize = 4096;

/// Pages set up once; never freed (the tools exit).
#[derive(Clone, Copy, Debug)]
pub struct BadMem {
    /// A page mapped PROT_NONE.
    pub no_access: usize,
    /// A page that was unmapped again.
    pub hole: usize,
    /// A read-only page of zeroes.
    pub read_only: usize,
}

impl BadMem {
    /// Maps three pages: the first PROT_NONE, the second unmapped again, the third
    /// read-only.
    pub fn new() -> io::Result<Self> {
        // SAFETY: a fresh anonymous private mapping chosen by the kernel; it overlaps no
        // Rust object.
        let base = unsafe {
            sys::mmap(
                ptr::null_mut(),
                3 * PAGE,
                sys::PROT_NONE,
                sys::MAP_PRIVATE | sys::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == sys::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = base as usize;
        // SAFETY: the second page belongs to the mapping just made and holds no object.
        if unsafe { sys::munmap((base + PAGE) as *mut c_void, PAGE) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the third page belongs to the mapping; making it readable exposes zeroes.
        if unsafe { sys::mprotect((base + 2 * PAGE) as *mut c_void, PAGE, sys::PROT_READ) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(BadMem {
            no_access: base,
            hole: base + PAGE,
            read_only: base + 2 * PAGE,
        })
    }

    /// An address in kernel space (for a 32-bit process on a 64-bit kernel, an address
    /// above the compat task's reach).
    pub const fn kernel() -> usize {
        #[cfg(target_pointer_width = "64")]
        {
            0xffff_8000_0010_0000
        }
        #[cfg(target_pointer_width = "32")]
        {
            0xc010_0000
        }
    }

    /// Addresses that fault: NULL, a low address, the no-access page, the hole, kernel.
    pub fn faulting(&self) -> [(usize, &'static str); 5] {
        [
            (0, "NULL"),
            (0x10, "low address"),
            (self.no_access + 8, "PROT_NONE page"),
            (self.hole + 16, "unmapped page"),
            (Self::kernel(), "kernel address"),
        ]
    }
}

/// Makes `len` bytes at `addr` (a page-aligned mapping of the caller's) read-only.
///
/// # Safety
///
/// `addr .. addr + len` must be whole pages of a mapping the caller owns, with no Rust
/// object that is written to afterwards.
pub unsafe fn make_read_only(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: forwarded from the caller.
    if unsafe { sys::mprotect(addr as *mut c_void, len, sys::PROT_READ) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Maps `pages` fresh read-write anonymous pages.
pub fn map_pages(pages: usize) -> io::Result<usize> {
    // SAFETY: a fresh anonymous private mapping chosen by the kernel.
    let p = unsafe {
        sys::mmap(
            ptr::null_mut(),
            pages * PAGE,
            sys::PROT_READ | sys::PROT_WRITE,
            sys::MAP_PRIVATE | sys::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == sys::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as usize)
}
