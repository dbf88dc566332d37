// SPDX-License-Identifier: GPL-2.0

//! Bulk transfers: queueing, requests, pairing and completion.

use super::bulk::{BulkDir, BulkRec, BulkResult};
use super::engine::{Engine, Tables};
use super::error::{Error, Result};
use super::layout::Role;
use super::msg::{
    MsgId, MsgType, BULK_ACTUAL_ABORTED, BULK_DONE_PAYLOAD_SIZE, BULK_REQ_PAYLOAD_SIZE, HEADER_SIZE,
};
use super::output::{Output, Stall};
use super::service::{Handle, SrvState};
use super::shm::SharedMem;
use core::ops::DerefMut;

impl<M: SharedMem, T: DerefMut<Target = Tables>> Engine<M, T> {
    /// Queues a bulk transfer on an open (asynchronous) service.
    ///
    /// On the ARM this sends BULK_TX (transmit) or BULK_RX (receive) with
    /// `pagelist` (bus address of the pagelist) and `size`; the transfer
    /// completes with [`Output::BulkDone`] carrying `cookie`, in FIFO order.
    /// On the VPU, `pagelist` is ignored: the bulk is paired with the ARM's
    /// next request in the matching direction ([`Output::BulkTransfer`]).
    ///
    /// # Errors
    ///
    /// [`Error::BadHandle`], [`Error::Inval`] (not OPEN), [`Error::Closed`],
    /// [`Error::WouldBlock`] with [`Stall::Bulk`] when four bulks are
    /// outstanding in that direction, or a slot stall.
    pub fn queue_bulk(
        &mut self,
        h: Handle,
        dir: BulkDir,
        cookie: u32,
        pagelist: u32,
        size: u32,
    ) -> Result<()> {
        let idx = self.lookup(h)?;
        let srv = *self.srv(idx).ok_or(Error::BadHandle)?;
        if srv.closing {
            return Err(Error::Closed);
        }
        if srv.state != SrvState::Open {
            return Err(Error::Inval);
        }
        let full = match dir {
            BulkDir::Transmit => srv.bulk_tx.local.is_full(),
            BulkDir::Receive => srv.bulk_rx.local.is_full(),
        };
        if full {
            self.stats.bulk_stalls = self.stats.bulk_stalls.wrapping_add(1);
            return self.would_block(Stall::Bulk);
        }
        if self.role == Role::Vpu && self.tables.out.room() == 0 {
            // Pairing may produce an output.
            return self.would_block(Stall::Output);
        }
        if self.role == Role::Arm {
            let ty = match dir {
                BulkDir::Transmit => MsgType::BulkTx,
                BulkDir::Receive => MsgType::BulkRx,
            };
            let (a, b) = (pagelist.to_le_bytes(), size.to_le_bytes());
            let p = [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]];
            // CAST: idx < MAX_SERVICES.
            let id = MsgId::new(ty, idx as u32, u32::from(srv.remote_port));
            self.queue_ctrl(id, &p)?;
        }
        let rec = BulkRec { data: cookie, size };
        if let Some(s) = self.srv_mut(idx) {
            // Cannot fail: checked not full above.
            let _ = s.bulk_mut(dir).local.push(rec);
        }
        if self.role == Role::Vpu {
            self.try_pair(idx, dir);
        }
        Ok(())
    }

    /// VPU: hands the next (local, remote) pair to the caller, one at a
    /// time per direction.
    fn try_pair(&mut self, idx: usize, dir: BulkDir) {
        let (handle, local, remote) = match self.srv_mut(idx) {
            Some(s) => {
                let h = s.handle;
                let q = s.bulk_mut(dir);
                if q.in_transfer {
                    return;
                }
                match (q.local.peek(), q.remote.peek()) {
                    (Some(l), Some(r)) => {
                        q.in_transfer = true;
                        (h, l, r)
                    }
                    _ => return,
                }
            }
            None => return,
        };
        self.emit(Output::BulkTransfer {
            handle: Handle(handle),
            dir,
            cookie: local.data,
            size: local.size,
            pagelist: remote.data,
            remote_size: remote.size,
        });
    }

    /// VPU: completes the pair handed out by [`Output::BulkTransfer`]:
    /// sends the DONE to the ARM and reports [`Output::BulkDone`] locally.
    ///
    /// # Errors
    ///
    /// [`Error::Inval`] if no transfer is pending (or not the VPU),
    /// [`Error::WouldBlock`] when out of slots or outputs (nothing changed).
    pub fn complete_bulk(&mut self, h: Handle, dir: BulkDir, result: BulkResult) -> Result<()> {
        if self.role != Role::Vpu {
            return Err(Error::Inval);
        }
        let idx = self.lookup(h)?;
        let srv = *self.srv(idx).ok_or(Error::BadHandle)?;
        let q = match dir {
            BulkDir::Transmit => srv.bulk_tx,
            BulkDir::Receive => srv.bulk_rx,
        };
        if !q.in_transfer {
            return Err(Error::Inval);
        }
        if self.tables.out.room() < 2 {
            return self.would_block(Stall::Output);
        }
        // The DONE type names the ARM's request: a VPU transmit answers the
        // ARM's BULK_RX.
        let ty = match dir {
            BulkDir::Transmit => MsgType::BulkRxDone,
            BulkDir::Receive => MsgType::BulkTxDone,
        };
        let actual = match result {
            BulkResult::Done(n) => n,
            BulkResult::Aborted => BULK_ACTUAL_ABORTED,
        };
        // CAST: idx < MAX_SERVICES.
        let id = MsgId::new(ty, idx as u32, u32::from(srv.remote_port));
        self.queue_ctrl(id, &actual.to_le_bytes())?;
        let mut cookie = 0;
        if let Some(s) = self.srv_mut(idx) {
            let q = s.bulk_mut(dir);
            cookie = q.local.pop().map(|r| r.data).unwrap_or(0);
            let _ = q.remote.pop();
            q.in_transfer = false;
        }
        self.emit(Output::BulkDone {
            handle: h,
            dir,
            cookie,
            result,
        });
        self.try_pair(idx, dir);
        Ok(())
    }

    /// VPU: an ARM bulk request arrived.
    pub(crate) fn rx_bulk_req(&mut self, ty: MsgType, id: MsgId, size: u32, hdr: u32) {
        if self.role != Role::Vpu || size != BULK_REQ_PAYLOAD_SIZE {
            // Only the master receives requests.
            self.proto();
            return;
        }
        let idx = id.dst() as usize;
        let ok = matches!(self.srv(idx), Some(s) if s.state == SrvState::Open
            && u32::from(s.remote_port) == id.src());
        if !ok {
            self.stats.dropped = self.stats.dropped.wrapping_add(1);
            return;
        }
        let p = hdr.wrapping_add(HEADER_SIZE);
        let rec = BulkRec {
            data: self.shm.load(p),
            size: self.shm.load(p.wrapping_add(4)),
        };
        // The ARM transmits (BULK_TX): we receive, and vice versa.
        let dir = if ty == MsgType::BulkTx {
            BulkDir::Receive
        } else {
            BulkDir::Transmit
        };
        let pushed = self
            .srv_mut(idx)
            .is_some_and(|s| s.bulk_mut(dir).remote.push(rec));
        if !pushed {
            // The ARM may have at most four outstanding per direction.
            self.proto();
            return;
        }
        self.try_pair(idx, dir);
    }

    /// ARM: a DONE for our oldest bulk in that direction arrived.
    pub(crate) fn rx_bulk_done(&mut self, ty: MsgType, id: MsgId, size: u32, hdr: u32) {
        if self.role != Role::Arm || size < BULK_DONE_PAYLOAD_SIZE {
            self.proto();
            return;
        }
        let idx = id.dst() as usize;
        let handle = match self.srv(idx) {
            Some(s) if s.state != SrvState::Free && u32::from(s.remote_port) == id.src() => {
                s.handle
            }
            _ => {
                self.stats.dropped = self.stats.dropped.wrapping_add(1);
                return;
            }
        };
        let dir = if ty == MsgType::BulkTxDone {
            BulkDir::Transmit
        } else {
            BulkDir::Receive
        };
        let rec = match self.srv_mut(idx).and_then(|s| s.bulk_mut(dir).local.pop()) {
            Some(r) => r,
            None => {
                // A DONE with nothing outstanding.
                self.proto();
                return;
            }
        };
        let actual = self.shm.load(hdr.wrapping_add(HEADER_SIZE));
        let result = if actual == BULK_ACTUAL_ABORTED {
            BulkResult::Aborted
        } else if actual > rec.size {
            // More than requested cannot be right; fail the transfer.
            self.proto();
            BulkResult::Aborted
        } else {
            BulkResult::Done(actual)
        };
        self.emit(Output::BulkDone {
            handle: Handle(handle),
            dir,
            cookie: rec.data,
            result,
        });
    }
}
