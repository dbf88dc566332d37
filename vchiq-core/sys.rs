// SPDX-License-Identifier: GPL-2.0

//! vchiq-core's kernel abstraction layer: the facilities the 7.3 `kernel` crate lacks.
//!
//! Every raw binding of the module is declared here and wrapped in a safe type; the rest of the
//! crate never sees a raw kernel pointer. The C half is `sys_glue.c` (prototypes in
//! `sys_glue.h`, which the declarations below must match). Candidates for upstreaming: the
//! kthread wrapper, the aux-device registration with plain platform data, and the DMA mapping
//! of an array of pages.

use core::ffi::{c_char, c_int, c_void};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::device::{Device, DeviceContext};
use kernel::page::BorrowedPage;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

// The kernel structs only ever appear behind pointers, which are FFI-safe whatever bindgen made of
// their (partly opaque) contents.
#[expect(improper_ctypes)]
extern "C" {
    fn vchiq_sys_kthread_start(
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        data: *mut c_void,
        name: *const c_char,
    ) -> *mut c_void;
    fn vchiq_sys_kthread_stop(t: *mut c_void) -> c_int;
    fn vchiq_sys_rpi_vchiq_init(slot_zero: u32, status: *mut u32) -> c_int;
    fn vchiq_sys_platdata(dev: *mut bindings::device) -> *mut c_void;
    fn vchiq_sys_aux_add(
        parent: *mut bindings::device,
        modname: *const c_char,
        name: *const c_char,
        id: u32,
        data: *mut c_void,
    ) -> *mut bindings::auxiliary_device;
    fn vchiq_sys_aux_del(adev: *mut bindings::auxiliary_device);
    fn vchiq_sys_buf_page(addr: *const c_void) -> *mut bindings::page;
    fn vchiq_sys_dma_keep_page_offset(dev: *mut bindings::device);
    fn vchiq_sys_map_pages(
        dev: *mut bindings::device,
        pages: *mut *mut bindings::page,
        n: u32,
        offset: u32,
        len: u32,
        to_device: bool,
    ) -> *mut bindings::sg_table;
    fn vchiq_sys_unmap_pages(
        dev: *mut bindings::device,
        sgt: *mut bindings::sg_table,
        to_dev: bool,
    );
    fn vchiq_sys_forget_pages(sgt: *mut bindings::sg_table);
    fn vchiq_sys_coherent_alloc(
        dev: *mut bindings::device,
        size: u32,
        bus: *mut u64,
    ) -> *mut c_void;
    fn vchiq_sys_coherent_free(dev: *mut bindings::device, size: u32, p: *mut c_void, bus: u64);
}

/// Returns the C `struct device` behind `dev`.
///
/// The `kernel` crate keeps `Device::as_raw` private; this is the one audited bridge.
pub(crate) fn raw_device<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::device>`, which is
    // `#[repr(transparent)]` over `UnsafeCell<MaybeUninit<bindings::device>>`.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// Converts a C `ERR_PTR`-or-pointer into a `Result`.
fn from_err_ptr<T>(p: *mut T) -> Result<NonNull<T>> {
    let v = p as isize;
    // `ERR_PTR` values are the last 4095 addresses.
    if (-4095..0).contains(&v) {
        // `v` fits in `c_int` by the range check.
        return Err(Error::from_errno(v as c_int));
    }
    NonNull::new(p).ok_or(ENOMEM)
}

/// The body of a kernel thread.
pub(crate) trait ThreadBody: Send + Sync + 'static {
    /// Runs the thread until it decides to stop (it must return once asked to, through its own
    /// state, before [`Kthread`] is dropped).
    fn run(&self);
}

/// A running kernel thread; dropping it waits for the thread to return.
///
/// # Invariants
///
/// `task` is a thread started by `vchiq_sys_kthread_start` on `data`, with a task reference
/// held; `data` is an `Arc<T>` turned foreign, owned by this value.
pub(crate) struct Kthread<T: ThreadBody> {
    task: NonNull<c_void>,
    data: *mut c_void,
    _p: core::marker::PhantomData<Arc<T>>,
}

// SAFETY: the handle only stops the thread and drops an `Arc<T>` with `T: Send + Sync`.
unsafe impl<T: ThreadBody> Send for Kthread<T> {}
// SAFETY: `&Kthread` allows nothing.
unsafe impl<T: ThreadBody> Sync for Kthread<T> {}

