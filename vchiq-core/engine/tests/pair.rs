// SPDX-License-Identifier: GPL-2.0

//! Two engines, ARM and VPU role, over one shared buffer in two threads.

#![cfg(not(loom))]

mod common;

use common::shm::{HostEngine, HostShm, STD_SIZE};
use common::side::{run_pair, Side};
use rand::{Rng, SeedableRng};
use vchiq_engine::{
    BulkDir, BulkResult, Engine, Error, Handle, MsgRef, Output, ServerOptions, ServiceParams,
    SrvState, Stall, Tables,
};

const ECHO: u32 = u32::from_be_bytes(*b"echo");

fn params(fourcc: u32, version: u16, version_min: u16) -> ServiceParams {
    ServiceParams {
        fourcc,
        version,
        version_min,
    }
}

/// Payload byte `i` of message `seq`.
fn pattern(seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(0x9e37_79b9) as usize).wrapping_add(i.wrapping_mul(7)) as u8
}

fn fill(seq: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(seq, i);
    }
}

/// Opens `fourcc` from `side` and waits for the answer.
fn open(side: &mut Side, p: ServiceParams) -> Result<Handle, Handle> {
    let h = side.block_on(|e| e.open_service(p, 42)).unwrap();
    match side.expect(|o| {
        matches!(o, Output::Opened { handle, .. } | Output::OpenRejected { handle } if *handle == h)
    }) {
        Output::Opened { .. } => Ok(h),
        _ => Err(h),
    }
}

fn expect_opened(side: &mut Side) -> Handle {
    match side.expect(|o| matches!(o, Output::Opened { .. })) {
        Output::Opened { handle, .. } => handle,
        _ => unreachable!(),
    }
}

fn expect_closed(side: &mut Side, h: Handle) {
    side.expect(|o| matches!(o, Output::Closed { handle } if *handle == h));
}

fn expect_data(side: &mut Side) -> (Handle, MsgRef, Vec<u8>) {
    match side.expect(|o| matches!(o, Output::Data { .. })) {
        Output::Data { handle, msg } => {
            let mut v = vec![0u8; msg.size as usize];
            side.eng.read(&msg, &mut v).unwrap();
            (handle, msg, v)
        }
        _ => unreachable!(),
    }
}

#[test]
fn slot_zero_layout_after_init() {
    let shm = HostShm::new(STD_SIZE);
    let arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0xdead_0000, 64]).unwrap();
    use vchiq_engine::SharedMem;
    assert_eq!(shm.load(0), 0x5643_4849);
    assert_eq!(shm.load(4), 8 | (3 << 16));
    assert_eq!(shm.load(8), 1288);
    assert_eq!(shm.load(12), 4096);
    assert_eq!(shm.load(16), 128);
    assert_eq!(shm.load(20), 64);
    assert_eq!(shm.load(24), 0xdead_0000);
    assert_eq!(shm.load(28), 64);
    // master: first 2, last 32, sync 1; slave: 34, 64, 33.
    assert_eq!(
        [shm.load(32 + 4), shm.load(32 + 8), shm.load(32 + 12)],
        [2, 32, 1]
    );
    assert_eq!(
        [shm.load(404 + 4), shm.load(404 + 8), shm.load(404 + 12)],
        [34, 64, 33]
    );
    assert_eq!(shm.load(404), 1, "slave initialised");
    assert_eq!(shm.load(404 + 44), 31, "slot_queue_recycle");
    assert_eq!(shm.load(404 + 72), 34, "slot_queue[0]");
    assert_eq!(shm.load(404 + 72 + 30 * 4), 64, "slot_queue[30]");
    assert_eq!(shm.load(404 + 60 + 4), 1, "sync_release pre-fired");
    assert_eq!(shm.load(404 + 328), 11, "debug[0]");
    assert_eq!(arm.own_slots().count(), 31);
    // A second ARM on the same memory is refused.
    assert_eq!(
        Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 0]).err(),
        Some(Error::Inval)
    );
    // The VPU validates and publishes its half.
    let vpu = Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).unwrap();
    assert_eq!(shm.load(32), 1);
    assert_eq!(vpu.own_slots().first, 2);
    assert_eq!(vpu.peer_slots().sync, 33);
}

