// SPDX-License-Identifier: GPL-2.0

//! Tests in steps, for the races section of plan `dev` (ci/plans/dev.sh): the plan runs one
//! step, sets the simulator's knobs, runs the next, so that what the VideoCore sends is lined
//! up exactly.
//! The session and its service live in [`Ktest::stash`] between the steps.
//!
//! * `stash-open`: a session with an echo service (kept by handle, [`Instance::open_kept`]).
//! * `stash-echo`: sends one MSG_ECHO on it.
//! * `stash-expect-msg-closed`: the echo reply, readable in its callback, then SERVICE_CLOSED;
//!   the session is then shut down.
//! * `stash-server`: a session with a server service `RACE` (kept by handle) that the
//!   VideoCore opens (the simulator's `open_arm`).
//! * `stash-expect EV,EV...`: the next events are exactly these (`opened`, `closed`,
//!   `greeting`: the message of the simulator's `greet` knob).
//! * `stash-server-linger`: as `stash-server`, but the handler lingers 300 ms in its
//!   SERVICE_OPENED and SERVICE_CLOSED callbacks after recording them (so that the test's
//!   next step runs while the slot handler is still delivering that batch).
//! * `stash-remove`: removes the stashed service (it must succeed) and shuts the session
//!   down. `stash-remove closed`: the service was open, so the removal closes it and its
//!   SERVICE_CLOSED must have come by the time the removal returns.
//! * `stash-drop`: shuts the session down.
//! * `stash-serial`: a session with an echo service whose handler takes 40 ms over each
//!   callback and counts callbacks that overlap.
//! * `stash-burst N B`: queues B callback receive bulks (the VideoCore never matches them)
//!   and N MSG_ECHO messages on it.
//! * `stash-expect-serial N B`: N replies, B aborted bulks and SERVICE_CLOSED, in that order,
//!   none of them overlapping another; the session is then shut down.
//! * `bulk-signal`: a blocking receive that the VideoCore never matches; the plan signals
//!   the writer, then has the VideoCore close the service. The safe blocking bulk must not
//!   return at the signal (the transfer still owns the buffer), only at the abort.
//! * `stash-queue-signal`: queues [`FLOOD`] echo messages of 1 KiB on the stashed service while the
//!   plan has stopped the VideoCore, so that the queue waits for slots or quota; the plan
//!   signals the writer during that wait, then resumes the VideoCore. A kernel client's
//!   queue is not ended by a signal: every message must be queued (an interrupted send would
//!   leave a client's multi-message exchange half sent). `stash-queue-signal interruptible`:
//!   the same with the queue `/dev/vchiq` uses, which the signal must end (`EINTR`).
//! * `open-race`: opens echo with a handler that takes its time over each message; the plan
//!   has the VideoCore answer with OPENACK, a first message (`greet`) and CLOSE in one batch.
//!   The open must succeed (the VideoCore accepted it), and the handler, which only the
//!   service holds, must outlive its callbacks: freeing it when the open returned an error
//!   while the message's callback ran was a use-after-free.

use crate::tests::{ECHO, MSG_ECHO, WAIT_MS};
use crate::util::{Collector, Ev, Report};
use crate::vchiq::{BulkMode, Handler, Instance, Message, ServiceRef};
use crate::Ktest;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::Arc;
use kernel::time::{delay::fsleep, Delta};

/// A session kept between the steps of a test. Fields drop in order: the session's shutdown
/// ends the bulks that write into `bufs` before they are freed.
pub(crate) struct Stash {
    inst: Instance,
    handle: u32,
    events: Arc<Collector>,
    /// The handler of `stash-serial`.
    serial: Option<Arc<Serial>>,
    /// Receive buffers of `stash-burst`, kept until the session is shut down (after its
    /// bulks ended: the close aborts them).
    bufs: KVec<KVec<u8>>,
}

/// The payload `stash-echo` sends.
const PAYLOAD: &[u8] = b"read me in my callback";

