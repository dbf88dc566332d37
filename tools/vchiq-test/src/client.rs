//! [`Client`]: a connected instance with a completion thread, and [`Service`]s on it.
//!
//! The completion thread is the only caller of AWAIT_COMPLETION on the instance. It keeps
//! eight message buffers of 4096 bytes (header plus the largest payload), checks that the
//! kernel fills them from the end of the array, copies each record out into an [`Event`]
//! sent to the service it belongs to (found by `service_userdata`), and after a
//! SERVICE_CLOSED issues CLOSE_DELIVERED, which a close or remove waits for.

use crate::abi::{self, reason, CompletionData, Header, HEADER_SIZE, MAX_MSG_SIZE};
use crate::device::{errno, BulkDir, ServiceSpec, Vchiq, EINTR, ETIMEDOUT};
use std::collections::HashMap;
use std::io;
use std::os::raw::c_void;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One completion, as delivered to a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Opened,
    Closed,
    /// A message of a non-vchi service: the header's msgid and the payload.
    Message {
        msgid: i32,
        data: Vec<u8>,
    },
    /// A vchi service has messages to DEQUEUE (no header).
    MessageAvailable,
    TxDone(usize),
    RxDone(usize),
    TxAborted(usize),
    RxAborted(usize),
}

const NUM_MSGBUFS: usize = 8;
const MSGBUF_SIZE: usize = HEADER_SIZE + MAX_MSG_SIZE;

struct Slot {
    tx: Sender<Event>,
    handle: AtomicU32,
}

/// Counters of what the completion thread saw.
#[derive(Default, Debug)]
pub struct Stats {
    pub records: AtomicUsize,
    pub messages: AtomicUsize,
    /// Records for a userdata no service of ours has.
    pub unknown_service: AtomicUsize,
    /// Violations of the ABI: a header outside the expected buffer (not taken from the
    /// end), a size too large, an unknown reason, a count beyond the request.
    pub abi_violations: AtomicUsize,
    /// CLOSE_DELIVERED failures.
    pub close_delivered_errors: AtomicUsize,
}

struct Shared {
    dev: Vchiq,
    services: Mutex<HashMap<usize, Arc<Slot>>>,
    next_key: AtomicUsize,
    close_delivered: bool,
    stats: Stats,
    error: Mutex<Option<io::Error>>,
}

