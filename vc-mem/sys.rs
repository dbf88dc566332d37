// SPDX-License-Identifier: GPL-2.0

//! vc-mem's kernel layer: what the 7.3 `kernel` crate lacks, in one place.
//!
//! The C half is `vc_mem_glue.c`. The crate has no `vm_pgoff`, no `remap_pfn_range` or
//! `pgprot_noncached`, no `region_intersects`, no `memremap`, no `capable` and no Raspberry Pi
//! firmware calls; each is one function there and one safe wrapper here. Upstream `mm: add
//! remap_pfn_range` and an `io::Memremap` type would remove most of this file, a firmware
//! abstraction the rest.

use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;

// The VMA is passed as `void *`: `struct vm_area_struct` has members bindgen makes
// zero-sized, which the FFI-safety lint refuses even behind a pointer.
extern "C" {
    fn vc_mem_sys_pgoff(vma: *const c_void) -> usize;
    fn vc_mem_sys_remap_uncached(vma: *mut c_void, phys: u64) -> c_int;
    fn vc_mem_sys_is_ram(phys: u64, size: u64) -> bool;
    fn vc_mem_sys_map(phys: u64, len: usize) -> *mut c_void;
    fn vc_mem_sys_unmap(va: *mut c_void);
    fn vc_mem_sys_read(dst: *mut c_void, va: *const c_void, len: usize);
    fn vc_mem_sys_rawio() -> bool;
    fn vc_mem_sys_fw_vc_memory(base: *mut u32, size: *mut u32) -> c_int;
}

/// The firmware's GET_VC_MEMORY: the VideoCore's memory as (base, size). `ENOENT` when there
/// is no Raspberry Pi firmware node, `EPROBE_DEFER` while its driver has not probed.
pub(crate) fn firmware_vc_memory() -> Result<(u32, u32)> {
    let (mut base, mut size) = (0u32, 0u32);
    // SAFETY: both pointers are valid for a write for the call (locals); the glue takes and
    // drops its own references to the firmware.
    kernel::error::to_result(unsafe { vc_mem_sys_fw_vc_memory(&mut base, &mut size) })?;
    Ok((base, size))
}

/// The VMA's offset into the file, in pages.
pub(crate) fn pgoff(vma: &VmaNew) -> usize {
    // SAFETY: `vma` is a VMA being set up by `mmap`, valid for this call.
    unsafe { vc_mem_sys_pgoff(vma.as_ptr().cast()) }
}

/// Maps the whole of `vma` to the physical pages from `phys` on, uncached.
///
/// The caller has checked that the VMA's range starting at `phys` is VideoCore memory, which
/// Linux does not manage (see [`is_ram`]).
pub(crate) fn remap_uncached(vma: &VmaNew, phys: u64) -> Result {
    // SAFETY: `vma` is a VMA being set up by `mmap` (its `mmap_lock` is held for writing by
    // the caller of the file's `mmap`); the pages are not Linux's (the precondition).
    kernel::error::to_result(unsafe { vc_mem_sys_remap_uncached(vma.as_ptr().cast(), phys) })
}

/// Whether any of `[phys, phys + size)` is Linux's RAM (System RAM in the resource tree).
pub(crate) fn is_ram(phys: u64, size: u64) -> bool {
    // SAFETY: a query of the resource tree and the memory map; no pointers.
    unsafe { vc_mem_sys_is_ram(phys, size) }
}

/// Whether the current task may access raw memory (`CAP_SYS_RAWIO`).
pub(crate) fn rawio() -> bool {
    // SAFETY: a capability check of the current task.
    unsafe { vc_mem_sys_rawio() }
}

/// A temporary write-combined kernel mapping of VideoCore memory.
///
/// # Invariants
///
/// `va` is a live mapping of `len` bytes from `memremap`, unmapped on drop.
pub(crate) struct Window {
    va: NonNull<c_void>,
    len: usize,
}

impl Window {
    /// Maps `[phys, phys + len)`, which the caller checked is VideoCore memory.
    pub(crate) fn new(phys: u64, len: usize) -> Result<Self> {
        // SAFETY: a mapping of memory Linux does not manage (the precondition); no aliasing
        // cached mapping exists (the linear map does not cover it).
        let va = NonNull::new(unsafe { vc_mem_sys_map(phys, len) }).ok_or(ENOMEM)?;
        // INVARIANT: `va` is a fresh mapping of `len` bytes.
        Ok(Self { va, len })
    }

    /// Copies `dst.len()` bytes from offset `off` of the window.
    pub(crate) fn read(&self, off: usize, dst: &mut [u8]) -> Result {
        let end = off.checked_add(dst.len()).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `[off, end)` is inside the live mapping (type invariant, checked above);
        // `dst` is a valid buffer of that length; the copy makes no Rust reference into
        // memory the VideoCore writes.
        unsafe {
            vc_mem_sys_read(
                dst.as_mut_ptr().cast(),
                self.va.as_ptr().cast::<u8>().add(off).cast(),
                dst.len(),
            )
        };
        Ok(())
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: the live mapping from `new` (type invariant), unmapped once.
        unsafe { vc_mem_sys_unmap(self.va.as_ptr()) };
    }
}
