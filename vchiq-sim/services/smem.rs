// SPDX-License-Identifier: GPL-2.0

//! `SMEM`: the VideoCore's shared-memory service behind vc-sm-cma (firmware-services.md §4),
//! one listener, version 1/0.
//!
//! Every ARM message starts with `{u32 type; u32 trans_id}`. The VideoCore keeps a table of
//! handles, each referring to ARM memory by bus address, with a reference count per holder:
//! the ARM (taken by IMPORT, dropped by FREE) and the VideoCore itself (taken by
//! VC_MEM_REQUEST and the `hold` command, the way MMAL holds a buffer it works on). When the
//! last reference goes, the handle is gone and a protocol-2 firmware sends RELEASED.
//!
//! Commands (the `smem` debugfs file, [`Smem::command`]), run in the VideoCore's context:
//!
//! | command | effect |
//! |---|---|
//! | `fault N` | [`Fault`]: how the next answers misbehave (persistent; 0 normal) |
//! | `version N` | protocol spoken from the next CLIENT_VERSION on: 2 acknowledges it and sends RELEASED, 1 does neither |
//! | `hold H` / `unhold H` | the VideoCore takes / drops a reference on handle H |
//! | `release H` | the VideoCore drops every reference, the ARM's too (RELEASED before FREE) |
//! | `camera H FRAME` | writes the test pattern of frame FRAME into H's memory, by bus address |
//! | `checksum H` | reads H's memory by bus address and publishes its FNV-1a checksum |
//! | `request SIZE ALIGN` | sends VC_MEM_REQUEST (the VideoCore asks the ARM for memory) |
//! | `released KID` | sends RELEASED for kernel id KID, which no handle has |
//! | `late` | sends the IMPORT answers held back by fault 3 |
//! | `garbage` | sends one of each hostile message: an unknown event, a reply to nothing, a short and an oversized message |

use super::{fourcc, SimService};
use crate::engine::{ServerOptions, ServiceParams};
use crate::host::{Ctx, Lid};
use crate::knobs::bump;
use kernel::prelude::*;

const SMEM: u32 = fourcc(b"SMEM");

/// Message types (firmware-services.md §4.2).
const FREE: u32 = 4;
const IMPORT: u32 = 8;
const CLIENT_VERSION: u32 = 9;
const VC_MEM_REQUEST_REPLY: u32 = 10;
const RELEASED: u32 = 11;
const VC_MEM_REQUEST: u32 = 12;
/// Bit 31 of a VideoCore message's first word: an event, not a reply.
const EVENT: u32 = 0x8000_0000;

/// The largest buffer a handle may describe (the VideoCore's 1 GiB alias).
const MAX_SIZE: u32 = 0x4000_0000;
/// Handles at most (the firmware's table is finite too).
const MAX_HANDLES: usize = 1024;
/// The first handle number (never 0: 0 means failure).
const FIRST_HANDLE: u32 = 0x5a00_0001;
/// Chunk of the camera and checksum copies.
const CHUNK: usize = 4096;
/// First word of a camera frame ("CAMF", little-endian).
pub(crate) const CAMERA_MAGIC: u32 = 0x464d_4143;

/// Answer faults (`fault N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None = 0,
    /// IMPORT answered with handle 0 (the import fails with ENOMEM).
    ImportZero = 1,
    /// IMPORT answered with a trans_id nobody waits for (the waiter times out).
    WrongTransId = 2,
    /// IMPORT answers held back until `late` (an interrupted waiter's late reply).
    HoldReplies = 3,
    /// FREE answered although it expects no answer (thrown away by the ARM).
    AnswerFree = 4,
    /// No RELEASED ever (the buffers stay alive on the ARM, visible in its debugfs).
    NoReleased = 5,
}

impl Fault {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::None,
            1 => Self::ImportZero,
            2 => Self::WrongTransId,
            3 => Self::HoldReplies,
            4 => Self::AnswerFree,
            5 => Self::NoReleased,
            _ => return None,
        })
    }
}

/// A handle: ARM memory the VideoCore may use.
struct Handle {
    handle: u32,
    bus: u32,
    size: u32,
    kernel_id: u32,
    /// References of the ARM (IMPORT).
    arm: u32,
    /// References of the VideoCore itself.
    vc: u32,
}

