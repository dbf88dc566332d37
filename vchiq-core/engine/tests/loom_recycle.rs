// SPDX-License-Identifier: GPL-2.0

//! loom model of the slot recycle handshake (see
//! Documentation/engine-model.md).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p vchiq-engine --release --test loom_recycle`

#![cfg(loom)]

mod common;

/// Runs a loom model, bounding preemptions (override with
/// `LOOM_MAX_PREEMPTIONS`) so that the run stays short.
fn check<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(5);
    }
    b.check(f);
}

use common::shm::HostShm;
use loom::sync::Arc;
use loom::thread;

/// The doorbell, as a count of rings.  Only the ringing side writes it,
/// so the sleeper needs no read-and-clear (which loom models poorly); it
/// remembers how many rings it has seen.
#[derive(Default)]
struct Doorbell(loom::sync::atomic::AtomicU32);

impl Doorbell {
    fn ring(&self) {
        let n = self.0.load(loom::sync::atomic::Ordering::Relaxed);
        self.0.store(n + 1, loom::sync::atomic::Ordering::Release);
    }

    /// Whether it rang since the last call.
    fn take(&self, seen: &mut u32) -> bool {
        let n = self.0.load(loom::sync::atomic::Ordering::Acquire);
        let rang = n != *seen;
        *seen = n;
        rang
    }
}

/// "Sleeps" until the doorbell rings.  Instead of blocking, the sleeper
/// waits for the peer to finish (the peer never waits for the sleeper, so
/// this is equivalent to sleeping through the rest of its run) and then
/// requires that the doorbell was rung: otherwise the wake-up was lost.
/// Checking this way keeps loom free of deadlock aborts, so the negative
/// controls can assert the failure.
fn sleep(bell: &Doorbell, seen: &mut u32, peer: &mut Option<thread::JoinHandle<()>>) {
    if bell.take(seen) {
        return;
    }
    if let Some(h) = peer.take() {
        h.join().unwrap();
    }
    assert!(
        bell.take(seen),
        "lost wake-up: slept with work pending and no doorbell"
    );
}

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
