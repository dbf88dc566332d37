// SPDX-License-Identifier: GPL-2.0

//! Receive path: parsing the peer's stream, dispatching messages, claiming
//! and releasing DATA, recycling slots, and the peer's sync slot.

use super::engine::{at, Engine, Tables};
use super::error::{Error, Result};
use super::layout::{
    slot_offset, SLOT_MASK, SLOT_SHIFT, SLOT_SIZE, SS_TX_POS, SZ_VERSIONS, VERSION, VERSION_MIN,
};
use super::msg::{
    check_rx_header, stride, versions_compatible, MsgId, MsgType, OpenPayload, HEADER_SIZE,
    MAX_MSG_SIZE, MSGID_CLAIMED, MSGID_PADDING, OPEN_PAYLOAD_SIZE, PORT_FREE,
};
use super::output::{MsgRef, Output, Wait};
use super::recycle;
use super::service::{Handle, SrvState, MAX_SERVICES};
use super::shm::{Barrier, SharedMem};
use core::ops::DerefMut;

impl<M: SharedMem, T: DerefMut<Target = Tables>> Engine<M, T> {
    /// Returns the next output, parsing the peer's stream as needed.
    ///
    /// `Ok(None)` means there is nothing more to do until the next event.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if a reply to the current message could not be
    /// queued (wait for the recycle event, then poll again); [`Error::Proto`]
    /// if the peer's stream is corrupt (receiving has stopped for good).
    pub fn poll(&mut self) -> Result<Option<Output>> {
        if let Some(o) = self.tables.out.pop() {
            return Ok(Some(o));
        }
        while self.peer_initialised() && self.out_room() {
            if !self.parse_one()? {
                break;
            }
            if let Some(o) = self.tables.out.pop() {
                return Ok(Some(o));
            }
        }
        Ok(self.tables.out.pop())
    }

    /// Marks the stream broken.
    fn broken(&mut self) -> Result<bool> {
        self.proto();
        self.rx_broken = true;
        Err(Error::Proto)
    }

    /// Parses one message.  `Ok(false)` when the stream is drained.
    fn parse_one(&mut self) -> Result<bool> {
        if self.rx_broken {
            return Err(Error::Proto);
        }
        if self.rx_pos == self.rx_end {
            let end = self.shm.load(at(self.peer, SS_TX_POS));
            // Read barrier (acquire): message headers and payloads below
            // `end` were written before the peer published `end`; without
            // this our loads of them could be satisfied earlier and return
            // stale bytes.  (The reference driver relies on the barrier
            // after the trigger wait alone.)
            self.shm.barrier(Barrier::Read);
            let window = self.peer_slots.count() << SLOT_SHIFT;
            if end.wrapping_sub(self.rx_pos) > window {
                return self.broken();
            }
            self.rx_end = end;
            if end == self.rx_pos {
                return Ok(false);
            }
        }
        if !self.rx_in_slot {
            if self.rx_pos & SLOT_MASK != 0 {
                return self.broken();
            }
            let seq = self.rx_pos >> SLOT_SHIFT;
            let slot = recycle::entry(&self.shm, self.peer, seq);
            let free = matches!(self.tables.rx_info.get(slot as usize), Some(i) if !i.held);
            if !self.peer_slots.contains(slot) || !free {
                return self.broken();
            }
            if let Some(i) = self.tables.rx_info.get_mut(slot as usize) {
                i.use_count = 1;
                i.release_count = 0;
                i.epoch = seq;
                i.held = true;
            }
            self.rx_slot = slot;
            self.rx_in_slot = true;
        }
        let hdr = slot_offset(self.rx_slot).wrapping_add(self.rx_pos & SLOT_MASK);
        let id = MsgId(self.shm.load(hdr));
        let size = self.shm.load(hdr.wrapping_add(4));
        let st = match check_rx_header(self.rx_pos, size, self.rx_end) {
            Ok(s) => s,
            Err(_) => return self.broken(),
        };
        if let Err(e) = self.dispatch(id, size, hdr) {
            if e == Error::WouldBlock {
                self.rx_stalled = true;
            }
            return Err(e);
        }
        self.rx_stalled = false;
        self.rx_pos = self.rx_pos.wrapping_add(st);
        if self.rx_pos & SLOT_MASK == 0 {
            // Drop the parser's reference on the finished slot.
            self.rx_in_slot = false;
            let slot = self.rx_slot;
            self.release_ref(slot);
        }
        Ok(true)
    }

