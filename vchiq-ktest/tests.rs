// SPDX-License-Identifier: GPL-2.0

//! The tests, run by name from debugfs. Each returns an error on the first failure and writes
//! what it did to the report.

use crate::fmt64::{I64, U64};
use crate::util::{div, Collector, Ev, Report, Rng};
use crate::vchiq::{fourcc, BulkMode, Instance, MAX_MSG_SIZE};
use crate::Ktest;
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{Instant, Monotonic};

pub(crate) const ECHO: u32 = fourcc(b"echo");
const FUNC: u32 = fourcc(b"func");
const FUN2: u32 = fourcc(b"fun2");
const NONE: u32 = fourcc(b"none");

/// First words of `echo` messages.
pub(crate) const MSG_SYNC: u32 = 3;
pub(crate) const MSG_CONFIG: u32 = 4;
pub(crate) const MSG_ECHO: u32 = 5;

/// How long a test waits for one answer.
pub(crate) const WAIT_MS: u32 = 5000;

/// Runs test `cmd` ("name [arg]").
pub(crate) fn run(k: &Arc<Ktest>, cmd: &str, out: &mut Report) -> Result {
    let mut words = cmd.split_whitespace();
    let name = words.next().ok_or(EINVAL)?;
    let arg: Option<u32> = words.next().and_then(|w| w.parse().ok());
    if let Some(r) = crate::races::run(k, cmd, out) {
        return r;
    }
    let inst = k.instance()?;
    match name {
        "echo" => echo(&inst, arg.unwrap_or(10_000), out),
        "bulk-align" => bulk_align(&inst, arg.unwrap_or(1), out),
        "bulk-large" => bulk_large(&inst, out),
        "open" => open_rules(&inst, out),
        "refused" => expect_refused(&inst, out),
        "close" => close_in_flight(&inst, out),
        "remote-close" => remote_close(&inst, out),
        "stalled" => stalled(&inst, out),
        "bench" => crate::bench::run(&inst, out),
        _ => Err(EINVAL),
    }
}

/// The 40-byte `test_params` of the echo service.
pub(crate) fn config(blocksize: u32, iters: u32, verify: bool, echo: bool) -> [u8; 40] {
    let words = [
        MSG_CONFIG,
        blocksize,
        iters,
        u32::from(verify),
        u32::from(echo),
        0,
        0,
        0,
        0,
        0,
    ];
    let mut b = [0u8; 40];
    for (c, w) in b.chunks_exact_mut(4).zip(words) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// `echo N`: N messages of random sizes echoed by the VideoCore, each compared byte for byte.
fn echo(inst: &Instance, n: u32, out: &mut Report) -> Result {
    let c = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, c.clone())?;
    let mut rng = Rng::new(0x5eed_0001);
    let mut msg = KVec::from_elem(0u8, MAX_MSG_SIZE, GFP_KERNEL)?;
    let t0 = Instant::<Monotonic>::now();
    let mut bytes = 0u64;
    for i in 0..n {
        let size = rng.range(4, MAX_MSG_SIZE as u32) as usize;
        msg[..4].copy_from_slice(&MSG_ECHO.to_le_bytes());
        for b in msg[4..size].iter_mut() {
            *b = rng.next() as u8;
        }
        svc.get().queue(&[&msg[..size]])?;
        let back = c.wait_msg(WAIT_MS).inspect_err(|e| {
            out.line(format_args!("message {i} ({size} bytes): no echo: {e:?}"));
        })?;
        if back[..] != msg[..size] {
            out.line(format_args!(
                "message {i} ({size} bytes): echo differs ({} bytes back)",
                back.len()
            ));
            return Err(EPROTO);
        }
        bytes += size as u64;
    }
    let us = div(t0.elapsed().as_nanos(), 1000);
    out.line(format_args!(
        "echo: {n} messages, {} bytes, all identical, {} us per round trip",
        U64(bytes),
        I64(div(us, i64::from(n)))
    ));
    svc.close()?;
    if c.pending() != 1 {
        out.line(format_args!(
            "unexpected events after the close: {}",
            c.pending()
        ));
        return Err(EPROTO);
    }
    Ok(())
}

