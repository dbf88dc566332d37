//! Helpers of the races section of plan `dev` (ci/plans/dev.sh): each mode sets up one side
//! of an interleaving that the plan completes from the shell (unloading the simulator, killing
//! the process, stopping the VideoCore), so that the kernel's ordering is forced.
//!
//! * `--unbind-held`: a message the process never reads is held in slot memory when the
//!   VideoCore goes away, and a server of the process is open from the VideoCore's side; the
//!   server is removed (ESHUTDOWN, no CLOSE into the freed slots) and the file is closed
//!   (issue 11, finding 2).
//! * `--kept-bulk`: an echoed bulk (transmit and receive of user memory) is queued while the
//!   VideoCore is stopped; the plan unbinds the core with a VideoCore that keeps the memory
//!   and goes on (the simulator's `refuse_reset` 2, as real firmware) and resumes it: the
//!   VideoCore then reads both pagelists and writes the receive's pages, which the core must
//!   have kept (finding 6).
//! * `--hold N`: N open echo services, then waits to be killed (finding 9).
//! * `--open-all N`: N echo services open at once on one instance: all the VideoCore's
//!   listeners are free again (finding 9).
//! * `--client-id`: GET_CLIENT_ID of a service a second thread opened is the process id
//!   (finding 10).

use crate::util::*;
use std::io::{self, BufRead};
use std::path::Path;
use std::time::{Duration, Instant};
use vchiq_test::abi::mode;
use vchiq_test::device::{ServiceSpec, Vchiq};
use vchiq_test::{fourcc, sys, BulkDir, Client};

/// Prints `ready` and waits for a line on stdin (the plan's go-ahead).
fn ready_then_wait() {
    println!("ready");
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
}

