// SPDX-License-Identifier: GPL-2.0

//! The C glue of `sim_glue.c`: declarations and the small owning types around them.
//!
//! The 7.3 `kernel` crate has no interrupt simulator, no `platform_device_register_full`, no
//! way to allocate or destroy a workqueue, no `dma_to_phys`, `vmap` or `kmap_local_page`, and
//! no public raw `struct device` of a platform device. The C file does exactly those things;
//! everything here is a thin, documented wrapper. Upstreaming the missing abstractions would
//! remove this file.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    workqueue::Queue, //
};

/// The C `struct vchiq_sim_hw` (opaque).
#[repr(C)]
pub(crate) struct RawHw {
    _opaque: [u8; 0],
}

/// The C `struct device`, only ever passed back to C (opaque here, so that no Rust code can
/// look inside it).
#[repr(C)]
pub(crate) struct RawDevice {
    _opaque: [u8; 0],
}

extern "C" {
    fn vchiq_sim_hw_create(out: *mut *mut RawHw) -> c_int;
    fn vchiq_sim_hw_register(hw: *mut RawHw, ctx: *mut c_void, cache_line_size: u32) -> c_int;
    fn vchiq_sim_hw_unregister(hw: *mut RawHw);
    fn vchiq_sim_hw_destroy(hw: *mut RawHw);
    fn vchiq_sim_hw_wq(hw: *mut RawHw) -> *mut bindings::workqueue_struct;
    fn vchiq_sim_hw_dev(hw: *mut RawHw) -> *mut RawDevice;
    fn vchiq_sim_hw_raise(hw: *mut RawHw);
    fn vchiq_sim_hw_dev_refs(hw: *mut RawHw) -> c_uint;
    fn vchiq_sim_hw_kick_after(hw: *mut RawHw, usecs: u32);
    fn vchiq_sim_add_detach_action(dev: *mut RawDevice, ctx: *mut c_void) -> c_int;
    fn vchiq_sim_vmap(dev: *mut RawDevice, bus: u32, size: u32) -> *mut c_void;
    fn vchiq_sim_vunmap(va: *mut c_void);
    fn vchiq_sim_bus_copy(
        dev: *mut RawDevice,
        bus: u32,
        buf: *mut c_void,
        len: usize,
        to_bus: bool,
    ) -> c_int;
    #[cfg(CONFIG_KUNIT = "y")]
    fn vchiq_sim_test_dev() -> *mut RawDevice;
    #[cfg(CONFIG_KUNIT = "y")]
    fn vchiq_sim_test_bus(va: *const c_void) -> u32;
}

/// The simulated hardware: interrupt domain and doorbell interrupt, workqueue and (once
/// registered) the platform device. Owned by the module; dropping it unregisters the device,
/// drains and destroys the queue and removes the interrupt.
///
/// # Invariants
///
/// `ptr` came from `vchiq_sim_hw_create` and has not been destroyed.
pub(crate) struct Hw {
    ptr: NonNull<RawHw>,
}

// SAFETY: the C functions behind `Hw` may be called from any thread; the ones that must not
// race (register, unregister, destroy) are only called from module init and exit.
unsafe impl Send for Hw {}
// SAFETY: a `&Hw` only offers `handle` (a copy of the pointer), `register` (unsafe: its
// caller's contract) and `unregister`, which the module calls only from its init and exit,
// never at the same time; the calls that may run concurrently (`raise`, `queue`, `dev`) go
// through `HwRef` and touch only the workqueue, the interrupt and a `READ_ONCE` of the device.
unsafe impl Sync for Hw {}

impl Hw {
    /// Creates the interrupt domain, maps the doorbell interrupt and allocates the queue.
    pub(crate) fn new() -> Result<Self> {
        let mut raw: *mut RawHw = core::ptr::null_mut();
        // SAFETY: `raw` is a valid place for the result.
        to_result(unsafe { vchiq_sim_hw_create(&mut raw) })?;
        // INVARIANT: on success the C side stored a live object.
        Ok(Self {
            ptr: NonNull::new(raw).ok_or(ENOMEM)?,
        })
    }

