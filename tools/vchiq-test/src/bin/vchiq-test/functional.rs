//! `-f N`: the functional test. Every iteration runs each phase on fresh instances; each
//! phase prints one summary line, each failed check one `* FAIL` line.

use crate::check::{describe, Checker};
use crate::util::*;
use std::io;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};
use vchiq_test::abi::{self, mode, option, Config, DumpMem, Element};
use vchiq_test::badmem::{self, BadMem};
use vchiq_test::device::*;
use vchiq_test::ioc::VCHIQ_IOC_MAGIC as MAGIC;
use vchiq_test::{ioc, signal, sys, BulkDir, Client, Event, Service};

pub struct Opts {
    pub iters: usize,
    pub path: String,
    /// Iteration i runs the fun2 tests whose index is i modulo this (1: all of them).
    pub fun2_slice: usize,
    /// The current iteration (1-based).
    pub iteration: std::cell::Cell<usize>,
    pub verbose: bool,
}

type Phase = fn(&mut Checker, &Opts);

const PHASES: [(&str, Phase); 9] = [
    ("api (unconnected instance)", api),
    ("func choreography", func),
    ("echo messages", echo_messages),
    ("echo bulks", echo_bulks),
    ("vchi delivery", vchi),
    ("close delivered, use/release, shutdown", lifecycle),
    ("bulk interrupted by a signal", signal_bulk),
    ("error cases", errors),
    ("fun2 alignment", fun2),
];

pub fn run(o: &Opts) -> bool {
    println!("Functional test - iters:{}", o.iters);
    if let Err(e) = signal::install_alarm_handler() {
        println!("* cannot install the SIGALRM handler: {e}");
        return false;
    }
    let mut c = Checker::new(o.verbose);
    let t0 = Instant::now();
    for i in 1..=o.iters {
        o.iteration.set(i);
        println!("======== iteration {i} ========");
        for (name, phase) in PHASES {
            let (n0, f0, t) = (c.checks, c.failures, Instant::now());
            phase(&mut c, o);
            println!(
                "  {name}: {} checks, {} failed ({} ms)",
                c.checks - n0,
                c.failures - f0,
                t.elapsed().as_millis()
            );
        }
    }
    println!(
        "Functional test: {} checks, {} failed, {:.1} s",
        c.checks,
        c.failures,
        t0.elapsed().as_secs_f64()
    );
    c.failures == 0
}

fn client(c: &mut Checker, o: &Opts) -> Option<Client> {
    c.success(Client::open(&o.path), "open, negotiate and connect")
}

/// Checks the completion thread saw nothing wrong.
fn client_clean(c: &mut Checker, cl: &Client, what: &str) {
    let s = cl.stats();
    let v = s.abi_violations.load(std::sync::atomic::Ordering::Relaxed);
    let u = s.unknown_service.load(std::sync::atomic::Ordering::Relaxed);
    let d = s
        .close_delivered_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    c.ok(
        v == 0,
        format_args!("{what}: {v} completion ABI violations"),
    );
    c.ok(
        u == 0,
        format_args!("{what}: {u} completions of unknown services"),
    );
    c.ok(d == 0, format_args!("{what}: {d} failed CLOSE_DELIVERED"));
    if let Some(e) = cl.thread_error() {
        c.fail(format_args!("{what}: completion thread ended with {e}"));
    }
}

/// Waits for exactly the events in `want` (any order) on `s`, ignoring MessageAvailable.
fn expect_events(c: &mut Checker, s: &Service, want: &[Event], what: &str) -> bool {
    let mut left: Vec<Event> = want.to_vec();
    while !left.is_empty() {
        match s.next_real_event(WAIT) {
            Ok(ev) => {
                if let Some(i) = left.iter().position(|w| *w == ev) {
                    left.remove(i);
                } else {
                    c.fail(format_args!(
                        "{what}: unexpected {ev:?} (waiting for {left:?})"
                    ));
                    return false;
                }
            }
            Err(e) => {
                c.fail(format_args!(
                    "{what}: waiting for {left:?}: {}",
                    describe(&e)
                ));
                return false;
            }
        }
    }
    c.ok(true, what)
}

fn no_more_events(c: &mut Checker, s: &Service, what: &str) {
    while let Some(ev) = s.try_event() {
        if ev != Event::MessageAvailable {
            c.fail(format_args!("{what}: unexpected {ev:?}"));
        }
    }
}