#[test]
fn vpu_rejects_bad_slot_zero() {
    use vchiq_engine::SharedMem;
    let cases: [(u32, u32, Error); 5] = [
        (0, 0x1234_5678, Error::Proto),      // magic
        (4, 2 | (2 << 16), Error::Version),  // version 2 < our min 3
        (4, 20 | (9 << 16), Error::Version), // their min 9 > our 8
        (12, 8192, Error::Proto),            // slot size
        (404 + 8, 200, Error::Proto),        // slave slot_last out of range
    ];
    for (off, val, err) in cases {
        let shm = HostShm::new(STD_SIZE);
        let _arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 0]).unwrap();
        shm.store(off, val);
        assert_eq!(
            Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).err(),
            Some(err),
            "offset {off}"
        );
    }
    // Overlapping ranges.
    let shm = HostShm::new(STD_SIZE);
    let _arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 0]).unwrap();
    shm.store(32 + 8, 40);
    assert_eq!(
        Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).err(),
        Some(Error::Proto)
    );
    // Not initialised by the ARM yet.
    let shm = HostShm::new(STD_SIZE);
    assert_eq!(
        Engine::init_vpu(&shm, Box::new(Tables::EMPTY)).err(),
        Some(Error::NotConnected)
    );
    assert_eq!(shm.violations(), 0);
}

#[test]
fn connect_and_open_close_from_arm() {
    let shm = HostShm::new(STD_SIZE);
    let (arm_h, vpu_h) = run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            assert!(arm.eng.is_connected() || arm.eng.connect().is_ok());
            let h = open(arm, params(ECHO, 3, 2)).expect("open accepted");
            assert_eq!(arm.eng.service_state(h).unwrap(), SrvState::Open);
            assert_eq!(arm.eng.peer_version(h).unwrap(), 3);
            arm.block_on(|e| e.send_data(h, b"hello")).unwrap();
            let (dh, msg, v) = expect_data(arm);
            assert_eq!(dh, h);
            assert_eq!(v, b"world");
            arm.eng.release(&msg).unwrap();
            assert_eq!(arm.eng.release(&msg), Err(Error::Inval), "double release");
            arm.block_on(|e| e.close_service(h)).unwrap();
            assert_eq!(arm.eng.service_state(h).unwrap(), SrvState::CloseSent);
            assert_eq!(arm.eng.send_data(h, b"x"), Err(Error::Closed));
            expect_closed(arm, h);
            // A closed client is freed.
            assert_eq!(arm.eng.service_state(h), Err(Error::BadHandle));
            h
        },
        |vpu| {
            let h = expect_opened(vpu);
            let (_, msg, v) = expect_data(vpu);
            assert_eq!(v, b"hello");
            vpu.eng.release(&msg).unwrap();
            vpu.block_on(|e| e.send_data(h, b"world")).unwrap();
            expect_closed(vpu, h);
            // A server goes back to listening.
            assert_eq!(vpu.eng.service_state(h).unwrap(), SrvState::Listening);
            h
        },
    );
    assert_ne!(arm_h, Handle(0));
    assert_ne!(vpu_h, Handle(0));
}

#[test]
fn open_from_vpu_close_from_server_side() {
    let shm = HostShm::new(STD_SIZE);
    run_pair(
        &shm,
        |arm, _| {
            arm.add_service(params(ECHO, 5, 5), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            let h = expect_opened(arm);
            let (_, msg, v) = expect_data(arm);
            assert_eq!(v, b"ping");
            arm.eng.release(&msg).unwrap();
            // The server (ARM) closes.
            arm.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(arm, h);
            // Listening again (or already re-opened by the VPU).
            assert!(matches!(
                arm.eng.service_state(h).unwrap(),
                SrvState::Listening | SrvState::Open
            ));
            // And it can be opened again.
            let h2 = expect_opened(arm);
            assert_eq!(h2, h);
            expect_closed(arm, h);
        },
        |vpu| {
            let h = open(vpu, params(ECHO, 6, 5)).expect("accepted");
            vpu.block_on(|e| e.send_data(h, b"ping")).unwrap();
            expect_closed(vpu, h);
            assert_eq!(vpu.eng.service_state(h), Err(Error::BadHandle));
            // Reopen, then the client (VPU) closes this time.
            let h = open(vpu, params(ECHO, 5, 4)).expect("accepted again");
            vpu.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(vpu, h);
        },
    );
}

#[test]
fn version_mismatch_and_unknown_service_rejected() {
    let shm = HostShm::new(STD_SIZE);
    run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 10, 8), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            // Our version 7 is below the server's minimum 8.
            let h = open(arm, params(ECHO, 7, 1)).expect_err("rejected");
            assert_eq!(arm.eng.service_state(h), Err(Error::BadHandle));
            // The server's version 10 is below our minimum 11.
            open(arm, params(ECHO, 12, 11)).expect_err("rejected");
            // Nobody listens for this fourcc.
            open(arm, params(u32::from_be_bytes(*b"none"), 1, 1)).expect_err("rejected");
            // Compatible.
            let h = open(arm, params(ECHO, 9, 9)).expect("accepted");
            assert_eq!(arm.eng.peer_version(h).unwrap(), 10);
            arm.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(arm, h);
        },
        |vpu| {
            let h = expect_opened(vpu);
            expect_closed(vpu, h);
        },
    );
}

