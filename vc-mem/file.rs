// SPDX-License-Identifier: GPL-2.0

//! One open `/dev/vc-mem`: the ioctls, FBIODMACOPY and mmap, each checked against the region.
//!
//! Access policy (Documentation/vc-mem.rst): whoever may open the node may read the values and
//! map the region read-only; a writable mapping and FBIODMACOPY need `CAP_SYS_RAWIO`.
//! Nothing outside `[mem_base, mem_size)` is ever reachable, whatever the caller passes.

use crate::abi::{self, Layout};
use crate::ratelimit::log_nth;
use crate::region::Region;
use crate::sys::{self, Window};
use crate::{Hex, Shared};
use kernel::mm::virt::VmaNew;
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;
use kernel::sync::Arc;
use kernel::uaccess::{UserPtr, UserSlice, UserSliceWriter};

/// Page size as a 64-bit value, for address arithmetic.
const PAGE: u64 = kernel::page::PAGE_SIZE as u64;
/// FBIODMACOPY maps and copies at most this much at a time, and checks for signals between.
const CHUNK: usize = 64 * 1024;

/// An open file: the module's state (the region is fixed at load time).
pub(crate) struct VcMemFile {
    shared: Arc<Shared>,
}

/// Counts a refused call and logs the first ones (and every power of two after): what,
/// address and length.
fn refuse(shared: &Shared, what: &str, addr: u64, len: u64, e: Error) -> Error {
    let n = shared.refused.fetch_add(1u32, Relaxed).wrapping_add(1);
    if log_nth(n) {
        pr_info!(
            "{} at {:?} length {:?} refused ({:?}); {} refusals so far\n",
            what,
            Hex(addr),
            Hex(len),
            e,
            n
        );
    }
    e
}

fn write_user(arg: usize, bytes: &[u8]) -> Result<isize> {
    UserSlice::new(UserPtr::from_addr(arg), bytes.len())
        .writer()
        .write_slice(bytes)?;
    Ok(0)
}

impl VcMemFile {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn region(&self) -> Result<Region> {
        self.shared.region.ok_or(ENXIO)
    }

    /// An ioctl of a caller with `layout`.
    pub(crate) fn ioctl(&self, layout: Layout, cmd: u32, arg: usize) -> Result<isize> {
        match (layout, cmd) {
            (Layout::Native, abi::MEM_PHYS_ADDR) => {
                let phys =
                    usize::try_from(self.region()?.inputs().phys_addr).map_err(|_| EINVAL)?;
                write_user(arg, &phys.to_ne_bytes())
            }
            #[cfg(CONFIG_COMPAT)]
            (Layout::Compat, abi::MEM_PHYS_ADDR32) => {
                let phys =
                    u32::try_from(self.region()?.inputs().phys_addr).map_err(|_| EOVERFLOW)?;
                write_user(arg, &phys.to_ne_bytes())
            }
            (_, abi::MEM_SIZE) => write_user(arg, &self.region()?.inputs().size.to_ne_bytes()),
            (_, abi::MEM_BASE | abi::MEM_LOAD) => {
                write_user(arg, &self.region()?.inputs().base.to_ne_bytes())
            }
            (Layout::Native, abi::FBIODMACOPY) => self.dma_copy(abi::DmaCopyNative::read(arg)?),
            #[cfg(CONFIG_COMPAT)]
            (Layout::Compat, abi::FBIODMACOPY32) => self.dma_copy(abi::DmaCopy32::read(arg)?),
            _ => Err(ENOTTY),
        }
    }

    /// FBIODMACOPY: `length` bytes from VideoCore address `src` to user `dst`.
    fn dma_copy(&self, args: abi::DmaCopyArgs) -> Result<isize> {
        let abi::DmaCopyArgs { dst, src, length } = args;
        let region = self.region()?;
        let (at, n) = (u64::from(src), u64::from(length));
        if !sys::rawio() {
            let what = "FBIODMACOPY without CAP_SYS_RAWIO";
            return Err(refuse(&self.shared, what, at, n, EPERM));
        }
        let phys = Region::strip_alias(src)
            .and_then(|addr| region.phys(addr, n))
            .map_err(|e| refuse(&self.shared, "FBIODMACOPY", at, n, e))?;
        let len = length as usize;
        let mut out = UserSlice::new(UserPtr::from_addr(dst), len).writer();
        copy_out(phys, len, &mut out)?;
        Ok(0)
    }

    /// mmap at file offset = VideoCore address, uncached.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        let region = self.region()?;
        let pgoff = sys::pgoff(vma) as u64;
        let len = (vma.end() - vma.start()) as u64;
        // The byte offset for the log only: it may wrap where `checked_mul` refuses.
        let at = pgoff.wrapping_mul(PAGE);
        let phys = pgoff
            .checked_mul(PAGE)
            .ok_or(EINVAL)
            .and_then(|off| region.phys(off, len))
            .map_err(|e| refuse(&self.shared, "mmap", at, len, e))?;
        if !sys::rawio() {
            if vma.writable() {
                let what = "writable mmap without CAP_SYS_RAWIO";
                return Err(refuse(&self.shared, what, at, len, EPERM));
            }
            vma.try_clear_maywrite()?;
        }
        sys::remap_uncached(vma, phys)
    }
}

/// Copies `len` bytes of VideoCore memory from `phys` to `out`, a window of at most
/// [`CHUNK`] at a time; a signal between chunks ends it with `EINTR`.
fn copy_out(phys: u64, len: usize, out: &mut UserSliceWriter) -> Result {
    let mut buf = KVec::from_elem(0u8, CHUNK.min(len), GFP_KERNEL)?;
    let mut done = 0usize;
    while done < len {
        if kernel::current!().signal_pending() {
            return Err(EINTR);
        }
        let at = phys + done as u64;
        let start = at & !(PAGE - 1);
        // `at - start < PAGE <= CHUNK`.
        let skip = (at - start) as usize;
        let n = (len - done).min(CHUNK - skip).min(buf.len());
        let window = Window::new(start, (skip + n).next_multiple_of(PAGE as usize))?;
        let chunk = &mut buf[..n];
        window.read(skip, chunk)?;
        out.write_slice(chunk)?;
        done += n;
    }
    Ok(())
}
