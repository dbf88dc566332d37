// SPDX-License-Identifier: GPL-2.0

//! Service records, states and handles.

use super::bulk::{BulkDir, BulkQueue};
use super::msg::PORT_FREE;

/// Number of local service records (and so of local ports, `0..MAX_SERVICES`).
///
/// The protocol allows 4096 ports; the engine keeps a fixed table so that it
/// never allocates.  128 is twice what the reference platform glue sizes its
/// tables for.
pub const MAX_SERVICES: usize = 128;

/// Service states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrvState {
    /// Unused.
    Free,
    /// Server created before connecting; not visible to the peer yet.
    Hidden,
    /// Server waiting for an OPEN.
    Listening,
    /// Client that sent OPEN and waits for OPENACK or CLOSE.
    Opening,
    /// Connected over the asynchronous slots.
    Open,
    /// Connected, DATA travels through the sync slots.
    OpenSync,
    /// We sent CLOSE and wait for the peer's CLOSE.
    CloseSent,
    /// The peer's CLOSE was received; completing.
    CloseRecvd,
    /// Server closed without auto-close, waiting for the local owner.
    CloseWait,
}

/// A service handle: 20-bit generation above the 12-bit port.  Zero is never
/// a valid handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub u32);

impl Handle {
    /// The port part.
    pub const fn port(self) -> u32 {
        self.0 & 0xfff
    }
}

/// Parameters for creating a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceParams {
    /// Service fourcc (non-zero).
    pub fourcc: u32,
    /// Our service version.
    pub version: u16,
    /// Oldest peer version we accept.
    pub version_min: u16,
}

/// Options of a server service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// Return to LISTENING automatically after a close.
    pub auto_close: bool,
    /// Use the synchronous channel (only if both sides speak version 8).
    pub sync: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            auto_close: true,
            sync: false,
        }
    }
}

/// A service record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// Current state.
    pub state: SrvState,
    /// Current handle (0 when free).
    pub handle: u32,
    /// Parameters given at creation.
    pub params: ServiceParams,
    /// Whether this is a server (listens for OPEN).
    pub server: bool,
    /// Server options.
    pub opts: ServerOptions,
    /// Peer's port, or [`PORT_FREE`].
    pub remote_port: u16,
    /// Version the peer announced.
    pub peer_version: u16,
    /// Client id (sent in our OPEN, or received in the peer's OPEN).
    pub client_id: u32,
    /// Set once a local close started; new DATA is refused.
    pub closing: bool,
    /// Transmit-direction bulks.
    pub bulk_tx: BulkQueue,
    /// Receive-direction bulks.
    pub bulk_rx: BulkQueue,
}

impl Service {
    /// A free record.
    pub const EMPTY: Service = Service {
        state: SrvState::Free,
        handle: 0,
        params: ServiceParams {
            fourcc: 0,
            version: 0,
            version_min: 0,
        },
        server: false,
        opts: ServerOptions {
            auto_close: true,
            sync: false,
        },
        remote_port: PORT_FREE,
        peer_version: 0,
        client_id: 0,
        closing: false,
        bulk_tx: BulkQueue::EMPTY,
        bulk_rx: BulkQueue::EMPTY,
    };

    /// The bulk queue of a direction.
    pub fn bulk_mut(&mut self, dir: BulkDir) -> &mut BulkQueue {
        match dir {
            BulkDir::Transmit => &mut self.bulk_tx,
            BulkDir::Receive => &mut self.bulk_rx,
        }
    }

    /// Whether the service is connected to a peer port.
    pub fn is_open(&self) -> bool {
        matches!(self.state, SrvState::Open | SrvState::OpenSync)
    }
}
