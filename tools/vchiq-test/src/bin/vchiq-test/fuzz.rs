//! `--fuzz N [--seed S]`: N random ioctls on /dev/vchiq. Request numbers are the defined
//! ones, ones in and around the 0xC4 magic (any direction, size and number) and random
//! 32-bit values; arguments are built in a private arena with random fields, handles
//! (live, stale, random) and pointers (into the arena, NULL, low, PROT_NONE, unmapped,
//! kernel-looking); sequences include CONNECT, CREATE, messages, bulks, AWAIT, DEQUEUE,
//! CLOSE, SHUTDOWN and reopening the device.
//!
//! The fuzzer must never corrupt itself: every word of the arena, which the kernel may
//! take as a pointer, is itself harmless as a pointer (it points into the arena with
//! 8 KiB to spare, or faults), the arena is restored before every call and never freed,
//! and argument structures sit at word-aligned places. It must never hang: every call
//! runs under a SIGALRM every 3 ms (no SA_RESTART; repeating, since a one-shot alarm that
//! fires before the call starts to wait would leave the wait unbounded) and nothing that
//! waits killably is issued on a live service (no BLOCKING bulks; bulks per live service
//! bounded; no MSG_CONFIG, so the echo service never moves bulk data).

use crate::util::*;
use std::collections::BTreeMap;
use std::mem::size_of;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;
use vchiq_test::abi::{self, Element};
use vchiq_test::badmem::BadMem;
use vchiq_test::device::{errno, errno_name, Vchiq, EINTR};
use vchiq_test::ioc::VCHIQ_IOC_MAGIC as MAGIC;
use vchiq_test::rng::Rng;
use vchiq_test::{ioc, signal};

const W: usize = size_of::<usize>();
/// How long one fuzzed call may wait, in microseconds.
const ALARM_US: u32 = 3000;
const ARENA_BYTES: usize = 64 * 1024;
/// Arena pointers stay below this offset: the kernel writes at most 4096 bytes at one.
const ARENA_USABLE: usize = ARENA_BYTES - 8192;

struct Live {
    handle: u32,
    bulks: usize,
}

struct Fuzz {
    rng: Rng,
    path: String,
    dev: Option<Vchiq>,
    arena: &'static mut [usize],
    clean: Vec<usize>,
    bad: BadMem,
    live: Vec<Live>,
    stale: Vec<u32>,
    messages: usize,
    calls: u64,
    by_errno: BTreeMap<String, u64>,
    by_cmd: BTreeMap<String, BTreeMap<String, u64>>,
    reopens: u64,
}

impl Fuzz {
    fn base(&self) -> usize {
        self.arena.as_ptr() as usize
    }

    /// A word-aligned pointer into the arena's usable part.
    fn aptr(&mut self) -> usize {
        self.base() + self.rng.below((ARENA_USABLE / W) as u64) as usize * W
    }

    /// A word that is harmless when the kernel takes it as a pointer.
    fn safe_word(&mut self) -> usize {
        const SMALL: [usize; 17] = [
            1, 2, 3, 5, 7, 8, 16, 20, 24, 28, 32, 48, 100, 255, 1000, 4088, 4095,
        ];
        match self.rng.below(10) {
            0 => 0,
            1 => SMALL[self.rng.below(SMALL.len() as u64) as usize],
            2..=4 => self.aptr(),
            5 => self.bad.no_access + self.rng.below(512) as usize * 8,
            6 => self.bad.hole + self.rng.below(512) as usize * 8,
            7 => BadMem::kernel() + self.rng.below(1 << 20) as usize * W,
            8 => {
                if self.rng.chance(1, 2) {
                    usize::MAX
                } else {
                    0x8000_0000
                }
            }
            _ => loop {
                let v = self.rng.below(4096) as usize;
                if v != 4 {
                    break v;
                }
            },
        }
    }

    fn regenerate(&mut self) {
        let words: Vec<usize> = (0..self.clean.len()).map(|_| self.safe_word()).collect();
        self.clean = words;
    }

