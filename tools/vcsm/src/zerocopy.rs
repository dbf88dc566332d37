//! Zero copy between the VideoCore and a DRM device, both ways (Documentation/vc-sm-cma.rst):
//!
//! - `display`: a vc-sm-cma buffer the simulated camera fills (by bus address) is PRIME-imported
//!   into VKMS as a framebuffer and shown on the primary plane; the frame VKMS composes is
//!   written back through its writeback connector into a dumb buffer and must equal the
//!   camera's pattern, twice (a second frame into the same buffer, no new import: VKMS reads
//!   the memory itself, not a copy taken at import). The kernel's dma-buf list shows VKMS
//!   attached to the buffer.
//! - `vgem`: a VGEM buffer exported as a dma-buf, written by the CPU, imported with
//!   IMPORT_DMABUF; the VideoCore's checksum (read by bus address) must match, again after a
//!   second write through the same mapping.

use crate::check::{cpu_fill, ensure, gone, open, s, vc_sum, R};
use crate::dev::{self, Map, PAGE};
use crate::kms::{self, Card, Pipe};
use crate::sim;
use crate::sys;
use drm::buffer::{Buffer as _, DrmFourcc};
use drm::control::Device as _;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

/// The kernel's list of dma-bufs and their attachments.
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";

/// The exporter's name and the devices attached to the dma-buf `fd`, from [`BUFINFO`].
fn attached(fd: &OwnedFd) -> Result<(String, Vec<String>), String> {
    let ino = File::from(fd.try_clone().map_err(s)?)
        .metadata()
        .map_err(s)?
        .ino();
    let info = std::fs::read_to_string(BUFINFO).map_err(|e| format!("{BUFINFO}: {e}"))?;
    let mut lines = info.lines();
    while let Some(l) = lines.next() {
        // size, flags, mode, count, exp_name, ino, name
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 6 || f[5].parse::<u64>() != Ok(ino) {
            continue;
        }
        let devs = lines
            .skip_while(|l| !l.contains("Attached Devices:"))
            .skip(1)
            .take_while(|l| !l.starts_with("Total "))
            .map(|l| l.trim().to_owned())
            .collect();
        return Ok((f[4].to_owned(), devs));
    }
    Err(format!("dma-buf inode {ino} not in {BUFINFO}"))
}

