// SPDX-License-Identifier: GPL-2.0

//! One side of a two-thread test: an engine, its doorbell and its peer's.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use vchiq_engine::{Engine, Error, Output, Stall, Tables, Wait};

use super::shm::{HostEngine, HostShm};

/// A latched doorbell, like the hardware's BELL0 register (reading clears
/// it).
#[derive(Default)]
pub struct Doorbell {
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Doorbell {
    /// Rings the doorbell.
    pub fn ring(&self) {
        *self.rung.lock().unwrap() = true;
        self.cv.notify_one();
    }

    /// Waits until rung, then clears it.  Returns `false` on timeout.
    pub fn wait(&self, timeout: Duration) -> bool {
        let mut g = self.rung.lock().unwrap();
        let deadline = std::time::Instant::now() + timeout;
        while !*g {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            g = self.cv.wait_timeout(g, deadline - now).unwrap().0;
        }
        *g = false;
        true
    }
}

/// How long a side may sleep before the test declares a lost wake-up.
pub const SLEEP_LIMIT: Duration = Duration::from_secs(20);

/// A side: engine plus doorbells.
pub struct Side<'a> {
    pub eng: HostEngine<'a>,
    pub bell: &'a Doorbell,
    pub peer_bell: &'a Doorbell,
    pub inbox: VecDeque<Output>,
    pub sleeps: u64,
    pub name: &'static str,
}

impl<'a> Side<'a> {
    pub fn new(
        eng: HostEngine<'a>,
        bell: &'a Doorbell,
        peer_bell: &'a Doorbell,
        name: &'static str,
    ) -> Self {
        Side {
            eng,
            bell,
            peer_bell,
            inbox: VecDeque::new(),
            sleeps: 0,
            name,
        }
    }

    /// Rings the peer if the engine asks for it.
    pub fn flush(&mut self) {
        if self.eng.take_doorbell() {
            self.peer_bell.ring();
        }
    }

    /// Runs all pending engine work; outputs go to `sink`.  Returns whether
    /// anything happened.
    pub fn pump_with(&mut self, sink: &mut dyn FnMut(&mut HostEngine<'a>, Output)) -> bool {
        let before = self.eng.stats();
        let mut progress = false;
        for w in Wait::ALL {
            self.eng.ack(w);
        }
        match self.eng.process_recycle() {
            Ok(n) => progress |= n > 0,
            Err(e) => panic!("{}: recycle: {e:?}", self.name),
        }
        loop {
            match self.eng.poll() {
                Ok(Some(o)) => {
                    progress = true;
                    sink(&mut self.eng, o);
                }
                Ok(None) => break,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("{}: poll: {e:?}", self.name),
            }
        }
        loop {
            match self.eng.poll_sync() {
                Ok(Some(o)) => {
                    progress = true;
                    sink(&mut self.eng, o);
                }
                Ok(None) => break,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("{}: poll_sync: {e:?}", self.name),
            }
        }
        self.flush();
        progress || self.eng.stats() != before
    }

    /// Pumps into the inbox.
    pub fn pump(&mut self) -> bool {
        let mut inbox = std::mem::take(&mut self.inbox);
        let p = self.pump_with(&mut |_, o| inbox.push_back(o));
        self.inbox = inbox;
        p
    }

    /// Sleeps until the peer rings, unless any event has work.
    pub fn sleep(&mut self) {
        let mut armed = Vec::new();
        let mut may_sleep = true;
        for w in Wait::ALL {
            // The sync-release condition is "our sync slot is free": only a
            // sender stalled on it waits for it.
            if w == Wait::SyncRelease && self.eng.stall() != Stall::Sync {
                continue;
            }
            if self.eng.prepare_sleep(w) {
                armed.push(w);
            } else {
                may_sleep = false;
                break;
            }
        }
        if may_sleep {
            self.sleeps += 1;
            assert!(
                self.bell.wait(SLEEP_LIMIT),
                "{}: lost wake-up (slept {SLEEP_LIMIT:?})",
                self.name
            );
        }
        for w in armed {
            self.eng.finish_sleep(w);
        }
    }

    /// Waits for an output matching `f`; others stay in the inbox.
    pub fn expect(&mut self, mut f: impl FnMut(&Output) -> bool) -> Output {
        loop {
            if let Some(i) = self.inbox.iter().position(&mut f) {
                return self.inbox.remove(i).unwrap();
            }
            if !self.pump() {
                self.sleep();
            }
        }
    }

    /// Retries `op` while it returns `WouldBlock`, pumping and sleeping.
    pub fn block_on<T>(
        &mut self,
        mut op: impl FnMut(&mut HostEngine<'a>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        loop {
            let r = op(&mut self.eng);
            self.flush();
            match r {
                Err(Error::WouldBlock) => {
                    if !self.pump() {
                        self.sleep();
                    }
                }
                other => return other,
            }
        }
    }
}

/// Creates a connected ARM/VPU pair in `shm` (single-threaded set-up: both
/// CONNECTs are queued; the `Connected` outputs arrive on the first pumps).
pub fn pair(shm: &HostShm) -> (HostEngine<'_>, HostEngine<'_>) {
    let arm = Engine::init_arm(shm, Box::new(Tables::EMPTY), [0, 64]).expect("init_arm");
    let vpu = Engine::init_vpu(shm, Box::new(Tables::EMPTY)).expect("init_vpu");
    (arm, vpu)
}

/// Runs `a` and `b` in two threads against one buffer.
pub fn run_pair<RA: Send, RB: Send>(
    shm: &HostShm,
    setup: impl FnOnce(&mut HostEngine<'_>, &mut HostEngine<'_>),
    a: impl FnOnce(&mut Side) -> RA + Send,
    b: impl FnOnce(&mut Side) -> RB + Send,
) -> (RA, RB) {
    let (mut arm, mut vpu) = pair(shm);
    setup(&mut arm, &mut vpu);
    let bell_arm = Doorbell::default();
    let bell_vpu = Doorbell::default();
    std::thread::scope(|s| {
        let ha = s.spawn(|| {
            let mut side = Side::new(arm, &bell_arm, &bell_vpu, "arm");
            side.eng.connect().unwrap();
            side.flush();
            side.expect(|o| matches!(o, Output::Connected));
            let r = a(&mut side);
            // Leave nothing for the peer waiting on us.
            side.pump();
            (r, side.eng.stats())
        });
        let hb = s.spawn(|| {
            let mut side = Side::new(vpu, &bell_vpu, &bell_arm, "vpu");
            side.eng.connect().unwrap();
            side.flush();
            side.expect(|o| matches!(o, Output::Connected));
            let r = b(&mut side);
            side.pump();
            (r, side.eng.stats())
        });
        let (ra, sa) = ha.join().expect("arm thread");
        let (rb, sb) = hb.join().expect("vpu thread");
        assert_eq!(sa.proto_errors, 0, "arm protocol errors: {sa:?}");
        assert_eq!(sb.proto_errors, 0, "vpu protocol errors: {sb:?}");
        assert_eq!(shm.violations(), 0, "shared memory contract violations");
        (ra, rb)
    })
}