/// Runs step `name`; `None` if it is not one of these.
pub(crate) fn run(k: &Ktest, cmd: &str, out: &mut Report) -> Option<Result> {
    let mut words = cmd.split_whitespace();
    let name = words.next()?;
    let r = match name {
        "stash-open" => open(k, out),
        "stash-server" => server(k, 0, out),
        "stash-server-linger" => server(k, LINGER_MS, out),
        "stash-expect" => expect(k, words.next().unwrap_or(""), out),
        "stash-remove" => remove(k, words.next() == Some("closed"), out),
        "stash-serial" => serial(k, out),
        "stash-burst" => burst(k, nums(&mut words)),
        "stash-expect-serial" => expect_serial(k, nums(&mut words), out),
        "stash-echo" => echo(k),
        "stash-queue-signal" => queue_signal(k, words.next() == Some("interruptible"), out),
        "stash-expect-msg-closed" => expect_msg_closed(k, out),
        "open-race" => open_race(k, out),
        "bulk-signal" => bulk_signal(k, out),
        "stash-drop" => {
            k.stash.lock().take();
            Ok(())
        }
        _ => return None,
    };
    Some(r)
}

fn open(k: &Ktest, out: &mut Report) -> Result {
    let inst = k.instance()?;
    let events = Collector::new()?;
    let taker = Arc::new(
        Taker {
            events: events.clone(),
        },
        GFP_KERNEL,
    )?;
    let handle = inst.open_kept(ECHO, 3, 3, taker, false)?;
    out.line(format_args!("stash-open: echo service {handle:#x}"));
    *k.stash.lock() = Some(Stash {
        inst,
        handle,
        events,
        serial: None,
        bufs: KVec::new(),
    });
    Ok(())
}

/// The server service's fourcc (the plan writes it to the simulator's `open_arm`).
pub(crate) const RACE: u32 = crate::vchiq::fourcc(b"RACE");

/// How long `stash-server-linger`'s handler stays in SERVICE_OPENED and SERVICE_CLOSED.
const LINGER_MS: i64 = 300;

/// A server `RACE` whose handler records every event, staying `linger_ms` in SERVICE_OPENED
/// and SERVICE_CLOSED.
fn server(k: &Ktest, linger_ms: i64, out: &mut Report) -> Result {
    let inst = k.instance()?;
    let events = Collector::new()?;
    let handle = if linger_ms == 0 {
        inst.open_kept(RACE, 3, 3, events.clone(), true)?
    } else {
        let h = Arc::new(
            Linger {
                events: events.clone(),
                linger_ms,
            },
            GFP_KERNEL,
        )?;
        inst.open_kept(RACE, 3, 3, h, true)?
    };
    out.line(format_args!("stash-server: RACE listens as {handle:#x}"));
    *k.stash.lock() = Some(Stash {
        inst,
        handle,
        events,
        serial: None,
        bufs: KVec::new(),
    });
    Ok(())
}

fn expect(k: &Ktest, list: &str, out: &mut Report) -> Result {
    let events = k.stash.lock().as_ref().ok_or(ENOENT)?.events.clone();
    for want in list.split(',').filter(|w| !w.is_empty()) {
        let got = events.wait(WAIT_MS);
        let ok = match (&got, want) {
            (Ok(Ev::Opened), "opened") | (Ok(Ev::Closed), "closed") => true,
            (Ok(Ev::Msg(m)), "greeting") => m.as_slice() == GREETING,
            _ => false,
        };
        if !ok {
            let what = match got {
                Ok(Ev::Opened) => "SERVICE_OPENED",
                Ok(Ev::Closed) => "SERVICE_CLOSED",
                Ok(Ev::Msg(_)) => "another message",
                Ok(Ev::Bulk { .. }) => "a bulk",
                Err(_) => "nothing",
            };
            out.line(format_args!("expected {want}, got {what}"));
            return Err(EPROTO);
        }
    }
    out.line(format_args!("events as expected: {list}"));
    Ok(())
}

fn remove(k: &Ktest, closes: bool, out: &mut Report) -> Result {
    let Some(s) = k.stash.lock().take() else {
        return Err(ENOENT);
    };
    if let Err(e) = s.inst.remove(s.handle) {
        out.line(format_args!("removing the stashed service failed: {e:?}"));
        return Err(e);
    }
    if closes {
        // Every callback has returned when the removal does: no wait.
        match s.events.wait(0) {
            Ok(Ev::Closed) => {}
            _ => {
                out.line(format_args!(
                    "the removal of an open service returned without its SERVICE_CLOSED"
                ));
                return Err(EPROTO);
            }
        }
    }
    out.line(format_args!("stash-remove: removed"));
    Ok(())
}

fn echo(k: &Ktest) -> Result {
    let g = k.stash.lock();
    let s = g.as_ref().ok_or(ENOENT)?;
    let mut msg = KVec::new();
    msg.extend_from_slice(&MSG_ECHO.to_le_bytes(), GFP_KERNEL)?;
    msg.extend_from_slice(PAYLOAD, GFP_KERNEL)?;
    s.inst.service(s.handle).queue(&[&msg])
}

