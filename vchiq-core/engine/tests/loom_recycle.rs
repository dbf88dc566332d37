// SPDX-License-Identifier: GPL-2.0

//! loom model of the slot recycle handshake (see
//! Documentation/engine-model.rst).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p vchiq-engine --release --test loom_recycle`

#![cfg(loom)]

mod common;

use common::loom_util::{check, sleep, Doorbell};
use common::shm::HostShm;
use loom::sync::Arc;
use loom::thread;

use vchiq_engine::{
    recycle_counter, recycle_entry, recycle_publish, Barrier, RemoteEvent, SharedMem,
    SS_SLOT_QUEUE_RECYCLE,
};

/// The sender's shared block sits at offset 0 of the model memory.
const BLOCK: u32 = 0;
/// Its recycle event (same relative offset as in the real block).
const RECYCLE_EV: u32 = 32;
/// The sender's initial `slot_queue_recycle` (number of its slots).
const START: u32 = 31;

/// Drops the write barrier: the negative control.
struct NoWmb(HostShm);

impl SharedMem for NoWmb {
    fn size(&self) -> u32 {
        self.0.size()
    }
    fn load(&self, off: u32) -> u32 {
        self.0.load(off)
    }
    fn store(&self, off: u32, val: u32) {
        self.0.store(off, val)
    }
    fn barrier(&self, kind: Barrier) {
        if kind != Barrier::Write {
            self.0.barrier(kind)
        }
    }
}

/// The receiver returns `slots` one by one (append to the sender's slot
/// queue, bump the counter, signal); the sender collects them with the
/// engine's functions, sleeping on the recycle event in between.  Checks:
/// every slot is collected exactly once, in order, and no queue entry is
/// ever read stale (the entries start as 0); and no lost wake-up.
fn model<S: SharedMem + Send + Sync + 'static>(shm: S, slots: &'static [u32]) {
    let shm = Arc::new(shm);
    shm.store(BLOCK + SS_SLOT_QUEUE_RECYCLE, START);
    let ev = RemoteEvent::at(BLOCK + RECYCLE_EV);
    let bell = Arc::new(Doorbell::default());
    let sender = bell.clone();
    let mut rings = 0;
    let mut peer = Some({
        let shm = shm.clone();
        thread::spawn(move || {
            let mut counter = START;
            for &s in slots {
                recycle_publish(&*shm, BLOCK, &mut counter, s);
                if ev.signal(&*shm) {
                    sender.ring();
                }
            }
        })
    });
    let mut seen = START;
    let mut got = Vec::new();
    loop {
        ev.consume(&*shm);
        let r = recycle_counter(&*shm, BLOCK);
        assert!(r.wrapping_sub(seen) <= slots.len() as u32);
        while seen != r {
            let slot = recycle_entry(&*shm, BLOCK, seen);
            assert_eq!(slot, slots[got.len()], "stale or wrong slot queue entry");
            got.push(slot);
            seen = seen.wrapping_add(1);
        }
        if got.len() == slots.len() {
            break;
        }
        if ev.arm(&*shm) || recycle_counter(&*shm, BLOCK) != seen {
            ev.disarm(&*shm);
            continue;
        }
        sleep(&bell, &mut rings, &mut peer);
        ev.disarm(&*shm);
    }
    if let Some(h) = peer {
        h.join().unwrap();
    }
}

#[test]
fn recycle_handshake() {
    check(|| model(HostShm::new(400), &[40, 41]));
}

#[test]
#[should_panic]
fn recycle_without_write_barrier_reads_stale_entry() {
    check(|| model(NoWmb(HostShm::new(400)), &[40]));
}
