// SPDX-License-Identifier: GPL-2.0

//! `bench`: figures for the closing note, not a pass/fail test. Round-trip latency of a
//! synchronous echo, throughput of 1 MiB bulk transmits (one at a time, and four in flight),
//! and memcpy of 1 MiB in the same VM as the yardstick.

use crate::fmt64::I64;
use crate::tests::{config, ECHO, MSG_SYNC, WAIT_MS};
use crate::util::{div, Collector, Ev, Report};
use crate::vchiq::{BulkMode, Instance, ServiceRef};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

const ROUND_TRIPS: u32 = 5000;
const BULKS: u32 = 64;
/// Transfers queued at a time in the pipelined figure.
const IN_FLIGHT: u32 = 4;
const MIB: usize = 1 << 20;

pub(crate) fn run(inst: &Instance, out: &mut Report) -> Result {
    let c = Collector::new()?;
    let svc = inst.open(ECHO, 3, 3, c.clone())?;
    let sync = MSG_SYNC.to_le_bytes();
    let t0 = Instant::<Monotonic>::now();
    for _ in 0..ROUND_TRIPS {
        svc.get().queue(&[&sync])?;
        c.wait_msg(WAIT_MS)?;
    }
    let rt_ns = div(t0.elapsed().as_nanos(), i64::from(ROUND_TRIPS));
    out.line(format_args!(
        "bench: sync round trip {} ns ({} iterations)",
        I64(rt_ns),
        ROUND_TRIPS
    ));

    let buf = KVVec::from_elem(0x5au8, MIB, GFP_KERNEL)?;
    svc.get()
        .queue(&[&config(MIB as u32, BULKS, false, false)])?;
    c.wait_msg(WAIT_MS)?;
    let t0 = Instant::<Monotonic>::now();
    for _ in 0..BULKS {
        svc.get().bulk_transmit_blocking(&buf)?;
    }
    let bulk_ns = t0.elapsed().as_nanos().max(1);
    let bulk_mbs = div(i64::from(BULKS) * MIB as i64 * 1000, bulk_ns);
    out.line(format_args!(
        "bench: 1 MiB bulk transmit {} MB/s ({} transfers)",
        I64(bulk_mbs),
        BULKS
    ));

    // The same transfers with IN_FLIGHT queued at a time, as a streaming client queues them:
    // the ARM side maps the next pagelist while the VideoCore copies the current one.
    svc.get()
        .queue(&[&config(MIB as u32, BULKS, false, false)])?;
    c.wait_msg(WAIT_MS)?;
    let t0 = Instant::<Monotonic>::now();
    let r = pipelined(svc.get(), &c, &buf);
    let piped_ns = t0.elapsed().as_nanos().max(1);
    if let Err(e) = r {
        // Closing the service aborts what is still queued before `buf` is freed.
        let _ = svc.close();
        return Err(e);
    }
    out.line(format_args!(
        "bench: 1 MiB bulk transmit, {} in flight, {} MB/s ({} transfers)",
        IN_FLIGHT,
        I64(div(i64::from(BULKS) * MIB as i64 * 1000, piped_ns)),
        BULKS
    ));

    let mut dst = KVVec::from_elem(0u8, MIB, GFP_KERNEL)?;
    let t0 = Instant::<Monotonic>::now();
    for _ in 0..BULKS {
        dst.copy_from_slice(&buf);
        core::hint::black_box(&mut dst);
    }
    let copy_ns = t0.elapsed().as_nanos().max(1);
    let copy_mbs = div(i64::from(BULKS) * MIB as i64 * 1000, copy_ns);
    // Per mille, in 32 bits (MB/s figures are small).
    let ratio = (bulk_mbs as u32).saturating_mul(1000) / (copy_mbs as u32).max(1);
    out.line(format_args!(
        "bench: memcpy 1 MiB {} MB/s; bulk/memcpy = {}.{:03}",
        I64(copy_mbs),
        ratio / 1000,
        ratio % 1000
    ));
    // Drain anything left (no events are expected in this mode).
    while let Ok(Ev::Msg(_)) = c.wait(10) {}
    svc.close()
}

/// [`BULKS`] callback-mode transmits of `buf`, [`IN_FLIGHT`] queued at a time; returns once
/// the last has completed. On an error some may still be queued: the caller closes `svc`.
fn pipelined(svc: ServiceRef<'_>, c: &Collector, buf: &KVVec<u8>) -> Result {
    let (mut queued, mut done) = (0u32, 0u32);
    while done < BULKS {
        while queued < BULKS && queued - done < IN_FLIGHT {
            // SAFETY: `buf` outlives every transfer: the caller keeps it until this returns
            // (all completed) or, on an error, until it has closed the service, which aborts
            // those still queued. A transmit only reads it, so transfers may share it.
            unsafe {
                svc.bulk_async(
                    buf.as_ptr().cast_mut(),
                    buf.len(),
                    false,
                    queued as usize,
                    BulkMode::Callback,
                )?
            };
            queued += 1;
        }
        match c.wait(WAIT_MS)? {
            Ev::Bulk {
                receive: false,
                aborted: false,
                ..
            } => done += 1,
            Ev::Bulk { aborted: true, .. } => return Err(EIO),
            _ => {}
        }
    }
    Ok(())
}
