//! The simulated VideoCore's SMEM knobs (`/sys/kernel/debug/vchiq-sim/smem`) and
//! vc-sm-cma's `state`, and the test pattern and checksum the simulator uses.

use std::io::{Error, Result};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const SIM: &str = "/sys/kernel/debug/vchiq-sim/smem";
pub const STATE: &str = "/sys/kernel/debug/vcsm-cma/state";

/// Runs a command of the simulated SMEM service.
pub fn cmd(c: &str) -> Result<()> {
    std::fs::write(SIM, c).map_err(|e| Error::new(e.kind(), format!("smem '{c}': {e}")))
}

pub fn sim_state() -> String {
    std::fs::read_to_string(SIM).unwrap_or_default()
}

pub fn state() -> String {
    std::fs::read_to_string(STATE).unwrap_or_default()
}

/// A counter of vc-sm-cma's state (`name: N`).
pub fn counter(name: &str) -> u64 {
    let key = format!("{name}: ");
    state()
        .lines()
        .find_map(|l| l.strip_prefix(&key).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// A counter of the simulator's `smem` lines (`... name: N ...`).
pub fn sim_counter(name: &str) -> u64 {
    let key = format!("{name}: ");
    for l in sim_state().lines() {
        if let Some(i) = l.find(&key) {
            let rest = &l[i + key.len()..];
            let v: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            return v.parse().unwrap_or(0);
        }
    }
    0
}

/// vc-sm-cma's line of the buffer with VideoCore handle `h`.
pub fn buffer_line(h: u32) -> Option<String> {
    let key = format!("VC_HANDLE {h:#010x}");
    state()
        .lines()
        .find(|l| l.contains(&key))
        .map(str::to_owned)
}

/// A hexadecimal field (`NAME 0x...`) of a state line.
pub fn hex_field(line: &str, name: &str) -> Option<u64> {
    let mut w = line.split_whitespace();
    w.find(|&f| f == name)?;
    u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()
}

/// An importer attached to a vc-sm-cma buffer, from the lines under the buffer's.
pub struct Attached {
    pub dev: String,
    pub mapped: bool,
    /// The physical address of the page the importer's table points at.
    pub page: u64,
    /// Its DMA address for the importer's device (0 while not mapped).
    pub dma: u64,
}

/// The buffer with VideoCore handle `h`: its physical address and the importers attached.
pub fn attached(h: u32) -> Option<(u64, Vec<Attached>)> {
    let key = format!("VC_HANDLE {h:#010x}");
    let st = state();
    let mut lines = st.lines().skip_while(|l| !l.contains(&key));
    let phys = hex_field(lines.next()?, "PHYS")?;
    let att = lines
        .map_while(|l| l.strip_prefix("  ATTACHED "))
        .filter_map(|l| {
            let dev = l.split_whitespace().next()?.to_owned();
            Some(Attached {
                dev,
                mapped: l.contains(" MAPPED 1 "),
                page: hex_field(l, "PAGE")?,
                dma: hex_field(l, "DMA")?,
            })
        })
        .collect();
    Some((phys, att))
}

/// The simulator's line of handle `h`.
pub fn sim_handle(h: u32) -> Option<String> {
    let key = format!("handle {h:#x} ");
    sim_state()
        .lines()
        .find(|l| l.starts_with(&key))
        .map(str::to_owned)
}

/// The number of buffers vc-sm-cma tracks.
pub fn buffers() -> u64 {
    state()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Total resource count: ")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(u64::MAX)
}

/// Waits up to 20 s for `f` (a hang-catcher: a passing run waits milliseconds).
pub fn wait(what: &str, mut f: impl FnMut() -> bool) -> Result<()> {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > Duration::from_secs(20) {
            return Err(Error::other(format!("timed out waiting for {what}")));
        }
        sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Word `k` of camera frame `frame` (vchiq-sim/services/smem.rs).
pub fn camera_word(frame: u32, k: u32) -> u32 {
    match k {
        0 => 0x464d_4143,
        1 => frame,
        _ => k.wrapping_mul(2_654_435_761) ^ frame,
    }
}

/// FNV-1a, as the simulator's `checksum`.
pub fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The simulator's published checksum of handle `h`.
pub fn checksum(h: u32) -> Result<u32> {
    cmd(&format!("checksum {h:#x}"))?;
    let key = format!("checksum: {h:#x} ");
    sim_state()
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| u32::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| Error::other("no checksum published"))
}
