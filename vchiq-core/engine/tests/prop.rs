// SPDX-License-Identifier: GPL-2.0

//! Property tests: framing, and the service state machine under random
//! operation sequences (both engines driven from one thread, interleaving
//! chosen by the property).

#![cfg(not(loom))]

mod common;

use common::shm::{HostShm, STD_SIZE};
use proptest::prelude::*;
use vchiq_engine::{
    stride, Engine, Error, Handle, MsgId, MsgType, Output, ServerOptions, ServiceParams, SrvState,
    Tables, MAX_MSG_SIZE, SLOT_SIZE,
};

type Eng<'a> = Engine<&'a HostShm, Box<Tables>>;

/// Pumps one engine; outputs are appended to `log`, DATA is checked by
/// `on_data` (which may keep it) or released.
fn pump(e: &mut Eng, log: &mut Vec<Output>) -> bool {
    let before = e.stats();
    let mut progress = false;
    for w in vchiq_engine::Wait::ALL {
        e.ack(w);
    }
    progress |= e.process_recycle().expect("recycle") > 0;
    loop {
        match e.poll() {
            Ok(Some(o)) => {
                progress = true;
                log.push(o);
            }
            Ok(None) | Err(Error::WouldBlock) => break,
            Err(err) => panic!("poll: {err:?}"),
        }
    }
    while let Ok(Some(o)) = e.poll_sync() {
        progress = true;
        log.push(o);
    }
    let _ = e.take_doorbell();
    progress || e.stats() != before
}

fn params(fourcc: &[u8; 4], version: u16, version_min: u16) -> ServiceParams {
    ServiceParams {
        fourcc: u32::from_be_bytes(*fourcc),
        version,
        version_min,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn msgid_round_trip(ty in 0u8..15, src in 0u32..4096, dst in 0u32..4096) {
        let t = MsgType::from_raw(u32::from(ty)).unwrap();
        let id = MsgId::new(t, src, dst);
        prop_assert_eq!(id.ty(), Some(t));
        prop_assert_eq!(id.src(), src);
        prop_assert_eq!(id.dst(), dst);
        prop_assert!(!id.is_claimed());
        prop_assert_eq!(MsgId(id.0 | vchiq_engine::MSGID_CLAIMED).ty(), None);
    }

    #[test]
    fn stride_properties(size in 0u32..10_000) {
        match stride(size) {
            Some(s) => {
                prop_assert!(size <= MAX_MSG_SIZE);
                prop_assert_eq!(s % 8, 0);
                prop_assert!(s >= size + 8 && s < size + 16);
                prop_assert!(s <= SLOT_SIZE);
            }
            None => prop_assert!(size > MAX_MSG_SIZE),
        }
    }

    /// Whatever the sizes, messages arrive complete, in order, 8-aligned,
    /// never crossing a slot boundary.
    #[test]
    fn framing(sizes in proptest::collection::vec(
        prop_oneof![0usize..=16, 0usize..=4088, 4080usize..=4088], 1..300),
        hold in 0usize..64)
    {
        let shm = HostShm::new(STD_SIZE);
        let mut arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 0]).unwrap();
        let mut vpu = Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).unwrap();
        vpu.add_service(params(b"echo", 1, 1), ServerOptions::default()).unwrap();
        arm.connect().unwrap();
        vpu.connect().unwrap();
        let (mut la, mut lv) = (Vec::new(), Vec::new());
        while pump(&mut arm, &mut la) | pump(&mut vpu, &mut lv) {}
        let h = arm.open_service(params(b"echo", 1, 1), 1).unwrap();
        while pump(&mut arm, &mut la) | pump(&mut vpu, &mut lv) {}
        prop_assert_eq!(arm.service_state(h).unwrap(), SrvState::Open);
        lv.clear();
        let mut next = 0;
        let mut got = 0;
        let mut held = std::collections::VecDeque::new();
        let mut buf = vec![0u8; 4088];
        while got < sizes.len() {
            let before = (next, got);
            while next < sizes.len() {
                let payload: Vec<u8> = (0..sizes[next]).map(|i| (i + next) as u8).collect();
                match arm.send_data(h, &payload) {
                    Ok(()) => next += 1,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            pump(&mut vpu, &mut lv);
            for o in lv.drain(..) {
                let Output::Data { msg, .. } = o else { panic!("{o:?}") };
                prop_assert_eq!(msg.size as usize, sizes[got]);
                prop_assert_eq!(msg.offset % 8, 0);
                prop_assert!(msg.offset + stride(msg.size).unwrap() <= SLOT_SIZE);
                let n = vpu.read(&msg, &mut buf).unwrap();
                for (i, b) in buf[..n].iter().enumerate() {
                    prop_assert_eq!(*b, (i + got) as u8);
                }
                got += 1;
                held.push_back(msg);
                while held.len() > hold {
                    vpu.release(&held.pop_front().unwrap()).unwrap();
                }
            }
            pump(&mut arm, &mut la);
            if next == sizes.len() || (next, got) == before {
                // Holding too much stalls the sender: give everything back.
                while let Some(m) = held.pop_front() {
                    vpu.release(&m).unwrap();
                }
                pump(&mut arm, &mut la);
            }
        }
        prop_assert_eq!(arm.stats().proto_errors + vpu.stats().proto_errors, 0);
        prop_assert_eq!(shm.violations(), 0);
    }
}

