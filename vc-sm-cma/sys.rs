// SPDX-License-Identifier: GPL-2.0

//! vc-sm-cma's dma-buf layer, the Rust half (`vcsm_glue.c` is the C half): the 7.3 `kernel`
//! crate has no dma-buf abstraction, so this is a small one, shaped so that an upstream
//! `kernel::dma_buf` could replace it type for type.
//!
//! * [`DmaDevice`]: a reference on the VideoCore's DMA device (the parent of vchiq-core's
//!   auxiliary device), valid after the device is unbound.
//! * [`Memory`]: memory the VideoCore may be given by bus address: own (coherent, or cached
//!   with cache maintenance in the CPU-access ops) or a foreign dma-buf attached and mapped
//!   as one DMA segment. Freed when dropped (or kept, see [`Memory::leak`]).
//! * [`DmaBuf`]: one counted reference on a dma-buf; [`DmaBuf::export`] makes the dma-buf
//!   of a [`Memory`], whose release hands its owner back to [`crate::buffer::released`].
//! * [`ForeignDmaBuf`]: a reference on somebody else's dma-buf (an fd from user space, or a
//!   kernel caller's pointer).
//!
//! No Rust reference ever points into the memory: it is reached only by DMA, user mappings
//! and the C ops.

use crate::buffer::Buffer;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::error::from_err_ptr;
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

/// `struct vcsm_mem` (opaque).
#[repr(C)]
pub(crate) struct RawMem {
    _opaque: [u8; 0],
}

/// `struct dma_buf` (opaque).
#[repr(C)]
pub(crate) struct RawDmaBuf {
    _opaque: [u8; 0],
}

/// `struct device` (opaque).
#[repr(C)]
pub(crate) struct RawDevice {
    _opaque: [u8; 0],
}

// The auxiliary device and the file are passed as `void *`: their structs have members
// bindgen makes zero-sized, which the FFI-safety lint refuses even behind a pointer.
extern "C" {
    fn vcsm_dev_get(adev: *mut c_void) -> *mut RawDevice;
    fn vcsm_dev_put(dev: *mut RawDevice);
    fn vcsm_mem_alloc(dev: *mut RawDevice, size: usize, cached: bool) -> *mut RawMem;
    fn vcsm_mem_import(dev: *mut RawDevice, src: *mut RawDmaBuf) -> *mut RawMem;
    fn vcsm_mem_free(m: *mut RawMem, leak: bool);
    fn vcsm_mem_dma(m: *const RawMem) -> u64;
    fn vcsm_mem_size(m: *const RawMem) -> usize;
    fn vcsm_mem_phys(m: *const RawMem) -> u64;
    fn vcsm_mem_attachment(
        m: *mut RawMem,
        i: c_uint,
        name: *mut u8,
        len: usize,
        mapped: *mut bool,
        phys: *mut u64,
        dma: *mut u64,
    ) -> c_int;
    fn vcsm_mem_export(m: *mut RawMem, owner: *mut c_void) -> *mut RawDmaBuf;
    fn vcsm_dmabuf_file(buf: *mut RawDmaBuf) -> *mut c_void;
    fn vcsm_dmabuf_get(buf: *mut RawDmaBuf);
    fn vcsm_dmabuf_put(buf: *mut RawDmaBuf);
    fn vcsm_dmabuf_from_fd(fd: c_int) -> *mut RawDmaBuf;
    fn vcsm_sync_user(addr: usize, len: usize, mode: u32) -> c_int;
}

/// CLEAN_INVALID2's cache maintenance of `len` bytes at user address `addr`, which must be
/// inside one of the caller's mappings of own memory (`EINVAL` otherwise): mode 1
/// invalidates, 2 cleans, 3 both. Gives way to other tasks first, and fails with `EINTR`
/// once the caller has a fatal signal (a CLEAN_INVALID2 may ask for hours of maintenance).
pub(crate) fn sync_user(addr: usize, len: usize, mode: u32) -> Result {
    // SAFETY: the C side looks the address up among the current process's mappings under
    // its mmap lock and checks every bound; it dereferences nothing the caller passes.
    kernel::error::to_result(unsafe { vcsm_sync_user(addr, len, mode) })
}

/// The VideoCore's DMA device, referenced.
///
/// # Invariants
///
/// `ptr` holds a reference from `vcsm_dev_get`, put in `Drop`.
pub(crate) struct DmaDevice {
    ptr: NonNull<RawDevice>,
}

// SAFETY: a device reference may be used and put from any thread.
unsafe impl Send for DmaDevice {}
// SAFETY: the DMA API may be called on a device from several threads at once.
unsafe impl Sync for DmaDevice {}