/// The thread function handed to `kthread_create`.
///
/// # Safety
///
/// `data` must come from `Arc::<T>::into_foreign` and stay owned by the `Kthread` until the
/// thread has returned.
unsafe extern "C" fn kthread_trampoline<T: ThreadBody>(data: *mut c_void) -> c_int {
    // SAFETY: `data` came from `Arc::<T>::into_foreign` in `Kthread::start` and is only
    // reclaimed in `Drop`, after the thread has returned.
    let body = unsafe { <Arc<T> as ForeignOwnable>::borrow(data) };
    body.run();
    0
}

impl<T: ThreadBody> Kthread<T> {
    /// Starts a kernel thread named `name` running `body.run()`.
    pub(crate) fn start(name: &CStr, body: Arc<T>) -> Result<Self> {
        let data = body.into_foreign();
        // SAFETY: the trampoline matches `data`'s type; `name` is a valid C string.
        let task =
            unsafe { vchiq_sys_kthread_start(kthread_trampoline::<T>, data, name.as_char_ptr()) };
        match from_err_ptr(task) {
            // INVARIANT: the thread runs with a task reference held, on `data`.
            Ok(task) => Ok(Self {
                task,
                data,
                _p: core::marker::PhantomData,
            }),
            Err(e) => {
                // SAFETY: the thread was not created, so we still own `data`.
                drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(data) });
                Err(e)
            }
        }
    }
}

impl<T: ThreadBody> Drop for Kthread<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `task` is a started thread with a reference held;
        // `kthread_stop_put` waits for it to return and drops the reference.
        unsafe { vchiq_sys_kthread_stop(self.task.as_ptr()) };
        // SAFETY: the thread has returned, so nobody borrows `data` any more.
        drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(self.data) });
    }
}

/// The Raspberry Pi firmware's VCHIQ_INIT property call. Returns the firmware's status word
/// (0: accepted).
pub(crate) fn rpi_vchiq_init(slot_zero: u32) -> Result<u32> {
    let mut status = 0u32;
    // SAFETY: `status` is a valid `u32` for the duration of the call.
    kernel::error::to_result(unsafe { vchiq_sys_rpi_vchiq_init(slot_zero, &mut status) })?;
    Ok(status)
}

/// The platform data pointer of `dev` (may be null).
pub(crate) fn platdata<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut c_void {
    // SAFETY: `raw_device` yields a valid `struct device`.
    unsafe { vchiq_sys_platdata(raw_device(dev)) }
}

/// An auxiliary device whose platform data is a foreign-owned `Arc<T>`.
///
/// # Invariants
///
/// `adev` was added by `vchiq_sys_aux_add` with `data` (an `Arc<T>` turned foreign) as platform
/// data, and is deleted only in `Drop`, before `data` is reclaimed.
pub(crate) struct AuxDevice<T: Send + Sync + 'static> {
    adev: NonNull<bindings::auxiliary_device>,
    data: *mut c_void,
    _p: core::marker::PhantomData<Arc<T>>,
}

// SAFETY: the handle only deletes the device and drops an `Arc<T>`.
unsafe impl<T: Send + Sync + 'static> Send for AuxDevice<T> {}
// SAFETY: `&AuxDevice` allows nothing.
unsafe impl<T: Send + Sync + 'static> Sync for AuxDevice<T> {}

impl<T: Send + Sync + 'static> AuxDevice<T> {
    /// Adds the auxiliary device `modname.name.id` under `parent`.
    pub(crate) fn add<Ctx: DeviceContext>(
        parent: &Device<Ctx>,
        modname: &'static CStr,
        name: &'static CStr,
        id: u32,
        data: Arc<T>,
    ) -> Result<Self> {
        let data = data.into_foreign();
        // SAFETY: `parent` is a valid device; the strings are `'static`.
        let adev = unsafe {
            vchiq_sys_aux_add(
                raw_device(parent),
                modname.as_char_ptr(),
                name.as_char_ptr(),
                id,
                data,
            )
        };
        match from_err_ptr(adev) {
            // INVARIANT: the device is added with `data` as platform data.
            Ok(adev) => Ok(Self {
                adev,
                data,
                _p: core::marker::PhantomData,
            }),
            Err(e) => {
                // SAFETY: the device was not added; we still own `data`.
                drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(data) });
                Err(e)
            }
        }
    }
}

