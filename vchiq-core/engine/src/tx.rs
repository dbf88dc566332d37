// SPDX-License-Identifier: GPL-2.0

//! Transmit path: slot claiming, framing, quotas, the sync slot and the
//! collection of recycled slots.

use super::engine::{at, Engine, Tables};
use super::error::{Error, Result};
use super::layout::{slot_offset, SLOT_MASK, SLOT_QUEUE_MASK, SLOT_SHIFT, SLOT_SIZE, SS_TX_POS};
use super::msg::{stride, MsgId, MsgType, HEADER_SIZE, MAX_MSG_SIZE};
use super::output::{Stall, Wait};
use super::recycle;
use super::service::{Handle, SrvState, MAX_SERVICES};
use super::shm::{Barrier, SharedMem};

/// Bit helpers for the 128-bit slot bitmaps.
pub(crate) fn bit_get(map: &[u32; 4], n: u32) -> bool {
    match map.get((n >> 5) as usize) {
        Some(w) => w & (1u32 << (n & 31)) != 0,
        None => false,
    }
}

/// Sets or clears bit `n`.
pub(crate) fn bit_set(map: &mut [u32; 4], n: u32, v: bool) {
    if let Some(w) = map.get_mut((n >> 5) as usize) {
        if v {
            *w |= 1u32 << (n & 31);
        } else {
            *w &= !(1u32 << (n & 31));
        }
    }
}
use core::ops::DerefMut;

impl<M: SharedMem, T: DerefMut<Target = Tables>> Engine<M, T> {
    /// Slot sequence number the next message of `stride` bytes ends in.
    fn end_seq(&self, stride: u32) -> u32 {
        self.tx_pos.wrapping_add(stride).wrapping_sub(1) >> SLOT_SHIFT
    }

    /// Writes a padding message covering the `room` bytes from `pos` to the
    /// end of the current slot.
    fn write_padding(&mut self, pos: u32, room: u32) {
        let off = slot_offset(self.tx_slot).wrapping_add(pos & SLOT_MASK);
        self.shm.store(off, 0);
        self.shm
            .store(off.wrapping_add(4), room.wrapping_sub(HEADER_SIZE));
    }

    /// Makes everything written so far visible to the peer and signals its
    /// trigger event.
    fn publish(&mut self) {
        // Write barrier: headers and payloads (and padding) must be visible
        // before the position that covers them; the peer reads messages up
        // to `tx_pos` as soon as it sees the new value.
        self.shm.barrier(Barrier::Write);
        self.shm.store(at(self.own, SS_TX_POS), self.tx_pos);
        self.signal_peer(Wait::Trigger);
    }

    /// Pads out a partially filled slot and publishes it, so the peer can
    /// finish and recycle it.  Used when a quota stalls on data that sits in
    /// the current slot, which would otherwise never be recycled.
    fn flush_partial(&mut self) {
        let used = self.tx_pos & SLOT_MASK;
        if used == 0 {
            return;
        }
        let room = SLOT_SIZE.wrapping_sub(used);
        self.write_padding(self.tx_pos, room);
        self.tx_pos = self.tx_pos.wrapping_add(room);
        self.publish();
    }

    /// Reserves `stride` bytes in the transmit stream, claiming a new slot
    /// if needed.  Returns the shared-memory offset of the header.
    fn reserve(&mut self, stride: u32) -> Result<u32> {
        if self.tx_broken {
            return Err(Error::Proto);
        }
        let mut pos = self.tx_pos;
        let used = pos & SLOT_MASK;
        if used != 0 {
            let room = SLOT_SIZE.wrapping_sub(used);
            if stride > room {
                // A message never crosses a slot boundary.
                self.write_padding(pos, room);
                pos = pos.wrapping_add(room);
                self.tx_pos = pos;
            }
        }
        if pos & SLOT_MASK == 0 {
            if self.tx_free == 0 {
                self.stats.slot_stalls = self.stats.slot_stalls.wrapping_add(1);
                // Publish any padding and kick the peer so that it drains
                // and recycles.
                self.publish();
                return self.would_block(Stall::Slots);
            }
            let qi = (pos >> SLOT_SHIFT) & SLOT_QUEUE_MASK;
            let slot = u32::from(self.tx_queue.get(qi as usize).copied().unwrap_or(0));
            if !self.own_slots.contains(slot) || bit_get(&self.tx_out, slot) {
                // Cannot happen: the mirror only holds validated numbers.
                self.tx_broken = true;
                return Err(Error::Proto);
            }
            self.tx_free = self.tx_free.wrapping_sub(1);
            bit_set(&mut self.tx_out, slot, true);
            self.tx_slot = slot;
        }
        self.tx_pos = pos.wrapping_add(stride);
        Ok(slot_offset(self.tx_slot).wrapping_add(pos & SLOT_MASK))
    }

