// SPDX-License-Identifier: GPL-2.0

//! One open substream: its AUDS service, the requests it sends and the pointer the
//! VideoCore's COMPLETEs move.
//!
//! [`Link`] is the service's handler, shared with vchiq-core's callback thread. Everything
//! the VideoCore says is checked against the stream's own state before it changes anything:
//! a RESULT counts only while a request waits for one; a COMPLETE counts only while the
//! stream runs, with the right cookies, and for at most the bytes written and not yet
//! reported. Anything else is counted, logged (rate-limited) and, for a count the stream
//! cannot explain, ends the stream with XRUN. The callback thread never calls into ALSA
//! or sends: it only updates the state and asks the [`Notifier`] for a report.

use crate::alsa::{Format, Notifier, PcmData, PcmStream};
use crate::chip::Chip;
use crate::msg::{self, Kind, Reply, MAX_PACKET, MSG_SIZE};
use crate::ratelimit::log_nth;
use crate::vchiq::{Handler, Message, ServiceRef};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, CondVar, CondVarTimeoutResult, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::{new_condvar, new_mutex};

/// How long a request waits for its RESULT.
const REPLY_TIMEOUT_MS: u32 = 10_000;

/// The stream's position and the one waited request, as the callbacks see them.
struct State {
    /// Gone at close: no report after it.
    notifier: Option<Notifier>,
    /// From `prepare`: buffer and period in bytes (0: not prepared).
    buffer: u32,
    period: u32,
    /// The position in the buffer, in bytes, and how far into the current period.
    pos: u32,
    period_off: u32,
    /// Bytes written and not yet reported played.
    inflight: u32,
    /// Bytes played since ALSA last read the position ([`State::position`]).
    unseen: u32,
    /// Between START and STOP (or an XRUN).
    running: bool,
    /// A request waits for its RESULT; the RESULT once it came.
    waiting: bool,
    result: Option<i32>,
    /// The service closed (the VideoCore's side or an unbinding core).
    closed: bool,
    /// A write was torn ([`Link::torn`]): the stream cannot start again before a prepare.
    torn: bool,
}

impl State {
    /// The position ALSA reads, in bytes. ALSA (and its indirect-PCM helper) take a position
    /// as progress modulo the buffer, so a whole buffer played between two reads would read as
    /// nothing played: the application would wait for room that never comes, until its write
    /// fails with EIO. That happens when the COMPLETEs of a whole buffer reach the ARM at once
    /// (a VideoCore that caught up, a callback thread held back) soon after a read. Then the
    /// last period is held back: this read reports one period less, and the period report
    /// asked for here makes ALSA read again and take the rest.
    fn position(&mut self) -> u32 {
        if self.buffer == 0 || self.unseen < self.buffer {
            self.unseen = 0;
            return self.pos;
        }
        // `prepare` took `period` < `buffer` (at least two periods, chip.rs).
        let held = self.period.min(self.buffer / 2);
        self.unseen = held;
        if let Some(n) = &self.notifier {
            n.period_elapsed();
        }
        (self.pos + self.buffer - held) % self.buffer
    }
}

/// What the requests share, under [`Link::io`].
struct Io {
    /// The buffer PCM data is copied into before it is sent.
    buf: KVVec<u8>,
    /// Bytes of the last WRITE that the VideoCore still expects as DATA messages: its PCM did
    /// not all go (a queue that timed out on a stalled VideoCore). The VideoCore takes the
    /// next `owed` bytes it gets as PCM whatever they are, so they are sent as silence before
    /// anything else ([`Io::settle`]).
    owed: u32,
    /// The silence byte of the prepared format (0x80 for U8, 0 for S16).
    silence: u8,
    /// PCM went to the VideoCore since its last STOP: prepare stops it first, so that what an
    /// earlier configuration left unplayed is dropped, not played before the new data.
    queued: bool,
}