/// Phase 1: no VideoCore traffic, the instance is never connected.
fn api(c: &mut Checker, o: &Opts) {
    let Some(dev) = c.success(Vchiq::open_path(&o.path), "open") else {
        return;
    };
    let mut cfg = Config::default();
    c.success(dev.get_config_sized(19, &mut cfg), "GET_CONFIG size 19");
    c.errno(
        dev.get_config_sized(21, &mut cfg),
        EINVAL,
        "GET_CONFIG size 21",
    );
    let mut part = Config {
        bulk_threshold: 0xAAAA,
        ..Config::default()
    };
    c.success(dev.get_config_sized(4, &mut part), "GET_CONFIG size 4");
    c.ok(
        part.max_msg_size == 4088 && part.bulk_threshold == 0xAAAA,
        format_args!("GET_CONFIG size 4 copies 4 bytes ({part:?})"),
    );
    if let Some(cfg) = c.success(dev.get_config(), "GET_CONFIG size 20") {
        let want = Config {
            max_msg_size: 4088,
            bulk_threshold: 4088,
            max_outstanding_bulks: 4,
            max_services: 4096,
            version: 8,
            version_min: 3,
        };
        c.ok(cfg == want, format_args!("config {cfg:?}"));
    }
    c.errno(dev.lib_version(2), EINVAL, "LIB_VERSION 2");
    c.success(dev.lib_version(8), "LIB_VERSION 8");
    let open = ServiceSpec::client(FUNC, 3, false);
    c.errno(dev.create_service(&open), ENOTCONN, "open before CONNECT");
    let listen = ServiceSpec {
        open: false,
        userdata: 0x1234_5670,
        ..open
    };
    let h1 = c.success(dev.create_service(&listen), "listener func");
    let h2 = c.success(dev.create_service(&listen), "second listener func");
    c.errno(
        dev.create_service(&ServiceSpec {
            fourcc: 0,
            ..listen
        }),
        EEXIST,
        "listener with fourcc 0",
    );
    if let (Some(h1), Some(h2)) = (h1, h2) {
        c.ok(h1 != h2, "distinct handles");
        c.success(
            dev.set_service_option(h1, option::AUTOCLOSE, 0),
            "AUTOCLOSE 0",
        );
        c.success(
            dev.set_service_option(h1, option::AUTOCLOSE, 1),
            "AUTOCLOSE 1",
        );
        c.errno(dev.set_service_option(h1, 42, 1), EINVAL, "option 42");
        c.success(dev.get_client_id(h1), "GET_CLIENT_ID of a listener");
        c.success(dev.remove_service(h1), "remove listener");
        c.errno(dev.remove_service(h1), EINVAL, "remove it again");
        c.errno(
            dev.use_service(h1),
            EINVAL,
            "USE_SERVICE of a removed handle",
        );
        c.errno(
            dev.set_service_option(h1, option::AUTOCLOSE, 0),
            EINVAL,
            "option on a removed handle",
        );
        c.success(dev.remove_service(h2), "remove second listener");
    }
    let mut recs = [abi::CompletionData::default(); 2];
    let mut n = 0;
    // SAFETY: no message buffers are passed (count 0).
    let r = unsafe { dev.await_completion(&mut recs, 0, &mut [], &mut n) };
    c.errno(r, ENOTCONN, "AWAIT_COMPLETION before CONNECT");
    c.errno(
        dev.dequeue_message(0x5555, None, false),
        EINVAL,
        "DEQUEUE_MESSAGE bad handle",
    );
    c.success(dev.shutdown(), "SHUTDOWN while not connected");
    let mut dm = DumpMem {
        virt_addr: std::ptr::null_mut(),
        num_bytes: 0,
    };
    // SAFETY: the argument is a zeroed DumpMem of ours; the command is not implemented.
    let r = unsafe { dev.ioctl_raw(ioc::DUMP_PHYS_MEM, &mut dm as *mut DumpMem as usize) };
    c.errno(r, ENOTTY, "DUMP_PHYS_MEM");
    c.success(dev.connect(), "CONNECT");
    c.errno(dev.connect(), EINVAL, "CONNECT again");
}

/// Phase 2: the `func` service's script (firmware-services.md §1.6).
fn func(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    for v in [0, 1, 4] {
        c.errno(
            cl.open_service(FUNC, v, v, false),
            EIO,
            format_args!("open func version {v} refused"),
        );
    }
    let Some(c1) = c.success(cl.open_service(FUNC, 3, 3, false), "open func (C1)") else {
        return;
    };
    c.errno(
        cl.open_service(NONE, 3, 3, false),
        EIO,
        "open 'none' refused",
    );
    let Some(c2) = c.success(cl.open_service(FUNC, 3, 3, false), "open func (C2)") else {
        return;
    };
    c.errno(
        cl.open_service(FUNC, 3, 3, false),
        EIO,
        "third open of func refused",
    );
    let pid = sys::pid();
    match c1.client_id() {
        Ok(id) => c.ok(
            id == pid,
            format_args!("GET_CLIENT_ID {id} is the tgid {pid}"),
        ),
        Err(e) => c.ok(false, format_args!("GET_CLIENT_ID: {}", describe(&e))),
    };
    c.success(c2.remove(), "remove C2");
    expect_events(c, &c2, &[Event::Closed], "C2 closed");
    drop(c2);
    let Some(c2) = c.success(cl.open_service(FUNC, 3, 3, false), "reopen func (C2)") else {
        return;
    };
    let abc = b"abcdefghijklmnopqrstuvwxyz";
    c.success(
        c1.send(&[&abc[..7], &abc[7..14], &abc[14..20], &abc[20..]]),
        "26-byte message in 4 elements",
    );
    let mut tx2 = vec![0x22u8; 2048];
    let mut tx1: Vec<u8> = (0..1024).map(|i| i as u8).collect();
    let mut rx = [vec![0u8; 2048], vec![0u8; 2048], vec![0u8; 2048]];
    // SAFETY (all bulks of this phase): the buffers live until the end of the function,
    // after both services were removed.
    let r = unsafe {
        c2.queue_bulk(
            BulkDir::Transmit,
            tx2.as_mut_ptr(),
            2048,
            0x2001,
            mode::CALLBACK,
        )
    };
    c.success(r, "C2 transmit 2048 (0x2001)");
    // SAFETY: see above.
    let r = unsafe {
        c1.queue_bulk(
            BulkDir::Transmit,
            tx1.as_mut_ptr(),
            1024,
            0x1001,
            mode::CALLBACK,
        )
    };
    c.success(r, "C1 transmit 1024 (0x1001)");
    let (mut got_bulk, mut got_msg) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + WAIT;
    while (got_bulk.len() < 3 || got_msg.len() < 2) && Instant::now() < deadline {
        let ev = match c1.next_event(WAIT) {
            Ok(ev) => ev,
            Err(e) => {
                c.fail(format_args!(
                    "func: waiting for C1's completions: {}",
                    describe(&e)
                ));
                break;
            }
        };
        let (buf, ud) = match &ev {
            Event::TxDone(0x1001) => (0, 0x1002),
            Event::RxAborted(0x1002) => (1, 0x1003),
            Event::Message { data, .. } if data.is_empty() => (2, 0x1004),
            _ => (usize::MAX, 0),
        };
        if buf != usize::MAX {
            let p = rx[buf].as_mut_ptr();
            // SAFETY: see above.
            let r = unsafe { c1.queue_bulk(BulkDir::Receive, p, 2048, ud, mode::CALLBACK) };
            c.success(r, format_args!("C1 receive 2048 ({ud:#x})"));
        }
        match ev {
            Event::Message { data, .. } => got_msg.push(data),
            Event::MessageAvailable | Event::Opened | Event::Closed => {
                c.fail(format_args!("func: unexpected {ev:?} on C1"))
            }
            ev => got_bulk.push(ev),
        }
    }
    c.ok(
        got_msg == [abc.to_vec(), vec![]],
        format_args!("C1 messages: the 26 bytes, then an empty one ({got_msg:?})"),
    );
    c.ok(
        got_bulk
            == [
                Event::TxDone(0x1001),
                Event::RxAborted(0x1002),
                Event::RxDone(0x1003),
            ],
        format_args!("C1 bulks: TX_DONE 0x1001, RX_ABORTED 0x1002, RX_DONE 0x1003 ({got_bulk:?})"),
    );
    c.ok(
        rx[1][..1024] == tx1[..] && rx[1][1024..] == tx1[..],
        "0x1003 holds the 1024 bytes twice",
    );
    c.success(c1.remove(), "remove C1");
    expect_events(
        c,
        &c1,
        &[Event::RxAborted(0x1004), Event::Closed],
        "C1: RX_ABORTED 0x1004, closed",
    );
    c.success(c2.remove(), "remove C2");
    expect_events(
        c,
        &c2,
        &[Event::TxAborted(0x2001), Event::Closed],
        "C2: TX_ABORTED 0x2001, closed",
    );
    no_more_events(c, &c1, "C1");
    no_more_events(c, &c2, "C2");
    client_clean(c, &cl, "func");
    c.success(cl.shutdown(), "SHUTDOWN");
    drop((tx1, tx2, rx));
}

