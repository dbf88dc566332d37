// SPDX-License-Identifier: GPL-2.0

//! Buffers and their life cycle with the VideoCore.
//!
//! A [`Buffer`] is memory (`sys::Memory`) with its kernel id, name and owner. Two holders
//! keep it: Linux (its dma-buf, which owns an `Arc<Buffer>` until its release) and the
//! VideoCore (the registry's [`Entry`], which owns an `Arc<Buffer>` until the VideoCore has let
//! go). The memory is freed when the last `Arc` goes, so it outlives both, in either order:
//!
//! ```text
//!          IMPORT sent          reply h != 0          FREE sent (Linux released; v2)
//! Importing ----------> (waits) -----------> Held(h) --------------------------> Freeing(h)
//!     |  reply h = 0                          |  RELEASED (before FREE)               | RELEASED
//!     +--> Failed                             +--> Gone  <--------------------------- +
//! ```
//!
//! With a protocol-1 firmware (no CLIENT_VERSION acknowledgement) FREE goes straight to
//! `Gone`. The entry leaves the registry when Linux has released the buffer and the VideoCore
//! state is `Gone` or `Failed`. A reply that comes after its waiter gave up (signal, timeout)
//! is handled the same way: the buffer is then already released by Linux, so a handle it
//! brings is freed at once.

use crate::proto::Name;
use crate::smem::Smem;
use crate::sys::Memory;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Buffers at most (the kernel ids of downstream's IDR are ints too).
pub(crate) const MAX_BUFFERS: usize = 4096;

/// Memory with its identity.
pub(crate) struct Buffer {
    /// The connection it belongs to.
    pub(crate) smem: Arc<Smem>,
    pub(crate) kernel_id: u32,
    pub(crate) name: Name,
    /// Foreign memory (IMPORT_DMABUF, the kernel API) rather than own.
    pub(crate) imported: bool,
    pub(crate) cached: bool,
    mem: Memory,
}

impl Buffer {
    /// A buffer of `mem`.
    pub(crate) fn new(
        smem: Arc<Smem>,
        kernel_id: u32,
        name: Name,
        imported: bool,
        cached: bool,
        mem: Memory,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                smem,
                kernel_id,
                name,
                imported,
                cached,
                mem,
            },
            GFP_KERNEL,
        )?)
    }

    /// The memory.
    pub(crate) fn mem(&self) -> &Memory {
        &self.mem
    }

    /// The bus address given to the VideoCore (32 bits: the device's DMA mask).
    pub(crate) fn bus(&self) -> Result<u32> {
        u32::try_from(self.mem.dma()).map_err(|_| EINVAL)
    }
}

/// What the VideoCore holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vc {
    /// IMPORT sent with this trans_id, no answer yet.
    Importing(u32),
    /// The VideoCore has handle `h`.
    Held(u32),
    /// FREE of handle `h` sent; RELEASED awaited.
    Freeing(u32),
    /// The VideoCore let go.
    Gone,
    /// The import failed: the VideoCore never had it.
    Failed,
}

impl Vc {
    /// The handle, while the VideoCore has one.
    pub(crate) fn handle(self) -> Option<u32> {
        match self {
            Vc::Held(h) | Vc::Freeing(h) => Some(h),
            _ => None,
        }
    }

    /// downstream's VC_MAPPING number for debugfs: 0 not mapped, 1 mapped, 2 unmapping.
    pub(crate) fn mapping(self) -> u32 {
        match self {
            Vc::Held(_) | Vc::Importing(_) => 1,
            Vc::Freeing(_) => 2,
            Vc::Gone | Vc::Failed => 0,
        }
    }
}

/// A buffer the driver tracks.
pub(crate) struct Entry {
    pub(crate) buf: Arc<Buffer>,
    pub(crate) vc: Vc,
    /// The VideoCore's handle, once known (kept after it let go, for debugfs).
    pub(crate) handle: u32,
    /// Linux's dma-buf exists (or, for VC_MEM_REQUEST memory, never existed: false).
    pub(crate) linux: bool,
    /// An ioctl or kernel caller waits for the IMPORT answer.
    pub(crate) waiting: bool,
}

impl Entry {
    /// Whether nobody holds the buffer any more.
    fn done(&self) -> bool {
        !self.linux && matches!(self.vc, Vc::Gone | Vc::Failed)
    }
}

/// Every buffer of a connection, by kernel id.
pub(crate) struct Registry {
    pub(crate) entries: KVec<Entry>,
    next_id: u32,
    /// After unbind: no buffers are tracked any more.
    pub(crate) dead: bool,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self {
            entries: KVec::new(),
            next_id: 1,
            dead: false,
        }
    }

    /// A kernel id no entry has (from 1, wrapping within `i32`).
    pub(crate) fn new_id(&mut self) -> Result<u32> {
        if self.dead {
            return Err(ESHUTDOWN);
        }
        if self.entries.len() >= MAX_BUFFERS {
            return Err(ENOSPC);
        }
        loop {
            let id = self.next_id;
            self.next_id = if id >= i32::MAX as u32 { 1 } else { id + 1 };
            if self.find(id).is_none() {
                return Ok(id);
            }
        }
    }

    pub(crate) fn find(&self, kernel_id: u32) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.buf.kernel_id == kernel_id)
    }

    pub(crate) fn get_mut(&mut self, kernel_id: u32) -> Option<&mut Entry> {
        let i = self.find(kernel_id)?;
        self.entries.get_mut(i)
    }

    pub(crate) fn add(&mut self, e: Entry) -> Result {
        if self.dead {
            return Err(ESHUTDOWN);
        }
        self.entries.push(e, GFP_KERNEL)?;
        Ok(())
    }

    /// The entry importing with `trans_id`.
    pub(crate) fn by_trans_id(&mut self, trans_id: u32) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .find(|e| e.vc == Vc::Importing(trans_id))
    }

    /// Removes entry `kernel_id` if nobody holds it; the buffer is returned so that the
    /// caller drops it (and maybe frees the memory) outside the lock.
    pub(crate) fn reap(&mut self, kernel_id: u32) -> Option<Arc<Buffer>> {
        let i = self.find(kernel_id)?;
        if !self.entries.get(i)?.done() {
            return None;
        }
        self.entries.remove(i).ok().map(|e| e.buf)
    }
}

/// The dma-buf of `buf` was released (its last file and kernel reference went).
pub(crate) fn released(buf: Arc<Buffer>) {
    buf.smem.clone().linux_released(&buf);
}
