// SPDX-License-Identifier: GPL-2.0

//! Throughput of the two-thread ARM/VPU pair (not a timed test).
//!
//! `cargo bench -p vchiq-engine --bench throughput` prints messages/s and
//! MB/s for payload sizes 0, 64, 1024 and 4088, ARM -> VPU, the receiver
//! copying each payload out and releasing it at once, and the host's memcpy of 4088-byte
//! blocks as the yardstick for the payload bandwidth. The shared memory copies payloads with
//! `memcpy`, as the kernel's does (`HostShm::new_memcpy`). Each figure is also printed as a
//! `BENCH key=value` line for `make bench` (ci/bench).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::shm::{HostShm, STD_SIZE};
use common::side::{run_pair, Side};
use vchiq_engine::{Error, Output, ServerOptions, ServiceParams};

const ECHO: u32 = u32::from_be_bytes(*b"echo");

fn one(size: usize, count: u64) -> (Duration, u64, u64) {
    let shm = HostShm::new_memcpy(STD_SIZE);
    let p = ServiceParams {
        fourcc: ECHO,
        version: 3,
        version_min: 1,
    };
    let (dt, (sleeps_rx, _)) = run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(p, ServerOptions::default()).unwrap();
        },
        move |arm: &mut Side| {
            let h = arm.block_on(|e| e.open_service(p, 1)).unwrap();
            arm.expect(|o| matches!(o, Output::Opened { .. }));
            // Raise the quotas so that only slots limit the sender.
            arm.eng.set_quota(h, 31, 65535).unwrap();
            let buf = vec![0x5au8; size];
            let t0 = Instant::now();
            let mut sent = 0;
            while sent < count {
                match arm.eng.send_data(h, &buf) {
                    Ok(()) => sent += 1,
                    Err(Error::WouldBlock) => {
                        arm.flush();
                        if !arm.pump() {
                            arm.sleep();
                        }
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            arm.flush();
            // The VPU answers the CLOSE only after it has consumed every
            // message before it, so this times the whole transfer.
            arm.block_on(|e| e.close_service(h)).unwrap();
            arm.expect(|o| matches!(o, Output::Closed { .. }));
            t0.elapsed()
        },
        move |vpu: &mut Side| {
            vpu.expect(|o| matches!(o, Output::Opened { .. }));
            let mut buf = vec![0u8; 4088];
            let mut got = 0u64;
            let mut done = false;
            while !done {
                let p = vpu.pump_with(&mut |eng, o| match o {
                    Output::Data { msg, .. } => {
                        eng.read(&msg, &mut buf).unwrap();
                        eng.release(&msg).unwrap();
                        got += 1;
                    }
                    Output::Closed { .. } => done = true,
                    _ => {}
                });
                if !p && !done {
                    vpu.sleep();
                }
            }
            assert_eq!(got, count);
            (vpu.sleeps, got)
        },
    );
    (dt, count, sleeps_rx)
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less arguments; keep
    // that cheap.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!("vchiq-engine pair throughput (ARM -> VPU, copy out + release per message)");
    println!(
        "{:>6} {:>10} {:>10} {:>14} {:>10} {:>8}",
        "size", "messages", "seconds", "messages/s", "MB/s", "sleeps"
    );
    for (size, count) in [
        (0usize, 4_000_000u64),
        (64, 3_000_000),
        (1024, 1_000_000),
        (4088, 300_000),
    ] {
        let count = if quick { count / 100 } else { count };
        let (dt, n, sleeps) = one(size, count);
        let s = dt.as_secs_f64();
        let (rate, mbs) = (n as f64 / s, (n as f64 * size as f64) / s / 1e6);
        println!(
            "{:>6} {:>10} {:>10.3} {:>14.0} {:>10.1} {:>8}",
            size, n, s, rate, mbs, sleeps
        );
        println!("BENCH msg_{size}_rate={rate:.0}");
        println!("BENCH msg_{size}_mbs={mbs:.1}");
    }
    let mbs = memcpy_mbs(if quick { 10_000 } else { 1_000_000 });
    println!("host memcpy of 4088-byte blocks: {mbs:.1} MB/s");
    println!("BENCH memcpy_4088_mbs={mbs:.1}");
}

/// The yardstick: copies of 4088-byte blocks (one message payload) between two buffers
/// larger than the caches' working set of the pair above (a slot's worth per copy), MB/s.
fn memcpy_mbs(count: u64) -> f64 {
    const BLOCK: usize = 4088;
    const BLOCKS: usize = 64;
    let src = vec![0x5au8; BLOCK * BLOCKS];
    let mut dst = vec![0u8; BLOCK];
    let t0 = Instant::now();
    for i in 0..count as usize {
        let off = (i % BLOCKS) * BLOCK;
        dst.copy_from_slice(&src[off..off + BLOCK]);
        std::hint::black_box(&mut dst);
    }
    (count as f64 * BLOCK as f64) / t0.elapsed().as_secs_f64() / 1e6
}