/// Waits until `path` no longer exists (the simulator's debugfs after its unload).
fn wait_gone(path: &str) -> bool {
    let t = Instant::now();
    while Path::new(path).exists() {
        if t.elapsed() > Duration::from_secs(20) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Holds an echo reply unread (no completion thread), says `ready`, waits for the go-ahead
/// (the plan unloads the simulator meanwhile), checks that the device refuses everything
/// with ESHUTDOWN, and closes the file (which must not touch the freed slot memory).
pub fn unbind_held(path: &str) -> bool {
    let r = (|| -> io::Result<()> {
        let (dev, _) = Vchiq::open_negotiated(path)?;
        dev.connect()?;
        let h = dev.create_service(&ServiceSpec::client(ECHO, TEST_VER, false))?;
        let v = dev.create_service(&ServiceSpec::client(ECHO, TEST_VER, true))?;
        // A server the plan has the VideoCore open (`open_arm`): removing it after the unbind
        // must not send its CLOSE into the freed slots.
        let server = dev.create_service(&ServiceSpec {
            open: false,
            ..ServiceSpec::client(fourcc(b"RACE"), TEST_VER, false)
        })?;
        let mut msg = MSG_ECHO.to_le_bytes().to_vec();
        msg.extend_from_slice(b"held across the unbind");
        dev.queue_message(h, &[&msg])?;
        dev.queue_message(v, &[&msg])?;
        // The replies arrive and stay held: nobody reads completions or dequeues.
        std::thread::sleep(Duration::from_millis(300));
        ready_then_wait();
        if !wait_gone("/sys/kernel/debug/vchiq-sim") {
            return Err(io::Error::other("the simulator did not go away"));
        }
        match dev.queue_message(h, &[&msg]) {
            Err(e) if vchiq_test::device::errno(&e) == 108 => {}
            r => return Err(io::Error::other(format!("queue after unbind: {r:?}"))),
        }
        let mut buf = [0u8; 64];
        // vchiq-dev reports a held message it cannot take any more as ENOTCONN.
        match dev.dequeue_message(v, Some(&mut buf), false) {
            Err(e) if [107, 108].contains(&vchiq_test::device::errno(&e)) => {}
            r => return Err(io::Error::other(format!("dequeue after unbind: {r:?}"))),
        }
        match dev.remove_service(server) {
            Err(e) if vchiq_test::device::errno(&e) == 108 => {}
            r => {
                return Err(io::Error::other(format!(
                    "remove server after unbind: {r:?}"
                )))
            }
        }
        // Closing the file closes both services and releases their held messages.
        drop(dev);
        Ok(())
    })();
    report("unbind-held", r)
}

/// See the module comment (`--kept-bulk`).
pub fn kept_bulk(path: &str) -> bool {
    const LEN: usize = 16 * 1024;
    let r = (|| -> io::Result<()> {
        let (dev, _) = Vchiq::open_negotiated(path)?;
        dev.connect()?;
        let h = dev.create_service(&ServiceSpec::client(ECHO, TEST_VER, false))?;
        // The plan stops the VideoCore.
        ready_then_wait();
        dev.queue_message(h, &[&test_params(LEN as i32, 1, false, true)])?;
        // Leaked: after the unbind only the process exit may let go of them. The receive
        // buffer is only a pointer: the VideoCore writes it behind the process's back.
        let tx: &'static mut [u8] = Vec::leak((0..LEN).map(|i| (i * 7 + 3) as u8).collect());
        // Page-aligned, so that no cache line of it goes through a fragment: a fragment is
        // copied into place by the core on completion, which after the unbind never comes.
        let rx_mem = Vec::leak(vec![0u8; LEN + 4096]).as_mut_ptr();
        let rx: *mut u8 = rx_mem.wrapping_add(rx_mem.align_offset(4096));
        for (dir, buf) in [(BulkDir::Transmit, tx.as_mut_ptr()), (BulkDir::Receive, rx)] {
            // SAFETY: both buffers are leaked, so they outlive any transfer.
            unsafe { dev.queue_bulk(dir, h, buf, LEN as u32, 0, mode::NOCALLBACK)? };
        }
        // The plan unbinds the core and resumes the VideoCore.
        println!("queued");
        ready_then_wait();
        // SAFETY: `rx` points to LEN leaked bytes; read volatile, as the VideoCore writes them.
        let byte = |i: usize| unsafe { core::ptr::read_volatile(rx.add(i)) };
        let t = Instant::now();
        while byte(LEN - 1) == 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let got: Vec<u8> = (0..LEN).map(byte).collect();
        if got != *tx {
            let n = got.iter().zip(tx.iter()).filter(|(a, b)| a != b).count();
            return Err(io::Error::other(format!(
                "the echo did not reach the kept receive buffer ({n} of {LEN} bytes differ)"
            )));
        }
        println!("  the VideoCore's echo after the unbind landed in the kept receive buffer");
        drop(dev);
        Ok(())
    })();
    report("kept-bulk", r)
}

/// Opens `n` echo services and waits (the plan kills the process).
pub fn hold(path: &str, n: usize) -> bool {
    let r = (|| -> io::Result<()> {
        let c = Client::open(path)?;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(c.open_service(ECHO, TEST_VER, TEST_VER, false)?);
        }
        ready_then_wait();
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    })();
    report("hold", r)
}

/// Opens `n` echo services at once.
pub fn open_all(path: &str, n: usize) -> bool {
    let r = (|| -> io::Result<()> {
        let c = Client::open(path)?;
        let mut v = Vec::new();
        for i in 0..n {
            let s = c
                .open_service(ECHO, TEST_VER, TEST_VER, false)
                .map_err(|e| io::Error::other(format!("open {i} of {n}: {e}")))?;
            v.push(s);
        }
        for s in &v {
            s.close()?;
        }
        Ok(())
    })();
    report("open-all", r)
}

/// GET_CLIENT_ID of services opened by the main thread and by a second one.
pub fn client_id(path: &str) -> bool {
    let r = (|| -> io::Result<()> {
        let c = std::sync::Arc::new(Client::open(path)?);
        let pid = sys::pid();
        let main = c.open_service(ECHO, TEST_VER, TEST_VER, false)?;
        let id = main.client_id()?;
        if id != pid {
            return Err(io::Error::other(format!("main thread: id {id}, pid {pid}")));
        }
        let c2 = c.clone();
        let id = std::thread::spawn(move || -> io::Result<i32> {
            let s = c2.open_service(ECHO, TEST_VER, TEST_VER, false)?;
            let id = s.client_id();
            s.close()?;
            id
        })
        .join()
        .map_err(|_| io::Error::other("thread panicked"))??;
        if id != pid {
            return Err(io::Error::other(format!(
                "opened by a second thread: id {id}, pid {pid} (the thread's id?)"
            )));
        }
        main.close()?;
        Ok(())
    })();
    report("client-id", r)
}

fn report(name: &str, r: io::Result<()>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            println!("* FAIL: {name}: {e}");
            false
        }
    }
}
