//! [`Vchiq`]: one open `/dev/vchiq` (one kernel "instance") and a method per ioctl.
//! Errors come back as `std::io::Error` carrying the kernel's errno; positive results
//! (record counts, byte counts, client ids) as values.

use crate::abi::{self, *};
use crate::{ioc, sys};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::{c_int, c_ulong, c_void};
use std::ptr;

/// The default device node.
pub const DEVICE: &str = "/dev/vchiq";

/// An open `/dev/vchiq`.
#[derive(Debug)]
pub struct Vchiq {
    file: File,
}

/// The direction of a bulk transfer, seen from this side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkDir {
    Transmit,
    Receive,
}

impl BulkDir {
    /// The ioctl request for this direction.
    pub fn request(self) -> u32 {
        match self {
            BulkDir::Transmit => ioc::QUEUE_BULK_TRANSMIT,
            BulkDir::Receive => ioc::QUEUE_BULK_RECEIVE,
        }
    }
}

/// Parameters of a service to create.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    pub fourcc: i32,
    pub version: i16,
    pub version_min: i16,
    /// Returned as `service_userdata` in completions.
    pub userdata: usize,
    /// `is_open = 1`: open a service of the VideoCore (else: a listener).
    pub open: bool,
    /// `is_vchi = 1`: messages are queued in the kernel for DEQUEUE_MESSAGE.
    pub vchi: bool,
}

impl ServiceSpec {
    /// A client (is_open) service with version = version_min = `version`.
    pub fn client(fourcc: i32, version: i16, vchi: bool) -> Self {
        ServiceSpec {
            fourcc,
            version,
            version_min: version,
            userdata: 0,
            open: true,
            vchi,
        }
    }
}

