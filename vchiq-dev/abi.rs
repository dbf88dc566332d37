// SPDX-License-Identifier: GPL-2.0

//! The `/dev/vchiq` ioctl ABI (vchiq-protocol.md §11): command numbers and argument layouts,
//! for 64-bit processes and for 32-bit ones (a 32-bit kernel's native ABI, or the compat path
//! of a 64-bit kernel).
//!
//! Arguments are decoded from their bytes at the offsets of the table in §11.2 rather than
//! through one `#[repr(C)]` struct per width: the two layouts differ only in the width of
//! pointer fields, so one [`Layout`] value and a table of offsets describe both, and every
//! user value passes through one checked decoder.

/// `VCHIQ_IOC_MAGIC`.
const MAGIC: u32 = 0xc4;

const fn ioc(dir: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | (size << 16) | (MAGIC << 8) | nr
}
const NONE: u32 = 0;
const W: u32 = 1;
const RW: u32 = 3;

/// The commands, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmd {
    Connect,
    Shutdown,
    CreateService,
    RemoveService,
    QueueMessage,
    QueueBulkTransmit,
    QueueBulkReceive,
    AwaitCompletion,
    DequeueMessage,
    GetClientId,
    GetConfig,
    CloseService,
    UseService,
    ReleaseService,
    SetServiceOption,
    LibVersion,
    CloseDelivered,
}

/// The width of pointers in the caller's structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// 8 for 64-bit callers, 4 for 32-bit ones.
    pub(crate) ptr: usize,
}

impl Layout {
    /// The layout of a native call on this kernel.
    pub(crate) const NATIVE: Layout = Layout {
        ptr: core::mem::size_of::<usize>(),
    };
    /// The layout of a 32-bit process on a 64-bit kernel.
    #[cfg(CONFIG_COMPAT)]
    pub(crate) const COMPAT: Layout = Layout { ptr: 4 };

    const fn wide(self) -> bool {
        self.ptr == 8
    }

    /// Picks the 64-bit or the 32-bit value.
    const fn pick(self, wide: usize, narrow: usize) -> usize {
        if self.wide() {
            wide
        } else {
            narrow
        }
    }

    /// Decodes an ioctl number for this layout; `None` for anything else (`ENOTTY`),
    /// including `DUMP_PHYS_MEM`, which mainline never implemented.
    pub(crate) fn cmd(self, cmd: u32) -> Option<Cmd> {
        let s = |w: usize, n: usize| self.pick(w, n) as u32;
        let table = [
            (ioc(NONE, 0, 0), Cmd::Connect),
            (ioc(NONE, 1, 0), Cmd::Shutdown),
            (ioc(RW, 2, s(48, 28)), Cmd::CreateService),
            (ioc(NONE, 3, 0), Cmd::RemoveService),
            (ioc(W, 4, s(16, 12)), Cmd::QueueMessage),
            (ioc(RW, 5, s(40, 20)), Cmd::QueueBulkTransmit),
            (ioc(RW, 6, s(40, 20)), Cmd::QueueBulkReceive),
            (ioc(RW, 7, s(32, 20)), Cmd::AwaitCompletion),
            (ioc(RW, 8, s(24, 16)), Cmd::DequeueMessage),
            (ioc(NONE, 9, 0), Cmd::GetClientId),
            (ioc(RW, 10, s(16, 8)), Cmd::GetConfig),
            (ioc(NONE, 11, 0), Cmd::CloseService),
            (ioc(NONE, 12, 0), Cmd::UseService),
            (ioc(NONE, 13, 0), Cmd::ReleaseService),
            (ioc(W, 14, 12), Cmd::SetServiceOption),
            (ioc(NONE, 16, 0), Cmd::LibVersion),
            (ioc(NONE, 17, 0), Cmd::CloseDelivered),
        ];
        table.iter().find(|(n, _)| *n == cmd).map(|(_, c)| *c)
    }
}