    /// Handles one message.  Must not change any state before the point
    /// where it can still fail with `WouldBlock`, because the message is
    /// parsed again on retry.
    fn dispatch(&mut self, id: MsgId, size: u32, hdr: u32) -> Result<()> {
        let ty = match id.ty() {
            Some(t) => t,
            None => {
                // Unknown type, or a claimed header in the stream.
                self.proto();
                return Ok(());
            }
        };
        if ty != MsgType::Data && ty != MsgType::Padding {
            self.stats.ctrl_rx = self.stats.ctrl_rx.wrapping_add(1);
        }
        match ty {
            MsgType::Padding => Ok(()),
            MsgType::Connect => {
                self.rx_connect();
                Ok(())
            }
            MsgType::Open => self.rx_open(id, size, hdr),
            MsgType::OpenAck => {
                self.rx_openack(id, size, hdr, false);
                Ok(())
            }
            MsgType::Close => self.rx_close(id),
            MsgType::Data => {
                self.rx_data(id, size, hdr);
                Ok(())
            }
            MsgType::BulkRx | MsgType::BulkTx => {
                self.rx_bulk_req(ty, id, size, hdr);
                Ok(())
            }
            MsgType::BulkRxDone | MsgType::BulkTxDone => {
                self.rx_bulk_done(ty, id, size, hdr);
                Ok(())
            }
            MsgType::Pause
            | MsgType::Resume
            | MsgType::RemoteUse
            | MsgType::RemoteRelease
            | MsgType::RemoteUseActive => {
                self.emit(Output::Control(ty));
                Ok(())
            }
        }
    }

    fn rx_connect(&mut self) {
        if self.conn_recvd {
            return;
        }
        if self.role == super::layout::Role::Arm {
            // The ARM takes the common version from slot zero, which the
            // firmware may have lowered.
            // CAST: low 16 bits hold `version`.
            let v = (self.shm.load(SZ_VERSIONS) & 0xffff) as u16;
            if v < VERSION_MIN {
                self.proto();
            }
            self.version_common = core::cmp::min(v, VERSION);
        }
        self.conn_recvd = true;
        self.emit(Output::Connected);
    }

    /// Looks up the local service a message is addressed to.
    fn by_port(&self, port: u32) -> Option<usize> {
        let idx = port as usize;
        match self.srv(idx) {
            Some(s) if s.state != SrvState::Free => Some(idx),
            _ => None,
        }
    }

    fn rx_open(&mut self, id: MsgId, size: u32, hdr: u32) -> Result<()> {
        let src = id.src();
        let reject = MsgId::new(MsgType::Close, 0, src);
        if size < OPEN_PAYLOAD_SIZE {
            self.proto();
            return self.queue_ctrl(reject, &[]);
        }
        let p0 = hdr.wrapping_add(HEADER_SIZE);
        let p = OpenPayload::from_words([
            self.shm.load(p0),
            self.shm.load(p0.wrapping_add(4)),
            self.shm.load(p0.wrapping_add(8)),
        ]);
        let found = self.tables.services.iter().position(|s| {
            s.server && s.state == SrvState::Listening && s.params.fourcc == p.fourcc
        });
        let idx = match found {
            Some(i) => i,
            None => return self.queue_ctrl(reject, &[]),
        };
        let srv = *self.srv(idx).ok_or(Error::Proto)?;
        let ours = (srv.params.version, srv.params.version_min);
        if !versions_compatible(ours, (p.version, p.version_min)) {
            return self.queue_ctrl(reject, &[]);
        }
        let sync = srv.opts.sync && self.version_common >= super::layout::VERSION_SYNCHRONOUS_MODE;
        // CAST: idx < MAX_SERVICES.
        let ack = MsgId::new(MsgType::OpenAck, idx as u32, src);
        let payload = srv.params.version.to_le_bytes();
        if sync {
            self.send_sync(ack, &payload)?;
        } else {
            self.queue_ctrl(ack, &payload)?;
        }
        if let Some(s) = self.srv_mut(idx) {
            s.state = if sync {
                SrvState::OpenSync
            } else {
                SrvState::Open
            };
            // CAST: src is a 12-bit port.
            s.remote_port = src as u16;
            s.client_id = p.client_id;
            s.peer_version = p.version;
            s.closing = false;
        }
        self.emit(Output::Opened {
            handle: Handle(srv.handle),
            peer_version: p.version,
            client_id: p.client_id,
        });
        Ok(())
    }

