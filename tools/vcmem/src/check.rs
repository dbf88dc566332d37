//! `vcmem check`: vc-mem's ABI, bounds and access policy, from user space (plan `vcmem`).
//! Each check prints `ok NAME` or `not ok NAME: why`; the exit status says whether all passed.

use crate::mem::{self, dma_copy, dma_copy_raw, ioctl_get, Map, VcMem, Via};
use crate::sys;
use std::io;
use std::process::{Command, ExitCode};

const EPERM: i32 = 1;
const EFAULT: i32 = 14;
const EINVAL: i32 = 22;
const ENOTTY: i32 = 25;
const EOVERFLOW: i32 = 75;
/// The uid and gid the unprivileged checks run as.
const NOBODY: u32 = 65534;

struct Report {
    failed: u32,
    passed: u32,
}

impl Report {
    fn check(&mut self, name: &str, r: Result<(), String>) {
        match r {
            Ok(()) => {
                self.passed += 1;
                println!("ok {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("not ok {name}: {why}");
            }
        }
    }

    fn end(&self) -> ExitCode {
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

fn errno(r: io::Result<()>, want: i32) -> Result<(), String> {
    match r {
        Err(e) if e.raw_os_error() == Some(want) => Ok(()),
        Err(e) => Err(format!("{e}, want errno {want}")),
        Ok(()) => Err(format!("succeeded, want errno {want}")),
    }
}

/// A mapping far past the region: the driver's EINVAL, or EOVERFLOW from a 32-bit kernel,
/// which refuses offset + length past 2^31 on a character device before the driver sees it.
fn far(r: io::Result<()>) -> Result<(), String> {
    match r {
        Err(e) if e.raw_os_error() == Some(EOVERFLOW) => Ok(()),
        r => errno(r, EINVAL),
    }
}

fn ok(r: io::Result<()>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}

fn map(m: &VcMem, off: u64, len: usize, prot: i32) -> io::Result<()> {
    Map::new(&m.file, off, len, prot).map(drop)
}

/// `vc_mem.NAME=` of the kernel command line.
fn cmdline(name: &str) -> Option<u64> {
    let c = std::fs::read_to_string("/proc/cmdline").ok()?;
    let key = format!("vc_mem.{name}=");
    let v = c
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key.as_str()))?;
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn debugfs(name: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/sys/kernel/debug/vc-mem/{name}")).ok()?;
    u64::from_str_radix(s.trim().strip_prefix("0x")?, 16).ok()
}

fn values(m: &VcMem) -> Result<(), String> {
    if m.load != m.base {
        return Err(format!("MEM_LOAD {:#x} != MEM_BASE {:#x}", m.load, m.base));
    }
    for (name, got, dbg) in [
        ("phys_addr", m.phys_addr, "vc_mem_phys_addr"),
        ("mem_base", u64::from(m.base), "vc_mem_base"),
        ("mem_size", u64::from(m.size), "vc_mem_size"),
    ] {
        if let Some(want) = cmdline(name) {
            if got != want {
                return Err(format!("{name} {got:#x}, command line says {want:#x}"));
            }
        }
        match debugfs(dbg) {
            Some(d) if d != got => return Err(format!("{name} {got:#x}, debugfs says {d:#x}")),
            _ => {}
        }
    }
    Ok(())
}

/// The same range read through FBIODMACOPY and through mmap.
fn same_bytes(m: &VcMem, addr: u32, len: usize) -> Result<(), String> {
    let mut a = vec![0u8; len];
    let mut b = vec![0xa5u8; len];
    ok(dma_copy(&m.file, addr, &mut a))?;
    let mm = VcMem {
        file: m.file.try_clone().map_err(|e| e.to_string())?,
        via: Via::Mmap,
        ..*m
    };
    ok(mm.read(addr, &mut b))?;
    if a != b {
        let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(0);
        return Err(format!(
            "differ at {:#x}: dma {:#x}, mmap {:#x}",
            addr as usize + i,
            a[i],
            b[i]
        ));
    }
    if a.iter().all(|&x| x == 0) {
        return Err("all zero: no firmware image?".into());
    }
    Ok(())
}

/// `vcmem churn N`: N mappings of VideoCore memory made and dropped, each a window of 1-16
/// pages at a pseudo-random page of `[base, size)`, whose bytes at a pseudo-random offset must
/// equal FBIODMACOPY's of the same address (vc-mem's mmap path under churn; `make soak`).
pub fn churn(m: &VcMem, n: u32) -> Result<(), String> {
    let page = mem::page_size();
    let first = u64::from(m.base).div_ceil(page);
    let pages = (u64::from(m.size) / page).saturating_sub(first);
    if pages < 16 {
        return Err(format!(
            "{pages} pages of VideoCore memory: too few to churn"
        ));
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let len = (1 + next() % 16) * page;
        let at = (first + next() % (pages - len / page + 1)) * page;
        let map = Map::new(&m.file, at, len as usize, sys::PROT_READ)
            .map_err(|e| format!("mapping {i} ({len:#x} bytes at {at:#x}): {e}"))?;
        let off = (next() % (len - 64)) & !3;
        let (mut a, mut b) = ([0u8; 64], [1u8; 64]);
        map.read(off as usize, &mut a);
        let addr = u32::try_from(at + off).map_err(|_| "address beyond 32 bits")?;
        ok(dma_copy(&m.file, addr, &mut b))?;
        if a != b {
            return Err(format!("mapping {i}: mmap and dma differ at {addr:#x}"));
        }
    }
    println!("churn: {n} mappings of 1-16 pages, each read equal to FBIODMACOPY");
    Ok(())
}

fn alias(m: &VcMem) -> Result<(), String> {
    let (mut a, mut b) = ([0u8; 64], [1u8; 64]);
    let at = m.load + crate::symbols::HEADER_OFFSET;
    ok(dma_copy(&m.file, at, &mut a))?;
    ok(dma_copy(&m.file, at | 0xc000_0000, &mut b))?;
    if a != b {
        return Err("the uncached alias reads other bytes".into());
    }
    errno(dma_copy(&m.file, 0x7e00_0000, &mut a), EINVAL)
}

fn symbols(m: &VcMem) -> Result<(), String> {
    let syms = crate::symbols::symbols(m).map_err(|e| e.to_string())?;
    for want in ["test_var", "version_string", "service_table", "log_area"] {
        if !syms.iter().any(|s| s.name == want) {
            return Err(format!("no symbol {want}"));
        }
    }
    let v = crate::symbols::lookup(m, "version_string").map_err(|e| e.to_string())?;
    let text = m.read_cstr(v.addr).map_err(|e| e.to_string())?;
    if !text.starts_with("vchiq-rs simulated VideoCore firmware") {
        return Err(format!("version_string is {text:?}"));
    }
    let la = crate::symbols::lookup(m, "log_area").map_err(|e| e.to_string())?;
    let area = crate::log::area(m).map_err(|e| e.to_string())?;
    if (la.addr, la.size) != area {
        return Err(format!(
            "log_area {:#x}+{:#x}, /chosen/log {:#x}+{:#x}",
            la.addr, la.size, area.0, area.1
        ));
    }
    Ok(())
}

/// The message log: sequence numbers consecutive, times never going back.
fn log_order(m: &VcMem) -> Result<(), String> {
    let recs = crate::log::records(m, crate::log::Kind::Msg).map_err(|e| e.to_string())?;
    if recs.is_empty() {
        return Err("empty message log".into());
    }
    for w in recs.windows(2) {
        if w[1].seq != w[0].seq.wrapping_add(1) || w[1].time < w[0].time {
            return Err(format!(
                "record seq {} at {} ms follows seq {} at {} ms",
                w[1].seq, w[1].time, w[0].seq, w[0].time
            ));
        }
    }
    Ok(())
}

pub fn main(dev: &str) -> ExitCode {
    let mut r = Report {
        failed: 0,
        passed: 0,
    };
    let m = match VcMem::open(dev, Via::Auto) {
        Ok(m) => m,
        Err(e) => {
            r.check("open and the four ioctls", Err(e.to_string()));
            return r.end();
        }
    };
    let page = mem::page_size();
    let (base, size) = (m.base, m.size);
    r.check(
        "ioctl values agree with the command line and debugfs",
        values(&m),
    );
    r.check(
        "MEM_COPY is ENOTTY",
        errno(ioctl_get::<usize>(&m.file, sys::MEM_COPY).map(drop), ENOTTY),
    );
    r.check(
        "unknown ioctl is ENOTTY",
        errno(ioctl_get::<u32>(&m.file, 0x8004_7609).map(drop), ENOTTY),
    );
    r.check(
        "dma and mmap give the same bytes (128 KiB)",
        same_bytes(&m, base, 128 << 10),
    );
    r.check(
        "dma and mmap give the same bytes (unaligned)",
        same_bytes(&m, base + 0x27ff, 4097),
    );
    r.check("alias stripped, peripheral alias EINVAL", alias(&m));
    r.check("symbols and the log area", symbols(&m));
    r.check("message log in order", log_order(&m));
    let end = u64::from(size);
    let p = page as usize;
    r.check(
        "mmap of the last page",
        ok(map(&m, end - page, p, sys::PROT_READ)),
    );
    r.check(
        "mmap of the first page",
        ok(map(&m, u64::from(base), p, sys::PROT_READ)),
    );
    r.check(
        "mmap writable as root",
        ok(map(
            &m,
            u64::from(base),
            p,
            sys::PROT_READ | sys::PROT_WRITE,
        )),
    );
    r.check(
        "mmap past the end EINVAL",
        errno(map(&m, end - page, 2 * p, sys::PROT_READ), EINVAL),
    );
    r.check(
        "mmap at the end EINVAL",
        errno(map(&m, end, p, sys::PROT_READ), EINVAL),
    );
    r.check(
        "mmap below mem_base EINVAL",
        errno(map(&m, u64::from(base) - page, p, sys::PROT_READ), EINVAL),
    );
    r.check(
        "mmap at 0 (Linux RAM) EINVAL",
        errno(map(&m, 0, p, sys::PROT_READ), EINVAL),
    );
    r.check(
        "mmap wrapping 32 bits EINVAL (EOVERFLOW on 32-bit kernels)",
        far(map(&m, 0xffff_f000, 2 * p, sys::PROT_READ)),
    );
    r.check(
        "mmap at 2^40 EINVAL (EOVERFLOW on 32-bit kernels)",
        far(map(&m, 1 << 40, p, sys::PROT_READ)),
    );
    let mut four = [0u8; 4];
    let mut eight = [0u8; 8];
    r.check(
        "dma of the last word",
        ok(dma_copy(&m.file, size - 4, &mut four)),
    );
    r.check(
        "dma past the end EINVAL",
        errno(dma_copy(&m.file, size - 4, &mut eight), EINVAL),
    );
    r.check("dma of nothing", ok(dma_copy(&m.file, size - 4, &mut [])));
    r.check(
        "dma below mem_base EINVAL",
        errno(dma_copy(&m.file, base - 4, &mut four), EINVAL),
    );
    r.check(
        "dma wrapping 32 bits EINVAL",
        errno(
            dma_copy_raw(&m.file, 0x3fff_fff0, four.as_mut_ptr().cast(), 0xffff_fff0),
            EINVAL,
        ),
    );
    r.check(
        "dma of 4 GiB - 1 EINVAL",
        errno(
            dma_copy_raw(&m.file, base, four.as_mut_ptr().cast(), u32::MAX),
            EINVAL,
        ),
    );
    r.check(
        "dma to a bad pointer EFAULT",
        errno(dma_copy_raw(&m.file, base, std::ptr::null_mut(), 4), EFAULT),
    );
    r.check(
        "unprivileged: read-only mmap, no dma, no writable mmap",
        unprivileged_child(dev),
    );
    r.end()
}

fn unprivileged_child(dev: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--dev", dev, "check-unprivileged"])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout)
            .trim()
            .replace('\n', "; "))
    }
}

/// Opens the device as root, then drops to nobody: what a member of `video` could do with a
/// file it may open.
pub fn unprivileged(dev: &str) -> ExitCode {
    let m = match VcMem::open(dev, Via::Auto) {
        Ok(m) => m,
        Err(e) => {
            println!("open: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SAFETY: plain system calls; the group first, while still allowed to change it.
    if unsafe { sys::setgid(NOBODY) } != 0 || unsafe { sys::setuid(NOBODY) } != 0 {
        println!("setuid: {}", io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    let mut r = Report {
        failed: 0,
        passed: 0,
    };
    let p = mem::page_size() as usize;
    let mut four = [0u8; 4];
    r.check(
        "ioctls",
        ok(ioctl_get::<u32>(&m.file, sys::MEM_SIZE).map(drop)),
    );
    r.check(
        "read-only mmap",
        ok(map(&m, u64::from(m.base), p, sys::PROT_READ)),
    );
    r.check(
        "dma EPERM",
        errno(dma_copy(&m.file, m.base, &mut four), EPERM),
    );
    r.check(
        "writable mmap EPERM",
        errno(
            map(&m, u64::from(m.base), p, sys::PROT_READ | sys::PROT_WRITE),
            EPERM,
        ),
    );
    r.end()
}
