// SPDX-License-Identifier: GPL-2.0

//! The VCHIQ protocol engine, compiled into vchiq-core (and, through this file, into vchiq-sim
//! and vchiq-kunit) from the very sources that the host tests, property tests, fuzzing and
//! loom models exercise (`engine/src/`, see `Documentation/engine.rst`). This file mirrors
//! `engine/src/lib.rs`: the sources refer to each other only through `super::`, so they fit
//! under any parent module.

// The engine is a library: no one crate uses all of it.
#![allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    reason = "a library shared by three crates, none of which uses all of it"
)]
#![deny(unsafe_code)]
// `engine::engine` mirrors the engine crate's own layout.
#![allow(clippy::module_inception)]

#[path = "engine/src/bulk.rs"]
mod bulk;
#[path = "engine/src/engine.rs"]
mod engine;
#[path = "engine/src/error.rs"]
mod error;
#[path = "engine/src/event.rs"]
mod event;
#[path = "engine/src/layout.rs"]
mod layout;
#[path = "engine/src/lifecycle.rs"]
mod lifecycle;
#[path = "engine/src/msg.rs"]
mod msg;
#[path = "engine/src/output.rs"]
mod output;
#[path = "engine/src/pagelist.rs"]
mod pagelist;
#[path = "engine/src/quota.rs"]
mod quota;
#[path = "engine/src/ratelimit.rs"]
mod ratelimit;
#[path = "engine/src/recycle.rs"]
mod recycle;
#[path = "engine/src/rx.rs"]
mod rx;
#[path = "engine/src/service.rs"]
mod service;
#[path = "engine/src/shm.rs"]
mod shm;
#[path = "engine/src/transfer.rs"]
mod transfer;
#[path = "engine/src/tx.rs"]
mod tx;

// The union of what the driver (ARM role), the simulator (VPU role) and the KUnit suites use:
// this one file serves all three crates.
pub(crate) use bulk::{BulkDir, BulkResult, NUM_SERVICE_BULKS};
pub(crate) use engine::{Engine, RxSlot, Tables};
pub(crate) use error::Error;
pub(crate) use event::RemoteEvent;
pub(crate) use layout::{
    MAGIC, MAX_SLOTS, SLOT_SIZE, SLOT_ZERO_SIZE, SS_SLOT_FIRST, SS_SLOT_LAST, SS_SLOT_SYNC,
    SZ_MASTER, SZ_PLATFORM_DATA, SZ_SLAVE, VERSION, VERSION_MIN,
};
pub(crate) use msg::{MsgType, HEADER_SIZE, MAX_MSG_SIZE};
pub(crate) use output::{MsgRef, OutQueue, Output, Stall, Stats, Wait};
pub(crate) use pagelist::{
    encode_runs, needs_fragment, CacheLine, Chunk, Header, Kind, PagelistError, RunWalker, Split,
    FRAGMENTS, HEADER_SIZE as PAGELIST_HEADER_SIZE, PAGE_SIZE as PAGELIST_PAGE_SIZE,
};
pub(crate) use quota::Quota;
pub(crate) use ratelimit::log_nth;
pub(crate) use service::{Handle, ServerOptions, Service, ServiceParams, SrvState};
pub(crate) use shm::{Barrier, SharedMem};

/// Converts an engine error into the kernel error with the same errno.
pub(crate) fn to_kernel_err(e: Error) -> kernel::error::Error {
    // `to_errno` is already negative, as `from_errno` expects.
    kernel::error::Error::from_errno(e.to_errno())
}

/// Converts a pagelist codec error into the kernel error with the same errno.
pub(crate) fn pagelist_err(e: PagelistError) -> kernel::error::Error {
    // `to_errno` is already negative, as `from_errno` expects.
    kernel::error::Error::from_errno(e.to_errno())
}