    pub(crate) fn rx_openack(&mut self, id: MsgId, size: u32, hdr: u32, via_sync: bool) {
        let idx = match self.by_port(id.dst()) {
            Some(i) if self.srv(i).map(|s| s.state) == Some(SrvState::Opening) => i,
            _ => {
                self.stats.dropped = self.stats.dropped.wrapping_add(1);
                return;
            }
        };
        // CAST: low 16 bits are the version.
        let pv = (self.shm.load(hdr.wrapping_add(HEADER_SIZE)) & 0xffff) as u16;
        let mut out = None;
        if let Some(s) = self.srv_mut(idx) {
            if size >= 2 {
                s.peer_version = pv;
            }
            // CAST: src is a 12-bit port.
            s.remote_port = id.src() as u16;
            s.state = if via_sync {
                SrvState::OpenSync
            } else {
                SrvState::Open
            };
            out = Some(Output::Opened {
                handle: Handle(s.handle),
                peer_version: s.peer_version,
                client_id: s.client_id,
            });
        }
        if let Some(o) = out {
            self.emit(o);
        }
    }

    fn rx_close(&mut self, id: MsgId) -> Result<()> {
        let (src, dst) = (id.src(), id.dst());
        let closable = |st: SrvState| {
            matches!(
                st,
                SrvState::Opening | SrvState::Open | SrvState::OpenSync | SrvState::CloseSent
            )
        };
        let mut target = self.by_port(dst).filter(|&i| {
            self.srv(i).is_some_and(|s| {
                if s.state == SrvState::Opening {
                    // A rejection always comes from port 0.  Anything else
                    // addressed to port 0 is the early CLOSE of a peer's
                    // own OPEN (handled below), not for us.
                    return src == 0;
                }
                closable(s.state) && (u32::from(s.remote_port) == src || s.remote_port == PORT_FREE)
            })
        });
        if target.is_none() && dst == 0 {
            // A CLOSE from a peer that never saw our OPENACK carries dst 0.
            // We may have sent our own CLOSE meanwhile (CLOSESENT): then this
            // is the answer to it.
            target = self.tables.services.iter().position(|s| {
                matches!(
                    s.state,
                    SrvState::Open | SrvState::OpenSync | SrvState::CloseSent
                ) && s.remote_port != PORT_FREE
                    && u32::from(s.remote_port) == src
            });
        }
        let idx = match target {
            Some(i) => i,
            None => {
                self.stats.dropped = self.stats.dropped.wrapping_add(1);
                return Ok(());
            }
        };
        let srv = *self.srv(idx).ok_or(Error::Proto)?;
        match srv.state {
            SrvState::Opening => {
                // Our OPEN was rejected.
                self.emit(Output::OpenRejected {
                    handle: Handle(srv.handle),
                });
                self.free_service(idx);
            }
            SrvState::Open | SrvState::OpenSync => {
                // CAST: idx < MAX_SERVICES.
                self.queue_ctrl(MsgId::new(MsgType::Close, idx as u32, src), &[])?;
                if let Some(s) = self.srv_mut(idx) {
                    s.closing = true;
                    s.state = SrvState::CloseRecvd;
                }
                if !self.keep_held_on_close {
                    self.release_held(idx);
                }
                self.complete_close(idx, false);
            }
            SrvState::CloseSent => self.complete_close(idx, true),
            _ => self.stats.dropped = self.stats.dropped.wrapping_add(1),
        }
        Ok(())
    }

