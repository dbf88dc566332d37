// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/vchiq-sim/`: fault knobs (read-write), counters (read-only) and the
//! `state` file.
//!
//! Knobs (all take a decimal number):
//!
//! | file | effect |
//! |---|---|
//! | `delay_ms` | the VideoCore sleeps this long before each activation (every doorbell) |
//! | `refuse_open` | non-zero: no service listens, every OPEN is rejected with CLOSE |
//! | `drop_doorbell` | the next N doorbells to the ARM are dropped (BELL0 not set, no IRQ) |
//! | `corrupt_header` | 1: the next message the VideoCore sends gets a size that does not fit its slot (the ARM's receive stream is corrupt for good); 2: it gets an unknown type (the ARM skips it). One-shot, reads back 0 once applied |
//! | `stop` | non-zero: the VideoCore does not respond at all (VCHIQ_INIT fails with -ETIMEDOUT, doorbells are ignored); writing 0 resumes |
//! | `refuse_reset` | non-zero: the core's `vc_reset` fails with -EBUSY, as with real firmware (the core keeps the memory; the next VCHIQ_INIT is refused); 2: also not detached when the core's binding ends: the VideoCore goes on with what it was asked, on the kept memory, until `reset` |
//! | `pingpong` | non-zero: every doorbell from the ARM is answered with a doorbell, even with nothing to say (the yardstick for the core's `ping` benchmark: a bare round trip through the same interrupt path) |
//! | `close_open` | write 1: the VideoCore closes every open service from its side at its next activation (the ARM's clients get SERVICE_CLOSED); one-shot |
//! | `remote_use` | write N: the VideoCore sends N REMOTE_USE (the ARM acks each with REMOTE_USE_ACTIVE, counted in `use_acks`); reads back how many are still to send |
//! | `remote_release` | write N: the VideoCore sends N REMOTE_RELEASE (after any pending REMOTE_USE); reads back how many are still to send |
//! | `hold` | write N: the VideoCore rings no doorbell until it has written N more messages to the ARM, then one: they reach the ARM's slot handler as one batch; write 0: ring now. Reads back how many are still to write |
//! | `greet` | write 1: the next connection a service accepts gets the DATA message `greetings` right after its OPENACK (one-shot) |
//! | `open_arm` | write a fourcc (as a number): the VideoCore opens the ARM's server service of that name, version 3 (one connection at a time); one-shot, reads back 0 once taken |
//! | `reopen` | write 1: the VideoCore closes its connection to the ARM's server and opens it again in the same round: the ARM sees CLOSE and OPEN in one batch; write 2: it only closes that connection (one-shot) |
//! | `sync_send` | write N: the VideoCore sends N DATA messages through its sync slot, to a port of the ARM's that has no synchronous service (the ARM drops them; its sync receive path runs); reads back how many are still to send |
//! | `reset` | write 1: forget the ARM's memory and allow a new VCHIQ_INIT |
//! | `smem` | write a command of the SMEM service (`services/smem.rs`: faults, protocol version, references, camera frames, checksums, memory requests, hostile messages), run at once in the VideoCore's context; read: the service's state and handles |
//!
//! Counters: see [`crate::knobs::Counters`]; `state` shows the life cycle and engine;
//! `device_refs` the platform device's reference count (a leak test reads it before the
//! core binds and after everything unbound: a reference the core or a client kept shows). The
//! firmware memory's files are in `fwknobs.rs`, the audio service's in `audsfs.rs`.

use crate::sim::Sim;
use kernel::{
    debugfs::{Scope, ScopedDir},
    fmt,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    uaccess::UserSliceReader,
};

/// Creates the directory; it and its files go away when the returned scope is dropped.
pub(crate) fn create(sim: Arc<Sim>) -> impl PinInit<Scope<Arc<Sim>>> {
    Scope::dir(sim, c"vchiq-sim", |sim, dir| {
        knobs(sim, dir);
        counters(sim, dir);
        dir.read_callback_file(c"state", &**sim, &show_state);
        crate::fwknobs::files(sim, dir);
        crate::audsfs::files(sim, dir);
    })
}