/// A connected instance with its completion thread.
pub struct Client {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A service of a [`Client`].
pub struct Service {
    shared: Arc<Shared>,
    /// The kernel's handle.
    pub handle: u32,
    /// The userdata the kernel returns in this service's completions.
    pub key: usize,
    rx: Receiver<Event>,
    vchi: bool,
}

impl Client {
    /// CONNECTs `dev` (already negotiated: see [`Vchiq::open_negotiated`]) and starts the
    /// completion thread. `close_delivered` says whether LIB_VERSION >= 7 was issued.
    pub fn connect(dev: Vchiq, close_delivered: bool) -> io::Result<Client> {
        dev.connect()?;
        let shared = Arc::new(Shared {
            dev,
            services: Mutex::new(HashMap::new()),
            next_key: AtomicUsize::new(1),
            close_delivered,
            stats: Stats::default(),
            error: Mutex::new(None),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("vchiq-completion".into())
            .spawn(move || completion_thread(&s))?;
        Ok(Client {
            shared,
            thread: Some(thread),
        })
    }

    /// Opens `path`, negotiates (LIB_VERSION 8) and connects.
    pub fn open(path: &str) -> io::Result<Client> {
        let (dev, cfg) = Vchiq::open_negotiated(path)?;
        Client::connect(dev, cfg.version >= 7)
    }

    /// The device.
    pub fn dev(&self) -> &Vchiq {
        &self.shared.dev
    }

    /// What the completion thread saw so far.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The error that ended the completion thread, if any.
    pub fn thread_error(&self) -> Option<String> {
        self.shared
            .error
            .lock()
            .unwrap()
            .as_ref()
            .map(|e| e.to_string())
    }

    /// Opens a service of the VideoCore (is_open = 1).
    pub fn open_service(
        &self,
        fourcc: i32,
        version: i16,
        version_min: i16,
        vchi: bool,
    ) -> io::Result<Service> {
        self.create(ServiceSpec {
            fourcc,
            version,
            version_min,
            userdata: 0,
            open: true,
            vchi,
        })
    }

    /// CREATE_SERVICE with `spec` (its userdata is replaced by the service's key).
    pub fn create(&self, mut spec: ServiceSpec) -> io::Result<Service> {
        // Keys look like aligned pointers, never 0.
        let key = self.shared.next_key.fetch_add(1, Ordering::Relaxed) * 16 + 0x1000;
        spec.userdata = key;
        let (tx, rx) = channel();
        let slot = Arc::new(Slot {
            tx,
            handle: AtomicU32::new(0),
        });
        self.shared
            .services
            .lock()
            .unwrap()
            .insert(key, slot.clone());
        match self.shared.dev.create_service(&spec) {
            Ok(handle) => {
                slot.handle.store(handle, Ordering::Release);
                Ok(Service {
                    shared: self.shared.clone(),
                    handle,
                    key,
                    rx,
                    vchi: spec.vchi,
                })
            }
            Err(e) => {
                self.shared.services.lock().unwrap().remove(&key);
                Err(e)
            }
        }
    }

    /// SHUTDOWN and wait for the completion thread to end.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        let r = self.shared.dev.shutdown();
        // SHUTDOWN ends the completion thread's AWAIT_COMPLETION with EINVAL; when it failed,
        // the thread may still be waiting and is left detached.
        if let Some(t) = self.thread.take() {
            if r.is_ok() && t.join().is_err() {
                return Err(io::Error::other("the completion thread panicked"));
            }
        }
        r
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

impl Service {
    /// The device.
    pub fn dev(&self) -> &Vchiq {
        &self.shared.dev
    }

    /// Whether the service was created with is_vchi.
    pub fn is_vchi(&self) -> bool {
        self.vchi
    }

    /// QUEUE_MESSAGE from several pieces.
    pub fn send(&self, parts: &[&[u8]]) -> io::Result<()> {
        self.shared.dev.queue_message(self.handle, parts)
    }

    /// The next completion of this service, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> io::Result<Event> {
        match self.rx.recv_timeout(timeout) {
            Ok(ev) => Ok(ev),
            Err(RecvTimeoutError::Timeout) => Err(io::Error::from_raw_os_error(ETIMEDOUT)),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::other("completion thread ended")),
        }
    }

    /// The next completion other than MessageAvailable (which vchi services get as a hint).
    pub fn next_real_event(&self, timeout: Duration) -> io::Result<Event> {
        loop {
            match self.next_event(timeout)? {
                Event::MessageAvailable => continue,
                ev => return Ok(ev),
            }
        }
    }

    /// A pending completion, if any, without waiting.
    pub fn try_event(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// The next message payload of a non-vchi service (skipping nothing: any other event
    /// is an error).
    pub fn recv_message(&self, timeout: Duration) -> io::Result<Vec<u8>> {
        match self.next_event(timeout)? {
            Event::Message { data, .. } => Ok(data),
            ev => Err(io::Error::other(format!("expected a message, got {ev:?}"))),
        }
    }

    /// DEQUEUE_MESSAGE (vchi services).
    pub fn dequeue(&self, buf: &mut [u8], blocking: bool) -> io::Result<usize> {
        self.shared
            .dev
            .dequeue_message(self.handle, Some(buf), blocking)
    }

    /// Receives one message whatever the service kind: DEQUEUE_MESSAGE (blocking) for
    /// vchi, the completion for others.
    pub fn recv_any(&self, timeout: Duration) -> io::Result<Vec<u8>> {
        if self.vchi {
            let mut buf = vec![0u8; MAX_MSG_SIZE];
            let n = self.dequeue(&mut buf, true)?;
            buf.truncate(n);
            Ok(buf)
        } else {
            self.recv_message(timeout)
        }
    }

    /// A bulk transfer with a completion (CALLBACK) or without (NOCALLBACK).
    ///
    /// # Safety
    ///
    /// `data .. data + size` must stay valid (and, for a receive, unused by the caller)
    /// until the transfer's completion arrived or the service was closed.
    pub unsafe fn queue_bulk(
        &self,
        dir: BulkDir,
        data: *mut u8,
        size: usize,
        userdata: usize,
        mode: i32,
    ) -> io::Result<u32> {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.shared
                .dev
                .queue_bulk(dir, self.handle, data, size as u32, userdata, mode)
        }
    }

    /// A blocking transmit.
    pub fn transmit(&self, data: &[u8]) -> io::Result<u32> {
        self.shared.dev.bulk_transmit_blocking(self.handle, data)
    }

    /// A blocking receive.
    ///
    /// # Safety
    ///
    /// See [`Vchiq::bulk_receive_blocking`]: on EINTR `data` must outlive the service.
    pub unsafe fn receive(&self, data: &mut [u8]) -> io::Result<u32> {
        // SAFETY: forwarded from the caller.
        unsafe { self.shared.dev.bulk_receive_blocking(self.handle, data) }
    }

    /// CLOSE_SERVICE (returns once the SERVICE_CLOSED was delivered and acknowledged).
    pub fn close(&self) -> io::Result<()> {
        self.shared.dev.close_service(self.handle)
    }

    /// REMOVE_SERVICE.
    pub fn remove(&self) -> io::Result<()> {
        self.shared.dev.remove_service(self.handle)
    }

    /// USE_SERVICE.
    pub fn use_service(&self) -> io::Result<()> {
        self.shared.dev.use_service(self.handle)
    }

    /// RELEASE_SERVICE.
    pub fn release_service(&self) -> io::Result<()> {
        self.shared.dev.release_service(self.handle)
    }

    /// GET_CLIENT_ID.
    pub fn client_id(&self) -> io::Result<i32> {
        self.shared.dev.get_client_id(self.handle)
    }

    /// SET_SERVICE_OPTION.
    pub fn set_option(&self, option: i32, value: i32) -> io::Result<()> {
        self.shared
            .dev
            .set_service_option(self.handle, option, value)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shared.services.lock().unwrap().remove(&self.key);
    }
}

fn completion_thread(s: &Shared) {
    let mut bufs: Vec<Vec<u8>> = (0..NUM_MSGBUFS).map(|_| vec![0u8; MSGBUF_SIZE]).collect();
    let mut recs = [CompletionData::default(); NUM_MSGBUFS];
    loop {
        let mut ptrs: Vec<*mut c_void> = bufs
            .iter_mut()
            .map(|b| b.as_mut_ptr() as *mut c_void)
            .collect();
        let mut count = NUM_MSGBUFS as u32;
        // SAFETY: each pointer is one of our own MSGBUF_SIZE-byte buffers, not used
        // elsewhere while the call runs.
        let r = unsafe {
            s.dev
                .await_completion(&mut recs, MSGBUF_SIZE as u32, &mut ptrs, &mut count)
        };
        let n = match r {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if errno(&e) == EINTR => continue,
            Err(e) => {
                *s.error.lock().unwrap() = Some(e);
                return;
            }
        };
        if n > NUM_MSGBUFS || count as usize > NUM_MSGBUFS {
            s.stats.abi_violations.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut next_buf = NUM_MSGBUFS;
        for rec in &recs[..n] {
            s.stats.records.fetch_add(1, Ordering::Relaxed);
            let ev = match decode(s, rec, &ptrs, &mut next_buf) {
                Some(ev) => ev,
                None => {
                    s.stats.abi_violations.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let key = rec.service_userdata as usize;
            let slot = s.services.lock().unwrap().get(&key).cloned();
            let Some(slot) = slot else {
                s.stats.unknown_service.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let closed = ev == Event::Closed;
            let _ = slot.tx.send(ev);
            if closed && s.close_delivered {
                let h = slot.handle.load(Ordering::Acquire);
                if s.dev.close_delivered(h).is_err() {
                    s.stats
                        .close_delivered_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if next_buf != count as usize {
            // The kernel's msgbufcount disagrees with the buffers it used.
            s.stats.abi_violations.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Turns a record into an event; None on an ABI violation.
fn decode(
    s: &Shared,
    rec: &CompletionData,
    ptrs: &[*mut c_void],
    next_buf: &mut usize,
) -> Option<Event> {
    let ud = rec.cb_userdata as usize;
    Some(match rec.reason {
        reason::SERVICE_OPENED => Event::Opened,
        reason::SERVICE_CLOSED => Event::Closed,
        reason::MESSAGE_AVAILABLE if rec.header.is_null() => Event::MessageAvailable,
        reason::MESSAGE_AVAILABLE => {
            // Buffers are consumed from the end of the array.
            if *next_buf == 0 {
                return None;
            }
            *next_buf -= 1;
            if rec.header as *mut c_void != ptrs[*next_buf] {
                return None;
            }
            // SAFETY: the header points to the start of our own MSGBUF_SIZE-byte buffer
            // (checked above), which the kernel filled before returning.
            let hdr: Header = unsafe { std::ptr::read_unaligned(rec.header) };
            let size = hdr.size as usize;
            if size > MAX_MSG_SIZE {
                return None;
            }
            // SAFETY: `rec.header` is the start of `ptrs[*next_buf]`, one of our own live
            // MSGBUF_SIZE-byte buffers (compared above), which the kernel filled before the
            // ioctl returned; `size <= MAX_MSG_SIZE`, so the `size` bytes after the header end
            // within MSGBUF_SIZE = HEADER_SIZE + MAX_MSG_SIZE, and nothing writes them while
            // they are copied out.
            let data = unsafe {
                std::slice::from_raw_parts((rec.header as *const u8).add(HEADER_SIZE), size)
            }
            .to_vec();
            s.stats.messages.fetch_add(1, Ordering::Relaxed);
            Event::Message {
                msgid: hdr.msgid,
                data,
            }
        }
        reason::BULK_TRANSMIT_DONE => Event::TxDone(ud),
        reason::BULK_RECEIVE_DONE => Event::RxDone(ud),
        reason::BULK_TRANSMIT_ABORTED => Event::TxAborted(ud),
        reason::BULK_RECEIVE_ABORTED => Event::RxAborted(ud),
        _ => return None,
    })
}

/// Re-exported for users of raw modes.
pub use abi::mode;