impl Io {
    /// Sends the PCM of the WRITE just sent, in DATA messages; [`Io::owed`] counts what did
    /// not go.
    fn send_pcm(&mut self, svc: ServiceRef<'_>, data: &PcmData) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // From here the VideoCore takes the next `len` bytes as PCM.
        self.owed = len;
        let mut off = 0;
        while off < data.len() {
            let n = (data.len() - off).min(usize::from(MAX_PACKET));
            let chunk = self.buf.get_mut(..n).ok_or(EINVAL)?;
            data.copy_to(off, chunk)?;
            svc.queue(&[chunk])?;
            self.owed -= n as u32;
            off += n;
        }
        Ok(())
    }

    /// Sends the PCM of the WRITE just sent in one bulk transfer, which the VideoCore's bulk
    /// receive of the same size matches (or aborts: then nothing of it plays).
    fn send_bulk(&mut self, svc: ServiceRef<'_>, data: &PcmData) -> Result {
        let chunk = self.buf.get_mut(..data.len()).ok_or(EINVAL)?;
        data.copy_to(0, chunk)?;
        svc.bulk_transmit_blocking(chunk).map_err(|e| {
            pr_err!("failed on {} bytes transfer: {:?}\n", data.len(), e);
            EIO
        })
    }

    /// Sends what is owed of a torn WRITE ([`Io::owed`]) as silence, in DATA messages.
    fn settle(&mut self, svc: ServiceRef<'_>) -> Result {
        while self.owed > 0 {
            let n = self.owed.min(u32::from(MAX_PACKET));
            let silence = self.silence;
            let chunk = self.buf.get_mut(..n as usize).ok_or(EINVAL)?;
            chunk.fill(silence);
            svc.queue(&[chunk])?;
            self.owed -= n;
        }
        Ok(())
    }
}

/// Counters of what the VideoCore sent that did not fit, per card
/// (`/sys/kernel/debug/snd-bcm2835-<card>/`).
pub(crate) struct Oddities {
    pub(crate) stray_results: Atomic<u32>,
    pub(crate) bad_cookies: Atomic<u32>,
    pub(crate) bad_counts: Atomic<u32>,
    pub(crate) underruns: Atomic<u32>,
    pub(crate) ignored: Atomic<u32>,
    pub(crate) unexpected: Atomic<u32>,
}

impl Oddities {
    pub(crate) const fn new() -> Self {
        Self {
            stray_results: Atomic::new(0),
            bad_cookies: Atomic::new(0),
            bad_counts: Atomic::new(0),
            underruns: Atomic::new(0),
            ignored: Atomic::new(0),
            unexpected: Atomic::new(0),
        }
    }
}

/// Adds one; whether this occurrence is logged (the first ten, then powers of two).
pub(crate) fn count(c: &Atomic<u32>) -> bool {
    log_nth(c.fetch_add(1u32, Relaxed).wrapping_add(1))
}

/// The service's handler and what the stream's calls share with it.
#[pin_data]
pub(crate) struct Link {
    #[pin]
    state: Mutex<State>,
    #[pin]
    replied: CondVar,
    /// Serialises requests (a WRITE and its data stay together); every send takes it.
    #[pin]
    io: Mutex<Io>,
    /// The chip's counters (not the chip: the chip's session holds this handler).
    odd: Arc<Oddities>,
}

