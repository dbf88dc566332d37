// SPDX-License-Identifier: GPL-2.0

//! The slot recycle handshake.
//!
//! When the receiver has finished with a slot of the sender's stream it
//! appends the slot number to the *sender's* `slot_queue` at the index held
//! in the sender's `slot_queue_recycle`, bumps that counter and signals the
//! sender's `recycle` event.  The receiver is the only writer of that counter
//! and keeps a private copy of it; the sender reads it as untrusted input.

use super::layout::{SLOT_QUEUE_MASK, SS_SLOT_QUEUE, SS_SLOT_QUEUE_RECYCLE};
use super::shm::{Barrier, SharedMem};

/// Offset of `slot_queue[idx & 63]` in the block at `block`.
pub fn queue_entry(block: u32, idx: u32) -> u32 {
    // Cannot overflow: block < 1288, index < 64.
    block
        .wrapping_add(SS_SLOT_QUEUE)
        .wrapping_add((idx & SLOT_QUEUE_MASK).wrapping_mul(4))
}

/// Receiver side: hands `slot` back to the sender whose block is at
/// `sender_block`.  `counter` is the receiver's private copy of the sender's
/// `slot_queue_recycle`.  The caller signals the sender's `recycle` event
/// afterwards (once per batch is enough).
pub fn publish<M: SharedMem + ?Sized>(shm: &M, sender_block: u32, counter: &mut u32, slot: u32) {
    // Full barrier: every load from the slot (message payloads that the
    // clients copied out, headers we parsed) must be complete before the
    // sender can learn that it may overwrite the slot.  A write barrier
    // would only order our stores; the hazard here is an earlier *load*
    // being satisfied late, after the sender already reused the slot.
    shm.barrier(Barrier::Full);
    shm.store(queue_entry(sender_block, *counter), slot);
    // Write barrier: the queue entry must be visible before the counter
    // that covers it.  Without it the sender can read the new counter, then
    // a stale entry, and reuse the wrong slot.
    shm.barrier(Barrier::Write);
    *counter = counter.wrapping_add(1);
    shm.store(sender_block.wrapping_add(SS_SLOT_QUEUE_RECYCLE), *counter);
}

/// Sender side: reads the recycle counter in its own block at `own_block`.
/// Entries from the caller's private `seen` index up to the returned value
/// are readable.  The caller must validate the distance.
pub fn counter<M: SharedMem + ?Sized>(shm: &M, own_block: u32) -> u32 {
    let r = shm.load(own_block.wrapping_add(SS_SLOT_QUEUE_RECYCLE));
    // Read barrier: the queue entries read next must not be satisfied
    // before the counter load, otherwise they could be older than the
    // counter value they are validated against (pairs with the write barrier
    // in `publish`).  Writes into the recycled slot are additionally ordered
    // after this load by the control dependency on its value.
    shm.barrier(Barrier::Read);
    r
}

/// Sender side: reads `slot_queue[idx & 63]` of its own block.
pub fn entry<M: SharedMem + ?Sized>(shm: &M, own_block: u32, idx: u32) -> u32 {
    shm.load(queue_entry(own_block, idx))
}