    fn rx_data(&mut self, id: MsgId, size: u32, hdr: u32) {
        let port = id.dst();
        let handle = match self.by_port(port).and_then(|i| self.srv(i)) {
            Some(s) if s.state == SrvState::Open && u32::from(s.remote_port) == id.src() => {
                s.handle
            }
            _ => {
                self.stats.dropped = self.stats.dropped.wrapping_add(1);
                return;
            }
        };
        let slot = self.rx_slot;
        let epoch = match self.tables.rx_info.get_mut(slot as usize) {
            Some(i) => {
                i.use_count = i.use_count.wrapping_add(1);
                i.epoch
            }
            None => return,
        };
        self.shm.store(hdr, id.0 | MSGID_CLAIMED);
        self.stats.data_rx = self.stats.data_rx.wrapping_add(1);
        self.emit(Output::Data {
            handle: Handle(handle),
            msg: MsgRef {
                slot,
                offset: self.rx_pos & SLOT_MASK,
                size,
                epoch,
                port,
            },
        });
    }

    /// Drops one reference on a peer slot and recycles it when the last one
    /// is gone.
    pub(crate) fn release_ref(&mut self, slot: u32) {
        let done = match self.tables.rx_info.get_mut(slot as usize) {
            Some(i) if i.held && i.release_count < i.use_count => {
                i.release_count = i.release_count.wrapping_add(1);
                if i.release_count == i.use_count {
                    i.held = false;
                    true
                } else {
                    false
                }
            }
            _ => {
                self.proto();
                false
            }
        };
        if done {
            recycle::publish(&self.shm, self.peer, &mut self.peer_recycle, slot);
            self.stats.slots_recycled = self.stats.slots_recycled.wrapping_add(1);
            self.signal_peer(Wait::Recycle);
        }
    }

    /// Validates a message reference; returns whether it is a sync message.
    fn check_ref(&self, m: &MsgRef) -> Result<bool> {
        if m.slot == self.peer_slots.sync {
            if self.sync_rx.held && m.epoch == self.sync_rx.epoch && m.offset == 0 {
                return Ok(true);
            }
            return Err(Error::Inval);
        }
        if !self.peer_slots.contains(m.slot) || m.offset & 7 != 0 || m.offset >= SLOT_SIZE {
            return Err(Error::Inval);
        }
        match self.tables.rx_info.get(m.slot as usize) {
            Some(i) if i.held && i.epoch == m.epoch => {}
            _ => return Err(Error::Inval),
        }
        if !fits_at(m.size, m.offset) {
            return Err(Error::Inval);
        }
        Ok(false)
    }

