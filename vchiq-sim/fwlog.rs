// SPDX-License-Identifier: GPL-2.0

//! The simulated firmware's logs: the log area that `/chosen/log` points at, in the format
//! vclog reads (firmware-services.md §5.5).
//!
//! The area starts with a table of contents: eight words of which the first is the area's
//! magic, then `{type, address}` for the assert, message and task logs. Each log is a header
//! `{id, start, end, write, read}` (VideoCore addresses) and a circular buffer between `start`
//! and `end`: records `{u32 time_ms, u16 seq, u16 size}` followed by `size - 8` bytes of
//! payload, written at `write`, the oldest at `read`; a record may wrap around the end. When a
//! new record does not fit, the oldest ones are dropped (`read` moves on), so `read == write`
//! only when the log is empty.

use crate::fwmem::Mapping;
use kernel::prelude::*;

/// The area's magic (the first word of the table of contents).
pub(crate) const LOG_ID: u32 = 0x564c_4f47;
/// Message log id.
pub(crate) const MSG_ID: u32 = 0x5353_454d;
/// Task log id.
pub(crate) const TASK_ID: u32 = 0x3b53_4154;
/// Assert log id.
pub(crate) const ASSERT_ID: u32 = 0x5452_5341;

/// Size of a record's header.
pub(crate) const REC_HDR: usize = 8;
/// Largest record the simulator writes (header included).
pub(crate) const REC_MAX: usize = 256;

/// Table of contents: 8 words, then 3 `{type, address}` pairs.
const TOC_SIZE: u32 = 8 * 4 + 3 * 8;
/// Offsets of the three log headers in the area (after the table of contents).
const ASSERT_HDR: u32 = 0x40;
const MSG_HDR: u32 = 0x60;
const TASK_HDR: u32 = 0x80;
/// Where the buffers start in the area.
const BUFFERS: u32 = 0x100;
/// Sizes of the assert and task buffers; the message buffer has the rest.
const ASSERT_BUF: u32 = 0x800;
const TASK_BUF: u32 = 0x400;
/// The smallest area these fit in (with a message buffer of 1 KiB).
pub(crate) const AREA_MIN: u32 = BUFFERS + ASSERT_BUF + TASK_BUF + 0x400;

/// One circular log. Positions are offsets from `start`.
pub(crate) struct Ring {
    hdr: u32,
    start: u32,
    cap: u32,
    write: u32,
    read: u32,
    /// Records lost because the buffer read back inconsistent (the log was reset).
    pub(crate) resets: u32,
}

impl Ring {
    /// An empty log with its header at `hdr` and its buffer `[start, start + cap)`.
    fn new(map: &Mapping, id: u32, hdr: u32, start: u32, cap: u32) -> Result<Self> {
        let r = Self {
            hdr,
            start,
            cap,
            write: 0,
            read: 0,
            resets: 0,
        };
        map.put32(hdr, id)?;
        map.put32(hdr + 4, start)?;
        map.put32(hdr + 8, start + cap)?;
        r.publish(map)?;
        Ok(r)
    }

    fn publish(&self, map: &Mapping) -> Result {
        map.put32(self.hdr + 16, self.start + self.read)?;
        map.put32(self.hdr + 12, self.start + self.write)
    }

    fn used(&self) -> u32 {
        (self.write + self.cap - self.read) % self.cap
    }

    /// Writes `bytes` at position `pos`, wrapping at the end.
    fn put_wrapped(&self, map: &Mapping, pos: u32, bytes: &[u8]) -> Result {
        let first = ((self.cap - pos) as usize).min(bytes.len());
        let (a, b) = bytes.split_at(first);
        map.write(self.start + pos, a)?;
        map.write(self.start, b)
    }

    /// The size field of the record at `read`.
    fn oldest_size(&self, map: &Mapping) -> Result<u32> {
        let mut hdr = [0u8; REC_HDR];
        let first = ((self.cap - self.read) as usize).min(REC_HDR);
        let (a, b) = hdr.split_at_mut(first);
        map.read(self.start + self.read, a)?;
        map.read(self.start, b)?;
        Ok(u32::from(u16::from_le_bytes([hdr[6], hdr[7]])))
    }

