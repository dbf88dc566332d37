// SPDX-License-Identifier: GPL-2.0

//! The VCHIQ protocol engine, compiled into this module from the very sources that the host
//! tests, property tests, fuzzing and loom models exercise (`engine/src/`, see
//! `Documentation/engine.md`). This file mirrors `engine/src/lib.rs`: the sources refer to
//! each other only through `super::`, so they fit under any parent module.

// The engine is a library: this module does not use all of it (yet), and its `pub` items are
// re-exported below only as far as the driver needs them.
#![allow(dead_code, unreachable_pub, unused_imports)]
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
#[path = "engine/src/quota.rs"]
mod quota;
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

pub(crate) use bulk::{BulkDir, BulkResult};
pub(crate) use engine::{Engine, RxSlot, Tables};
pub(crate) use error::Error;
pub(crate) use event::RemoteEvent;
pub(crate) use msg::HEADER_SIZE;
pub(crate) use output::MsgRef;
pub(crate) use output::{OutQueue, Output, Wait};
pub(crate) use quota::Quota;
pub(crate) use service::Service;
pub(crate) use service::{Handle, ServerOptions, ServiceParams};
pub(crate) use shm::{Barrier, SharedMem};

/// Converts an engine error into the kernel error with the same errno.
pub(crate) fn to_kernel_err(e: Error) -> kernel::error::Error {
    // `to_errno` is already negative, as `from_errno` expects.
    kernel::error::Error::from_errno(e.to_errno())
}
