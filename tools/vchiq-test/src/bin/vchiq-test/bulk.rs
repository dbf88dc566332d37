//! `-b KiB [N]`: bulk throughput through the echo service: each iteration transmits a
//! block and receives its echo, data checked.

use crate::check::describe;
use crate::util::*;
use std::io;
use std::time::Instant;
use vchiq_test::abi::mode;
use vchiq_test::{BulkDir, Client, Event};

fn bulk(path: &str, size: usize, iters: usize) -> io::Result<()> {
    let cl = Client::open(path)?;
    let s = cl.open_service(ECHO, TEST_VER, TEST_VER, false)?;
    println!("Bulk test - service:echo, block size:{size}, iters:{iters}");
    configure(&s, size, iters as i32, true)?;
    let mut tx = vec![0u8; size];
    let mut rx = vec![0u8; size];
    let t = Instant::now();
    for i in 0..iters {
        pattern(&mut tx, i as u32);
        rx.fill(0xEE);
        // SAFETY: `rx` lives until RxDone(i) arrived, waited for below (or until the
        // service is closed on an error).
        unsafe { s.queue_bulk(BulkDir::Receive, rx.as_mut_ptr(), size, i, mode::CALLBACK)? };
        s.transmit(&tx)?;
        match s.next_real_event(WAIT)? {
            Event::RxDone(u) if u == i => {}
            ev => return Err(io::Error::other(format!("unexpected {ev:?}"))),
        }
        if let Some(at) = first_diff(&rx, &tx) {
            return Err(io::Error::other(format!(
                "* Data corruption - iteration {i}, offset {at}"
            )));
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "Elapsed time: {:.0} us per iteration",
        el * 1e6 / iters as f64
    );
    println!(
        "Throughput: {:.2} MB/s each way ({:.2} MB/s total)",
        (size * iters) as f64 / el / 1e6,
        (2 * size * iters) as f64 / el / 1e6
    );
    s.close()?;
    drop(rx);
    cl.shutdown()
}

pub fn run(path: &str, kib: usize, iters: usize) -> bool {
    match bulk(path, kib * 1024, iters) {
        Ok(()) => true,
        Err(e) => {
            println!("* bulk test failed: {}", describe(&e));
            false
        }
    }
}