fn knobs<'a>(sim: &'a Arc<Sim>, dir: &ScopedDir<'a, '_>) {
    let k = &sim.knobs;
    dir.read_write_file(c"delay_ms", &k.delay_ms);
    dir.read_write_file(c"drop_doorbell", &k.drop_doorbell);
    dir.read_write_file(c"refuse_reset", &k.refuse_reset);
    dir.read_write_file(c"pingpong", &k.pingpong);
    dir.read_write_file(c"greet", &k.greet);
    dir.read_write_callback_file(c"open_arm", &**sim, &show_open_arm, &write_open_arm);
    dir.read_write_callback_file(c"reopen", &**sim, &show_reopen, &write_reopen);
    dir.read_write_callback_file(c"sync_send", &**sim, &show_sync, &write_sync);
    dir.read_write_callback_file(c"close_open", &**sim, &show_close_open, &write_close_open);
    dir.read_write_callback_file(c"remote_use", &**sim, &show_use, &write_use);
    dir.read_write_callback_file(c"remote_release", &**sim, &show_release, &write_release);
    dir.read_write_callback_file(c"refuse_open", &**sim, &show_refuse, &write_refuse);
    dir.read_write_callback_file(c"corrupt_header", &**sim, &show_corrupt, &write_corrupt);
    dir.read_write_callback_file(c"stop", &**sim, &show_stop, &write_stop);
    dir.write_only_callback_file(c"reset", &**sim, &write_reset);
    dir.read_write_callback_file(c"hold", &**sim, &show_hold, &write_hold);
    dir.read_write_callback_file(c"smem", &**sim, &show_services, &write_command);
    dir.read_callback_file(c"device_refs", &**sim, &show_device_refs);
}

fn show_device_refs(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.device_refs())
}

fn show_services(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    sim.describe_services(f)
}

fn write_command(sim: &Sim, r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let n = r.len().min(buf.len());
    r.read_slice(&mut buf[..n])?;
    let line = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    sim.command(line)
}

fn counters<'a>(sim: &'a Arc<Sim>, dir: &ScopedDir<'a, '_>) {
    let c = &sim.counters;
    let files: [(&CStr, &'a Atomic<u32>); 21] = [
        (c"inits", &c.inits),
        (c"refused_inits", &c.refused_inits),
        (c"resets", &c.resets),
        (c"refused_resets", &c.refused_resets),
        (c"bell2", &c.bell2),
        (c"doorbells", &c.doorbells),
        (c"doorbells_dropped", &c.doorbells_dropped),
        (c"messages", &c.messages),
        (c"messages_tx", &c.messages_tx),
        (c"opens", &c.opens),
        (c"bulks", &c.bulks),
        (c"bulk_mismatches", &c.bulk_mismatches),
        (c"bulk_errors", &c.bulk_errors),
        (c"fun2_mismatches", &c.fun2_mismatches),
        (c"corrupted", &c.corrupted),
        (c"errors", &c.errors),
        (c"rounds", &c.rounds),
        (c"remote_uses", &c.remote_uses),
        (c"remote_releases", &c.remote_releases),
        (c"use_acks", &c.use_acks),
        (c"sync_sent", &c.sync_sent),
    ];
    for (name, counter) in files {
        dir.read_only_file(name, counter);
    }
}

/// Reads a decimal `u32` written to a knob.
fn read_u32(r: &mut UserSliceReader) -> Result<u32> {
    let mut buf = [0u8; 16];
    let n = r.len();
    let b = buf.get_mut(..n).ok_or(EINVAL)?;
    r.read_slice(b)?;
    let s = core::str::from_utf8(b).map_err(|_| EINVAL)?;
    s.trim().parse::<u32>().map_err(|_| EINVAL)
}

fn show_state(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    sim.describe(f)
}

fn show_refuse(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.refuse_open.load(Relaxed))
}