    /// Writes a complete message at `off` (header offset).
    fn write_msg(&mut self, off: u32, id: MsgId, payload: &[u8], size: u32) {
        self.shm.copy_in(off.wrapping_add(HEADER_SIZE), payload);
        self.shm.store(off.wrapping_add(4), size);
        self.shm.store(off, id.0);
    }

    /// Queues a non-DATA message through the asynchronous slots, without
    /// blocking.
    pub(crate) fn queue_ctrl(&mut self, id: MsgId, payload: &[u8]) -> Result<()> {
        let size = u32::try_from(payload.len()).map_err(|_| Error::Inval)?;
        let stride = stride(size).ok_or(Error::Inval)?;
        let off = self.reserve(stride)?;
        self.write_msg(off, id, payload, size);
        self.stats.ctrl_tx = self.stats.ctrl_tx.wrapping_add(1);
        self.publish();
        Ok(())
    }

    /// Sends a connection-level control message (PAUSE, RESUME,
    /// REMOTE_USE, REMOTE_RELEASE or REMOTE_USE_ACTIVE).
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] for other types; [`Error::WouldBlock`] when out of
    /// slots.
    pub fn send_control(&mut self, ty: MsgType) -> Result<()> {
        match ty {
            MsgType::Pause
            | MsgType::Resume
            | MsgType::RemoteUse
            | MsgType::RemoteRelease
            | MsgType::RemoteUseActive => self.queue_ctrl(MsgId::new(ty, 0, 0), &[]),
            _ => Err(Error::Inval),
        }
    }

    /// Sends a DATA message on an open service.
    ///
    /// On an asynchronous service the message goes through the slots and is
    /// subject to the quotas; on a synchronous one it goes through the sync
    /// slot.  Never blocks: on [`Error::WouldBlock`], [`Engine::stall`] says
    /// which event to wait for.
    ///
    /// # Errors
    ///
    /// [`Error::BadHandle`], [`Error::Inval`] (too large, service not open),
    /// [`Error::Closed`] (closing), [`Error::WouldBlock`].
    pub fn send_data(&mut self, h: Handle, data: &[u8]) -> Result<()> {
        let idx = self.lookup(h)?;
        let srv = *self.srv(idx).ok_or(Error::BadHandle)?;
        if srv.closing {
            return Err(Error::Closed);
        }
        let size = u32::try_from(data.len()).map_err(|_| Error::Inval)?;
        if size > MAX_MSG_SIZE {
            return Err(Error::Inval);
        }
        // CAST: idx < MAX_SERVICES.
        let id = MsgId::new(MsgType::Data, idx as u32, u32::from(srv.remote_port));
        match srv.state {
            SrvState::Open => {}
            SrvState::OpenSync => return self.send_sync(id, data),
            SrvState::CloseSent | SrvState::CloseRecvd | SrvState::CloseWait => {
                return Err(Error::Closed)
            }
            _ => return Err(Error::Inval),
        }
        let stride = stride(size).ok_or(Error::Inval)?;
        let end = self.end_seq(stride);
        let cur_seq = self.tx_pos >> SLOT_SHIFT;
        let partial = self.tx_pos & SLOT_MASK != 0;
        if !self.data_quota.admits(end) {
            self.stats.data_stalls = self.stats.data_stalls.wrapping_add(1);
            if partial && self.data_quota.prev_seq == cur_seq {
                self.flush_partial();
            }
            return self.would_block(Stall::DataQuota);
        }
        let q = self
            .tables
            .quotas
            .get(idx)
            .copied()
            .ok_or(Error::BadHandle)?;
        if !q.admits(end) {
            self.stats.quota_stalls = self.stats.quota_stalls.wrapping_add(1);
            if partial && q.prev_seq == cur_seq {
                self.flush_partial();
            }
            return self.would_block(Stall::ServiceQuota);
        }
        let off = self.reserve(stride)?;
        self.write_msg(off, id, data, size);
        let seq = self.tx_pos.wrapping_sub(1) >> SLOT_SHIFT;
        self.data_quota.charge(seq);
        if let Some(q) = self.tables.quotas.get_mut(idx) {
            q.charge(seq);
        }
        self.stats.data_tx = self.stats.data_tx.wrapping_add(1);
        self.publish();
        Ok(())
    }

    /// Sends a DATA message from port `src` to port `dst` through our sync slot, whatever
    /// the services' states: a test peer's way to exercise the other side's sync receive
    /// path (a message for a port without a synchronous service is dropped there).
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] (too large, a port out of range), [`Error::WouldBlock`] while the
    /// sync slot is taken.
    pub fn send_sync_raw(&mut self, src: u32, dst: u32, data: &[u8]) -> Result<()> {
        if src >= MAX_SERVICES as u32 || dst >= MAX_SERVICES as u32 {
            return Err(Error::Inval);
        }
        self.send_sync(MsgId::new(MsgType::Data, src, dst), data)
    }

    /// Sends a message through our sync slot.
    pub(crate) fn send_sync(&mut self, id: MsgId, data: &[u8]) -> Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| Error::Inval)?;
        if size > MAX_MSG_SIZE {
            return Err(Error::Inval);
        }
        let hdr = slot_offset(self.own_slots.sync);
        // The slot is free once the peer has written PADDING into its
        // header (it signals our sync-release event afterwards, but the
        // header itself is the condition).
        if self.shm.load(hdr) != 0 {
            return self.would_block(Stall::Sync);
        }
        // Read barrier: our stores into the slot below must not be ordered
        // before the load that found it free.  (Stores are not speculated
        // past the control dependency on real CPUs; the barrier makes it
        // explicit and covers the host memory model.)
        self.shm.barrier(Barrier::Read);
        self.shm.copy_in(hdr.wrapping_add(HEADER_SIZE), data);
        self.shm.store(hdr.wrapping_add(4), size);
        // Write barrier: payload and size before the msgid that marks the
        // slot full, so a peer that looks at the msgid sees a complete
        // message.  (The signal's own barrier orders everything before
        // `fired` as well.)
        self.shm.barrier(Barrier::Write);
        self.shm.store(hdr, id.0);
        if id.ty() == Some(MsgType::Data) {
            self.stats.data_tx = self.stats.data_tx.wrapping_add(1);
        } else {
            self.stats.ctrl_tx = self.stats.ctrl_tx.wrapping_add(1);
        }
        self.signal_peer(Wait::SyncTrigger);
        Ok(())
    }

    /// Collects the slots the peer has handed back, releasing the quota of
    /// the messages they held.  Returns the number of slots recovered.
    ///
    /// # Errors
    ///
    /// [`Error::Proto`] if the peer returned more slots than it holds or a
    /// slot it does not hold; transmission stops for good in the latter
    /// case because the slot order can no longer be trusted.
    pub fn process_recycle(&mut self) -> Result<u32> {
        if self.tx_broken {
            return Err(Error::Proto);
        }
        let r = recycle::counter(&self.shm, self.own);
        let pending = r.wrapping_sub(self.recycle_seen);
        if pending == 0 {
            return Ok(0);
        }
        let taken = self.own_slots.count().wrapping_sub(self.tx_free);
        if pending > taken {
            self.proto();
            return Err(Error::Proto);
        }
        let mut n = 0;
        while n < pending {
            let seen = self.recycle_seen;
            let slot = recycle::entry(&self.shm, self.own, seen);
            let current = slot == self.tx_slot && self.tx_pos & SLOT_MASK != 0;
            if !self.own_slots.contains(slot) || !bit_get(&self.tx_out, slot) || current {
                self.proto();
                self.tx_broken = true;
                return Err(Error::Proto);
            }
            bit_set(&mut self.tx_out, slot, false);
            if let Some(q) = self.tx_queue.get_mut((seen & SLOT_QUEUE_MASK) as usize) {
                // CAST: slot < MAX_SLOTS = 128.
                *q = slot as u8;
            }
            self.recycle_seen = seen.wrapping_add(1);
            self.release_slot_quota(slot);
            self.tx_free = self.tx_free.wrapping_add(1);
            self.stats.slots_returned = self.stats.slots_returned.wrapping_add(1);
            n = n.wrapping_add(1);
        }
        Ok(n)
    }

    /// Scans a returned slot and releases the quota of the DATA messages in
    /// it.  The slot was written by us, but the peer could have scribbled
    /// on it, so every header is validated and counters never underflow.
    fn release_slot_quota(&mut self, slot: u32) {
        let base = slot_offset(slot);
        let mut seen = [0u32; 4];
        let mut any_data = false;
        let mut off = 0u32;
        while off < SLOT_SIZE {
            let id = MsgId(self.shm.load(base.wrapping_add(off)));
            let size = self.shm.load(base.wrapping_add(off).wrapping_add(4));
            let st = match stride(size) {
                Some(s) if off.wrapping_add(s) <= SLOT_SIZE => s,
                _ => {
                    self.proto();
                    break;
                }
            };
            if id.ty() == Some(MsgType::Data) {
                any_data = true;
                let port = id.src();
                let mut ok = (port as usize) < MAX_SERVICES;
                if let Some(q) = self.tables.quotas.get_mut(port as usize) {
                    ok &= q.release_msg();
                    if !bit_get(&seen, port) {
                        bit_set(&mut seen, port, true);
                        ok &= q.release_slot();
                    }
                }
                if !ok {
                    self.proto();
                }
            }
            off = off.wrapping_add(st);
        }
        if any_data && !self.data_quota.release() {
            self.proto();
        }
    }
}