/// Byte `i` of the fun2 pattern for a transfer of `len` bytes.
fn pattern(i: usize, len: usize) -> u8 {
    if i + 1 == len {
        0
    } else if i % 32 == 0 {
        (i >> 5) as u8
    } else {
        i as u8
    }
}

const GUARD: usize = 64;
const GUARD_BYTE: u8 = 0xa5;

/// One guarded transfer through `fun2`: transmit `len` bytes at alignment `align`, receive
/// them back into a guarded buffer at the same alignment, and check data and guards.
fn fun2_once(
    svc: &crate::vchiq::Service<'_, Collector>,
    c: &Collector,
    tx: &mut KVVec<u8>,
    rx: &mut KVVec<u8>,
    len: usize,
    align: usize,
    idx: u32,
) -> Result<Option<&'static str>> {
    let off = GUARD + align;
    for i in 0..len {
        tx[off + i] = pattern(i, len);
    }
    rx.fill(GUARD_BYTE);
    for i in 0..len {
        rx[off + i] = !pattern(i, len);
    }
    let mut m = [0u8; 16];
    for (k, w) in [len as u32, 0, align as u32, idx].iter().enumerate() {
        m[k * 4..k * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    svc.get().queue(&[&m])?;
    // SAFETY: `rx` outlives the transfer: we wait for its completion below, and on an error
    // the service is closed (aborting it) before `rx` is freed by the caller.
    unsafe {
        svc.get().bulk_async(
            rx.as_mut_ptr().add(off),
            len,
            true,
            idx as usize,
            BulkMode::Callback,
        )?
    };
    svc.get().bulk_transmit_blocking(&tx[off..off + len])?;
    match c.wait(WAIT_MS)? {
        Ev::Bulk {
            userdata,
            receive: true,
            aborted: false,
        } if userdata == idx as usize => {}
        Ev::Bulk { aborted: true, .. } => return Ok(Some("receive aborted")),
        _ => return Ok(Some("unexpected event")),
    }
    if rx[..off].iter().any(|&b| b != GUARD_BYTE) {
        return Ok(Some("guard before the buffer overwritten"));
    }
    if rx[off + len..].iter().any(|&b| b != GUARD_BYTE) {
        return Ok(Some("guard after the buffer overwritten"));
    }
    if (0..len).any(|i| rx[off + i] != pattern(i, len)) {
        return Ok(Some("data differs"));
    }
    Ok(None)
}

/// `bulk-align`: every start alignment 0..63 and every size modulo 64, from 0 bytes up to
/// 16 KiB (fun2's limit), both directions, guards and data checked here and the data by the
/// simulator.
///
/// `step` thins the sweep for quick runs: each alignment then takes every `step`-th size
/// class, starting at its own residue, so that every alignment and every size class modulo
/// 64 still occur (1: the whole 64 x 64 sweep).
fn bulk_align(inst: &Instance, step: u32, out: &mut Report) -> Result {
    let step = usize::try_from(step).map_err(|_| EINVAL)?;
    if !(1..=64).contains(&step) {
        return Err(EINVAL);
    }
    let c = Collector::new()?;
    let svc = inst.open(FUN2, 3, 3, c.clone())?;
    let cap = 2 * GUARD + 64 + 16384;
    let mut tx = KVVec::from_elem(0u8, cap, GFP_KERNEL)?;
    let mut rx = KVVec::from_elem(0u8, cap, GFP_KERNEL)?;
    let mut n = 0u32;
    let mut bytes = 0u64;
    let t0 = Instant::<Monotonic>::now();
    for align in 0..64usize {
        for r in (align % step..64usize).step_by(step) {
            // Alignment 0 with size 0 is the one zero-length round trip.
            let len = r + 64 * ((align * 5 + r * 3) % 256);
            if let Some(why) = fun2_once(&svc, &c, &mut tx, &mut rx, len, align, n)? {
                out.line(format_args!(
                    "transfer {n}: {len} bytes at alignment {align}: {why}"
                ));
                return Err(EPROTO);
            }
            n += 1;
            bytes += 2 * len as u64;
        }
    }
    // The page-crossing shapes of vchiq_test's second loop.
    for align in [4064usize, 4080, 4088, 4092, 4094, 4095] {
        let mut tx = KVVec::from_elem(0u8, cap + 4096, GFP_KERNEL)?;
        let mut rx = KVVec::from_elem(0u8, cap + 4096, GFP_KERNEL)?;
        for len in [1usize, 31, 33, 63, 64, 65, 4096, 8191] {
            if let Some(why) = fun2_once(&svc, &c, &mut tx, &mut rx, len, align - GUARD, n)? {
                out.line(format_args!(
                    "transfer {n}: {len} bytes at offset {align}: {why}"
                ));
                return Err(EPROTO);
            }
            n += 1;
            bytes += 2 * len as u64;
        }
    }
    let us = div(t0.elapsed().as_nanos(), 1000);
    out.line(format_args!(
        "bulk-align: {n} round trips ({} bytes) correct, guards intact, {} us each",
        U64(bytes),
        I64(div(us, i64::from(n)))
    ));
    svc.close()
}

/// `bulk-large`: up to 1 MiB through the echo service, at several alignments.
fn bulk_large(inst: &Instance, out: &mut Report) -> Result {
    let c = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, c.clone())?;
    let max = 1usize << 20;
    let mut tx = KVVec::from_elem(0u8, max + 2 * GUARD + 64, GFP_KERNEL)?;
    let mut rx = KVVec::from_elem(0u8, max + 2 * GUARD + 64, GFP_KERNEL)?;
    let mut rng = Rng::new(0x5eed_0002);
    let mut n = 0u32;
    for (len, align) in [
        (max, 0usize),
        (max, 1),
        (max - 1, 63),
        (65537, 31),
        (4097, 17),
        (1, 5),
        // Starting in the last byte(s) of a page: the second page of a vmalloc buffer is
        // (most likely) not the physically next one.
        (4096, 4095 - GUARD),
        (65, 4095 - GUARD),
        (12289, 4093 - GUARD),
    ] {
        let off = GUARD + align;
        for b in tx[off..off + len].iter_mut() {
            *b = rng.next() as u8;
        }
        rx.fill(GUARD_BYTE);
        svc.get().queue(&[&config(len as u32, 1, true, true)])?;
        let reply = c.wait_msg(WAIT_MS)?;
        if reply.len() > 1 {
            out.line(format_args!("echo refused a {len}-byte block"));
            return Err(EPROTO);
        }
        // SAFETY: `rx` outlives the transfer (we wait for it; errors close the service).
        unsafe {
            svc.get()
                .bulk_async(rx.as_mut_ptr().add(off), len, true, 7, BulkMode::Callback)?
        };
        svc.get().bulk_transmit_blocking(&tx[off..off + len])?;
        match c.wait(WAIT_MS)? {
            Ev::Bulk {
                receive: true,
                aborted: false,
                ..
            } => {}
            _ => {
                out.line(format_args!(
                    "{len} bytes at {align}: no receive completion"
                ));
                return Err(EPROTO);
            }
        }
        if Iterator::chain(rx[..off].iter(), rx[off + len..].iter()).any(|&b| b != GUARD_BYTE) {
            out.line(format_args!("{len} bytes at {align}: guard overwritten"));
            return Err(EPROTO);
        }
        if rx[off..off + len] != tx[off..off + len] {
            out.line(format_args!("{len} bytes at {align}: data differs"));
            return Err(EPROTO);
        }
        n += 1;
    }
    out.line(format_args!(
        "bulk-large: {n} transfers up to 1 MiB echoed intact"
    ));
    svc.close()
}