    /// Appends a record (header included), dropping the oldest ones to make room.
    pub(crate) fn push(&mut self, map: &Mapping, rec: &[u8]) -> Result {
        let need = u32::try_from(rec.len()).map_err(|_| EINVAL)?;
        if need >= self.cap {
            return Err(EINVAL);
        }
        while self.used() + need >= self.cap {
            let size = self.oldest_size(map)?;
            if (size as usize) < REC_HDR || size > self.used() {
                // Not what we wrote (a writable mapping scribbled on it): start afresh.
                self.resets = self.resets.wrapping_add(1);
                self.read = self.write;
                break;
            }
            self.read = (self.read + size) % self.cap;
        }
        // The reader must never see `read` behind data being overwritten: move it first.
        map.put32(self.hdr + 16, self.start + self.read)?;
        self.put_wrapped(map, self.write, rec)?;
        self.write = (self.write + need) % self.cap;
        self.publish(map)
    }
}

/// The three logs of the area.
pub(crate) struct Logs {
    pub(crate) msg: Ring,
    pub(crate) assert: Ring,
    _task: Ring,
}

impl Logs {
    /// Lays out the area `[base, base + size)` with empty logs.
    pub(crate) fn new(map: &Mapping, base: u32, size: u32) -> Result<Self> {
        if size < AREA_MIN {
            return Err(EINVAL);
        }
        map.write(base, &[0u8; TOC_SIZE as usize])?;
        let assert_start = base + BUFFERS;
        let task_start = assert_start + ASSERT_BUF;
        let msg_start = task_start + TASK_BUF;
        let toc = [
            (ASSERT_ID, base + ASSERT_HDR),
            (MSG_ID, base + MSG_HDR),
            (TASK_ID, base + TASK_HDR),
        ];
        for (i, (id, hdr)) in (0u32..).zip(toc) {
            map.put32(base + 32 + i * 8, id)?;
            map.put32(base + 36 + i * 8, hdr)?;
        }
        let logs = Self {
            assert: Ring::new(map, ASSERT_ID, base + ASSERT_HDR, assert_start, ASSERT_BUF)?,
            _task: Ring::new(map, TASK_ID, base + TASK_HDR, task_start, TASK_BUF)?,
            msg: Ring::new(
                map,
                MSG_ID,
                base + MSG_HDR,
                msg_start,
                base + size - msg_start,
            )?,
        };
        // The magic last: a reader that sees it sees a complete area.
        map.put32(base, LOG_ID)?;
        Ok(logs)
    }
}

/// A record being built: header, then payload, at most [`REC_MAX`] bytes (longer text is cut).
pub(crate) struct Record {
    buf: [u8; REC_MAX],
    len: usize,
}

impl Record {
    pub(crate) fn new(time_ms: u32, seq: u16) -> Self {
        let mut buf = [0u8; REC_MAX];
        buf[..4].copy_from_slice(&time_ms.to_le_bytes());
        buf[4..6].copy_from_slice(&seq.to_le_bytes());
        Self { buf, len: REC_HDR }
    }

    /// Appends bytes, as many as fit (keeping room for a final NUL).
    pub(crate) fn push(&mut self, b: &[u8]) {
        let room = REC_MAX - 1 - self.len;
        let n = b.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }

    /// The finished record: NUL-terminated, padded to four bytes, with its size.
    pub(crate) fn finish(&mut self) -> &[u8] {
        let len = (self.len + 1).next_multiple_of(4).min(REC_MAX);
        // The bytes past `len` are still zero: NUL and padding.
        self.len = len;
        self.buf[6..8].copy_from_slice(&(len as u16).to_le_bytes());
        &self.buf[..len]
    }
}

impl core::fmt::Write for Record {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}