const MSG_SIZES: [usize; 16] = [
    4, 5, 7, 8, 12, 63, 64, 65, 255, 1000, 1024, 2048, 3001, 4000, 4087, 4088,
];

fn echo_messages(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    for vchi in [false, true] {
        let kind = if vchi { "vchi" } else { "completion" };
        let Some(s) = c.success(
            cl.open_service(ECHO, 3, 3, vchi),
            format_args!("open echo ({kind})"),
        ) else {
            continue;
        };
        let mut bad = 0;
        // Every size 4..=64, then the list, each split into 1..8 elements.
        let sizes: Vec<usize> = (4..=64).chain(MSG_SIZES).collect();
        for (i, &size) in sizes.iter().enumerate() {
            let m = echo_message(size, i as u32);
            let k = 1 + i % 8;
            let parts: Vec<&[u8]> = (0..k)
                .map(|j| &m[j * size / k..(j + 1) * size / k])
                .collect();
            if let Err(e) = s.send(&parts) {
                c.fail(format_args!(
                    "{kind}: send {size} bytes in {k} elements: {}",
                    describe(&e)
                ));
                bad += 1;
                continue;
            }
            match s.recv_any(WAIT) {
                Ok(r) if r == m => {}
                Ok(r) => {
                    bad += 1;
                    c.fail(format_args!(
                        "{kind}: echo of {size} bytes differs at {:?}",
                        first_diff(&r, &m)
                    ));
                }
                Err(e) => {
                    bad += 1;
                    c.fail(format_args!(
                        "{kind}: echo of {size} bytes: {}",
                        describe(&e)
                    ));
                }
            }
        }
        c.ok(
            bad == 0,
            format_args!("{kind}: {} echoed messages", sizes.len()),
        );
        // Pipelined: 50 in flight, in order.
        let msgs: Vec<Vec<u8>> = (0..50)
            .map(|i| echo_message(4 + (i * 83) % 4085, 1000 + i as u32))
            .collect();
        let sent = msgs.iter().take_while(|m| s.send(&[m]).is_ok()).count();
        c.ok(
            sent == 50,
            format_args!("{kind}: 50 messages queued ({sent})"),
        );
        let same = msgs[..sent]
            .iter()
            .all(|m| s.recv_any(WAIT).ok().as_ref() == Some(m));
        c.ok(same, format_args!("{kind}: 50 pipelined echoes in order"));
        // The other message types.
        let word = |t: i32| t.to_le_bytes();
        c.success(s.send(&[&[5, 0]]), "2-byte message");
        reply_is(c, &s, b"message too short\0", kind);
        c.success(s.send(&[&word(MSG_SYNC)]), "MSG_SYNC");
        reply_is(c, &s, b"\0", kind);
        c.success(s.send(&[&word(MSG_ASYNC)]), "MSG_ASYNC");
        reply_is(c, &s, b"", kind);
        c.success(s.send(&[&word(MSG_ONEWAY)]), "MSG_ONEWAY");
        c.success(s.send(&[&word(MSG_SYNC)]), "MSG_SYNC");
        reply_is(c, &s, b"\0", kind);
        c.success(s.send(&[&word(77)]), "message type 77");
        reply_is(c, &s, b"Unexpected message type\0", kind);
        // A burst beyond the kernel's 128-entry queues.
        let word_async = word(MSG_ASYNC);
        let queued = (0..300)
            .take_while(|_| s.send(&[&word_async]).is_ok())
            .count();
        c.ok(
            queued == 300,
            format_args!("{kind}: 300 MSG_ASYNC queued ({queued})"),
        );
        let empties = (0..queued)
            .take_while(|_| s.recv_any(WAIT).map(|r| r.is_empty()).unwrap_or(false))
            .count();
        c.ok(
            empties == queued,
            format_args!("{kind}: {empties} empty replies of {queued}"),
        );
        // Errors.
        let big = echo_message(4089, 1);
        c.errno(s.send(&[&big]), EIO, "message of 4089 bytes");
        c.errno(
            s.send(&[&big[..2000], &big[2000..]]),
            EIO,
            "4089 bytes in 2 elements",
        );
        let nine: Vec<&[u8]> = (0..9).map(|j| &big[j * 4..j * 4 + 4]).collect();
        c.errno(s.send(&nine), EINVAL, "9 elements");
        let zero = s.send(&[&[]]);
        let accepted = zero.is_ok();
        c.errno(zero, EIO, "zero-length message");
        if accepted {
            // Do not let the echo service's answer to it spoil the next checks.
            let _ = s.recv_any(WAIT);
        }
        let null = [Element {
            data: std::ptr::null(),
            size: 8,
        }];
        // SAFETY: the element points nowhere; the kernel must refuse it.
        let r = unsafe { s.dev().queue_message_raw(s.handle, 1, null.as_ptr()) };
        c.errno(r, EFAULT, "element with NULL data");
        if vchi {
            c.errno(
                s.dequeue(&mut [0u8; 100], false),
                EAGAIN,
                "non-blocking DEQUEUE when empty",
            );
            let m = echo_message(200, 3);
            c.success(s.send(&[&m]), "200-byte echo");
            c.errno(
                s.dequeue(&mut [0u8; 100], true),
                EMSGSIZE,
                "DEQUEUE into 100 bytes",
            );
            c.success(s.send(&[&word(MSG_SYNC)]), "MSG_SYNC");
            // Mainline drops the oversized message (popped, never returned); a kernel that
            // keeps it returns it now. Either way the next reply is the SYNC's.
            match s.recv_any(WAIT) {
                Ok(r) if r == m => {
                    println!(
                        "  note: the message refused with EMSGSIZE was kept (mainline drops it)"
                    );
                    reply_is(c, &s, b"\0", "vchi after EMSGSIZE");
                }
                Ok(r) => {
                    c.ok(
                        r == [0],
                        format_args!("vchi after EMSGSIZE: reply of {} bytes", r.len()),
                    );
                }
                Err(e) => c.fail(format_args!("vchi after EMSGSIZE: {}", describe(&e))),
            }
            c.success(s.send(&[&word(MSG_SYNC)]), "MSG_SYNC");
            let t = Instant::now();
            let mut got = None;
            while t.elapsed() < WAIT {
                match s.dequeue(&mut [0u8; 100], false) {
                    Err(e) if errno(&e) == EAGAIN => std::thread::sleep(Duration::from_millis(1)),
                    r => {
                        got = Some(r);
                        break;
                    }
                }
            }
            c.ok(
                matches!(got, Some(Ok(1))),
                format_args!("non-blocking DEQUEUE polls the reply ({got:?})"),
            );
        } else {
            c.errno(
                s.dequeue(&mut [0u8; 100], false),
                EINVAL,
                "DEQUEUE on a non-vchi service",
            );
        }
        c.success(s.close(), format_args!("close echo ({kind})"));
        expect_events(c, &s, &[Event::Closed], "closed");
        no_more_events(c, &s, kind);
    }
    client_clean(c, &cl, "echo messages");
}

