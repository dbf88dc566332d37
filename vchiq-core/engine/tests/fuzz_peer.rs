// SPDX-License-Identifier: GPL-2.0

//! Bounded, stable-toolchain fuzz run: random and mutated inputs through the
//! same entry point as the cargo-fuzz target.  The engine must not panic and
//! must not access shared memory out of bounds (checked by the host shm).
//!
//! Iterations: `VCHIQ_FUZZ_ITERS` (default 200 000 in release, 3 000 in
//! debug), stopped early after `VCHIQ_FUZZ_SECS` seconds (default 20).

#![cfg(not(loom))]

mod common;

use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn fuzz_peer_bounded() {
    let iters = env_or(
        "VCHIQ_FUZZ_ITERS",
        if cfg!(debug_assertions) {
            3_000
        } else {
            200_000
        },
    );
    let limit = Duration::from_secs(env_or("VCHIQ_FUZZ_SECS", 20));
    let seed = env_or("VCHIQ_FUZZ_SEED", 0x5eed);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let t0 = Instant::now();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let (mut n, mut outputs, mut errors, mut proto) = (0u64, 0u64, 0u64, 0u64);
    while n < iters && t0.elapsed() < limit {
        let input: Vec<u8> = if corpus.is_empty() || rng.gen_bool(0.3) {
            let len = rng.gen_range(0..2048);
            (0..len).map(|_| rng.gen()).collect()
        } else {
            // Mutate an interesting earlier input.
            let mut v = corpus[rng.gen_range(0..corpus.len())].clone();
            for _ in 0..rng.gen_range(1..8) {
                match rng.gen_range(0..4) {
                    0 if !v.is_empty() => {
                        let i = rng.gen_range(0..v.len());
                        v[i] ^= 1 << rng.gen_range(0..8);
                    }
                    1 if !v.is_empty() => {
                        let i = rng.gen_range(0..v.len());
                        v[i] = rng.gen();
                    }
                    2 => {
                        let i = rng.gen_range(0..=v.len());
                        v.insert(i, rng.gen());
                    }
                    _ if !v.is_empty() => {
                        let i = rng.gen_range(0..v.len());
                        v.remove(i);
                    }
                    _ => {}
                }
            }
            v
        };
        let r = std::panic::catch_unwind(|| common::fuzz::fuzz_peer(&input));
        let o = match r {
            Ok(o) => o,
            Err(_) => panic!("engine failed on input {input:02x?}"),
        };
        // Keep inputs that got deep into the engine as mutation seeds.
        if o.outputs > 2 && corpus.len() < 256 {
            corpus.push(input);
        }
        outputs += u64::from(o.outputs);
        errors += u64::from(o.errors);
        proto += u64::from(o.proto_errors);
        n += 1;
    }
    eprintln!(
        "fuzz: {n} inputs in {:?}; {outputs} outputs, {errors} errors, {proto} protocol errors counted, corpus {}",
        t0.elapsed(),
        corpus.len()
    );
    assert!(n > 0);
    assert!(
        proto > 0,
        "the fuzzer never produced a protocol error: harness broken?"
    );
    assert!(
        outputs > 0,
        "the fuzzer never produced an output: harness broken?"
    );
}