/// How many messages of [`FLOOD_SIZE`] bytes `stash-queue-signal` queues: more than a
/// stopped VideoCore leaves room for (the service's quota, then the slots).
const FLOOD: u32 = 256;
const FLOOD_SIZE: usize = 1024;

fn queue_signal(k: &Ktest, interruptible: bool, out: &mut Report) -> Result {
    let g = k.stash.lock();
    let s = g.as_ref().ok_or(ENOENT)?;
    let svc = s.inst.service(s.handle);
    let mut msg = KVec::from_elem(0u8, FLOOD_SIZE, GFP_KERNEL)?;
    msg[..4].copy_from_slice(&MSG_ECHO.to_le_bytes());
    let mut signalled = false;
    for i in 0..FLOOD {
        msg[4..8].copy_from_slice(&i.to_le_bytes());
        let r = if interruptible {
            svc.queue_interruptible(&[&msg])
        } else {
            svc.queue(&[&msg])
        };
        let pending = kernel::current!().signal_pending();
        match r {
            Err(EINTR) if interruptible && pending => {
                out.line(format_args!("message {i} of {FLOOD}: EINTR, as it should"));
                return Ok(());
            }
            Err(e) => {
                out.line(format_args!(
                    "message {i} of {FLOOD}: {e:?}, a signal pending: {pending}"
                ));
                return Err(e);
            }
            Ok(()) => signalled |= pending,
        }
    }
    if !signalled {
        out.line(format_args!(
            "no signal came while the messages were queued"
        ));
        return Err(EPROTO);
    }
    if interruptible {
        out.line(format_args!(
            "{FLOOD} messages queued: the signal did not end the wait"
        ));
        return Err(EPROTO);
    }
    out.line(format_args!("{FLOOD} messages queued, a signal pending"));
    Ok(())
}

fn expect_msg_closed(k: &Ktest, out: &mut Report) -> Result {
    let Some(s) = k.stash.lock().take() else {
        return Err(ENOENT);
    };
    match s.events.wait(WAIT_MS) {
        Ok(Ev::Msg(m)) if m.get(4..) == Some(PAYLOAD) => {}
        Ok(Ev::Msg(m)) if m.is_empty() => {
            out.line(format_args!(
                "the reply's callback found it released (it came in one batch with the CLOSE)"
            ));
            return Err(EPROTO);
        }
        Ok(Ev::Msg(_)) => {
            out.line(format_args!("the reply's payload differs"));
            return Err(EPROTO);
        }
        Ok(Ev::Closed) => {
            out.line(format_args!(
                "SERVICE_CLOSED first: the reply delivered in the same batch was lost \
                 (released before its callback could read it)"
            ));
            return Err(EPROTO);
        }
        Ok(Ev::Bulk { .. } | Ev::Opened) => return Err(EPROTO),
        Err(e) => {
            out.line(format_args!("no reply: {e:?}"));
            return Err(e);
        }
    }
    match s.events.wait(WAIT_MS) {
        Ok(Ev::Closed) => {}
        r => {
            out.line(format_args!(
                "no SERVICE_CLOSED after the reply ({:?})",
                r.err()
            ));
            return Err(EPROTO);
        }
    }
    out.line(format_args!(
        "the reply was read in its callback, then SERVICE_CLOSED came"
    ));
    Ok(())
}

/// A handler that copies each message out and releases it in its callback, recording an
/// empty message if vchiq-core did not hold it any more (released under the callback).
struct Taker {
    events: Arc<Collector>,
}

impl Handler for Taker {
    fn message(&self, _svc: ServiceRef<'_>, msg: Message<'_>) {
        let mut buf = [0u8; 64];
        let v = match msg.take(&mut buf) {
            Ok(n) => KVec::from_elem(0u8, n, GFP_KERNEL).map(|mut v| {
                v.copy_from_slice(&buf[..n]);
                v
            }),
            Err(_) => Ok(KVec::new()),
        };
        if let Ok(v) = v {
            self.events.push(Ev::Msg(v));
        }
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        self.events.push(Ev::Closed);
    }
}

/// A handler that records each event as [`Collector`] does, then lingers in SERVICE_OPENED
/// and SERVICE_CLOSED.
struct Linger {
    events: Arc<Collector>,
    linger_ms: i64,
}

impl Handler for Linger {
    fn message(&self, svc: ServiceRef<'_>, msg: Message<'_>) {
        self.events.message(svc, msg);
    }

