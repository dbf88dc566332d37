// SPDX-License-Identifier: GPL-2.0

//! The VCHIQ protocol engine, compiled into the simulator from the very sources that the host
//! tests, property tests, fuzzing and loom models exercise (`../vchiq-core/engine/src/`, see
//! `Documentation/engine.md`). Like `vchiq-core/engine.rs`, this file mirrors
//! `engine/src/lib.rs`; it is a separate mirror because the VideoCore role needs items the
//! ARM-side driver does not re-export (bulk directions and results, message references,
//! statistics, service states), and because the core's copy changes with the core.

// The engine is a library: the simulator does not use all of it.
#![allow(dead_code, unreachable_pub, unused_imports)]
// `engine::engine`: the file names of the shared sources.
#![allow(clippy::module_inception)]
#![deny(unsafe_code)]

#[path = "../vchiq-core/engine/src/bulk.rs"]
mod bulk;
#[path = "../vchiq-core/engine/src/engine.rs"]
mod engine;
#[path = "../vchiq-core/engine/src/error.rs"]
mod error;
#[path = "../vchiq-core/engine/src/event.rs"]
mod event;
#[path = "../vchiq-core/engine/src/layout.rs"]
mod layout;
#[path = "../vchiq-core/engine/src/lifecycle.rs"]
mod lifecycle;
#[path = "../vchiq-core/engine/src/msg.rs"]
mod msg;
#[path = "../vchiq-core/engine/src/output.rs"]
mod output;
#[path = "../vchiq-core/engine/src/quota.rs"]
mod quota;
#[path = "../vchiq-core/engine/src/recycle.rs"]
mod recycle;
#[path = "../vchiq-core/engine/src/rx.rs"]
mod rx;
#[path = "../vchiq-core/engine/src/service.rs"]
mod service;
#[path = "../vchiq-core/engine/src/shm.rs"]
mod shm;
#[path = "../vchiq-core/engine/src/transfer.rs"]
mod transfer;
#[path = "../vchiq-core/engine/src/tx.rs"]
mod tx;

pub(crate) use bulk::{BulkDir, BulkResult};
pub(crate) use engine::{Engine, RxSlot, Tables};
pub(crate) use error::Error;
pub(crate) use layout::{
    MAGIC, MAX_SLOTS, SLOT_SIZE, SLOT_ZERO_SIZE, SS_SLOT_FIRST, SS_SLOT_LAST, SS_SLOT_SYNC,
    SZ_MASTER, SZ_PLATFORM_DATA, SZ_SLAVE,
};
pub(crate) use msg::MAX_MSG_SIZE;
pub(crate) use output::{OutQueue, Output, Stall, Stats, Wait};
pub(crate) use quota::Quota;
pub(crate) use service::{Handle, ServerOptions, Service, ServiceParams, SrvState};
pub(crate) use shm::{Barrier, SharedMem};

/// Converts an engine error into the kernel error with the same errno.
pub(crate) fn to_kernel_err(e: Error) -> kernel::error::Error {
    // `to_errno` is already negative, as `from_errno` expects.
    kernel::error::Error::from_errno(e.to_errno())
}
