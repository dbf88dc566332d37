// SPDX-License-Identifier: GPL-2.0

//! Bulk DMA: the VideoCore's side of a bulk transfer, driven by the ARM's pagelist
//! (vchiq-protocol.md §6.3, §6.4), which the engine's pagelist codec reads.
//!
//! Everything in the pagelist is untrusted: the codec checks the header and the runs, every
//! address is translated and validated page by page, and any failure aborts the transfer
//! instead of touching memory it should not.
//!
//! Receives with fragments (type `2 + n`): the partial cache lines at the head and tail of
//! the ARM's buffer go to fragment `n` of the pool announced in slot zero, not to the pages;
//! the ARM copies them into place.

use crate::engine::{pagelist_err, BulkDir, CacheLine, Header, RunWalker, Split};
use crate::engine::{PagelistError, PAGELIST_HEADER_SIZE};
use crate::sys::Dev;
use kernel::prelude::*;

/// The fragment pool announced in slot zero's platform data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fragments {
    /// Bus address of fragment 0.
    pub(crate) bus: u32,
    /// Number of fragments.
    pub(crate) count: u32,
    /// Cache line size; each fragment is two lines.
    pub(crate) cls: CacheLine,
}

impl Fragments {
    /// Bus address of fragment `n`'s head line (its tail line follows one line later).
    fn addr(&self, n: u16) -> Result<u32> {
        let off = self
            .cls
            .fragment_offset(u32::from(n), self.count)
            .ok_or(EINVAL)?;
        self.bus.checked_add(off).ok_or(EINVAL)
    }
}

/// Reads and checks the header of the pagelist at `pagelist` for a transfer of `len` bytes
/// in the VideoCore's direction `dir`.
fn header(dev: &Dev, dir: BulkDir, pagelist: u32, len: u32) -> Result<Header> {
    let mut bytes = [0u8; PAGELIST_HEADER_SIZE as usize];
    dev.read_bus(pagelist, &mut bytes)?;
    let h = Header::parse(bytes, len).map_err(pagelist_err)?;
    // The ARM's direction is the opposite of ours.
    if h.kind.arm_dir() == dir {
        return Err(pagelist_err(PagelistError::Type));
    }
    Ok(h)
}

/// Performs the transfer between the ARM's buffer described by the pagelist at `pagelist`
/// and `buf` (the VideoCore's bytes): `Receive` copies the ARM's data into `buf`, `Transmit`
/// copies `buf` to the ARM. Returns the byte count (always `buf.len()`).
///
/// # Errors
///
/// `EINVAL` for an inconsistent pagelist, `EFAULT` for an address that is not RAM. Part of
/// the data may have been copied.
pub(crate) fn transfer(
    dev: &Dev,
    frags: &Fragments,
    dir: BulkDir,
    pagelist: u32,
    buf: &mut [u8],
) -> Result<u32> {
    let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
    if len == 0 {
        return Ok(0);
    }
    let h = header(dev, dir, pagelist, len)?;
    let frag = h.kind.fragment().map(|n| frags.addr(n)).transpose()?;
    let split = match frag {
        Some(_) => Split::new(frags.cls, h.offset, len),
        None => Split { head: 0, tail: 0 },
    };
    let mut walk = RunWalker::new(pagelist, &h);
    while let Some(entry) = walk.next_entry().map_err(pagelist_err)? {
        let mut word = [0u8; 4];
        dev.read_bus(entry, &mut word)?;
        let chunk = walk.feed(u32::from_le_bytes(word)).map_err(pagelist_err)?;
        if let Some(part) = chunk.outside(split, len) {
            copy(dev, dir, part.bus, buf, part.at, part.len)?;
        }
    }
    if let Some(f) = frag {
        copy(dev, dir, f, buf, 0, split.head)?;
        let tail_line = f.checked_add(frags.cls.bytes()).ok_or(EINVAL)?;
        copy(dev, dir, tail_line, buf, split.tail_start(len), split.tail)?;
    }
    Ok(len)
}

/// Copies bytes `at..at + n` of `buf` from (`Receive`) or to bus address `bus`.
fn copy(dev: &Dev, dir: BulkDir, bus: u32, buf: &mut [u8], at: u32, n: u32) -> Result {
    if n == 0 {
        return Ok(());
    }
    let end = at.checked_add(n).ok_or(EINVAL)?;
    let part = buf.get_mut(at as usize..end as usize).ok_or(EINVAL)?;
    match dir {
        BulkDir::Receive => dev.read_bus(bus, part),
        BulkDir::Transmit => dev.write_bus(bus, part),
    }
}