// The numbers of §11.1, for both layouts.
const _: () = {
    assert!(ioc(RW, 2, 48) == 0xC030C402 && ioc(RW, 2, 28) == 0xC01CC402);
    assert!(ioc(W, 4, 16) == 0x4010C404 && ioc(W, 4, 12) == 0x400CC404);
    assert!(ioc(RW, 5, 40) == 0xC028C405 && ioc(RW, 6, 20) == 0xC014C406);
    assert!(ioc(RW, 7, 32) == 0xC020C407 && ioc(RW, 7, 20) == 0xC014C407);
    assert!(ioc(RW, 8, 24) == 0xC018C408 && ioc(RW, 8, 16) == 0xC010C408);
    assert!(ioc(RW, 10, 16) == 0xC010C40A && ioc(RW, 10, 8) == 0xC008C40A);
    assert!(ioc(W, 14, 12) == 0x400CC40E && ioc(NONE, 17, 0) == 0x0000C411);
};

/// A fixed-size argument block read from (and written back to) user memory.
pub(crate) struct Args<const N: usize> {
    pub(crate) bytes: [u8; N],
    pub(crate) len: usize,
    pub(crate) layout: Layout,
}

impl<const N: usize> Args<N> {
    /// An empty block of the layout's size `len` (at most `N`).
    pub(crate) fn new(layout: Layout, len: usize) -> Self {
        Self {
            bytes: [0; N],
            len: core::cmp::min(len, N),
            layout,
        }
    }

    /// The bytes that cross the user boundary.
    pub(crate) fn used(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The bytes that cross the user boundary, mutably.
    pub(crate) fn used_mut(&mut self) -> &mut [u8] {
        self.bytes.get_mut(..self.len).unwrap_or(&mut [])
    }

    /// The `u32` at `off`.
    pub(crate) fn u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        if let Some(s) = self.bytes.get(off..off + 4) {
            b.copy_from_slice(s);
        }
        u32::from_ne_bytes(b)
    }

    /// The `i16` at `off`.
    pub(crate) fn i16(&self, off: usize) -> i16 {
        let mut b = [0u8; 2];
        if let Some(s) = self.bytes.get(off..off + 2) {
            b.copy_from_slice(s);
        }
        i16::from_ne_bytes(b)
    }

    /// The pointer-sized field at `off` (zero-extended for 32-bit callers).
    pub(crate) fn ptr(&self, off: usize) -> u64 {
        if self.layout.wide() {
            let mut b = [0u8; 8];
            if let Some(s) = self.bytes.get(off..off + 8) {
                b.copy_from_slice(s);
            }
            u64::from_ne_bytes(b)
        } else {
            u64::from(self.u32(off))
        }
    }