    /// Writes a value at a byte offset from an arena address (which must be in it).
    fn put<T: Copy>(&mut self, at: usize, v: T) {
        let off = at - self.base();
        assert!(off + size_of::<T>() <= ARENA_BYTES && off % W == 0);
        let words = &mut self.arena[off / W..];
        // SAFETY: `at .. at + size_of::<T>()` lies inside the arena (checked above), a
        // word-aligned region of plain integers that T (a repr(C) structure of integers
        // and pointers, alignment <= W) may overwrite.
        unsafe { std::ptr::write(words.as_mut_ptr() as *mut T, v) };
    }

    fn get_u32(&self, at: usize) -> u32 {
        let off = at - self.base();
        assert!(off + 4 <= ARENA_BYTES);
        // SAFETY: inside the arena (checked); any bit pattern is a valid u32.
        unsafe { std::ptr::read_unaligned(at as *const u32) }
    }

    fn handle(&mut self) -> u32 {
        match self.rng.below(8) {
            0..=3 if !self.live.is_empty() => {
                let i = self.rng.below(self.live.len() as u64) as usize;
                self.live[i].handle
            }
            4 if !self.stale.is_empty() => {
                let i = self.rng.below(self.stale.len() as u64) as usize;
                self.stale[i]
            }
            5 => 0,
            6 => self.rng.next_u32(),
            _ => self.rng.below(0x3000) as u32,
        }
    }

    fn live_index(&self, h: u32) -> Option<usize> {
        self.live.iter().position(|l| l.handle == h)
    }

    /// A data pointer and size: in the arena with room, or faulting.
    fn data(&mut self, max: usize) -> (usize, usize) {
        match self.rng.below(6) {
            0 => (0, self.rng.below(64) as usize),
            1 => (self.safe_word() | 1, self.rng.below(8000) as usize),
            _ => {
                let p = self.aptr();
                let room = self.base() + ARENA_USABLE - p;
                (p, self.rng.below(room.min(max) as u64 + 1) as usize)
            }
        }
    }

    fn reopen(&mut self) {
        self.dev = None; // release: the kernel drops every service and completion
        self.live.clear();
        self.stale.clear();
        self.messages = 0;
        self.reopens += 1;
        self.dev = Vchiq::open_path(&self.path).ok();
        if let Some(d) = &self.dev {
            if self.rng.chance(3, 4) {
                let _ = d.lib_version(8);
            }
        }
    }

    /// One ioctl under the alarm, counted.
    fn call(&mut self, req: u32, arg: usize, label: &str) -> Result<i32, i32> {
        let Some(dev) = &self.dev else {
            return Err(0);
        };
        alarm_on();
        // SAFETY: every address the kernel can reach from `arg` is in the arena (with room
        // for what the request writes) or faults; see the module comment.
        let r = unsafe { dev.ioctl_raw(req, arg) };
        alarm_off();
        self.calls += 1;
        let e = match &r {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(errno(e)),
        };
        *self.by_errno.entry(e.clone()).or_default() += 1;
        *self
            .by_cmd
            .entry(label.to_string())
            .or_default()
            .entry(e)
            .or_default() += 1;
        r.map_err(|e| errno(&e))
    }

    fn step(&mut self) {
        if self.calls % 1000 == 0 {
            self.regenerate();
        }
        self.arena.copy_from_slice(&self.clean);
        if self.dev.is_none() || self.rng.chance(1, 400) || self.messages > 60 {
            self.reopen();
            return;
        }
        match self.rng.below(100) {
            0..=44 => self.defined(),
            45..=69 => {
                let dir = self.rng.below(4) as u32;
                let ty = [MAGIC - 1, MAGIC, MAGIC, MAGIC, MAGIC + 1][self.rng.below(5) as usize];
                let nr = self.rng.below(32) as u32;
                let size = match self.rng.below(4) {
                    0 => 0,
                    1 => [8, 12, 16, 20, 24, 28, 32, 40, 48][self.rng.below(9) as usize],
                    2 => self.rng.below(64) as usize,
                    _ => self.rng.below(0x4000) as usize,
                };
                let req = ioc::ioc(dir, ty, nr, size);
                let arg = self.safe_word();
                let label = match ioc::name(req) {
                    Some(n) => format!("{n} (random argument)"),
                    None => "near 0xC4".to_string(),
                };
                if ioc::name(req).is_some() && self.unsafe_random(req) {
                    return;
                }
                let _ = self.call(req, arg, &label);
            }
            70..=74 => {
                let req = self.rng.next_u32();
                // Keep away from file-system ioctls that act on the device's file system.
                if matches!(ioc::ioc_type(req), 0x58 | 0x94 | 0x66 | 0x12)
                    || ioc::ioc_type(req) == MAGIC
                {
                    return;
                }
                let arg = self.safe_word();
                let _ = self.call(req, arg, "random 32-bit");
            }
            75..=79 => {
                let _ = self.call(ioc::CONNECT, 0, "CONNECT");
            }
            80..=81 => {
                let _ = self.call(ioc::SHUTDOWN, 0, "SHUTDOWN");
            }
            _ => self.roundtrip(),
        }
    }

