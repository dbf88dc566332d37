// SPDX-License-Identifier: GPL-2.0

//! The `/dev/vchiq` ioctl ABI (vchiq-protocol.md §11): command numbers and argument
//! structures, for 64-bit processes ([`wide`]) and 32-bit ones ([`narrow`]: a 32-bit kernel's
//! native ABI, or the compat path of a 64-bit kernel).
//!
//! Each structure is defined once, as `#[repr(C)]`, by [`ioctl_abi!`], which instantiates it
//! with 64-bit and with 32-bit pointer fields; the ioctl numbers are computed from the
//! structures' sizes and asserted, with their sizes and field offsets, against the numbers of
//! mainline's uapi header (`vchiq_ioctl.h` and its compat twin in `vchiq_dev.c`). Arguments
//! are read from user memory as whole structures and converted into the width-independent
//! forms below ([`CreateArgs`], ...), so one checked path serves both widths.

use crate::vchiq::{BulkMode, Reason, BULK_MODE_WAITING};
use kernel::prelude::*;
use kernel::transmute::FromBytes;
use kernel::uaccess::{UserPtr, UserSlice};

/// `VCHIQ_IOC_MAGIC`.
const MAGIC: u32 = 0xc4;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (MAGIC << 8) | nr
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

/// `enum vchiq_bulk_mode` as user space passes it (`vchiq.h`'s values).
pub(crate) const MODE_CALLBACK: i32 = BulkMode::Callback as i32;
pub(crate) const MODE_BLOCKING: i32 = BulkMode::Blocking as i32;
pub(crate) const MODE_NOCALLBACK: i32 = BulkMode::NoCallback as i32;
pub(crate) const MODE_WAITING: i32 = BULK_MODE_WAITING as i32;

// User space sees the reasons and modes of `vchiq.h` through this ABI: they must be
// mainline's uapi numbers.
const _: () = {
    assert!(MODE_CALLBACK == 0 && MODE_BLOCKING == 1 && MODE_NOCALLBACK == 2);
    assert!(MODE_WAITING == 3);
    assert!(Reason::ServiceOpened as u32 == 0 && Reason::ServiceClosed as u32 == 1);
    assert!(Reason::MessageAvailable as u32 == 2);
    assert!(Reason::BulkTransmitDone as u32 == 3 && Reason::BulkReceiveDone as u32 == 4);
    assert!(Reason::BulkTransmitAborted as u32 == 5 && Reason::BulkReceiveAborted as u32 == 6);
};

/// `enum vchiq_service_option`.
pub(crate) const OPTION_AUTOCLOSE: i32 = 0;
pub(crate) const OPTION_SLOT_QUOTA: i32 = 1;
pub(crate) const OPTION_MESSAGE_QUOTA: i32 = 2;
pub(crate) const OPTION_SYNCHRONOUS: i32 = 3;
pub(crate) const OPTION_TRACE: i32 = 4;

/// At most this many elements per QUEUE_MESSAGE (mainline's limit).
pub(crate) const MAX_ELEMENTS: usize = 8;

/// CREATE_SERVICE's argument, width-independent.
pub(crate) struct CreateArgs {
    pub(crate) fourcc: u32,
    pub(crate) userdata: u64,
    pub(crate) version: i16,
    pub(crate) version_min: i16,
    pub(crate) is_open: bool,
    pub(crate) is_vchi: bool,
}

/// QUEUE_MESSAGE's argument.
pub(crate) struct QueueArgs {
    pub(crate) handle: u32,
    pub(crate) count: u32,
    pub(crate) elements: u64,
}

/// One element of a QUEUE_MESSAGE.
pub(crate) struct ElementArgs {
    pub(crate) data: u64,
    pub(crate) size: u32,
}

/// QUEUE_BULK_TRANSMIT's and QUEUE_BULK_RECEIVE's argument.
pub(crate) struct BulkArgs {
    pub(crate) handle: u32,
    pub(crate) data: u64,
    pub(crate) size: u32,
    pub(crate) userdata: u64,
    pub(crate) mode: i32,
}

