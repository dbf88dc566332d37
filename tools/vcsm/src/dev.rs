//! `/dev/vcsm-cma` as libvcsm uses it: ALLOC and IMPORT_DMABUF give dma-buf fds, which are
//! mapped with mmap and bracketed with DMA_BUF_IOCTL_SYNC; free is close. Also udmabuf, for
//! foreign dma-bufs.

use crate::sys;
use std::fs::{File, OpenOptions};
use std::io::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::c_void;

pub const DEV: &str = "/dev/vcsm-cma";
pub const PAGE: usize = 4096;

/// An ioctl on `fd` with `arg`; the error of a failed call.
pub fn ioctl<T>(fd: RawFd, req: u32, arg: *mut T) -> Result<()> {
    // SAFETY: the callers pass requests whose argument is `T` (or tests bad pointers, which
    // the kernel checks).
    if unsafe { sys::ioctl(fd, req as _, arg) } < 0 {
        return Err(Error::last_os_error());
    }
    Ok(())
}

pub fn open() -> Result<File> {
    OpenOptions::new().read(true).write(true).open(DEV)
}

fn name32(name: &str) -> [u8; 32] {
    let mut n = [0u8; 32];
    for (d, s) in n.iter_mut().zip(name.bytes().take(31)) {
        *d = s;
    }
    n
}

/// A buffer: its dma-buf fd and what the ioctl said.
pub struct Buf {
    pub fd: OwnedFd,
    pub vc_handle: u32,
    pub dma_addr: u64,
    pub size: usize,
}

/// ALLOC of `size` bytes with user-vcsm's cache type `cached`.
pub fn alloc(dev: &File, size: u32, cached: u32, name: &str) -> Result<Buf> {
    let mut a = sys::Alloc {
        size,
        cached,
        name: name32(name),
        ..Default::default()
    };
    ioctl(dev.as_raw_fd(), sys::ALLOC, &mut a)?;
    if a.handle < 0 {
        return Err(Error::other(format!("ALLOC returned fd {}", a.handle)));
    }
    // SAFETY: the kernel installed a new fd for us.
    let fd = unsafe { OwnedFd::from_raw_fd(a.handle) };
    let size = (size as usize).div_ceil(PAGE) * PAGE;
    Ok(Buf {
        fd,
        vc_handle: a.vc_handle,
        dma_addr: a.dma_addr,
        size,
    })
}

/// IMPORT_DMABUF of `fd`.
pub fn import(dev: &File, fd: RawFd) -> Result<Buf> {
    let mut a = sys::ImportDmabuf {
        dmabuf_fd: fd,
        name: name32("ignored"),
        ..Default::default()
    };
    ioctl(dev.as_raw_fd(), sys::IMPORT_DMABUF, &mut a)?;
    // SAFETY: the kernel installed a new fd for us.
    let fd = unsafe { OwnedFd::from_raw_fd(a.handle) };
    Ok(Buf {
        fd,
        vc_handle: a.vc_handle,
        dma_addr: a.dma_addr,
        size: a.size as usize,
    })
}

/// A shared mapping of a dma-buf.
pub struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    pub fn new(fd: RawFd, len: usize) -> Result<Self> {
        // SAFETY: a new mapping; the kernel checks fd and length.
        let p = unsafe {
            sys::mmap(
                std::ptr::null_mut(),
                len,
                sys::PROT_READ | sys::PROT_WRITE,
                sys::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == sys::MAP_FAILED {
            return Err(Error::last_os_error());
        }
        Ok(Self { ptr: p.cast(), len })
    }

    pub fn addr(&self) -> usize {
        self.ptr as usize
    }

    /// Word `i` (volatile: another master writes the memory).
    pub fn word(&self, i: usize) -> u32 {
        assert!(i * 4 + 4 <= self.len);
        // SAFETY: inside the mapping (checked), aligned (page-aligned mapping).
        unsafe { self.ptr.cast::<u32>().add(i).read_volatile() }
    }

    pub fn set_word(&self, i: usize, v: u32) {
        assert!(i * 4 + 4 <= self.len);
        // SAFETY: word `i` lies inside the mapping (asserted), which is page-aligned and
        // mapped PROT_WRITE; a volatile store is how memory another master reads is written.
        unsafe { self.ptr.cast::<u32>().add(i).write_volatile(v) }
    }

    pub fn words(&self) -> usize {
        self.len / 4
    }

    /// A copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        (0..self.words())
            .flat_map(|i| self.word(i).to_le_bytes())
            .collect()
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { sys::munmap(self.ptr.cast::<c_void>(), self.len) };
    }
}