fn reply_is(c: &mut Checker, s: &Service, want: &[u8], kind: &str) {
    match s.recv_any(WAIT) {
        Ok(r) => c.ok(
            r == want,
            format_args!(
                "{kind}: reply {:?} (want {:?})",
                String::from_utf8_lossy(&r),
                String::from_utf8_lossy(want)
            ),
        ),
        Err(e) => c.ok(false, format_args!("{kind}: reply: {}", describe(&e))),
    };
}

const BULK_SIZES: [usize; 22] = [
    1, 2, 3, 15, 16, 17, 31, 33, 63, 64, 65, 127, 255, 1000, 4095, 4096, 4097, 8191, 12289, 65537,
    262147, 1048581,
];
const OFFSETS: [usize; 8] = [0, 1, 3, 31, 32, 63, 64, 4095];

/// Echo bulks: transmit at one alignment, receive the echo at another, guarded.
fn echo_bulks(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    for vchi in [false, true] {
        let Some(s) = c.success(cl.open_service(ECHO, 3, 3, vchi), "open echo") else {
            return;
        };
        let mut tx = Aligned::new(BULK_SIZES[21] + PAGE);
        let mut rx = Aligned::new(BULK_SIZES[21] + PAGE);
        let mut good = 0;
        for (i, &size) in BULK_SIZES.iter().enumerate() {
            let (to, ro) = (OFFSETS[i % 8], OFFSETS[(i * 3 + 1 + vchi as usize) % 8]);
            let what = format!("bulk {size} bytes, tx offset {to}, rx offset {ro}");
            if let Err(e) = configure(&s, size, 1, true) {
                c.fail(format_args!("{what}: configure: {}", describe(&e)));
                continue;
            }
            pattern(tx.region(to as isize, size), i as u32 + 77);
            rx.region(ro as isize - 64, size + 128).fill(0x5A);
            rx.region(ro as isize, size).fill(0xEE);
            let (tp, rp) = (tx.addr(to as isize), rx.addr(ro as isize));
            let ud = 0x100 + i;
            // Three shapes: rx CALLBACK + tx BLOCKING; tx NOCALLBACK + rx BLOCKING;
            // rx CALLBACK + tx CALLBACK.
            // SAFETY: the buffers live until the service is closed below.
            let r = unsafe {
                match i % 3 {
                    0 => s
                        .queue_bulk(BulkDir::Receive, rp, size, ud, mode::CALLBACK)
                        .and_then(|_| {
                            s.queue_bulk(BulkDir::Transmit, tp, size, ud, mode::BLOCKING)
                        }),
                    1 => s
                        .queue_bulk(BulkDir::Transmit, tp, size, ud, mode::NOCALLBACK)
                        .and_then(|_| s.queue_bulk(BulkDir::Receive, rp, size, ud, mode::BLOCKING)),
                    _ => s
                        .queue_bulk(BulkDir::Receive, rp, size, ud, mode::CALLBACK)
                        .and_then(|_| {
                            s.queue_bulk(BulkDir::Transmit, tp, size, ud, mode::CALLBACK)
                        }),
                }
            };
            if let Err(e) = r {
                c.fail(format_args!("{what}: {}", describe(&e)));
                continue;
            }
            let want: &[Event] = match i % 3 {
                0 => &[Event::RxDone(ud)],
                1 => &[],
                _ => &[Event::RxDone(ud), Event::TxDone(ud)],
            };
            if !expect_events(c, &s, want, &what) {
                continue;
            }
            let diff = first_diff(rx.region(ro as isize, size), tx.region(to as isize, size));
            let ok = diff.is_none();
            if let Some(at) = diff {
                let (r, t) = (rx.region(ro as isize, size), tx.region(to as isize, size));
                let bad = r.iter().zip(t.iter()).filter(|(a, b)| a != b).count();
                let end = (at + 8).min(size);
                println!(
                    "  {what}: {bad} bytes differ, first at {at}: got {:02x?} want {:02x?}",
                    &r[at..end],
                    &t[at..end]
                );
            }
            let guards = rx.region(ro as isize - 64, 64).iter().all(|&b| b == 0x5A)
                && rx
                    .region((ro + size) as isize, 64)
                    .iter()
                    .all(|&b| b == 0x5A);
            c.ok(ok, format_args!("{what}: data"));
            c.ok(guards, format_args!("{what}: guard bytes intact"));
            good += (ok && guards) as usize;
        }
        c.ok(
            good == BULK_SIZES.len(),
            format_args!("{good} echo bulks of {}", BULK_SIZES.len()),
        );
        // A size mismatch aborts both sides: CALLBACK and BLOCKING.
        let mut small = vec![1u8; 100];
        if c.success(configure(&s, 4096, 1, false), "configure a 4096-byte echo")
            .is_some()
        {
            // SAFETY: `small` outlives the service.
            let r = unsafe {
                s.queue_bulk(
                    BulkDir::Transmit,
                    small.as_mut_ptr(),
                    100,
                    0x77,
                    mode::CALLBACK,
                )
            };
            c.success(r, "transmit 100 bytes against a 4096-byte receive");
            expect_events(c, &s, &[Event::TxAborted(0x77)], "mismatch: TX_ABORTED");
        }
        if c.success(configure(&s, 4096, 1, false), "configure a 4096-byte echo")
            .is_some()
        {
            let r = s.transmit(&small);
            c.ok(
                r.is_err(),
                format_args!("an aborted BLOCKING transmit fails ({r:?})"),
            );
        }
        // Faulting buffers are refused at queueing time.
        let bad = BadMem::new().expect("mmap");
        for (addr, name) in bad.faulting() {
            // SAFETY: the address faults; the kernel must refuse the transfer.
            let r = unsafe {
                s.queue_bulk(
                    BulkDir::Receive,
                    addr as *mut u8,
                    4096,
                    0x99,
                    mode::CALLBACK,
                )
            };
            c.errno_any(
                r,
                &[EFAULT, EIO, ENOMEM],
                format_args!("receive into {name}"),
            );
        }
        // SAFETY: read-only memory as a receive buffer must be refused (the kernel writes).
        let r = unsafe {
            s.queue_bulk(
                BulkDir::Receive,
                bad.read_only as *mut u8,
                4096,
                0x98,
                mode::CALLBACK,
            )
        };
        c.errno_any(r, &[EFAULT, EIO, ENOMEM], "receive into a read-only page");
        c.success(s.close(), "close echo");
        expect_events(c, &s, &[Event::Closed], "closed");
        no_more_events(c, &s, "echo bulks");
        drop(small);
    }
    client_clean(c, &cl, "echo bulks");
}