/// AWAIT_COMPLETION's argument.
pub(crate) struct AwaitArgs {
    pub(crate) count: u32,
    pub(crate) buf: u64,
    pub(crate) msgbufsize: u32,
    pub(crate) msgbufcount: u32,
    pub(crate) msgbufs: u64,
}

/// DEQUEUE_MESSAGE's argument.
pub(crate) struct DequeueArgs {
    pub(crate) handle: u32,
    pub(crate) blocking: bool,
    pub(crate) bufsize: u32,
    pub(crate) buf: u64,
}

/// GET_CONFIG's argument.
pub(crate) struct ConfigArgs {
    pub(crate) config_size: u32,
    pub(crate) pconfig: u64,
}

/// One completion record as AWAIT_COMPLETION writes it.
pub(crate) struct CompletionArgs {
    pub(crate) reason: u32,
    pub(crate) header: u64,
    pub(crate) service_userdata: u64,
    pub(crate) cb_userdata: u64,
}

/// `struct vchiq_set_service_option` (the same in both widths).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SetServiceOption {
    pub(crate) handle: u32,
    pub(crate) option: i32,
    pub(crate) value: i32,
}

// SAFETY: integers only, no padding: every bit pattern is a valid value.
unsafe impl FromBytes for SetServiceOption {}

/// `struct vchiq_config` as GET_CONFIG reports it (the same in both widths).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub(crate) max_msg_size: u32,
    pub(crate) bulk_threshold: u32,
    pub(crate) max_outstanding_bulks: u32,
    pub(crate) max_services: u32,
    pub(crate) version: i16,
    pub(crate) version_min: i16,
}

impl Config {
    /// Its bytes, as user space reads them.
    pub(crate) fn to_bytes(self) -> [u8; core::mem::size_of::<Config>()] {
        let mut b = [0u8; core::mem::size_of::<Config>()];
        let words = [
            self.max_msg_size,
            self.bulk_threshold,
            self.max_outstanding_bulks,
            self.max_services,
        ];
        for (i, w) in words.iter().enumerate() {
            put(&mut b, i * 4, &w.to_ne_bytes());
        }
        put(
            &mut b,
            core::mem::offset_of!(Config, version),
            &self.version.to_ne_bytes(),
        );
        put(
            &mut b,
            core::mem::offset_of!(Config, version_min),
            &self.version_min.to_ne_bytes(),
        );
        b
    }
}

/// The size of what `_f` returns: given `|a: S| a.field`, the field's width, which the layout
/// asserts check beside its offset (a field made narrower can keep every offset and hide in
/// padding).
#[expect(
    dead_code,
    reason = "used only by the anonymous `const _` layout asserts, which dead-code analysis does not count"
)]
const fn ret_size<S, T>(_f: fn(S) -> T) -> usize {
    core::mem::size_of::<T>()
}

// Mainline's numbers for the width-independent structures: sizes, and every field's offset
// and width (`Config::to_bytes` writes the first four words at `i * 4`).
const _: () = {
    assert!(core::mem::size_of::<SetServiceOption>() == 12);
    assert!(core::mem::offset_of!(SetServiceOption, handle) == 0);
    assert!(core::mem::offset_of!(SetServiceOption, option) == 4);
    assert!(core::mem::offset_of!(SetServiceOption, value) == 8);
    assert!(ret_size(|a: SetServiceOption| a.handle) == 4);
    assert!(ret_size(|a: SetServiceOption| a.option) == 4);
    assert!(ret_size(|a: SetServiceOption| a.value) == 4);
    assert!(core::mem::size_of::<Config>() == 20);
    assert!(core::mem::offset_of!(Config, max_msg_size) == 0);
    assert!(core::mem::offset_of!(Config, bulk_threshold) == 4);
    assert!(core::mem::offset_of!(Config, max_outstanding_bulks) == 8);
    assert!(core::mem::offset_of!(Config, max_services) == 12);
    assert!(core::mem::offset_of!(Config, version) == 16);
    assert!(core::mem::offset_of!(Config, version_min) == 18);
    assert!(ret_size(|a: Config| a.max_msg_size) == 4);
    assert!(ret_size(|a: Config| a.bulk_threshold) == 4);
    assert!(ret_size(|a: Config| a.max_outstanding_bulks) == 4);
    assert!(ret_size(|a: Config| a.max_services) == 4);
    assert!(ret_size(|a: Config| a.version) == 2);
    assert!(ret_size(|a: Config| a.version_min) == 2);
    assert!(ioc(W, 14, core::mem::size_of::<SetServiceOption>()) == 0x400CC40E);
    assert!(ioc(NONE, 17, 0) == 0x0000C411);
};

