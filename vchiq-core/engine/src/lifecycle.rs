// SPDX-License-Identifier: GPL-2.0

//! Connection and service life cycle: CONNECT, creating, opening, closing
//! and removing services.

use super::bulk::{BulkDir, BulkResult};
use super::engine::{Engine, Tables};
use super::error::{Error, Result};
use super::layout::SLOT_SHIFT;
use super::msg::{MsgId, MsgType, OpenPayload, PORT_FREE};
use super::output::Output;
use super::quota::{default_msg_quota, default_slot_quota};
use super::service::{Handle, ServerOptions, Service, ServiceParams, SrvState};
use super::shm::SharedMem;

/// Largest handle generation (20 bits).
const GEN_MAX: u32 = 0xf_ffff;
use core::ops::DerefMut;

impl<M: SharedMem, T: DerefMut<Target = Tables>> Engine<M, T> {
    /// Sends our CONNECT (once) and makes hidden servers visible.
    ///
    /// The connection is established when the peer's CONNECT has arrived as
    /// well ([`Output::Connected`], [`Engine::is_connected`]).
    ///
    /// # Errors
    ///
    /// [`Error::NotConnected`] if the peer's half is not initialised;
    /// [`Error::WouldBlock`] when out of slots.
    pub fn connect(&mut self) -> Result<()> {
        if !self.peer_initialised() {
            return Err(Error::NotConnected);
        }
        if !self.conn_sent {
            self.queue_ctrl(MsgId::new(MsgType::Connect, 0, 0), &[])?;
            self.conn_sent = true;
        }
        for s in self.tables.services.iter_mut() {
            if s.state == SrvState::Hidden {
                s.state = SrvState::Listening;
            }
        }
        Ok(())
    }

    /// Allocates a service record.
    fn alloc_service(
        &mut self,
        params: ServiceParams,
        server: bool,
        opts: ServerOptions,
        state: SrvState,
    ) -> Result<usize> {
        if params.fourcc == 0 {
            return Err(Error::Inval);
        }
        // Clients never get port 0.  A CLOSE to port 0 is then never the
        // rejection of one of our OPENs (rejections come *from* port 0 and
        // go to the opener), but always the early CLOSE of a peer's OPEN
        // that we may have accepted: the protocol cannot tell the two apart
        // when both ports are 0.
        let skip = usize::from(!server);
        let idx = self
            .tables
            .services
            .iter()
            .enumerate()
            .skip(skip)
            .find(|(_, s)| s.state == SrvState::Free)
            .map(|(i, _)| i)
            .ok_or(Error::NoSpace)?;
        let gen = self.next_gen;
        self.next_gen = if gen >= GEN_MAX {
            1
        } else {
            gen.wrapping_add(1)
        };
        // CAST: idx < MAX_SERVICES <= 4096.
        let handle = (gen << 12) | idx as u32;
        let slot_quota = default_slot_quota(self.own_slots.count());
        let cur_seq = self.tx_pos >> SLOT_SHIFT;
        if let Some(q) = self.tables.quotas.get_mut(idx) {
            if q.slot_use == 0 {
                // The first DATA message then counts one slot.
                q.prev_seq = cur_seq.wrapping_sub(1);
            }
            q.slot_quota = slot_quota;
            q.msg_quota = default_msg_quota(slot_quota);
        }
        let s = self.srv_mut(idx).ok_or(Error::NoSpace)?;
        *s = Service {
            state,
            handle,
            params,
            server,
            opts,
            ..Service::EMPTY
        };
        Ok(idx)
    }