impl<T: Send + Sync + 'static> Drop for AuxDevice<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the device is added; deleting it unbinds its driver
        // first, so no client uses the platform data afterwards.
        unsafe { vchiq_sys_aux_del(self.adev.as_ptr()) };
        // SAFETY: the device is gone; the data is ours again.
        drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(self.data) });
    }
}

/// Makes the DMA API keep a buffer's offset within its page when it bounces it through
/// swiotlb (`dma_set_min_align_mask`): a pagelist needs every segment but the first to
/// start on a page boundary and every one but the last to end on one, which a bounce buffer
/// without this could break (a small unaligned receive is bounced on arm64).
pub(crate) fn keep_page_offset<Ctx: DeviceContext>(dev: &Device<Ctx>) {
    // SAFETY: `dev` is a valid device; the helper only sets its DMA parameters.
    unsafe { vchiq_sys_dma_keep_page_offset(raw_device(dev)) }
}

/// Pages mapped for DMA towards (`to_device`) or from the VideoCore.
///
/// # Invariants
///
/// `sgt` is a table mapped by `vchiq_sys_map_pages` for `dev` in direction `to_device`; `dev`
/// holds a reference to the device.
pub(crate) struct DmaPages {
    sgt: NonNull<bindings::sg_table>,
    dev: kernel::sync::aref::ARef<Device>,
    to_device: bool,
}

// SAFETY: the mapping may be released from any thread.
unsafe impl Send for DmaPages {}
// SAFETY: `&DmaPages` only reads the mapped segment list.
unsafe impl Sync for DmaPages {}

impl DmaPages {
    /// Maps `len` bytes starting `offset` bytes into `pages[0]`; the pages must stay
    /// allocated until the mapping is dropped.
    fn map(
        dev: &Device,
        pages: &mut [*mut bindings::page],
        offset: u32,
        len: u32,
        to_device: bool,
    ) -> Result<Self> {
        let n = u32::try_from(pages.len()).map_err(|_| EINVAL)?;
        // SAFETY: `pages` holds `n` valid page pointers (the `BulkPages` invariant of the only
        // caller); `dev` is a valid device.
        let sgt = unsafe {
            vchiq_sys_map_pages(
                raw_device(dev),
                pages.as_mut_ptr(),
                n,
                offset,
                len,
                to_device,
            )
        };
        let sgt = from_err_ptr(sgt)?;
        // INVARIANT: mapped for `dev` in direction `to_device`.
        Ok(Self {
            sgt,
            dev: dev.into(),
            to_device,
        })
    }

    /// The mapped table, through the kernel's scatterlist abstraction.
    fn table(&self) -> &SGTable {
        // SAFETY: `sgt` is a valid table mapped for DMA (type invariant), which stays mapped
        // and allocated while `self` lives: only `Drop` unmaps and frees it.
        unsafe { SGTable::from_raw(self.sgt.as_ptr()) }
    }

    /// The bus address and length of every mapped segment, in order (one pass).
    pub(crate) fn segment_list(&self) -> Result<KVec<(u64, u32)>> {
        let mut v = KVec::new();
        for sg in self.table().iter() {
            let len = u32::try_from(sg.dma_len()).map_err(|_| EINVAL)?;
            #[allow(
                clippy::useless_conversion,
                reason = "`dma_addr_t` is 32-bit on some configurations"
            )]
            let addr = u64::from(sg.dma_address());
            v.push((addr, len), GFP_KERNEL)?;
        }
        Ok(v)
    }
}

impl DmaPages {
    /// Leaves the pages mapped for good (the VideoCore may still use the mapping after an
    /// unbind that could not take the memory back); only the table's memory is freed.
    pub(crate) fn keep(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `sgt` is the table this value owns (type invariant); it is freed once,
        // here, and `this` is never dropped, so `Drop` does not unmap or free it again.
        unsafe { vchiq_sys_forget_pages(this.sgt.as_ptr()) };
        // SAFETY: `dev` is read once out of a value that is never dropped: the device
        // reference is released exactly once.
        drop(unsafe { core::ptr::read(&this.dev) });
    }
}

impl Drop for DmaPages {
    fn drop(&mut self) {
        // SAFETY: mapped by `vchiq_sys_map_pages` for `dev` in this direction (type invariant).
        unsafe { vchiq_sys_unmap_pages(raw_device(&self.dev), self.sgt.as_ptr(), self.to_device) }
    }
}