/// `open`: the version rule and refused opens.
fn open_rules(inst: &Instance, out: &mut Report) -> Result {
    for (v, min) in [(0i16, 0i16), (1, 1), (4, 4)] {
        let c = Collector::new()?;
        match inst.open(FUNC, v, min, c) {
            Err(e) if e == ECONNREFUSED => {}
            Err(e) => {
                out.line(format_args!(
                    "func ({v},{min}): {e:?}, expected ECONNREFUSED"
                ));
                return Err(EPROTO);
            }
            Ok(_) => {
                out.line(format_args!(
                    "func ({v},{min}) opened despite the version rule"
                ));
                return Err(EPROTO);
            }
        }
    }
    let c = Collector::new()?;
    let svc = inst.open(FUNC, 3, 3, c)?;
    let pv = svc.get().peer_version()?;
    if pv != 3 {
        out.line(format_args!("func peer version {pv}, expected 3"));
        return Err(EPROTO);
    }
    svc.close()?;
    match inst.open(NONE, 3, 3, Collector::new()?) {
        Err(e) if e == ECONNREFUSED => {}
        _ => {
            out.line(format_args!("'none' did not fail with ECONNREFUSED"));
            return Err(EPROTO);
        }
    }
    out.line(format_args!(
        "open: version mismatches and a missing service refused, func 3/3 open (peer version 3)"
    ));
    Ok(())
}

