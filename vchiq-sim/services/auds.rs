// SPDX-License-Identifier: GPL-2.0

//! `AUDS`: the firmware's audio service behind snd-bcm2835 (firmware-services.md §6), eight
//! listeners (one per substream), version 2/1 (knob `auds_version`: 1 makes the ARM use
//! bulk transfers).
//!
//! Every ARM message is a 20-byte `{ i32 type; 16 bytes }` except the raw PCM bytes that
//! follow a WRITE with `max_packet > 0` (the connection counts how many are still due). Per
//! connection the service keeps the format (CONFIG), volume and route (CONTROL), whether it
//! plays (START/STOP) and the bytes received but not yet played. Playing consumes 10 ms
//! chunks at the configured rate, `auds_speed` times faster than real time (0: at once) and
//! reports each with COMPLETE{count, 'BCMA', 'DATA'}. STOP drops what was not played.
//!
//! What was played goes to the connection's capture ([`CAPTURES`], debugfs
//! `auds_capture<N>`; `auds` lists the format, volume and route). Received bytes are
//! appended at once and the unplayed tail is cut at STOP, so a quiet connection's capture
//! is exactly what was played. The captures are kept after the close, until the next open.
//!
//! Faults (firmware-services.md §7): `auds_fault` ([`Fault`]), `auds_underrun` and
//! `auds_overcount` (one-shot counts), `auds_delay_ms` (for [`Fault::SlowResult`]); the
//! generic `refuse_open` refuses opens.

use super::{fourcc, le_i32, le_u32, SimService};
use crate::engine::{log_nth, BulkDir, BulkResult, ServerOptions, ServiceParams};
use crate::host::{BulkBuf, Ctx, Lid};
use crate::knobs::bump;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

const AUDS: u32 = fourcc(b"AUDS");
/// Concurrent connections (the driver's substreams).
pub(crate) const LISTENERS: usize = 8;
/// The size of every control message.
const MSG_SIZE: usize = 20;

// Message types (§6.2).
const M_RESULT: i32 = 0;
const M_COMPLETE: i32 = 1;
const M_CONFIG: i32 = 2;
const M_CONTROL: i32 = 3;
const M_OPEN: i32 = 4;
const M_CLOSE: i32 = 5;
const M_START: i32 = 6;
const M_STOP: i32 = 7;
const M_WRITE: i32 = 8;

/// The cookies a WRITE carries and a COMPLETE echoes.
const COOKIE1: u32 = 0x4243_4D41; // 'BCMA'
const COOKIE2: u32 = 0x4441_5441; // 'DATA'
/// The underrun signal: a count no buffer can hold.
const UNDERRUN: u32 = 0xFFFF_FFFF;
/// Largest WRITE accepted (the driver never writes more than its 128 KiB buffer).
const MAX_WRITE: u32 = 512 * 1024;
/// Largest capture per connection; more is counted as dropped.
const MAX_CAPTURE: usize = 8 << 20;

/// `auds_fault`: persistent misbehaviour, until set back to [`Fault::None`].
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Fault {
    None = 0,
    /// RESULT 1 for CONFIG (prepare fails: EIO).
    ConfigError = 1,
    /// RESULT 1 for CONTROL (prepare and mixer writes fail: EIO).
    ControlError = 2,
    /// RESULT 1 for CLOSE (the close is logged, the stream still ends).
    CloseError = 3,
    /// Never a COMPLETE: the data is taken and nothing is reported.
    NoComplete = 4,
    /// COMPLETE with wrong cookies (the driver ignores them: no progress).
    BadCookies = 5,
    /// Every RESULT `auds_delay_ms` late (past 10 s: ETIMEDOUT).
    SlowResult = 6,
    /// A RESULT nobody asked for after every OPEN message.
    StrayResult = 7,
}

impl Fault {
    /// Largest knob value.
    pub(crate) const MAX: u32 = Fault::StrayResult as u32;

