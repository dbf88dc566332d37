// SPDX-License-Identifier: GPL-2.0

//! One open `/dev/vcsm-cma`: ALLOC, IMPORT_DMABUF and CLEAN_INVALID2.
//!
//! The file holds nothing but the connection: a buffer belongs to its dma-buf fd (closing it
//! and every mapping releases the buffer), so the device file may be closed at once. A new fd
//! is reserved first, the answer is copied to the caller next, and only then is the fd
//! installed: a fault on the copy frees everything and leaves no fd behind.

use crate::abi::{self, Alloc, Block32, Block64, CleanInvalid2, ImportDmabuf, Layout};
use crate::proto;
use crate::smem::Smem;
use crate::sys::{self, DmaBuf, ForeignDmaBuf};
use kernel::fs::file::FileDescriptorReservation;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::{UserPtr, UserSlice};

/// Blocks of one CLEAN_INVALID2 at most.
const MAX_BLOCKS: u32 = 1024;

/// An open file.
pub(crate) struct VcsmFile {
    smem: Arc<Smem>,
}

fn read<T: kernel::transmute::FromBytes>(addr: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(addr), core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

fn write<T: kernel::transmute::AsBytes>(addr: usize, v: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(addr), core::mem::size_of::<T>())
        .writer()
        .write(v)
}

/// Hands `dmabuf` to the caller as the reserved fd, once `answer` has been copied out.
fn install(
    fd: FileDescriptorReservation,
    dmabuf: DmaBuf,
    answer: impl FnOnce() -> Result,
) -> Result {
    answer()?;
    fd.fd_install(dmabuf.file());
    Ok(())
}

/// Whether `cached` (user-vcsm's cache enum) asks for a cached CPU mapping.
fn host_cached(cached: u32) -> Result<bool> {
    match cached {
        abi::CACHE_NONE | abi::CACHE_VC => Ok(false),
        abi::CACHE_HOST | abi::CACHE_BOTH => Ok(true),
        _ => Err(EINVAL),
    }
}

impl VcsmFile {
    pub(crate) fn new(smem: Arc<Smem>) -> Self {
        Self { smem }
    }

    /// Dispatches on the magic and command number (as downstream; sizes are fixed).
    pub(crate) fn ioctl(&self, layout: Layout, cmd: u32, arg: usize) -> Result<isize> {
        if (cmd >> 8) & 0xff != abi::MAGIC {
            return Err(ENOTTY);
        }
        match cmd & 0xff {
            abi::NR_ALLOC => self.alloc(arg),
            abi::NR_IMPORT_DMABUF => self.import(arg),
            abi::NR_CLEAN_INVALID2 => self.clean_invalid2(layout, arg),
            _ => Err(EINVAL),
        }?;
        Ok(0)
    }

    fn alloc(&self, arg: usize) -> Result {
        let mut a: Alloc = read(arg)?;
        let cached = host_cached(a.cached)?;
        let fd =
            FileDescriptorReservation::get_unused_fd_flags(kernel::fs::file::flags::O_CLOEXEC)?;
        let size = usize::try_from(a.size).map_err(|_| EINVAL)?;
        let (dmabuf, buf, handle) = self.smem.alloc(size, cached, proto::name_of(&a.name))?;
        a.handle = fd.reserved_fd() as i32;
        a.vc_handle = handle;
        a.dma_addr = buf.mem().dma();
        install(fd, dmabuf, || write(arg, &a))
    }

    fn import(&self, arg: usize) -> Result {
        let mut a: ImportDmabuf = read(arg)?;
        host_cached(a.cached)?;
        let src = ForeignDmaBuf::from_fd(a.dmabuf_fd)?;
        let fd =
            FileDescriptorReservation::get_unused_fd_flags(kernel::fs::file::flags::O_CLOEXEC)?;
        let (dmabuf, buf, handle) = self.smem.import(&src)?;
        a.handle = fd.reserved_fd() as i32;
        a.vc_handle = handle;
        a.size = u32::try_from(buf.mem().size()).map_err(|_| EINVAL)?;
        a.dma_addr = buf.mem().dma();
        install(fd, dmabuf, || write(arg, &a))
    }

    /// Cache maintenance of ranges of the caller's mappings of cached vc-sm-cma buffers.
    fn clean_invalid2(&self, layout: Layout, arg: usize) -> Result {
        let h: CleanInvalid2 = read(arg)?;
        if h.op_count > MAX_BLOCKS {
            return Err(EINVAL);
        }
        let first = arg
            .checked_add(core::mem::size_of::<CleanInvalid2>())
            .ok_or(EFAULT)?;
        for i in 0..h.op_count as usize {
            let b = if layout.block_is_32() {
                let at = first
                    .checked_add(i * core::mem::size_of::<Block32>())
                    .ok_or(EFAULT)?;
                let b: Block32 = read(at)?;
                Block64 {
                    invalidate_mode: b.invalidate_mode,
                    block_count: b.block_count,
                    start_address: b.start_address.into(),
                    block_size: b.block_size,
                    inter_block_stride: b.inter_block_stride,
                }
            } else {
                let at = first
                    .checked_add(i * core::mem::size_of::<Block64>())
                    .ok_or(EFAULT)?;
                read::<Block64>(at)?
            };
            block(&b)?;
        }
        Ok(())
    }
}

/// One block: `block_count` ranges of `block_size` bytes, `inter_block_stride` apart.
fn block(b: &Block64) -> Result {
    match b.invalidate_mode {
        abi::MODE_NOP => return Ok(()),
        abi::MODE_INVALIDATE | abi::MODE_CLEAN | abi::MODE_FLUSH => {}
        _ => return Err(EINVAL),
    }
    if b.block_count > MAX_BLOCKS * 64 {
        return Err(EINVAL);
    }
    let start = usize::try_from(b.start_address).map_err(|_| EFAULT)?;
    for k in 0..b.block_count as usize {
        let off = k.checked_mul(b.inter_block_stride as usize).ok_or(EINVAL)?;
        let addr = start.checked_add(off).ok_or(EFAULT)?;
        sys::sync_user(addr, b.block_size as usize, b.invalidate_mode)?;
    }
    Ok(())
}