impl DmaDevice {
    /// The parent of `adev`, vchiq-core's auxiliary device (the VideoCore's device).
    pub(crate) fn of(adev: &kernel::auxiliary::Device<kernel::device::Core<'_>>) -> Result<Self> {
        // CAST: `auxiliary::Device` is `#[repr(transparent)]` over the C struct.
        let raw = core::ptr::from_ref(adev).cast::<c_void>().cast_mut();
        // SAFETY: `raw` is a bound auxiliary device (probe context), which has a parent.
        let dev = unsafe { vcsm_dev_get(raw) };
        // INVARIANT: a reference from `vcsm_dev_get`.
        NonNull::new(dev).map(|ptr| Self { ptr }).ok_or(ENODEV)
    }
}

impl Drop for DmaDevice {
    fn drop(&mut self) {
        // SAFETY: the reference of the type invariant, put once.
        unsafe { vcsm_dev_put(self.ptr.as_ptr()) };
    }
}

/// Bytes of an attachment's device name in [`Attachment`], NUL included.
const ATTACH_NAME: usize = 32;

/// An importer's attachment to own memory, as the state file lists it.
pub(crate) struct Attachment {
    /// The importer's device name, NUL-terminated.
    pub(crate) dev: [u8; ATTACH_NAME],
    /// Whether the importer has the memory mapped.
    pub(crate) mapped: bool,
    /// The physical address of the page the importer's table points at.
    pub(crate) phys: u64,
    /// The first segment's DMA address for the importer's device (0 while not mapped).
    pub(crate) dma: u64,
}

/// Memory the VideoCore may be given.
///
/// # Invariants
///
/// `ptr` is a live `struct vcsm_mem` owned by this value; freed only in `Drop`, which
/// happens after its dma-buf (which refers to it) was released, since that dma-buf holds the
/// [`Buffer`] this `Memory` is in.
pub(crate) struct Memory {
    ptr: NonNull<RawMem>,
    /// Keep the DMA memory when dropped (the VideoCore may still use it).
    leak: kernel::sync::atomic::Atomic<u32>,
}

// SAFETY: the C object may be used and freed from any thread.
unsafe impl Send for Memory {}
// SAFETY: the accessors only read fields that never change; the ops lock internally.
unsafe impl Sync for Memory {}

impl Memory {
    fn from_raw(raw: *mut RawMem) -> Result<Self> {
        let raw = from_err_ptr(raw)?;
        // INVARIANT: a live object from the C side, now ours.
        Ok(Self {
            ptr: NonNull::new(raw).ok_or(ENOMEM)?,
            leak: kernel::sync::atomic::Atomic::new(0),
        })
    }

    /// `size` bytes (a page multiple) of own memory for `dev`: cached (the CPU-access ops
    /// do the cache maintenance) or coherent (uncached).
    pub(crate) fn alloc(dev: &DmaDevice, size: usize, cached: bool) -> Result<Self> {
        // SAFETY: `dev` is a referenced device (its invariant).
        Self::from_raw(unsafe { vcsm_mem_alloc(dev.ptr.as_ptr(), size, cached) })
    }

    /// `src` attached and mapped for `dev`; `EINVAL` unless it is one DMA segment.
    pub(crate) fn import(dev: &DmaDevice, src: &ForeignDmaBuf) -> Result<Self> {
        // SAFETY: `dev` and `src` are referenced (their invariants); the C side takes its own
        // reference on `src`.
        Self::from_raw(unsafe { vcsm_mem_import(dev.ptr.as_ptr(), src.ptr.as_ptr()) })
    }

    /// The bus address the VideoCore is given.
    pub(crate) fn dma(&self) -> u64 {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vcsm_mem_dma(self.ptr.as_ptr()) }
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vcsm_mem_size(self.ptr.as_ptr()) }
    }

    /// Own memory: the physical address of its first page (0 for imported memory).
    pub(crate) fn phys(&self) -> u64 {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vcsm_mem_phys(self.ptr.as_ptr()) }
    }

    /// Importer `i` attached to own memory (`None` past the last one).
    pub(crate) fn attachment(&self, i: u32) -> Option<Attachment> {
        let mut a = Attachment {
            dev: [0; ATTACH_NAME],
            mapped: false,
            phys: 0,
            dma: 0,
        };
        // SAFETY: `ptr` is live (type invariant) and the C side takes its own lock for the
        // list it walks; the out-pointers are fields of `a`, which outlives the call, and the
        // name is written with at most `ATTACH_NAME` bytes, NUL included.
        let r = unsafe {
            vcsm_mem_attachment(
                self.ptr.as_ptr(),
                i,
                a.dev.as_mut_ptr(),
                ATTACH_NAME,
                &mut a.mapped,
                &mut a.phys,
                &mut a.dma,
            )
        };
        (r == 0).then_some(a)
    }

    /// Keeps the DMA memory when this is dropped: a DMA master may still write it.
    pub(crate) fn leak(&self) {
        self.leak.store(1, kernel::sync::atomic::Relaxed);
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        let leak = self.leak.load(kernel::sync::atomic::Relaxed) != 0;
        // SAFETY: owned (type invariant); no dma-buf refers to it any more (see there).
        unsafe { vcsm_mem_free(self.ptr.as_ptr(), leak) };
    }
}