/// Operations of the state-machine property.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// A side opens one of the peer's services (index), with a version
    /// that may not match.
    Open { arm: bool, which: u8, version: u16 },
    /// A side closes its k-th live handle.
    Close { arm: bool, k: u8 },
    /// A side removes its k-th live handle.
    Remove { arm: bool, k: u8 },
    /// A side sends on its k-th live handle.
    Send { arm: bool, k: u8, size: u16 },
    /// A side queues a bulk on its k-th live handle.
    Bulk { arm: bool, k: u8, rx: bool },
    /// Let one side run.
    Run { arm: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 0u8..3, 0u16..6).prop_map(|(arm, which, version)| Op::Open {
            arm,
            which,
            version
        }),
        (any::<bool>(), 0u8..8).prop_map(|(arm, k)| Op::Close { arm, k }),
        (any::<bool>(), 0u8..8).prop_map(|(arm, k)| Op::Remove { arm, k }),
        (any::<bool>(), 0u8..8, 0u16..4089).prop_map(|(arm, k, size)| Op::Send { arm, k, size }),
        (any::<bool>(), 0u8..8, any::<bool>()).prop_map(|(arm, k, rx)| Op::Bulk { arm, k, rx }),
        any::<bool>().prop_map(|arm| Op::Run { arm }),
        any::<bool>().prop_map(|arm| Op::Run { arm }),
    ]
}

const FOURCCS: [&[u8; 4]; 3] = [b"aaaa", b"bbbb", b"cccc"];

struct SideState<'a> {
    eng: Eng<'a>,
    log: Vec<Output>,
    /// Handles we know of (clients we opened, servers we created).
    handles: Vec<Handle>,
}

impl SideState<'_> {
    fn live(&self, k: u8) -> Option<Handle> {
        let live: Vec<Handle> = self
            .handles
            .iter()
            .copied()
            .filter(|h| self.eng.service_state(*h).is_ok())
            .collect();
        if live.is_empty() {
            None
        } else {
            Some(live[k as usize % live.len()])
        }
    }

    /// Acts on outputs: releases DATA, completes VPU bulk pairs.
    fn settle(&mut self) {
        for o in std::mem::take(&mut self.log) {
            match o {
                Output::Data { msg, .. } => {
                    // Messages delivered before a close in the same batch
                    // were released by it.
                    let _ = self.eng.release(&msg);
                }
                Output::BulkTransfer {
                    handle,
                    dir,
                    size,
                    remote_size,
                    ..
                } => {
                    let r = if size == remote_size {
                        vchiq_engine::BulkResult::Done(size)
                    } else {
                        vchiq_engine::BulkResult::Aborted
                    };
                    match self.eng.complete_bulk(handle, dir, r) {
                        Ok(()) | Err(Error::BadHandle) | Err(Error::Inval) => {}
                        Err(Error::WouldBlock) => {}
                        Err(e) => panic!("complete_bulk: {e:?}"),
                    }
                }
                _ => {}
            }
        }
    }
}