    /// Registers the platform device with `ctx` in its platform data.
    ///
    /// # Safety
    ///
    /// `ctx` must stay a valid `Sim` for the ops in `sim.rs` until [`Hw::unregister`] returned
    /// or the `Hw` is dropped.
    pub(crate) unsafe fn register(&self, ctx: *const c_void, cache_line_size: u32) -> Result {
        // SAFETY: `ptr` is live (type invariant); the caller guarantees `ctx`.
        to_result(unsafe {
            vchiq_sim_hw_register(self.ptr.as_ptr(), ctx.cast_mut(), cache_line_size)
        })
    }

    /// Unregisters the platform device, which unbinds the core; idempotent.
    pub(crate) fn unregister(&self) {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vchiq_sim_hw_unregister(self.ptr.as_ptr()) }
    }

    /// A non-owning handle for the simulator's shared state.
    pub(crate) fn handle(&self) -> HwRef {
        HwRef { ptr: self.ptr }
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live (type invariant) and not used again: the module drops the
        // `Hw` only once nothing holding a `HwRef` can run (see `HwRef`).
        unsafe { vchiq_sim_hw_destroy(self.ptr.as_ptr()) }
    }
}

/// A non-owning handle on [`Hw`].
///
/// # Invariants
///
/// The module destroys the [`Hw`] only after the platform device is unregistered, the debugfs
/// files are gone and the queue is drained, i.e. when no code path that holds a `HwRef` can
/// run any more.
#[derive(Clone, Copy)]
pub(crate) struct HwRef {
    ptr: NonNull<RawHw>,
}

// SAFETY: see `Hw`.
unsafe impl Send for HwRef {}
// SAFETY: see `Hw`.
unsafe impl Sync for HwRef {}

impl HwRef {
    /// The simulator's ordered workqueue.
    pub(crate) fn queue(&self) -> &Queue {
        // SAFETY: `ptr` is live (type invariant); the queue lives as long as it.
        unsafe { Queue::from_raw(vchiq_sim_hw_wq(self.ptr.as_ptr())) }
    }

    /// Raises the ARM's doorbell interrupt. Process context only.
    pub(crate) fn raise(&self) {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vchiq_sim_hw_raise(self.ptr.as_ptr()) }
    }

    /// Activates the VideoCore (its work item) in `usecs` microseconds, replacing an earlier
    /// pending deadline; nothing once the hardware is being destroyed. Process context.
    pub(crate) fn kick_after(&self, usecs: u32) {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { vchiq_sim_hw_kick_after(self.ptr.as_ptr(), usecs) }
    }

    /// The platform device's reference count (0 when there is none): every reference the core
    /// and its clients take must be gone again when they unbind.
    pub(crate) fn dev_refs(&self) -> u32 {
        // SAFETY: `ptr` is live (type invariant); the helper only reads the count.
        unsafe { vchiq_sim_hw_dev_refs(self.ptr.as_ptr()) }
    }

    /// The platform device, while it is registered.
    pub(crate) fn dev(&self) -> Option<Dev> {
        // SAFETY: `ptr` is live (type invariant).
        let raw = unsafe { vchiq_sim_hw_dev(self.ptr.as_ptr()) };
        // INVARIANT: the device is registered; see `Dev`.
        NonNull::new(raw).map(|ptr| Dev { ptr })
    }
}

/// The platform device's `struct device`, as the DMA master the ARM side allocates against.
///
/// # Invariants
///
/// `ptr` is a registered device. A `Dev` is only used while the core is bound to it (the
/// simulator drops everything that holds one in the device-managed detach action, or before
/// unregistering the device).
#[derive(Clone, Copy)]
pub(crate) struct Dev {
    ptr: NonNull<RawDevice>,
}

