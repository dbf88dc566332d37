// SPDX-License-Identifier: GPL-2.0

//! Slot zero and the per-side shared state: the exact firmware ABI.
//!
//! The `repr(C)` structures below are never instantiated by the engine (it
//! accesses shared memory only through [`super::shm::SharedMem`] at offsets);
//! they exist so that the compiler computes the offsets, and the constant
//! assertions pin every offset and size to the values the firmware expects.

use core::mem::{offset_of, size_of};

/// Slot-zero magic, `'VCHI'` packed first-character-highest.
pub const MAGIC: u32 = 0x5643_4849;
/// Protocol version implemented.
pub const VERSION: u16 = 8;
/// Oldest protocol version we interoperate with.
pub const VERSION_MIN: u16 = 3;
/// Version from which synchronous services are allowed.
pub const VERSION_SYNCHRONOUS_MODE: u16 = 8;
/// Bytes per slot.
pub const SLOT_SIZE: u32 = 4096;
/// log2 of [`SLOT_SIZE`].
pub const SLOT_SHIFT: u32 = 12;
/// Mask for the offset inside a slot.
pub const SLOT_MASK: u32 = SLOT_SIZE - 1;
/// Number of entries of the slot-info array (and the largest slot index + 1).
pub const MAX_SLOTS: u32 = 128;
/// Length of each side's slot queue ring.
pub const MAX_SLOTS_PER_SIDE: u32 = 64;
/// Mask for indices into a slot queue ring.
pub const SLOT_QUEUE_MASK: u32 = MAX_SLOTS_PER_SIDE - 1;
/// Number of entries of the shared debug array (layout relevant).
pub const DEBUG_ENTRIES: u32 = 11;

/// A remote event as laid out in shared memory.
#[repr(C)]
#[allow(dead_code)]
pub(crate) struct RemoteEventRepr {
    armed: i32,
    fired: i32,
    unused: u32,
}

/// One side's shared state block.
#[repr(C)]
#[allow(dead_code)]
pub(crate) struct SharedStateRepr {
    initialised: i32,
    slot_first: i32,
    slot_last: i32,
    slot_sync: i32,
    trigger: RemoteEventRepr,
    tx_pos: i32,
    recycle: RemoteEventRepr,
    slot_queue_recycle: i32,
    sync_trigger: RemoteEventRepr,
    sync_release: RemoteEventRepr,
    slot_queue: [i32; MAX_SLOTS_PER_SIDE as usize],
    debug: [i32; DEBUG_ENTRIES as usize],
}

/// Shared per-slot bookkeeping (unused by both engines, but layout relevant).
#[repr(C)]
#[allow(dead_code)]
pub(crate) struct SlotInfoRepr {
    use_count: i16,
    release_count: i16,
}

/// Slot zero, at offset 0 of the shared buffer.
#[repr(C)]
#[allow(dead_code)]
pub(crate) struct SlotZeroRepr {
    magic: i32,
    version: i16,
    version_min: i16,
    slot_zero_size: i32,
    slot_size: i32,
    max_slots: i32,
    max_slots_per_side: i32,
    platform_data: [i32; 2],
    master: SharedStateRepr,
    slave: SharedStateRepr,
    slots: [SlotInfoRepr; MAX_SLOTS as usize],
}

// CAST: all offsets and sizes below are far below `u32::MAX`; the
// assertions check the exact values.
const fn u(v: usize) -> u32 {
    v as u32
}

/// Size of slot zero in bytes.
pub const SLOT_ZERO_SIZE: u32 = u(size_of::<SlotZeroRepr>());
/// Size of one shared state block.
pub const SHARED_STATE_SIZE: u32 = u(size_of::<SharedStateRepr>());