/// A VC_MEM_REQUEST waiting for its answer.
struct Request {
    trans_id: u32,
    size: u32,
    /// The handle announced in the request, used if the ARM gives memory.
    handle: u32,
}

struct Smem {
    lid: Option<Lid>,
    /// Whether the ARM is connected.
    open: bool,
    /// The protocol this firmware speaks (`version N`).
    version: u32,
    /// The ARM announced protocol 2 and was acknowledged: RELEASED is expected.
    released: bool,
    fault: Fault,
    handles: KVec<Handle>,
    next_handle: u32,
    /// VC_MEM_REQUESTs not answered yet.
    requests: KVec<Request>,
    next_request: u32,
    /// IMPORT answers held back (fault 3).
    held: KVec<[u8; 8]>,
    /// The last published checksum: handle and value.
    checksum: Option<(u32, u32)>,
    /// Counters for the `smem` file.
    imports: u32,
    frees: u32,
    releases_sent: u32,
    bad: u32,
    /// The last VC_MEM_REQUEST answer: kernel id and bus address (0: refused).
    last_request: Option<(u32, u32)>,
}

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    Ok(KBox::new(
        Smem {
            lid: None,
            open: false,
            version: 2,
            released: false,
            fault: Fault::None,
            handles: KVec::new(),
            next_handle: FIRST_HANDLE,
            requests: KVec::new(),
            next_request: 1,
            held: KVec::new(),
            checksum: None,
            imports: 0,
            frees: 0,
            releases_sent: 0,
            bad: 0,
            last_request: None,
        },
        GFP_KERNEL,
    )? as KBox<dyn SimService>)
}

/// The little-endian `u32` at word `i` of `data`.
fn word(data: &[u8], i: usize) -> Option<u32> {
    let off = i.checked_mul(4)?;
    let b = data.get(off..off.checked_add(4)?)?;
    <[u8; 4]>::try_from(b).ok().map(u32::from_le_bytes)
}

/// Little-endian words as a message.
fn words<const N: usize>(w: [u32; N]) -> KVec<u8> {
    let mut v = KVec::new();
    for x in w {
        // A few dozen bytes: a failure leaves a short message, which the ARM refuses.
        let _ = v.extend_from_slice(&x.to_le_bytes(), GFP_KERNEL);
    }
    v
}

/// Word `k` of camera frame `frame`: magic, frame number, then a per-word value.
pub(crate) fn camera_word(frame: u32, k: u32) -> u32 {
    match k {
        0 => CAMERA_MAGIC,
        1 => frame,
        _ => k.wrapping_mul(2_654_435_761) ^ frame,
    }
}