impl Link {
    fn new(odd: Arc<Oddities>, notifier: Notifier) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Link {
                state <- new_mutex!(
                    State {
                        notifier: Some(notifier),
                        buffer: 0,
                        period: 0,
                        pos: 0,
                        period_off: 0,
                        inflight: 0,
                        unseen: 0,
                        running: false,
                        waiting: false,
                        result: None,
                        closed: false,
                        torn: false,
                    },
                    "snd_bcm2835::Link::state"
                ),
                replied <- new_condvar!("snd_bcm2835::Link::replied"),
                io <- new_mutex!(
                    Io {
                        buf: KVVec::new(),
                        owed: 0,
                        silence: 0,
                        queued: false,
                    },
                    "snd_bcm2835::Link::io"
                ),
                odd,
            }),
            GFP_KERNEL,
        )
    }

    fn odd(&self) -> &Oddities {
        &self.odd
    }

    /// A RESULT: the answer of the waiting request, or a stray one.
    fn result(&self, success: i32) {
        let mut st = self.state.lock();
        if st.waiting && st.result.is_none() {
            st.result = Some(success);
            drop(st);
            self.replied.notify_all();
            return;
        }
        drop(st);
        if count(&self.odd().stray_results) {
            pr_warn!("RESULT {} with no request waiting: ignored\n", success);
        }
    }

    /// A COMPLETE: `count` bytes played.
    fn complete(&self, count_bytes: u32, cookies: (u32, u32)) {
        if cookies != (msg::COOKIE1, msg::COOKIE2) {
            if count(&self.odd().bad_cookies) {
                pr_err!(
                    "invalid cookie {:#x}/{:#x}: ignored\n",
                    cookies.0,
                    cookies.1
                );
            }
            return;
        }
        let mut st = self.state.lock();
        if !st.running || st.buffer == 0 || st.period == 0 {
            drop(st);
            count(&self.odd().ignored);
            return;
        }
        if count_bytes >= st.buffer {
            // The firmware's underrun signal.
            st.running = false;
            if let Some(n) = &st.notifier {
                n.xrun();
            }
            drop(st);
            count(&self.odd().underruns);
            return;
        }
        if count_bytes > st.inflight {
            let inflight = st.inflight;
            st.running = false;
            if let Some(n) = &st.notifier {
                n.xrun();
            }
            drop(st);
            if count(&self.odd().bad_counts) {
                pr_err!(
                    "COMPLETE of {} bytes with {} written: stopping the stream\n",
                    count_bytes,
                    inflight
                );
            }
            return;
        }
        st.inflight -= count_bytes;
        st.unseen = st.unseen.saturating_add(count_bytes);
        st.pos = (st.pos + count_bytes) % st.buffer;
        st.period_off += count_bytes;
        // Only a period boundary is reported. ALSA takes every period-elapsed report as one
        // period played: one that comes with less than a period moved, more than half a
        // buffer time after the last, counts as a whole buffer wrapped ("double acknowledged
        // interrupts", pcm_lib.c), the position jumps a buffer ahead and the application
        // overwrites data not yet sent (a capture that differs, a drain that ends early).
        // Everything played off a boundary goes as `played_out`, which ALSA only hears while
        // draining (a drain then ends after a last period the application did not fill).
        let boundary = st.period_off >= st.period;
        if boundary {
            st.period_off %= st.period;
        }
        if let Some(n) = &st.notifier {
            if boundary {
                n.period_elapsed();
            } else if st.inflight == 0 {
                n.played_out();
            }
        }
    }

    /// Sends `m` and, if `wait`, waits for its RESULT; first what a torn WRITE still owes.
    fn request(&self, io: &mut Io, svc: ServiceRef<'_>, m: &[u8; MSG_SIZE], wait: bool) -> Result {
        let kind = i32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        if let Err(e) = io.settle(svc) {
            pr_err!("the rest of a torn WRITE could not be sent: {:?}\n", e);
            return Err(e);
        }
        if wait {
            let mut st = self.state.lock();
            if st.closed {
                return Err(ESHUTDOWN);
            }
            st.waiting = true;
            st.result = None;
        }
        if let Err(e) = svc.queue(&[m]) {
            self.state.lock().waiting = false;
            pr_err!("vchi message queue failed: {:?}, msg={}\n", e, kind);
            return Err(e);
        }
        if !wait {
            return Ok(());
        }
        let r = self.wait_result();
        match r {
            Ok(0) => Ok(()),
            Ok(n) => {
                pr_err!("vchi message response error:{}, msg={}\n", n, kind);
                Err(EIO)
            }
            Err(e) => {
                if e == ETIMEDOUT {
                    pr_err!("vchi message timeout, msg={}\n", kind);
                }
                Err(e)
            }
        }
    }

    fn wait_result(&self) -> Result<i32> {
        let mut left = msecs_to_jiffies(REPLY_TIMEOUT_MS);
        let mut st = self.state.lock();
        let r = loop {
            if let Some(r) = st.result {
                break Ok(r);
            }
            if st.closed {
                break Err(ESHUTDOWN);
            }
            if left == 0 {
                break Err(ETIMEDOUT);
            }
            left = match self.replied.wait_interruptible_timeout(&mut st, left) {
                CondVarTimeoutResult::Woken { jiffies } => jiffies,
                CondVarTimeoutResult::Timeout => 0,
                CondVarTimeoutResult::Signal { .. } => break Err(EINTR),
            };
        };
        st.waiting = false;
        st.result = None;
        r
    }

    /// A WRITE's PCM did not all go: the VideoCore will play what went and the silence owed,
    /// `len` bytes as counted in `inflight`, while ALSA's position, which the failed write did
    /// not move, will not match. The stream stops with XRUN; prepare's STOP drops them.
    fn torn(&self) {
        let mut st = self.state.lock();
        st.running = false;
        st.torn = true;
        if let Some(n) = &st.notifier {
            n.xrun();
        }
    }

    /// CONTROL with `volume` and route `dest`, waited for.
    fn control(&self, io: &mut Io, svc: ServiceRef<'_>, (volume, dest): (u32, u32)) -> Result {
        self.request(io, svc, &msg::encode(Kind::Control, &[volume, dest]), true)
    }
}