    /// A defined command with an arena argument whose fields could make it wait
    /// killably (a BLOCKING bulk or a WAITING resume on a live service): refused.
    fn unsafe_random(&mut self, req: u32) -> bool {
        req == ioc::QUEUE_BULK_TRANSMIT || req == ioc::QUEUE_BULK_RECEIVE
    }

    fn defined(&mut self) {
        let (req, name) = ioc::ALL[self.rng.below(ioc::ALL.len() as u64) as usize];
        let label = name.to_string();
        let nr = ioc::ioc_nr(req);
        match nr {
            0 | 1 => {
                let _ = self.call(req, 0, &label);
            }
            3 | 9 | 11 | 12 | 13 | 17 => {
                let h = self.handle();
                let r = self.call(req, h as usize, &label);
                if (nr == 3 || nr == 11) && r.is_ok() {
                    if let Some(i) = self.live_index(h) {
                        let l = self.live.swap_remove(i);
                        self.stale.push(l.handle);
                    }
                }
            }
            16 => {
                let v = self.rng.below(12) as usize;
                let _ = self.call(req, v, &label);
            }
            2 => self.create(req, &label),
            4 => self.message(req, &label),
            5 | 6 => self.bulk(req, &label),
            7 => {
                let at = self.aptr();
                let count = [0, 1, 8, 128, 1000, u32::MAX][self.rng.below(6) as usize];
                let mut bufs = Vec::new();
                for _ in 0..8 {
                    let p = self.safe_word();
                    bufs.push(p);
                }
                let arr = self.aptr();
                for (i, b) in bufs.iter().enumerate() {
                    if arr + (i + 1) * W <= self.base() + ARENA_BYTES {
                        self.put(arr + i * W, *b);
                    }
                }
                let buf = if self.rng.chance(3, 4) {
                    self.aptr()
                } else {
                    self.safe_word()
                };
                let a = abi::AwaitCompletion {
                    count,
                    buf: buf as *mut _,
                    msgbufsize: [0, 8, 100, 4096, 5000][self.rng.below(5) as usize],
                    msgbufcount: self.rng.below(9) as u32,
                    msgbufs: if self.rng.chance(3, 4) {
                        arr
                    } else {
                        self.safe_word()
                    } as *mut _,
                };
                self.put(at, a);
                let arg = if self.rng.chance(9, 10) {
                    at
                } else {
                    self.safe_word()
                };
                let _ = self.call(req, arg, &label);
            }
            8 => {
                let at = self.aptr();
                let (buf, _) = self.data(4096);
                let d = abi::DequeueMessage {
                    handle: self.handle(),
                    blocking: self.rng.below(3) as i32,
                    bufsize: [0, 1, 100, 4088, 4096, u32::MAX][self.rng.below(6) as usize],
                    buf: buf as *mut _,
                };
                self.put(at, d);
                let _ = self.call(req, at, &label);
            }
            10 => {
                let at = self.aptr();
                let p = if self.rng.chance(2, 3) {
                    self.aptr()
                } else {
                    self.safe_word()
                };
                let g = abi::GetConfig {
                    config_size: [0, 4, 19, 20, 21, 64, u32::MAX][self.rng.below(7) as usize],
                    pconfig: p as *mut _,
                };
                self.put(at, g);
                let _ = self.call(req, at, &label);
            }
            14 => {
                let at = self.aptr();
                let o = abi::SetServiceOption {
                    handle: self.handle(),
                    option: self.rng.below(7) as i32 - 1,
                    value: [0, 1, 2, 10, 0xFFFF, -1][self.rng.below(6) as usize],
                };
                self.put(at, o);
                let _ = self.call(req, at, &label);
            }
            _ => {
                let arg = self.safe_word();
                let _ = self.call(req, arg, &label);
            }
        }
    }