/// The pages of a bulk buffer: kernel memory the caller owns, or user pages pinned for the
/// transfer (unpinned on drop). The rest of the crate sees them only through [`Self::map`]
/// and [`Self::write`].
///
/// # Invariants
///
/// Every pointer in `pages` is a valid page. With `pinned`, this value holds one pin on each,
/// released only in `Drop`; without, the pages belong to a kernel buffer that the creator
/// keeps allocated for as long as this value lives.
pub(crate) struct BulkPages {
    pages: KVec<*mut bindings::page>,
    /// `Some(dirty)`: the pages are pinned user pages; `dirty` marks them written by the
    /// device (a receive) when unpinning.
    pinned: Option<bool>,
}

// SAFETY: the pages may be used and unpinned from any thread.
unsafe impl Send for BulkPages {}

impl BulkPages {
    /// The `n` pages of kernel memory (linear map or vmalloc) from page-aligned address
    /// `start`; `EFAULT` if an address has no page. The memory must stay allocated as long as
    /// the value lives (the contract of the bulk API's kernel buffers).
    pub(crate) fn kernel(start: usize, n: usize) -> Result<Self> {
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            let va = i
                .checked_mul(kernel::page::PAGE_SIZE)
                .and_then(|o| start.checked_add(o))
                .ok_or(EFAULT)?;
            // SAFETY: the helper only inspects the address (`virt_to_page`/`vmalloc_to_page`).
            let page = unsafe { vchiq_sys_buf_page(va as *const c_void) };
            if page.is_null() {
                return Err(EFAULT);
            }
            pages.push(page, GFP_KERNEL)?;
        }
        // INVARIANT: every page was looked up above; the caller keeps the buffer.
        Ok(Self {
            pages,
            pinned: None,
        })
    }

    /// Pins `n` pages of the current process from page-aligned user address `start`, for
    /// writing by the device if `write`. `EFAULT` if any page is not mapped (or not writable).
    pub(crate) fn pin_user(start: usize, n: usize, write: bool) -> Result<Self> {
        let mut pages = KVec::<*mut bindings::page>::with_capacity(n, GFP_KERNEL)?;
        let flags = if write { bindings::FOLL_WRITE } else { 0 };
        // INVARIANT: only pages pinned below are added; on error `Drop` unpins them.
        let mut this = Self {
            pages: KVec::new(),
            pinned: Some(write),
        };
        while pages.len() < n {
            let done = pages.len();
            let want = c_int::try_from(n - done).map_err(|_| EINVAL)?;
            let addr = start
                .checked_add(done * kernel::page::PAGE_SIZE)
                .ok_or(EFAULT)?;
            // SAFETY: `pages` has room for `want` more pointers after its length; the call
            // pins pages of the current mm and reports how many it wrote.
            let got = unsafe {
                bindings::pin_user_pages_fast(addr, want, flags, pages.as_mut_ptr().add(done))
            };
            if got <= 0 {
                // The pages pinned so far are unpinned by `this`'s drop.
                this.pages = pages;
                return Err(if got == 0 {
                    EFAULT
                } else {
                    Error::from_errno(got)
                });
            }
            let got = core::cmp::min(got as usize, n - done);
            // SAFETY: the call wrote `got` page pointers after the first `done`.
            unsafe { pages.inc_len(got) };
        }
        this.pages = pages;
        Ok(this)
    }

    /// Keeps user pages pinned for good (the VideoCore may still write them after an unbind
    /// that could not take the memory back). Returns `false` for a kernel buffer, which
    /// belongs to its client and cannot be kept here.
    pub(crate) fn keep(mut self) -> bool {
        // `self` drops at the end of this function; without `pinned` its `Drop` releases
        // nothing, so the pins stay.
        self.pinned.take().is_some()
    }

    /// Whether there are no pages (an empty transfer).
    pub(crate) fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Maps `len` bytes from `offset` bytes into the first page for DMA towards
    /// (`to_device`) or from the device. The mapping must be dropped before `self`.
    pub(crate) fn map(
        &mut self,
        dev: &Device,
        offset: u32,
        len: u32,
        to_device: bool,
    ) -> Result<DmaPages> {
        DmaPages::map(dev, &mut self.pages, offset, len, to_device)
    }

    /// Copies `src` to byte `offset` of page `index` through a temporary kernel mapping
    /// (`EINVAL` outside the pages). The caller must own the pages again (no DMA mapping).
    pub(crate) fn write(&self, index: usize, offset: usize, src: &[u8]) -> Result {
        let page = *self.pages.get(index).ok_or(EINVAL)?;
        let end = offset.checked_add(src.len()).ok_or(EINVAL)?;
        if end > kernel::page::PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `page` is valid while `self` lives (type invariant); the borrow ends here.
        let page = unsafe { BorrowedPage::from_raw(NonNull::new(page).ok_or(EINVAL)?) };
        // SAFETY: `src` is the caller's memory, valid for reading its length and not the page;
        // the caller owns the pages again (no DMA mapping), so nothing races with the write.
        // `write_raw` checks the range itself as well.
        unsafe { page.write_raw(src.as_ptr(), offset, src.len()) }
    }
}