/// One reference on a dma-buf.
///
/// # Invariants
///
/// `ptr` is a dma-buf on which this value holds one reference.
pub(crate) struct DmaBuf {
    ptr: NonNull<RawDmaBuf>,
}

// SAFETY: dma-buf references may be taken and dropped from any thread.
unsafe impl Send for DmaBuf {}
// SAFETY: through a `&DmaBuf` one can only read the pointer, read the dma-buf's `file` (set at
// export and fixed for the dma-buf's life) and take another reference (`get_dma_buf`, an
// atomic count): all of them are safe on one dma-buf from several threads at once.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// Exports `buf`'s memory (once). The dma-buf holds `buf` until its release, which
    /// calls [`crate::buffer::released`].
    pub(crate) fn export(buf: &Arc<Buffer>) -> Result<Self> {
        let owner = buf.clone().into_foreign();
        // SAFETY: the memory is live while `buf` is, and the dma-buf keeps `buf` (`owner`).
        let r = from_err_ptr(unsafe { vcsm_mem_export(buf.mem().ptr.as_ptr(), owner) });
        match r.map(NonNull::new) {
            // INVARIANT: the export's one reference.
            Ok(Some(ptr)) => Ok(Self { ptr }),
            _ => {
                // SAFETY: no dma-buf was made, so nothing else has `owner`.
                drop(unsafe { <Arc<Buffer> as ForeignOwnable>::from_foreign(owner) });
                Err(r.err().unwrap_or(ENOMEM))
            }
        }
    }

    /// The `struct dma_buf` (for the kernel API, which hands out references as pointers).
    pub(crate) fn as_raw(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// A reference on the dma-buf's file, for an fd.
    pub(crate) fn file(&self) -> ARef<File> {
        // SAFETY: the dma-buf is live (type invariant); the C side takes a file reference,
        // which the `ARef` owns.
        let f = unsafe { vcsm_dmabuf_file(self.ptr.as_ptr()) };
        // SAFETY: `f` is a live file with a reference of its own (above); `File` is
        // `#[repr(transparent)]` over `struct file`.
        unsafe { ARef::from_raw(NonNull::new_unchecked(f.cast::<File>())) }
    }
}

impl Clone for DmaBuf {
    fn clone(&self) -> Self {
        // SAFETY: the dma-buf is live (type invariant); the new reference is the clone's.
        unsafe { vcsm_dmabuf_get(self.ptr.as_ptr()) };
        Self { ptr: self.ptr }
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: the reference of the type invariant, dropped once.
        unsafe { vcsm_dmabuf_put(self.ptr.as_ptr()) };
    }
}

/// A reference on a dma-buf made by somebody else (which this module only imports).
///
/// # Invariants
///
/// `ptr` is a dma-buf on which this value holds one reference.
pub(crate) struct ForeignDmaBuf {
    ptr: NonNull<RawDmaBuf>,
}

impl ForeignDmaBuf {
    /// The dma-buf behind the calling process's file descriptor `fd`.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `dma_buf_get` checks the fd.
        let p = from_err_ptr(unsafe { vcsm_dmabuf_from_fd(fd) })?;
        // INVARIANT: `dma_buf_get` took a reference.
        NonNull::new(p).map(|ptr| Self { ptr }).ok_or(EBADF)
    }

    /// A reference on `raw`, a kernel caller's dma-buf.
    ///
    /// # Safety
    ///
    /// `raw` must be a live dma-buf for the duration of the call.
    pub(crate) unsafe fn from_raw(raw: *mut c_void) -> Result<Self> {
        let ptr = NonNull::new(raw.cast::<RawDmaBuf>()).ok_or(EINVAL)?;
        // SAFETY: live (the function's contract); the new reference is ours.
        unsafe { vcsm_dmabuf_get(ptr.as_ptr()) };
        // INVARIANT: referenced just now.
        Ok(Self { ptr })
    }
}

impl Drop for ForeignDmaBuf {
    fn drop(&mut self) {
        // SAFETY: the reference of the type invariant, dropped once.
        unsafe { vcsm_dmabuf_put(self.ptr.as_ptr()) };
    }
}

/// The dma-buf of a [`Buffer`] was released (C release op).
///
/// # Safety
///
/// `owner` is the foreign `Arc<Buffer>` given to `vcsm_mem_export`; called once per export.
#[no_mangle]
unsafe extern "C" fn vcsm_rs_dmabuf_release(owner: *mut c_void) {
    // SAFETY: the function's contract: the dma-buf's reference on the buffer, given back.
    let buf = unsafe { <Arc<Buffer> as ForeignOwnable>::from_foreign(owner) };
    crate::buffer::released(buf);
}