/// vchi and non-vchi delivery side by side on one instance.
fn vchi(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    let (Some(a), Some(b)) = (
        c.success(cl.open_service(ECHO, 3, 3, true), "open echo (vchi)"),
        c.success(cl.open_service(ECHO, 3, 3, false), "open echo (completion)"),
    ) else {
        return;
    };
    let mut echoed = 0;
    for i in 0..100u32 {
        let (ma, mb) = (
            echo_message(4 + i as usize * 13, i),
            echo_message(4 + i as usize * 17, !i),
        );
        if let Err(e) = a.send(&[&ma]).and_then(|_| b.send(&[&mb])) {
            c.fail(format_args!("interleaved echo {i}: send: {}", describe(&e)));
            break;
        }
        let (ra, rb) = (a.recv_any(WAIT), b.recv_any(WAIT));
        if ra.as_ref().ok() != Some(&ma) || rb.as_ref().ok() != Some(&mb) {
            c.fail(format_args!(
                "interleaved echo {i}: vchi {:?} completion {:?}",
                ra.map(|r| r.len()),
                rb.map(|r| r.len())
            ));
            break;
        }
        echoed += 1;
    }
    c.ok(
        echoed == 100,
        format_args!("{echoed} of 100 interleaved echoes on a vchi and a non-vchi service"),
    );
    // The vchi service gets MESSAGE_AVAILABLE hints only, never a header.
    let hint = std::iter::from_fn(|| a.try_event()).all(|e| e == Event::MessageAvailable);
    c.ok(hint, "vchi service: only MESSAGE_AVAILABLE completions");
    c.success(a.close(), "close vchi");
    c.success(b.remove(), "remove non-vchi");
    expect_events(c, &a, &[Event::Closed], "vchi closed");
    expect_events(c, &b, &[Event::Closed], "non-vchi closed");
    client_clean(c, &cl, "vchi");
}

fn lifecycle(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    if let Some(s) = c.success(cl.open_service(ECHO, 3, 3, false), "open echo") {
        c.errno(
            cl.dev().close_delivered(s.handle),
            EINVAL,
            "CLOSE_DELIVERED on an open service",
        );
        for _ in 0..3 {
            c.success(s.use_service(), "USE_SERVICE");
        }
        for _ in 0..3 {
            c.success(s.release_service(), "RELEASE_SERVICE");
        }
        c.success(
            s.send(&[&MSG_SYNC.to_le_bytes()]),
            "MSG_SYNC after use/release",
        );
        reply_is(c, &s, b"\0", "use/release");
        c.success(s.close(), "close (waits for CLOSE_DELIVERED)");
        expect_events(c, &s, &[Event::Closed], "closed");
        c.errno(
            cl.dev().close_delivered(s.handle),
            EINVAL,
            "CLOSE_DELIVERED again",
        );
        c.errno(s.use_service(), EINVAL, "USE_SERVICE after close");
        c.errno(s.release_service(), EINVAL, "RELEASE_SERVICE after close");
        c.errno(s.send(&[b"abcd"]), EINVAL, "message after close");
        c.errno(s.close(), EINVAL, "close again");
    }
    // Several services, then SHUTDOWN removes them all and ends the completion thread.
    let ss: Vec<Service> = (0..3)
        .filter_map(|_| cl.open_service(ECHO, 3, 3, false).ok())
        .collect();
    c.ok(ss.len() == 3, "3 echo services open");
    let handles: Vec<u32> = ss.iter().map(|s| s.handle).collect();
    let dev_check: Vec<_> = ss.iter().map(|s| s.use_service().is_ok()).collect();
    c.ok(dev_check.iter().all(|&x| x), "USE_SERVICE on each");
    client_clean(c, &cl, "lifecycle");
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = std::thread::spawn(move || {
        let r = cl.shutdown();
        let _ = tx.send(r.is_ok());
    });
    let done = rx.recv_timeout(WAIT);
    c.ok(
        done == Ok(true),
        format_args!("SHUTDOWN returns and the completion thread ends ({done:?})"),
    );
    // Not joined: see Client::shutdown.
    drop(keep);
    for (s, h) in ss.iter().zip(&handles) {
        let closed = std::iter::from_fn(|| s.try_event()).any(|e| e == Event::Closed);
        c.ok(
            closed,
            format_args!("service {h:#x} got SERVICE_CLOSED at shutdown"),
        );
        c.errno(
            s.dev().use_service(*h),
            EINVAL,
            "USE_SERVICE after SHUTDOWN",
        );
    }
    drop(ss);
    // Without LIB_VERSION >= 7 there is no close-delivered handshake.
    let Some(dev) = c.success(Vchiq::open_path(&o.path), "open") else {
        return;
    };
    c.success(dev.lib_version(6), "LIB_VERSION 6");
    let Some(cl) = c.success(Client::connect(dev, false), "connect") else {
        return;
    };
    if let Some(s) = c.success(cl.open_service(ECHO, 3, 3, false), "open echo (lib 6)") {
        c.success(s.close(), "close without the handshake");
        expect_events(c, &s, &[Event::Closed], "closed (lib 6)");
        c.errno(
            cl.dev().close_delivered(s.handle),
            EINVAL,
            "CLOSE_DELIVERED (lib 6)",
        );
    }
    client_clean(c, &cl, "lib 6");
    c.success(cl.shutdown(), "SHUTDOWN");
}