    fn create(&mut self, req: u32, label: &str) {
        let at = self.aptr();
        let fourcc = match self.rng.below(6) {
            0..=2 if self.live.len() < 6 => ECHO,
            3 => NONE,
            4 => 0,
            _ => self.rng.next_u32() as i32 & 0x7f7f_7f7f | 0x4040_4040,
        };
        let is_vchi = self.rng.below(3) as i32;
        let c = abi::CreateService {
            params: abi::ServiceParams {
                fourcc,
                callback: self.safe_word() as *const _,
                userdata: self.safe_word() as *mut _,
                version: [0, 3, 3, 4, -1][self.rng.below(5) as usize],
                version_min: [0, 3, 3, 2][self.rng.below(4) as usize],
            },
            is_open: self.rng.below(3) as i32,
            is_vchi,
            handle: 0,
        };
        self.put(at, c);
        let arg = if self.rng.chance(19, 20) {
            at
        } else {
            self.safe_word()
        };
        if self.call(req, arg, label).is_ok() && arg == at {
            let handle = self.get_u32(at + std::mem::offset_of!(abi::CreateService, handle));
            self.live.push(Live { handle, bulks: 0 });
        }
    }

    fn message(&mut self, req: u32, label: &str) {
        let at = self.aptr();
        let count = [0, 1, 1, 2, 3, 8, 9, 1000][self.rng.below(8) as usize];
        let elems = self.aptr();
        let mut total = 0;
        for i in 0..count.min(8) as usize {
            let (p, n) = self.data(600);
            let n = if self.rng.chance(1, 20) { 5000 } else { n };
            total += n;
            if elems + (i + 1) * size_of::<Element>() <= self.base() + ARENA_BYTES {
                self.put(
                    elems + i * size_of::<Element>(),
                    Element {
                        data: p as *const _,
                        size: n as u32,
                    },
                );
            }
        }
        let h = self.handle();
        if total == 40 {
            return; // never a MSG_CONFIG-sized message
        }
        let q = abi::QueueMessage {
            handle: h,
            count,
            elements: if self.rng.chance(5, 6) {
                elems
            } else {
                self.safe_word()
            } as *const _,
        };
        self.put(at, q);
        if self.call(req, at, label).is_ok() && self.live_index(h).is_some() {
            self.messages += 1;
        }
    }

    fn bulk(&mut self, req: u32, label: &str) {
        let at = self.aptr();
        let h = self.handle();
        let live = self.live_index(h);
        let mode = match self.rng.below(6) {
            0 | 1 => abi::mode::CALLBACK,
            2 => abi::mode::NOCALLBACK,
            3 => abi::mode::BLOCKING,
            4 => abi::mode::WAITING,
            _ => [-1, 4, 100][self.rng.below(3) as usize],
        };
        if let Some(i) = live {
            // Queued bulks stay pending until close (nothing is configured): bound them,
            // and never wait killably on a live service.
            if self.live[i].bulks >= 3 || mode == abi::mode::BLOCKING || mode == abi::mode::WAITING
            {
                return;
            }
        }
        let (data, size) = self.data(8192);
        let size = if self.rng.chance(1, 10) {
            [0, u32::MAX as usize, 1 << 30][self.rng.below(3) as usize]
        } else {
            size
        };
        let b = abi::QueueBulkTransfer {
            handle: h,
            data: data as *mut _,
            size: size as u32,
            userdata: self.safe_word() as *mut _,
            mode,
        };
        self.put(at, b);
        if self.call(req, at, label).is_ok() {
            if let Some(i) = live {
                self.live[i].bulks += 1;
            }
        }
    }