/// Slot-zero field offsets.
pub const SZ_MAGIC: u32 = u(offset_of!(SlotZeroRepr, magic));
/// Offset of the 32-bit word holding `version` (low half) and
/// `version_min` (high half).
pub const SZ_VERSIONS: u32 = u(offset_of!(SlotZeroRepr, version));
/// Offset of `slot_zero_size`.
pub const SZ_SLOT_ZERO_SIZE: u32 = u(offset_of!(SlotZeroRepr, slot_zero_size));
/// Offset of `slot_size`.
pub const SZ_SLOT_SIZE: u32 = u(offset_of!(SlotZeroRepr, slot_size));
/// Offset of `max_slots`.
pub const SZ_MAX_SLOTS: u32 = u(offset_of!(SlotZeroRepr, max_slots));
/// Offset of `max_slots_per_side`.
pub const SZ_MAX_SLOTS_PER_SIDE: u32 = u(offset_of!(SlotZeroRepr, max_slots_per_side));
/// Offset of `platform_data[0]`.
pub const SZ_PLATFORM_DATA: u32 = u(offset_of!(SlotZeroRepr, platform_data));
/// Offset of the master (VPU) block.
pub const SZ_MASTER: u32 = u(offset_of!(SlotZeroRepr, master));
/// Offset of the slave (ARM) block.
pub const SZ_SLAVE: u32 = u(offset_of!(SlotZeroRepr, slave));
/// Offset of the shared slot-info array.
pub const SZ_SLOTS: u32 = u(offset_of!(SlotZeroRepr, slots));

/// Shared-state field offsets, relative to the block.
pub const SS_INITIALISED: u32 = u(offset_of!(SharedStateRepr, initialised));
/// Offset of `slot_first`.
pub const SS_SLOT_FIRST: u32 = u(offset_of!(SharedStateRepr, slot_first));
/// Offset of `slot_last`.
pub const SS_SLOT_LAST: u32 = u(offset_of!(SharedStateRepr, slot_last));
/// Offset of `slot_sync`.
pub const SS_SLOT_SYNC: u32 = u(offset_of!(SharedStateRepr, slot_sync));
/// Offset of the `trigger` event.
pub const SS_TRIGGER: u32 = u(offset_of!(SharedStateRepr, trigger));
/// Offset of `tx_pos`.
pub const SS_TX_POS: u32 = u(offset_of!(SharedStateRepr, tx_pos));
/// Offset of the `recycle` event.
pub const SS_RECYCLE: u32 = u(offset_of!(SharedStateRepr, recycle));
/// Offset of `slot_queue_recycle`.
pub const SS_SLOT_QUEUE_RECYCLE: u32 = u(offset_of!(SharedStateRepr, slot_queue_recycle));
/// Offset of the `sync_trigger` event.
pub const SS_SYNC_TRIGGER: u32 = u(offset_of!(SharedStateRepr, sync_trigger));
/// Offset of the `sync_release` event.
pub const SS_SYNC_RELEASE: u32 = u(offset_of!(SharedStateRepr, sync_release));
/// Offset of `slot_queue[0]`.
pub const SS_SLOT_QUEUE: u32 = u(offset_of!(SharedStateRepr, slot_queue));
/// Offset of `debug[0]`.
pub const SS_DEBUG: u32 = u(offset_of!(SharedStateRepr, debug));

/// Remote-event field offsets.
pub const EV_ARMED: u32 = u(offset_of!(RemoteEventRepr, armed));
/// Offset of `fired`.
pub const EV_FIRED: u32 = u(offset_of!(RemoteEventRepr, fired));

