// SPDX-License-Identifier: GPL-2.0

//! Messages through `/dev/vchiq`: QUEUE_MESSAGE, AWAIT_COMPLETION (completion records, and the
//! messages of ordinary services copied into the process's buffers) and DEQUEUE_MESSAGE (the
//! messages of "vchi" services).

use crate::abi::{self, by_layout, AwaitArgs, CompletionArgs, Layout};
use crate::delivery::Record;
use crate::file::{io, DevFile};
use crate::vchiq::{KeptMessage, Reason, HEADER_SIZE, MAX_MSG_SIZE};
use kernel::prelude::*;

/// Header plus the largest payload.
const MSG_BUF: usize = HEADER_SIZE + MAX_MSG_SIZE;

/// Puts `x` first in `v`.
fn insert_front<T>(v: &mut KVec<T>, x: T) -> Result {
    v.push(x, GFP_KERNEL)?;
    v.rotate_right(1);
    Ok(())
}

/// What became of one record in AWAIT_COMPLETION.
enum Step {
    /// Written to the process.
    Written,
    /// Dropped: its message went with its service's close.
    Skipped,
    /// The call ends here. The record is back at the front of the queue (or lost to a fault
    /// after its message was taken, as in mainline); the error is reported if nothing was
    /// handed out before.
    Stop(Option<Error>),
}

/// One AWAIT_COMPLETION call's progress.
struct Await {
    args: AwaitArgs,
    layout: Layout,
    /// Records written.
    done: usize,
    /// Message buffers left (`msgbufcount` as it will be written back).
    msgbufs_left: u32,
    /// The kernel copy of one message (header and payload), allocated on first use.
    kbuf: KVec<u8>,
}

impl DevFile {
    pub(crate) fn queue_message(&self, layout: Layout, arg: usize) -> Result {
        let a = by_layout!(layout, read_queue(arg))?;
        self.own(a.handle)?;
        let count = a.count as usize;
        if count > abi::MAX_ELEMENTS {
            return Err(EINVAL);
        }
        let mut msg = KVec::with_capacity(MSG_BUF, GFP_KERNEL)?;
        for i in 0..count {
            let e = by_layout!(layout, read_element(a.elements, i))?;
            let len = e.size as usize;
            if len == 0 {
                continue;
            }
            if e.data == 0 {
                return Err(EFAULT);
            }
            // Too big for one message: the core's generic failure.
            if len > MAX_MSG_SIZE - msg.len() {
                return Err(EIO);
            }
            let at = msg.len();
            msg.resize(at + len, 0, GFP_KERNEL)?;
            abi::user(e.data, len)?
                .reader()
                .read_slice(msg.get_mut(at..).ok_or(EINVAL)?)?;
        }
        // Mainline refuses empty messages (the core's generic failure).
        if msg.is_empty() {
            return Err(EIO);
        }
        self.instance
            .service(a.handle)
            .queue_interruptible(&[&msg])
            .map_err(io)
    }

    pub(crate) fn await_completion(&self, layout: Layout, arg: usize) -> Result<isize> {
        let args = by_layout!(layout, read_await(arg))?;
        if !self.shared.inner.lock().connected {
            return Err(ENOTCONN);
        }
        let _serial = self.await_lock.lock();
        let mut w = Await {
            msgbufs_left: args.msgbufcount,
            args,
            layout,
            done: 0,
            kbuf: KVec::new(),
        };
        let mut result = Ok(());
        while w.done < w.args.count as usize {
            let Some(rec) = self.next_record(w.done == 0)? else {
                break;
            };
            match self.hand_out(&mut w, rec) {
                Step::Written => w.done += 1,
                Step::Skipped => {}
                Step::Stop(e) => {
                    if let (Some(e), 0) = (e, w.done) {
                        result = Err(e);
                    }
                    break;
                }
            }
        }
        if w.msgbufs_left != w.args.msgbufcount {
            let at = abi::field(arg, layout.await_msgbufcount());
            abi::write_u32(at, w.msgbufs_left).map_err(|_| EFAULT)?;
        }
        result?;
        Ok(w.done as isize)
    }

    /// The oldest record; waits (interruptibly) for one if `wait` and the file is not
    /// closing.
    fn next_record(&self, wait: bool) -> Result<Option<Record>> {
        let mut g = self.shared.inner.lock();
        while g.records.is_empty() && !g.closing && wait {
            if self.shared.changed.wait_interruptible(&mut g) {
                return Err(EINTR);
            }
        }
        if g.records.is_empty() {
            return Ok(None);
        }
        Ok(Some(g.records.remove(0)?))
    }

    /// Hands one record out: copies its message (if any) into a process buffer, writes the
    /// record, and forgets a closed service when no CLOSE_DELIVERED will.
    fn hand_out(&self, w: &mut Await, rec: Record) -> Step {
        let mut out = CompletionArgs {
            reason: rec.reason as u32,
            header: 0,
            service_userdata: rec.service_userdata,
            cb_userdata: rec.cb_userdata,
        };
        if let Some(msg) = rec.msg {
            match self.copy_message(w, rec, msg) {
                Ok(Some(dst)) => out.header = dst,
                Ok(None) => return Step::Skipped,
                Err(step) => return step,
            }
        } else if rec.reason == Reason::MessageAvailable {
            if let Some(s) = self.shared.inner.lock().service(rec.handle) {
                s.msg_available_pending = false;
            }
        }
        let at = w
            .args
            .buf
            .wrapping_add((w.done * w.layout.completion_size()) as u64);
        if by_layout!(w.layout, write_completion(at, &out)).is_err() {
            if rec.msg.is_none() {
                self.push_front(rec);
            }
            return Step::Stop(Some(EFAULT));
        }
        if rec.reason == Reason::ServiceClosed {
            self.forget_closed(rec.handle);
        }
        Step::Written
    }