    /// A well-formed sequence: open echo, message, receive it, remove, AWAIT, deliver.
    fn roundtrip(&mut self) {
        let vchi = self.rng.chance(1, 2);
        let at = self.aptr();
        let c = abi::CreateService {
            params: abi::ServiceParams {
                fourcc: ECHO,
                callback: std::ptr::null(),
                userdata: self.aptr() as *mut _,
                version: 3,
                version_min: 3,
            },
            is_open: 1,
            is_vchi: vchi as i32,
            handle: 0,
        };
        self.put(at, c);
        if self.live.len() >= 6
            || self
                .call(ioc::CREATE_SERVICE, at, "CREATE_SERVICE")
                .is_err()
        {
            return;
        }
        let h = self.get_u32(at + std::mem::offset_of!(abi::CreateService, handle));
        let msg = self.aptr();
        self.put(msg, [MSG_ECHO as u32, 0x1234_5678]);
        let el = self.aptr();
        self.put(
            el,
            Element {
                data: msg as *const _,
                size: 8,
            },
        );
        let q = abi::QueueMessage {
            handle: h,
            count: 1,
            elements: el as *const _,
        };
        let qa = self.aptr();
        self.put(qa, q);
        let _ = self.call(ioc::QUEUE_MESSAGE, qa, "QUEUE_MESSAGE");
        let out = self.aptr();
        if vchi {
            let d = abi::DequeueMessage {
                handle: h,
                blocking: 1,
                bufsize: 4088,
                buf: out as *mut _,
            };
            let da = self.aptr();
            self.put(da, d);
            let _ = self.call(ioc::DEQUEUE_MESSAGE, da, "DEQUEUE_MESSAGE");
        }
        let _ = self.call(ioc::REMOVE_SERVICE, h as usize, "REMOVE_SERVICE");
        self.await_valid(out);
        let _ = self.call(ioc::CLOSE_DELIVERED, h as usize, "CLOSE_DELIVERED");
        self.stale.push(h);
    }

    /// AWAIT_COMPLETION with well-formed buffers in the arena.
    fn await_valid(&mut self, out: usize) {
        let recs = self.base() + 4096;
        let arr = self.base() + 2 * 4096;
        let bufs: [usize; 4] = [
            out,
            self.base() + 3 * 4096,
            self.base() + 4 * 4096,
            self.base() + 5 * 4096,
        ];
        self.put(arr, bufs);
        let a = abi::AwaitCompletion {
            count: 8,
            buf: recs as *mut _,
            msgbufsize: 4096,
            msgbufcount: 4,
            msgbufs: arr as *mut _,
        };
        let aa = self.base() + 6 * 4096;
        self.put(aa, a);
        let _ = self.call(ioc::AWAIT_COMPLETION, aa, "AWAIT_COMPLETION");
    }
}

/// Bounds the next call: SIGALRM after [`ALARM_US`], and every [`ALARM_US`] after that
/// until [`alarm_off`] (a one-shot alarm that fires before the call starts to wait is lost).
fn alarm_on() {
    signal::ualarm_repeating(ALARM_US);
}

fn alarm_off() {
    signal::ualarm(0);
}

/// The alarm must end a wait that starts after it fired: on a loaded machine the fuzzer can
/// be preempted between [`alarm_on`] and its ioctl for longer than [`ALARM_US`]. Forces that
/// (a busy wait after arming) and issues an AWAIT_COMPLETION that nothing completes; a
/// watchdog thread rescues the wait after 20 s (a hang, however slow the guest), which fails
/// the check instead of hanging.
fn alarm_covers_late_wait(path: &str) -> bool {
    let dev = match Vchiq::open_path(path).and_then(|d| d.lib_version(8).map(|_| d)) {
        Ok(d) => d,
        Err(e) => {
            println!("* alarm check: cannot open {path}: {e}");
            return false;
        }
    };
    if let Err(e) = dev.connect() {
        println!("* alarm check: CONNECT: {e}");
        return false;
    }
    let me = signal::this_thread();
    let done = std::sync::atomic::AtomicBool::new(false);
    let rescued = std::sync::atomic::AtomicBool::new(false);
    let r = std::thread::scope(|sc| {
        sc.spawn(|| {
            let t = Instant::now();
            while !done.load(SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(50));
                if t.elapsed().as_secs() >= 20 {
                    rescued.store(true, SeqCst);
                    let _ = signal::alarm_thread(me);
                }
            }
        });
        alarm_on();
        let late = Instant::now();
        while late.elapsed().as_micros() < u128::from(ALARM_US) * 4 {
            std::hint::spin_loop();
        }
        let mut recs = [abi::CompletionData::default()];
        let mut count = 0;
        // SAFETY: no message buffers are passed (count 0).
        let r = unsafe { dev.await_completion(&mut recs, 0, &mut [], &mut count) };
        alarm_off();
        done.store(true, SeqCst);
        r
    });
    match (r, rescued.load(SeqCst)) {
        (Err(e), false) if errno(&e) == EINTR => {
            println!("  the alarm ends a wait that starts after it fired");
            true
        }
        (r, true) => {
            println!("* the alarm does not end a wait that starts after it fired (the watchdog did: {r:?}): a preempted fuzzer would hang");
            false
        }
        (r, false) => {
            println!("* alarm check: AWAIT_COMPLETION with nothing to complete returned {r:?}");
            false
        }
    }
}

