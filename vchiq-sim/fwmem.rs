// SPDX-License-Identifier: GPL-2.0

//! The simulated firmware's memory: the top of guest RAM, which the VM's boot keeps from
//! Linux as a Pi's memory split does, with a firmware image and a log area in it.
//!
//! The module parameters `vc_phys_addr`, `vc_mem_base`, `vc_mem_size`, `vc_log_base` and
//! `vc_log_size` say where (the same values the boot gives vc-mem and `/chosen/log`; VideoCore
//! address `a` is ARM physical address `vc_phys_addr + a`). Without them there is no firmware
//! memory and the rest of the simulator works as before. The region is mapped write-combined
//! (never through Linux's allocator; a region that overlaps Linux's RAM is refused) and only
//! written through [`Mapping`], by copies: no Rust reference points into it.
//!
//! The image, at the load address `vc_mem_base` (firmware-services.md §5.5):
//!
//! | offset | what |
//! |---|---|
//! | `0x2800` | debug header `{symbol table address, 'VCDH', 16}`, then `{vcMemBase, vcMemSize, entry point, symbol table length in bytes}` |
//! | `0x3000` | symbol table: `{label address, address, size}` (three `u32`), ended by a zero entry |
//! | `0x3800` | the labels (C strings) |
//! | `0x4000` | the variables ([`SYMBOLS`]) |
//!
//! The simulator logs what it does into the message log (`fwlog.rs`) with a millisecond clock
//! since load and a sequence number.

use crate::fwlog::{Logs, Record};
use core::fmt::Write;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::time::{Instant, Monotonic};

extern "C" {
    fn vchiq_sim_fw_map(phys: u64, len: u32) -> *mut c_void;
    fn vchiq_sim_fw_unmap(va: *mut c_void);
}

/// Offset of the debug header from the load address.
pub(crate) const HEADER_OFF: u32 = 0x2800;
/// The debug header's magic, "VCDH" in memory order.
pub(crate) const VCDH: u32 = u32::from_le_bytes(*b"VCDH");
const SYMTAB_OFF: u32 = 0x3000;
const LABELS_OFF: u32 = 0x3800;
const DATA_OFF: u32 = 0x4000;
/// The image's span from the load address; the log area must start past it.
const IMAGE_SIZE: u32 = 0x1_0000;
/// Size of a symbol table entry (the VideoCore's 32-bit `{const char *, u32, size_t}`).
const SYM_SIZE: u32 = 12;

/// `test_var`'s value at load; the debugfs knob `fw_test_var` changes it.
pub(crate) const TEST_VAR_INIT: u32 = 0x1234_5678;
/// The version string of the image.
const VERSION: &str = "vchiq-rs simulated VideoCore firmware, version 1 (sim)";
/// The services the simulator hosts, as the image's `service_table` lists them.
const SERVICES: [&[u8; 4]; 4] = [b"echo", b"func", b"fun2", b"GCMD"];

/// A variable of the image: name, offset from `DATA_OFF`, size.
struct Sym {
    name: &'static str,
    off: u32,
    size: u32,
}

/// The variables; `log_area` (the log area's address and size) follows them in the table.
const SYMBOLS: [Sym; 4] = [
    Sym {
        name: "test_var",
        off: 0,
        size: 4,
    },
    Sym {
        name: "test_array",
        off: 0x10,
        size: 0x30,
    },
    Sym {
        name: "version_string",
        off: 0x40,
        size: 0x80,
    },
    Sym {
        name: "service_table",
        off: 0x100,
        size: 8 * SERVICES.len() as u32,
    },
];

/// The module parameters.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    pub(crate) phys_addr: u64,
    pub(crate) base: u32,
    pub(crate) size: u32,
    pub(crate) log_base: u32,
    pub(crate) log_size: u32,
}

/// A mapping of `[base, base + len)` (VideoCore addresses) of the firmware's memory.
///
/// # Invariants
///
/// `va` is a live `memremap` of `len` bytes, unmapped on drop.
pub(crate) struct Mapping {
    va: NonNull<u8>,
    base: u32,
    len: u32,
}

