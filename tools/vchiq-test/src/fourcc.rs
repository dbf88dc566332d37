//! Four-character codes, packed big-endian as VCHIQ does (`'e' << 24 | 'c' << 16 | ...`).

/// Packs a four-character code: `fourcc(b"echo") == 0x6563686F`.
pub const fn fourcc(s: &[u8; 4]) -> i32 {
    ((s[0] as u32) << 24 | (s[1] as u32) << 16 | (s[2] as u32) << 8 | s[3] as u32) as i32
}

/// Formats a packed code back into text (non-printable bytes as `?`).
pub fn fourcc_str(f: i32) -> String {
    (f as u32)
        .to_be_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing() {
        assert_eq!(fourcc(b"echo"), 0x6563_686F);
        assert_eq!(fourcc(b"func"), 0x6675_6E63);
        assert_eq!(fourcc(b"fun2"), 0x6675_6E32);
        assert_eq!(fourcc(b"none"), 0x6E6F_6E65);
        assert_eq!(fourcc_str(fourcc(b"fun2")), "fun2");
    }
}