pub fn run(path: &str, n: usize, seed: u64) -> bool {
    println!("Fuzz test - {n} ioctls, seed {seed}");
    if let Err(e) = signal::install_alarm_handler() {
        println!("* cannot install the SIGALRM handler: {e}");
        return false;
    }
    if !alarm_covers_late_wait(path) {
        return false;
    }
    let bad = match BadMem::new() {
        Ok(b) => b,
        Err(e) => {
            println!("* mmap: {e}");
            return false;
        }
    };
    // Never freed: pending bulks may pin it until the process ends.
    let arena: &'static mut [usize] = Vec::leak(vec![0usize; ARENA_BYTES / W]);
    let mut f = Fuzz {
        rng: Rng::new(seed),
        path: path.to_string(),
        dev: None,
        clean: vec![0; arena.len()],
        arena,
        bad,
        live: Vec::new(),
        stale: Vec::new(),
        messages: 0,
        calls: 0,
        by_errno: BTreeMap::new(),
        by_cmd: BTreeMap::new(),
        reopens: 0,
    };
    f.regenerate();
    let t = Instant::now();
    let mut last = 0;
    let mut closed_steps = 0;
    while f.calls < n as u64 {
        f.step();
        closed_steps = if f.dev.is_none() { closed_steps + 1 } else { 0 };
        if closed_steps > 10 {
            println!(
                "* {path} cannot be opened any more (after {} ioctls)",
                f.calls
            );
            return false;
        }
        if f.calls / 20000 != last {
            last = f.calls / 20000;
            println!("  {} ioctls ({:.1} s)", f.calls, t.elapsed().as_secs_f64());
        }
        if f.reopens > 10 && f.dev.is_none() && f.calls == 0 {
            println!("* cannot open {path}");
            return false;
        }
    }
    f.dev = None;
    println!(
        "Fuzz test: {} ioctls, {} reopens in {:.1} s",
        f.calls,
        f.reopens,
        t.elapsed().as_secs_f64()
    );
    let summary: Vec<String> = f.by_errno.iter().map(|(e, n)| format!("{e} {n}")).collect();
    println!("  results: {}", summary.join(", "));
    for (cmd, m) in &f.by_cmd {
        let s: Vec<String> = m.iter().map(|(e, n)| format!("{e} {n}")).collect();
        println!("  {cmd:<36} {}", s.join(", "));
    }
    // A fresh instance must still work.
    match vchiq_test::Client::open(path).and_then(|cl| {
        // Retried for up to 2 minutes: listeners the fuzzing's closes freed may take a
        // moment to listen again.
        let s = crate::stress::open_echo(&cl, false, &mut Rng::new(1))?;
        let m = echo_message(100, 9);
        s.send(&[&m])?;
        let ok = s.recv_any(WAIT)? == m;
        s.close()?;
        cl.shutdown()?;
        Ok(ok)
    }) {
        Ok(true) => {
            println!("  a fresh echo after the fuzzing works");
            true
        }
        r => {
            println!("* a fresh echo after the fuzzing failed: {r:?}");
            false
        }
    }
}