/// Copies `src` into `dst` at `off` (nothing if it does not fit: the offsets are constants
/// of the structures, checked at build time to fit).
fn put(dst: &mut [u8], off: usize, src: &[u8]) {
    if let Some(d) = dst.get_mut(off..off + src.len()) {
        d.copy_from_slice(src);
    }
}

/// A user slice of `len` bytes at user address `addr`.
pub(crate) fn user(addr: u64, len: usize) -> Result<UserSlice> {
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr), len))
}

/// Reads a `T` from user address `addr`.
fn read<T: FromBytes>(addr: u64) -> Result<T> {
    user(addr, core::mem::size_of::<T>())?.reader().read::<T>()
}

/// The user address of the field at `off` of the structure at `arg`. It wraps instead of
/// overflowing: a wrapped address fails the access check (`EFAULT`).
pub(crate) fn field(arg: usize, off: usize) -> u64 {
    (arg as u64).wrapping_add(off as u64)
}

/// Writes a `u32` to user address `addr`.
pub(crate) fn write_u32(addr: u64, v: u32) -> Result {
    user(addr, 4)?.writer().write_slice(&v.to_ne_bytes())
}

/// Reads `struct vchiq_set_service_option`.
pub(crate) fn read_option(arg: usize) -> Result<SetServiceOption> {
    read(arg as u64)
}

