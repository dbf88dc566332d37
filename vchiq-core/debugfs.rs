// SPDX-License-Identifier: GPL-2.0

//! debugfs: `/sys/kernel/debug/vchiq-core-<platform>/state`, the state of the connection like
//! mainline's `state` file: both sides' slot ranges and positions, the engine's counters, the
//! interrupt counters, and every service opened through the API with its counters.

use crate::fmt64::U64;
use crate::state::VchiqState;
use core::fmt;
use kernel::debugfs::{Dir, File};
use kernel::device::Device;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;

/// The device's debugfs directory; removed when dropped.
pub(crate) struct DebugDir {
    _state: Pin<KBox<File<Arc<VchiqState>>>>,
    _ping: Pin<KBox<File<Arc<VchiqState>>>>,
    _dir: Dir,
}

impl DebugDir {
    /// Creates the directory and its files.
    pub(crate) fn new(_dev: &Device, core: &Arc<VchiqState>) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("vchiq-core-{}", core.platform.name()))?;
        let dir = Dir::new(&name);
        let state = KBox::pin_init(
            dir.read_callback_file(c"state", core.clone(), &write_state),
            GFP_KERNEL,
        )?;
        let ping = KBox::pin_init(
            dir.write_callback_file(c"ping", core.clone(), &write_ping),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _state: state,
            _ping: ping,
            _dir: dir,
        })
    }
}

/// `ping`: write a count N to measure N bare doorbell round trips (see `VchiqState::ping`).
fn write_ping(core: &Arc<VchiqState>, reader: &mut kernel::uaccess::UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    let rounds: u32 = core::str::from_utf8(&buf[..n])
        .map_err(|_| EINVAL)?
        .trim()
        .parse()
        .map_err(|_| EINVAL)?;
    if rounds == 0 || rounds > 1_000_000 {
        return Err(EINVAL);
    }
    // In 32 bits: one round trip takes far less than 4 s.
    let ns = u32::try_from(core.ping(rounds)?).unwrap_or(u32::MAX);
    dev_info!(
        core.dev,
        "ping: {} doorbell round trips, {} ns each\n",
        rounds,
        ns
    );
    Ok(())
}

fn write_state(core: &Arc<VchiqState>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let inner = core.inner.lock();
    writeln!(f, "platform: {}", core.platform.name())?;
    writeln!(f, "state: {}", if inner.dead { "dead" } else { "bound" })?;
    writeln!(
        f,
        "connect: {:?}, connected: {}",
        inner.connect,
        inner.engine.is_connected()
    )?;
    let e = &inner.engine;
    let own = e.own_slots();
    let peer = e.peer_slots();
    writeln!(
        f,
        "slots: {} bytes; arm data {}..={} sync {}; vc data {}..={} sync {}",
        core.shm_size(),
        own.first,
        own.last,
        own.sync,
        peer.first,
        peer.last,
        peer.sync
    )?;
    writeln!(f, "version: {}", e.version_common())?;
    writeln!(f, "stall: {:?}", e.stall())?;
    let s = e.stats();
    writeln!(
        f,
        "engine: data_tx {} data_rx {} ctrl_tx {} ctrl_rx {} proto_errors {} dropped {}",
        s.data_tx, s.data_rx, s.ctrl_tx, s.ctrl_rx, s.proto_errors, s.dropped
    )?;
    writeln!(
        f,
        "stalls: slots {} data_quota {} service_quota {} bulk {}; slots recycled {} returned {}",
        s.slot_stalls,
        s.data_stalls,
        s.quota_stalls,
        s.bulk_stalls,
        s.slots_recycled,
        s.slots_returned
    )?;
    let c = &core.counters;
    writeln!(
        f,
        "irq: handled {} spurious {}; doorbells rung {}; timeouts {}; poll errors {}",
        c.irqs.load(Relaxed),
        c.spurious_irqs.load(Relaxed),
        c.doorbells.load(Relaxed),
        c.timeouts.load(Relaxed),
        c.poll_errors.load(Relaxed)
    )?;
    writeln!(
        f,
        "ping: {} round trips, {} ns each",
        c.ping_rounds.load(Relaxed),
        c.ping_ns.load(Relaxed)
    )?;
    let k = &core.keepalive;
    writeln!(
        f,
        "keepalive: peer use count {} uses {} releases {} acks {} bad releases {}",
        k.peer_use_count.load(Relaxed),
        k.uses_rx.load(Relaxed),
        k.releases_rx.load(Relaxed),
        k.acks.load(Relaxed),
        k.bad_releases.load(Relaxed)
    )?;
    let b = &inner.bulks;
    writeln!(
        f,
        "bulks: in flight {} done {} aborted {} bytes {}",
        b.len(),
        b.done,
        b.aborted,
        U64(b.bytes)
    )?;
    writeln!(f, "held messages: {}", inner.services.held_count())?;
    writeln!(f, "delivering: {}", inner.delivering)?;
    for s in inner.services.entries() {
        let (port, state) = (s.handle.port(), e.service_state(s.handle));
        writeln!(
            f,
            "service {:#x} port {}: {:?} ({:?}) peer version {} use count {} messages {} queued {}",
            s.handle.0,
            port,
            s.phase,
            state.ok(),
            s.peer_version,
            s.use_count,
            s.messages,
            s.queue.len()
        )?;
    }
    Ok(())
}