// The ABI, pinned.  A change in any of these breaks the firmware.
const _: () = assert!(size_of::<RemoteEventRepr>() == 12);
const _: () = assert!(EV_ARMED == 0 && EV_FIRED == 4);
const _: () = assert!(size_of::<SlotInfoRepr>() == 4);
const _: () = assert!(SHARED_STATE_SIZE == 372);
const _: () = assert!(SS_INITIALISED == 0);
const _: () = assert!(SS_SLOT_FIRST == 4);
const _: () = assert!(SS_SLOT_LAST == 8);
const _: () = assert!(SS_SLOT_SYNC == 12);
const _: () = assert!(SS_TRIGGER == 16);
const _: () = assert!(SS_TX_POS == 28);
const _: () = assert!(SS_RECYCLE == 32);
const _: () = assert!(SS_SLOT_QUEUE_RECYCLE == 44);
const _: () = assert!(SS_SYNC_TRIGGER == 48);
const _: () = assert!(SS_SYNC_RELEASE == 60);
const _: () = assert!(SS_SLOT_QUEUE == 72);
const _: () = assert!(SS_DEBUG == 328);
const _: () = assert!(SZ_MAGIC == 0);
const _: () = assert!(SZ_VERSIONS == 4);
const _: () = assert!(u(offset_of!(SlotZeroRepr, version_min)) == 6);
const _: () = assert!(SZ_SLOT_ZERO_SIZE == 8);
const _: () = assert!(SZ_SLOT_SIZE == 12);
const _: () = assert!(SZ_MAX_SLOTS == 16);
const _: () = assert!(SZ_MAX_SLOTS_PER_SIDE == 20);
const _: () = assert!(SZ_PLATFORM_DATA == 24);
const _: () = assert!(SZ_MASTER == 32);
const _: () = assert!(SZ_SLAVE == 404);
const _: () = assert!(SZ_SLOTS == 776);
const _: () = assert!(SLOT_ZERO_SIZE == 1288);
const _: () = assert!(SLOT_ZERO_SIZE <= SLOT_SIZE);
const _: () = assert!(1u32 << SLOT_SHIFT == SLOT_SIZE);
// Slot sequence numbers wrap at 2^20 together with the 32-bit stream
// position; the slot queue index stays consistent only if the ring size
// divides 2^20.
const _: () = assert!((1u32 << 20) % MAX_SLOTS_PER_SIDE == 0);

/// Which half of slot zero a side owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The ARM host: allocates and initialises slot zero ("slave").
    Arm,
    /// The VideoCore: bulk master ("master").
    Vpu,
}

impl Role {
    /// Offset of this role's own shared block.
    pub const fn block(self) -> u32 {
        match self {
            Role::Arm => SZ_SLAVE,
            Role::Vpu => SZ_MASTER,
        }
    }

    /// The other role.
    pub const fn peer(self) -> Role {
        match self {
            Role::Arm => Role::Vpu,
            Role::Vpu => Role::Arm,
        }
    }
}

/// A side's slot assignment, validated.
///
/// # Invariants
///
/// `0 < sync < MAX_SLOTS`, `0 < first <= last < MAX_SLOTS`,
/// `2 <= last - first + 1 <= MAX_SLOTS_PER_SIDE`, `sync` outside
/// `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRange {
    /// First data slot (inclusive).
    pub first: u32,
    /// Last data slot (inclusive).
    pub last: u32,
    /// The sync slot.
    pub sync: u32,
}

impl SlotRange {
    /// Validates a slot assignment against a buffer of `mem_size` bytes.
    pub fn new(first: u32, last: u32, sync: u32, mem_size: u32) -> Option<SlotRange> {
        let slots_in_mem = mem_size >> SLOT_SHIFT;
        let limit = if slots_in_mem < MAX_SLOTS {
            slots_in_mem
        } else {
            MAX_SLOTS
        };
        if first == 0 || sync == 0 || first > last || last >= limit || sync >= limit {
            return None;
        }
        let count = last.checked_sub(first)?.checked_add(1)?;
        if !(2..=MAX_SLOTS_PER_SIDE).contains(&count) {
            return None;
        }
        if (first..=last).contains(&sync) {
            return None;
        }
        Some(SlotRange { first, last, sync })
    }

    /// Number of data slots.
    pub fn count(&self) -> u32 {
        // INVARIANT: first <= last and the difference is < 64.
        self.last.wrapping_sub(self.first).wrapping_add(1)
    }

    /// Whether `slot` is one of the data slots.
    pub fn contains(&self, slot: u32) -> bool {
        slot >= self.first && slot <= self.last
    }

    /// Whether the two assignments share any slot.
    pub fn overlaps(&self, other: &SlotRange) -> bool {
        let a_in_b = other.contains(self.sync) || other.sync == self.sync;
        let b_in_a = self.contains(other.sync);
        let ranges = self.first <= other.last && other.first <= self.last;
        a_in_b || b_in_a || ranges
    }
}

/// Byte offset of slot `slot`.  Callers pass validated indices
/// (`< MAX_SLOTS`), so the shift cannot overflow.
pub const fn slot_offset(slot: u32) -> u32 {
    (slot & (MAX_SLOTS - 1)) << SLOT_SHIFT
}