fn check(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Vchiq {
    /// Opens [`DEVICE`].
    pub fn open() -> io::Result<Self> {
        Self::open_path(DEVICE)
    }

    /// Opens the device node at `path` read-write.
    pub fn open_path(path: &str) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Vchiq { file })
    }

    /// Opens the device and negotiates like the userland library: GET_CONFIG (20 bytes),
    /// version check, LIB_VERSION 8.
    pub fn open_negotiated(path: &str) -> io::Result<(Self, Config)> {
        let dev = Self::open_path(path)?;
        let cfg = dev.get_config()?;
        if cfg.version < 3 || cfg.version_min > LIB_VERSION as i16 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "incompatible driver version {}/{} (library {})",
                    cfg.version, cfg.version_min, LIB_VERSION
                ),
            ));
        }
        if cfg.version >= 7 {
            dev.lib_version(LIB_VERSION)?;
        }
        Ok((dev, cfg))
    }

    /// The file descriptor.
    pub fn fd(&self) -> c_int {
        self.file.as_raw_fd()
    }

    /// Issues an ioctl with an arbitrary request and argument word.
    ///
    /// # Safety
    ///
    /// The kernel may read and write memory at `arg` (and wherever the structure there
    /// points) as the request's ABI says: every such address must be either memory the
    /// caller lets the kernel use, or memory that is not mapped.
    pub unsafe fn ioctl_raw(&self, req: u32, arg: usize) -> io::Result<c_int> {
        // SAFETY: the caller vouches for `arg` (see above); the fd is open.
        check(unsafe { sys::ioctl(self.fd(), req as c_ulong, arg) })
    }

    /// An ioctl whose argument is a plain value.
    fn ioctl_val(&self, req: u32, arg: usize) -> io::Result<c_int> {
        // SAFETY: the request takes a plain value, no memory is passed.
        unsafe { self.ioctl_raw(req, arg) }
    }

    /// An ioctl whose argument is a structure of ours.
    fn ioctl_ptr<T>(&self, req: u32, arg: &mut T) -> io::Result<c_int> {
        // SAFETY: `arg` is a live, exclusively borrowed structure of the request's type;
        // pointers inside it are the caller's (each method documents them).
        unsafe { self.ioctl_raw(req, arg as *mut T as usize) }
    }

    /// CONNECT.
    pub fn connect(&self) -> io::Result<()> {
        self.ioctl_val(ioc::CONNECT, 0).map(drop)
    }

    /// SHUTDOWN.
    pub fn shutdown(&self) -> io::Result<()> {
        self.ioctl_val(ioc::SHUTDOWN, 0).map(drop)
    }

    /// LIB_VERSION.
    pub fn lib_version(&self, version: u32) -> io::Result<()> {
        self.ioctl_val(ioc::LIB_VERSION, version as usize).map(drop)
    }

    /// GET_CONFIG with the full 20 bytes.
    pub fn get_config(&self) -> io::Result<Config> {
        let mut cfg = Config::default();
        self.get_config_sized(20, &mut cfg)?;
        Ok(cfg)
    }

    /// GET_CONFIG with `config_size = size`. The kernel copies at most 20 bytes; a larger
    /// size must be refused (EINVAL). The output goes to a 64-byte scratch area so that a
    /// kernel ignoring the limit cannot overrun `out`.
    pub fn get_config_sized(&self, size: u32, out: &mut Config) -> io::Result<()> {
        let mut scratch = [0u8; 64];
        // SAFETY: Config is 20 bytes of plain integers; the scratch area is larger.
        unsafe {
            ptr::copy_nonoverlapping(out as *const Config as *const u8, scratch.as_mut_ptr(), 20)
        };
        let mut arg = GetConfig {
            config_size: size,
            pconfig: scratch.as_mut_ptr() as *mut Config,
        };
        self.ioctl_ptr(ioc::GET_CONFIG, &mut arg)?;
        // SAFETY: `scratch` is 64 initialised bytes, so its first 20 can be read; `out` is a
        // `&mut Config` of 20 bytes of plain integers, which any 20 bytes form validly.
        unsafe { ptr::copy_nonoverlapping(scratch.as_ptr(), out as *mut Config as *mut u8, 20) };
        Ok(())
    }

    /// CREATE_SERVICE; returns the kernel's handle.
    pub fn create_service(&self, spec: &ServiceSpec) -> io::Result<u32> {
        let mut arg = CreateService {
            params: ServiceParams {
                fourcc: spec.fourcc,
                callback: ptr::null(),
                userdata: spec.userdata as *mut c_void,
                version: spec.version,
                version_min: spec.version_min,
            },
            is_open: spec.open as i32,
            is_vchi: spec.vchi as i32,
            handle: 0,
        };
        self.ioctl_ptr(ioc::CREATE_SERVICE, &mut arg)?;
        Ok(arg.handle)
    }

    /// REMOVE_SERVICE.
    pub fn remove_service(&self, handle: u32) -> io::Result<()> {
        self.ioctl_val(ioc::REMOVE_SERVICE, handle as usize)
            .map(drop)
    }

    /// CLOSE_SERVICE.
    pub fn close_service(&self, handle: u32) -> io::Result<()> {
        self.ioctl_val(ioc::CLOSE_SERVICE, handle as usize)
            .map(drop)
    }

    /// USE_SERVICE.
    pub fn use_service(&self, handle: u32) -> io::Result<()> {
        self.ioctl_val(ioc::USE_SERVICE, handle as usize).map(drop)
    }

    /// RELEASE_SERVICE.
    pub fn release_service(&self, handle: u32) -> io::Result<()> {
        self.ioctl_val(ioc::RELEASE_SERVICE, handle as usize)
            .map(drop)
    }

    /// CLOSE_DELIVERED.
    pub fn close_delivered(&self, handle: u32) -> io::Result<()> {
        self.ioctl_val(ioc::CLOSE_DELIVERED, handle as usize)
            .map(drop)
    }

    /// GET_CLIENT_ID: the client id is the ioctl's return value.
    pub fn get_client_id(&self, handle: u32) -> io::Result<i32> {
        self.ioctl_val(ioc::GET_CLIENT_ID, handle as usize)
    }

    /// SET_SERVICE_OPTION.
    pub fn set_service_option(&self, handle: u32, option: i32, value: i32) -> io::Result<()> {
        let mut arg = SetServiceOption {
            handle,
            option,
            value,
        };
        self.ioctl_ptr(ioc::SET_SERVICE_OPTION, &mut arg).map(drop)
    }

    /// QUEUE_MESSAGE with one element per slice (the kernel takes at most 8).
    pub fn queue_message(&self, handle: u32, parts: &[&[u8]]) -> io::Result<()> {
        let elements: Vec<Element> = parts
            .iter()
            .map(|p| Element {
                data: p.as_ptr() as *const c_void,
                size: p.len() as u32,
            })
            .collect();
        let mut arg = QueueMessage {
            handle,
            count: elements.len() as u32,
            elements: elements.as_ptr(),
        };
        // The kernel only reads the elements and the slices they point to.
        self.ioctl_ptr(ioc::QUEUE_MESSAGE, &mut arg).map(drop)
    }

    /// QUEUE_MESSAGE with a caller-built element array.
    ///
    /// # Safety
    ///
    /// `elements` and the data the elements point to are only read by the kernel, but the
    /// pointers must be valid or unmapped (see [`Vchiq::ioctl_raw`]).
    pub unsafe fn queue_message_raw(
        &self,
        handle: u32,
        count: u32,
        elements: *const Element,
    ) -> io::Result<()> {
        let mut arg = QueueMessage {
            handle,
            count,
            elements,
        };
        self.ioctl_ptr(ioc::QUEUE_MESSAGE, &mut arg).map(drop)
    }

    /// One QUEUE_BULK_* ioctl on a prepared argument, without retrying: the kernel may
    /// write [`abi::mode::WAITING`] back into `arg.mode`.
    ///
    /// # Safety
    ///
    /// `arg.data .. arg.data + arg.size` must stay valid for the transfer (the kernel or the
    /// VideoCore writes into it for a receive) until the transfer completed, was aborted,
    /// or the service was closed.
    pub unsafe fn queue_bulk_once(
        &self,
        dir: BulkDir,
        arg: &mut QueueBulkTransfer,
    ) -> io::Result<()> {
        self.ioctl_ptr(dir.request(), arg).map(drop)
    }

    /// QUEUE_BULK_TRANSMIT/RECEIVE with the library's retry protocol: on EINTR, reissue
    /// when the kernel wrote back mode WAITING (a blocking transfer to resume) or when the
    /// mode is CALLBACK/NOCALLBACK (the transfer was not queued). An interrupted BLOCKING
    /// transfer without WAITING written back is not retried (it would queue a second
    /// transfer): EINTR is returned. Returns how many times the transfer was resumed.
    ///
    /// # Safety
    ///
    /// As [`Vchiq::queue_bulk_once`]: `data .. data + size` must stay valid until the
    /// transfer is over (for BLOCKING, until this returns successfully).
    pub unsafe fn queue_bulk(
        &self,
        dir: BulkDir,
        handle: u32,
        data: *mut u8,
        size: u32,
        userdata: usize,
        mode: i32,
    ) -> io::Result<u32> {
        let mut arg = QueueBulkTransfer {
            handle,
            data: data as *mut c_void,
            size,
            userdata: userdata as *mut c_void,
            mode,
        };
        let mut resumed = 0;
        loop {
            let before = arg.mode;
            // SAFETY: forwarded from the caller.
            match unsafe { self.queue_bulk_once(dir, &mut arg) } {
                Ok(()) => return Ok(resumed),
                Err(e) if e.raw_os_error() == Some(EINTR) => {
                    if arg.mode == abi::mode::WAITING {
                        resumed += 1;
                    } else if before == abi::mode::BLOCKING {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A blocking transmit of `data` (retrying as [`Vchiq::queue_bulk`]).
    pub fn bulk_transmit_blocking(&self, handle: u32, data: &[u8]) -> io::Result<u32> {
        // SAFETY: a BLOCKING transfer is over when the ioctl returns success; the kernel
        // only reads a transmit buffer. On EINTR without WAITING the kernel may still read
        // it: the borrow ends but the buffer is only read, never written.
        unsafe {
            self.queue_bulk(
                BulkDir::Transmit,
                handle,
                data.as_ptr() as *mut u8,
                data.len() as u32,
                0,
                abi::mode::BLOCKING,
            )
        }
    }

    /// A blocking receive into `data` (retrying as [`Vchiq::queue_bulk`]).
    ///
    /// # Safety
    ///
    /// If this fails with EINTR the receive may still complete in the background: `data`
    /// must then stay valid until the service is closed.
    pub unsafe fn bulk_receive_blocking(&self, handle: u32, data: &mut [u8]) -> io::Result<u32> {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.queue_bulk(
                BulkDir::Receive,
                handle,
                data.as_mut_ptr(),
                data.len() as u32,
                0,
                abi::mode::BLOCKING,
            )
        }
    }

    /// AWAIT_COMPLETION: up to `recs.len()` records into `recs`, message buffers of
    /// `msgbufsize` bytes taken from the end of `msgbufs[..*msgbufcount]` (the count is
    /// updated). Returns the number of records.
    ///
    /// # Safety
    ///
    /// Each of the first `*msgbufcount` pointers in `msgbufs` must point to `msgbufsize`
    /// writable bytes that the caller does not otherwise use during the call.
    pub unsafe fn await_completion(
        &self,
        recs: &mut [CompletionData],
        msgbufsize: u32,
        msgbufs: &mut [*mut c_void],
        msgbufcount: &mut u32,
    ) -> io::Result<usize> {
        assert!(*msgbufcount as usize <= msgbufs.len());
        let mut arg = AwaitCompletion {
            count: recs.len() as u32,
            buf: recs.as_mut_ptr(),
            msgbufsize,
            msgbufcount: *msgbufcount,
            msgbufs: msgbufs.as_mut_ptr(),
        };
        let n = self.ioctl_ptr(ioc::AWAIT_COMPLETION, &mut arg)?;
        *msgbufcount = arg.msgbufcount;
        Ok(n as usize)
    }

    /// DEQUEUE_MESSAGE into `buf` (payload only); `None` discards the message. Returns
    /// the message size.
    pub fn dequeue_message(
        &self,
        handle: u32,
        buf: Option<&mut [u8]>,
        blocking: bool,
    ) -> io::Result<usize> {
        let (p, len) = match buf {
            Some(b) => (b.as_mut_ptr() as *mut c_void, b.len() as u32),
            None => (ptr::null_mut(), 0),
        };
        let mut arg = DequeueMessage {
            handle,
            blocking: blocking as i32,
            bufsize: len,
            buf: p,
        };
        // The kernel writes at most `bufsize` bytes into the borrowed buffer.
        self.ioctl_ptr(ioc::DEQUEUE_MESSAGE, &mut arg)
            .map(|n| n as usize)
    }
}

/// errno values used by the tests (the same on x86_64, arm and aarch64 Linux).
pub const EPERM: i32 = 1;
pub const ESRCH: i32 = 3;
pub const EINTR: i32 = 4;
pub const EIO: i32 = 5;
pub const EBADF: i32 = 9;
pub const EAGAIN: i32 = 11;
pub const ENOMEM: i32 = 12;
pub const EFAULT: i32 = 14;
pub const EBUSY: i32 = 16;
pub const EEXIST: i32 = 17;
pub const EINVAL: i32 = 22;
pub const ENOTTY: i32 = 25;
pub const EMSGSIZE: i32 = 90;
pub const ENOTCONN: i32 = 107;
pub const ETIMEDOUT: i32 = 110;

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> String {
    match e {
        0 => "ok".into(),
        EPERM => "EPERM".into(),
        2 => "ENOENT".into(),
        ESRCH => "ESRCH".into(),
        EINTR => "EINTR".into(),
        EIO => "EIO".into(),
        EBADF => "EBADF".into(),
        EAGAIN => "EAGAIN".into(),
        ENOMEM => "ENOMEM".into(),
        EFAULT => "EFAULT".into(),
        EBUSY => "EBUSY".into(),
        EEXIST => "EEXIST".into(),
        19 => "ENODEV".into(),
        EINVAL => "EINVAL".into(),
        ENOTTY => "ENOTTY".into(),
        34 => "ERANGE".into(),
        38 => "ENOSYS".into(),
        75 => "EOVERFLOW".into(),
        EMSGSIZE => "EMSGSIZE".into(),
        95 => "EOPNOTSUPP".into(),
        ENOTCONN => "ENOTCONN".into(),
        ETIMEDOUT => "ETIMEDOUT".into(),
        512 => "ERESTARTSYS".into(),
        _ => format!("errno {e}"),
    }
}

/// The errno of an I/O error (0 for errors without one).
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}
