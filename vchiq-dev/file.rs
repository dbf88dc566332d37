// SPDX-License-Identifier: GPL-2.0

//! One open `/dev/vchiq`: a vchiq-core instance, its user services, and the ioctls
//! (vchiq-protocol.md §11.4). Messages are in `messages.rs`, bulks in `transfer.rs`.
//!
//! Every handle a process passes is checked against the file's own services before it
//! reaches vchiq-core; every user pointer is accessed through `UserSlice` (faults give
//! `EFAULT`); no kernel pointer is written to user space (headers are copied into the
//! process's buffers, bulk waiters are kept here, keyed by thread).

use crate::abi::{self, by_layout, Cmd, Layout};
use crate::delivery::{FileInner, Shared, SvcInfo, UserService};
use crate::vchiq::{self, Instance, State};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::{new_condvar, new_mutex};

/// One open file.
#[pin_data]
pub(crate) struct DevFile {
    /// The session; dropped (shut down) first, by [`DevFile::release`].
    pub(crate) instance: Instance,
    /// What the services' handlers share with the ioctls.
    pub(crate) shared: Arc<Shared>,
    /// Serialises AWAIT_COMPLETION (records are popped and may be pushed back).
    #[pin]
    pub(crate) await_lock: Mutex<()>,
}

/// Mainline's mapping of the core's generic failure: `EINVAL` reaches user space as `EIO`.
pub(crate) fn io(e: Error) -> Error {
    if e == EINVAL {
        EIO
    } else {
        e
    }
}

impl DevFile {
    /// A file on the VideoCore of `state`.
    pub(crate) fn new(state: &State) -> Result<Pin<KBox<Self>>> {
        let shared = Arc::pin_init(
            pin_init!(Shared {
                inner <- new_mutex!(FileInner::new(), "vchiq_dev::Shared::inner"),
                changed <- new_condvar!("vchiq_dev::Shared::changed"),
            }),
            GFP_KERNEL,
        )?;
        let instance = Instance::unconnected(state)?;
        // GET_CLIENT_ID reports, and the VideoCore sees, the opener's process id (mainline:
        // the tgid at open), not the id of whichever thread creates a service.
        instance.set_client_id(kernel::current!().tgid() as u32);
        KBox::pin_init(
            pin_init!(Self {
                instance,
                shared,
                await_lock <- new_mutex!((), "vchiq_dev::DevFile::await_lock"),
            }),
            GFP_KERNEL,
        )
    }

    /// The file is closed: stop the readers, give up the interrupted bulks, close every
    /// service (in-flight bulks are aborted and their pages unpinned by vchiq-core) and free
    /// the instance.
    pub(crate) fn release(this: Pin<KBox<Self>>) {
        let shared = this.shared.clone();
        let waiters = {
            let mut g = shared.inner.lock();
            g.closing = true;
            core::mem::take(&mut g.waiters)
        };
        shared.changed.notify_all();
        for (_, cookie) in waiters.iter() {
            this.instance.bulk_forget(*cookie);
        }
        // Shuts the instance down: it closes the services, whose handlers see `closing`, and
        // frees the handlers. Messages still queued here were released by the closes.
        drop(this);
        let mut g = shared.inner.lock();
        g.records.clear();
        g.services.clear();
        if g.dropped != 0 {
            pr_warn!(
                "vchiq-dev: {} records lost to allocation failures\n",
                g.dropped
            );
        }
    }

    /// Checks that `handle` is one of the file's services.
    pub(crate) fn own(&self, handle: u32) -> Result {
        let mut g = self.shared.inner.lock();
        g.service(handle).map(|_| ()).ok_or(EINVAL)
    }

