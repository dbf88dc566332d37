// SPDX-License-Identifier: GPL-2.0

//! The SMEM protocol (firmware-services.md §4.1-4.4): message types, the ARM's requests as
//! bytes, and the VideoCore's messages parsed into [`Incoming`]. Pure code: every length and
//! field is checked here, so nothing the VideoCore sends reaches the driver unchecked.

use kernel::prelude::*;

/// The service's fourcc.
pub(crate) const FOURCC: u32 = crate::vchiq::fourcc(b"SMEM");
/// The versions the ARM opens the service with.
pub(crate) const VERSION: i16 = 1;
pub(crate) const VERSION_MIN: i16 = 0;
/// The protocol version announced with CLIENT_VERSION (RELEASED expected).
pub(crate) const PROTOCOL: u32 = 2;

/// Message types (enum order of the firmware's header).
const FREE: u32 = 4;
const IMPORT: u32 = 8;
const CLIENT_VERSION: u32 = 9;
const VC_MEM_REQUEST_REPLY: u32 = 10;
const RELEASED: u32 = 11;
const VC_MEM_REQUEST: u32 = 12;

/// Bit 31 of the VideoCore's first word: an event of its own, not a reply.
pub(crate) const EVENT: u32 = 0x8000_0000;
/// The longest message of the protocol (header and the largest body): longer ones are
/// refused.
pub(crate) const MAX_MSG_LEN: usize = 8 + 52;

/// Allocation type of an import: the VideoCore maps it uncached.
const NON_CACHED: u32 = 1;
/// Length of a resource name.
pub(crate) const NAME_LEN: usize = 32;

/// A name as the protocol carries it: at most 31 bytes and a NUL.
pub(crate) type Name = [u8; NAME_LEN];

/// Builds a message from a header and body words, then optionally a name and more words.
fn message(ty: u32, trans_id: u32, words: &[u32], name: Option<&Name>, tail: &[u32]) -> KVec<u8> {
    let mut v = KVec::new();
    let mut put = |b: &[u8]| {
        // At most 60 bytes: a failed allocation gives a short message, which the caller's
        // length check turns into ENOMEM.
        let _ = v.extend_from_slice(b, GFP_KERNEL);
    };
    put(&ty.to_le_bytes());
    put(&trans_id.to_le_bytes());
    for w in words {
        put(&w.to_le_bytes());
    }
    if let Some(n) = name {
        put(n);
    }
    for w in tail {
        put(&w.to_le_bytes());
    }
    v
}

/// Checks that `msg` has `len` bytes (allocation succeeded).
fn sized(msg: KVec<u8>, len: usize) -> Result<KVec<u8>> {
    if msg.len() == len {
        Ok(msg)
    } else {
        Err(ENOMEM)
    }
}

/// IMPORT of `size` bytes at bus address `addr`, known to the ARM as `kernel_id`.
pub(crate) fn import(
    trans_id: u32,
    addr: u32,
    size: u32,
    kernel_id: u32,
    tgid: u32,
    name: &Name,
) -> Result<KVec<u8>> {
    let m = message(
        IMPORT,
        trans_id,
        &[NON_CACHED, addr, size, kernel_id, tgid],
        Some(name),
        &[],
    );
    sized(m, MAX_MSG_LEN)
}

/// FREE of VideoCore handle `handle` (no answer expected).
pub(crate) fn free(trans_id: u32, handle: u32) -> Result<KVec<u8>> {
    sized(message(FREE, trans_id, &[handle, 0], None, &[]), 16)
}

/// CLIENT_VERSION with [`PROTOCOL`].
pub(crate) fn client_version(trans_id: u32) -> Result<KVec<u8>> {
    sized(
        message(CLIENT_VERSION, trans_id, &[PROTOCOL], None, &[]),
        12,
    )
}

/// The answer to the VideoCore's VC_MEM_REQUEST `vc_trans_id`: memory at `addr` (0:
/// refused), known as `kernel_id`.
pub(crate) fn mem_request_reply(
    trans_id: u32,
    vc_trans_id: u32,
    addr: u32,
    kernel_id: u32,
) -> Result<KVec<u8>> {
    let m = message(
        VC_MEM_REQUEST_REPLY,
        trans_id,
        &[vc_trans_id, addr, kernel_id],
        None,
        &[],
    );
    sized(m, 20)
}

/// A message from the VideoCore, checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A reply to request `trans_id`; `handle` is its second word (IMPORT's result).
    Reply { trans_id: u32, handle: u32 },
    /// The acknowledgement of CLIENT_VERSION: a protocol-2 firmware.
    VersionAck,
    /// The VideoCore let go of the buffer known as `kernel_id`.
    Released {
        addr: u32,
        size: u32,
        kernel_id: u32,
        handle: u32,
    },
    /// The VideoCore asks for memory.
    MemRequest {
        trans_id: u32,
        size: u32,
        align: u32,
        handle: u32,
        name: Name,
    },
    /// An event of a type the driver does not know.
    Unknown(u32),
    /// Too short for its type, or longer than any message of the protocol.
    Malformed(usize),
}

/// The little-endian word `i` of `data`.
fn word(data: &[u8], i: usize) -> Option<u32> {
    let off = i.checked_mul(4)?;
    let b = data.get(off..off.checked_add(4)?)?;
    <[u8; 4]>::try_from(b).ok().map(u32::from_le_bytes)
}

/// Parses a message from the VideoCore.
pub(crate) fn parse(data: &[u8]) -> Incoming {
    let bad = Incoming::Malformed(data.len());
    if data.len() > MAX_MSG_LEN {
        return bad;
    }
    let w = |i| word(data, i);
    let Some(first) = w(0) else { return bad };
    if first & EVENT == 0 {
        return match w(1) {
            Some(handle) => Incoming::Reply {
                trans_id: first,
                handle,
            },
            None => bad,
        };
    }
    match first & !EVENT {
        CLIENT_VERSION => Incoming::VersionAck,
        RELEASED => match (w(1), w(2), w(3), w(4)) {
            (Some(addr), Some(size), Some(kernel_id), Some(handle)) => Incoming::Released {
                addr,
                size,
                kernel_id,
                handle,
            },
            _ => bad,
        },
        VC_MEM_REQUEST => {
            let name = data
                .get(16..16 + NAME_LEN)
                .and_then(|n| Name::try_from(n).ok());
            match (w(1), w(2), w(3), name, w(12)) {
                (Some(trans_id), Some(size), Some(align), Some(name), Some(handle)) => {
                    Incoming::MemRequest {
                        trans_id,
                        size,
                        align,
                        handle,
                        name,
                    }
                }
                _ => bad,
            }
        }
        other => Incoming::Unknown(other),
    }
}

/// `name` as a protocol name: cut to 31 bytes, NUL-terminated.
pub(crate) fn name_of(name: &[u8]) -> Name {
    let mut n = [0u8; NAME_LEN];
    let end = name
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(name.len())
        .min(NAME_LEN - 1);
    if let (Some(dst), Some(src)) = (n.get_mut(..end), name.get(..end)) {
        dst.copy_from_slice(src);
    }
    n
}