/// A blocking transmit that nothing receives, hit by SIGALRM (no SA_RESTART), then
/// completed by a receive the echo service posts later. An interruptible kernel returns
/// EINTR with mode WAITING written back, and the resumed call completes; a killable one
/// is not interrupted at all (vchiq-protocol.md §11.4 quirk) and completes in one call.
fn signal_bulk(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    let Some(s) = c.success(cl.open_service(ECHO, 3, 3, false), "open echo") else {
        return;
    };
    // WAITING with no saved waiter.
    let mut buf = vec![0x42u8; 4096];
    let mut arg = abi::QueueBulkTransfer {
        handle: s.handle,
        data: buf.as_mut_ptr() as *mut _,
        size: 4096,
        userdata: std::ptr::null_mut(),
        mode: mode::WAITING,
    };
    // SAFETY: `buf` outlives the service; nothing can be queued in WAITING mode.
    let r = unsafe { s.dev().queue_bulk_once(BulkDir::Transmit, &mut arg) };
    c.errno(r, ESRCH, "WAITING without an interrupted transfer");
    let me = signal::this_thread();
    let params = test_params(4096, 1, false, false);
    let (dev, handle) = (s.dev(), s.handle);
    let sent = std::sync::Mutex::new(None);
    let woken = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            // Again and again until the call saw one: a signal that comes before the call
            // starts to wait (a loaded machine) is taken by the handler in user space.
            let t = Instant::now();
            while !woken.load(SeqCst) && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(200));
                let _ = signal::alarm_thread(me);
            }
            std::thread::sleep(Duration::from_millis(600));
            *sent.lock().unwrap() = Some(dev.queue_message(handle, &[&params]));
        });
        arg.mode = mode::BLOCKING;
        let t = Instant::now();
        let mut interrupted = 0;
        let mut result;
        loop {
            // SAFETY: `buf` outlives the service.
            result = unsafe { s.dev().queue_bulk_once(BulkDir::Transmit, &mut arg) };
            match &result {
                // More than one EINTR only if the signaller raced the first one.
                Err(e) if errno(e) == EINTR && interrupted < 3 => {
                    woken.store(true, SeqCst);
                    interrupted += 1;
                    c.ok(
                        arg.mode == mode::WAITING,
                        format_args!(
                            "EINTR after {} ms: mode {} written back (WAITING = 3)",
                            t.elapsed().as_millis(),
                            arg.mode
                        ),
                    );
                    if arg.mode != mode::WAITING {
                        break;
                    }
                }
                _ => break,
            }
        }
        let ms = t.elapsed().as_millis();
        match result {
            Ok(()) if interrupted > 0 => c.ok(
                true,
                format_args!("resumed with WAITING, completed after {ms} ms"),
            ),
            // vchiq-dev's blocking wait is interruptible: no EINTR means the signal
            // never came or the restart protocol is broken.
            Ok(()) => c.ok(
                false,
                format_args!("the blocking bulk was not interrupted by SIGALRM ({ms} ms)"),
            ),
            Err(e) => c.ok(
                false,
                format_args!("interrupted blocking bulk: {}", describe(&e)),
            ),
        };
    });
    let sender = sent
        .into_inner()
        .unwrap()
        .unwrap_or_else(|| Err(io::Error::other("no result")));
    c.success(sender, "MSG_CONFIG from another thread");
    reply_is(c, &s, b"\0", "config reply");
    c.success(s.close(), "close");
    expect_events(c, &s, &[Event::Closed], "closed");
    no_more_events(c, &s, "signal");
    client_clean(c, &cl, "signal");
    drop(buf);
}