/// Receive-side checker of the stream tests.
struct RxCheck {
    rng: rand::rngs::SmallRng,
    buf: Vec<u8>,
    recvd: u64,
    held: std::collections::VecDeque<MsgRef>,
    hold: usize,
    size: fn(&mut rand::rngs::SmallRng) -> usize,
}

impl RxCheck {
    fn on(&mut self, eng: &mut HostEngine<'_>, o: Output) {
        let Output::Data { msg, .. } = o else {
            panic!("unexpected {o:?}");
        };
        let recvd = self.recvd;
        let want = (self.size)(&mut self.rng);
        assert_eq!(msg.size as usize, want, "message {recvd}: size");
        let n = eng.read(&msg, &mut self.buf).unwrap();
        for (i, b) in self.buf[..n].iter().enumerate() {
            assert_eq!(*b, pattern(recvd, i), "message {recvd}: byte {i}");
        }
        self.recvd += 1;
        self.held.push_back(msg);
        while self.held.len() > self.hold {
            eng.release(&self.held.pop_front().unwrap()).unwrap();
        }
    }
}

/// Streams `count` messages each way with sizes from `size`, checking
/// content and order.  Returns elapsed time.
pub fn stream(
    shm: &HostShm,
    count: u64,
    size: fn(&mut rand::rngs::SmallRng) -> usize,
    hold: usize,
) -> std::time::Duration {
    let t0 = std::time::Instant::now();
    let run = move |side: &mut Side, h: Handle, seed: u64| {
        let mut tx_rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let rx_rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut buf = vec![0u8; 4088];
        let (mut sent, mut recvd) = (0u64, 0u64);
        let mut next_size = size(&mut tx_rng);
        let mut rx = RxCheck {
            rng: rx_rng,
            buf: vec![0u8; 4088],
            recvd: 0,
            held: Default::default(),
            hold,
            size,
        };
        // Data that arrived together with the open.
        while let Some(o) = side.inbox.pop_front() {
            rx.on(&mut side.eng, o);
        }
        while sent < count || recvd < count {
            let mut progress = false;
            while sent < count {
                fill(sent, &mut buf[..next_size]);
                match side.eng.send_data(h, &buf[..next_size]) {
                    Ok(()) => {
                        sent += 1;
                        next_size = size(&mut tx_rng);
                        progress = true;
                    }
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("send: {e:?}"),
                }
            }
            side.flush();
            progress |= side.pump_with(&mut |eng, o| rx.on(eng, o));
            recvd = rx.recvd;
            if recvd == count {
                while let Some(m) = rx.held.pop_front() {
                    side.eng.release(&m).unwrap();
                }
            }
            side.flush();
            if !progress && (sent < count || recvd < count) {
                side.sleep();
            }
        }
        (sent, recvd, side.eng.stats())
    };
    let ((sa, ra, _), (sv, rv, _)) = run_pair(
        shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        move |arm| {
            let h = open(arm, params(ECHO, 3, 1)).unwrap();
            run(arm, h, 1)
        },
        move |vpu| {
            let h = expect_opened(vpu);
            run(vpu, h, 1)
        },
    );
    assert_eq!((sa, ra, sv, rv), (count, count, count, count));
    t0.elapsed()
}