    fn now() -> Self {
        match FAULT.load(Relaxed) {
            1 => Self::ConfigError,
            2 => Self::ControlError,
            3 => Self::CloseError,
            4 => Self::NoComplete,
            5 => Self::BadCookies,
            6 => Self::SlowResult,
            7 => Self::StrayResult,
            _ => Self::None,
        }
    }
}

/// `auds_fault` (see [`Fault`]).
pub(crate) static FAULT: Atomic<u32> = Atomic::new(0);
/// `auds_version`: the listeners' version (2: DATA messages; 1: bulk transfers). Applied to
/// every listener that is not open.
pub(crate) static VERSION: Atomic<u32> = Atomic::new(2);
/// `auds_speed`: playing speed as a multiple of real time; 0 plays what arrives at once.
pub(crate) static SPEED: Atomic<u32> = Atomic::new(1);
/// `auds_max_lag_ms`: how far behind its clock a playing connection may fall (0: no limit).
/// A connection found later than that (the guest did not run: QEMU's host was busy) plays on
/// from this far back instead of catching up with everything due meanwhile, as if the
/// VideoCore had stalled with the guest; real hardware catches up (the default).
pub(crate) static MAX_LAG_MS: Atomic<u32> = Atomic::new(0);
/// Times [`MAX_LAG_MS`] cut a connection's lag.
pub(crate) static STALLS: Atomic<u32> = Atomic::new(0);
/// `auds_underrun`: the next N chunks are reported as the underrun signal instead.
pub(crate) static UNDERRUNS: Atomic<u32> = Atomic::new(0);
/// `auds_overcount`: the next N COMPLETEs report 16 bytes more than everything received
/// and not yet reported.
pub(crate) static OVERCOUNTS: Atomic<u32> = Atomic::new(0);
/// `auds_delay_ms`: how late a RESULT is under [`Fault::SlowResult`].
pub(crate) static DELAY_MS: Atomic<u32> = Atomic::new(11_000);
/// Protocol errors of the ARM (malformed messages, data past a WRITE, unknown types).
pub(crate) static ERRORS: Atomic<u32> = Atomic::new(0);
/// Connections opened since load (each capture shows the number of its open).
static OPENS: Atomic<u32> = Atomic::new(0);

/// Takes one from a one-shot count; whether there was one.
fn take(knob: &Atomic<u32>) -> bool {
    let mut v = knob.load(Relaxed);
    while v > 0 {
        match knob.cmpxchg(v, v - 1, Relaxed) {
            Ok(_) => return true,
            Err(cur) => v = cur,
        }
    }
    false
}

/// What one connection played, as debugfs shows it.
pub(crate) struct Capture {
    /// Number of the open (0: never opened).
    pub(crate) seq: u32,
    pub(crate) open: bool,
    pub(crate) playing: bool,
    pub(crate) channels: u32,
    pub(crate) rate: u32,
    pub(crate) bps: u32,
    /// CONTROL's last volume (1/256 dB attenuation) and route.
    pub(crate) volume: u32,
    pub(crate) dest: u32,
    pub(crate) configs: u32,
    pub(crate) controls: u32,
    /// Bytes that came by bulk (the rest came in DATA messages).
    pub(crate) bulk_bytes: u32,
    /// Bytes reported in COMPLETEs.
    pub(crate) completed: u32,
    /// Bytes dropped by STOP before they were played.
    pub(crate) discarded: u32,
    /// Bytes beyond [`MAX_CAPTURE`].
    pub(crate) dropped: u32,
    pub(crate) data: KVVec<u8>,
}

impl Capture {
    const fn new() -> Self {
        Self {
            seq: 0,
            open: false,
            playing: false,
            channels: 0,
            rate: 0,
            bps: 0,
            volume: 0,
            dest: 0,
            configs: 0,
            controls: 0,
            bulk_bytes: 0,
            completed: 0,
            discarded: 0,
            dropped: 0,
            data: KVVec::new(),
        }
    }

