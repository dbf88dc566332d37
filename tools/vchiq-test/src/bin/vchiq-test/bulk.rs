//! `-b KiB [N]`: bulk throughput through the echo service: each iteration transmits a
//! block and receives its echo, data checked. The throughput is that of the time spent in the
//! driver (queueing, transmitting, awaiting the echo); the same figure with the data's
//! generation and check included follows it.

use crate::check::describe;
use crate::util::*;
use std::io;
use std::time::{Duration, Instant};
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
    // The time in the driver alone: generating and checking the data is this program's
    // work, byte by byte, and costs more than the transfer under QEMU.
    let mut in_driver = Duration::ZERO;
    for i in 0..iters {
        pattern(&mut tx, i as u32);
        rx.fill(0xEE);
        let t_io = Instant::now();
        // SAFETY: `rx` lives until RxDone(i) arrived, waited for below (or until the
        // service is closed on an error).
        unsafe { s.queue_bulk(BulkDir::Receive, rx.as_mut_ptr(), size, i, mode::CALLBACK)? };
        s.transmit(&tx)?;
        match s.next_real_event(WAIT)? {
            Event::RxDone(u) if u == i => {}
            ev => return Err(io::Error::other(format!("unexpected {ev:?}"))),
        }
        in_driver += t_io.elapsed();
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
    let io = in_driver.as_secs_f64().max(1e-9);
    println!(
        "Throughput: {:.2} MB/s each way ({:.2} MB/s total) in the driver",
        (size * iters) as f64 / io / 1e6,
        (2 * size * iters) as f64 / io / 1e6
    );
    println!(
        "With the data generated and checked: {:.2} MB/s each way",
        (size * iters) as f64 / el / 1e6
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