// SAFETY: the functions called on the device are safe from any thread.
unsafe impl Send for Dev {}
// SAFETY: a `&Dev` reaches the device only through `vchiq_sim_bus_copy`, `vchiq_sim_vmap`
// and `vchiq_sim_add_detach_action`, which keep no state of their own and use only calls the
// kernel allows concurrently on one device (page translation, `kmap_local_page`, `vmap`,
// devres); two threads may make them at once.
unsafe impl Sync for Dev {}

impl Dev {
    /// For the KUnit suite: a device whose bus addresses are physical addresses.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn for_test() -> Self {
        // SAFETY: the C side returns a static device.
        let raw = unsafe { vchiq_sim_test_dev() };
        // INVARIANT: a static device without DMA ranges, used only for bus copies.
        Self {
            ptr: NonNull::new(raw).unwrap_or(NonNull::dangling()),
        }
    }

    /// For the KUnit suite: the bus address of lowmem kernel memory (kmalloc).
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn test_bus(va: *const u8) -> u32 {
        // SAFETY: `virt_to_phys` only computes; the callers pass kmalloc memory.
        unsafe { vchiq_sim_test_bus(va.cast()) }
    }

    /// Makes the core's unbinding detach the simulator (see `sim_glue.c`).
    ///
    /// # Safety
    ///
    /// `ctx` must stay a valid `Sim` until the device is unregistered.
    pub(crate) unsafe fn add_detach_action(&self, ctx: *const c_void) -> Result {
        // SAFETY: `ptr` is a registered device (type invariant); the caller guarantees `ctx`.
        to_result(unsafe { vchiq_sim_add_detach_action(self.ptr.as_ptr(), ctx.cast_mut()) })
    }

    /// Copies ARM memory at bus address `bus` into `buf`.
    pub(crate) fn read_bus(&self, bus: u32, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is valid for writes of its length; `ptr` is a registered device.
        to_result(unsafe {
            vchiq_sim_bus_copy(
                self.ptr.as_ptr(),
                bus,
                buf.as_mut_ptr().cast(),
                buf.len(),
                false,
            )
        })
    }

    /// Copies `buf` into ARM memory at bus address `bus`.
    pub(crate) fn write_bus(&self, bus: u32, buf: &[u8]) -> Result {
        // SAFETY: `buf` is valid for reads of its length and the C side only reads it when
        // `to_bus` is true; `ptr` is a registered device.
        to_result(unsafe {
            vchiq_sim_bus_copy(
                self.ptr.as_ptr(),
                bus,
                buf.as_ptr().cast_mut().cast(),
                buf.len(),
                true,
            )
        })
    }
}

/// A kernel mapping of ARM memory, made from its bus address.
///
/// # Invariants
///
/// `va` is a `vmap` mapping of at least `size` bytes, owned by this value.
pub(crate) struct Mapping {
    va: NonNull<u8>,
    size: u32,
}

// SAFETY: the mapping is a plain kernel virtual range; vunmap may run on any thread.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `size` bytes at bus address `bus`.
    ///
    /// # Errors
    ///
    /// `EFAULT` if a page is not RAM the simulator may touch, or the mapping failed.
    pub(crate) fn new(dev: &Dev, bus: u32, size: u32) -> Result<Self> {
        // SAFETY: `dev.ptr` is a registered device (invariant of `Dev`).
        let va = unsafe { vchiq_sim_vmap(dev.ptr.as_ptr(), bus, size) };
        // INVARIANT: a non-NULL result maps `size` bytes.
        Ok(Self {
            va: NonNull::new(va.cast()).ok_or(EFAULT)?,
            size,
        })
    }

    /// Start of the mapping.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.va
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `va` is our own vmap mapping (type invariant), unmapped only here.
        unsafe { vchiq_sim_vunmap(self.va.as_ptr().cast()) }
    }
}