impl Drop for BulkPages {
    fn drop(&mut self) {
        let Some(dirty) = self.pinned else {
            return;
        };
        if self.pages.is_empty() {
            return;
        }
        // SAFETY: every page was pinned by this value (type invariant) and is released once.
        unsafe {
            bindings::unpin_user_pages_dirty_lock(self.pages.as_mut_ptr(), self.pages.len(), dirty)
        };
    }
}

/// A coherent DMA buffer (the slot memory, a bulk's pagelist), zeroed, allocated while the
/// device is bound.
///
/// Not `kernel::dma::Coherent`, for two reasons. Memory the VideoCore keeps must be leaked
/// without the device reference the allocation holds ([`CoherentBuf::keep`]); forgetting a
/// `Coherent` leaks both, and the leaked reference keeps a removed device (the simulator's) for
/// ever. And `Coherent` needs a `&Device<Bound>`, which the bulk path cannot prove (a
/// `/dev/vchiq` file outlives vchiq-dev's binding, so a bulk may be set up while the core
/// unbinds; queueing it then fails with `ESHUTDOWN` and the buffer is freed at once).
///
/// # Invariants
///
/// `ptr` is a `size`-byte coherent allocation of `dev` at bus address `bus`, freed only in
/// `Drop` (or never, after [`CoherentBuf::keep`]). The VideoCore may read and write it at any
/// time: no Rust reference to it is ever made.
pub(crate) struct CoherentBuf {
    ptr: NonNull<u8>,
    size: u32,
    bus: u64,
    dev: kernel::sync::aref::ARef<Device>,
}

// SAFETY: the buffer may be written and freed from any thread.
unsafe impl Send for CoherentBuf {}
// SAFETY: `&CoherentBuf` allows no access to the memory.
unsafe impl Sync for CoherentBuf {}

impl CoherentBuf {
    /// Allocates `size` bytes for `dev`, which the caller guarantees is bound.
    pub(crate) fn new(dev: &Device, size: u32) -> Result<Self> {
        let mut bus = 0u64;
        // SAFETY: `dev` is a valid device; `bus` is valid for the call.
        let p = unsafe { vchiq_sys_coherent_alloc(raw_device(dev), size, &mut bus) };
        let ptr = NonNull::new(p.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: just allocated.
        Ok(Self {
            ptr,
            size,
            bus,
            dev: dev.into(),
        })
    }

    /// The bus address.
    pub(crate) fn bus(&self) -> u64 {
        self.bus
    }

    /// The CPU address; the memory may only be accessed volatile (the VideoCore shares it).
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// Leaves the buffer allocated for good (the VideoCore may still read it after an unbind
    /// that could not take the memory back); only the device reference is released.
    pub(crate) fn keep(self) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `dev` is read once out of a value that is never dropped: the device
        // reference is released exactly once and the allocation is never freed.
        drop(unsafe { core::ptr::read(&this.dev) });
    }

    /// Stores `val` at word `i` (little-endian, as the VideoCore reads it).
    pub(crate) fn put_u32(&mut self, i: usize, val: u32) -> Result {
        let off = i.checked_mul(4).ok_or(EINVAL)?;
        if off.checked_add(4).ok_or(EINVAL)? > self.size as usize {
            return Err(EINVAL);
        }
        // SAFETY: `off + 4 <= size`, inside the allocation; coherent memory is only written
        // here, before the VideoCore is told about it.
        unsafe {
            self.ptr
                .as_ptr()
                .add(off)
                .cast::<u32>()
                .write_volatile(val.to_le())
        };
        Ok(())
    }
}

impl Drop for CoherentBuf {
    fn drop(&mut self) {
        // SAFETY: allocated by `vchiq_sys_coherent_alloc` for `dev` (type invariant).
        unsafe {
            vchiq_sys_coherent_free(
                raw_device(&self.dev),
                self.size,
                self.ptr.as_ptr().cast(),
                self.bus,
            )
        }
    }
}