fn errors(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    let dev = cl.dev();
    let bad = BadMem::new().expect("mmap");
    for h in [0u32, 0xdead_beef, 0x7fff_ffff] {
        c.errno(
            dev.remove_service(h),
            EINVAL,
            format_args!("REMOVE_SERVICE {h:#x}"),
        );
        c.errno(
            dev.close_service(h),
            EINVAL,
            format_args!("CLOSE_SERVICE {h:#x}"),
        );
        c.errno(
            dev.use_service(h),
            EINVAL,
            format_args!("USE_SERVICE {h:#x}"),
        );
        c.errno(
            dev.release_service(h),
            EINVAL,
            format_args!("RELEASE_SERVICE {h:#x}"),
        );
        c.errno(
            dev.close_delivered(h),
            EINVAL,
            format_args!("CLOSE_DELIVERED {h:#x}"),
        );
        c.errno(
            dev.set_service_option(h, option::AUTOCLOSE, 1),
            EINVAL,
            format_args!("SET_SERVICE_OPTION {h:#x}"),
        );
        c.errno(
            dev.queue_message(h, &[b"abcd"]),
            EINVAL,
            format_args!("QUEUE_MESSAGE {h:#x}"),
        );
        c.errno(
            dev.dequeue_message(h, Some(&mut [0; 8]), false),
            EINVAL,
            format_args!("DEQUEUE_MESSAGE {h:#x}"),
        );
        let mut b = [0u8; 16];
        // SAFETY: `b` outlives the call; the handle is invalid, nothing is queued.
        let r =
            unsafe { dev.queue_bulk(BulkDir::Transmit, h, b.as_mut_ptr(), 16, 0, mode::CALLBACK) };
        c.errno(r, EINVAL, format_args!("QUEUE_BULK_TRANSMIT {h:#x}"));
    }
    // A handle of another instance of this process.
    if let Some(other) = Client::open(&o.path).ok().and_then(|cl2| {
        let s = cl2.open_service(ECHO, 3, 3, false).ok()?;
        Some((cl2, s))
    }) {
        let h = other.1.handle;
        c.errno(
            dev.use_service(h),
            EINVAL,
            "USE_SERVICE of another instance's handle",
        );
        c.errno(
            dev.queue_message(h, &[b"abcd"]),
            EINVAL,
            "QUEUE_MESSAGE on another instance's handle",
        );
        c.errno(
            dev.close_service(h),
            EINVAL,
            "CLOSE_SERVICE of another instance's handle",
        );
        c.success(other.1.close(), "the other instance closes its own service");
    }
    // Faulting argument pointers.
    let cmds = [
        ioc::CREATE_SERVICE,
        ioc::QUEUE_MESSAGE,
        ioc::QUEUE_BULK_TRANSMIT,
        ioc::QUEUE_BULK_RECEIVE,
        ioc::AWAIT_COMPLETION,
        ioc::DEQUEUE_MESSAGE,
        ioc::GET_CONFIG,
        ioc::SET_SERVICE_OPTION,
    ];
    for req in cmds {
        for (addr, name) in bad.faulting() {
            // SAFETY: the argument address faults; the kernel must not use it.
            let r = unsafe { dev.ioctl_raw(req, addr) };
            c.errno(
                r,
                EFAULT,
                format_args!(
                    "{} with the argument at {name}",
                    ioc::name(req).unwrap_or("?")
                ),
            );
        }
    }
    // Faulting pointers inside valid arguments.
    for (addr, name) in bad.faulting() {
        let mut g = abi::GetConfig {
            config_size: 20,
            pconfig: addr as *mut Config,
        };
        // SAFETY: `g` is ours; pconfig faults.
        let r = unsafe { dev.ioctl_raw(ioc::GET_CONFIG, &mut g as *mut _ as usize) };
        c.errno(r, EFAULT, format_args!("GET_CONFIG into {name}"));
    }
    let mut g = abi::GetConfig {
        config_size: 20,
        pconfig: bad.read_only as *mut Config,
    };
    // SAFETY: `g` is ours; pconfig is read-only.
    let r = unsafe { dev.ioctl_raw(ioc::GET_CONFIG, &mut g as *mut _ as usize) };
    c.errno(r, EFAULT, "GET_CONFIG into a read-only page");
    if let Some(s) = c.success(cl.open_service(ECHO, 3, 3, true), "open echo (vchi)") {
        for (addr, name) in bad.faulting() {
            if addr == 0 {
                continue;
            }
            // SAFETY: the element array faults.
            let r = unsafe { dev.queue_message_raw(s.handle, 1, addr as *const Element) };
            c.errno(r, EFAULT, format_args!("QUEUE_MESSAGE elements at {name}"));
        }
        for (addr, name) in bad.faulting().into_iter().skip(1) {
            let e = [Element {
                data: addr as *const _,
                size: 16,
            }];
            // SAFETY: the element's data faults.
            let r = unsafe { dev.queue_message_raw(s.handle, 1, e.as_ptr()) };
            c.errno_any(
                r,
                &[EIO, EFAULT],
                format_args!("QUEUE_MESSAGE data at {name}"),
            );
        }
        // DEQUEUE into a faulting buffer with a message waiting.
        let _ = s.send(&[&MSG_SYNC.to_le_bytes()]);
        std::thread::sleep(Duration::from_millis(100));
        let mut d = abi::DequeueMessage {
            handle: s.handle,
            blocking: 1,
            bufsize: 100,
            buf: bad.hole as *mut _,
        };
        // SAFETY: `d` is ours; its buffer faults.
        let r = unsafe { dev.ioctl_raw(ioc::DEQUEUE_MESSAGE, &mut d as *mut _ as usize) };
        c.errno(r, EFAULT, "DEQUEUE_MESSAGE into an unmapped page");
        c.success(s.close(), "close");
    }
    // A handle that cannot be written back: the open is undone (EFAULT).
    if let Ok(page) = badmem::map_pages(1) {
        let arg = abi::CreateService {
            params: abi::ServiceParams {
                fourcc: ECHO,
                callback: std::ptr::null(),
                userdata: std::ptr::null_mut(),
                version: 3,
                version_min: 3,
            },
            is_open: 0,
            is_vchi: 0,
            handle: 0,
        };
        // SAFETY: `page` is a fresh page of ours, large enough for the structure, made
        // read-only afterwards; nothing else lives there.
        let r = unsafe {
            std::ptr::write(page as *mut abi::CreateService, arg);
            badmem::make_read_only(page, PAGE)
                .and_then(|_| dev.ioctl_raw(ioc::CREATE_SERVICE, page))
        };
        c.errno(
            r,
            EFAULT,
            "CREATE_SERVICE with a read-only argument (listener)",
        );
    }
    // Unknown commands.
    let mut scratch = [0u64; 64];
    let p = scratch.as_mut_ptr() as usize;
    let other_width = |req: u32| {
        let sz = ioc::ioc_size(req) as usize;
        let alt = if std::mem::size_of::<usize>() == 8 {
            match ioc::ioc_nr(req) {
                2 => 28,
                4 => 12,
                5 | 6 => 20,
                7 => 20,
                8 => 16,
                10 => 8,
                _ => sz,
            }
        } else {
            match ioc::ioc_nr(req) {
                2 => 48,
                4 => 16,
                5 | 6 => 40,
                7 => 32,
                8 => 24,
                10 => 16,
                _ => sz,
            }
        };
        ioc::ioc(ioc::ioc_dir(req), MAGIC, ioc::ioc_nr(req), alt)
    };
    let mut unknown = vec![
        (ioc::ioc(ioc::IOC_NONE, MAGIC, 18, 0), "nr 18".to_string()),
        (ioc::ioc(ioc::IOC_NONE, MAGIC, 0xFF, 0), "nr 255".into()),
        (
            ioc::ioc(ioc::IOC_NONE, MAGIC, 15, 0),
            "nr 15 without argument".into(),
        ),
        (ioc::DUMP_PHYS_MEM, "DUMP_PHYS_MEM".into()),
        (
            ioc::ioc(ioc::IOC_NONE, MAGIC + 1, 0, 0),
            "magic 0xC5".into(),
        ),
        (
            ioc::ioc(ioc::IOC_NONE, MAGIC - 1, 1, 0),
            "magic 0xC3".into(),
        ),
        (
            ioc::CREATE_SERVICE - (1 << 16),
            "CREATE_SERVICE with size - 1".into(),
        ),
        (
            ioc::GET_CONFIG + (1 << 16),
            "GET_CONFIG with size + 1".into(),
        ),
        (
            ioc::ioc(
                ioc::IOC_WRITE,
                MAGIC,
                2,
                std::mem::size_of::<abi::CreateService>(),
            ),
            "CREATE_SERVICE as _IOW".into(),
        ),
        (
            ioc::ioc(ioc::IOC_READ | ioc::IOC_WRITE, MAGIC, 0, 8),
            "CONNECT with a size".into(),
        ),
    ];
    for req in [
        ioc::CREATE_SERVICE,
        ioc::QUEUE_MESSAGE,
        ioc::QUEUE_BULK_TRANSMIT,
        ioc::AWAIT_COMPLETION,
        ioc::DEQUEUE_MESSAGE,
        ioc::GET_CONFIG,
    ] {
        unknown.push((
            other_width(req),
            format!("{} of the other pointer width", ioc::name(req).unwrap()),
        ));
    }
    for (req, name) in unknown {
        // SAFETY: the argument is a zeroed scratch area of ours, large enough for any
        // structure of this ABI.
        let r = unsafe { dev.ioctl_raw(req, p) };
        c.errno(r, ENOTTY, format_args!("{name} ({req:#010x})"));
    }
    client_clean(c, &cl, "errors");
}