impl Handler for Link {
    fn message(&self, _svc: ServiceRef<'_>, m: Message<'_>) {
        let mut buf = [0u8; MSG_SIZE];
        let reply = match m.read(&mut buf) {
            Ok(n) => msg::decode(&buf[..n]),
            Err(_) => None,
        };
        drop(m);
        match reply {
            Some(Reply::Result(s)) => self.result(s),
            Some(Reply::Complete { count, cookies }) => self.complete(count, cookies),
            Some(Reply::Other(t)) => {
                if count(&self.odd().unexpected) {
                    pr_err!("unexpected callback type={}\n", t);
                }
            }
            None => {
                if count(&self.odd().unexpected) {
                    pr_err!("malformed message from the VideoCore: ignored\n");
                }
            }
        }
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        let mut st = self.state.lock();
        st.closed = true;
        if st.running {
            st.running = false;
            if let Some(n) = &st.notifier {
                n.xrun();
            }
        }
        drop(st);
        self.replied.notify_all();
    }
}

/// An open substream.
pub(crate) struct Stream {
    chip: Arc<Chip>,
    link: Arc<Link>,
    handle: u32,
    /// PCM data in DATA messages (else bulk transfers).
    data_mode: bool,
    /// The IEC958 PCM (channels 0 on the wire when the status says non-audio).
    spdif: bool,
    /// The substream's bit in the chip's open mask.
    bit: u32,
}

impl Stream {
    /// Opens the AUDS service for substream `bit` of `chip` and announces it (OPEN).
    pub(crate) fn open(
        chip: &Arc<Chip>,
        notifier: Notifier,
        spdif: bool,
        bit: u32,
    ) -> Result<KBox<Self>> {
        let link = Link::new(chip.oddities.clone(), notifier)?;
        let handle = chip
            .instance
            .open_kept(
                msg::AUDS,
                msg::VERSION,
                msg::VERSION_MIN,
                link.clone(),
                false,
            )
            .map_err(|e| {
                pr_err!("failed to open the AUDS service: {:?}\n", e);
                EPERM
            })?;
        let svc = chip.instance.service(handle);
        let peer = svc.peer_version().unwrap_or(0);
        let data_mode = peer >= msg::VERSION_DATA && !chip.force_bulk;
        let stream = KBox::new(
            Stream {
                chip: chip.clone(),
                link,
                handle,
                data_mode,
                spdif,
                bit,
            },
            GFP_KERNEL,
        );
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                let _ = chip.instance.close(handle);
                return Err(e.into());
            }
        };
        // From here on `Drop` closes the service.
        let room = if data_mode {
            usize::from(MAX_PACKET)
        } else {
            crate::chip::BUFFER_BYTES as usize
        };
        let mut io = stream.link.io.lock();
        io.buf.resize(room, 0, GFP_KERNEL)?;
        stream
            .link
            .request(&mut io, svc, &msg::encode(Kind::Open, &[0]), false)?;
        drop(io);
        Ok(stream)
    }

    fn svc(&self) -> ServiceRef<'_> {
        self.chip.instance.service(self.handle)
    }

    /// The link, for the chip's mixer broadcasts.
    pub(crate) fn link(&self) -> &Arc<Link> {
        &self.link
    }

    /// The handle of the service.
    pub(crate) fn handle(&self) -> u32 {
        self.handle
    }

    /// The bit of the chip's open mask.
    pub(crate) fn bit(&self) -> u32 {
        self.bit
    }
}

