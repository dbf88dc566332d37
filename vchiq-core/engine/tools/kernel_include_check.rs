// SPDX-License-Identifier: GPL-2.0

//! Build check (not part of the cargo build): includes the engine's source
//! files with `#[path]` inside another crate, exactly as the kernel module
//! will, and instantiates the generic engine so that the monomorphised code
//! can be inspected (e.g. for 64-bit division helpers on 32-bit ARM).
//!
//! `rustc --edition 2021 --crate-type lib -O --emit obj -C panic=abort \
//!     -o check.o tools/kernel_include_check.rs`

#![no_std]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

#[path = "../src/bulk.rs"]
#[allow(dead_code)]
mod bulk;
#[path = "../src/engine.rs"]
#[allow(dead_code)]
mod engine;
#[path = "../src/error.rs"]
#[allow(dead_code)]
mod error;
#[path = "../src/event.rs"]
#[allow(dead_code)]
mod event;
#[path = "../src/layout.rs"]
#[allow(dead_code)]
mod layout;
#[path = "../src/lifecycle.rs"]
#[allow(dead_code)]
mod lifecycle;
#[path = "../src/msg.rs"]
#[allow(dead_code)]
mod msg;
#[path = "../src/output.rs"]
#[allow(dead_code)]
mod output;
#[path = "../src/pagelist.rs"]
#[allow(dead_code)]
mod pagelist;
#[path = "../src/quota.rs"]
#[allow(dead_code)]
mod quota;
#[path = "../src/ratelimit.rs"]
#[allow(dead_code)]
mod ratelimit;
#[path = "../src/recycle.rs"]
#[allow(dead_code)]
mod recycle;
#[path = "../src/rx.rs"]
#[allow(dead_code)]
mod rx;
#[path = "../src/service.rs"]
#[allow(dead_code)]
mod service;
#[path = "../src/shm.rs"]
#[allow(dead_code)]
mod shm;
#[path = "../src/transfer.rs"]
#[allow(dead_code)]
mod transfer;
#[path = "../src/tx.rs"]
#[allow(dead_code)]
mod tx;

use engine::Engine;
use shm::{Barrier, SharedMem};

/// Volatile accesses through a raw pointer, standing in for the kernel's
/// coherent DMA allocation.
pub struct Raw {
    base: *mut u32,
    size: u32,
}

impl SharedMem for Raw {
    fn size(&self) -> u32 {
        self.size
    }
    fn load(&self, off: u32) -> u32 {
        if off % 4 != 0 || off >= self.size {
            return 0;
        }
        // SAFETY: `off` is aligned and in bounds of the buffer `base`
        // points to (caller of `check` guarantees `size` bytes).
        unsafe { self.base.add((off / 4) as usize).read_volatile() }
    }
    fn store(&self, off: u32, val: u32) {
        if off % 4 != 0 || off >= self.size {
            return;
        }
        // SAFETY: as in `load`.
        unsafe { self.base.add((off / 4) as usize).write_volatile(val) }
    }
    fn barrier(&self, kind: Barrier) {
        let o = match kind {
            Barrier::Read => core::sync::atomic::Ordering::Acquire,
            Barrier::Write => core::sync::atomic::Ordering::Release,
            Barrier::Full => core::sync::atomic::Ordering::SeqCst,
        };
        core::sync::atomic::fence(o);
    }
}

/// Exercises most of the API so that it gets compiled.
///
/// # Safety
///
/// `base` must point to `size` writable, 4-byte aligned bytes.
#[no_mangle]
pub unsafe extern "C" fn vchiq_check(base: *mut u32, size: u32, data: *const u8, len: usize) -> i32 {
    let shm = Raw { base, size };
    // SAFETY: the caller guarantees `data` points to `len` bytes.
    let payload = unsafe { core::slice::from_raw_parts(data, len) };
    // The kernel boxes the tables; here they live on the stack (this is only
    // a build check), borrowed by the engines as `&mut Tables`.
    let mut t1 = engine::Tables::EMPTY;
    let mut t2 = engine::Tables::EMPTY;
    let mut e = match Engine::init_arm(shm, &mut t1, [0, 64]) {
        Ok(e) => e,
        Err(err) => return err.to_errno(),
    };
    let _ = e.connect();
    let h = service::Handle(0x1001);
    let _ = e.send_data(h, payload);
    let _ = e.process_recycle();
    while let Ok(Some(o)) = e.poll() {
        if let output::Output::Data { msg, .. } = o {
            let _ = e.release(&msg);
        }
    }
    let _ = e.poll_sync();
    let _ = e.close_service(h);
    let _ = e.queue_bulk(h, bulk::BulkDir::Receive, 1, 2, 3);
    let mut e2 = match Engine::init_vpu(Raw { base, size }, &mut t2) {
        Ok(e) => e,
        Err(err) => return err.to_errno(),
    };
    let _ = e2.complete_bulk(h, bulk::BulkDir::Receive, bulk::BulkResult::Aborted);
    i32::from(e.take_doorbell())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
