//! The firmware's logs as vclog prints them (`-m`, `-a`): the log area from
//! `/proc/device-tree/chosen/log` (two big-endian cells: start, size), its table of contents,
//! a log's header `{id, start, end, write, read}` and the records `{u32 time_ms, u16 seq,
//! u16 size}` + payload between `read` and `write`, wrapping at `end`.

use crate::mem::VcMem;
use std::io;

pub const LOG_ID: u32 = 0x564c_4f47;
pub const MSG_ID: u32 = 0x5353_454d;
pub const ASSERT_ID: u32 = 0x5452_5341;
const REC_HDR: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Msg,
    Assert,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// `/chosen/log`: the area's start and size, or the `log_area` symbol without a device tree.
pub fn area(m: &VcMem) -> io::Result<(u32, u32)> {
    match std::fs::read("/proc/device-tree/chosen/log") {
        Ok(b) if b.len() >= 8 => Ok((
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        )),
        _ => {
            let s = crate::symbols::lookup(m, "log_area")?;
            Ok((s.addr, s.size))
        }
    }
}

/// One record: time, sequence number, payload.
pub struct Rec {
    pub time: u32,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// The records of one log, oldest first.
pub fn records(m: &VcMem, kind: Kind) -> io::Result<Vec<Rec>> {
    let (start, _size) = area(m)?;
    if m.read_u32(start)? != LOG_ID {
        return Err(bad("no log area magic"));
    }
    let (toc_off, id) = match kind {
        Kind::Assert => (32, ASSERT_ID),
        Kind::Msg => (40, MSG_ID),
    };
    let hdr_addr = m.read_u32(start + toc_off + 4)?;
    let mut h = [0u8; 20];
    m.read(hdr_addr, &mut h)?;
    let w = |i: usize| u32::from_le_bytes([h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]]);
    if w(0) != id {
        return Err(bad("Log ID incorrect"));
    }
    let (lstart, lend, write, read) = (w(1), w(2), w(3), w(4));
    let cap = lend
        .checked_sub(lstart)
        .filter(|&c| c > 0 && c <= 16 << 20)
        .ok_or(bad("log bounds"))?;
    let mut buf = vec![0u8; cap as usize];
    m.read(lstart, &mut buf)?;
    let (mut pos, wpos) = (read.wrapping_sub(lstart), write.wrapping_sub(lstart));
    if pos >= cap || wpos >= cap {
        return Err(bad("Log pointers out of range"));
    }
    let at = |p: u32, n: usize| -> Vec<u8> {
        (0..n)
            .map(|i| buf[((p as usize) + i) % cap as usize])
            .collect()
    };
    let mut out = Vec::new();
    while pos != wpos {
        let hdr = at(pos, REC_HDR);
        let size = u16::from_le_bytes([hdr[6], hdr[7]]) as u32;
        let used = (wpos + cap - pos) % cap;
        if (size as usize) < REC_HDR || size > used {
            return Err(bad("Log corrupt"));
        }
        out.push(Rec {
            time: u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]),
            seq: u16::from_le_bytes([hdr[4], hdr[5]]),
            payload: at(pos + REC_HDR as u32, size as usize - REC_HDR),
        });
        pos = (pos + size) % cap;
    }
    Ok(out)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A record as vclog prints it.
pub fn format(kind: Kind, r: &Rec) -> String {
    let t = format!("{:06}.{:03}", r.time / 1000, r.time % 1000);
    match kind {
        Kind::Msg => format!("{t}: {}", cstr(r.payload.get(4..).unwrap_or(&[]))),
        Kind::Assert => {
            let file = cstr(&r.payload);
            let at = file.len() + 1;
            let line = r
                .payload
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            let cond = cstr(r.payload.get(at + 4..).unwrap_or(&[]));
            format!("{t}: assert( {cond} ) failed; {file} line {line}\n----------------")
        }
    }
}
