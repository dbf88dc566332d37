// SPDX-License-Identifier: GPL-2.0

//! Engine error type.
//!
//! Every fallible engine operation returns [`Error`].  The variants are
//! chosen so that the kernel glue can map each of them to one errno with
//! [`Error::to_errno`].

/// Errors reported by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The peer violated the protocol (bad magic, index, size, position ...).
    Proto,
    /// An argument from the local caller is invalid.
    Inval,
    /// A fixed-size local table (services, bulk queue, output queue) is full,
    /// or the shared memory is too small.
    NoSpace,
    /// The operation cannot make progress now.  `Engine::stall`
    /// tells which event to wait for before retrying.
    WouldBlock,
    /// The peer has not initialised its half of slot zero, or the
    /// connection has not been established yet.
    NotConnected,
    /// The service handle is stale or was never valid.
    BadHandle,
    /// The service is closing or closed.
    Closed,
    /// The peer's version range does not overlap ours.
    Version,
}

impl Error {
    /// Returns the negative errno value the kernel glue should report.
    pub const fn to_errno(self) -> i32 {
        match self {
            Error::Proto => -71,         // EPROTO
            Error::Inval => -22,         // EINVAL
            Error::NoSpace => -28,       // ENOSPC
            Error::WouldBlock => -11,    // EAGAIN
            Error::NotConnected => -107, // ENOTCONN
            Error::BadHandle => -22,     // EINVAL, as the C driver reports it
            Error::Closed => -112,       // EHOSTDOWN
            Error::Version => -22,       // EINVAL
        }
    }
}

/// Engine result type.
pub type Result<T> = core::result::Result<T, Error>;
