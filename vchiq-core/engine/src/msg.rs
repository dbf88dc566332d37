// SPDX-License-Identifier: GPL-2.0

//! Message framing: message ids, headers, strides and payload layouts.

use super::error::{Error, Result};
use super::layout::{SLOT_MASK, SLOT_SIZE};

/// Size of a message header (`msgid`, `size`).
pub const HEADER_SIZE: u32 = 8;
/// Largest payload of one message.
pub const MAX_MSG_SIZE: u32 = SLOT_SIZE - HEADER_SIZE;
/// Largest port number.
pub const PORT_MAX: u32 = 0xfff;
/// "No port" sentinel; it does not fit into the 12-bit msgid fields.
pub const PORT_FREE: u16 = 0x1000;
/// Flag the receiver ORs into the msgid of a DATA message it holds.
pub const MSGID_CLAIMED: u32 = 0x4000_0000;
/// Msgid of a padding message.
pub const MSGID_PADDING: u32 = 0;

/// Message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgType {
    /// Filler up to the end of a slot.
    Padding = 0,
    /// Connection request/announcement.
    Connect = 1,
    /// Open a service.
    Open = 2,
    /// Service open accepted.
    OpenAck = 3,
    /// Close a service (also: reject an OPEN).
    Close = 4,
    /// Client data.
    Data = 5,
    /// ARM asks the master to fill an ARM buffer.
    BulkRx = 6,
    /// ARM asks the master to read an ARM buffer.
    BulkTx = 7,
    /// Completion of a BULK_RX.
    BulkRxDone = 8,
    /// Completion of a BULK_TX.
    BulkTxDone = 9,
    /// Pause request/acknowledgement.
    Pause = 10,
    /// Resume.
    Resume = 11,
    /// Keep-alive "use" request.
    RemoteUse = 12,
    /// Keep-alive "release" request.
    RemoteRelease = 13,
    /// Acknowledgement of a REMOTE_USE.
    RemoteUseActive = 14,
}

impl MsgType {
    /// Decodes the type byte of a msgid.  A claimed msgid decodes as an
    /// unknown type, exactly like the reference implementation.
    pub const fn from_raw(raw: u32) -> Option<MsgType> {
        Some(match raw {
            0 => MsgType::Padding,
            1 => MsgType::Connect,
            2 => MsgType::Open,
            3 => MsgType::OpenAck,
            4 => MsgType::Close,
            5 => MsgType::Data,
            6 => MsgType::BulkRx,
            7 => MsgType::BulkTx,
            8 => MsgType::BulkRxDone,
            9 => MsgType::BulkTxDone,
            10 => MsgType::Pause,
            11 => MsgType::Resume,
            12 => MsgType::RemoteUse,
            13 => MsgType::RemoteRelease,
            14 => MsgType::RemoteUseActive,
            _ => return None,
        })
    }
}

/// An encoded msgid: `type << 24 | src << 12 | dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgId(pub u32);

impl MsgId {
    /// Builds a msgid.  Ports are masked to 12 bits, which turns
    /// `PORT_FREE` (0x1000) into 0 as the protocol requires.
    pub const fn new(ty: MsgType, src: u32, dst: u32) -> MsgId {
        MsgId(((ty as u32) << 24) | ((src & PORT_MAX) << 12) | (dst & PORT_MAX))
    }

    /// The raw type byte (including the claimed flag, if set).
    pub const fn raw_type(self) -> u32 {
        self.0 >> 24
    }

    /// The decoded type, `None` for unknown or claimed ids.
    pub const fn ty(self) -> Option<MsgType> {
        MsgType::from_raw(self.raw_type())
    }

    /// Source port.
    pub const fn src(self) -> u32 {
        (self.0 >> 12) & PORT_MAX
    }

    /// Destination port.
    pub const fn dst(self) -> u32 {
        self.0 & PORT_MAX
    }

    /// Whether the claimed flag is set.
    pub const fn is_claimed(self) -> bool {
        self.0 & MSGID_CLAIMED != 0
    }
}

/// Space a message with a `size`-byte payload occupies in a slot: header
/// plus payload rounded up to 8 bytes.  `None` if the payload is too large.
pub const fn stride(size: u32) -> Option<u32> {
    if size > MAX_MSG_SIZE {
        return None;
    }
    // Cannot overflow: size <= 4088.
    Some((size.wrapping_add(HEADER_SIZE).wrapping_add(7)) & !7)
}

