//! The checks of plan `vcsm`, one per subcommand; each returns the first failure.

use crate::dev::{self, Buf, Map, PAGE};
use crate::sim;
use crate::sys;
use std::fs::File;
use std::io::Error;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub type R = Result<(), String>;

const EINVAL: i32 = 22;
const EFAULT: i32 = 14;
const EBADF: i32 = 9;
const ENOTTY: i32 = 25;
const ENOMEM: i32 = 12;
const ETIMEDOUT: i32 = 110;

pub(crate) fn s(e: Error) -> String {
    e.to_string()
}

pub(crate) fn ensure(ok: bool, what: &str) -> R {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

/// `r` must have failed with `errno`.
fn errno<T>(what: &str, r: std::io::Result<T>, errno: i32) -> R {
    match r {
        Ok(_) => Err(format!("{what}: succeeded, expected errno {errno}")),
        Err(e) if e.raw_os_error() == Some(errno) => Ok(()),
        Err(e) => Err(format!("{what}: {e}, expected errno {errno}")),
    }
}

pub(crate) fn open() -> Result<File, String> {
    dev::open().map_err(|e| format!("{}: {e}", dev::DEV))
}

/// A CLEAN_INVALID2 of one block.
fn clean(
    dev: &File,
    mode: u32,
    addr: usize,
    size: u32,
    count: u32,
    stride: u32,
) -> std::io::Result<()> {
    let mut c = sys::CleanInvalid2 {
        op_count: 1,
        pad: 0,
        blocks: [sys::Block {
            invalidate_mode: mode,
            block_count: count,
            start_address: addr,
            block_size: size,
            inter_block_stride: stride,
        }],
    };
    dev::ioctl(dev.as_raw_fd(), sys::CLEAN_INVALID2, &mut c)
}

/// Every ioctl's errors, and the successes they are next to.
pub fn abi() -> R {
    let d = open()?;
    let fd = d.as_raw_fd();
    errno("ALLOC size 0", dev::alloc(&d, 0, 0, "zero"), EINVAL)?;
    errno("ALLOC cached 7", dev::alloc(&d, 4096, 7, "bad"), EINVAL)?;
    errno(
        "ALLOC 512 MiB",
        dev::alloc(&d, 512 << 20, 0, "huge"),
        EINVAL,
    )?;
    let mut a = sys::Alloc::default();
    errno("command 0x5d", dev::ioctl(fd, 0x8040_4a5d, &mut a), EINVAL)?;
    errno("magic 'K'", dev::ioctl(fd, 0x8040_4b5a, &mut a), ENOTTY)?;
    errno(
        "ALLOC bad pointer",
        dev::ioctl(fd, sys::ALLOC, std::ptr::dangling_mut::<sys::Alloc>()),
        EFAULT,
    )?;
    errno("IMPORT fd -1", dev::import(&d, -1), EBADF)?;
    let null = File::open("/dev/null").map_err(s)?;
    errno(
        "IMPORT /dev/null",
        dev::import(&d, null.as_raw_fd()),
        EINVAL,
    )?;
    let two = dev::udmabuf(3, &[2, 0]).map_err(s)?;
    errno(
        "IMPORT two segments",
        dev::import(&d, two.as_raw_fd()),
        EINVAL,
    )?;
    let one = dev::udmabuf(1, &[0]).map_err(s)?;
    let imp = dev::import(&d, one.as_raw_fd()).map_err(|e| format!("IMPORT one page: {e}"))?;
    ensure(
        imp.size == PAGE && imp.vc_handle != 0,
        "IMPORT: size and handle",
    )?;
    // The fds are close-on-exec, as downstream's.
    // SAFETY: F_GETFD on our fd.
    let flags = unsafe { sys::fcntl(imp.fd.as_raw_fd(), 1) };
    ensure(flags & 1 == 1, "IMPORT's fd is not close-on-exec")?;

    let b = dev::alloc(&d, 3 * PAGE as u32, 1, "abi").map_err(|e| format!("ALLOC: {e}"))?;
    ensure(
        b.vc_handle != 0 && b.dma_addr != 0 && b.dma_addr < 1 << 32,
        "ALLOC's answer",
    )?;
    // SAFETY: F_GETFD on our fd.
    let flags = unsafe { sys::fcntl(b.fd.as_raw_fd(), 1) };
    ensure(flags & 1 == 1, "ALLOC's fd is not close-on-exec")?;
    let again = dev::import(&d, b.fd.as_raw_fd()).map_err(|e| format!("IMPORT own: {e}"))?;
    ensure(
        again.dma_addr == b.dma_addr && again.vc_handle != b.vc_handle,
        "IMPORT of own buffer",
    )?;
    ensure(again.size == b.size, "IMPORT of own buffer: size")?;

    let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
    let mut c0 = sys::CleanInvalid2::<0> {
        op_count: 0,
        pad: 0,
        blocks: [],
    };
    dev::ioctl(fd, sys::CLEAN_INVALID2, &mut c0)
        .map_err(|e| format!("CLEAN_INVALID2 of 0: {e}"))?;
    c0.op_count = 5000;
    errno(
        "CLEAN_INVALID2 5000 blocks",
        dev::ioctl(fd, sys::CLEAN_INVALID2, &mut c0),
        EINVAL,
    )?;
    for mode in 1..=3 {
        clean(&d, mode, m.addr(), PAGE as u32, 3, PAGE as u32)
            .map_err(|e| format!("CLEAN_INVALID2 mode {mode}: {e}"))?;
    }
    clean(&d, 0, 16, 1, 1, 0).map_err(|e| format!("CLEAN_INVALID2 NOP: {e}"))?;
    errno(
        "CLEAN_INVALID2 mode 4",
        clean(&d, 4, m.addr(), 64, 1, 0),
        EINVAL,
    )?;
    errno(
        "CLEAN_INVALID2 past the end",
        clean(&d, 1, m.addr(), PAGE as u32, 4, PAGE as u32),
        EINVAL,
    )?;
    let local = [0u8; 64];
    errno(
        "CLEAN_INVALID2 not a buffer",
        clean(&d, 2, local.as_ptr() as usize, 64, 1, 0),
        EINVAL,
    )?;
    Ok(())
}

/// Fills `m` with a CPU pattern (sync around it) and has the VideoCore check it.
fn cpu_to_vc(b: &Buf, m: &Map, seed: u32) -> R {
    cpu_fill(b.fd.as_raw_fd(), m, seed)?;
    vc_sum(m, b.vc_handle, "after the CPU's write")
}

/// The CPU's pattern of `seed` into `m` (a mapping of the dma-buf `fd`), inside
/// DMA_BUF_IOCTL_SYNC.
pub(crate) fn cpu_fill(fd: RawFd, m: &Map, seed: u32) -> R {
    dev::sync(fd, true).map_err(s)?;
    for i in 0..m.words() {
        m.set_word(i, (i as u32).wrapping_mul(0x9e37_79b9) ^ seed);
    }
    dev::sync(fd, false).map_err(s)
}

/// The VideoCore's checksum of handle `vc` (read by bus address) must be the CPU's of `m`.
pub(crate) fn vc_sum(m: &Map, vc: u32, what: &str) -> R {
    let want = sim::fnv1a(&m.to_vec());
    let got = sim::checksum(vc).map_err(s)?;
    ensure(
        got == want,
        &format!("{what}: VideoCore's checksum {got:#x}, CPU's {want:#x}"),
    )
}

/// The VideoCore writes frame `frame`; the CPU must read it bit for bit.
fn vc_to_cpu(b: &Buf, m: &Map, frame: u32) -> R {
    sim::cmd(&format!("camera {:#x} {frame}", b.vc_handle)).map_err(s)?;
    dev::sync(b.fd.as_raw_fd(), true).map_err(s)?;
    let bad = (0..m.words()).find(|&k| m.word(k) != sim::camera_word(frame, k as u32));
    dev::sync(b.fd.as_raw_fd(), false).map_err(s)?;
    match bad {
        None => Ok(()),
        Some(k) => Err(format!("frame {frame} word {k}: {:#x}", m.word(k))),
    }
}

pub(crate) fn gone(h: u32) -> R {
    sim::wait(&format!("buffer {h:#x} to go"), || {
        sim::buffer_line(h).is_none() && sim::sim_handle(h).is_none()
    })
    .map_err(s)
}

/// libvcsm's flows (firmware-services §4.7): alloc + mmap + sync, export by dup, free by close.
pub fn flow(cached: u32) -> R {
    let d = open()?;
    let b = dev::alloc(&d, 100_000, cached, "flow").map_err(s)?;
    ensure(b.size == 102_400, "size rounded to pages")?;
    let line = sim::buffer_line(b.vc_handle).ok_or("buffer not in state")?;
    ensure(
        line.contains("NAME flow ") && line.contains("SIZE 102400"),
        &line,
    )?;
    let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
    cpu_to_vc(&b, &m, 1)?;
    vc_to_cpu(&b, &m, 1)?;
    // Export by dup, then close the original: the buffer lives on.
    let dup: OwnedFd = b.fd.try_clone().map_err(s)?;
    let h = b.vc_handle;
    drop(b.fd);
    let m2 = Map::new(dup.as_raw_fd(), b.size).map_err(s)?;
    ensure(m2.word(0) == sim::camera_word(1, 0), "the dup's mapping")?;
    ensure(
        sim::sim_handle(h).is_some(),
        "the VideoCore lost the buffer",
    )?;
    drop(dup);
    drop(m2);
    ensure(sim::buffer_line(h).is_some(), "freed while still mapped")?;
    drop(m);
    gone(h)
}

/// The simulated camera's frames through a buffer, several frames.
pub fn camera(cached: u32) -> R {
    let d = open()?;
    let b = dev::alloc(&d, 64 << 10, cached, "camera").map_err(s)?;
    let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
    for frame in 1..=3 {
        vc_to_cpu(&b, &m, frame)?;
        cpu_to_vc(&b, &m, frame)?;
    }
    let h = b.vc_handle;
    drop(m);
    drop(b);
    gone(h)
}

/// A foreign dma-buf (udmabuf, one page) imported: the VideoCore writes the very pages.
pub fn import() -> R {
    let d = open()?;
    let u = dev::udmabuf(1, &[0]).map_err(s)?;
    let orig = Map::new(u.as_raw_fd(), PAGE).map_err(s)?;
    let b = dev::import(&d, u.as_raw_fd()).map_err(s)?;
    let line = sim::buffer_line(b.vc_handle).ok_or("import not in state")?;
    ensure(
        line.contains("TYPE import") && line.contains("sm-host-resource"),
        &line,
    )?;
    let fwd = Map::new(b.fd.as_raw_fd(), PAGE).map_err(s)?;
    sim::cmd(&format!("camera {:#x} 9", b.vc_handle)).map_err(s)?;
    dev::sync(u.as_raw_fd(), true).map_err(s)?;
    for k in 0..PAGE / 4 {
        let want = sim::camera_word(9, k as u32);
        ensure(orig.word(k) == want, &format!("original's word {k}"))?;
        ensure(fwd.word(k) == want, &format!("re-export's word {k}"))?;
    }
    dev::sync(u.as_raw_fd(), false).map_err(s)?;
    cpu_to_vc(&b, &fwd, 5)?;
    let written = fwd.to_vec();
    let h = b.vc_handle;
    drop(fwd);
    drop(b);
    gone(h)?;
    ensure(orig.to_vec() == written, "the original after the free")
}

/// An own buffer imported again with IMPORT_DMABUF: vc-sm-cma as an importer that maps (for
/// the VideoCore's device) is given a table of the buffer's own page, and the import's bus
/// address is the buffer's, so the VideoCore reaches the very bytes the CPU wrote through
/// either handle.
pub fn reimport() -> R {
    let d = open()?;
    let a = dev::alloc(&d, PAGE as u32, 0, "reimport").map_err(s)?;
    let m = Map::new(a.fd.as_raw_fd(), PAGE).map_err(s)?;
    let b = dev::import(&d, a.fd.as_raw_fd()).map_err(|e| format!("IMPORT_DMABUF: {e}"))?;
    let (phys, att) = sim::attached(a.vc_handle).ok_or("buffer not in state")?;
    ensure(
        att.len() == 1 && att[0].mapped && att[0].page == phys && att[0].dma == a.dma_addr,
        &format!(
            "the import's attachment: {:?}, the buffer's page {phys:#x}",
            att.iter()
                .map(|x| format!(
                    "{} mapped {} page {:#x} dma {:#x}",
                    x.dev, x.mapped, x.page, x.dma
                ))
                .collect::<Vec<_>>()
        ),
    )?;
    ensure(
        b.dma_addr == a.dma_addr && b.vc_handle != a.vc_handle,
        &format!(
            "import: bus address {:#x} handle {:#x}; buffer {:#x} {:#x}",
            b.dma_addr, b.vc_handle, a.dma_addr, a.vc_handle
        ),
    )?;
    cpu_fill(a.fd.as_raw_fd(), &m, 7)?;
    vc_sum(&m, a.vc_handle, "through the buffer's handle")?;
    vc_sum(&m, b.vc_handle, "through the import's handle")?;
    let (ha, hb) = (a.vc_handle, b.vc_handle);
    drop(b);
    gone(hb)?;
    // The import's memory (and with it its attachment) goes just after its state line.
    sim::wait("the import's attachment to go", || {
        sim::attached(ha).is_some_and(|(_, att)| att.is_empty())
    })
    .map_err(s)?;
    drop(m);
    drop(a);
    gone(ha)
}

/// RELEASED after FREE (the VideoCore still holds it) and before FREE.
pub fn released() -> R {
    let d = open()?;
    let b = dev::alloc(&d, 8192, 0, "held").map_err(s)?;
    let h = b.vc_handle;
    sim::cmd(&format!("hold {h:#x}")).map_err(s)?;
    drop(b);
    sim::wait("FREE", || {
        sim::sim_handle(h).is_some_and(|l| l.ends_with("arm 0 vc 1"))
    })
    .map_err(s)?;
    let line = sim::buffer_line(h).ok_or("freed before RELEASED")?;
    ensure(line.contains("VC freeing LINUX 0"), &line)?;
    sim::cmd(&format!("unhold {h:#x}")).map_err(s)?;
    gone(h)?;

    let early = sim::counter("released_early");
    let frees = sim::sim_counter("frees");
    let b = dev::alloc(&d, 8192, 0, "early").map_err(s)?;
    let h = b.vc_handle;
    sim::cmd(&format!("release {h:#x}")).map_err(s)?;
    sim::wait("RELEASED", || {
        sim::buffer_line(h).is_some_and(|l| l.contains("VC released LINUX 1"))
    })
    .map_err(s)?;
    ensure(
        sim::counter("released_early") == early + 1,
        "released_early",
    )?;
    drop(b);
    sim::wait("the buffer to go", || sim::buffer_line(h).is_none()).map_err(s)?;
    ensure(
        sim::sim_counter("frees") == frees,
        "FREE sent after RELEASED",
    )
}

/// The SMEM fault knobs (vc-sm-cma loaded with a short timeout_ms).
pub fn faults() -> R {
    let d = open()?;
    let base = sim::buffers();
    let set = |f: u32| sim::cmd(&format!("fault {f}")).map_err(s);

    let refused = sim::counter("refused");
    set(1)?;
    let r = dev::alloc(&d, 4096, 0, "refused");
    set(0)?;
    errno("IMPORT answered with handle 0", r, ENOMEM)?;
    ensure(sim::counter("refused") == refused + 1, "refused")?;

    let unmatched = sim::counter("unmatched");
    let timeouts = sim::counter("timeouts");
    set(2)?;
    let r = dev::alloc(&d, 4096, 0, "wrong-id");
    set(0)?;
    errno("IMPORT answered with a wrong trans_id", r, ETIMEDOUT)?;
    ensure(sim::counter("unmatched") == unmatched + 1, "unmatched")?;
    ensure(sim::counter("timeouts") == timeouts + 1, "timeouts")?;
    // The VideoCore has the buffer; its RELEASED ends it.
    let st = sim::sim_state();
    let h = st
        .lines()
        .rfind(|l| l.starts_with("handle ") && l.ends_with("arm 1 vc 0"))
        .and_then(|l| l.split_whitespace().nth(1))
        .ok_or("no handle for the unanswered import")?
        .to_owned();
    ensure(
        sim::buffers() == base + 1,
        "the unanswered import is tracked",
    )?;
    sim::cmd(&format!("release {h}")).map_err(s)?;
    sim::wait("the unanswered import to go", || sim::buffers() == base).map_err(s)?;

    let late = sim::counter("late");
    set(3)?;
    let r = dev::alloc(&d, 4096, 0, "late");
    set(0)?;
    errno("IMPORT answered late", r, ETIMEDOUT)?;
    sim::cmd("late").map_err(s)?;
    sim::wait("the late answer", || sim::counter("late") == late + 1).map_err(s)?;
    sim::wait("the late import to go", || sim::buffers() == base).map_err(s)?;

    let unmatched = sim::counter("unmatched");
    set(4)?;
    let b = dev::alloc(&d, 4096, 0, "answered-free").map_err(s)?;
    let h = b.vc_handle;
    drop(b);
    gone(h)?;
    set(0)?;
    sim::wait("the answer to FREE thrown away", || {
        sim::counter("unmatched") == unmatched + 1
    })
    .map_err(s)?;

    let bad = sim::counter("bad_released");
    sim::cmd("released 999999").map_err(s)?;
    sim::wait("RELEASED of an unknown id", || {
        sim::counter("bad_released") == bad + 1
    })
    .map_err(s)?;

    let (unknown, malformed, unmatched) = (
        sim::counter("unknown"),
        sim::counter("malformed"),
        sim::counter("unmatched"),
    );
    sim::cmd("garbage").map_err(s)?;
    sim::wait("the garbage counted", || {
        sim::counter("unknown") == unknown + 1
            && sim::counter("malformed") == malformed + 4
            && sim::counter("unmatched") == unmatched + 1
    })
    .map_err(s)?;
    ensure(sim::buffers() == base, "buffers left over")
}

/// A process killed while it waits for an answer: the late answer frees the buffer.
pub fn interrupt(exe: &str) -> R {
    let base = sim::buffers();
    let interrupted = sim::counter("interrupted");
    let late = sim::counter("late");
    sim::cmd("fault 3").map_err(s)?;
    let mut child = std::process::Command::new(exe)
        .arg("alloc-once")
        .spawn()
        .map_err(s)?;
    let r = sim::wait("the child's import", || {
        sim::state().contains("VC importing LINUX 1")
    });
    let _ = child.kill();
    let _ = child.wait();
    sim::cmd("fault 0").map_err(s)?;
    r.map_err(s)?;
    sim::wait("the interrupted wait", || {
        sim::counter("interrupted") == interrupted + 1
    })
    .map_err(s)?;
    ensure(
        sim::state().contains("VC importing LINUX 0"),
        "abandoned import not kept",
    )?;
    sim::cmd("late").map_err(s)?;
    sim::wait("the late answer", || sim::counter("late") == late + 1).map_err(s)?;
    sim::wait("the abandoned import to go", || sim::buffers() == base).map_err(s)
}

/// The VideoCore asks for memory, uses it and gives it back; impossible requests fail.
pub fn request() -> R {
    let base = sim::buffers();
    let served = sim::counter("mem_requests");
    sim::cmd("request 100000 4096").map_err(s)?;
    sim::wait("the request served", || {
        sim::counter("mem_requests") == served + 1
    })
    .map_err(s)?;
    sim::wait("the VideoCore's handle", || {
        sim::sim_state().contains("request: kernel_id")
    })
    .map_err(s)?;
    let st = sim::sim_state();
    let h = st
        .lines()
        .rfind(|l| {
            l.starts_with("handle ") && l.contains("size 100000") && l.ends_with("arm 0 vc 1")
        })
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .ok_or("no handle for the request")?;
    let line = sim::buffer_line(h).ok_or("request not in state")?;
    ensure(
        line.contains("NAME sim-vc-request SIZE 102400") && line.contains("LINUX 0"),
        &line,
    )?;
    sim::cmd(&format!("camera {h:#x} 4")).map_err(s)?;
    let pattern: Vec<u8> = (0..25_000u32)
        .flat_map(|k| sim::camera_word(4, k).to_le_bytes())
        .collect();
    let got = sim::checksum(h).map_err(s)?;
    ensure(
        got == sim::fnv1a(&pattern),
        "checksum of the VideoCore's own frame",
    )?;
    sim::cmd(&format!("release {h:#x}")).map_err(s)?;
    sim::wait("the request's memory to go", || sim::buffers() == base).map_err(s)?;

    let refused = sim::counter("mem_requests_refused");
    for r in ["request 0x7fffffff 4096", "request 4096 3"] {
        sim::cmd(r).map_err(s)?;
    }
    sim::wait("refused requests", || {
        sim::counter("mem_requests_refused") == refused + 2
    })
    .map_err(s)?;
    ensure(
        sim::sim_state().contains("request: kernel_id 0 bus 0x0"),
        "refusal's answer",
    )?;
    ensure(sim::buffers() == base, "buffers left over")
}

/// Protocol 1 (no acknowledgement): FREE is final.
pub fn v1() -> R {
    ensure(sim::state().contains("protocol: 1"), "not protocol 1")?;
    let d = open()?;
    let b = dev::alloc(&d, 4096, 0, "v1").map_err(s)?;
    let h = b.vc_handle;
    drop(b);
    gone(h)
}

/// `n` alloc/map/free and import/free cycles, then nothing left.
pub fn cycles(n: u32) -> R {
    let d = open()?;
    let base = sim::buffers();
    for i in 0..n {
        let b = dev::alloc(&d, 4096 << (i % 4), i % 2, "cycle")
            .map_err(|e| format!("cycle {i}: {e}"))?;
        let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
        m.set_word(0, i);
        let imp = dev::import(&d, b.fd.as_raw_fd()).map_err(|e| format!("cycle {i}: {e}"))?;
        ensure(imp.dma_addr == b.dma_addr, "re-import's address")?;
    }
    sim::wait("every cycle's buffers to go", || sim::buffers() == base).map_err(s)
}

/// Allocates and maps `n` buffers, says "ready" and waits to be killed.
pub fn hold(n: u32) -> R {
    let d = open()?;
    let mut keep = Vec::new();
    for _ in 0..n {
        let b = dev::alloc(&d, 16384, 1, "hold").map_err(s)?;
        let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
        keep.push((b, m));
    }
    // Only the buffers keep the module busy now, not the device file.
    drop(d);
    println!("ready");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// One ALLOC (for `interrupt`'s child).
pub fn alloc_once() -> R {
    let d = open()?;
    dev::alloc(&d, 4096, 0, "once").map(drop).map_err(s)
}

/// The child of [`kill_cleaning`]: one CLEAN_INVALID2 of 1024 blocks, each 65,536 passes over
/// a cached 1 MiB buffer (64 TiB of cache maintenance, hours even on hardware); prints
/// "cleaning" just before it.
pub fn clean_forever() -> R {
    use std::io::Write;
    let d = open()?;
    let b = dev::alloc(&d, 1 << 20, 1, "forever").map_err(s)?;
    let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
    let block = sys::Block {
        invalidate_mode: 3,
        block_count: 65_536,
        start_address: m.addr(),
        block_size: b.size as u32,
        inter_block_stride: 0,
    };
    let mut c = Box::new(sys::CleanInvalid2::<1024> {
        op_count: 1024,
        pad: 0,
        blocks: [block; 1024],
    });
    println!("cleaning");
    std::io::stdout().flush().map_err(s)?;
    dev::ioctl(d.as_raw_fd(), sys::CLEAN_INVALID2, &mut *c).map_err(s)?;
    Err("a CLEAN_INVALID2 of 64 TiB ended".into())
}

/// The kernel time process `pid` has used, in clock ticks (`/proc/PID/stat`'s stime), or 0.
fn system_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's ")": state is field 3, stime field 15.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(12))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A process inside a CLEAN_INVALID2 that would run for hours dies when killed: the ioctl
/// gives way to a fatal signal between two ranges.
pub fn kill_cleaning(exe: &str) -> R {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let mut child = std::process::Command::new(exe)
        .arg("clean-forever")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(s)?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .map_err(s)?;
    }
    if line.trim() != "cleaning" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("the child did not start cleaning: {line:?}"));
    }
    // Inside the ioctl once the child has spent 0.2 s in the kernel (stime, in ticks of
    // 1/100 s), however slow the machine: only then is the kill a test.
    let start = Instant::now();
    while system_ticks(child.id()) < 20 {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the child spent no time in CLEAN_INVALID2 for 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().map_err(s)?;
    let killed = Instant::now();
    while killed.elapsed() < Duration::from_secs(10) {
        if child.try_wait().map_err(s)?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("still in CLEAN_INVALID2 10 s after SIGKILL".into())
}