    /// Dispatches an ioctl; `layout` is the caller's ABI.
    pub(crate) fn ioctl(&self, layout: Layout, cmd: u32, arg: usize) -> Result<isize> {
        let Some(cmd) = layout.cmd(cmd) else {
            return Err(ENOTTY);
        };
        let r = match cmd {
            Cmd::Connect => self.connect(),
            Cmd::Shutdown => self.shutdown(),
            Cmd::CreateService => self.create_service(layout, arg),
            Cmd::RemoveService => self.close_service(arg as u32, true),
            Cmd::CloseService => self.close_service(arg as u32, false),
            Cmd::QueueMessage => self.queue_message(layout, arg),
            Cmd::QueueBulkTransmit => self.queue_bulk(layout, arg, false),
            Cmd::QueueBulkReceive => self.queue_bulk(layout, arg, true),
            Cmd::AwaitCompletion => return self.await_completion(layout, arg),
            Cmd::DequeueMessage => return self.dequeue_message(layout, arg),
            Cmd::GetClientId => return Ok(self.client_id(arg as u32)),
            Cmd::GetConfig => self.get_config(layout, arg),
            Cmd::UseService => self.use_service(arg as u32, true),
            Cmd::ReleaseService => self.use_service(arg as u32, false),
            Cmd::SetServiceOption => self.set_option(arg),
            Cmd::LibVersion => self.lib_version(arg),
            Cmd::CloseDelivered => self.close_delivered(arg as u32),
        };
        r.map(|()| 0)
    }

    fn connect(&self) -> Result {
        if self.shared.inner.lock().connected {
            return Err(EINVAL);
        }
        self.instance.connect().map_err(io)?;
        self.shared.inner.lock().connected = true;
        Ok(())
    }

    fn shutdown(&self) -> Result {
        let handles = {
            let g = self.shared.inner.lock();
            if !g.connected {
                return Ok(());
            }
            let mut v = KVec::new();
            for s in g.services.iter().filter(|s| !s.closed) {
                v.push(s.handle, GFP_KERNEL)?;
            }
            v
        };
        for h in handles.iter() {
            match self.instance.close(*h) {
                Ok(()) | Err(EINVAL) => {}
                Err(e) => return Err(io(e)),
            }
        }
        self.shared.inner.lock().closing = true;
        self.shared.changed.notify_all();
        Ok(())
    }

    fn create_service(&self, layout: Layout, arg: usize) -> Result {
        let a = by_layout!(layout, read_create(arg))?;
        if a.is_open && !self.shared.inner.lock().connected {
            return Err(ENOTCONN);
        }
        self.shared.inner.lock().services.reserve(1, GFP_KERNEL)?;
        let info = Arc::new(
            SvcInfo {
                file: self.shared.clone(),
                is_vchi: a.is_vchi,
                is_server: !a.is_open,
                userdata: a.userdata,
            },
            GFP_KERNEL,
        )?;
        // A server is hidden until connected, then listens for the VideoCore.
        let r = self
            .instance
            .open_kept(a.fourcc, a.version, a.version_min, info, !a.is_open);
        let handle = r.map_err(|e| match e {
            // A bad fourcc or a full table: mainline's "the add failed".
            EINVAL | ENOSPC if !a.is_open => EEXIST,
            EINVAL | ECONNREFUSED => EIO,
            e => e,
        })?;
        {
            let mut g = self.shared.inner.lock();
            if g.service(handle).is_none() {
                // Room was reserved above.
                let _ = g
                    .services
                    .push(UserService::new(handle, a.is_vchi, !a.is_open), GFP_KERNEL);
            }
        }
        if abi::write_u32(abi::field(arg, layout.create_handle()), handle).is_err() {
            let _ = self.close_service(handle, true);
            return Err(EFAULT);
        }
        Ok(())
    }

    fn close_service(&self, handle: u32, remove: bool) -> Result {
        let closed = {
            let mut g = self.shared.inner.lock();
            g.service(handle).ok_or(EINVAL)?.closed
        };
        if !closed {
            self.close_open_service(handle, remove)?;
        }
        self.wait_close_delivered(handle)
    }