#[test]
fn hundred_thousand_random_messages_each_way() {
    let shm = HostShm::new(STD_SIZE);
    let n = if cfg!(debug_assertions) {
        5_000
    } else {
        100_000
    };
    let dt = stream(&shm, n, |r| r.gen_range(0..=4088), 0);
    eprintln!("{n} messages each way in {dt:?}");
}

#[test]
fn slot_wrap_and_recycling_under_load() {
    // Small messages through many slot-queue wraps, with some messages
    // held so that slots are recycled out of order.
    let shm = HostShm::new(STD_SIZE);
    let n = if cfg!(debug_assertions) {
        5_000
    } else {
        60_000
    };
    stream(&shm, n, |r| r.gen_range(0..=600), 40);
    // Starting just below the 32-bit position wrap (a multiple of 64
    // slots), the stream crosses it.
    let shm = HostShm::new(STD_SIZE);
    let start = 0u32.wrapping_sub(64 * 4096 * 2);
    let count = 20_000u64;
    let ((), ()) = run_pair(
        &shm,
        |arm, vpu| {
            arm.test_start_position(start);
            vpu.test_start_position(start);
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        move |arm| {
            let h = open(arm, params(ECHO, 3, 1)).unwrap();
            let buf = [0xa5u8; 1000];
            for i in 0..count {
                arm.block_on(|e| e.send_data(h, &buf[..(i % 1000) as usize]))
                    .unwrap();
            }
            expect_closed(arm, h);
        },
        move |vpu| {
            let h = expect_opened(vpu);
            for i in 0..count {
                let (_, msg, v) = expect_data(vpu);
                assert_eq!(v.len() as u64, i % 1000);
                vpu.eng.release(&msg).unwrap();
            }
            vpu.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(vpu, h);
            // 20 MB went through a 256 KiB ring: it wrapped many times.
            assert!(vpu.eng.stats().slots_recycled > 64 * 10);
        },
    );
}

#[test]
fn quota_stalls_and_recovery() {
    let shm = HostShm::new(STD_SIZE);
    let go = std::sync::Barrier::new(2);
    run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            let h = open(arm, params(ECHO, 3, 1)).unwrap();
            // Message quota 5: the sixth message stalls until the VPU
            // releases and the slot comes back.
            arm.eng.set_quota(h, 0, 5).unwrap();
            for _ in 0..5 {
                arm.eng.send_data(h, &[1; 100]).unwrap();
            }
            assert_eq!(arm.eng.send_data(h, &[1; 100]), Err(Error::WouldBlock));
            assert_eq!(arm.eng.stall(), Stall::ServiceQuota);
            assert!(arm.eng.stats().quota_stalls > 0);
            arm.flush();
            go.wait();
            // Recovers once the peer releases (the partial slot was padded
            // out so that it can be recycled).
            for _ in 0..50 {
                arm.block_on(|e| e.send_data(h, &[2; 100])).unwrap();
            }
            // Slot stall: big messages the VPU does not release fill all
            // transmit slots (data quota 30 stops us first).
            arm.eng.set_quota(h, 31, 1000).unwrap();
            let mut sent = 0;
            loop {
                match arm.eng.send_data(h, &[3; 4088]) {
                    Ok(()) => sent += 1,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert!(matches!(arm.eng.stall(), Stall::DataQuota | Stall::Slots));
            assert!(sent >= 25, "sent {sent}");
            arm.flush();
            go.wait();
            for _ in 0..100 {
                arm.block_on(|e| e.send_data(h, &[4; 4088])).unwrap();
            }
            arm.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(arm, h);
        },
        |vpu| {
            let h = expect_opened(vpu);
            go.wait();
            let mut total = 0;
            // 5 + 50 small, then hold the big ones until the ARM stalls.
            for _ in 0..55 {
                let (_, m, _) = expect_data(vpu);
                vpu.eng.release(&m).unwrap();
                total += 1;
            }
            go.wait();
            loop {
                let (_, m, v) = expect_data(vpu);
                assert_eq!(v.len(), 4088);
                vpu.eng.release(&m).unwrap();
                total += 1;
                if v[0] == 4 {
                    break;
                }
            }
            loop {
                match vpu.expect(|o| matches!(o, Output::Data { .. } | Output::Closed { .. })) {
                    Output::Data { msg, .. } => {
                        // Messages queued before a close that was received
                        // in the same batch were released by the close.
                        let closing = vpu.inbox.iter().any(|o| matches!(o, Output::Closed { .. }));
                        let r = vpu.eng.release(&msg);
                        assert_eq!(r.is_ok(), !closing);
                        total += 1;
                    }
                    Output::Closed { handle } => {
                        assert_eq!(handle, h);
                        break;
                    }
                    _ => unreachable!(),
                }
            }
            assert!(total >= 55 + 25 + 100);
        },
    );
}

#[test]
fn bulk_bookkeeping_with_abort() {
    let shm = HostShm::new(STD_SIZE);
    let go = std::sync::Barrier::new(2);
    run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            let h = open(arm, params(ECHO, 3, 1)).unwrap();
            // Four transmits and four receives outstanding; the fifth
            // stalls.
            for i in 0..4 {
                arm.eng
                    .queue_bulk(h, BulkDir::Transmit, 100 + i, 0x1000 * (i + 1), 1000 + i)
                    .unwrap();
                arm.eng
                    .queue_bulk(h, BulkDir::Receive, 200 + i, 0x9000 * (i + 1), 2000)
                    .unwrap();
            }
            assert_eq!(
                arm.eng.queue_bulk(h, BulkDir::Transmit, 999, 0, 1),
                Err(Error::WouldBlock)
            );
            assert_eq!(arm.eng.stall(), Stall::Bulk);
            arm.flush();
            // Completions arrive in FIFO order per direction.
            let mut tx = Vec::new();
            let mut rx = Vec::new();
            while tx.len() + rx.len() < 7 {
                match arm.expect(|o| matches!(o, Output::BulkDone { .. })) {
                    Output::BulkDone {
                        dir,
                        cookie,
                        result,
                        ..
                    } => match dir {
                        BulkDir::Transmit => tx.push((cookie, result)),
                        BulkDir::Receive => rx.push((cookie, result)),
                    },
                    _ => unreachable!(),
                }
            }
            assert_eq!(
                tx,
                vec![
                    (100, BulkResult::Done(1000)),
                    (101, BulkResult::Done(1001)),
                    (102, BulkResult::Aborted), // size mismatch on the VPU
                    (103, BulkResult::Done(1003)),
                ]
            );
            assert_eq!(
                rx,
                vec![
                    (200, BulkResult::Done(2000)),
                    (201, BulkResult::Done(1500)),
                    (202, BulkResult::Aborted), // size mismatch
                ]
            );
            // One receive remains outstanding; the close aborts it.
            go.wait();
            arm.block_on(|e| e.close_service(h)).unwrap();
            let mut aborted = Vec::new();
            loop {
                match arm.expect(|o| matches!(o, Output::BulkDone { .. } | Output::Closed { .. })) {
                    Output::BulkDone { cookie, result, .. } => {
                        assert_eq!(result, BulkResult::Aborted);
                        aborted.push(cookie);
                    }
                    Output::Closed { .. } => break,
                    _ => unreachable!(),
                }
            }
            assert_eq!(aborted, vec![203]);
        },
        |vpu| {
            let h = expect_opened(vpu);
            // VPU side: receive four (one with a different size), transmit
            // three (the last with a different size).
            for i in 0..4u32 {
                let size = if i == 2 { 5 } else { 1000 + i };
                vpu.block_on(|e| e.queue_bulk(h, BulkDir::Receive, 10 + i, 0, size))
                    .unwrap();
            }
            for (i, size) in [(0u32, 2000u32), (1, 2000), (2, 64)] {
                vpu.block_on(|e| e.queue_bulk(h, BulkDir::Transmit, 20 + i, 0, size))
                    .unwrap();
            }
            let mut local_done = Vec::new();
            let mut transfers = 0;
            while transfers < 7 {
                match vpu
                    .expect(|o| matches!(o, Output::BulkTransfer { .. } | Output::BulkDone { .. }))
                {
                    Output::BulkTransfer {
                        dir,
                        cookie,
                        size,
                        pagelist,
                        remote_size,
                        ..
                    } => {
                        transfers += 1;
                        assert_ne!(pagelist, 0);
                        let result = if dir == BulkDir::Transmit && cookie == 21 {
                            // The VPU may send fewer bytes than asked for.
                            BulkResult::Done(1500)
                        } else if size == remote_size {
                            BulkResult::Done(size)
                        } else {
                            BulkResult::Aborted
                        };
                        vpu.block_on(|e| e.complete_bulk(h, dir, result)).unwrap();
                    }
                    Output::BulkDone { cookie, result, .. } => local_done.push((cookie, result)),
                    _ => unreachable!(),
                }
            }
            // A local bulk the ARM never asks for is aborted by the close.
            vpu.block_on(|e| e.queue_bulk(h, BulkDir::Receive, 14, 0, 10))
                .unwrap();
            go.wait();
            expect_closed(vpu, h);
            while let Some(i) = vpu
                .inbox
                .iter()
                .position(|o| matches!(o, Output::BulkDone { .. }))
            {
                if let Some(Output::BulkDone { cookie, result, .. }) = vpu.inbox.remove(i) {
                    local_done.push((cookie, result));
                }
            }
            local_done.sort_by_key(|d| d.0);
            assert_eq!(local_done.len(), 8);
            assert_eq!(local_done[2], (12, BulkResult::Aborted));
            assert_eq!(local_done[4], (14, BulkResult::Aborted));
            assert_eq!(local_done[5], (20, BulkResult::Done(2000)));
            assert_eq!(local_done[7], (22, BulkResult::Aborted));
        },
    );
}