/// `refused`: opening echo must fail with ECONNREFUSED (the simulator refuses every open).
fn expect_refused(inst: &Instance, out: &mut Report) -> Result {
    match inst.open(ECHO, 3, 3, Collector::new()?) {
        Err(e) if e == ECONNREFUSED => {
            out.line(format_args!("refused: open failed with ECONNREFUSED"));
            Ok(())
        }
        Err(e) => {
            out.line(format_args!("refused: open failed with {e:?}"));
            Err(EPROTO)
        }
        Ok(_) => Err(EPROTO),
    }
}

/// `stalled`: with the VideoCore stopped, an open must time out (ETIMEDOUT), not hang.
fn stalled(inst: &Instance, out: &mut Report) -> Result {
    match inst.open(ECHO, 3, 3, Collector::new()?) {
        Err(e) if e == ETIMEDOUT => {
            out.line(format_args!("stalled: open timed out"));
            Ok(())
        }
        Err(e) => {
            out.line(format_args!(
                "stalled: open failed with {e:?}, expected ETIMEDOUT"
            ));
            Err(EPROTO)
        }
        Ok(_) => Err(EPROTO),
    }
}

/// `close`: closing with messages and a bulk in flight; the bulk is aborted and reported,
/// every message is released, the service closes.
fn close_in_flight(inst: &Instance, out: &mut Report) -> Result {
    let c = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, c.clone())?;
    let mut msg = [0u8; 64];
    msg[..4].copy_from_slice(&MSG_ECHO.to_le_bytes());
    for _ in 0..32 {
        svc.get().queue(&[&msg])?;
    }
    // A receive nobody will ever pair (no MSG_CONFIG): the close must abort it.
    let mut rx = KVVec::from_elem(0u8, 4096, GFP_KERNEL)?;
    // SAFETY: `rx` outlives the service, whose close aborts the transfer.
    unsafe {
        svc.get()
            .bulk_async(rx.as_mut_ptr(), 4096, true, 99, BulkMode::Callback)?
    };
    svc.close()?;
    let mut msgs = 0;
    let mut aborted = false;
    let mut closed = false;
    while let Ok(e) = c.wait(100) {
        match e {
            Ev::Msg(_) => msgs += 1,
            Ev::Bulk {
                userdata: 99,
                aborted: true,
                ..
            } => aborted = true,
            Ev::Closed => closed = true,
            Ev::Bulk { .. } | Ev::Opened => return Err(EPROTO),
        }
    }
    out.line(format_args!(
        "close: {msgs} echoes before the close, bulk aborted: {aborted}, closed: {closed}"
    ));
    if !aborted || !closed {
        return Err(EPROTO);
    }
    drop(rx);
    Ok(())
}

/// `remote-close`: the VideoCore closes the service (the plan sets the simulator's
/// `close_open` knob while this waits): the client gets SERVICE_CLOSED and the handle is gone.
fn remote_close(inst: &Instance, out: &mut Report) -> Result {
    let c = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, c.clone())?;
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&MSG_ECHO.to_le_bytes());
    svc.get().queue(&[&msg])?;
    c.wait_msg(WAIT_MS)?;
    loop {
        match c.wait(15_000) {
            Ok(Ev::Closed) => break,
            Ok(Ev::Msg(_)) => continue,
            Ok(Ev::Bulk { .. } | Ev::Opened) => return Err(EPROTO),
            Err(e) => {
                out.line(format_args!("remote-close: no SERVICE_CLOSED: {e:?}"));
                return Err(e);
            }
        }
    }
    match svc.close() {
        Err(e) if e == EINVAL => {}
        r => {
            out.line(format_args!(
                "closing a closed service: {r:?}, expected EINVAL"
            ));
            return Err(EPROTO);
        }
    }
    out.line(format_args!(
        "remote-close: SERVICE_CLOSED delivered, the handle is gone"
    ));
    Ok(())
}