/// Defines the argument structures with pointer fields of type `$ptr` in module `$m`, their
/// conversions and the ioctl numbers they give, and asserts them against mainline's.
macro_rules! ioctl_abi {
    ($m:ident, $ptr:ty, $doc:literal, create: $create:literal, queue: $queue:literal,
     element: $element:literal, bulk: $bulk:literal, completion: $completion:literal,
     await_: $await_:literal, dequeue: $dequeue:literal, config: $config:literal,
     numbers: [$($nr:literal),*]) => {
        #[doc = $doc]
        pub(crate) mod $m {
            use super::*;
            use core::mem::{offset_of, size_of};

            /// `struct vchiq_service_params`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct ServiceParams {
                pub(crate) fourcc: i32,
                pub(crate) callback: $ptr,
                pub(crate) userdata: $ptr,
                pub(crate) version: i16,
                pub(crate) version_min: i16,
            }

            /// `struct vchiq_create_service`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct CreateService {
                pub(crate) params: ServiceParams,
                pub(crate) is_open: i32,
                pub(crate) is_vchi: i32,
                pub(crate) handle: u32,
            }

            /// `struct vchiq_element`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct Element {
                pub(crate) data: $ptr,
                pub(crate) size: u32,
            }

            /// `struct vchiq_queue_message`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct QueueMessage {
                pub(crate) handle: u32,
                pub(crate) count: u32,
                pub(crate) elements: $ptr,
            }

            /// `struct vchiq_queue_bulk_transfer`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct QueueBulkTransfer {
                pub(crate) handle: u32,
                pub(crate) data: $ptr,
                pub(crate) size: u32,
                pub(crate) userdata: $ptr,
                pub(crate) mode: i32,
            }

            /// `struct vchiq_completion_data`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct CompletionData {
                pub(crate) reason: i32,
                pub(crate) header: $ptr,
                pub(crate) service_userdata: $ptr,
                pub(crate) cb_userdata: $ptr,
            }

            /// `struct vchiq_await_completion`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct AwaitCompletion {
                pub(crate) count: u32,
                pub(crate) buf: $ptr,
                pub(crate) msgbufsize: u32,
                pub(crate) msgbufcount: u32,
                pub(crate) msgbufs: $ptr,
            }

            /// `struct vchiq_dequeue_message`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct DequeueMessage {
                pub(crate) handle: u32,
                pub(crate) blocking: i32,
                pub(crate) bufsize: u32,
                pub(crate) buf: $ptr,
            }

            /// `struct vchiq_get_config`.
            #[repr(C)]
            #[derive(Clone, Copy)]
            pub(crate) struct GetConfig {
                pub(crate) config_size: u32,
                pub(crate) pconfig: $ptr,
            }

            // SAFETY: integers only (padding is never read as a value): every bit pattern is
            // a valid value of each of these structures.
            unsafe impl FromBytes for CreateService {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for Element {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for QueueMessage {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for QueueBulkTransfer {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for AwaitCompletion {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for DequeueMessage {}
            // SAFETY: as for `CreateService`: integers only.
            unsafe impl FromBytes for GetConfig {}

            /// A pointer field's size (the `msgbufs` array's stride).
            pub(crate) const PTR: usize = size_of::<$ptr>();
            /// `struct vchiq_element`'s size (the element array's stride).
            pub(crate) const ELEMENT: usize = size_of::<Element>();
            /// `struct vchiq_completion_data`'s size (the record array's stride).
            pub(crate) const COMPLETION: usize = size_of::<CompletionData>();
            /// Where CREATE_SERVICE writes the new handle.
            pub(crate) const CREATE_HANDLE: usize = offset_of!(CreateService, handle);
            /// Where an interrupted blocking bulk writes `VCHIQ_BULK_MODE_WAITING`.
            pub(crate) const BULK_MODE: usize = offset_of!(QueueBulkTransfer, mode);
            /// Where AWAIT_COMPLETION writes the buffers left.
            pub(crate) const AWAIT_MSGBUFCOUNT: usize = offset_of!(AwaitCompletion, msgbufcount);

            /// The commands, by number.
            pub(crate) const COMMANDS: [(u32, Cmd); 17] = [
                (ioc(NONE, 0, 0), Cmd::Connect),
                (ioc(NONE, 1, 0), Cmd::Shutdown),
                (ioc(RW, 2, size_of::<CreateService>()), Cmd::CreateService),
                (ioc(NONE, 3, 0), Cmd::RemoveService),
                (ioc(W, 4, size_of::<QueueMessage>()), Cmd::QueueMessage),
                (ioc(RW, 5, size_of::<QueueBulkTransfer>()), Cmd::QueueBulkTransmit),
                (ioc(RW, 6, size_of::<QueueBulkTransfer>()), Cmd::QueueBulkReceive),
                (ioc(RW, 7, size_of::<AwaitCompletion>()), Cmd::AwaitCompletion),
                (ioc(RW, 8, size_of::<DequeueMessage>()), Cmd::DequeueMessage),
                (ioc(NONE, 9, 0), Cmd::GetClientId),
                (ioc(RW, 10, size_of::<GetConfig>()), Cmd::GetConfig),
                (ioc(NONE, 11, 0), Cmd::CloseService),
                (ioc(NONE, 12, 0), Cmd::UseService),
                (ioc(NONE, 13, 0), Cmd::ReleaseService),
                (ioc(W, 14, size_of::<SetServiceOption>()), Cmd::SetServiceOption),
                (ioc(NONE, 16, 0), Cmd::LibVersion),
                (ioc(NONE, 17, 0), Cmd::CloseDelivered),
            ];

            // Mainline's sizes and numbers (uapi `vchiq_ioctl.h`; the 32-bit ones as its
            // compat handler defines them).
            const _: () = {
                assert!(size_of::<CreateService>() == $create);
                assert!(size_of::<QueueMessage>() == $queue);
                assert!(size_of::<Element>() == $element);
                assert!(size_of::<QueueBulkTransfer>() == $bulk);
                assert!(size_of::<CompletionData>() == $completion);
                assert!(size_of::<AwaitCompletion>() == $await_);
                assert!(size_of::<DequeueMessage>() == $dequeue);
                assert!(size_of::<GetConfig>() == $config);
                // Every field's offset, 64-bit / 32-bit (vchiq-protocol.md §11.2).
                const fn pick(wide: usize, narrow: usize) -> usize {
                    if PTR == 8 {
                        wide
                    } else {
                        narrow
                    }
                }
                assert!(ret_size(|a: ServiceParams| a.fourcc) == 4);
                assert!(ret_size(|a: ServiceParams| a.version) == 2);
                assert!(ret_size(|a: ServiceParams| a.version_min) == 2);
                assert!(ret_size(|a: CreateService| a.is_open) == 4);
                assert!(ret_size(|a: CreateService| a.is_vchi) == 4);
                assert!(ret_size(|a: CreateService| a.handle) == 4);
                assert!(ret_size(|a: Element| a.size) == 4);
                assert!(ret_size(|a: QueueMessage| a.handle) == 4);
                assert!(ret_size(|a: QueueMessage| a.count) == 4);
                assert!(ret_size(|a: QueueBulkTransfer| a.handle) == 4);
                assert!(ret_size(|a: QueueBulkTransfer| a.size) == 4);
                assert!(ret_size(|a: QueueBulkTransfer| a.mode) == 4);
                assert!(ret_size(|a: CompletionData| a.reason) == 4);
                assert!(ret_size(|a: AwaitCompletion| a.count) == 4);
                assert!(ret_size(|a: AwaitCompletion| a.msgbufsize) == 4);
                assert!(ret_size(|a: AwaitCompletion| a.msgbufcount) == 4);
                assert!(ret_size(|a: DequeueMessage| a.handle) == 4);
                assert!(ret_size(|a: DequeueMessage| a.blocking) == 4);
                assert!(ret_size(|a: DequeueMessage| a.bufsize) == 4);
                assert!(ret_size(|a: GetConfig| a.config_size) == 4);
                assert!(offset_of!(CreateService, params) == 0);
                assert!(offset_of!(ServiceParams, fourcc) == 0);
                assert!(offset_of!(ServiceParams, callback) == pick(8, 4));
                assert!(offset_of!(ServiceParams, userdata) == pick(16, 8));
                assert!(offset_of!(ServiceParams, version) == pick(24, 12));
                assert!(offset_of!(ServiceParams, version_min) == pick(26, 14));
                assert!(offset_of!(CreateService, is_open) == pick(32, 16));
                assert!(offset_of!(CreateService, is_vchi) == pick(36, 20));
                assert!(offset_of!(CreateService, handle) == pick(40, 24));
                assert!(offset_of!(QueueMessage, handle) == 0);
                assert!(offset_of!(QueueMessage, count) == 4);
                assert!(offset_of!(QueueMessage, elements) == 8);
                assert!(offset_of!(Element, data) == 0);
                assert!(offset_of!(Element, size) == pick(8, 4));
                assert!(offset_of!(QueueBulkTransfer, handle) == 0);
                assert!(offset_of!(QueueBulkTransfer, data) == pick(8, 4));
                assert!(offset_of!(QueueBulkTransfer, size) == pick(16, 8));
                assert!(offset_of!(QueueBulkTransfer, userdata) == pick(24, 12));
                assert!(offset_of!(QueueBulkTransfer, mode) == pick(32, 16));
                assert!(offset_of!(CompletionData, reason) == 0);
                assert!(offset_of!(CompletionData, header) == pick(8, 4));
                assert!(offset_of!(CompletionData, service_userdata) == pick(16, 8));
                assert!(offset_of!(CompletionData, cb_userdata) == pick(24, 12));
                assert!(offset_of!(AwaitCompletion, count) == 0);
                assert!(offset_of!(AwaitCompletion, buf) == pick(8, 4));
                assert!(offset_of!(AwaitCompletion, msgbufsize) == pick(16, 8));
                assert!(offset_of!(AwaitCompletion, msgbufcount) == pick(20, 12));
                assert!(offset_of!(AwaitCompletion, msgbufs) == pick(24, 16));
                assert!(offset_of!(DequeueMessage, handle) == 0);
                assert!(offset_of!(DequeueMessage, blocking) == 4);
                assert!(offset_of!(DequeueMessage, bufsize) == 8);
                assert!(offset_of!(DequeueMessage, buf) == pick(16, 12));
                assert!(offset_of!(GetConfig, config_size) == 0);
                assert!(offset_of!(GetConfig, pconfig) == pick(8, 4));
                let expected: [u32; 8] = [$($nr),*];
                let ours = [
                    COMMANDS[2].0, COMMANDS[4].0, COMMANDS[5].0, COMMANDS[6].0,
                    COMMANDS[7].0, COMMANDS[8].0, COMMANDS[10].0, COMMANDS[14].0,
                ];
                let mut i = 0;
                while i < expected.len() {
                    assert!(ours[i] == expected[i]);
                    i += 1;
                }
            };

            /// Reads CREATE_SERVICE's argument at `arg`.
            pub(crate) fn read_create(arg: usize) -> Result<CreateArgs> {
                let a: CreateService = read(arg as u64)?;
                Ok(CreateArgs {
                    fourcc: a.params.fourcc as u32,
                    userdata: u64::from(a.params.userdata),
                    version: a.params.version,
                    version_min: a.params.version_min,
                    is_open: a.is_open != 0,
                    is_vchi: a.is_vchi != 0,
                })
            }

            /// Reads QUEUE_MESSAGE's argument at `arg`.
            pub(crate) fn read_queue(arg: usize) -> Result<QueueArgs> {
                let a: QueueMessage = read(arg as u64)?;
                Ok(QueueArgs {
                    handle: a.handle,
                    count: a.count,
                    elements: u64::from(a.elements),
                })
            }

            /// Reads element `i` of the array at `elements`.
            pub(crate) fn read_element(elements: u64, i: usize) -> Result<ElementArgs> {
                let at = elements.wrapping_add((i * ELEMENT) as u64);
                let e: Element = read(at)?;
                Ok(ElementArgs {
                    data: u64::from(e.data),
                    size: e.size,
                })
            }

            /// Reads a bulk's argument at `arg`.
            pub(crate) fn read_bulk(arg: usize) -> Result<BulkArgs> {
                let a: QueueBulkTransfer = read(arg as u64)?;
                Ok(BulkArgs {
                    handle: a.handle,
                    data: u64::from(a.data),
                    size: a.size,
                    userdata: u64::from(a.userdata),
                    mode: a.mode,
                })
            }

            /// Reads AWAIT_COMPLETION's argument at `arg`.
            pub(crate) fn read_await(arg: usize) -> Result<AwaitArgs> {
                let a: AwaitCompletion = read(arg as u64)?;
                Ok(AwaitArgs {
                    count: a.count,
                    buf: u64::from(a.buf),
                    msgbufsize: a.msgbufsize,
                    msgbufcount: a.msgbufcount,
                    msgbufs: u64::from(a.msgbufs),
                })
            }

            /// Reads the pointer at index `i` of the array at `array`.
            pub(crate) fn read_ptr(array: u64, i: u32) -> Result<u64> {
                let at = u64::from(i)
                    .checked_mul(PTR as u64)
                    .and_then(|o| array.checked_add(o))
                    .ok_or(EFAULT)?;
                let p: $ptr = user(at, PTR)?.reader().read()?;
                Ok(u64::from(p))
            }

            /// Reads DEQUEUE_MESSAGE's argument at `arg`.
            pub(crate) fn read_dequeue(arg: usize) -> Result<DequeueArgs> {
                let a: DequeueMessage = read(arg as u64)?;
                Ok(DequeueArgs {
                    handle: a.handle,
                    blocking: a.blocking != 0,
                    bufsize: a.bufsize,
                    buf: u64::from(a.buf),
                })
            }

            /// Reads GET_CONFIG's argument at `arg`.
            pub(crate) fn read_config(arg: usize) -> Result<ConfigArgs> {
                let a: GetConfig = read(arg as u64)?;
                Ok(ConfigArgs {
                    config_size: a.config_size,
                    pconfig: u64::from(a.pconfig),
                })
            }

            /// Writes completion record `c` to user address `at`. The bytes are built field
            /// by field at the structure's offsets, padding zeroed. Pointer values that do not
            /// fit the width cannot occur: they came from this caller in the same width.
            pub(crate) fn write_completion(at: u64, c: &CompletionArgs) -> Result {
                let mut b = [0u8; COMPLETION];
                put(&mut b, offset_of!(CompletionData, reason), &c.reason.to_ne_bytes());
                let ptrs = [
                    (offset_of!(CompletionData, header), c.header),
                    (offset_of!(CompletionData, service_userdata), c.service_userdata),
                    (offset_of!(CompletionData, cb_userdata), c.cb_userdata),
                ];
                for (off, v) in ptrs {
                    put(&mut b, off, &(v as $ptr).to_ne_bytes());
                }
                user(at, COMPLETION)?.writer().write_slice(&b)
            }
        }
    };
}

ioctl_abi!(
    wide, u64, "The structures of 64-bit callers.",
    create: 48, queue: 16, element: 16, bulk: 40, completion: 32, await_: 32, dequeue: 24,
    config: 16,
    numbers: [
        0xC030C402, 0x4010C404, 0xC028C405, 0xC028C406, 0xC020C407, 0xC018C408, 0xC010C40A,
        0x400CC40E
    ]
);

ioctl_abi!(
    narrow, u32, "The structures of 32-bit callers.",
    create: 28, queue: 12, element: 8, bulk: 20, completion: 16, await_: 20, dequeue: 16,
    config: 8,
    numbers: [
        0xC01CC402, 0x400CC404, 0xC014C405, 0xC014C406, 0xC014C407, 0xC010C408, 0xC008C40A,
        0x400CC40E
    ]
);

/// The width of the caller's pointers, which picks the structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// 64-bit pointers ([`wide`]).
    Wide,
    /// 32-bit pointers ([`narrow`]).
    Narrow,
}

/// Calls `$f` of the caller's layout's module.
macro_rules! by_layout {
    ($layout:expr, $f:ident($($arg:expr),*)) => {
        match $layout {
            $crate::abi::Layout::Wide => $crate::abi::wide::$f($($arg),*),
            $crate::abi::Layout::Narrow => $crate::abi::narrow::$f($($arg),*),
        }
    };
}
pub(crate) use by_layout;

impl Layout {
    /// The layout of a native call on this kernel.
    pub(crate) const NATIVE: Layout = if core::mem::size_of::<usize>() == 8 {
        Layout::Wide
    } else {
        Layout::Narrow
    };
    /// The layout of a 32-bit process on a 64-bit kernel.
    #[cfg(CONFIG_COMPAT)]
    pub(crate) const COMPAT: Layout = Layout::Narrow;

    /// Decodes an ioctl number for this layout; `None` for anything else (`ENOTTY`),
    /// including `DUMP_PHYS_MEM`, which mainline never implemented.
    pub(crate) fn cmd(self, cmd: u32) -> Option<Cmd> {
        let table = match self {
            Layout::Wide => &wide::COMMANDS,
            Layout::Narrow => &narrow::COMMANDS,
        };
        table.iter().find(|(n, _)| *n == cmd).map(|(_, c)| *c)
    }

    /// The size of one completion record.
    pub(crate) const fn completion_size(self) -> usize {
        match self {
            Layout::Wide => wide::COMPLETION,
            Layout::Narrow => narrow::COMPLETION,
        }
    }

    /// Where CREATE_SERVICE writes the handle.
    pub(crate) const fn create_handle(self) -> usize {
        match self {
            Layout::Wide => wide::CREATE_HANDLE,
            Layout::Narrow => narrow::CREATE_HANDLE,
        }
    }

    /// Where an interrupted blocking bulk writes its mode.
    pub(crate) const fn bulk_mode(self) -> usize {
        match self {
            Layout::Wide => wide::BULK_MODE,
            Layout::Narrow => narrow::BULK_MODE,
        }
    }

    /// Where AWAIT_COMPLETION writes the buffers left.
    pub(crate) const fn await_msgbufcount(self) -> usize {
        match self {
            Layout::Wide => wide::AWAIT_MSGBUFCOUNT,
            Layout::Narrow => narrow::AWAIT_MSGBUFCOUNT,
        }
    }
}
