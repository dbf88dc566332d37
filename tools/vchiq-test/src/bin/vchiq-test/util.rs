//! Shared helpers: the echo service's protocol, data patterns and page-aligned buffers
//! with guard bytes.

use std::io;
use std::time::Duration;
use vchiq_test::{fourcc, Service};

pub const ECHO: i32 = fourcc(b"echo");
pub const FUNC: i32 = fourcc(b"func");
pub const FUN2: i32 = fourcc(b"fun2");
pub const NONE: i32 = fourcc(b"none");
pub const TEST_VER: i16 = 3;
pub const PAGE: usize = 4096;
pub const WAIT: Duration = Duration::from_secs(20);

pub const MSG_ONEWAY: i32 = 1;
pub const MSG_ASYNC: i32 = 2;
pub const MSG_SYNC: i32 = 3;
pub const MSG_CONFIG: i32 = 4;
pub const MSG_ECHO: i32 = 5;

/// `struct test_params` of the echo service (40 bytes).
pub fn test_params(blocksize: i32, iters: i32, verify: bool, echo: bool) -> [u8; 40] {
    let words = [
        MSG_CONFIG,
        blocksize,
        iters,
        verify as i32,
        echo as i32,
        1,
        0,
        0,
        0,
        0,
    ];
    let mut out = [0u8; 40];
    for (i, w) in words.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Sends MSG_CONFIG and waits for the echo service's reply (one NUL byte).
pub fn configure(s: &Service, blocksize: usize, iters: i32, echo: bool) -> io::Result<()> {
    let p = test_params(blocksize as i32, iters, false, echo);
    s.send(&[&p])?;
    loop {
        let reply = s.recv_any(WAIT)?;
        if reply.is_empty() {
            continue; // a late zero-length ASYNC reply
        }
        if reply == [0] {
            return Ok(());
        }
        return Err(io::Error::other(format!(
            "server error: {}",
            String::from_utf8_lossy(&reply)
        )));
    }
}

/// A message for the echo service: MSG_ECHO then a pattern depending on `seed`.
pub fn echo_message(size: usize, seed: u32) -> Vec<u8> {
    let mut m: Vec<u8> = (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(seed.wrapping_mul(7)) as u8
        })
        .collect();
    let n = size.min(4);
    m[..n].copy_from_slice(&MSG_ECHO.to_le_bytes()[..n]);
    m
}

/// A bulk pattern: distinct per `seed`, every byte position-dependent.
pub fn pattern(buf: &mut [u8], seed: u32) {
    let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
    for (i, b) in buf.iter_mut().enumerate() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = (x as u8) ^ (i as u8);
    }
}

/// The fun2 pattern (firmware-services.md §1.7).
pub fn fun2_pattern(buf: &mut [u8]) {
    let n = buf.len();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = if i + 1 == n {
            0
        } else if i % 32 == 0 {
            (i >> 5) as u8
        } else {
            i as u8
        };
    }
}

/// The first differing index of two slices, if any.
pub fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Memory with a page-aligned base, for buffers at chosen alignments with guards around.
pub struct Aligned {
    mem: Vec<u8>,
    base: usize,
}

impl Aligned {
    /// At least `len` bytes after a page-aligned base (plus a page of slack either side).
    pub fn new(len: usize) -> Self {
        let mem = vec![0u8; len + 3 * PAGE];
        let start = mem.as_ptr() as usize;
        let base = (start + PAGE).next_multiple_of(PAGE) - start;
        Aligned { mem, base }
    }

    /// The region `[off, off + len)` relative to the aligned base (off may be negative
    /// down to -PAGE).
    pub fn region(&mut self, off: isize, len: usize) -> &mut [u8] {
        let s = (self.base as isize + off) as usize;
        &mut self.mem[s..s + len]
    }

    /// The address of `off` relative to the aligned base.
    pub fn addr(&mut self, off: isize) -> *mut u8 {
        let s = (self.base as isize + off) as usize;
        self.mem[s..].as_mut_ptr()
    }
}
