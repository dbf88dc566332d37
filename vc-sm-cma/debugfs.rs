// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/vcsm-cma/state`: every buffer, as downstream lists them (name, size,
//! type, bus address, VideoCore handle and mapping state, and for own memory its physical
//! address and, indented below it, every importer attached), then the protocol state and the
//! counters, including the buffers kept at a disconnect ([`crate::smem::LEAKED`]).

use crate::buffer::Vc;
use crate::smem::{Smem, LEAKED, LEAKED_BYTES};
use kernel::debugfs::Scope;
use kernel::fmt;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;

/// Creates the directory; it goes when the returned scope is dropped.
pub(crate) fn create(smem: Arc<Smem>) -> impl PinInit<Scope<Arc<Smem>>> {
    Scope::dir(smem, c"vcsm-cma", |s, dir| {
        dir.read_callback_file(c"state", &**s, &show);
    })
}

fn name(n: &[u8]) -> &str {
    let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
    core::str::from_utf8(n.get(..end).unwrap_or(&[])).unwrap_or("?")
}

/// One line per importer attached to own memory: its device, whether it mapped the memory,
/// the physical address of the page its table points at (the buffer's own `PHYS` when the
/// importer was given the very memory the VideoCore writes) and its DMA address for that
/// device.
fn attachments(m: &crate::sys::Memory, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut i = 0;
    while let Some(a) = m.attachment(i) {
        writeln!(
            f,
            "  ATTACHED {} MAPPED {} PAGE {:#x} DMA {:#x}",
            name(&a.dev),
            u32::from(a.mapped),
            a.phys,
            a.dma
        )?;
        i += 1;
    }
    Ok(())
}

fn show(s: &Smem, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "protocol: {}",
        if s.v2.load(Relaxed) != 0 { 2 } else { 1 }
    )?;
    writeln!(f, "Resources")?;
    let reg = s.buffers.lock();
    for e in reg.entries.iter() {
        let b = &e.buf;
        let kind = match (b.imported, b.cached) {
            (true, _) => "import",
            (false, true) => "alloc-cached",
            (false, false) => "alloc",
        };
        let handle = e.handle;
        let state = match e.vc {
            Vc::Importing(_) => "importing",
            Vc::Held(_) => "held",
            Vc::Freeing(_) => "freeing",
            Vc::Gone => "released",
            Vc::Failed => "failed",
        };
        let dma = b.mem().dma();
        writeln!(
            f,
            "ID {} NAME {} SIZE {} TYPE {} DMA_ADDR {:#010x} PHYS {:#x} VC_HANDLE {:#010x} VC_MAPPING {} VC {} LINUX {}",
            b.kernel_id,
            name(&b.name),
            b.mem().size(),
            kind,
            dma as u32,
            b.mem().phys(),
            handle,
            e.vc.mapping(),
            state,
            u32::from(e.linux)
        )?;
        attachments(b.mem(), f)?;
    }
    writeln!(f, "Total resource count: {}", reg.entries.len())?;
    drop(reg);
    let c = &s.counters;
    let all = [
        ("imports", &c.imports),
        ("frees", &c.frees),
        ("released", &c.released),
        ("released_early", &c.released_early),
        ("bad_released", &c.bad_released),
        ("unmatched", &c.unmatched),
        ("late", &c.late),
        ("interrupted", &c.interrupted),
        ("timeouts", &c.timeouts),
        ("refused", &c.refused),
        ("mem_requests", &c.mem_requests),
        ("mem_requests_refused", &c.mem_requests_refused),
        ("unknown", &c.unknown),
        ("malformed", &c.malformed),
        ("leaked", &LEAKED),
    ];
    for (n, v) in all {
        writeln!(f, "{n}: {}", v.load(Relaxed))?;
    }
    writeln!(f, "leaked_bytes: {}", LEAKED_BYTES.load(Relaxed))
}