    fn closed(&self, svc: ServiceRef<'_>) {
        self.events.closed(svc);
        fsleep(Delta::from_millis(self.linger_ms));
    }

    fn opened(&self, svc: ServiceRef<'_>) {
        self.events.opened(svc);
        fsleep(Delta::from_millis(self.linger_ms));
    }
}

/// A handler that sleeps in each message callback before it touches its own fields.
struct Slow {
    events: Arc<Collector>,
    delay_ms: i64,
}

impl Handler for Slow {
    fn message(&self, _svc: ServiceRef<'_>, msg: Message<'_>) {
        fsleep(Delta::from_millis(self.delay_ms));
        // Reads `self` after the sleep: freed memory if the handler went away meanwhile.
        if let Ok(v) = msg.to_kvec() {
            self.events.push(Ev::Msg(v));
        }
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        self.events.push(Ev::Closed);
    }
}

/// What the simulator's `greet` knob sends.
const GREETING: &[u8] = b"greetings";

fn open_race(k: &Ktest, out: &mut Report) -> Result {
    let inst = k.instance()?;
    let events = Collector::new()?;
    let slow = Arc::new(
        Slow {
            events: events.clone(),
            delay_ms: 300,
        },
        GFP_KERNEL,
    )?;
    // The service holds the only reference to the handler.
    let svc = match inst.open(ECHO, 3, 3, slow) {
        Ok(s) => s,
        Err(e) => {
            out.line(format_args!(
                "open failed ({e:?}) although the VideoCore accepted it; its handler was \
                 freed while its first message was being delivered"
            ));
            // Let the callback finish (on freed memory, for KASAN to see).
            fsleep(Delta::from_millis(500));
            return Err(e);
        }
    };
    match events.wait(WAIT_MS) {
        Ok(Ev::Msg(m)) if m == GREETING => {}
        _ => {
            out.line(format_args!("the greeting did not arrive first"));
            return Err(EPROTO);
        }
    }
    if !matches!(events.wait(WAIT_MS), Ok(Ev::Closed)) {
        out.line(format_args!("no SERVICE_CLOSED after the greeting"));
        return Err(EPROTO);
    }
    // Closed by the VideoCore: closing it again reports the handle as gone.
    match svc.close() {
        Err(e) if e == EINVAL => {}
        r => {
            out.line(format_args!(
                "close after the VideoCore's: {r:?}, expected EINVAL"
            ));
            return Err(EPROTO);
        }
    }
    out.line(format_args!(
        "open succeeded; the greeting, then SERVICE_CLOSED, reached a live handler"
    ));
    Ok(())
}

/// The two numbers `N B` of a step.
fn nums<'a>(words: &mut impl Iterator<Item = &'a str>) -> (u32, u32) {
    let mut n = || words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    (n(), n())
}

/// A handler that takes its time over every callback and counts callbacks that overlap
/// (vchiq-core calls a service's callbacks one at a time, in order).
struct Serial {
    events: Arc<Collector>,
    busy: Atomic<u32>,
    overlaps: Atomic<u32>,
}

impl Serial {
    fn enter(&self) {
        if self.busy.xchg(1, Relaxed) != 0 {
            self.overlaps.add(1, Relaxed);
        }
        fsleep(Delta::from_millis(40));
    }

    fn leave(&self, e: Ev) {
        self.events.push(e);
        self.busy.store(0, Relaxed);
    }
}

impl Handler for Serial {
    fn message(&self, _svc: ServiceRef<'_>, msg: Message<'_>) {
        self.enter();
        let v = msg.to_kvec().unwrap_or_else(|_| KVec::new());
        drop(msg);
        self.leave(Ev::Msg(v));
    }

    fn bulk_done(&self, _svc: ServiceRef<'_>, userdata: usize, receive: bool, aborted: bool) {
        self.enter();
        self.leave(Ev::Bulk {
            userdata,
            receive,
            aborted,
        });
    }

    fn closed(&self, _svc: ServiceRef<'_>) {
        self.enter();
        self.leave(Ev::Closed);
    }
}

fn serial(k: &Ktest, out: &mut Report) -> Result {
    let inst = k.instance()?;
    let events = Collector::new()?;
    let h = Arc::new(
        Serial {
            events: events.clone(),
            busy: Atomic::new(0),
            overlaps: Atomic::new(0),
        },
        GFP_KERNEL,
    )?;
    let handle = inst.open_kept(ECHO, 3, 3, h.clone(), false)?;
    out.line(format_args!("stash-serial: echo service {handle:#x}"));
    *k.stash.lock() = Some(Stash {
        inst,
        handle,
        events,
        serial: Some(h),
        bufs: KVec::new(),
    });
    Ok(())
}

