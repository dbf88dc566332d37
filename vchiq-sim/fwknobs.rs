// SPDX-License-Identifier: GPL-2.0

//! debugfs knobs of the simulated firmware's memory (`fwmem.rs`), in `vchiq-sim/`:
//!
//! | file | effect |
//! |---|---|
//! | `fw_test_var` | reads and writes the image's variable `test_var` (decimal) |
//! | `fw_assert` | write N: the firmware writes an assert record (line N) |
//! | `fw_log_fill` | write N: the firmware logs N filler messages (to wrap the ring) |
//! | `fw_lost` | read: log records lost (no room, or a ring reset because it read back wrong) |
//! | `gcmd_fault` | GCMD's answers (`services/gcmd.rs`): 0 normal, 1 none, 2 a 4083-character text, 3 no NUL, 4 `error=3 ...`, 5 code 5 with the normal text |
//!
//! Each write is logged in the message log too. Without firmware memory (no `vc_mem_size`)
//! the `fw_*` files show `-` and their writes fail with `ENODEV`; `gcmd_fault` always works.

use crate::fwmem;
use crate::services::gcmd;
use crate::sim::Sim;
use kernel::sync::atomic::Relaxed;
use kernel::{debugfs::ScopedDir, fmt, prelude::*, uaccess::UserSliceReader};

/// At most this many filler messages per write.
const FILL_MAX: u32 = 100_000;

/// Creates the files in `dir`.
pub(crate) fn files<'a>(sim: &'a Sim, dir: &ScopedDir<'a, '_>) {
    dir.read_write_callback_file(c"fw_test_var", sim, &show_test_var, &write_test_var);
    dir.write_only_callback_file(c"fw_assert", sim, &write_assert);
    dir.write_only_callback_file(c"fw_log_fill", sim, &write_fill);
    dir.read_callback_file(c"fw_lost", sim, &show_lost);
    dir.read_write_callback_file(c"gcmd_fault", sim, &show_gcmd_fault, &write_gcmd_fault);
}

fn show_gcmd_fault(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", gcmd::FAULT.load(Relaxed))
}

fn write_gcmd_fault(_sim: &Sim, r: &mut UserSliceReader) -> Result {
    let v = read_u32(r)?;
    if v > gcmd::FAULT_MAX {
        return Err(EINVAL);
    }
    gcmd::FAULT.store(v, Relaxed);
    fwmem::msg(format_args!("knob gcmd_fault={v}"));
    Ok(())
}

fn read_u32(r: &mut UserSliceReader) -> Result<u32> {
    let mut buf = [0u8; 16];
    let n = r.len().min(buf.len());
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    s.trim().parse::<u32>().map_err(|_| EINVAL)
}

fn show_test_var(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match fwmem::test_var() {
        Ok(v) => writeln!(f, "{v}"),
        Err(_) => writeln!(f, "-"),
    }
}

fn write_test_var(_sim: &Sim, r: &mut UserSliceReader) -> Result {
    let v = read_u32(r)?;
    fwmem::set_test_var(v)?;
    fwmem::msg(format_args!("knob fw_test_var={v}"));
    Ok(())
}

fn write_assert(_sim: &Sim, r: &mut UserSliceReader) -> Result {
    let line = read_u32(r)?;
    fwmem::test_var()?;
    fwmem::msg(format_args!("knob fw_assert={line}"));
    fwmem::assert("sim/fwknobs.c", line, "fw_assert == 0");
    Ok(())
}

fn write_fill(_sim: &Sim, r: &mut UserSliceReader) -> Result {
    let n = read_u32(r)?;
    if n > FILL_MAX {
        return Err(EINVAL);
    }
    fwmem::test_var()?;
    fwmem::msg(format_args!("knob fw_log_fill={n}"));
    for i in 0..n {
        fwmem::msg(format_args!("filler {} of {}", i + 1, n));
    }
    Ok(())
}

fn show_lost(_sim: &Sim, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fwmem::lost())
}