fn run(s: &mut SideState) -> bool {
    let p = pump(&mut s.eng, &mut s.log);
    s.settle();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Random opens, closes (from either side, at any point), removes,
    /// sends and bulks: no protocol errors, and at quiescence every open
    /// service is paired with an open peer service and nothing is stuck
    /// half-way.
    #[test]
    fn service_state_machine(ops in proptest::collection::vec(op(), 1..120)) {
        let shm = HostShm::new(STD_SIZE);
        let arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 0]).unwrap();
        let vpu = Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).unwrap();
        let mut a = SideState { eng: arm, log: Vec::new(), handles: Vec::new() };
        let mut v = SideState { eng: vpu, log: Vec::new(), handles: Vec::new() };
        // Each side listens on all three fourccs (version 3, min 2).
        for s in [&mut a, &mut v] {
            for f in FOURCCS {
                let h = s.eng.add_service(params(f, 3, 2), ServerOptions::default()).unwrap();
                s.handles.push(h);
            }
            s.eng.connect().unwrap();
        }
        while run(&mut a) | run(&mut v) {}
        prop_assert!(a.eng.is_connected() && v.eng.is_connected());
        for op in ops {
            let (me, _peer) = match op {
                Op::Open { arm, .. } | Op::Close { arm, .. } | Op::Remove { arm, .. }
                | Op::Send { arm, .. } | Op::Bulk { arm, .. } | Op::Run { arm } => {
                    if arm { (&mut a, &mut v) } else { (&mut v, &mut a) }
                }
            };
            match op {
                Op::Open { which, version, .. } => {
                    match me.eng.open_service(params(FOURCCS[which as usize], version, 1), 9) {
                        Ok(h) => me.handles.push(h),
                        Err(Error::WouldBlock) => {}
                        Err(e) => panic!("open: {e:?}"),
                    }
                }
                Op::Close { k, .. } => {
                    if let Some(h) = me.live(k) {
                        match me.eng.close_service(h) {
                            Ok(()) | Err(Error::Inval) | Err(Error::WouldBlock) => {}
                            Err(e) => panic!("close: {e:?}"),
                        }
                    }
                }
                Op::Remove { k, .. } => {
                    if let Some(h) = me.live(k) {
                        match me.eng.remove_service(h) {
                            Ok(()) | Err(Error::Inval) | Err(Error::WouldBlock) => {}
                            Err(e) => panic!("remove: {e:?}"),
                        }
                    }
                }
                Op::Send { k, size, .. } => {
                    if let Some(h) = me.live(k) {
                        match me.eng.send_data(h, &vec![7u8; size as usize]) {
                            Ok(()) | Err(Error::Inval) | Err(Error::Closed)
                            | Err(Error::WouldBlock) => {}
                            Err(e) => panic!("send: {e:?}"),
                        }
                    }
                }
                Op::Bulk { k, rx, .. } => {
                    if let Some(h) = me.live(k) {
                        let dir = if rx { vchiq_engine::BulkDir::Receive } else { vchiq_engine::BulkDir::Transmit };
                        match me.eng.queue_bulk(h, dir, 1, 0x1000, 256) {
                            Ok(()) | Err(Error::Inval) | Err(Error::Closed)
                            | Err(Error::WouldBlock) => {}
                            Err(e) => panic!("bulk: {e:?}"),
                        }
                    }
                }
                Op::Run { .. } => {
                    run(me);
                }
            }
        }
        // Quiescence.
        for _ in 0..1000 {
            if !(run(&mut a) | run(&mut v)) {
                break;
            }
        }
        prop_assert_eq!(a.eng.stats().proto_errors, 0);
        prop_assert_eq!(v.eng.stats().proto_errors, 0);
        prop_assert_eq!(shm.violations(), 0);
        for (me, peer) in [(&a, &v), (&v, &a)] {
            for h in &me.handles {
                let Ok(st) = me.eng.service_state(*h) else { continue };
                prop_assert!(
                    matches!(st, SrvState::Listening | SrvState::Open | SrvState::CloseWait),
                    "stuck in {:?}", st
                );
                if st == SrvState::Open {
                    // The peer's end is open and points back at us.
                    let peer_open = peer.handles.iter().any(|ph| {
                        peer.eng.service_state(*ph) == Ok(SrvState::Open)
                            && peer_points_to(&peer.eng, *ph, h.port())
                            && me.eng.remote_port(*h) == Ok(ph.port() as u16)
                    });
                    prop_assert!(peer_open, "open service {:?} has no open peer", h);
                }
            }
        }
    }
}

/// Whether the peer service `ph` is connected to our port `port`, and we
/// to it.
fn peer_points_to(peer: &Eng, ph: Handle, port: u32) -> bool {
    peer.remote_port(ph) == Ok(port as u16)
}