    /// Creates a server service.  It is LISTENING once we are connected
    /// (HIDDEN before).
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] for a zero fourcc, [`Error::NoSpace`] when the table
    /// is full.
    pub fn add_service(&mut self, params: ServiceParams, opts: ServerOptions) -> Result<Handle> {
        let state = if self.conn_sent {
            SrvState::Listening
        } else {
            SrvState::Hidden
        };
        let idx = self.alloc_service(params, true, opts, state)?;
        self.srv(idx)
            .map(|s| Handle(s.handle))
            .ok_or(Error::NoSpace)
    }

    /// Creates a client service and sends OPEN.  The outcome arrives as
    /// [`Output::Opened`] or [`Output::OpenRejected`].
    ///
    /// # Errors
    ///
    /// [`Error::NotConnected`], [`Error::Inval`], [`Error::NoSpace`],
    /// [`Error::WouldBlock`] (nothing was created).
    pub fn open_service(&mut self, params: ServiceParams, client_id: u32) -> Result<Handle> {
        if !self.is_connected() {
            return Err(Error::NotConnected);
        }
        let idx = self.alloc_service(params, false, ServerOptions::default(), SrvState::Opening)?;
        let p = OpenPayload {
            fourcc: params.fourcc,
            client_id,
            version: params.version,
            version_min: params.version_min,
        };
        let mut bytes = [0u8; 12];
        for (chunk, w) in bytes.chunks_exact_mut(4).zip(p.to_words()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        // CAST: idx < MAX_SERVICES.
        if let Err(e) = self.queue_ctrl(MsgId::new(MsgType::Open, idx as u32, 0), &bytes) {
            self.free_service(idx);
            return Err(e);
        }
        let s = self.srv_mut(idx).ok_or(Error::NoSpace)?;
        s.client_id = client_id;
        Ok(Handle(s.handle))
    }

    /// Starts closing a service from our side.
    ///
    /// For an open service this sends CLOSE; [`Output::Closed`] follows when
    /// the peer's CLOSE arrives.  A client in CLOSEWAIT is freed and a
    /// server in CLOSEWAIT listens again at once.
    ///
    /// # Errors
    ///
    /// [`Error::BadHandle`]; [`Error::Inval`] for a server that is not
    /// connected (use [`Engine::remove_service`]); [`Error::WouldBlock`]
    /// when out of slots (retry; the service already refuses new DATA).
    pub fn close_service(&mut self, h: Handle) -> Result<()> {
        let idx = self.lookup(h)?;
        let srv = *self.srv(idx).ok_or(Error::BadHandle)?;
        match srv.state {
            SrvState::Free | SrvState::Hidden | SrvState::Listening => Err(Error::Inval),
            SrvState::CloseWait => {
                if srv.server {
                    self.reset_to_listening(idx);
                } else {
                    self.free_service(idx);
                }
                Ok(())
            }
            SrvState::Opening | SrvState::Open | SrvState::OpenSync => {
                if let Some(s) = self.srv_mut(idx) {
                    s.closing = true;
                }
                // CAST: idx < MAX_SERVICES.
                let id = MsgId::new(MsgType::Close, idx as u32, u32::from(srv.remote_port));
                self.queue_ctrl(id, &[])?;
                // Always, kept or not: the peer's CLOSE reply may need the very slots
                // these messages hold.
                if srv.is_open() {
                    self.release_held(idx);
                }
                if let Some(s) = self.srv_mut(idx) {
                    s.state = SrvState::CloseSent;
                }
                Ok(())
            }
            SrvState::CloseSent | SrvState::CloseRecvd => Ok(()),
        }
    }

    /// Removes a service: a server stops listening and is freed; a
    /// connected service is closed first and freed when the close completes.
    ///
    /// # Errors
    ///
    /// As for [`Engine::close_service`].
    pub fn remove_service(&mut self, h: Handle) -> Result<()> {
        let idx = self.lookup(h)?;
        let state = self.srv(idx).map(|s| s.state).ok_or(Error::BadHandle)?;
        match state {
            SrvState::Hidden | SrvState::Listening | SrvState::CloseWait => {
                self.free_service(idx);
                Ok(())
            }
            _ => {
                // Treated as a client from now on, so completion frees it.
                if let Some(s) = self.srv_mut(idx) {
                    s.server = false;
                }
                self.close_service(h)
            }
        }
    }

    fn reset_to_listening(&mut self, idx: usize) {
        if let Some(s) = self.srv_mut(idx) {
            s.state = SrvState::Listening;
            s.remote_port = PORT_FREE;
            s.client_id = 0;
            s.closing = false;
            s.peer_version = 0;
        }
    }

    /// Finishes a close: aborts outstanding bulks, reports the close and
    /// moves the service to its final state.  `local` is true when we
    /// initiated the close.
    pub(crate) fn complete_close(&mut self, idx: usize, local: bool) {
        let srv = match self.srv(idx) {
            Some(s) => *s,
            None => return,
        };
        let handle = Handle(srv.handle);
        for dir in [BulkDir::Transmit, BulkDir::Receive] {
            let mut aborted = [0u32; 4];
            let mut n = 0usize;
            if let Some(s) = self.srv_mut(idx) {
                let q = s.bulk_mut(dir);
                while let Some(r) = q.local.pop() {
                    if let Some(a) = aborted.get_mut(n) {
                        *a = r.data;
                        n = n.wrapping_add(1);
                    }
                }
                q.remote.clear();
                q.in_transfer = false;
            }
            for cookie in aborted.iter().take(n) {
                self.emit(Output::BulkDone {
                    handle,
                    dir,
                    cookie: *cookie,
                    result: BulkResult::Aborted,
                });
            }
        }
        self.emit(Output::Closed { handle });
        if srv.server {
            if local || srv.opts.auto_close {
                self.reset_to_listening(idx);
            } else if let Some(s) = self.srv_mut(idx) {
                s.state = SrvState::CloseWait;
            }
        } else {
            self.free_service(idx);
        }
    }
}