fn write_refuse(sim: &Sim, r: &mut UserSliceReader) -> Result {
    sim.knobs.refuse_open.store(read_u32(r)?, Relaxed);
    // Apply it now rather than at the next doorbell.
    sim.kick();
    Ok(())
}

fn show_corrupt(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.corrupt_header.load(Relaxed))
}

fn write_corrupt(sim: &Sim, r: &mut UserSliceReader) -> Result {
    let v = read_u32(r)?;
    if v > 2 {
        return Err(EINVAL);
    }
    sim.knobs.corrupt_header.store(v, Relaxed);
    Ok(())
}

fn show_stop(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.stop.load(Relaxed))
}

fn write_stop(sim: &Sim, r: &mut UserSliceReader) -> Result {
    let v = read_u32(r)?;
    sim.knobs.stop.store(v, Relaxed);
    if v == 0 {
        // Catch up with whatever the ARM asked for meanwhile.
        sim.kick();
    }
    Ok(())
}

fn write_reset(sim: &Sim, r: &mut UserSliceReader) -> Result {
    if read_u32(r)? != 1 {
        return Err(EINVAL);
    }
    sim.reset();
    Ok(())
}

fn show_open_arm(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.open_arm.load(Relaxed))
}

fn write_open_arm(sim: &Sim, r: &mut UserSliceReader) -> Result {
    sim.knobs.open_arm.store(read_u32(r)?, Relaxed);
    sim.kick();
    Ok(())
}

fn show_reopen(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.reopen.load(Relaxed))
}

fn write_reopen(sim: &Sim, r: &mut UserSliceReader) -> Result {
    sim.knobs.reopen.store(read_u32(r)?, Relaxed);
    sim.kick();
    Ok(())
}

fn show_sync(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.sync_send.load(Relaxed))
}

fn write_sync(sim: &Sim, r: &mut UserSliceReader) -> Result {
    add_remote(sim, &sim.knobs.sync_send, r)
}

fn show_hold(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.hold_left.load(Relaxed))
}

fn write_hold(sim: &Sim, r: &mut UserSliceReader) -> Result {
    let n = read_u32(r)?;
    if n == crate::knobs::NO_HOLD_CMD {
        return Err(EINVAL);
    }
    // Shown at once; the VideoCore counts from its next round.
    sim.knobs.hold_left.store(n, Relaxed);
    sim.knobs.hold_cmd.store(n, Relaxed);
    sim.kick();
    Ok(())
}

fn show_close_open(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.close_open.load(Relaxed))
}

fn write_close_open(sim: &Sim, r: &mut UserSliceReader) -> Result {
    sim.knobs.close_open.store(read_u32(r)?, Relaxed);
    // Act now, not at the next doorbell.
    sim.kick();
    Ok(())
}

/// Most REMOTE_USE or REMOTE_RELEASE messages one write may ask for.
const MAX_REMOTE: u32 = 1_000_000;

fn show_use(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.remote_use.load(Relaxed))
}

fn write_use(sim: &Sim, r: &mut UserSliceReader) -> Result {
    add_remote(sim, &sim.knobs.remote_use, r)
}

fn show_release(sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.knobs.remote_release.load(Relaxed))
}

fn write_release(sim: &Sim, r: &mut UserSliceReader) -> Result {
    add_remote(sim, &sim.knobs.remote_release, r)
}

/// Adds N messages to send to `knob` and acts on them now.
fn add_remote(sim: &Sim, knob: &Atomic<u32>, r: &mut UserSliceReader) -> Result {
    let n = read_u32(r)?;
    if n > MAX_REMOTE {
        return Err(EINVAL);
    }
    knob.fetch_add(n, Relaxed);
    sim.kick();
    Ok(())
}