/// DMA_BUF_IOCTL_SYNC start (`true`) or end of a read-write access.
pub fn sync(fd: RawFd, start: bool) -> Result<()> {
    let mut s = sys::DmaBufSync {
        flags: sys::SYNC_RW
            | if start {
                sys::SYNC_START
            } else {
                sys::SYNC_END
            },
    };
    ioctl(fd, sys::DMA_BUF_IOCTL_SYNC, &mut s)
}

/// The page frame numbers of the `pages` pages mapped at `m` (`/proc/self/pagemap`; 0 where
/// the kernel does not say, as for an unprivileged reader).
fn pfns(m: &Map, pages: usize) -> Result<Vec<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open("/proc/self/pagemap")?;
    let mut out = Vec::with_capacity(pages);
    for p in 0..pages {
        let mut e = [0u8; 8];
        f.seek(SeekFrom::Start(((m.addr() / PAGE + p) * 8) as u64))?;
        f.read_exact(&mut e)?;
        // Bits 0-54: the frame number; bit 63: present.
        let e = u64::from_le_bytes(e);
        out.push(if e >> 63 != 0 { e & ((1 << 55) - 1) } else { 0 });
    }
    Ok(out)
}

/// A sealed memfd of `pages` pages, every page touched, and the frame number of each page.
fn memfd_pfns(pages: usize) -> Result<(OwnedFd, Vec<u64>)> {
    // SAFETY: a NUL-terminated name.
    let fd = unsafe { sys::memfd_create(c"vcsm-test".as_ptr().cast(), sys::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: a new fd of ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain calls on our fd.
    if unsafe { sys::ftruncate(fd.as_raw_fd(), (pages * PAGE) as _) } < 0
        || unsafe { sys::fcntl(fd.as_raw_fd(), sys::F_ADD_SEALS, sys::F_SEAL_SHRINK) } < 0
    {
        return Err(Error::last_os_error());
    }
    let m = Map::new(fd.as_raw_fd(), pages * PAGE)?;
    for p in 0..pages {
        m.set_word(p * PAGE / 4, p as u32);
    }
    let pfns = pfns(&m, pages)?;
    Ok((fd, pfns))
}

/// Most memfds [`udmabuf`] tries for two pages that are not physically adjacent.
const SCATTER_TRIES: usize = 16;

/// A udmabuf made of the memfd pages `pages` (in that order) of a memfd of `total` pages.
/// Two pages are never physically adjacent in that order (the allocator may hand them out
/// so), so that the dma-buf really has two segments: a new memfd is tried until they are not.
pub fn udmabuf(total: usize, pages: &[usize]) -> Result<OwnedFd> {
    let mut made = memfd_pfns(total)?;
    if let [a, b] = *pages {
        let adjacent = |f: &[u64]| f[a] != 0 && f.get(b) == Some(&(f[a] + 1));
        for _ in 1..SCATTER_TRIES {
            if !adjacent(&made.1) {
                break;
            }
            made = memfd_pfns(total)?;
        }
        if adjacent(&made.1) {
            return Err(Error::other("every memfd's two pages were adjacent"));
        }
    }
    let mfd = made.0;
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/udmabuf")?;
    let item = |p: usize| sys::UdmabufItem {
        memfd: mfd.as_raw_fd() as u32,
        flags_or_pad: 0,
        offset: (p * PAGE) as u64,
        size: PAGE as u64,
    };
    let r = match pages {
        [p] => {
            let mut c = item(*p);
            c.flags_or_pad = sys::UDMABUF_FLAGS_CLOEXEC;
            // SAFETY: `struct udmabuf_create`.
            unsafe { sys::ioctl(dev.as_raw_fd(), sys::UDMABUF_CREATE as _, &mut c) }
        }
        [a, b] => {
            let mut l = sys::UdmabufList {
                flags: sys::UDMABUF_FLAGS_CLOEXEC,
                count: 2,
                list: [item(*a), item(*b)],
            };
            // SAFETY: `struct udmabuf_create_list` with two items.
            unsafe { sys::ioctl(dev.as_raw_fd(), sys::UDMABUF_CREATE_LIST as _, &mut l) }
        }
        _ => return Err(Error::other("one or two pages")),
    };
    if r < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: the new dma-buf fd udmabuf made.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}
