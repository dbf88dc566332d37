// SPDX-License-Identifier: GPL-2.0

//! Fuzz entry: arbitrary bytes become the peer's half of the shared memory.
//!
//! Used by the cargo-fuzz target (`fuzz/`) and by the bounded stable run in
//! `tests/fuzz_peer.rs`.  The engine must never panic, never access shared
//! memory out of bounds or misaligned (the host shm counts violations), and
//! must report peer garbage as errors.

use vchiq_engine::{
    BulkDir, Engine, Error, Output, ServerOptions, ServiceParams, Tables, Wait, SZ_MASTER, SZ_SLAVE,
};

use super::shm::{HostEngine, HostShm, STD_SIZE};

/// A small cursor over the fuzz input.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn word(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Result summary, for statistics in the bounded run.
#[derive(Default, Debug, Clone, Copy)]
pub struct FuzzOutcome {
    pub outputs: u32,
    pub errors: u32,
    pub proto_errors: u32,
}

/// Runs one fuzz case.  Panics only if the engine misbehaves (panic inside
/// the engine, or a shared-memory contract violation).
pub fn fuzz_peer(data: &[u8]) -> FuzzOutcome {
    let mut inp = Input { data };
    let shm = HostShm::new(STD_SIZE);
    let mode = inp.byte();
    let out = match mode % 4 {
        0 => fuzz_arm(&shm, &mut inp),
        1 => fuzz_vpu(&shm, &mut inp),
        _ => fuzz_synth(&shm, &mut inp),
    };
    assert_eq!(shm.violations(), 0, "out-of-bounds or misaligned access");
    out
}

/// Applies a sequence of "peer writes" from the input: (target, offset,
/// bytes) triples into the peer-writable area `[lo, hi)`, plus direct word
/// writes anywhere in slot zero.
fn scribble(shm: &HostShm, inp: &mut Input, areas: &[(u32, u32)], rounds: u32) {
    for _ in 0..rounds {
        if inp.is_empty() {
            return;
        }
        let sel = inp.byte();
        let (lo, hi) = areas[sel as usize % areas.len()];
        let span = hi - lo;
        let off = (lo + (inp.word() % span.max(1))) & !3;
        let len = (inp.byte() as usize) % 64;
        let bytes = inp.bytes(len).to_vec();
        shm.poke_bytes(off, &bytes);
    }
}

