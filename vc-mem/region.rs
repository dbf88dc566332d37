// SPDX-License-Identifier: GPL-2.0

//! Where the VideoCore's memory is, and the bounds every access is checked against.
//!
//! Three inputs, as on a Pi: `phys_addr` (the ARM physical address of VideoCore address 0),
//! `mem_base` (the start of the firmware's region, a VideoCore address) and `mem_size` (its
//! end: downstream's name for it). Accesses are allowed inside `[mem_base, mem_size)` only,
//! never below it (that is Linux's RAM on a Pi), and only if no page of the region is
//! Linux's RAM.

use crate::sys;
use kernel::prelude::*;

/// VideoCore bus addresses are 30 bits; the top two are the cache alias.
pub(crate) const VC_ADDR_MASK: u32 = 0x3fff_ffff;
/// The size of the VideoCore's address space.
const VC_SPACE: u32 = 1 << 30;
/// Top three bits of a peripheral-alias address (0x6000_0000..=0x7fff_ffff), which the tools
/// refuse too: stripped of its alias it would look like memory.
const PERIPHERAL_ALIAS: u32 = 0b011;
/// Everything is checked at page granularity, as mmap works.
const PAGE: u64 = kernel::page::PAGE_SIZE as u64;

/// The module parameters (or the firmware's answer), unchecked.
#[derive(Clone, Copy)]
pub(crate) struct Inputs {
    pub(crate) phys_addr: u64,
    pub(crate) base: u32,
    pub(crate) size: u32,
}

/// Checked inputs: the VideoCore's region is `[phys_addr + base, phys_addr + size)`, not
/// Linux's RAM, page-aligned and inside the 30-bit space.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    inputs: Inputs,
}

impl Inputs {
    /// The region these inputs describe, or why they cannot be used.
    pub(crate) fn check(self) -> core::result::Result<Region, &'static str> {
        let Inputs {
            phys_addr,
            base,
            size,
        } = self;
        if size == 0 {
            return Err("no mem_size (the firmware passes vc_mem.mem_size=)");
        }
        if base >= size {
            return Err("mem_base is not below mem_size");
        }
        if size > VC_SPACE {
            return Err("mem_size is past the 30-bit VideoCore address space");
        }
        if (u64::from(base) | u64::from(size) | phys_addr) & (PAGE - 1) != 0 {
            return Err("phys_addr, mem_base and mem_size must be page-aligned");
        }
        let Some(end) = phys_addr.checked_add(u64::from(size)) else {
            return Err("phys_addr + mem_size overflows");
        };
        if usize::try_from(end).is_err() {
            return Err("phys_addr + mem_size does not fit an unsigned long (MEM_PHYS_ADDR)");
        }
        if sys::is_ram(phys_addr + u64::from(base), u64::from(size - base)) {
            return Err("the region overlaps Linux's RAM (is the top of RAM kept from Linux?)");
        }
        Ok(Region { inputs: self })
    }
}

impl Region {
    pub(crate) fn inputs(&self) -> Inputs {
        self.inputs
    }

    /// The physical address of `[addr, addr + len)` (VideoCore addresses without alias), if
    /// the whole range is inside the region. A zero length at the end is inside.
    pub(crate) fn phys(&self, addr: u64, len: u64) -> Result<u64> {
        let Inputs {
            phys_addr,
            base,
            size,
        } = self.inputs;
        let (base, size) = (u64::from(base), u64::from(size));
        if addr < base || addr > size || len > size - addr {
            return Err(EINVAL);
        }
        // No overflow: `addr <= size` and `check` made sure `phys_addr + size` fits.
        Ok(phys_addr + addr)
    }

    /// A bus address as the tools pass it (FBIODMACOPY's `src`): the alias bits are
    /// stripped, a peripheral-alias address is refused.
    pub(crate) fn strip_alias(bus: u32) -> Result<u64> {
        if bus >> 29 == PERIPHERAL_ALIAS {
            return Err(EINVAL);
        }
        Ok(u64::from(bus & VC_ADDR_MASK))
    }
}
