// SPDX-License-Identifier: GPL-2.0

//! The ARM side's registry of services opened through the API: who to call back, where each
//! service is in its life, and which received messages its client still holds.

use crate::engine::{Handle, MsgRef};
use crate::ffi;
use core::ffi::c_void;
use kernel::prelude::*;

/// The client callback of the C ABI (`vchiq_callback_t`, never `None` here).
pub(crate) type Callback = ffi::vchiq_callback_t;

pub(crate) use crate::enums::Reason;

/// Whom to call back for a service.
#[derive(Clone, Copy)]
pub(crate) struct Client {
    /// The callback (checked `Some` when the service was created).
    pub(crate) callback: Callback,
    /// The instance that opened the service (passed back verbatim).
    pub(crate) instance: *mut c_void,
    /// The service's user data (`vchiq_get_service_userdata`).
    pub(crate) userdata: *mut c_void,
}

/// Where a service is in its life, as the API sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// OPEN sent, no answer yet.
    Opening,
    /// Open.
    Open,
    /// The VideoCore refused the OPEN.
    Rejected,
    /// The close finished (either side started it).
    Closed,
    /// A server waiting for the VideoCore to open it (HIDDEN or LISTENING in the engine).
    Listening,
}

/// One service opened through the API.
pub(crate) struct Entry {
    /// The engine's handle, which is also the API's.
    pub(crate) handle: Handle,
    /// Life cycle.
    pub(crate) phase: Phase,
    /// A server (the VideoCore opens it); it listens again after a close.
    pub(crate) server: bool,
    /// Callback target.
    pub(crate) client: Client,
    /// The version the VideoCore announced in its OPENACK.
    pub(crate) peer_version: u16,
    /// `vchiq_use_service` count.
    pub(crate) use_count: u32,
    /// Messages pushed by `vchiq_msg_queue_push`, popped by `vchiq_msg_hold` (header offsets).
    pub(crate) queue: KVec<u32>,
    /// Messages delivered to the client.
    pub(crate) messages: u32,
    /// Which connection of the service this is (a server is opened again and again): bumped
    /// by every OPENACK, recorded with each held message, so that a close releases only its
    /// own connection's messages.
    pub(crate) conn: u32,
}

/// A message delivered to a client and not yet released.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    /// Its service.
    pub(crate) handle: Handle,
    /// Offset of its header in the slot memory (what the client's pointer points at).
    pub(crate) header: u32,
    /// The engine's reference.
    pub(crate) msg: MsgRef,
    /// The connection it came on (`Entry::conn`).
    pub(crate) conn: u32,
}

/// All services opened through the API.
pub(crate) struct Registry {
    entries: KVec<Entry>,
    held: KVec<Held>,
}

// SAFETY: the raw pointers in `Client` are opaque tokens the core never dereferences; they are
// only handed back to the client's callback, from any thread, as the C API has always done.
unsafe impl Send for Registry {}

impl Registry {
    /// An empty registry.
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
            held: KVec::new(),
        }
    }

    /// Adds a client service in the `Opening` phase.
    pub(crate) fn insert(&mut self, handle: Handle, client: Client) -> Result {
        self.insert_as(handle, client, false)
    }

    /// Adds a server service in the `Listening` phase.
    pub(crate) fn insert_server(&mut self, handle: Handle, client: Client) -> Result {
        self.insert_as(handle, client, true)
    }

    fn insert_as(&mut self, handle: Handle, client: Client, server: bool) -> Result {
        self.entries.push(
            Entry {
                handle,
                phase: if server {
                    Phase::Listening
                } else {
                    Phase::Opening
                },
                server,
                client,
                peer_version: 0,
                use_count: 0,
                queue: KVec::new(),
                messages: 0,
                conn: 0,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// The entry of `handle`.
    pub(crate) fn get(&mut self, handle: Handle) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.handle == handle)
    }

    /// Removes the entry of `handle`.
    pub(crate) fn remove(&mut self, handle: Handle) {
        if let Some(i) = self.entries.iter().position(|e| e.handle == handle) {
            let _ = self.entries.remove(i);
        }
    }

    /// Takes the messages `handle`'s client still holds, so that the caller can release them.
    pub(crate) fn take_held(&mut self, handle: Handle) -> KVec<MsgRef> {
        self.take_held_if(|h| h.handle == handle)
    }

    /// Takes the messages of connection `conn` of `handle` that its client still holds.
    pub(crate) fn take_held_of(&mut self, handle: Handle, conn: u32) -> KVec<MsgRef> {
        self.take_held_if(|h| h.handle == handle && h.conn == conn)
    }

    fn take_held_if(&mut self, mut pick: impl FnMut(&Held) -> bool) -> KVec<MsgRef> {
        let mut out = KVec::new();
        let mut i = 0;
        while i < self.held.len() {
            if self.held.get(i).is_some_and(&mut pick) {
                if let Ok(h) = self.held.remove(i) {
                    // Capacity was reserved by the pushes of `hold`; a failure only means the
                    // engine releases the message when the service's slot is recycled.
                    let _ = out.push(h.msg, GFP_ATOMIC);
                }
            } else {
                i += 1;
            }
        }
        out
    }

    /// Records a message delivered to `handle`'s client, on connection `conn`.
    pub(crate) fn hold(&mut self, handle: Handle, header: u32, msg: MsgRef, conn: u32) -> Result {
        self.held.push(
            Held {
                handle,
                header,
                msg,
                conn,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Takes back the message whose header is at `header`, if `handle` holds it.
    pub(crate) fn unhold(&mut self, handle: Handle, header: u32) -> Option<MsgRef> {
        let i = self
            .held
            .iter()
            .position(|h| h.handle == handle && h.header == header)?;
        self.held.remove(i).ok().map(|h| h.msg)
    }

    /// The held message of `handle` whose header is at `header`.
    pub(crate) fn held_msg(&self, handle: Handle, header: u32) -> Option<MsgRef> {
        self.held
            .iter()
            .find(|h| h.handle == handle && h.header == header)
            .map(|h| h.msg)
    }

    /// Whether `handle` holds the message at `header`.
    pub(crate) fn holds(&self, handle: Handle, header: u32) -> bool {
        self.held
            .iter()
            .any(|h| h.handle == handle && h.header == header)
    }

    /// All entries, for debugfs and shutdown.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of held messages.
    pub(crate) fn held_count(&self) -> usize {
        self.held.len()
    }
}