    /// Copies the payload of a held message into `buf`; returns the number
    /// of bytes copied (at most the message size).
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] for a stale or invalid reference.
    pub fn read(&self, m: &MsgRef, buf: &mut [u8]) -> Result<usize> {
        self.check_ref(m)?;
        let n = core::cmp::min(m.size as usize, buf.len());
        let dst = buf.get_mut(..n).ok_or(Error::Inval)?;
        self.shm.copy_out(m.payload_offset(), dst);
        Ok(n)
    }

    /// Releases a held message.
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] for a stale, forged or already released reference.
    pub fn release(&mut self, m: &MsgRef) -> Result<()> {
        if self.check_ref(m)? {
            self.release_sync_rx();
            return Ok(());
        }
        let hdr = slot_offset(m.slot).wrapping_add(m.offset);
        let id = MsgId(self.shm.load(hdr));
        if !id.is_claimed() || id.dst() != m.port {
            return Err(Error::Inval);
        }
        self.shm.store(hdr, id.0 & !MSGID_CLAIMED);
        self.release_ref(m.slot);
        Ok(())
    }

    /// Releases all messages of service `idx` still held by its client.
    pub(crate) fn release_held(&mut self, idx: usize) {
        // CAST: idx < MAX_SERVICES.
        let port = idx as u32;
        if self.sync_rx.held && self.sync_rx.port == port {
            self.release_sync_rx();
        }
        let r = self.peer_slots;
        let mut slot = r.first;
        while slot <= r.last {
            let held = self
                .tables
                .rx_info
                .get(slot as usize)
                .is_some_and(|i| i.held);
            if held {
                self.release_held_in(slot, port);
            }
            slot = slot.wrapping_add(1);
        }
    }

    fn release_held_in(&mut self, slot: u32, port: u32) {
        let end = if self.rx_in_slot && slot == self.rx_slot {
            self.rx_pos & SLOT_MASK
        } else {
            SLOT_SIZE
        };
        let base = slot_offset(slot);
        let mut off = 0u32;
        while off < end {
            let hdr = base.wrapping_add(off);
            let id = MsgId(self.shm.load(hdr));
            let size = self.shm.load(hdr.wrapping_add(4));
            let st = match stride(size) {
                Some(s) if off.wrapping_add(s) <= SLOT_SIZE => s,
                _ => {
                    self.proto();
                    return;
                }
            };
            if id.is_claimed() && id.dst() == port {
                self.shm.store(hdr, id.0 & !MSGID_CLAIMED);
                let last = self
                    .tables
                    .rx_info
                    .get(slot as usize)
                    .is_some_and(|i| i.release_count.wrapping_add(1) == i.use_count);
                self.release_ref(slot);
                if last {
                    return;
                }
            }
            off = off.wrapping_add(st);
        }
    }

    /// Hands the peer's sync slot back.
    fn release_sync_rx(&mut self) {
        self.sync_rx.held = false;
        let hdr = slot_offset(self.peer_slots.sync);
        // Full barrier: our loads of the sync payload must complete before
        // the peer can see the slot as free and overwrite it.
        self.shm.barrier(Barrier::Full);
        self.shm.store(hdr, MSGID_PADDING);
        self.signal_peer(Wait::SyncRelease);
    }

    /// Handles the peer's sync slot (on the sync-trigger event).
    ///
    /// A message is present when the header's msgid is not PADDING and we
    /// do not hold it already; the sender writes the msgid last.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] if the output queue is full.
    pub fn poll_sync(&mut self) -> Result<Option<Output>> {
        if self.sync_rx.held || !self.peer_ready {
            return Ok(self.tables.out.pop());
        }
        if !self.out_room() {
            return self.would_block(super::output::Stall::Output);
        }
        let hdr = slot_offset(self.peer_slots.sync);
        let id = MsgId(self.shm.load(hdr));
        if id.0 == MSGID_PADDING {
            return Ok(self.tables.out.pop());
        }
        // Read barrier: size and payload were written before the msgid.
        self.shm.barrier(Barrier::Read);
        let size = self.shm.load(hdr.wrapping_add(4));
        if size > MAX_MSG_SIZE {
            self.proto();
            self.release_sync_rx();
            return Ok(None);
        }
        match id.ty() {
            Some(MsgType::OpenAck) => {
                self.stats.ctrl_rx = self.stats.ctrl_rx.wrapping_add(1);
                self.rx_openack(id, size, hdr, true);
                self.release_sync_rx();
            }
            Some(MsgType::Data) => {
                let port = id.dst();
                let handle = match self.by_port(port).and_then(|i| self.srv(i)) {
                    Some(s)
                        if s.state == SrvState::OpenSync
                            && u32::from(s.remote_port) == id.src() =>
                    {
                        s.handle
                    }
                    _ => {
                        // Release unmatched messages so the peer's sync
                        // channel does not stall forever.
                        self.stats.dropped = self.stats.dropped.wrapping_add(1);
                        self.release_sync_rx();
                        return Ok(self.tables.out.pop());
                    }
                };
                self.sync_rx.held = true;
                self.sync_rx.port = port;
                self.sync_rx.epoch = self.sync_rx.epoch.wrapping_add(1);
                self.stats.data_rx = self.stats.data_rx.wrapping_add(1);
                self.emit(Output::Data {
                    handle: Handle(handle),
                    msg: MsgRef {
                        slot: self.peer_slots.sync,
                        offset: 0,
                        size,
                        epoch: self.sync_rx.epoch,
                        port,
                    },
                });
            }
            _ => {
                self.proto();
                self.release_sync_rx();
            }
        }
        Ok(self.tables.out.pop())
    }

    /// Frees a service record.
    pub(crate) fn free_service(&mut self, idx: usize) {
        if let Some(s) = self.srv_mut(idx) {
            *s = super::service::Service::EMPTY;
        }
    }
}

/// Whether a message with a `size`-byte payload fits in its slot at
/// `offset`.
fn fits_at(size: u32, offset: u32) -> bool {
    match stride(size) {
        Some(s) => offset.wrapping_add(s) <= SLOT_SIZE,
        None => false,
    }
}

const _: () = assert!(MAX_SERVICES <= 4096);
