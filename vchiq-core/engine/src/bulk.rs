// SPDX-License-Identifier: GPL-2.0

//! Per-service, per-direction bulk queues.
//!
//! On the ARM (slave) only the local queue is used: each queued bulk sends a
//! BULK_RX/BULK_TX request and the VPU's DONE messages complete them strictly
//! in FIFO order.  On the VPU (master) the local queue holds the VPU's own
//! transfers and the remote queue holds the ARM's requests; the heads of the
//! two are paired in order, exactly one pair at a time.

/// Outstanding bulks per service and direction.
pub const NUM_SERVICE_BULKS: u32 = 4;

/// Direction of a bulk transfer, seen from the local side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkDir {
    /// Local data goes to the peer.
    Transmit,
    /// Peer data comes into a local buffer.
    Receive,
}

/// How a bulk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkResult {
    /// Completed; the peer reported this many bytes.
    Done(u32),
    /// Aborted (by a close, a size mismatch, or the peer).
    Aborted,
}

/// One bulk record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkRec {
    /// Caller's cookie (local) or pagelist bus address (remote request).
    pub data: u32,
    /// Transfer size in bytes.
    pub size: u32,
}

impl BulkRec {
    const EMPTY: BulkRec = BulkRec { data: 0, size: 0 };
}

/// A fixed ring of [`NUM_SERVICE_BULKS`] records with free-running indices.
///
/// # Invariants
///
/// `insert - remove <= NUM_SERVICE_BULKS` (wrapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkRing {
    recs: [BulkRec; NUM_SERVICE_BULKS as usize],
    insert: u32,
    remove: u32,
}

impl BulkRing {
    /// An empty ring.
    pub const EMPTY: BulkRing = BulkRing {
        recs: [BulkRec::EMPTY; NUM_SERVICE_BULKS as usize],
        insert: 0,
        remove: 0,
    };

    /// Number of records queued.
    pub fn len(&self) -> u32 {
        self.insert.wrapping_sub(self.remove)
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring is full.
    pub fn is_full(&self) -> bool {
        self.len() >= NUM_SERVICE_BULKS
    }

    fn slot(idx: u32) -> usize {
        // CAST: masked to 0..4.
        (idx % NUM_SERVICE_BULKS) as usize
    }

    /// Appends a record; `false` if full.
    pub fn push(&mut self, rec: BulkRec) -> bool {
        if self.is_full() {
            return false;
        }
        match self.recs.get_mut(Self::slot(self.insert)) {
            Some(r) => *r = rec,
            None => return false,
        }
        // INVARIANT: checked not full above.
        self.insert = self.insert.wrapping_add(1);
        true
    }

    /// The oldest record.
    pub fn peek(&self) -> Option<BulkRec> {
        if self.is_empty() {
            return None;
        }
        self.recs.get(Self::slot(self.remove)).copied()
    }

    /// Removes and returns the oldest record.
    pub fn pop(&mut self) -> Option<BulkRec> {
        let r = self.peek()?;
        self.remove = self.remove.wrapping_add(1);
        Some(r)
    }

    /// Drops all records.
    pub fn clear(&mut self) {
        self.remove = self.insert;
    }
}

/// Bulk state of one direction of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkQueue {
    /// Local transfers (ARM: requests sent, awaiting DONE; VPU: own side).
    pub local: BulkRing,
    /// Peer requests (VPU only).
    pub remote: BulkRing,
    /// VPU only: the heads of both rings are handed to the caller as a
    /// transfer and are awaiting completion.
    pub in_transfer: bool,
}

impl BulkQueue {
    /// Empty queues.
    pub const EMPTY: BulkQueue = BulkQueue {
        local: BulkRing::EMPTY,
        remote: BulkRing::EMPTY,
        in_transfer: false,
    };
}