/// Size of each receive buffer of `stash-burst`.
const BURST_BULK: usize = 256;

fn burst(k: &Ktest, (n, b): (u32, u32)) -> Result {
    let mut g = k.stash.lock();
    let s = Option::as_mut(&mut *g).ok_or(ENOENT)?;
    let svc = s.inst.service(s.handle);
    for i in 0..b {
        let mut buf = KVec::from_elem(0u8, BURST_BULK, GFP_KERNEL)?;
        let p = buf.as_mut_ptr();
        // Moving the `KVec` into the stash does not move its heap buffer.
        s.bufs.push(buf, GFP_KERNEL)?;
        // SAFETY: `p` is `BURST_BULK` bytes of the buffer just stored in the stash, which
        // nothing else uses and which is freed only after the session's shutdown has ended
        // the transfer (`Stash`'s field order).
        unsafe { svc.bulk_async(p, BURST_BULK, true, i as usize, BulkMode::Callback)? };
    }
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&MSG_ECHO.to_le_bytes());
    for i in 0..n {
        msg[4..].copy_from_slice(&i.to_le_bytes());
        svc.queue(&[&msg])?;
    }
    Ok(())
}

fn expect_serial(k: &Ktest, (n, b): (u32, u32), out: &mut Report) -> Result {
    let Some(s) = k.stash.lock().take() else {
        return Err(ENOENT);
    };
    let mut seen = 0u32;
    for i in 0..n + b + 1 {
        let e = s.events.wait(WAIT_MS);
        let ok = match &e {
            Ok(Ev::Msg(m)) => i < n && m.get(4..8) == Some(&i.to_le_bytes()[..]),
            Ok(Ev::Bulk {
                receive: true,
                aborted: true,
                ..
            }) => i >= n && i < n + b,
            Ok(Ev::Closed) => i == n + b,
            _ => false,
        };
        if !ok {
            let what = match &e {
                Ok(Ev::Msg(m)) => m
                    .get(4..8)
                    .and_then(|w| <[u8; 4]>::try_from(w).ok())
                    .map_or(u32::MAX, u32::from_le_bytes),
                Ok(Ev::Bulk { aborted, .. }) => 1000 + u32::from(*aborted),
                Ok(Ev::Closed) => 2000,
                Ok(Ev::Opened) => 3000,
                Err(_) => 4000,
            };
            out.line(format_args!(
                "event {i}: not the expected one (replies 0..{n}, {b} aborted receives, \
                 SERVICE_CLOSED); got {what} (a reply's number, 1000/1001 a bulk, 2000 \
                 SERVICE_CLOSED, 4000 nothing)"
            ));
            return Err(EPROTO);
        }
        seen += 1;
    }
    let overlaps = s.serial.as_ref().map_or(0, |h| h.overlaps.load(Relaxed));
    if overlaps != 0 {
        out.line(format_args!(
            "{overlaps} callbacks of the service ran while another was running"
        ));
        return Err(EPROTO);
    }
    out.line(format_args!("{seen} callbacks, in order, one at a time"));
    Ok(())
}

fn bulk_signal(k: &Ktest, out: &mut Report) -> Result {
    let inst = k.instance()?;
    let events = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, events.clone())?;
    let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
    let r = svc.get().bulk_receive_blocking(&mut buf);
    if r != Err(EINVAL) {
        out.line(format_args!(
            "bulk_receive_blocking returned {r:?} while its transfer was in flight (the \
             VideoCore would have written a buffer whose borrow had ended)"
        ));
        return Err(EPROTO);
    }
    // The close is delivered before the handle goes: a signal is still pending, so closing
    // a service whose SERVICE_CLOSED is on its way would be interrupted, and so would a
    // blocking wait for the event. Poll for it.
    let mut closed = false;
    for _ in 0..500 {
        match events.wait(0) {
            Ok(Ev::Closed) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(_) => fsleep(Delta::from_millis(10)),
        }
    }
    if !closed {
        out.line(format_args!("no SERVICE_CLOSED after the abort"));
        return Err(EPROTO);
    }
    drop(svc);
    out.line(format_args!(
        "the receive ended only when the VideoCore's close aborted it"
    ));
    Ok(())
}
