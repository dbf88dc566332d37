//! `--kill-bulk N`: N times, a child does large blocking bulks (echoed ones, and ones no
//! receive will ever match) and is killed with SIGKILL at a random moment; then a fresh
//! process must still get its echoes.

use crate::check::describe;
use crate::stress::open_echo;
use crate::util::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vchiq_test::rng::Rng;
use vchiq_test::Client;

pub fn run(path: &str, n: usize, seed: u64) -> bool {
    println!("Kill-bulk test - {n} children killed mid-bulk, seed {seed}");
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            println!("* cannot find myself: {e}");
            return false;
        }
    };
    let mut rng = Rng::new(seed);
    let t = Instant::now();
    let mut failures = 0;
    for i in 0..n {
        let child = Command::new(&exe)
            .args([
                "--dev",
                path,
                "--kill-bulk-child",
                "--seed",
                &rng.next_u64().to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                println!("* spawn {i}: {e}");
                return false;
            }
        };
        let mut line = String::new();
        let ready = child
            .stdout
            .take()
            .map(|o| BufReader::new(o).read_line(&mut line).is_ok() && line.starts_with("ready"))
            .unwrap_or(false);
        if !ready {
            let st = child.wait();
            println!("* child {i} did not get ready ({line:?}, {st:?})");
            failures += 1;
            if failures >= 5 {
                println!("* giving up after {failures} failed children");
                break;
            }
            continue;
        }
        std::thread::sleep(Duration::from_micros(rng.below(40_000)));
        if let Err(e) = child.kill() {
            println!("* kill {i}: {e}");
        }
        match child.wait() {
            Ok(st) if st.signal() == Some(9) => {}
            Ok(st) => {
                println!("* child {i} ended on its own: {st}");
                return false;
            }
            Err(e) => {
                println!("* wait {i}: {e}");
                return false;
            }
        }
        if (i + 1) % 100 == 0 {
            println!(
                "  {} children killed ({:.1} s)",
                i + 1,
                t.elapsed().as_secs_f64()
            );
        }
    }
    // Afterwards the VideoCore and the driver must serve a fresh client.
    let check = || -> std::io::Result<()> {
        let cl = Client::open(path)?;
        let mut rng = Rng::new(seed);
        let s = open_echo(&cl, false, &mut rng)?;
        for size in [4, 100, 4088] {
            let m = echo_message(size, size as u32);
            s.send(&[&m])?;
            if s.recv_any(WAIT)? != m {
                return Err(std::io::Error::other("echo differs"));
            }
        }
        configure(&s, 65536, 1, true)?;
        let mut tx = vec![0u8; 65536];
        pattern(&mut tx, 5);
        s.transmit(&tx)?;
        let mut rx = vec![0u8; 65536];
        // SAFETY: a blocking receive; `rx` outlives the service.
        unsafe { s.receive(&mut rx)? };
        if rx != tx {
            return Err(std::io::Error::other("bulk echo differs"));
        }
        s.close()?;
        cl.shutdown()
    };
    match check() {
        Ok(()) => {
            println!(
                "Kill-bulk test: {n} children, {failures} failed, {:.1} s; a fresh echo works",
                t.elapsed().as_secs_f64()
            );
            failures == 0
        }
        Err(e) => {
            println!("* after the kills, a fresh echo failed: {}", describe(&e));
            false
        }
    }
}

/// The child: large blocking bulks until killed.
pub fn child(path: &str, seed: u64) -> bool {
    let mut rng = Rng::new(seed);
    let mut run = || -> std::io::Result<()> {
        let ctx = |what: &'static str| {
            move |e: std::io::Error| {
                std::io::Error::new(e.kind(), format!("{what}: {}", describe(&e)))
            }
        };
        let cl = Client::open(path).map_err(ctx("open/negotiate/CONNECT"))?;
        let s = open_echo(&cl, rng.chance(1, 2), &mut rng.clone()).map_err(ctx("open echo"))?;
        let mut tx = vec![0u8; 4 << 20];
        let mut rx = vec![0u8; 4 << 20];
        pattern(&mut tx[..4096], 1);
        println!("ready");
        std::io::stdout().flush()?;
        loop {
            let size = rng.range(64 << 10, 4 << 20);
            if rng.chance(1, 4) {
                // Nothing will receive this: blocks until killed.
                s.transmit(&tx[..size])?;
            }
            configure(&s, size, 1, true)?;
            s.transmit(&tx[..size])?;
            // SAFETY: a blocking receive into `rx`, which lives until the process ends.
            unsafe { s.receive(&mut rx[..size])? };
        }
    };
    match run() {
        Ok(()) => true,
        Err(e) => {
            println!("error: {e}");
            false
        }
    }
}
