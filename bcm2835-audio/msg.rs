// SPDX-License-Identifier: GPL-2.0

//! The AUDS wire format (firmware-services.md §6.2): every message is `{ i32 type; 16 bytes }`,
//! 20 bytes, little-endian, zero-filled; the PCM bytes after a WRITE travel raw.

/// The size of every control message and reply.
pub(crate) const MSG_SIZE: usize = 20;
/// The largest DATA message of PCM bytes.
pub(crate) const MAX_PACKET: u16 = 4000;

/// The AUDS fourcc.
pub(crate) const AUDS: u32 = crate::vchiq::fourcc(b"AUDS");
/// The versions the driver opens the service with.
pub(crate) const VERSION: i16 = 2;
pub(crate) const VERSION_MIN: i16 = 1;
/// From this peer version on, PCM data travels in DATA messages.
pub(crate) const VERSION_DATA: i16 = 2;

/// The cookies of WRITE, echoed by COMPLETE.
pub(crate) const COOKIE1: u32 = 0x4243_4D41; // 'BCMA'
pub(crate) const COOKIE2: u32 = 0x4441_5441; // 'DATA'

/// Message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Kind {
    Result = 0,
    Complete = 1,
    Config = 2,
    Control = 3,
    Open = 4,
    Close = 5,
    Start = 6,
    Stop = 7,
    Write = 8,
}

/// An ARM message: the type and up to four body words.
pub(crate) fn encode(kind: Kind, words: &[u32]) -> [u8; MSG_SIZE] {
    let mut m = [0u8; MSG_SIZE];
    m[..4].copy_from_slice(&(kind as i32).to_le_bytes());
    for (i, w) in words.iter().take(4).enumerate() {
        let at = 4 + 4 * i;
        m[at..at + 4].copy_from_slice(&w.to_le_bytes());
    }
    m
}

/// WRITE of `count` bytes; `max_packet` 0 announces a bulk transfer.
pub(crate) fn write(count: u32, max_packet: u16) -> [u8; MSG_SIZE] {
    // `silence` (0) in the low half of the last word, `max_packet` in the high half.
    let last = u32::from(max_packet) << 16;
    encode(Kind::Write, &[count, COOKIE1, COOKIE2, last])
}

/// A message from the VideoCore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// RESULT: `success` (0 is OK).
    Result(i32),
    /// COMPLETE: bytes consumed and the cookies.
    Complete { count: u32, cookies: (u32, u32) },
    /// Anything else (logged and ignored).
    Other(i32),
}

fn word(m: &[u8], at: usize) -> Option<u32> {
    let b = m.get(at..at + 4)?;
    <[u8; 4]>::try_from(b).ok().map(u32::from_le_bytes)
}

/// Decodes a VideoCore message; `None` if it is too short for its type.
pub(crate) fn decode(m: &[u8]) -> Option<Reply> {
    let kind = word(m, 0)? as i32;
    Some(match kind {
        k if k == Kind::Result as i32 => Reply::Result(word(m, 4)? as i32),
        k if k == Kind::Complete as i32 => Reply::Complete {
            count: word(m, 4)?,
            cookies: (word(m, 8)?, word(m, 12)?),
        },
        k => Reply::Other(k),
    })
}

/// CONTROL's volume: the ALSA value (0.01 dB) as the firmware's attenuation in 1/256 dB.
pub(crate) fn volume(alsa: i32) -> u32 {
    (-(alsa * 256 / 100)) as u32
}

/// The volume sent while muted (about 102.4 dB of attenuation).
pub(crate) const MUTED: i32 = -10240;
