// SPDX-License-Identifier: GPL-2.0

//! Sans-IO engine for the VCHIQ shared-memory protocol (version 8,
//! compatible down to 3), for both the ARM ("slave") and the VideoCore
//! ("master") role.
//!
//! This file holds only attributes, module declarations and re-exports so
//! that the kernel crate can include the other files with `#[path]` and
//! replicate it.

#![no_std]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
#![deny(unsafe_code)]

mod bulk;
mod engine;
mod error;
mod event;
mod layout;
mod lifecycle;
mod msg;
mod output;
mod pagelist;
mod quota;
mod ratelimit;
mod recycle;
mod rx;
mod service;
mod shm;
mod transfer;
mod tx;

pub use bulk::{BulkDir, BulkResult, NUM_SERVICE_BULKS};
pub use engine::{Engine, Tables};
pub use error::{Error, Result};
pub use event::RemoteEvent;
pub use layout::{
    Role, SlotRange, MAGIC, MAX_SLOTS, MAX_SLOTS_PER_SIDE, SHARED_STATE_SIZE, SLOT_SIZE,
    SLOT_ZERO_SIZE, SS_SLOT_QUEUE, SS_SLOT_QUEUE_RECYCLE, SS_TX_POS, SZ_MASTER, SZ_SLAVE, SZ_SLOTS,
    VERSION, VERSION_MIN,
};
pub use msg::{stride, MsgId, MsgType, OpenPayload, HEADER_SIZE, MAX_MSG_SIZE, MSGID_CLAIMED};
pub use output::{MsgRef, Output, Stall, Stats, Wait};
pub use pagelist::{
    encode_runs, needs_fragment, CacheLine, Chunk, Header, Kind, PagelistError, PlResult,
    RunWalker, Split, FRAGMENTS, HEADER_SIZE as PAGELIST_HEADER_SIZE, MAX_RUN_PAGES,
    PAGE_SIZE as PAGELIST_PAGE_SIZE,
};
pub use quota::Quota;
pub use ratelimit::log_nth;
pub use recycle::{counter as recycle_counter, entry as recycle_entry, publish as recycle_publish};
pub use service::{Handle, ServerOptions, ServiceParams, SrvState, MAX_SERVICES};
pub use shm::{Barrier, SharedMem};
