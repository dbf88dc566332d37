//! `-p [N]`: round-trip latencies through the echo service, printed like userland's
//! vchiq_test: first through vchi delivery (DEQUEUE_MESSAGE), then through completions.

use crate::check::describe;
use crate::util::*;
use std::io;
use std::time::Instant;
use vchiq_test::abi::mode;
use vchiq_test::{BulkDir, Client, Event, Service};

const SIZES: [usize; 4] = [0, 1024, 2048, 4088];
/// (async, oneway, divisor of the iteration count)
const SUBTESTS: [(usize, usize, usize); 7] = [
    (0, 0, 1),
    (1, 0, 1),
    (2, 0, 1),
    (0, 1, 1),
    (0, 2, 1),
    (10, 0, 10),
    (10, 10, 10),
];

fn msg(t: i32, size: usize) -> Vec<u8> {
    let mut m = vec![0x5Au8; size.max(4)];
    m[..4].copy_from_slice(&t.to_le_bytes());
    m
}

/// Waits for the SYNC reply (one NUL), skipping the zero-length ASYNC replies.
fn wait_sync(s: &Service) -> io::Result<()> {
    loop {
        let r = if s.is_vchi() {
            let mut buf = [0u8; 100];
            let n = s.dequeue(&mut buf, true)?;
            buf[..n].to_vec()
        } else {
            s.recv_message(WAIT)?
        };
        match r.len() {
            0 => continue,
            1 => return Ok(()),
            n => return Err(io::Error::other(format!("unexpected reply of {n} bytes"))),
        }
    }
}

fn us(t: Instant, n: usize) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64
}

fn half(s: &Service, iters: usize) -> io::Result<usize> {
    let vchi = s.is_vchi();
    let pre = if vchi { "vchi " } else { "" };
    let mut unexpected = 0;
    for size in SIZES {
        // Synchronise the server.
        configure(s, 0, iters as i32, false)?;
        if vchi {
            let m = msg(MSG_SYNC, size);
            let t = Instant::now();
            for _ in 0..iters {
                s.send(&[&m])?;
                wait_sync(s)?;
            }
            println!("vchi ping (size {size}) -> {:.2} us", us(t, iters));
        }
        for (asyncs, oneways, div) in SUBTESTS {
            let n = (iters / div).max(1);
            let (ma, mo, ms) = (
                msg(MSG_ASYNC, size),
                msg(MSG_ONEWAY, size),
                msg(MSG_SYNC, size),
            );
            let t = Instant::now();
            for _ in 0..n {
                for j in 0..asyncs.max(oneways) {
                    if j < asyncs {
                        s.send(&[&ma])?;
                    }
                    if j < oneways {
                        s.send(&[&mo])?;
                    }
                }
                s.send(&[&ms])?;
                wait_sync(s)?;
            }
            println!(
                "{pre}ping (size {size}, {asyncs} async, {oneways} oneway) -> {:.2} us",
                us(t, n)
            );
        }
        // Bulk latency: one transmit at a time, waiting for its completion.
        let bsize = if size == 0 { 8 } else { size };
        configure(s, bsize, iters as i32, false)?;
        let mut buf = vec![0x33u8; bsize];
        let t = Instant::now();
        for i in 0..iters {
            // SAFETY: `buf` lives until the completion arrived (waited for just below).
            unsafe {
                s.queue_bulk(
                    BulkDir::Transmit,
                    buf.as_mut_ptr(),
                    bsize,
                    i,
                    mode::CALLBACK,
                )?
            };
            match s.next_real_event(WAIT)? {
                Event::TxDone(u) if u == i => {}
                ev => return Err(io::Error::other(format!("bulk: unexpected {ev:?}"))),
            }
        }
        println!(
            "{pre}bulk (size {size}, 0 async, 0 oneway) -> {:.2} us",
            us(t, iters)
        );
        // Blocking transmits.
        configure(s, bsize, iters as i32, false)?;
        let t = Instant::now();
        for _ in 0..iters {
            s.transmit(&buf)?;
        }
        println!(
            "{pre}bulk (size {size}, blocking) -> {:.2} us",
            us(t, iters)
        );
        // Anything left is an error.
        std::thread::sleep(std::time::Duration::from_millis(20));
        loop {
            let left = if vchi {
                let mut b = [0u8; 4096];
                s.dequeue(&mut b, false).ok()
            } else {
                match s.try_event() {
                    Some(Event::Message { data, .. }) => Some(data.len()),
                    Some(_) => continue,
                    None => None,
                }
            };
            match left {
                Some(n) => {
                    println!("* Unexpected message found in queue - size {n}");
                    unexpected += 1;
                }
                None => break,
            }
        }
    }
    Ok(unexpected)
}

pub fn run(path: &str, iters: usize) -> bool {
    println!("Ping test - service:echo, iters:{iters}, version {TEST_VER}");
    let cl = match Client::open(path) {
        Ok(c) => c,
        Err(e) => {
            println!("* cannot open {path}: {}", describe(&e));
            return false;
        }
    };
    let mut ok = true;
    for vchi in [true, false] {
        let r = cl
            .open_service(ECHO, TEST_VER, TEST_VER, vchi)
            .and_then(|s| {
                let n = half(&s, iters)?;
                s.close()?;
                Ok(n)
            });
        match r {
            Ok(0) => {}
            Ok(n) => {
                println!("* {n} unexpected messages");
                ok = false;
            }
            Err(e) => {
                println!("* ping test failed: {}", describe(&e));
                ok = false;
            }
        }
    }
    ok && cl.shutdown().is_ok()
}