/// Sends CONTROL to an open stream's service (the mixer changed).
pub(crate) fn send_control(link: &Link, svc: ServiceRef<'_>, words: (u32, u32)) -> Result {
    link.control(&mut link.io.lock(), svc, words)
}

impl PcmStream for Stream {
    fn prepare(&self, f: &Format) -> Result {
        if f.buffer_bytes == 0 || f.period_bytes == 0 {
            return Err(EINVAL);
        }
        let mut io = self.link.io.lock();
        {
            let mut st = self.link.state.lock();
            st.running = false;
            st.buffer = f.buffer_bytes;
            st.period = f.period_bytes;
            st.pos = 0;
            st.period_off = 0;
            st.inflight = 0;
            st.unseen = 0;
            st.torn = false;
        }
        let channels = if self.spdif && self.chip.nonaudio() {
            0
        } else {
            f.channels
        };
        // The position starts again at 0: what the VideoCore still has of the previous
        // configuration must not play (STOP drops it; a CONFIG does not). Written while
        // prepared and prepared again, it played first and its COMPLETEs outran the count.
        if io.queued {
            self.link
                .request(&mut io, self.svc(), &msg::encode(Kind::Stop, &[0]), false)?;
            io.queued = false;
        }
        io.silence = if f.width == 8 { 0x80 } else { 0 };
        self.link
            .control(&mut io, self.svc(), self.chip.control_words())?;
        let config = msg::encode(Kind::Config, &[channels, f.rate, f.width]);
        self.link.request(&mut io, self.svc(), &config, true)
    }

    fn trigger(&self, start: bool) -> Result {
        let mut io = self.link.io.lock();
        {
            let mut st = self.link.state.lock();
            // Also before ALSA has taken the XRUN of a torn write.
            if start && st.torn {
                return Err(EPIPE);
            }
            st.running = start;
        }
        if start {
            self.link
                .request(&mut io, self.svc(), &msg::encode(Kind::Start, &[0]), false)
        } else {
            self.link
                .request(&mut io, self.svc(), &msg::encode(Kind::Stop, &[0]), false)?;
            io.queued = false;
            Ok(())
        }
    }

    fn transfer(&self, data: &PcmData) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        let mut io = self.link.io.lock();
        {
            let mut st = self.link.state.lock();
            if st.buffer == 0 || len > st.buffer {
                return Err(EINVAL);
            }
            st.inflight = st.inflight.saturating_add(len);
        }
        let svc = self.svc();
        let max_packet = if self.data_mode { MAX_PACKET } else { 0 };
        let header = self
            .link
            .request(&mut io, svc, &msg::write(len, max_packet), false);
        let sent = header.is_ok();
        let r = header.and_then(|()| {
            io.queued = true;
            if self.data_mode {
                io.send_pcm(svc, data)
            } else {
                io.send_bulk(svc, data)
            }
        });
        match r {
            Err(_) if sent && self.data_mode => self.link.torn(),
            // Nothing of it will play: no WRITE, or an aborted bulk.
            Err(_) => {
                let mut st = self.link.state.lock();
                st.inflight = st.inflight.saturating_sub(len);
            }
            Ok(()) => {}
        }
        r
    }

    fn pointer(&self) -> u32 {
        self.link.state.lock().position()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let chip = &self.chip;
        chip.forget(self.bit);
        {
            let mut io = self.link.io.lock();
            // Errors are logged by `request`; the stream ends either way.
            let _ = self
                .link
                .request(&mut io, self.svc(), &msg::encode(Kind::Close, &[0]), true);
        }
        self.link.state.lock().notifier = None;
        if let Err(e) = chip.instance.close(self.handle) {
            if e != ESHUTDOWN {
                pr_warn!("closing the AUDS service failed: {:?}\n", e);
            }
        }
    }
}
