// SPDX-License-Identifier: GPL-2.0

//! Transmit quotas.
//!
//! Quotas are purely local accounting of our own transmit slots; nothing
//! about them travels on the wire.  A DATA message counts against its
//! service (message count, and number of slots it has data in) and against
//! the global data-slot quota until the peer recycles the slot holding it.

/// Per-port quota record.  Kept outside the service record so that the
/// accounting of messages still in flight survives the reuse of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Maximum number of slots holding data of this port.
    pub slot_quota: u16,
    /// Slots currently holding data of this port.
    pub slot_use: u16,
    /// Maximum number of messages in flight.
    pub msg_quota: u16,
    /// Messages in flight.
    pub msg_use: u16,
    /// Slot sequence number this port last wrote DATA into.
    pub prev_seq: u32,
}

impl Quota {
    /// An unused record.
    pub const EMPTY: Quota = Quota {
        slot_quota: 0,
        slot_use: 0,
        msg_quota: 0,
        msg_use: 0,
        prev_seq: u32::MAX,
    };

    /// Whether a message ending in slot sequence `end_seq` is admitted.
    pub fn admits(&self, end_seq: u32) -> bool {
        self.msg_use < self.msg_quota
            && (end_seq == self.prev_seq || self.slot_use < self.slot_quota)
    }

    /// Accounts a message written into slot sequence `seq`.
    pub fn charge(&mut self, seq: u32) {
        self.msg_use = self.msg_use.saturating_add(1);
        if seq != self.prev_seq {
            self.prev_seq = seq;
            self.slot_use = self.slot_use.saturating_add(1);
        }
    }

    /// Releases one message.  `false` if the count was already zero (the
    /// peer returned something we did not account).
    pub fn release_msg(&mut self) -> bool {
        match self.msg_use.checked_sub(1) {
            Some(v) => {
                self.msg_use = v;
                true
            }
            None => false,
        }
    }

    /// Releases one slot.  `false` if the count was already zero.
    pub fn release_slot(&mut self) -> bool {
        match self.slot_use.checked_sub(1) {
            Some(v) => {
                self.slot_use = v;
                true
            }
            None => false,
        }
    }
}

/// Global quota on slots that contain DATA, which keeps at least one slot
/// available for control messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataQuota {
    /// Maximum number of slots holding DATA.
    pub quota: u32,
    /// Slots currently holding DATA.
    pub used: u32,
    /// Slot sequence number DATA was last written into.
    pub prev_seq: u32,
}

impl DataQuota {
    /// Whether a message ending in `end_seq` is admitted.
    pub fn admits(&self, end_seq: u32) -> bool {
        end_seq == self.prev_seq || self.used < self.quota
    }

    /// Accounts DATA written into `seq`.
    pub fn charge(&mut self, seq: u32) {
        if seq != self.prev_seq {
            self.prev_seq = seq;
            self.used = self.used.saturating_add(1);
        }
    }

    /// Releases one data slot; `false` on underflow.
    pub fn release(&mut self) -> bool {
        match self.used.checked_sub(1) {
            Some(v) => {
                self.used = v;
                true
            }
            None => false,
        }
    }
}

/// Default slot quota for a side with `slots` data slots.
pub fn default_slot_quota(slots: u32) -> u16 {
    // CAST: slots <= 64.
    (slots / 2) as u16
}

/// Default message quota for a slot quota.
pub fn default_msg_quota(slot_quota: u16) -> u16 {
    let v = u32::from(slot_quota).saturating_mul(256);
    if v > 65535 {
        65535
    } else {
        // CAST: checked just above.
        v as u16
    }
}
