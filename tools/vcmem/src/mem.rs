//! `/dev/vc-mem` as libdebug_sym and vclog use it: the four ioctls, then reads of VideoCore
//! memory through FBIODMACOPY, falling back to an uncached `mmap` at file offset = VideoCore
//! address (alias bits stripped).

use crate::sys;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::{c_ulong, c_void};
use std::os::unix::fs::OpenOptionsExt;

/// VideoCore addresses are 30 bits; the top two are the cache alias.
pub const VC_ADDR_MASK: u32 = 0x3fff_ffff;
const O_SYNC: i32 = 0o4010000;

/// How reads reach VideoCore memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    /// FBIODMACOPY, else mmap (the tools' order).
    Auto,
    Dma,
    Mmap,
}

/// An open `/dev/vc-mem` and the values its ioctls gave.
pub struct VcMem {
    pub file: File,
    pub phys_addr: u64,
    pub size: u32,
    pub base: u32,
    pub load: u32,
    pub via: Via,
}

fn check(r: i32) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// An ioctl that returns a value of `T`.
pub fn ioctl_get<T: Default>(file: &File, req: u32) -> io::Result<T> {
    let mut v = T::default();
    // SAFETY: `v` is valid for writes of `T`, the size the request encodes.
    check(unsafe { sys::ioctl(file.as_raw_fd(), req as c_ulong, &mut v as *mut T) })?;
    Ok(v)
}

/// FBIODMACOPY of `dst.len()` bytes from `src` (a bus address as the tools pass it).
pub fn dma_copy(file: &File, src: u32, dst: &mut [u8]) -> io::Result<()> {
    let len = u32::try_from(dst.len()).map_err(|_| io::Error::from_raw_os_error(22))?;
    dma_copy_raw(file, src, dst.as_mut_ptr().cast(), len)
}

/// FBIODMACOPY with any arguments (for the bounds tests).
pub fn dma_copy_raw(file: &File, src: u32, dst: *mut c_void, length: u32) -> io::Result<()> {
    let mut a = sys::DmaCopy { dst, src, length };
    // SAFETY: `a` is a valid argument block; the kernel checks `dst` itself.
    check(unsafe { sys::ioctl(file.as_raw_fd(), sys::FBIODMACOPY as c_ulong, &mut a) })
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { sys::sysconf(sys::SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// A mapping of `/dev/vc-mem`, unmapped on drop.
pub struct Map {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Map {
    /// `mmap(len, prot, MAP_SHARED, offset)`.
    pub fn new(file: &File, offset: u64, len: usize, prot: i32) -> io::Result<Map> {
        let off = i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(22))?;
        // SAFETY: a fresh mapping chosen by the kernel; nothing is overwritten.
        let p = unsafe {
            sys::mmap64(
                std::ptr::null_mut(),
                len,
                prot,
                sys::MAP_SHARED,
                file.as_raw_fd(),
                off,
            )
        };
        if p == sys::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Map { ptr: p.cast(), len })
    }

    /// Copies from offset `off` of the mapping with volatile loads, 32-bit ones when aligned
    /// (the mapping is uncached device memory: no unaligned or wide accesses).
    pub fn read(&self, off: usize, out: &mut [u8]) {
        assert!(off + out.len() <= self.len);
        let aligned = (self.ptr as usize + off) % 4 == 0 && out.len() % 4 == 0;
        if aligned {
            for (i, c) in out.chunks_exact_mut(4).enumerate() {
                // SAFETY: inside the mapping (asserted), 4-byte aligned.
                let w = unsafe { std::ptr::read_volatile(self.ptr.add(off + 4 * i).cast::<u32>()) };
                c.copy_from_slice(&w.to_ne_bytes());
            }
        } else {
            for (i, b) in out.iter_mut().enumerate() {
                // SAFETY: inside the mapping (asserted).
                *b = unsafe { std::ptr::read_volatile(self.ptr.add(off + i)) };
            }
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { sys::munmap(self.ptr.cast(), self.len) };
    }
}

impl VcMem {
    /// Opens the device as libdebug_sym does (read-write, synchronous; read-only if that is
    /// refused) and asks for its values; MEM_LOAD may fail (load = base then).
    pub fn open(path: &str, via: Via) -> io::Result<VcMem> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_SYNC)
            .open(path)
            .or_else(|_| OpenOptions::new().read(true).open(path))?;
        let size: u32 = ioctl_get(&file, sys::MEM_SIZE)?;
        let base: u32 = ioctl_get(&file, sys::MEM_BASE)?;
        let load: u32 = ioctl_get(&file, sys::MEM_LOAD).unwrap_or(base);
        let phys: c_ulong = ioctl_get(&file, sys::MEM_PHYS_ADDR)?;
        Ok(VcMem {
            file,
            phys_addr: phys as u64,
            size,
            base,
            load,
            via,
        })
    }

    /// Reads `out.len()` bytes at VideoCore address `addr` (any alias).
    pub fn read(&self, addr: u32, out: &mut [u8]) -> io::Result<()> {
        if addr >> 29 == 0b011 {
            // A peripheral-alias address, refused as libdebug_sym does.
            return Err(io::Error::from_raw_os_error(22));
        }
        let addr = addr & VC_ADDR_MASK;
        if self.via != Via::Mmap {
            match dma_copy(&self.file, addr, out) {
                Ok(()) => return Ok(()),
                Err(e) if self.via == Via::Dma => return Err(e),
                Err(_) => {}
            }
        }
        self.read_mmap(addr, out)
    }

    fn read_mmap(&self, addr: u32, out: &mut [u8]) -> io::Result<()> {
        let page = page_size();
        let start = u64::from(addr) & !(page - 1);
        let end = (u64::from(addr) + out.len() as u64).div_ceil(page) * page;
        let map = Map::new(&self.file, start, (end - start) as usize, sys::PROT_READ)?;
        map.read((u64::from(addr) - start) as usize, out);
        Ok(())
    }

    pub fn read_u32(&self, addr: u32) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A C string at `addr`, read 256 bytes at a time as libdebug_sym does (at most 4 KiB).
    pub fn read_cstr(&self, addr: u32) -> io::Result<String> {
        let mut s = Vec::new();
        let mut at = addr;
        while s.len() < 4096 {
            let mut b = [0u8; 256];
            // Do not read past the end of VideoCore memory.
            let n = (self.size.saturating_sub(at & VC_ADDR_MASK) as usize).min(256);
            if n == 0 {
                break;
            }
            self.read(at, &mut b[..n])?;
            if let Some(z) = b[..n].iter().position(|&c| c == 0) {
                s.extend_from_slice(&b[..z]);
                return Ok(String::from_utf8_lossy(&s).into_owned());
            }
            s.extend_from_slice(&b[..n]);
            at = at.wrapping_add(n as u32);
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unterminated string",
        ))
    }
}