    /// Copies the message of `rec` into the process's next buffer (`msgbufs[left - 1]`,
    /// found before the message is taken, so that a bad array loses nothing) and releases
    /// it. `Ok(None)` if it is gone (its service closed meanwhile).
    fn copy_message(
        &self,
        w: &mut Await,
        rec: Record,
        msg: KeptMessage,
    ) -> core::result::Result<Option<u64>, Step> {
        if w.msgbufs_left == 0 {
            self.push_front(rec);
            return Err(Step::Stop(None));
        }
        let dst = by_layout!(w.layout, read_ptr(w.args.msgbufs, w.msgbufs_left - 1));
        let Ok(dst) = dst else {
            self.push_front(rec);
            return Err(Step::Stop(Some(EFAULT)));
        };
        if w.kbuf.is_empty() && w.kbuf.resize(MSG_BUF, 0, GFP_KERNEL).is_err() {
            self.push_front(rec);
            return Err(Step::Stop(Some(ENOMEM)));
        }
        let room = core::cmp::min(w.args.msgbufsize as usize, MSG_BUF);
        let buf = w.kbuf.get_mut(..room).ok_or(Step::Stop(Some(EINVAL)))?;
        let n = match self.instance.take_message(msg, buf) {
            Ok(n) => n,
            Err(EMSGSIZE) => {
                self.push_front(rec);
                return Err(Step::Stop(Some(EMSGSIZE)));
            }
            Err(_) => return Ok(None),
        };
        let copied = w
            .kbuf
            .get(..HEADER_SIZE + n)
            .ok_or(EINVAL)
            .and_then(|m| abi::user(dst, m.len())?.writer().write_slice(m));
        if copied.is_err() {
            // The message is lost to the fault, as in mainline.
            return Err(Step::Stop(Some(EFAULT)));
        }
        w.msgbufs_left -= 1;
        Ok(Some(dst))
    }

    /// After SERVICE_CLOSED was handed out: forgets the service, unless CLOSE_DELIVERED
    /// will, or it is a server (which listens again and keeps its handle).
    fn forget_closed(&self, handle: u32) {
        let mut g = self.shared.inner.lock();
        let server = g.service(handle).is_some_and(|s| s.is_server);
        if !g.use_close_delivered && !server {
            g.remove_service(handle);
        }
    }

    /// Puts a record back at the front of the queue.
    fn push_front(&self, rec: Record) {
        let mut g = self.shared.inner.lock();
        if insert_front(&mut g.records, rec).is_err() {
            g.lose();
        }
    }

    pub(crate) fn dequeue_message(&self, layout: Layout, arg: usize) -> Result<isize> {
        let a = by_layout!(layout, read_dequeue(arg))?;
        let msg = self.next_vchi_message(a.handle, a.blocking)?;
        let mut kbuf = KVec::<u8>::new();
        kbuf.resize(MSG_BUF, 0, GFP_KERNEL)?;
        let room = core::cmp::min((a.bufsize as usize).saturating_add(HEADER_SIZE), MSG_BUF);
        let n = match self
            .instance
            .take_message(msg, kbuf.get_mut(..room).ok_or(EINVAL)?)
        {
            Ok(n) => n,
            Err(EMSGSIZE) => {
                // Unlike mainline, the message is not lost: it stays first in the queue.
                let mut g = self.shared.inner.lock();
                if let Some(s) = g.service(a.handle) {
                    let _ = insert_front(&mut s.msgs, msg);
                }
                return Err(EMSGSIZE);
            }
            Err(_) => return Err(ENOTCONN),
        };
        let payload = kbuf.get(HEADER_SIZE..HEADER_SIZE + n).ok_or(EINVAL)?;
        if a.buf != 0 {
            abi::user(a.buf, payload.len())?
                .writer()
                .write_slice(payload)?;
        }
        Ok(n as isize)
    }

    /// The oldest message of vchi service `handle`; waits (interruptibly) for one if
    /// `blocking`.
    fn next_vchi_message(&self, handle: u32, blocking: bool) -> Result<KeptMessage> {
        let mut g = self.shared.inner.lock();
        loop {
            let closing = g.closing;
            let s = g.service(handle).ok_or(EINVAL)?;
            if !s.is_vchi {
                return Err(EINVAL);
            }
            if !s.msgs.is_empty() {
                s.dequeue_pending = false;
                return Ok(s.msgs.remove(0)?);
            }
            if s.closed || closing {
                return Err(ENOTCONN);
            }
            if !blocking {
                return Err(EAGAIN);
            }
            s.dequeue_pending = true;
            if self.shared.changed.wait_interruptible(&mut g) {
                if let Some(s) = g.service(handle) {
                    s.dequeue_pending = false;
                }
                return Err(EINTR);
            }
        }
    }
}