/// Exercises the engine with the current shm contents.
fn drive(eng: &mut HostEngine<'_>, inp: &mut Input, out: &mut FuzzOutcome) {
    let mut held = Vec::new();
    for _ in 0..64 {
        for w in Wait::ALL {
            eng.ack(w);
        }
        if eng.process_recycle().is_err() {
            out.errors += 1;
        }
        for _ in 0..256 {
            match eng.poll() {
                Ok(Some(o)) => {
                    out.outputs += 1;
                    if let Output::Data { msg, .. } = o {
                        let mut buf = [0u8; 64];
                        let _ = eng.read(&msg, &mut buf);
                        held.push(msg);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    out.errors += 1;
                    break;
                }
            }
        }
        match eng.poll_sync() {
            Ok(Some(Output::Data { msg, .. })) => held.push(msg),
            Ok(_) => {}
            Err(_) => out.errors += 1,
        }
        // Release some held messages, sometimes twice (must be refused).
        while let Some(m) = held.pop() {
            let _ = eng.release(&m);
            if inp.byte() & 1 == 1 {
                assert_eq!(eng.release(&m), Err(Error::Inval));
            }
            if inp.byte() & 3 == 0 {
                break;
            }
        }
        // Some local activity that creates traffic.
        let h = vchiq_engine::Handle(u32::from(inp.byte()) << 12 | u32::from(inp.byte() & 3));
        match inp.byte() % 8 {
            0 => {
                let _ = eng.send_data(h, inp.bytes(32).to_vec().as_slice());
            }
            1 => {
                let _ = eng.close_service(h);
            }
            2 => {
                let _ = eng.queue_bulk(h, BulkDir::Transmit, 1, 0x1000, 64);
            }
            3 => {
                let p = ServiceParams {
                    fourcc: inp.word() | 1,
                    version: 3,
                    version_min: 1,
                };
                let _ = eng.open_service(p, 7);
            }
            _ => {}
        }
        let _ = eng.take_doorbell();
        for w in Wait::ALL {
            if eng.prepare_sleep(w) {
                eng.finish_sleep(w);
            }
        }
        if inp.is_empty() {
            break;
        }
        // The peer keeps scribbling between rounds.
        let n = u32::from(inp.byte() % 4);
        let peer = if eng.role() == vchiq_engine::Role::Arm {
            SZ_MASTER
        } else {
            SZ_SLAVE
        };
        let ps = eng.peer_slots();
        let own = eng.own_slots();
        let areas = [
            (peer, peer + 372),
            (ps.first * 4096, (ps.last + 1) * 4096),
            (ps.sync * 4096, ps.sync * 4096 + 64),
            (own.first * 4096, (own.last + 1) * 4096),
            (eng.role().block() + 44, eng.role().block() + 48 + 256),
        ];
        scribble(eng.shm(), inp, &areas, n);
    }
    out.proto_errors = eng.stats().proto_errors;
}

fn fuzz_arm(shm: &HostShm, inp: &mut Input) -> FuzzOutcome {
    let mut out = FuzzOutcome::default();
    let mut arm = Engine::init_arm(shm, Box::new(Tables::EMPTY), [0, 64])
        .expect("init_arm on a fresh buffer");
    let p = ServiceParams {
        fourcc: u32::from_be_bytes(*b"echo"),
        version: 3,
        version_min: 1,
    };
    let _ = arm.add_service(p, ServerOptions::default());
    // Mostly a well-formed peer start, so the fuzzer gets past the checks.
    if inp.byte() & 7 != 0 {
        if let Ok(mut vpu) = Engine::init_vpu(shm, Box::new(Tables::EMPTY)) {
            let _ = vpu.connect();
            let _ = arm.connect();
            // Give the VPU's stream some structure before scribbling on it.
            let _ = vpu.poll();
            let _ = arm.poll();
        }
    } else {
        shm.store_word(SZ_MASTER, 1);
    }
    let ps = arm.peer_slots();
    let areas = [
        (SZ_MASTER, SZ_MASTER + 372),
        (ps.first * 4096, (ps.last + 1) * 4096),
        (ps.sync * 4096, ps.sync * 4096 + 64),
    ];
    scribble(shm, inp, &areas, 48);
    let _ = arm.connect();
    drive(&mut arm, inp, &mut out);
    out
}

fn fuzz_vpu(shm: &HostShm, inp: &mut Input) -> FuzzOutcome {
    let mut out = FuzzOutcome::default();
    {
        let _arm = Engine::init_arm(shm, Box::new(Tables::EMPTY), [0, 64])
            .expect("init_arm on a fresh buffer");
    }
    // The ARM's half, slot zero header and the ARM's slots are the peer's.
    let areas = [
        (0, 32),
        (SZ_SLAVE, SZ_SLAVE + 372),
        (34 * 4096, 65 * 4096),
        (33 * 4096, 33 * 4096 + 64),
    ];
    let header_rounds = u32::from(inp.byte() % 3);
    scribble(shm, inp, &areas[..2], header_rounds);
    let mut vpu = match Engine::init_vpu(shm, Box::new(Tables::EMPTY)) {
        Ok(v) => v,
        Err(_) => {
            out.errors += 1;
            return out;
        }
    };
    let _ = vpu.add_service(
        ServiceParams {
            fourcc: u32::from_be_bytes(*b"echo"),
            version: 3,
            version_min: 1,
        },
        ServerOptions::default(),
    );
    let _ = vpu.connect();
    scribble(shm, inp, &areas, 48);
    drive(&mut vpu, inp, &mut out);
    out
}

/// Builds a mostly well-formed VPU stream from the input (message types,
/// ports, sizes and payloads chosen by the fuzzer) so that the dispatcher
/// is reached, then lets the ARM engine parse it.
fn fuzz_synth(shm: &HostShm, inp: &mut Input) -> FuzzOutcome {
    use vchiq_engine::SharedMem;
    let mut out = FuzzOutcome::default();
    let mut arm = Engine::init_arm(shm, Box::new(Tables::EMPTY), [0, 64])
        .expect("init_arm on a fresh buffer");
    let echo = u32::from_be_bytes(*b"echo");
    let p = ServiceParams {
        fourcc: echo,
        version: 3,
        version_min: 1,
    };
    let _ = arm.add_service(p, ServerOptions::default());
    let _ = arm.add_service(
        p,
        ServerOptions {
            auto_close: false,
            sync: true,
        },
    );
    // The VPU's half, written by hand.
    let m = SZ_MASTER;
    for i in 0..31u32 {
        shm.store(m + 72 + 4 * i, 2 + i);
    }
    shm.store(m + 44, 31);
    shm.store(m + 328, 11);
    shm.store(m, 1);
    let _ = arm.connect();
    let mut pos = 0u32;
    let slot_of = |pos: u32| (2 + ((pos >> 12) % 31)) * 4096 + (pos & 4095);
    for _ in 0..inp.byte() as u32 * 4 {
        if inp.is_empty() {
            break;
        }
        let ty = u32::from(inp.byte() % 16);
        let ports = inp.byte();
        let (src, dst) = (u32::from(ports >> 4), u32::from(ports & 3));
        let size = match inp.byte() % 4 {
            0 => 0,
            1 => u32::from(inp.byte()) % 16,
            2 => u32::from(inp.byte()) * 16,
            _ => inp.word() % 5000,
        };
        let stride = (size + 15) & !7;
        let room = 4096 - (pos & 4095);
        if stride > room {
            shm.store(slot_of(pos), 0);
            shm.store(slot_of(pos) + 4, room - 8);
            pos += room;
        }
        if (pos >> 12) >= 31 {
            break;
        }
        let h = slot_of(pos);
        shm.store(h, (ty << 24) | (src << 12) | dst);
        shm.store(h + 4, size);
        if ty == 2 && size >= 12 && inp.byte() & 1 == 0 {
            // A plausible OPEN for our listener.
            shm.store(h + 8, echo);
            shm.store(h + 12, inp.word());
            shm.store(
                h + 16,
                u32::from(inp.byte() % 6) | (u32::from(inp.byte() % 6) << 16),
            );
        } else {
            let n = (size as usize).min(64).min(4096 - (h as usize % 4096) - 8);
            let bytes = inp.bytes(n).to_vec();
            shm.poke_bytes(h + 8, &bytes);
        }
        pos = pos.wrapping_add(stride.min(4096));
        if inp.byte() & 15 == 0 {
            // Sometimes publish mid-way, with an occasional bogus position.
            let tx = if inp.byte() & 7 == 0 { inp.word() } else { pos };
            shm.store(m + 28, tx);
            drive(&mut arm, inp, &mut out);
        }
    }
    shm.store(m + 28, pos);
    // The VPU's sync slot, too.
    let sync = inp.byte();
    shm.store(
        4096,
        (u32::from(sync % 16) << 24) | (u32::from(sync >> 4) << 12) | 1,
    );
    shm.store(4096 + 4, inp.word() % 5000);
    shm.store(m + 48 + 4, 1);
    drive(&mut arm, inp, &mut out);
    out
}