/// FNV-1a over `data`, continuing from `h`.
fn fnv1a(mut h: u32, data: &[u8]) -> u32 {
    for &b in data {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a's starting value.
const FNV_INIT: u32 = 0x811c_9dc5;

impl Smem {
    fn send(&mut self, cx: &mut Ctx<'_>, msg: &[u8]) {
        let Some(lid) = self.lid.filter(|_| self.open) else {
            return;
        };
        if cx.send(lid, msg).is_err() {
            bump(&cx.counters().errors);
        }
    }

    fn find(&self, handle: u32) -> Option<usize> {
        self.handles.iter().position(|h| h.handle == handle)
    }

    /// Removes handle `i` if nobody holds it, sending RELEASED when the protocol asks for it.
    fn maybe_release(&mut self, cx: &mut Ctx<'_>, i: usize) {
        let Some(h) = self.handles.get(i) else { return };
        if h.arm != 0 || h.vc != 0 {
            return;
        }
        let Ok(h) = self.handles.remove(i) else {
            return;
        };
        crate::fwmem::msg(format_args!("smem: handle {:#x} released", h.handle));
        if self.released && self.fault != Fault::NoReleased {
            self.releases_sent = self.releases_sent.wrapping_add(1);
            let m = words([EVENT | RELEASED, h.bus, h.size, h.kernel_id, h.handle]);
            self.send(cx, &m);
        }
    }

    /// A fresh handle number.
    fn take_handle(&mut self) -> u32 {
        let handle = self.next_handle;
        self.next_handle = match self.next_handle.wrapping_add(1) {
            0 => FIRST_HANDLE,
            n => n,
        };
        handle
    }

    /// Creates a handle; 0 if the table is full.
    fn new_handle(&mut self, bus: u32, size: u32, kernel_id: u32, arm: u32, vc: u32) -> u32 {
        let handle = self.take_handle();
        self.add_handle(handle, bus, size, kernel_id, arm, vc)
    }

    fn add_handle(
        &mut self,
        handle: u32,
        bus: u32,
        size: u32,
        kernel_id: u32,
        arm: u32,
        vc: u32,
    ) -> u32 {
        if self.handles.len() >= MAX_HANDLES {
            return 0;
        }
        let h = Handle {
            handle,
            bus,
            size,
            kernel_id,
            arm,
            vc,
        };
        if self.handles.push(h, GFP_KERNEL).is_err() {
            return 0;
        }
        handle
    }

    fn client_version(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        let v = word(data, 2).unwrap_or(0);
        crate::fwmem::msg(format_args!("smem: client version {v}"));
        if self.version >= 2 && v >= 2 {
            self.released = true;
            let m = words([EVENT | CLIENT_VERSION, 0]);
            self.send(cx, &m);
        }
    }

    fn import(&mut self, cx: &mut Ctx<'_>, trans_id: u32, data: &[u8]) {
        self.imports = self.imports.wrapping_add(1);
        let (bus, size, kid) = (word(data, 3), word(data, 4), word(data, 5));
        let handle = match (bus, size, kid) {
            (Some(bus), Some(size), Some(kid))
                if size != 0 && size <= MAX_SIZE && bus.checked_add(size - 1).is_some() =>
            {
                if self.fault == Fault::ImportZero {
                    0
                } else {
                    self.new_handle(bus, size, kid, 1, 0)
                }
            }
            _ => {
                self.bad = self.bad.wrapping_add(1);
                0
            }
        };
        crate::fwmem::msg(format_args!("smem: import -> {handle:#x}"));
        let id = match self.fault {
            Fault::WrongTransId => (trans_id ^ 0x4000_0000) & !EVENT,
            _ => trans_id,
        };
        let m = words([id, handle]);
        if self.fault == Fault::HoldReplies {
            let mut b = [0u8; 8];
            b.copy_from_slice(m.get(..8).unwrap_or(&[0; 8]));
            if self.held.push(b, GFP_KERNEL).is_err() {
                bump(&cx.counters().errors);
            }
            return;
        }
        self.send(cx, &m);
    }

    fn free(&mut self, cx: &mut Ctx<'_>, trans_id: u32, data: &[u8]) {
        self.frees = self.frees.wrapping_add(1);
        let handle = word(data, 2).unwrap_or(0);
        match self.find(handle) {
            Some(i) => {
                if let Some(h) = self.handles.get_mut(i) {
                    h.arm = h.arm.saturating_sub(1);
                }
                self.maybe_release(cx, i);
            }
            None => self.bad = self.bad.wrapping_add(1),
        }
        if self.fault == Fault::AnswerFree {
            let m = words([trans_id, 0]);
            self.send(cx, &m);
        }
    }

    fn mem_request_reply(&mut self, data: &[u8]) {
        let (tid, bus, kid) = (word(data, 2), word(data, 3), word(data, 4));
        let (Some(tid), Some(bus), Some(kid)) = (tid, bus, kid) else {
            self.bad = self.bad.wrapping_add(1);
            return;
        };
        let Some(i) = self.requests.iter().position(|r| r.trans_id == tid) else {
            self.bad = self.bad.wrapping_add(1);
            return;
        };
        let Ok(r) = self.requests.remove(i) else {
            return;
        };
        self.last_request = Some((kid, bus));
        if bus == 0 || kid == 0 {
            crate::fwmem::msg(format_args!("smem: memory request {tid} refused"));
            return;
        }
        // The handle the request announced is the one the VideoCore now uses.
        let handle = self.add_handle(r.handle, bus, r.size, kid, 0, 1);
        crate::fwmem::msg(format_args!("smem: memory request {tid} -> {handle:#x}"));
    }

    /// Writes frame `frame` into handle `i`'s memory through its bus address.
    fn camera(&self, cx: &Ctx<'_>, i: usize, frame: u32) -> Result {
        let h = self.handles.get(i).ok_or(EINVAL)?;
        let mut buf = KVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
        let mut off = 0u32;
        while off < h.size {
            let n = (h.size - off).min(CHUNK as u32);
            let chunk = buf.get_mut(..n as usize).ok_or(EINVAL)?;
            for (j, w) in chunk.chunks_mut(4).enumerate() {
                let k = (off / 4).wrapping_add(j as u32);
                let b = camera_word(frame, k).to_le_bytes();
                w.copy_from_slice(b.get(..w.len()).unwrap_or(&[]));
            }
            cx.dev().write_bus(h.bus.wrapping_add(off), chunk)?;
            off += n;
        }
        Ok(())
    }

    /// The checksum of handle `i`'s memory, read through its bus address.
    fn sum(&self, cx: &Ctx<'_>, i: usize) -> Result<u32> {
        let h = self.handles.get(i).ok_or(EINVAL)?;
        let mut buf = KVec::from_elem(0u8, CHUNK, GFP_KERNEL)?;
        let (mut off, mut sum) = (0u32, FNV_INIT);
        while off < h.size {
            let n = (h.size - off).min(CHUNK as u32);
            let chunk = buf.get_mut(..n as usize).ok_or(EINVAL)?;
            cx.dev().read_bus(h.bus.wrapping_add(off), chunk)?;
            sum = fnv1a(sum, chunk);
            off += n;
        }
        Ok(sum)
    }

    fn request(&mut self, cx: &mut Ctx<'_>, size: u32, align: u32) -> Result {
        if !self.open {
            return Err(ENOTCONN);
        }
        let tid = self.next_request;
        self.next_request = self.next_request.wrapping_add(1) & !EVENT;
        let handle = self.take_handle();
        self.requests.push(
            Request {
                trans_id: tid,
                size,
                handle,
            },
            GFP_KERNEL,
        )?;
        let mut m = words([EVENT | VC_MEM_REQUEST, tid, size, align]);
        let mut name = [0u8; 32];
        name[..14].copy_from_slice(b"sim-vc-request");
        m.extend_from_slice(&name, GFP_KERNEL)?;
        m.extend_from_slice(&handle.to_le_bytes(), GFP_KERNEL)?;
        self.send(cx, &m);
        Ok(())
    }

    fn garbage(&mut self, cx: &mut Ctx<'_>) -> Result {
        // An unknown event, a reply to nothing, a 3-byte message, a 200-byte reply.
        self.send(cx, &words([EVENT | 0x55, 1, 2]));
        self.send(cx, &words([0x7fff_fff0, 0x1234]));
        self.send(cx, &[1, 2, 3]);
        let big = KVec::from_elem(0x11u8, 200, GFP_KERNEL)?;
        self.send(cx, &big);
        // A RELEASED and a VC_MEM_REQUEST cut short.
        self.send(cx, &words([EVENT | RELEASED, 0]));
        self.send(cx, &words([EVENT | VC_MEM_REQUEST, 9]));
        Ok(())
    }

    fn by_handle(&self, arg: Option<u32>) -> Result<usize> {
        arg.and_then(|h| self.find(h)).ok_or(ENOENT)
    }

    fn run(&mut self, cx: &mut Ctx<'_>, cmd: &str, a: Option<u32>, b: Option<u32>) -> Result {
        match cmd {
            "fault" => self.fault = a.and_then(Fault::from_u32).ok_or(EINVAL)?,
            "version" => match a {
                Some(v @ (1 | 2)) => self.version = v,
                _ => return Err(EINVAL),
            },
            "hold" => {
                let i = self.by_handle(a)?;
                if let Some(h) = self.handles.get_mut(i) {
                    h.vc = h.vc.saturating_add(1);
                }
            }
            "unhold" => {
                let i = self.by_handle(a)?;
                if let Some(h) = self.handles.get_mut(i) {
                    h.vc = h.vc.checked_sub(1).ok_or(EINVAL)?;
                }
                self.maybe_release(cx, i);
            }
            "release" => {
                let i = self.by_handle(a)?;
                if let Some(h) = self.handles.get_mut(i) {
                    h.arm = 0;
                    h.vc = 0;
                }
                self.maybe_release(cx, i);
            }
            "camera" => {
                let i = self.by_handle(a)?;
                self.camera(cx, i, b.ok_or(EINVAL)?)?;
            }
            "checksum" => {
                let i = self.by_handle(a)?;
                let sum = self.sum(cx, i)?;
                self.checksum = Some((a.unwrap_or(0), sum));
            }
            "request" => self.request(cx, a.ok_or(EINVAL)?, b.unwrap_or(4096))?,
            "released" => {
                let m = words([EVENT | RELEASED, 0, 0, a.ok_or(EINVAL)?, 0xdead]);
                self.send(cx, &m);
            }
            "late" => {
                let held = core::mem::take(&mut self.held);
                for m in &held {
                    self.send(cx, m);
                }
            }
            "garbage" => self.garbage(cx)?,
            _ => return Err(EINVAL),
        }
        Ok(())
    }
}

/// Parses a number in decimal or with `0x`.
fn number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl SimService for Smem {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        let params = ServiceParams {
            fourcc: SMEM,
            version: 1,
            version_min: 0,
        };
        self.lid = Some(cx.add_listener(params, ServerOptions::default())?);
        Ok(())
    }

    fn opened(&mut self, _cx: &mut Ctx<'_>, _lid: Lid, _client_id: u32) {
        self.open = true;
    }

    /// The connection went: so do the ARM's imports and the questions to it (firmware-services
    /// §4.4, 5); the VideoCore's own references stay.
    fn closed(&mut self, _cx: &mut Ctx<'_>, _lid: Lid) {
        self.open = false;
        self.released = false;
        self.requests.clear();
        self.held.clear();
        self.handles.retain(|h| h.vc != 0);
        for h in self.handles.iter_mut() {
            h.arm = 0;
        }
    }

    fn message(&mut self, cx: &mut Ctx<'_>, _lid: Lid, data: &[u8]) {
        let (Some(ty), Some(trans_id)) = (word(data, 0), word(data, 1)) else {
            self.bad = self.bad.wrapping_add(1);
            return;
        };
        match ty {
            CLIENT_VERSION => self.client_version(cx, data),
            IMPORT => self.import(cx, trans_id, data),
            FREE => self.free(cx, trans_id, data),
            VC_MEM_REQUEST_REPLY => self.mem_request_reply(data),
            _ => {
                self.bad = self.bad.wrapping_add(1);
                crate::fwmem::msg(format_args!("smem: unsupported message type {ty}"));
            }
        }
    }

    fn command(&mut self, cx: &mut Ctx<'_>, line: &str) -> Option<Result> {
        let mut w = line.split_ascii_whitespace();
        let cmd = w.next()?;
        let (a, b) = (w.next().map(number), w.next().map(number));
        if a == Some(None) || b == Some(None) {
            return Some(Err(EINVAL));
        }
        crate::fwmem::msg(format_args!("knob smem: {line}"));
        Some(self.run(cx, cmd, a.flatten(), b.flatten()))
    }

    fn describe(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        writeln!(
            f,
            "open: {} version: {} released: {} fault: {:?}",
            self.open, self.version, self.released, self.fault
        )?;
        writeln!(
            f,
            "imports: {} frees: {} releases: {} bad: {} held: {} requests: {}",
            self.imports,
            self.frees,
            self.releases_sent,
            self.bad,
            self.held.len(),
            self.requests.len()
        )?;
        if let Some((h, sum)) = self.checksum {
            writeln!(f, "checksum: {h:#x} {sum:#010x}")?;
        }
        if let Some((kid, bus)) = self.last_request {
            writeln!(f, "request: kernel_id {kid} bus {bus:#x}")?;
        }
        writeln!(f, "handles: {}", self.handles.len())?;
        for h in &self.handles {
            writeln!(
                f,
                "handle {:#x} bus {:#x} size {} kernel_id {} arm {} vc {}",
                h.handle, h.bus, h.size, h.kernel_id, h.arm, h.vc
            )?;
        }
        Ok(())
    }
}