    /// Closes (or removes) a service that has not closed yet.
    fn close_open_service(&self, handle: u32, remove: bool) -> Result {
        let r = if remove {
            self.instance.remove(handle)
        } else {
            self.instance.close(handle)
        };
        match r {
            Ok(()) if remove => {
                let mut g = self.shared.inner.lock();
                let pending = g.service(handle).is_some_and(|s| s.close_pending);
                if !pending {
                    g.remove_service(handle);
                } else if let Some(s) = g.service(handle) {
                    // CLOSE_DELIVERED forgets it; vchiq-core already has.
                    s.is_server = false;
                }
                Ok(())
            }
            Ok(()) => Ok(()),
            // The VideoCore closed it first (or a server that was not open).
            Err(EINVAL) if !remove => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// With the close-delivered handshake, waits for the process's completion thread to see
    /// SERVICE_CLOSED.
    fn wait_close_delivered(&self, handle: u32) -> Result {
        let mut g = self.shared.inner.lock();
        loop {
            match g.service(handle) {
                Some(s) if s.close_pending => {}
                _ => return Ok(()),
            }
            if g.closing {
                return Ok(());
            }
            if self.shared.changed.wait_interruptible(&mut g) {
                return Err(EINTR);
            }
        }
    }

    fn close_delivered(&self, handle: u32) -> Result {
        let mut g = self.shared.inner.lock();
        match g.service(handle) {
            // A server that listens again keeps its handle.
            Some(s) if s.close_pending && s.is_server => s.close_pending = false,
            Some(s) if s.close_pending => g.remove_service(handle),
            _ => return Err(EINVAL),
        }
        drop(g);
        self.shared.changed.notify_all();
        self.instance.reap();
        Ok(())
    }

    fn client_id(&self, handle: u32) -> isize {
        if self.own(handle).is_err() {
            return 0;
        }
        self.instance
            .service(handle)
            .client_id()
            .map_or(0, |id| id as isize)
    }

    fn get_config(&self, layout: Layout, arg: usize) -> Result {
        let a = by_layout!(layout, read_config(arg))?;
        let cfg = abi::Config {
            max_msg_size: vchiq::MAX_MSG_SIZE as u32,
            bulk_threshold: vchiq::MAX_MSG_SIZE as u32,
            max_outstanding_bulks: vchiq::NUM_SERVICE_BULKS,
            max_services: vchiq::MAX_SERVICES,
            version: vchiq::VERSION,
            version_min: vchiq::VERSION_MIN,
        }
        .to_bytes();
        let size = a.config_size as usize;
        let part = cfg.get(..size).ok_or(EINVAL)?;
        abi::user(a.pconfig, size)?.writer().write_slice(part)
    }

    fn use_service(&self, handle: u32, up: bool) -> Result {
        self.own(handle)?;
        self.instance
            .service(handle)
            .set_use(up)
            .map_err(|_| EINVAL)
    }

    fn set_option(&self, arg: usize) -> Result {
        let a = abi::read_option(arg)?;
        self.own(a.handle)?;
        match a.option {
            abi::OPTION_AUTOCLOSE | abi::OPTION_TRACE => Ok(()),
            abi::OPTION_SLOT_QUOTA | abi::OPTION_MESSAGE_QUOTA => {
                let q = u16::try_from(a.value)
                    .ok()
                    .filter(|q| *q != u16::MAX)
                    .ok_or(EINVAL)?;
                let (slot, msg) = if a.option == abi::OPTION_SLOT_QUOTA {
                    (q, 0)
                } else {
                    (0, q)
                };
                self.instance.service(a.handle).set_quota(slot, msg)
            }
            // Synchronous services are not implemented.
            abi::OPTION_SYNCHRONOUS => Err(EINVAL),
            _ => Err(EINVAL),
        }
    }

    fn lib_version(&self, version: usize) -> Result {
        if version < 3 {
            return Err(EINVAL);
        }
        if version >= 7 {
            self.shared.inner.lock().use_close_delivered = true;
        }
        Ok(())
    }
}