    /// Stores a `u32` at `off`.
    pub(crate) fn set_u32(&mut self, off: usize, v: u32) {
        if let Some(s) = self.bytes.get_mut(off..off + 4) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    /// Stores a pointer-sized field at `off`.
    pub(crate) fn set_ptr(&mut self, off: usize, v: u64) {
        if self.layout.wide() {
            if let Some(s) = self.bytes.get_mut(off..off + 8) {
                s.copy_from_slice(&v.to_ne_bytes());
            }
        } else {
            self.set_u32(off, v as u32);
        }
    }
}

/// Field offsets of each argument structure for a layout (§11.2).
impl Layout {
    // struct vchiq_create_service (48 / 28), with vchiq_service_params inside.
    pub(crate) const fn create_size(self) -> usize {
        self.pick(48, 28)
    }
    pub(crate) const CREATE_FOURCC: usize = 0;
    pub(crate) const fn create_userdata(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const fn create_version(self) -> usize {
        self.pick(24, 12)
    }
    pub(crate) const fn create_version_min(self) -> usize {
        self.pick(26, 14)
    }
    pub(crate) const fn create_is_open(self) -> usize {
        self.pick(32, 16)
    }
    pub(crate) const fn create_is_vchi(self) -> usize {
        self.pick(36, 20)
    }
    pub(crate) const fn create_handle(self) -> usize {
        self.pick(40, 24)
    }

    // struct vchiq_queue_message (16 / 12) and struct vchiq_element (16 / 8).
    pub(crate) const fn queue_size(self) -> usize {
        self.pick(16, 12)
    }
    pub(crate) const QUEUE_HANDLE: usize = 0;
    pub(crate) const QUEUE_COUNT: usize = 4;
    pub(crate) const QUEUE_ELEMENTS: usize = 8;
    pub(crate) const fn element_size(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const fn element_len(self) -> usize {
        self.pick(8, 4)
    }

    // struct vchiq_queue_bulk_transfer (40 / 20).
    pub(crate) const fn bulk_size(self) -> usize {
        self.pick(40, 20)
    }
    pub(crate) const BULK_HANDLE: usize = 0;
    pub(crate) const fn bulk_data(self) -> usize {
        self.pick(8, 4)
    }
    pub(crate) const fn bulk_len(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const fn bulk_userdata(self) -> usize {
        self.pick(24, 12)
    }
    pub(crate) const fn bulk_mode(self) -> usize {
        self.pick(32, 16)
    }

    // struct vchiq_completion_data (32 / 16).
    pub(crate) const fn record_size(self) -> usize {
        self.pick(32, 16)
    }
    pub(crate) const fn record_header(self) -> usize {
        self.pick(8, 4)
    }
    pub(crate) const fn record_service_userdata(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const fn record_cb_userdata(self) -> usize {
        self.pick(24, 12)
    }

    // struct vchiq_await_completion (32 / 20).
    pub(crate) const fn await_size(self) -> usize {
        self.pick(32, 20)
    }
    pub(crate) const AWAIT_COUNT: usize = 0;
    pub(crate) const fn await_buf(self) -> usize {
        self.pick(8, 4)
    }
    pub(crate) const fn await_msgbufsize(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const fn await_msgbufcount(self) -> usize {
        self.pick(20, 12)
    }
    pub(crate) const fn await_msgbufs(self) -> usize {
        self.pick(24, 16)
    }

    // struct vchiq_dequeue_message (24 / 16).
    pub(crate) const fn dequeue_size(self) -> usize {
        self.pick(24, 16)
    }
    pub(crate) const DEQUEUE_HANDLE: usize = 0;
    pub(crate) const DEQUEUE_BLOCKING: usize = 4;
    pub(crate) const DEQUEUE_BUFSIZE: usize = 8;
    pub(crate) const fn dequeue_buf(self) -> usize {
        self.pick(16, 12)
    }

    // struct vchiq_get_config (16 / 8).
    pub(crate) const fn config_args_size(self) -> usize {
        self.pick(16, 8)
    }
    pub(crate) const CONFIG_SIZE: usize = 0;
    pub(crate) const fn config_ptr(self) -> usize {
        self.pick(8, 4)
    }
}

/// `struct vchiq_set_service_option` (12 bytes in both layouts).
pub(crate) const OPTION_SIZE: usize = 12;

/// `struct vchiq_config` as GET_CONFIG reports it (20 bytes).
pub(crate) fn config_bytes() -> [u8; 20] {
    let mut b = [0u8; 20];
    let words: [u32; 4] = [4088, 4088, 4, 4096];
    for (i, w) in words.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
    }
    b[16..18].copy_from_slice(&8i16.to_ne_bytes());
    b[18..20].copy_from_slice(&3i16.to_ne_bytes());
    b
}

/// The largest argument block (`vchiq_create_service`, 64-bit).
pub(crate) const MAX_ARGS: usize = 48;

/// `enum vchiq_bulk_mode`.
pub(crate) const MODE_CALLBACK: u32 = 0;
pub(crate) const MODE_BLOCKING: u32 = 1;
pub(crate) const MODE_NOCALLBACK: u32 = 2;
pub(crate) const MODE_WAITING: u32 = 3;

/// `enum vchiq_service_option`.
pub(crate) const OPTION_AUTOCLOSE: i32 = 0;
pub(crate) const OPTION_SLOT_QUOTA: i32 = 1;
pub(crate) const OPTION_MESSAGE_QUOTA: i32 = 2;
pub(crate) const OPTION_SYNCHRONOUS: i32 = 3;
pub(crate) const OPTION_TRACE: i32 = 4;

/// At most this many elements per QUEUE_MESSAGE.
pub(crate) const MAX_ELEMENTS: usize = 8;
