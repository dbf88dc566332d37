//! `--rt [N]`: the round trip of a SYNC message through /dev/vchiq with nothing between the
//! program and the driver: QUEUE_MESSAGE, then AWAIT_COMPLETION in the same thread, as the
//! kernel API's caller queues and waits. `-p` measures it through this crate's client, whose
//! completion thread (as libvchiq_arm's) adds a thread wake-up and a channel to every round
//! trip. Also prints the cost of a bare ioctl (a request the driver does not know: the system
//! call and the driver's dispatch alone), so that a figure shows how much of the difference to
//! the kernel API is the two system calls themselves.

use crate::util::*;
use std::ffi::c_void;
use std::io;
use std::time::Instant;
use vchiq_test::abi::{reason, CompletionData, Header, HEADER_SIZE, MAX_MSG_SIZE};
use vchiq_test::device::{errno, ServiceSpec, Vchiq, ENOTTY};
use vchiq_test::ioc;

/// Returned as the service's userdata (any non-zero value).
const USERDATA: usize = 0x1000;

/// Waits for the next message of the service and returns its payload's length (in `buf`
/// after the header); other completions are skipped.
fn next_message(dev: &Vchiq, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut recs = [CompletionData::default(); 1];
        let mut ptrs = [buf.as_mut_ptr().cast::<c_void>()];
        let mut count = 1u32;
        // SAFETY: the one message buffer is `buf`, `buf.len()` writable bytes that nothing
        // else uses during the call.
        let n =
            unsafe { dev.await_completion(&mut recs, buf.len() as u32, &mut ptrs, &mut count)? };
        let rec = &recs[0];
        if n != 1 || rec.reason != reason::MESSAGE_AVAILABLE || rec.header.is_null() {
            continue;
        }
        if rec.header.cast::<u8>() != buf.as_mut_ptr() {
            return Err(io::Error::other("a message in a buffer that was not given"));
        }
        // SAFETY: the header is at the start of `buf` (checked above), filled by the kernel.
        let hdr: Header = unsafe { std::ptr::read_unaligned(rec.header) };
        let size = hdr.size as usize;
        if size > buf.len() - HEADER_SIZE {
            return Err(io::Error::other(format!("message of {size} bytes")));
        }
        return Ok(size);
    }
}

/// Waits for the SYNC reply (one NUL), skipping zero-length ASYNC replies.
fn wait_sync(dev: &Vchiq, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match next_message(dev, buf)? {
            0 => continue,
            1 if buf[HEADER_SIZE] == 0 => return Ok(()),
            n => return Err(io::Error::other(format!("unexpected reply of {n} bytes"))),
        }
    }
}

fn rt(path: &str, iters: usize) -> io::Result<()> {
    let (dev, _) = Vchiq::open_negotiated(path)?;
    dev.connect()?;
    let spec = ServiceSpec {
        userdata: USERDATA,
        ..ServiceSpec::client(ECHO, TEST_VER, false)
    };
    let h = dev.create_service(&spec)?;
    let mut buf = vec![0u8; HEADER_SIZE + MAX_MSG_SIZE];
    // Synchronise the server: it answers the configuration with one NUL.
    dev.queue_message(h, &[&test_params(0, iters as i32, false, false)])?;
    wait_sync(&dev, &mut buf)?;
    let sync = MSG_SYNC.to_le_bytes();
    let t = Instant::now();
    for _ in 0..iters {
        dev.queue_message(h, &[&sync])?;
        wait_sync(&dev, &mut buf)?;
    }
    let rt_us = t.elapsed().as_secs_f64() * 1e6 / iters.max(1) as f64;
    println!("round trip (size 0, queue + await in one thread) -> {rt_us:.2} us");

    // A request of our magic with a number the driver does not define: ENOTTY.
    let unknown = ioc::ioc(ioc::IOC_NONE, ioc::VCHIQ_IOC_MAGIC, 0x3f, 0);
    let t = Instant::now();
    for _ in 0..iters {
        // SAFETY: an argument-less request; the driver touches no memory for it.
        match unsafe { dev.ioctl_raw(unknown, 0) } {
            Err(e) if errno(&e) == ENOTTY => {}
            r => return Err(io::Error::other(format!("unknown ioctl returned {r:?}"))),
        }
    }
    let ioctl_us = t.elapsed().as_secs_f64() * 1e6 / iters.max(1) as f64;
    println!("bare ioctl (unknown request, ENOTTY) -> {ioctl_us:.2} us");
    // No CLOSE_SERVICE: with the close-delivered handshake (LIB_VERSION 8 and later) it waits
    // for a completion thread to receive the close, and this program has none. Releasing the
    // file closes the service.
    drop(dev);
    Ok(())
}

pub fn run(path: &str, iters: usize) -> bool {
    println!("Round trip test - {iters} iterations");
    match rt(path, iters) {
        Ok(()) => true,
        Err(e) => {
            println!("* round trip test failed: {e}");
            false
        }
    }
}