    /// Appends `bytes` (as one copy: `extend_from_slice` goes byte by byte, about a
    /// millisecond per 4000-byte message on the debug kernels under QEMU).
    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_CAPTURE.saturating_sub(self.data.len());
        let n = bytes.len().min(room);
        if self.data.reserve(n, GFP_KERNEL).is_err() {
            self.dropped = self.dropped.saturating_add(n as u32);
        } else {
            let spare = self.data.spare_capacity_mut();
            // SAFETY: `reserve` made room for `n` more bytes, so `spare` holds at least `n`;
            // `bytes` (at least `n` long) is not inside the vector.
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), spare.as_mut_ptr().cast(), n) };
            // SAFETY: the `n` bytes after the length were initialised just above, within
            // the capacity `reserve` ensured.
            unsafe { self.data.inc_len(n) };
        }
        self.dropped = self.dropped.saturating_add((bytes.len() - n) as u32);
    }
}

/// The captures of every connection.
pub(crate) struct Captures {
    pub(crate) conns: [Capture; LISTENERS],
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's init (`init_captures`) before the device exists.
    pub(crate) unsafe(uninit) static CAPTURES: Mutex<Captures> = Captures {
        conns: [const { Capture::new() }; LISTENERS],
    };
}

/// Initialises [`CAPTURES`]; once, from the module's init.
pub(crate) fn init_captures() {
    // SAFETY: called once, before anything can lock it.
    unsafe { CAPTURES.init() };
}

/// Frees every capture; from the module's exit (a static is never dropped).
pub(crate) fn free_captures() {
    for cap in CAPTURES.lock().conns.iter_mut() {
        *cap = Capture::new();
    }
}

/// One connection's state.
struct Conn {
    lid: Lid,
    /// The listener's version.
    version: u32,
    open: bool,
    playing: bool,
    /// Bytes of one frame and of one 10 ms chunk, and a chunk's duration in microseconds.
    frame: u32,
    chunk: u32,
    chunk_us: u32,
    /// PCM bytes still due in DATA messages after the last WRITE.
    expect: u32,
    /// Bytes received and not yet played.
    queued: u32,
    /// When the next chunk may be played (microseconds since the simulator's epoch); 0: as
    /// soon as there is data (the clock starts then).
    due: u64,
    /// A RESULT held back by [`Fault::SlowResult`]: its value and when it goes (`None`
    /// until the next tick sets the time).
    late: Option<(i32, Option<u64>)>,
    /// Bumped at every open and close, so that bulks of an old connection are recognised.
    gen: u32,
}

struct Auds {
    conns: KVec<Conn>,
}

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    Ok(KBox::new(Auds { conns: KVec::new() }, GFP_KERNEL)? as KBox<dyn SimService>)
}

fn params(version: u32) -> ServiceParams {
    ServiceParams {
        fourcc: AUDS,
        version: version as u16,
        version_min: 1,
    }
}

/// Counts and logs (rate-limited) a protocol error of the ARM.
fn protocol_error(what: &str, value: u32) {
    let n = bump(&ERRORS);
    if log_nth(n) {
        pr_warn!("AUDS: {} ({:#x}) (error #{})\n", what, value, n);
    }
}

/// A 20-byte VPU message: type and three words.
fn msg(kind: i32, a: u32, b: u32, c: u32) -> [u8; MSG_SIZE] {
    let mut m = [0u8; MSG_SIZE];
    m[0..4].copy_from_slice(&kind.to_le_bytes());
    m[4..8].copy_from_slice(&a.to_le_bytes());
    m[8..12].copy_from_slice(&b.to_le_bytes());
    m[12..16].copy_from_slice(&c.to_le_bytes());
    m
}

fn send(cx: &mut Ctx<'_>, lid: Lid, m: &[u8]) {
    if cx.send(lid, m).is_err() {
        bump(&cx.counters().errors);
    }
}

impl Conn {
    fn index(lid: Lid, conns: &[Conn]) -> Option<usize> {
        conns.iter().position(|c| c.lid == lid)
    }