/// Validates a header read from the peer at stream position `pos`, with the
/// peer's published position `end`: the message must fit inside its slot and
/// must not extend past what the peer has published.  Returns the stride.
pub fn check_rx_header(pos: u32, size: u32, end: u32) -> Result<u32> {
    let stride = stride(size).ok_or(Error::Proto)?;
    let in_slot = pos & SLOT_MASK;
    if in_slot & 7 != 0 || in_slot.wrapping_add(stride) > SLOT_SIZE {
        return Err(Error::Proto);
    }
    // Positions wrap; the published window is end - pos bytes long.
    if end.wrapping_sub(pos) < stride {
        return Err(Error::Proto);
    }
    Ok(stride)
}

/// OPEN payload length.
pub const OPEN_PAYLOAD_SIZE: u32 = 12;
/// BULK_RX/BULK_TX payload length.
pub const BULK_REQ_PAYLOAD_SIZE: u32 = 8;
/// BULK_*_DONE payload length.
pub const BULK_DONE_PAYLOAD_SIZE: u32 = 4;
/// `actual` value meaning "aborted".
pub const BULK_ACTUAL_ABORTED: u32 = 0xffff_ffff;

/// OPEN payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenPayload {
    /// Service fourcc.
    pub fourcc: u32,
    /// Opener's client id.
    pub client_id: u32,
    /// Opener's service version.
    pub version: u16,
    /// Opener's minimum accepted version.
    pub version_min: u16,
}

impl OpenPayload {
    /// Encodes as three little-endian words.
    pub const fn to_words(self) -> [u32; 3] {
        [
            self.fourcc,
            self.client_id,
            (self.version as u32) | ((self.version_min as u32) << 16),
        ]
    }

    /// Decodes from three words.
    pub const fn from_words(w: [u32; 3]) -> OpenPayload {
        OpenPayload {
            fourcc: w[0],
            client_id: w[1],
            // CAST: deliberate truncation to the two 16-bit halves.
            version: w[2] as u16,
            version_min: (w[2] >> 16) as u16,
        }
    }
}

/// Whether a service with versions `ours` (`version`, `version_min`) accepts
/// a peer offering `theirs`.  Compatible iff each side's version is at least
/// the other's minimum.
pub const fn versions_compatible(ours: (u16, u16), theirs: (u16, u16)) -> bool {
    ours.0 >= theirs.1 && theirs.0 >= ours.1
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn strides() {
        assert_eq!(stride(0), Some(8));
        assert_eq!(stride(2), Some(16));
        assert_eq!(stride(4), Some(16));
        assert_eq!(stride(8), Some(16));
        assert_eq!(stride(12), Some(24));
        assert_eq!(stride(4088), Some(4096));
        assert_eq!(stride(4089), None);
    }

    #[test]
    fn worked_example() {
        let id = MsgId::new(MsgType::Open, 5, 0);
        assert_eq!(id.0, 0x0200_5000);
        let ack = MsgId(0x0302_3005);
        assert_eq!(ack.ty(), Some(MsgType::OpenAck));
        assert_eq!(ack.src(), 0x23);
        assert_eq!(ack.dst(), 5);
        assert_eq!(MsgId::new(MsgType::Data, 5, 0x23).0, 0x0500_5023);
        assert_eq!(
            MsgId::new(MsgType::Close, 5, PORT_FREE as u32).0,
            0x0400_5000
        );
        let p = OpenPayload {
            fourcc: u32::from_be_bytes(*b"mmal"),
            client_id: 1234,
            version: 15,
            version_min: 10,
        };
        let w = p.to_words();
        let mut bytes = [0u8; 12];
        for (i, x) in w.iter().enumerate() {
            bytes[i * 4..i * 4 + 4].copy_from_slice(&x.to_le_bytes());
        }
        assert_eq!(
            bytes,
            [0x6c, 0x61, 0x6d, 0x6d, 0xd2, 4, 0, 0, 0x0f, 0, 0x0a, 0]
        );
        assert_eq!(OpenPayload::from_words(w), p);
    }

    #[test]
    fn claimed_is_not_a_type() {
        let id = MsgId(MsgId::new(MsgType::Data, 1, 2).0 | MSGID_CLAIMED);
        assert_eq!(id.ty(), None);
        assert!(id.is_claimed());
    }
}