/// Phase 3: fun2 bulk alignment (firmware-services.md §1.7).
fn fun2(c: &mut Checker, o: &Opts) {
    let Some(cl) = client(c, o) else { return };
    let Some(s) = c.success(cl.open_service(FUN2, 3, 3, false), "open fun2") else {
        return;
    };
    let mut rx = Aligned::new(3 * PAGE + 8192);
    let mut tx = Aligned::new(3 * PAGE + 8192);
    let mut index = 0;
    let mut failed = 0;
    let (slice, phase) = (o.fun2_slice.max(1), o.iteration.get() % o.fun2_slice.max(1));
    let mut ran = 0;
    let mut run = |c: &mut Checker, datalen: usize, sa: usize, co: usize| -> io::Result<()> {
        index += 1;
        if index as usize % slice != phase {
            return Ok(());
        }
        ran += 1;
        let msg: Vec<u8> = [datalen as i32, sa as i32, co as i32, index]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let off = co as isize;
        rx.region(off - 32, 32).fill(0xFF);
        rx.region(off - 1, 1)[0] = 0xFE;
        rx.region(off + datalen as isize, 32).fill(0xFF);
        rx.region(off + datalen as isize, 1)[0] = 0xFE;
        rx.region(off, datalen).fill(0xA5);
        fun2_pattern(tx.region(off, datalen));
        s.send(&[&msg])?;
        let (rp, tp) = (rx.addr(off), tx.addr(off));
        let ud = index as usize;
        // SAFETY: both buffers live until the service is closed; each test waits for both
        // completions before the buffers are touched again.
        unsafe {
            s.queue_bulk(BulkDir::Receive, rp, datalen, ud, mode::CALLBACK)?;
            s.queue_bulk(BulkDir::Transmit, tp, datalen, ud, mode::CALLBACK)?;
        }
        let mut left = vec![Event::RxDone(ud), Event::TxDone(ud)];
        while !left.is_empty() {
            let ev = s.next_event(WAIT)?;
            match left.iter().position(|w| *w == ev) {
                Some(i) => {
                    left.remove(i);
                }
                None => return Err(io::Error::other(format!("unexpected {ev:?}"))),
            }
        }
        let pre = rx.region(off - 32, 32);
        let pre_ok = pre[..31].iter().all(|&b| b == 0xFF) && pre[31] == 0xFE;
        let post = rx.region(off + datalen as isize, 32);
        let post_ok = post[1..].iter().all(|&b| b == 0xFF) && post[0] == 0xFE;
        let diff = first_diff(rx.region(off, datalen), tx.region(off, datalen));
        let data_ok = diff.is_none();
        if let Some(at) = diff {
            let (r, t) = (rx.region(off, datalen), tx.region(off, datalen));
            let bad = r.iter().zip(t.iter()).filter(|(a, b)| a != b).count();
            let end = (at + 8).min(datalen);
            println!(
                "  fun2: {bad} bytes differ, first at {at}: got {:02x?} want {:02x?}",
                &r[at..end],
                &t[at..end]
            );
        }
        if !(pre_ok && post_ok && data_ok) {
            c.fail(format_args!(
                "fun2 test {index} (datalen {datalen}, server_align {sa}, client offset {co}):{}{}{}",
                if pre_ok { "" } else { " Prologue corrupted" },
                if post_ok { "" } else { " Epilogue corrupted" },
                if data_ok { "" } else { " Data corrupted" }
            ));
            failed += 1;
        }
        Ok(())
    };
    println!("Testing bulk transfer for alignment.");
    let mut total = 0;
    'outer: for (loop_no, offsets) in [
        [0usize, 16, 8, 4, 2, 1],
        [4064, 4080, 4088, 4092, 4094, 4095],
    ]
    .iter()
    .enumerate()
    {
        if loop_no == 1 {
            println!("Testing bulk transfer at PAGE_SIZE.");
        }
        for datalen in 1..64 {
            for sa in [0, 16, 8, 4, 2, 1] {
                for &co in offsets {
                    total += 1;
                    if let Err(e) = run(c, datalen, sa, co) {
                        c.fail(format_args!(
                            "fun2 datalen {datalen} server_align {sa} client offset {co}: {}",
                            describe(&e)
                        ));
                        break 'outer;
                    }
                }
            }
        }
    }
    'big: for datalen in (64..=8192).step_by(64) {
        for base in [0, 1, 31] {
            for co in [0, 1, 31] {
                for k in 0..=8 {
                    total += 1;
                    if let Err(e) = run(c, datalen, base + k, co) {
                        c.fail(format_args!(
                            "fun2 datalen {datalen} server_align {} client offset {co}: {}",
                            base + k,
                            describe(&e)
                        ));
                        break 'big;
                    }
                }
            }
        }
    }
    c.ok(
        failed == 0,
        format_args!("{ran} of the sweep's {total} fun2 transfers (every {slice}th)"),
    );
    c.success(s.close(), "close fun2");
    expect_events(c, &s, &[Event::Closed], "closed");
    client_clean(c, &cl, "fun2");
}