    /// Answers a waited request, now or (under [`Fault::SlowResult`]) later.
    fn result(&mut self, cx: &mut Ctx<'_>, success: i32) {
        if Fault::now() == Fault::SlowResult {
            self.late = Some((success, None));
            return;
        }
        send(cx, self.lid, &msg(M_RESULT, success as u32, 0, 0));
    }

    /// CONFIG: the format; a chunk is 10 ms of whole frames.
    fn config(&mut self, cap: &mut Capture, data: &[u8]) {
        let channels = le_u32(data, 4).unwrap_or(0);
        let rate = le_u32(data, 8).unwrap_or(0);
        let bps = le_u32(data, 12).unwrap_or(0);
        cap.channels = channels;
        cap.rate = rate;
        cap.bps = bps;
        cap.configs = cap.configs.saturating_add(1);
        // Channels 0 is IEC958 non-audio: two 16-bit channels on the wire.
        let ch = if channels == 0 { 2 } else { channels.min(8) };
        let width = if bps == 8 { 1 } else { 2 };
        let rate = rate.clamp(8000, 192_000);
        self.frame = ch * width;
        let frames = (rate / 100).max(1);
        self.chunk = frames * self.frame;
        // frames * 1e6 < 2^32 for rates up to 192 kHz.
        self.chunk_us = frames * 1_000_000 / rate;
    }

    /// Bytes of PCM data received (DATA or bulk).
    fn received(&mut self, cap: &mut Capture, bytes: &[u8]) {
        cap.append(bytes);
        self.queued = self.queued.saturating_add(bytes.len() as u32);
    }

    /// STOP or close: what was not played is dropped (and cut from the capture).
    fn drop_queued(&mut self, cap: &mut Capture) {
        let n = self.queued as usize;
        let keep = cap.data.len().saturating_sub(n);
        cap.data.truncate(keep);
        cap.discarded = cap.discarded.saturating_add(self.queued);
        self.queued = 0;
    }

    /// Plays what is due at `now`; returns the next deadline.
    fn play(&mut self, cx: &mut Ctx<'_>, cap: &mut Capture, now: u64) -> Option<u64> {
        let speed = SPEED.load(Relaxed);
        if self.playing && self.queued > 0 && self.due == 0 {
            self.due = now;
        }
        let lag = u64::from(MAX_LAG_MS.load(Relaxed)) * 1000;
        if speed != 0
            && lag != 0
            && self.playing
            && self.queued > 0
            && now.saturating_sub(self.due) > lag
        {
            self.due = now - lag;
            bump(&STALLS);
        }
        // Late activations catch up chunk by chunk: each COMPLETE covers at most one chunk.
        while self.playing && self.queued > 0 && (speed == 0 || self.due <= now) {
            let n = self.queued.min(self.chunk.max(1));
            self.queued -= n;
            cap.completed = cap.completed.saturating_add(n);
            if speed != 0 {
                let step = u64::from((self.chunk_us / speed).max(1));
                self.due = self.due.saturating_add(step);
            }
            self.complete(cx, n);
        }
        if self.queued == 0 {
            // A dry spell: the next data starts the clock afresh, without catching up.
            self.due = 0;
        }
        if self.playing && self.queued > 0 && speed != 0 {
            return Some(self.due);
        }
        None
    }

    /// Reports `n` played bytes, as the faults say.
    fn complete(&mut self, cx: &mut Ctx<'_>, n: u32) {
        let fault = Fault::now();
        if fault == Fault::NoComplete {
            return;
        }
        let count = if take(&UNDERRUNS) {
            UNDERRUN
        } else if take(&OVERCOUNTS) {
            // More than everything received and not yet reported.
            n.saturating_add(self.queued).saturating_add(16)
        } else {
            n
        };
        let (c1, c2) = if fault == Fault::BadCookies {
            (!COOKIE1, !COOKIE2)
        } else {
            (COOKIE1, COOKIE2)
        };
        send(cx, self.lid, &msg(M_COMPLETE, count, c1, c2));
    }
}

