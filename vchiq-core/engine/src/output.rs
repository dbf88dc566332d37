// SPDX-License-Identifier: GPL-2.0

//! What the engine hands back to its caller: outputs, message references,
//! stall reasons and statistics.

use super::bulk::{BulkDir, BulkResult};
use super::layout::slot_offset;
use super::msg::{MsgType, HEADER_SIZE};
use super::service::Handle;

/// A received DATA message that is held until released.
///
/// The engine validates a reference on every use (slot range, slot epoch,
/// claimed flag), so a stale or forged reference yields an error, never a
/// wrong release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgRef {
    /// Absolute slot index holding the message.
    pub slot: u32,
    /// Offset of the header inside the slot.
    pub offset: u32,
    /// Payload size in bytes.
    pub size: u32,
    /// Slot epoch (rx sequence number of the slot, or the sync counter).
    pub epoch: u32,
    /// Local port the message was delivered to.
    pub port: u32,
}

impl MsgRef {
    /// Byte offset of the payload in shared memory.
    pub fn payload_offset(&self) -> u32 {
        slot_offset(self.slot)
            .wrapping_add(self.offset)
            .wrapping_add(HEADER_SIZE)
    }
}

/// Something the caller must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The peer's CONNECT arrived.
    Connected,
    /// A service is now open: a client's OPEN was acknowledged, or a server
    /// accepted a peer's OPEN.
    Opened {
        /// The service.
        handle: Handle,
        /// Version the peer announced.
        peer_version: u16,
        /// Client id (the opener's).
        client_id: u32,
    },
    /// The peer rejected our OPEN; the service has been freed.
    OpenRejected {
        /// The (now invalid) service handle.
        handle: Handle,
    },
    /// A DATA message for a service; release it with `Engine::release`.
    Data {
        /// The service.
        handle: Handle,
        /// The message.
        msg: MsgRef,
    },
    /// A service finished closing.  Clients are freed; servers listen again
    /// (or wait in CLOSEWAIT without auto-close).
    Closed {
        /// The service.
        handle: Handle,
    },
    /// A local bulk finished.
    BulkDone {
        /// The service.
        handle: Handle,
        /// Direction.
        dir: BulkDir,
        /// Caller's cookie given when queueing.
        cookie: u32,
        /// Outcome.
        result: BulkResult,
    },
    /// VPU role only: a local bulk and a peer request are paired; perform
    /// the copy (or abort on a size mismatch) and call
    /// `Engine::complete_bulk`.
    BulkTransfer {
        /// The service.
        handle: Handle,
        /// Direction seen from the VPU.
        dir: BulkDir,
        /// Cookie of the local bulk.
        cookie: u32,
        /// Size of the local bulk.
        size: u32,
        /// Bus address of the ARM's pagelist.
        pagelist: u32,
        /// Size the ARM requested.
        remote_size: u32,
    },
    /// A connection-level control message (PAUSE, RESUME, REMOTE_USE,
    /// REMOTE_RELEASE, REMOTE_USE_ACTIVE).
    Control(MsgType),
}

/// Capacity of the output queue.
pub const OUT_QUEUE_LEN: usize = 32;
/// Outputs a single received message can produce at most (a close with
/// eight aborted bulks plus the close itself).
pub const OUT_PER_MSG: usize = 9;

/// Fixed-capacity FIFO of outputs.
#[derive(Clone, Copy, Debug)]
pub struct OutQueue {
    // `pub(crate)` so that the kernel crate can initialise a queue in place.
    /// Ring of queued outputs.
    pub(crate) buf: [Option<Output>; OUT_QUEUE_LEN],
    /// Index of the oldest entry.
    pub(crate) head: usize,
    /// Number of entries.
    pub(crate) len: usize,
}

impl OutQueue {
    /// Empty queue.
    pub const EMPTY: OutQueue = OutQueue {
        buf: [None; OUT_QUEUE_LEN],
        head: 0,
        len: 0,
    };

    /// Empties the queue in place.
    pub fn clear(&mut self) {
        for e in self.buf.iter_mut() {
            *e = None;
        }
        self.head = 0;
        self.len = 0;
    }

    /// Free entries.
    pub fn room(&self) -> usize {
        OUT_QUEUE_LEN.saturating_sub(self.len)
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends; `false` if full.
    pub fn push(&mut self, o: Output) -> bool {
        if self.len >= OUT_QUEUE_LEN {
            return false;
        }
        let at = self.head.wrapping_add(self.len) % OUT_QUEUE_LEN;
        match self.buf.get_mut(at) {
            Some(e) => *e = Some(o),
            None => return false,
        }
        self.len = self.len.wrapping_add(1);
        true
    }

    /// Removes the oldest.
    pub fn pop(&mut self) -> Option<Output> {
        if self.len == 0 {
            return None;
        }
        let o = self.buf.get_mut(self.head).and_then(|e| e.take());
        self.head = self.head.wrapping_add(1) % OUT_QUEUE_LEN;
        self.len = self.len.wrapping_sub(1);
        o
    }
}

/// Why the last operation returned [`super::error::Error::WouldBlock`], and
/// so what to wait for before retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// Nothing is stalled.
    None,
    /// Out of transmit slots: wait for the recycle event.
    Slots,
    /// Global data-slot quota exhausted: wait for the recycle event.
    DataQuota,
    /// The service's message or slot quota is exhausted: wait for the
    /// recycle event.
    ServiceQuota,
    /// Four bulks outstanding in that direction: wait for the trigger event
    /// (a DONE) or, on the VPU, for a local completion.
    Bulk,
    /// The sync slot is still in use by the peer: wait for the sync-release
    /// event.
    Sync,
    /// The output queue is full: drain it with `Engine::poll`.
    Output,
}

/// The four events a side waits on (all in its own block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// New messages in the peer's stream.
    Trigger,
    /// The peer returned transmit slots.
    Recycle,
    /// The peer put a message into its sync slot.
    SyncTrigger,
    /// The peer consumed our sync message.
    SyncRelease,
}

impl Wait {
    /// All four, in the order an interrupt handler polls them.
    pub const ALL: [Wait; 4] = [
        Wait::SyncTrigger,
        Wait::SyncRelease,
        Wait::Trigger,
        Wait::Recycle,
    ];

    /// Bit of this event in a mask.
    pub const fn bit(self) -> u8 {
        match self {
            Wait::Trigger => 1,
            Wait::Recycle => 2,
            Wait::SyncTrigger => 4,
            Wait::SyncRelease => 8,
        }
    }
}

/// Counters, for debugfs and rate-limited logging.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Protocol violations by the peer (each also skipped or refused).
    pub proto_errors: u32,
    /// Messages dropped because no matching service was in a suitable state
    /// (normal while a close is in flight).
    pub dropped: u32,
    /// Stalls for lack of transmit slots.
    pub slot_stalls: u32,
    /// Stalls on the global data quota.
    pub data_stalls: u32,
    /// Stalls on a service quota.
    pub quota_stalls: u32,
    /// Stalls on the bulk queue.
    pub bulk_stalls: u32,
    /// DATA messages sent.
    pub data_tx: u32,
    /// DATA messages delivered.
    pub data_rx: u32,
    /// Control messages sent.
    pub ctrl_tx: u32,
    /// Control messages received.
    pub ctrl_rx: u32,
    /// Times the peer had to be woken with the doorbell.
    pub doorbells: u32,
    /// Slots we handed back to the peer.
    pub slots_recycled: u32,
    /// Slots the peer handed back to us.
    pub slots_returned: u32,
}