/// Waits up to 20 s for the sync_file `fence` to signal.
fn wait_fence(fence: &OwnedFd) -> R {
    let mut p = sys::PollFd {
        fd: fence.as_raw_fd(),
        events: sys::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid `struct pollfd` that lives across the call.
    let r = unsafe { sys::poll(&mut p, 1, 20_000) };
    match r {
        1 => Ok(()),
        0 => Err("the writeback fence did not signal in 20 s".to_owned()),
        _ => Err(format!("poll: {}", std::io::Error::last_os_error())),
    }
}

/// The first pixel of the written-back frame (`pitch` bytes a line) whose colour is not word
/// `k` of camera frame `frame`. XRGB8888's X byte is padding (VKMS writes 0xff), so a pixel's
/// 24 colour bits are compared.
fn first_bad(frame_px: &[u8], (w, h): (u32, u32), pitch: u32, frame: u32) -> Option<String> {
    for y in 0..h {
        for x in 0..w {
            let o = (y * pitch + x * 4) as usize;
            let Some(&[a, b, c, d]) = frame_px.get(o..o + 4) else {
                return Some(format!(
                    "the written-back frame ends at byte {}: pixel ({x},{y})",
                    frame_px.len()
                ));
            };
            let px = u32::from_le_bytes([a, b, c, d]);
            let want = sim::camera_word(frame, y * w + x);
            if (px ^ want) & 0x00ff_ffff != 0 {
                return Some(format!(
                    "frame {frame} pixel ({x},{y}): {px:#010x}, VideoCore wrote {want:#010x}"
                ));
            }
        }
    }
    None
}

/// The camera's frame into `b`, shown by VKMS, written back into `out` and compared.
fn show_frame(
    card: &Card,
    pipe: &Pipe,
    b: &dev::Buf,
    fbs: (
        drm::control::framebuffer::Handle,
        drm::control::framebuffer::Handle,
    ),
    out: &mut drm::control::dumbbuffer::DumbBuffer,
    frame: u32,
) -> R {
    sim::cmd(&format!("camera {:#x} {frame}", b.vc_handle)).map_err(s)?;
    // VKMS reads through the exporter's kernel mapping without CPU-access calls of its own:
    // hand the VideoCore's writes to the CPU (an invalidation for cached memory).
    dev::sync(b.fd.as_raw_fd(), true).map_err(s)?;
    dev::sync(b.fd.as_raw_fd(), false).map_err(s)?;
    let fence = pipe
        .show(card, fbs.0, fbs.1)
        .map_err(|e| format!("atomic commit: {e}"))?;
    wait_fence(&fence)?;
    let pitch = out.pitch();
    let map = card
        .map_dumb_buffer(out)
        .map_err(|e| format!("map the writeback buffer: {e}"))?;
    match first_bad(&map, pipe.size(), pitch, frame) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// `vcsm display [CACHED]`.
pub fn display(cached: u32) -> R {
    let card = Card::open("vkms").map_err(s)?;
    card.enable_writeback()
        .map_err(|e| format!("client capabilities: {e}"))?;
    let pipe = Pipe::find(&card).map_err(|e| format!("VKMS pipe: {e}"))?;
    let (w, h) = pipe.size();
    let d = open()?;
    let b = dev::alloc(&d, w * h * 4, cached, "display").map_err(s)?;
    let (bo, fb) = kms::import_fb(&card, b.fd.as_fd(), (w, h))
        .map_err(|e| format!("PRIME import and AddFB2: {e}"))?;
    let (exporter, devs) = attached(&b.fd)?;
    ensure(
        exporter == "vcsm-cma" && devs.iter().any(|d| d == "vkms"),
        &format!("bufinfo: exporter {exporter}, attached {devs:?}"),
    )?;
    // vc-sm-cma's own state lists VKMS's attachment too (VKMS leaves it unmapped: it reads
    // through the exporter's kernel mapping, as shmem-helper imports do).
    let (phys, att) = sim::attached(b.vc_handle).ok_or("display buffer not in state")?;
    ensure(
        att.iter().any(|a| a.dev == "vkms"),
        &format!(
            "vc-sm-cma's state lists no VKMS attachment: {:?}",
            att.iter().map(|a| a.dev.as_str()).collect::<Vec<_>>()
        ),
    )?;
    let mut out = card
        .create_dumb_buffer((w, h), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("writeback dumb buffer: {e}"))?;
    let out_fb = card.add_framebuffer(&out, 24, 32).map_err(s)?;
    for frame in 1..=2 {
        show_frame(&card, &pipe, &b, (fb, out_fb), &mut out, frame)?;
    }
    pipe.off(&card).map_err(|e| format!("pipe off: {e}"))?;
    card.destroy_framebuffer(fb).map_err(s)?;
    card.destroy_framebuffer(out_fb).map_err(s)?;
    card.destroy_dumb_buffer(out).map_err(s)?;
    card.close_buffer(bo).map_err(s)?;
    let (_, left) = attached(&b.fd)?;
    ensure(left.is_empty(), &format!("still attached: {left:?}"))?;
    println!(
        "display: {w}x{h} XRGB8888 (cached {cached}) from the VideoCore through VKMS (attached: \
         {}; buffer page {phys:#x}) and its writeback: 2 frames, every \
         pixel's 24 colour bits equal",
        devs.join(",")
    );
    let vc = b.vc_handle;
    drop(b);
    gone(vc)
}

/// `vcsm vgem`.
pub fn vgem() -> R {
    let card = Card::open("vgem").map_err(s)?;
    // 32x32 XRGB8888: one page, so one DMA segment.
    let bo = card
        .create_dumb_buffer((32, 32), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("VGEM dumb buffer: {e}"))?;
    let fd = card
        .buffer_to_prime_fd(bo.handle(), drm::CLOEXEC | drm::RDWR)
        .map_err(|e| format!("VGEM export: {e}"))?;
    let m = Map::new(fd.as_raw_fd(), PAGE).map_err(s)?;
    let d = open()?;
    cpu_fill(fd.as_raw_fd(), &m, 1)?;
    let b = dev::import(&d, fd.as_raw_fd()).map_err(|e| format!("IMPORT_DMABUF: {e}"))?;
    ensure(b.size == PAGE && b.vc_handle != 0, "IMPORT_DMABUF's answer")?;
    let line = sim::buffer_line(b.vc_handle).ok_or("import not in state")?;
    ensure(line.contains("TYPE import"), &line)?;
    let (exporter, devs) = attached(&fd)?;
    ensure(
        !devs.is_empty(),
        &format!("bufinfo: exporter {exporter}, nothing attached"),
    )?;
    vc_sum(&m, b.vc_handle, "written before the import")?;
    cpu_fill(fd.as_raw_fd(), &m, 2)?;
    vc_sum(&m, b.vc_handle, "written after the import")?;
    println!(
        "vgem: a VGEM page (exporter {exporter}, attached: {}) written by the CPU, \
         checksummed by the VideoCore by bus address {:#x}: equal before and after the import",
        devs.join(","),
        b.dma_addr
    );
    let vc = b.vc_handle;
    drop(b);
    gone(vc)?;
    let (_, left) = attached(&fd)?;
    ensure(left.is_empty(), &format!("still attached: {left:?}"))?;
    drop(m);
    drop(fd);
    card.destroy_dumb_buffer(bo).map_err(s)
}
