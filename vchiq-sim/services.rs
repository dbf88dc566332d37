// SPDX-License-Identifier: GPL-2.0

//! The firmware services the simulated VideoCore offers, behind one trait.
//!
//! A service is one file under `services/` with a type implementing [`SimService`] and a
//! constructor listed in [`ALL`]. At every accepted VCHIQ_INIT the host creates each service
//! afresh and calls [`SimService::start`], where it creates its listeners; after that the host
//! calls it for the events of its listeners. Adding a service (gencmd, smem, audio) means
//! adding a file and a line to [`ALL`] (`gcmd.rs` is vcgencmd's, `auds.rs` the audio
//! service of snd-bcm2835).

pub(crate) mod auds;
mod echo;
mod fun2;
mod func;
pub(crate) mod gcmd;
mod smem;

use crate::engine::{BulkDir, BulkResult};
use crate::host::{BulkBuf, Ctx, Lid};
use kernel::prelude::*;

/// A firmware service. Callbacks run in the VideoCore's context with the engine locked; they
/// must not sleep for long and act only through the [`Ctx`].
pub(crate) trait SimService: Send {
    /// Creates the service's listeners.
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result;

    /// The ARM opened listener `lid`.
    fn opened(&mut self, _cx: &mut Ctx<'_>, _lid: Lid, _client_id: u32) {}

    /// The connection of listener `lid` closed (either side closed it; its bulks were
    /// aborted before).
    fn closed(&mut self, _cx: &mut Ctx<'_>, _lid: Lid) {}

    /// A DATA message arrived on `lid` (already released in shared memory).
    fn message(&mut self, _cx: &mut Ctx<'_>, _lid: Lid, _data: &[u8]) {}

    /// Timed work at `now` (microseconds since the simulator's epoch), called every round;
    /// returns when the service wants to be called again at the latest (the VideoCore's
    /// timer activates it then), `None` for no deadline.
    fn tick(&mut self, _cx: &mut Ctx<'_>, _now: u64) -> Option<u64> {
        None
    }

    /// A bulk queued with [`Ctx::bulk`] finished; its buffer comes back.
    fn bulk_done(
        &mut self,
        _cx: &mut Ctx<'_>,
        _lid: Lid,
        _dir: BulkDir,
        _userdata: u64,
        _result: BulkResult,
        _buf: BulkBuf,
    ) {
    }

    /// A command written to debugfs (`smem`), run in the VideoCore's context; `None` if it
    /// is not this service's.
    fn command(&mut self, _cx: &mut Ctx<'_>, _line: &str) -> Option<Result> {
        None
    }

    /// The service's lines of the debugfs file its commands go to.
    fn describe(&self, _f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        Ok(())
    }
}

/// Constructor of a service.
pub(crate) type Make = fn() -> Result<KBox<dyn SimService>>;

/// Every service, in registration order.
pub(crate) const ALL: [Make; 6] = [
    echo::make,
    func::make,
    fun2::make,
    gcmd::make,
    auds::make,
    smem::make,
];

/// Builds a fourcc from its four characters, first character highest.
pub(crate) const fn fourcc(s: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*s)
}

/// Reads the little-endian `u32` at byte `off` of `data`, if present.
pub(crate) fn le_u32(data: &[u8], off: usize) -> Option<u32> {
    le_i32(data, off).map(|v| v as u32)
}

/// Reads the little-endian `i32` at byte `off` of `data`, if present.
pub(crate) fn le_i32(data: &[u8], off: usize) -> Option<i32> {
    let b = data.get(off..off.checked_add(4)?)?;
    <[u8; 4]>::try_from(b).ok().map(i32::from_le_bytes)
}