// SAFETY: the mapping is plain memory usable from any thread; `FW`'s lock serialises writers.
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(phys: u64, base: u32, len: u32) -> Result<Self> {
        // SAFETY: maps memory that is not Linux's (the C side refuses RAM); no pointers in.
        let va = unsafe { vchiq_sim_fw_map(phys, len) };
        let va = NonNull::new(va.cast::<u8>()).ok_or(EADDRNOTAVAIL)?;
        // INVARIANT: a fresh mapping of `len` bytes.
        Ok(Self { va, base, len })
    }

    /// The offset of `[vc, vc + n)` in the mapping, if it is inside.
    fn offset(&self, vc: u32, n: usize) -> Result<usize> {
        let off = vc.checked_sub(self.base).ok_or(EINVAL)? as usize;
        let end = off.checked_add(n).ok_or(EINVAL)?;
        if end > self.len as usize {
            return Err(EINVAL);
        }
        Ok(off)
    }

    /// Copies `bytes` to VideoCore address `vc`.
    pub(crate) fn write(&self, vc: u32, bytes: &[u8]) -> Result {
        let off = self.offset(vc, bytes.len())?;
        // SAFETY: `[off, off + len)` is inside the live mapping (checked, type invariant);
        // a raw copy, no reference into the mapping.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.va.as_ptr().add(off), bytes.len())
        };
        Ok(())
    }

    /// Copies from VideoCore address `vc` into `out`.
    pub(crate) fn read(&self, vc: u32, out: &mut [u8]) -> Result {
        let off = self.offset(vc, out.len())?;
        // SAFETY: as in `write`, in the other direction.
        unsafe {
            core::ptr::copy_nonoverlapping(self.va.as_ptr().add(off), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    pub(crate) fn put32(&self, vc: u32, v: u32) -> Result {
        self.write(vc, &v.to_le_bytes())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the live mapping of `new` (type invariant), unmapped once.
        unsafe { vchiq_sim_fw_unmap(self.va.as_ptr().cast()) };
    }
}

/// The firmware's memory while the module is loaded.
pub(crate) struct FwMem {
    map: Mapping,
    params: Params,
    logs: Logs,
    epoch: Instant<Monotonic>,
    seq: u16,
}

kernel::sync::global_lock! {
    // SAFETY: initialised once, in `init`, before any use.
    unsafe(uninit) static FW: SpinLock<Option<FwMem>> = None;
}

/// Records the firmware could not log (no room, a broken ring).
static LOST: Atomic<u32> = Atomic::new(0);

impl Params {
    /// Checks that the image and the log area fit the firmware's region.
    fn check(&self) -> core::result::Result<u32, &'static str> {
        let Params {
            base,
            size,
            log_base,
            log_size,
            ..
        } = *self;
        if base >= size || size > 1 << 30 {
            return Err("vc_mem_base must be below vc_mem_size, inside 30 bits");
        }
        let image_end = base.checked_add(IMAGE_SIZE).ok_or("image past 4 GiB")?;
        let log_end = log_base
            .checked_add(log_size)
            .ok_or("log area past 4 GiB")?;
        if log_base < image_end || log_end > size || log_size < crate::fwlog::AREA_MIN {
            return Err("the log area must follow the image inside the region");
        }
        Ok(log_end - base)
    }
}

/// Maps the region and lays out the image and the logs, if the parameters ask for it.
pub(crate) fn init(p: Params) -> Result {
    // SAFETY: called once, from module init, before anything else uses `FW`.
    unsafe { FW.init() };
    if p.size == 0 {
        return Ok(());
    }
    let span = p.check().map_err(|why| {
        pr_err!("firmware memory: {}\n", why);
        EINVAL
    })?;
    let map = Mapping::new(p.phys_addr + u64::from(p.base), p.base, span).inspect_err(|_| {
        pr_err!("firmware memory: cannot map it (is it Linux's RAM? boot with mem=)\n");
    })?;
    write_image(&map, &p)?;
    let logs = Logs::new(&map, p.log_base, p.log_size)?;
    *FW.lock() = Some(FwMem {
        map,
        params: p,
        logs,
        epoch: Instant::now(),
        seq: 0,
    });
    pr_info!(
        "firmware memory at {:#x}..{:#x} (VideoCore), log area {:#x}\n",
        p.base,
        p.size,
        p.log_base
    );
    msg(format_args!("simulated firmware started"));
    Ok(())
}

/// Unmaps the region (module exit).
pub(crate) fn exit() {
    let fw = FW.lock().take();
    drop(fw);
}

/// Writes the debug header, the symbol table, its labels and the variables.
fn write_image(map: &Mapping, p: &Params) -> Result {
    let load = p.base;
    let symtab = load + SYMTAB_OFF;
    let mut label = load + LABELS_OFF;
    let mut entry = symtab;
    let vars = SYMBOLS
        .iter()
        .map(|s| (s.name, load + DATA_OFF + s.off, s.size));
    let log_area = ("log_area", p.log_base, p.log_size);
    for (name, addr, size) in Iterator::chain(vars, core::iter::once(log_area)) {
        map.write(label, name.as_bytes())?;
        map.write(label + name.len() as u32, &[0])?;
        for (k, v) in (0u32..).zip([label, addr, size]) {
            map.put32(entry + 4 * k, v)?;
        }
        label += name.len() as u32 + 1;
        entry += SYM_SIZE;
    }
    map.write(entry, &[0u8; SYM_SIZE as usize])?;
    let table_len = entry + SYM_SIZE - symtab;
    let header = [symtab, VCDH, 16, p.base, p.size, load, table_len];
    for (k, v) in (0u32..).zip(header) {
        map.put32(load + HEADER_OFF + 4 * k, v)?;
    }
    // The variables.
    map.put32(load + DATA_OFF, TEST_VAR_INIT)?;
    for i in 0..12u32 {
        map.put32(load + DATA_OFF + 0x10 + 4 * i, i * i)?;
    }
    map.write(load + DATA_OFF + 0x40, VERSION.as_bytes())?;
    for (i, f) in (0u32..).zip(SERVICES) {
        map.put32(load + DATA_OFF + 0x100 + 8 * i, u32::from_be_bytes(*f))?;
        map.put32(load + DATA_OFF + 0x104 + 8 * i, 1)?;
    }
    Ok(())
}

/// Runs `f` on the firmware memory, if there is one. Any context.
fn with<R>(f: impl FnOnce(&mut FwMem) -> R) -> Option<R> {
    FW.lock().as_mut().map(f)
}

impl FwMem {
    fn record(&mut self) -> Record {
        let ms = self.epoch.elapsed().as_millis() as u32;
        self.seq = self.seq.wrapping_add(1);
        Record::new(ms, self.seq)
    }
}

/// Logs a message (one line) into the message log. The payload is a 4-byte field (0 here)
/// and the text.
pub(crate) fn msg(args: core::fmt::Arguments<'_>) {
    with(|fw| {
        let mut rec = fw.record();
        rec.push(&[0; 4]);
        let _ = rec.write_fmt(args);
        if fw.logs.msg.push(&fw.map, rec.finish()).is_err() {
            LOST.fetch_add(1u32, Relaxed);
        }
    });
}

/// Writes an assert record: file name, line, condition.
pub(crate) fn assert(file: &str, line: u32, cond: &str) {
    with(|fw| {
        let mut rec = fw.record();
        rec.push(file.as_bytes());
        rec.push(&[0]);
        rec.push(&line.to_le_bytes());
        rec.push(cond.as_bytes());
        if fw.logs.assert.push(&fw.map, rec.finish()).is_err() {
            LOST.fetch_add(1u32, Relaxed);
        }
    });
}

/// Sets the image's `test_var`.
pub(crate) fn set_test_var(v: u32) -> Result {
    with(|fw| fw.map.put32(fw.params.base + DATA_OFF, v)).unwrap_or(Err(ENODEV))
}

/// The image's `test_var`.
pub(crate) fn test_var() -> Result<u32> {
    with(|fw| {
        let mut b = [0u8; 4];
        fw.map.read(fw.params.base + DATA_OFF, &mut b)?;
        Ok(u32::from_le_bytes(b))
    })
    .unwrap_or(Err(ENODEV))
}

/// The firmware region `(mem_base, mem_size)`, if there is one (GCMD's `get_mem`).
pub(crate) fn region() -> Option<(u32, u32)> {
    with(|fw| (fw.params.base, fw.params.size))
}

/// Records lost so far, and log resets.
pub(crate) fn lost() -> u32 {
    LOST.load(Relaxed) + with(|fw| fw.logs.msg.resets + fw.logs.assert.resets).unwrap_or(0)
}
