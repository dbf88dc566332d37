//! `--stress P`: P processes (re-executions of this binary), each with several threads
//! sharing one instance; every thread repeatedly opens an echo service (vchi or not),
//! keeps random messages in flight, echoes a random bulk, checks all data, and closes.
//! The VideoCore has 8 echo listeners, so opens race and are retried when refused.

use crate::check::describe;
use crate::util::*;
use std::io;
use std::process::Command;
use std::time::{Duration, Instant};
use vchiq_test::abi::mode;
use vchiq_test::rng::Rng;
use vchiq_test::{BulkDir, Client, Event, Service};

const THREADS: usize = 3;

pub fn run(path: &str, procs: usize, rounds: usize, seed: u64) -> bool {
    println!("Stress test - {procs} processes x {THREADS} threads x {rounds} rounds, seed {seed}");
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            println!("* cannot find myself: {e}");
            return false;
        }
    };
    let t = Instant::now();
    let children: Vec<_> = (0..procs)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--dev",
                    path,
                    "--stress-child",
                    &i.to_string(),
                    &rounds.to_string(),
                ])
                .args(["--seed", &(seed.wrapping_add(i as u64 * 7919)).to_string()])
                .spawn()
        })
        .collect();
    let mut ok = true;
    for (i, ch) in children.into_iter().enumerate() {
        match ch.and_then(|mut c| c.wait()) {
            Ok(st) if st.success() => {}
            Ok(st) => {
                println!("* stress process {i}: {st}");
                ok = false;
            }
            Err(e) => {
                println!("* stress process {i}: {e}");
                ok = false;
            }
        }
    }
    println!("Stress test: {:.1} s", t.elapsed().as_secs_f64());
    ok
}

/// Opens an echo service, retrying while all listeners are busy.
pub fn open_echo(cl: &Client, vchi: bool, rng: &mut Rng) -> io::Result<Service> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match cl.open_service(ECHO, TEST_VER, TEST_VER, vchi) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(1 + rng.below(20)));
            }
            Err(e) => return Err(e),
        }
    }
}

fn round(cl: &Client, rng: &mut Rng, vchi: bool, tag: u32) -> io::Result<(usize, usize)> {
    let s = open_echo(cl, vchi, rng)?;
    s.use_service()?;
    let n = rng.range(1, 24);
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            echo_message(
                rng.range(4, 4088),
                tag.wrapping_mul(97).wrapping_add(i as u32),
            )
        })
        .collect();
    for m in &msgs {
        let k = rng.range(1, 8).min(m.len());
        let parts: Vec<&[u8]> = (0..k)
            .map(|j| &m[j * m.len() / k..(j + 1) * m.len() / k])
            .collect();
        s.send(&parts)?;
    }
    for (i, m) in msgs.iter().enumerate() {
        let r = s.recv_any(WAIT)?;
        if r != *m {
            return Err(io::Error::other(format!(
                "message {i} of {n} ({} bytes) differs at {:?}",
                m.len(),
                first_diff(&r, m)
            )));
        }
    }
    let size = if rng.chance(1, 4) {
        rng.range(1, 4096)
    } else {
        rng.range(4096, 512 * 1024)
    };
    configure(&s, size, 1, true)?;
    let (to, ro) = (rng.range(0, 63), rng.range(0, 63));
    let mut tx = Aligned::new(size + 64);
    let mut rx = Aligned::new(size + 64);
    pattern(tx.region(to as isize, size), tag);
    rx.region(ro as isize, size).fill(0);
    let ud = tag as usize;
    // SAFETY: `rx` lives until its completion arrived (below) or the service closed.
    unsafe {
        s.queue_bulk(
            BulkDir::Receive,
            rx.addr(ro as isize),
            size,
            ud,
            mode::CALLBACK,
        )?
    };
    s.transmit(tx.region(to as isize, size))?;
    match s.next_real_event(WAIT)? {
        Event::RxDone(u) if u == ud => {}
        ev => return Err(io::Error::other(format!("bulk: unexpected {ev:?}"))),
    }
    if let Some(at) = first_diff(rx.region(ro as isize, size), tx.region(to as isize, size)) {
        return Err(io::Error::other(format!(
            "bulk of {size} bytes corrupted at {at}"
        )));
    }
    s.release_service()?;
    s.close()?;
    drop(rx);
    Ok((n, size))
}

pub fn child(path: &str, idx: usize, rounds: usize, seed: u64) -> bool {
    let cl = match Client::open(path) {
        Ok(c) => c,
        Err(e) => {
            println!("* stress {idx}: open: {}", describe(&e));
            return false;
        }
    };
    let t = Instant::now();
    let results: Vec<io::Result<(usize, usize)>> = std::thread::scope(|sc| {
        let threads: Vec<_> = (0..THREADS)
            .map(|th| {
                let cl = &cl;
                sc.spawn(move || -> io::Result<(usize, usize)> {
                    let mut rng = Rng::new(seed ^ (th as u64) << 40);
                    let (mut msgs, mut bytes) = (0, 0);
                    for r in 0..rounds {
                        let tag = (idx * 1_000_000 + th * 10_000 + r) as u32;
                        let (m, b) = round(cl, &mut rng, (r + th) % 2 == 0, tag)
                            .map_err(|e| io::Error::other(format!("thread {th} round {r}: {e}")))?;
                        msgs += m;
                        bytes += b;
                    }
                    Ok((msgs, bytes))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(io::Error::other("thread panicked")))
            })
            .collect()
    });
    let mut ok = true;
    let (mut msgs, mut bytes) = (0, 0);
    for r in results {
        match r {
            Ok((m, b)) => {
                msgs += m;
                bytes += b;
            }
            Err(e) => {
                println!("* stress {idx}: {e}");
                ok = false;
            }
        }
    }
    let v = cl
        .stats()
        .abi_violations
        .load(std::sync::atomic::Ordering::Relaxed);
    if v != 0 {
        println!("* stress {idx}: {v} completion ABI violations");
        ok = false;
    }
    ok &= cl.shutdown().is_ok();
    println!(
        "stress {idx}: {} rounds, {msgs} messages, {bytes} bulk bytes echoed, {:.1} s{}",
        THREADS * rounds,
        t.elapsed().as_secs_f64(),
        if ok { "" } else { " - FAILED" }
    );
    ok
}
