// SPDX-License-Identifier: GPL-2.0

//! Bulk DMA: the VideoCore's side of a bulk transfer, driven by the ARM's pagelist
//! (vchiq-protocol.md §6.3, §6.4).
//!
//! The pagelist at the bus address of the BULK_RX/BULK_TX message is
//! `{ u32 length; u16 type; u16 offset; u32 addrs[] }`, each `addrs` entry a page-aligned bus
//! address of a run of pages with (pages - 1) in the low 12 bits; the runs cover
//! `offset + length` bytes. Everything in it is untrusted: lengths, the type, the offset, run
//! counts and addresses are checked, every address is translated and validated page by page,
//! and any failure aborts the transfer instead of touching memory it should not.
//!
//! Receives with fragments (type `2 + n`): the partial cache lines at the head and tail of
//! the ARM's buffer go to fragment `n` of the pool announced in slot zero, not to the pages;
//! the ARM copies them into place.

use crate::engine::BulkDir;
use crate::sys::Dev;
use kernel::prelude::*;

/// The ARM's page size as the firmware sees it (the format assumes 4 KiB).
const PAGE: u32 = 4096;
/// Pagelist types.
const TYPE_WRITE: u16 = 0;
const TYPE_READ: u16 = 1;
const TYPE_READ_FRAGMENTS: u16 = 2;
/// Size of the pagelist header.
const HEADER: u32 = 8;

/// The fragment pool announced in slot zero's platform data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fragments {
    /// Bus address of fragment 0.
    pub(crate) bus: u32,
    /// Number of fragments.
    pub(crate) count: u32,
    /// Cache line size (32 or 64); each fragment is two lines.
    pub(crate) cls: u32,
}

impl Fragments {
    /// Bus address of fragment `n`.
    fn addr(&self, n: u32) -> Result<u32> {
        if n >= self.count {
            return Err(EINVAL);
        }
        let off = u64::from(n) * u64::from(self.cls) * 2;
        u32::try_from(u64::from(self.bus) + off).map_err(|_| EINVAL)
    }
}

/// Where the bytes of a receive go: head and tail partial lines to a fragment, if any.
#[derive(Clone, Copy)]
pub(crate) struct Split {
    /// Bytes `..head` go to the fragment's head line.
    pub(crate) head: usize,
    /// Bytes `mid_end..` go to the fragment's tail line.
    pub(crate) mid_end: usize,
    /// Bus address of the fragment, if the pagelist uses one.
    pub(crate) frag: Option<u32>,
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
    let mut hdr = [0u8; HEADER as usize];
    dev.read_bus(pagelist, &mut hdr)?;
    let [l0, l1, l2, l3, t0, t1, o0, o1] = hdr;
    let length = u32::from_le_bytes([l0, l1, l2, l3]);
    let ty = u16::from_le_bytes([t0, t1]);
    let offset = u32::from(u16::from_le_bytes([o0, o1]));
    if length != len || offset >= PAGE {
        return Err(EINVAL);
    }
    let frag = match (dir, ty) {
        (BulkDir::Receive, TYPE_WRITE) | (BulkDir::Transmit, TYPE_READ) => None,
        (BulkDir::Transmit, t) if t >= TYPE_READ_FRAGMENTS => {
            Some(frags.addr(u32::from(t - TYPE_READ_FRAGMENTS))?)
        }
        _ => return Err(EINVAL),
    };
    let split = split(frags.cls, offset, buf.len(), frag);

    // Walk the runs until `offset + len` bytes are covered. Every run covers at least one
    // page, so there are at most that many pages' worth of entries.
    let span = u64::from(offset) + u64::from(len);
    let max_runs = span.div_ceil(u64::from(PAGE));
    let mut entry = u64::from(pagelist) + u64::from(HEADER);
    let mut done = 0usize;
    let mut skip = u64::from(offset);
    let mut runs = 0u64;
    while done < buf.len() {
        runs += 1;
        if runs > max_runs {
            return Err(EINVAL);
        }
        let mut w = [0u8; 4];
        dev.read_bus(u32::try_from(entry).map_err(|_| EINVAL)?, &mut w)?;
        entry += 4;
        let e = u32::from_le_bytes(w);
        let base = u64::from(e & !(PAGE - 1));
        let pages = u64::from(e & (PAGE - 1)) + 1;
        let run_end = base + pages * u64::from(PAGE);
        if run_end > 1u64 << 32 {
            return Err(EINVAL);
        }
        let start = base + skip;
        skip = 0;
        let avail = usize::try_from(run_end - start).map_err(|_| EINVAL)?;
        let n = avail.min(buf.len() - done);
        let bus = u32::try_from(start).map_err(|_| EINVAL)?;
        segment(dev, dir, &split, bus, buf, done, n)?;
        done += n;
    }

    if let Some(f) = split.frag {
        let head = buf.get(..split.head).ok_or(EINVAL)?;
        if !head.is_empty() {
            dev.write_bus(f, head)?;
        }
        let tail = buf.get(split.mid_end..).ok_or(EINVAL)?;
        if !tail.is_empty() {
            let at = f.checked_add(frags.cls).ok_or(EINVAL)?;
            dev.write_bus(at, tail)?;
        }
    }
    Ok(len)
}

/// Computes the fragment split of a receive of `len` bytes at page offset `offset`.
pub(crate) fn split(cls: u32, offset: u32, len: usize, frag: Option<u32>) -> Split {
    if frag.is_none() {
        return Split {
            head: 0,
            mid_end: len,
            frag,
        };
    }
    // `cls` is a power of two (checked at load).
    let mask = cls.wrapping_sub(1);
    let head = usize::try_from(cls.wrapping_sub(offset) & mask)
        .unwrap_or(0)
        .min(len);
    let tail = if head < len {
        // CAST: `len` fits in u32 (checked by the caller); only the low bits matter.
        usize::try_from(offset.wrapping_add(len as u32) & mask).unwrap_or(0)
    } else {
        0
    };
    Split {
        head,
        mid_end: len - tail,
        frag,
    }
}

/// Copies bytes `at..at + n` of `buf` to or from bus address `bus`, leaving out the bytes
/// that belong to the fragment.
fn segment(
    dev: &Dev,
    dir: BulkDir,
    split: &Split,
    bus: u32,
    buf: &mut [u8],
    at: usize,
    n: usize,
) -> Result {
    let end = at.checked_add(n).ok_or(EINVAL)?;
    let lo = at.max(split.head);
    let hi = end.min(split.mid_end);
    if lo >= hi {
        return Ok(());
    }
    let bus = bus
        .checked_add(u32::try_from(lo - at).map_err(|_| EINVAL)?)
        .ok_or(EINVAL)?;
    let part = buf.get_mut(lo..hi).ok_or(EINVAL)?;
    match dir {
        BulkDir::Receive => dev.read_bus(bus, part),
        BulkDir::Transmit => dev.write_bus(bus, part),
    }
}