impl Auds {
    /// A control message on connection `i`.
    fn control(&mut self, cx: &mut Ctx<'_>, i: usize, data: &[u8]) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let mut caps = CAPTURES.lock();
        let Some(cap) = caps.conns.get_mut(i) else {
            return;
        };
        if data.len() != MSG_SIZE {
            protocol_error("control message of the wrong size", data.len() as u32);
            return;
        }
        let kind = le_i32(data, 0).unwrap_or(-1);
        let fault = Fault::now();
        match kind {
            M_OPEN => {
                if fault == Fault::StrayResult {
                    send(cx, c.lid, &msg(M_RESULT, 0, 0, 0));
                }
            }
            M_CONFIG => {
                c.config(cap, data);
                let r = i32::from(fault == Fault::ConfigError);
                c.result(cx, r);
            }
            M_CONTROL => {
                cap.volume = le_u32(data, 4).unwrap_or(0);
                cap.dest = le_u32(data, 8).unwrap_or(0);
                cap.controls = cap.controls.saturating_add(1);
                let r = i32::from(fault == Fault::ControlError);
                c.result(cx, r);
            }
            M_START => {
                c.playing = true;
                cap.playing = true;
                c.due = 0;
            }
            M_STOP => {
                c.playing = false;
                cap.playing = false;
                c.drop_queued(cap);
            }
            M_CLOSE => {
                let r = i32::from(fault == Fault::CloseError);
                c.result(cx, r);
            }
            M_WRITE => Self::write(cx, c, data),
            _ => protocol_error("unknown message type", kind as u32),
        }
    }

    /// WRITE: the bytes follow in DATA messages (`max_packet > 0`) or one bulk.
    fn write(cx: &mut Ctx<'_>, c: &mut Conn, data: &[u8]) {
        let count = le_u32(data, 4).unwrap_or(0);
        let cookies = (le_u32(data, 8), le_u32(data, 12));
        if cookies != (Some(COOKIE1), Some(COOKIE2)) {
            protocol_error("WRITE with wrong cookies", cookies.0.unwrap_or(0));
        }
        if count == 0 || count > MAX_WRITE {
            protocol_error("WRITE of an impossible size", count);
            return;
        }
        let max_packet = le_u32(data, 16).unwrap_or(0) >> 16;
        if max_packet > 0 {
            c.expect = count;
            return;
        }
        let buf = match BulkBuf::filled(count as usize, 0) {
            Ok(b) => b,
            Err(_) => {
                bump(&cx.counters().errors);
                return;
            }
        };
        if cx
            .bulk(c.lid, BulkDir::Receive, buf, u64::from(c.gen))
            .is_err()
        {
            bump(&cx.counters().errors);
        }
    }

    /// Keeps every idle listener at the version `auds_version` asks for.
    fn apply_version(&mut self, cx: &mut Ctx<'_>) {
        let want = VERSION.load(Relaxed).clamp(1, 2);
        for c in self
            .conns
            .iter_mut()
            .filter(|c| !c.open && c.version != want)
        {
            cx.remove_listener(c.lid);
            match cx.add_listener(params(want), ServerOptions::default()) {
                Ok(lid) => {
                    c.lid = lid;
                    c.version = want;
                }
                Err(_) => {
                    bump(&cx.counters().errors);
                }
            }
        }
    }
}

/// The service goes with the simulated VideoCore (unbinding, unloading) without the closes
/// of its open connections: their captures end as a close would end them (the unplayed tail
/// cut, not playing), so that debugfs does not show a dead connection playing.
impl Drop for Auds {
    fn drop(&mut self) {
        let mut caps = CAPTURES.lock();
        for (c, cap) in self.conns.iter_mut().zip(caps.conns.iter_mut()) {
            if c.open {
                c.drop_queued(cap);
                cap.open = false;
                cap.playing = false;
            }
        }
    }
}

