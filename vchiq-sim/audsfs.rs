// SPDX-License-Identifier: GPL-2.0

//! debugfs files of the AUDS service (`services/auds.rs`), in `vchiq-sim/`:
//!
//! | file | what |
//! |---|---|
//! | `auds` | one line per connection: open number, state, format, volume, route, byte counts |
//! | `auds_capture0` … `auds_capture7` | the bytes connection N played since its last open |
//! | `auds_fault` | 0 none, 1 RESULT 1 for CONFIG, 2 for CONTROL, 3 for CLOSE, 4 no COMPLETE, 5 COMPLETE with bad cookies, 6 every RESULT `auds_delay_ms` late, 7 a stray RESULT after every OPEN message |
//! | `auds_version` | the listeners' version: 2 (DATA messages) or 1 (bulk); applied to idle listeners |
//! | `auds_speed` | playing speed as a multiple of real time (1 real time; 0 at once) |
//! | `auds_max_lag_ms` | how far a playing connection may fall behind its clock before it plays on from there instead of catching up (0: no limit, as hardware) |
//! | `auds_stalls` | how often that limit cut a lag (read-only) |
//! | `auds_underrun` | write N: the next N chunks are reported as the underrun signal (count 0xffffffff) |
//! | `auds_overcount` | write N: the next N COMPLETEs report 16 bytes more than all the data received and not yet reported |
//! | `auds_delay_ms` | the delay of fault 6 (default 11000: past the driver's 10 s timeout) |
//! | `auds_errors` | the ARM's protocol errors seen by AUDS (read-only) |

use crate::services::auds::{self, Fault, CAPTURES, LISTENERS};
use crate::sim::Sim;
use kernel::debugfs::{BinaryWriter, ScopedDir};
use kernel::fs::file::Offset;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::uaccess::{UserSliceReader, UserSliceWriter};
use kernel::{fmt, prelude::*};

/// The binary file of one connection's capture.
struct CaptureFile(usize);

impl BinaryWriter for CaptureFile {
    fn write_to_slice(&self, writer: &mut UserSliceWriter, offset: &mut Offset) -> Result<usize> {
        let caps = CAPTURES.lock();
        let cap = caps.conns.get(self.0).ok_or(EINVAL)?;
        writer.write_slice_file(&cap.data, offset)
    }
}

static FILES: [CaptureFile; LISTENERS] = [
    CaptureFile(0),
    CaptureFile(1),
    CaptureFile(2),
    CaptureFile(3),
    CaptureFile(4),
    CaptureFile(5),
    CaptureFile(6),
    CaptureFile(7),
];

const NAMES: [&CStr; LISTENERS] = [
    c"auds_capture0",
    c"auds_capture1",
    c"auds_capture2",
    c"auds_capture3",
    c"auds_capture4",
    c"auds_capture5",
    c"auds_capture6",
    c"auds_capture7",
];

/// Creates the files in `dir`.
pub(crate) fn files<'a>(sim: &'a Sim, dir: &ScopedDir<'a, '_>) {
    dir.read_callback_file(c"auds", sim, &show);
    for (name, file) in NAMES.iter().zip(FILES.iter()) {
        dir.read_binary_file(name, file);
    }
    dir.read_write_callback_file(c"auds_fault", sim, &show_fault, &write_fault);
    dir.read_write_callback_file(c"auds_version", sim, &show_version, &write_version);
    dir.read_write_file(c"auds_speed", &auds::SPEED);
    dir.read_write_file(c"auds_max_lag_ms", &auds::MAX_LAG_MS);
    dir.read_only_file(c"auds_stalls", &auds::STALLS);
    dir.read_write_file(c"auds_underrun", &auds::UNDERRUNS);
    dir.read_write_file(c"auds_overcount", &auds::OVERCOUNTS);
    dir.read_write_file(c"auds_delay_ms", &auds::DELAY_MS);
    dir.read_only_file(c"auds_errors", &auds::ERRORS);
}

fn show(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let caps = CAPTURES.lock();
    for (i, c) in caps.conns.iter().enumerate() {
        writeln!(
            f,
            "{i} seq={} open={} playing={} channels={} rate={} bps={} volume={} dest={} configs={} controls={} bytes={} bulk_bytes={} completed={} discarded={} dropped={}",
            c.seq,
            u32::from(c.open),
            u32::from(c.playing),
            c.channels,
            c.rate,
            c.bps,
            c.volume,
            c.dest,
            c.configs,
            c.controls,
            c.data.len(),
            c.bulk_bytes,
            c.completed,
            c.discarded,
            c.dropped
        )?;
    }
    Ok(())
}

fn read_u32(r: &mut UserSliceReader) -> Result<u32> {
    let mut buf = [0u8; 16];
    let n = r.len().min(buf.len());
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    s.trim().parse::<u32>().map_err(|_| EINVAL)
}

fn show_fault(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", auds::FAULT.load(Relaxed))
}

fn write_fault(_sim: &Sim, r: &mut UserSliceReader) -> Result {
    store_max(&auds::FAULT, read_u32(r)?, Fault::MAX)
}

fn show_version(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", auds::VERSION.load(Relaxed))
}

fn write_version(sim: &Sim, r: &mut UserSliceReader) -> Result {
    let v = read_u32(r)?;
    if v == 0 {
        return Err(EINVAL);
    }
    store_max(&auds::VERSION, v, 2)?;
    // Re-register the idle listeners now rather than at the next doorbell.
    sim.kick();
    Ok(())
}

fn store_max(knob: &Atomic<u32>, v: u32, max: u32) -> Result {
    if v > max {
        return Err(EINVAL);
    }
    knob.store(v, Relaxed);
    Ok(())
}