#[test]
fn close_with_traffic_in_flight() {
    let shm = HostShm::new(STD_SIZE);
    let rounds = 20;
    run_pair(
        &shm,
        |_, vpu| {
            vpu.add_service(params(ECHO, 3, 1), ServerOptions::default())
                .unwrap();
        },
        move |arm| {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
            for _ in 0..rounds {
                let h = open(arm, params(ECHO, 3, 1)).unwrap();
                // Send until the close; the VPU is sending too.
                let n = rng.gen_range(0..400);
                for i in 0..n {
                    match arm.block_on(|e| e.send_data(h, &[i as u8; 300])) {
                        Ok(()) => {}
                        Err(Error::Closed) => break,
                        Err(e) => panic!("{e:?}"),
                    }
                    // Keep up with (and sometimes hold) incoming data.
                    arm.pump();
                    while let Some(i) = arm
                        .inbox
                        .iter()
                        .position(|o| matches!(o, Output::Data { .. }))
                    {
                        if let Some(Output::Data { msg, .. }) = arm.inbox.remove(i) {
                            if rng.gen_bool(0.9) {
                                arm.eng.release(&msg).unwrap();
                            }
                        }
                    }
                }
                // Close with our DATA and the VPU's still in flight; held
                // messages are released by the close.
                arm.block_on(|e| e.close_service(h)).unwrap();
                expect_closed(arm, h);
                arm.inbox.retain(|o| !matches!(o, Output::Data { .. }));
            }
        },
        move |vpu| {
            for _ in 0..rounds {
                let h = expect_opened(vpu);
                let mut closed = false;
                let mut i = 0u32;
                while !closed {
                    if i < 300 {
                        match vpu.eng.send_data(h, &[0x5a; 500]) {
                            Ok(()) => i += 1,
                            Err(Error::WouldBlock) | Err(Error::Closed) | Err(Error::Inval) => {}
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    vpu.flush();
                    let progress = vpu.pump();
                    // Messages delivered before a close in the same batch
                    // were released by the close itself.
                    let closing = vpu.inbox.iter().any(|o| matches!(o, Output::Closed { .. }));
                    while let Some(o) = vpu.inbox.pop_front() {
                        match o {
                            Output::Data { msg, .. } if !closing => vpu.eng.release(&msg).unwrap(),
                            Output::Data { msg, .. } => {
                                assert_eq!(vpu.eng.release(&msg), Err(Error::Inval))
                            }
                            Output::Closed { handle } => {
                                assert_eq!(handle, h);
                                closed = true;
                                // Later outputs belong to the next round.
                                break;
                            }
                            o => panic!("unexpected {o:?}"),
                        }
                    }
                    if !progress && i >= 300 && !closed {
                        vpu.sleep();
                    }
                }
                // Listening again (or already re-opened for the next round).
                assert!(matches!(
                    vpu.eng.service_state(h).unwrap(),
                    SrvState::Listening | SrvState::Open
                ));
            }
        },
    );
}

#[test]
fn sync_service_round_trip() {
    let shm = HostShm::new(STD_SIZE);
    run_pair(
        &shm,
        |arm, _| {
            arm.add_service(
                params(ECHO, 8, 8),
                ServerOptions {
                    auto_close: true,
                    sync: true,
                },
            )
            .unwrap();
        },
        |arm| {
            let h = expect_opened(arm);
            assert_eq!(arm.eng.service_state(h).unwrap(), SrvState::OpenSync);
            for i in 0..200u32 {
                let (_, m, v) = expect_data(arm);
                assert_eq!(v, i.to_le_bytes());
                arm.eng.release(&m).unwrap();
                arm.block_on(|e| e.send_data(h, &(i + 1000).to_le_bytes()))
                    .unwrap();
            }
            expect_closed(arm, h);
        },
        |vpu| {
            let h = open(vpu, params(ECHO, 8, 8)).unwrap();
            assert_eq!(vpu.eng.service_state(h).unwrap(), SrvState::OpenSync);
            for i in 0..200u32 {
                vpu.block_on(|e| e.send_data(h, &i.to_le_bytes())).unwrap();
                let (_, m, v) = expect_data(vpu);
                assert_eq!(v, (i + 1000).to_le_bytes());
                vpu.eng.release(&m).unwrap();
            }
            vpu.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(vpu, h);
        },
    );
}

/// The VideoCore sends one message and closes; the ARM, holding the message, sees the close
/// and then releases it: `Ok` when the engine kept it claimed, `Inval` when the close had
/// released it already.
fn release_after_remote_close(keep: bool) -> Result<(), Error> {
    let shm = HostShm::new(STD_SIZE);
    let (r, ()) = run_pair(
        &shm,
        |arm, _| {
            arm.set_keep_held_on_close(keep);
            arm.add_service(params(ECHO, 3, 3), ServerOptions::default())
                .unwrap();
        },
        |arm| {
            let h = expect_opened(arm);
            let (_, m, v) = expect_data(arm);
            assert_eq!(v, b"held");
            expect_closed(arm, h);
            arm.eng.release(&m)
        },
        |vpu| {
            let h = open(vpu, params(ECHO, 3, 3)).unwrap();
            vpu.block_on(|e| e.send_data(h, b"held")).unwrap();
            vpu.block_on(|e| e.close_service(h)).unwrap();
            expect_closed(vpu, h);
        },
    );
    r
}

#[test]
fn close_releases_held_messages_unless_kept() {
    assert_eq!(release_after_remote_close(false), Err(Error::Inval));
    assert_eq!(release_after_remote_close(true), Ok(()));
}

#[test]
fn sync_raw_message_without_a_service_is_dropped() {
    let shm = HostShm::new(STD_SIZE);
    run_pair(
        &shm,
        |_, _| {},
        |arm| {
            // Each is dropped (no synchronous service on port 5) and the sync slot handed
            // back, or the VideoCore's next send would stall for ever.
            while arm.eng.stats().dropped < 3 {
                if !arm.pump() {
                    arm.sleep();
                }
            }
        },
        |vpu| {
            assert_eq!(vpu.eng.send_sync_raw(4096, 0, b"x"), Err(Error::Inval));
            for _ in 0..3 {
                vpu.block_on(|e| e.send_sync_raw(1, 5, b"ping")).unwrap();
            }
        },
    );
}

#[test]
fn engine_is_small_and_tables_reset() {
    let engine = std::mem::size_of::<HostEngine<'_>>();
    let tables = std::mem::size_of::<Tables>();
    println!("size_of Engine<&HostShm, Box<Tables>> = {engine}, size_of Tables = {tables}");
    // The engine must fit comfortably on a kernel stack; the tables are
    // heap-allocated.
    assert!(engine < 1024, "Engine is {engine} bytes");
    // `init_*` reset the tables they are given: a service registered in
    // recycled tables is gone.
    let _ = Tables::default();
    let shm = HostShm::new(STD_SIZE);
    let mut arm = Engine::init_arm(&shm, Box::new(Tables::EMPTY), [0, 64]).unwrap();
    let h = arm
        .add_service(params(ECHO, 3, 1), ServerOptions::default())
        .unwrap();
    assert!(arm.service_state(h).is_ok());
    let tables = arm.into_tables();
    let shm = HostShm::new(STD_SIZE);
    let arm = Engine::init_arm(&shm, tables, [0, 64]).unwrap();
    assert_eq!(arm.service_state(h), Err(Error::BadHandle));
}