impl SimService for Auds {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        let version = VERSION.load(Relaxed).clamp(1, 2);
        for _ in 0..LISTENERS {
            let lid = cx.add_listener(params(version), ServerOptions::default())?;
            self.conns.push(
                Conn {
                    lid,
                    version,
                    open: false,
                    playing: false,
                    frame: 4,
                    chunk: 1764,
                    chunk_us: 10_000,
                    expect: 0,
                    queued: 0,
                    due: 0,
                    late: None,
                    gen: 0,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(())
    }

    fn opened(&mut self, _cx: &mut Ctx<'_>, lid: Lid, _client_id: u32) {
        let Some(i) = Conn::index(lid, &self.conns) else {
            return;
        };
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        c.open = true;
        c.playing = false;
        c.expect = 0;
        c.queued = 0;
        c.late = None;
        c.gen = c.gen.wrapping_add(1);
        let mut caps = CAPTURES.lock();
        if let Some(cap) = caps.conns.get_mut(i) {
            *cap = Capture::new();
            cap.seq = OPENS.fetch_add(1u32, Relaxed).wrapping_add(1);
            cap.open = true;
        }
    }

    fn closed(&mut self, _cx: &mut Ctx<'_>, lid: Lid) {
        let Some(i) = Conn::index(lid, &self.conns) else {
            return;
        };
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let mut caps = CAPTURES.lock();
        if let Some(cap) = caps.conns.get_mut(i) {
            c.drop_queued(cap);
            cap.open = false;
            cap.playing = false;
        }
        c.open = false;
        c.playing = false;
        c.expect = 0;
        c.late = None;
        c.gen = c.gen.wrapping_add(1);
    }

    fn message(&mut self, cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        let Some(i) = Conn::index(lid, &self.conns) else {
            return;
        };
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.expect > 0 {
            // Raw PCM bytes of the last WRITE, never parsed as a command.
            let n = data.len().min(c.expect as usize);
            if n < data.len() {
                protocol_error("DATA beyond the WRITE's count", data.len() as u32);
            }
            c.expect -= n as u32;
            let mut caps = CAPTURES.lock();
            if let Some(cap) = caps.conns.get_mut(i) {
                c.received(cap, &data[..n]);
            }
            return;
        }
        self.control(cx, i, data);
    }

    fn tick(&mut self, cx: &mut Ctx<'_>, now: u64) -> Option<u64> {
        self.apply_version(cx);
        let mut deadline: Option<u64> = None;
        let mut caps = CAPTURES.lock();
        for (c, cap) in self.conns.iter_mut().zip(caps.conns.iter_mut()) {
            let late = match c.late {
                Some((success, None)) => {
                    let ms = u64::from(DELAY_MS.load(Relaxed));
                    let at = now.saturating_add(ms * 1000);
                    c.late = Some((success, Some(at)));
                    Some(at)
                }
                Some((success, Some(at))) if at <= now => {
                    c.late = None;
                    send(cx, c.lid, &msg(M_RESULT, success as u32, 0, 0));
                    None
                }
                Some((_, at)) => at,
                None => None,
            };
            for at in [c.play(cx, cap, now), late].into_iter().flatten() {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        deadline
    }

    fn bulk_done(
        &mut self,
        _cx: &mut Ctx<'_>,
        lid: Lid,
        _dir: BulkDir,
        userdata: u64,
        result: BulkResult,
        buf: BulkBuf,
    ) {
        let Some(i) = Conn::index(lid, &self.conns) else {
            return;
        };
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if userdata != u64::from(c.gen) {
            return;
        }
        let BulkResult::Done(n) = result else {
            protocol_error("bulk aborted", buf.len() as u32);
            return;
        };
        let data = buf.region();
        let data = &data[..data.len().min(n as usize)];
        let mut caps = CAPTURES.lock();
        if let Some(cap) = caps.conns.get_mut(i) {
            cap.bulk_bytes = cap.bulk_bytes.saturating_add(data.len() as u32);
            c.received(cap, data);
        }
    }
}
