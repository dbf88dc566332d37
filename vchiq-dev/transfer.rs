// SPDX-License-Identifier: GPL-2.0

//! Bulk transfers through `/dev/vchiq`: QUEUE_BULK_TRANSMIT and QUEUE_BULK_RECEIVE of the
//! process's own memory (pinned by vchiq-core), and blocking transfers that a signal
//! interrupts: the waiter is kept for the thread and resumed with mode WAITING.

use crate::abi::{self, by_layout, BulkArgs, Layout};
use crate::file::{io, DevFile};
use crate::sys;
use crate::vchiq::{BulkMode, Cookie};
use kernel::prelude::*;

fn current_tid() -> i32 {
    kernel::current!().pid()
}

impl DevFile {
    pub(crate) fn queue_bulk(&self, layout: Layout, arg: usize, receive: bool) -> Result {
        let a = by_layout!(layout, read_bulk(arg))?;
        self.own(a.handle)?;
        let mode = match a.mode {
            abi::MODE_WAITING => return self.resume_bulk(layout, arg),
            abi::MODE_CALLBACK => BulkMode::Callback,
            abi::MODE_NOCALLBACK => BulkMode::NoCallback,
            abi::MODE_BLOCKING => BulkMode::Blocking,
            _ => return Err(EINVAL),
        };
        let cookie = self.start_bulk(&a, mode, receive)?;
        if mode != BulkMode::Blocking {
            return Ok(());
        }
        self.wait_bulk(layout, arg, cookie)
    }

    /// Queues the transfer `a` describes.
    fn start_bulk(&self, a: &BulkArgs, mode: BulkMode, receive: bool) -> Result<Cookie> {
        let data = usize::try_from(a.data).map_err(|_| EFAULT)?;
        self.instance
            .service(a.handle)
            .bulk_user(data, a.size, a.userdata as usize, mode, receive)
            .map_err(io)
    }

    /// Resumes the blocking transfer this thread was waiting for when a signal came.
    fn resume_bulk(&self, layout: Layout, arg: usize) -> Result {
        let tid = current_tid();
        let cookie = {
            let mut g = self.shared.inner.lock();
            let i = g.waiters.iter().position(|w| w.0 == tid).ok_or(ESRCH)?;
            g.waiters.remove(i)?.1
        };
        self.wait_bulk(layout, arg, cookie)
    }

    /// Waits for a blocking transfer. On a signal that does not kill the process, the waiter
    /// is kept for this thread and the library told (mode WAITING) to resume it.
    fn wait_bulk(&self, layout: Layout, arg: usize, cookie: Cookie) -> Result {
        match self.instance.bulk_wait(cookie) {
            Err(EINTR) => {
                if sys::fatal_signal_pending() || !self.keep_waiter(layout, arg, cookie) {
                    self.instance.bulk_forget(cookie);
                }
                Err(EINTR)
            }
            r => r.map_err(io),
        }
    }

    /// Saves `cookie` for this thread and writes WAITING into the caller's mode field.
    fn keep_waiter(&self, layout: Layout, arg: usize, cookie: Cookie) -> bool {
        let saved = self
            .shared
            .inner
            .lock()
            .waiters
            .push((current_tid(), cookie), GFP_KERNEL);
        let at = abi::field(arg, layout.bulk_mode());
        if saved.is_ok() && abi::write_u32(at, abi::MODE_WAITING as u32).is_ok() {
            return true;
        }
        self.shared.inner.lock().waiters.retain(|w| w.1 != cookie);
        false
    }
}
