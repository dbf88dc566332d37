// SPDX-License-Identifier: GPL-2.0

//! The kernel API of downstream's `vc_sm_knl.h`, for MMAL clients (bcm2835-codec, -isp,
//! -camera): `vc_sm_cma_import_dmabuf`, `vc_sm_cma_int_handle`, `vc_sm_cma_free`, exported
//! from `vcsm_glue.c` (EXPORT_SYMBOL_GPL), which calls the functions here. The handle is the
//! re-exported dma-buf, as downstream's; freeing it is dropping that reference.
//!
//! The API names no device, so it works on the VideoCore bound first ([`CURRENT`]): the one
//! module-wide value of the driver, set in probe and cleared at unbind.

use crate::buffer::Buffer;
use crate::smem::Smem;
use crate::sys::{DmaBuf, ForeignDmaBuf};
use core::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Arc;

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's init, before the driver is registered.
    pub(crate) unsafe(uninit) static CURRENT: Mutex<Option<Arc<Smem>>> = None;
}

/// Makes `smem` the VideoCore of the API, unless one is already.
pub(crate) fn bind(smem: &Arc<Smem>) {
    let mut cur = CURRENT.lock();
    if cur.is_none() {
        *cur = Some(smem.clone());
    }
}

/// Forgets `smem` if it is the API's.
pub(crate) fn unbind(smem: &Arc<Smem>) {
    let mut cur = CURRENT.lock();
    if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, smem)) {
        *cur = None;
    }
}

/// `vc_sm_cma_import_dmabuf`: imports `src` and returns the re-exported dma-buf (one
/// reference, the caller's) through `handle`.
///
/// # Safety
///
/// `src` must be a live dma-buf and `handle` valid for a write (the C caller's contract).
#[no_mangle]
unsafe extern "C" fn vcsm_rs_import_dmabuf(src: *mut c_void, handle: *mut *mut c_void) -> c_int {
    let smem = CURRENT.lock().clone();
    let Some(smem) = smem else {
        return ENODEV.to_errno();
    };
    // SAFETY: the function's contract.
    let src = match unsafe { ForeignDmaBuf::from_raw(src) } {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    match smem.import(&src) {
        Ok((dmabuf, _, _)) => {
            // SAFETY: the function's contract; the reference goes to the caller.
            unsafe { handle.write(dmabuf.into_raw()) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `vc_sm_cma_int_handle`: the VideoCore's handle of the buffer behind `owner` (the dma-buf's
/// owner, found by the C side), 0 if it has none.
///
/// # Safety
///
/// `owner` must be the owner pointer of a live vc-sm-cma dma-buf.
#[no_mangle]
unsafe extern "C" fn vcsm_rs_vc_handle(owner: *mut c_void) -> u32 {
    // SAFETY: the dma-buf holds the `Arc<Buffer>` `owner` while it lives (the contract).
    let buf = unsafe { <Arc<Buffer> as kernel::types::ForeignOwnable>::borrow(owner) };
    buf.smem.vc_handle(buf.kernel_id).unwrap_or(0)
}

impl DmaBuf {
    /// Gives the reference to a C caller.
    fn into_raw(self) -> *mut c_void {
        let p = self.as_raw();
        core::mem::forget(self);
        p
    }
}
