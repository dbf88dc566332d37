// SPDX-License-Identifier: GPL-2.0

//! A small ALSA layer: what the 7.3 `kernel` crate lacks for a sound driver, as safe types
//! over `alsa_glue.c`.
//!
//! * [`Card`]`<D>`: a sound card owning the driver's data `D`; dropping it disconnects the
//!   card (open streams fail from then on) and waits until every file is closed.
//! * [`Card::add_pcm`]: a playback PCM whose ops are `D`'s [`PcmOps`]. Between the ALSA
//!   buffer and the ops sits the kernel's indirect-PCM helper: [`PcmOps::transfer`] gets
//!   each new contiguous chunk the application wrote ([`PcmData`]), and
//!   [`PcmOps::pointer`] says how far the hardware has played, in bytes. A stream reports
//!   period boundaries and underruns through its [`Notifier`], from any context.
//! * [`Card::add_integer`], [`Card::add_boolean`], [`Card::add_iec958`]: mixer controls
//!   whose values come from `D`'s [`ControlOps`]; integer controls may carry a dB-scale TLV.
//!
//! The shape (a card owning its driver data, PCM ops as a trait with an associated stream
//! type, controls as ids dispatched to a trait) is meant to be replaced by an upstream
//! sound abstraction without touching the driver's logic.

use core::ffi::{c_long, c_uint, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::device::Device;
use kernel::error::{from_result, to_result};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;

/// `struct snd_card` (opaque).
#[repr(C)]
struct RawCard {
    _opaque: [u8; 0],
}

/// `struct snd_rs_stream` of the glue (opaque).
#[repr(C)]
struct RawStream {
    _opaque: [u8; 0],
}

/// Sample formats ([`Hardware::formats`]).
pub(crate) const FMT_U8: u32 = 1 << 0;
/// Signed 16-bit little-endian samples.
pub(crate) const FMT_S16_LE: u32 = 1 << 1;

/// What a PCM supports (`struct snd_rs_pcm_hw`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Hardware {
    pub(crate) formats: u32,
    pub(crate) rate_min: u32,
    pub(crate) rate_max: u32,
    pub(crate) channels_min: u32,
    pub(crate) channels_max: u32,
    pub(crate) buffer_bytes_max: u32,
    pub(crate) period_bytes_min: u32,
    pub(crate) period_bytes_max: u32,
    pub(crate) periods_min: u32,
    pub(crate) periods_max: u32,
    /// Period sizes are multiples of this many bytes.
    pub(crate) period_bytes_step: u32,
    /// Shortest period, in microseconds.
    pub(crate) period_time_min_us: u32,
    /// How long a write waits for a period at least, in milliseconds, before ALSA fails it
    /// with `EIO` (`substream->wait_time`; ALSA's own is 1.1 buffer times, at least 100 ms,
    /// and the longer of the two applies). A drain's wait is ALSA's alone.
    pub(crate) period_wait_min_ms: u32,
}

const _: () = assert!(core::mem::size_of::<Hardware>() == 13 * 4);

/// The configuration a stream is prepared with (`struct snd_rs_format`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    pub(crate) channels: u32,
    pub(crate) rate: u32,
    /// Bits per sample.
    pub(crate) width: u32,
    pub(crate) buffer_bytes: u32,
    pub(crate) period_bytes: u32,
}

const _: () = assert!(core::mem::size_of::<Format>() == 5 * 4);

/// Reports of an open stream to ALSA. Valid until the stream's [`PcmOps::close`] returned;
/// the owner must not use it afterwards.
pub(crate) struct Notifier {
    raw: NonNull<RawStream>,
}

// SAFETY: the three reports only set an atomic and queue a work item, from any thread.
unsafe impl Send for Notifier {}
// SAFETY: the `&Notifier` methods (`period_elapsed`, `played_out`, `xrun`) each set one atomic
// of the stream and call `schedule_work`, both of which are safe to race with each other and
// with themselves on one stream.
unsafe impl Sync for Notifier {}

impl Notifier {
    /// A period boundary was crossed (ALSA re-reads the pointer, wakes writers).
    pub(crate) fn period_elapsed(&self) {
        // SAFETY: the stream lives until its close callback returned (type contract).
        unsafe { snd_rs_stream_elapsed(self.raw.as_ptr()) }
    }

    /// Everything written was played, not at a period boundary: reported to ALSA only while
    /// the stream drains (a drain then ends after a last period the application did not
    /// fill). While it runs, ALSA would take the report for a whole period (see
    /// `stream.rs`); then nothing is lost by waiting for the next boundary.
    pub(crate) fn played_out(&self) {
        // SAFETY: the stream, `raw`, lives until its close callback returned, and the owner
        // does not call this after that (type contract).
        unsafe { snd_rs_stream_played_out(self.raw.as_ptr()) }
    }

    /// The stream underran or its position is not trustworthy: ALSA stops it with XRUN.
    pub(crate) fn xrun(&self) {
        // SAFETY: `raw` is live: streams are freed only after their close callback returned,
        // and the owner stops using the notifier before then (type contract).
        unsafe { snd_rs_stream_xrun(self.raw.as_ptr()) }
    }
}

/// New application data in the ALSA buffer: `len` bytes at `ptr`. The buffer is mapped by
/// the application, which may write it at any time, so it is only ever copied, never
/// borrowed as a Rust reference.
pub(crate) struct PcmData {
    ptr: *const u8,
    len: usize,
}

impl PcmData {
    /// Its length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies bytes `off..off + dst.len()` into `dst`; `EINVAL` past the end.
    pub(crate) fn copy_to(&self, off: usize, dst: &mut [u8]) -> Result {
        let end = off.checked_add(dst.len()).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `ptr..ptr + len` is the ALSA buffer's chunk, valid during the transfer
        // callback this value lives in; `off..end` is inside it; `dst` is our own memory.
        unsafe { core::ptr::copy_nonoverlapping(self.ptr.add(off), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }
}

/// A PCM's open, on the card's driver data.
pub(crate) trait PcmOps: Send + Sync + 'static {
    /// An open substream; dropping it closes it (after which its notifier is gone).
    type Stream: PcmStream;
    /// Substream `number` of PCM `pcm` (the number given to [`Card::add_pcm`]) is opened.
    fn open(&self, pcm: u32, number: u32, notifier: Notifier) -> Result<KBox<Self::Stream>>;
}

/// An open substream's operations. ALSA serialises them (the PCM is non-atomic: they may
/// sleep).
pub(crate) trait PcmStream: Send + Sync + 'static {
    /// The stream is (re)configured.
    fn prepare(&self, format: &Format) -> Result;
    /// Start (`true`) or stop.
    fn trigger(&self, start: bool) -> Result;
    /// New data the application wrote (never crossing the buffer's end).
    fn transfer(&self, data: &PcmData) -> Result;
    /// The hardware's position in the buffer, in bytes.
    fn pointer(&self) -> u32;
}

/// Mixer controls, identified by the id given when they were added.
pub(crate) trait ControlOps: Send + Sync + 'static {
    /// The value of an integer or boolean control.
    fn get(&self, id: u32) -> Result<i64>;
    /// Sets it (already checked against its range); whether it changed.
    fn put(&self, id: u32, value: i64) -> Result<bool>;
    /// The first bytes of an IEC958 status control.
    fn get_iec958(&self, _id: u32, _status: &mut [u8; IEC958_BYTES]) -> Result {
        Err(EINVAL)
    }
    /// Sets them; whether they changed.
    fn put_iec958(&self, _id: u32, _status: &[u8; IEC958_BYTES]) -> Result<bool> {
        Err(EINVAL)
    }
}

/// The IEC958 status bytes a control handles.
pub(crate) const IEC958_BYTES: usize = 4;

/// `struct snd_rs_pcm_ops`.
#[repr(C)]
struct RawPcmOps {
    open: unsafe extern "C" fn(*mut c_void, c_uint, *mut RawStream, *mut *mut c_void) -> c_int,
    close: unsafe extern "C" fn(*mut c_void),
    prepare: unsafe extern "C" fn(*mut c_void, *const Format) -> c_int,
    trigger: unsafe extern "C" fn(*mut c_void, c_int) -> c_int,
    transfer: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> c_int,
    pointer: unsafe extern "C" fn(*mut c_void) -> u32,
}

/// `struct snd_rs_ctl_ops`.
#[repr(C)]
struct RawCtlOps {
    get: unsafe extern "C" fn(*mut c_void, u32, *mut c_long) -> c_int,
    put: unsafe extern "C" fn(*mut c_void, u32, c_long) -> c_int,
    get_iec958: unsafe extern "C" fn(*mut c_void, u32, *mut u8) -> c_int,
    put_iec958: unsafe extern "C" fn(*mut c_void, u32, *const u8) -> c_int,
}

// The parent device is passed as `void *`: `struct device` has members bindgen makes
// zero-sized, which the FFI-safety lint refuses even behind a pointer.
extern "C" {
    fn snd_rs_card_new(
        parent: *mut c_void,
        id: *const c_char,
        driver: *const c_char,
        shortname: *const c_char,
        longname: *const c_char,
        out: *mut *mut RawCard,
    ) -> c_int;
    fn snd_rs_card_register(card: *mut RawCard) -> c_int;
    fn snd_rs_card_free(card: *mut RawCard);
    fn snd_rs_pcm_new(
        card: *mut RawCard,
        name: *const c_char,
        device: c_int,
        substreams: c_int,
        hw: *const Hardware,
        ops: *const RawPcmOps,
        private: *mut c_void,
    ) -> c_int;
    fn snd_rs_stream_elapsed(s: *mut RawStream);
    fn snd_rs_stream_xrun(s: *mut RawStream);
    fn snd_rs_stream_played_out(s: *mut RawStream);
    fn snd_rs_ctl_add_integer(
        card: *mut RawCard,
        name: *const c_char,
        id: u32,
        min: c_long,
        max: c_long,
        db_min: c_int,
        db_step: c_int,
        ops: *const RawCtlOps,
        private: *mut c_void,
    ) -> c_int;
    fn snd_rs_ctl_add_boolean(
        card: *mut RawCard,
        name: *const c_char,
        id: u32,
        ops: *const RawCtlOps,
        private: *mut c_void,
    ) -> c_int;
    fn snd_rs_ctl_add_iec958(
        card: *mut RawCard,
        name: *const c_char,
        id: u32,
        mask: bool,
        ops: *const RawCtlOps,
        private: *mut c_void,
    ) -> c_int;
}

/// The PCM's private data: the driver data and the PCM's number.
struct PcmPriv<D> {
    data: *const D,
    pcm: u32,
}

/// The trampolines of [`PcmOps`] and [`PcmStream`] the glue calls.
struct Tramp<D>(PhantomData<D>);

impl<D: PcmOps> Tramp<D> {
    const OPS: RawPcmOps = RawPcmOps {
        open: Self::open,
        close: Self::close,
        prepare: Self::prepare,
        trigger: Self::trigger,
        transfer: Self::transfer,
        pointer: Self::pointer,
    };

    /// # Safety
    ///
    /// `p` is a `PcmPriv<D>` of a live card; `s` the glue's stream; `out` valid for a write.
    unsafe extern "C" fn open(
        p: *mut c_void,
        number: c_uint,
        s: *mut RawStream,
        out: *mut *mut c_void,
    ) -> c_int {
        // SAFETY: the glue passes the `PcmPriv<D>` given to `snd_rs_pcm_new`, which the card
        // keeps while it exists (and its PCMs can be opened).
        let p = unsafe { &*p.cast::<PcmPriv<D>>() };
        // SAFETY: the driver data outlives the card (`Card` drops it after freeing the card).
        let d = unsafe { &*p.data };
        from_result(|| {
            let raw = NonNull::new(s).ok_or(EINVAL)?;
            let stream = d.open(p.pcm, number, Notifier { raw })?;
            // SAFETY: `out` is valid for a write (the glue's stack).
            unsafe { out.write(stream.into_foreign()) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// `st` comes from `open` and is not used again.
    unsafe extern "C" fn close(st: *mut c_void) {
        // SAFETY: `st` came from `into_foreign` in `open`; the glue closes once.
        drop(unsafe { <KBox<D::Stream> as ForeignOwnable>::from_foreign(st) });
    }

    /// # Safety
    ///
    /// `st` comes from `open`; `fmt` is valid for a read.
    unsafe extern "C" fn prepare(st: *mut c_void, fmt: *const Format) -> c_int {
        // SAFETY: `st` is an open stream (from `open`), borrowed for the call.
        let s = unsafe { <KBox<D::Stream> as ForeignOwnable>::borrow(st) };
        // SAFETY: the glue passes its stack copy.
        let fmt = unsafe { *fmt };
        from_result(|| s.prepare(&fmt).map(|()| 0))
    }

    /// # Safety
    ///
    /// `st` comes from `open`.
    unsafe extern "C" fn trigger(st: *mut c_void, start: c_int) -> c_int {
        // SAFETY: `st` is an open stream (from `open`), borrowed for the call.
        let s = unsafe { <KBox<D::Stream> as ForeignOwnable>::borrow(st) };
        from_result(|| s.trigger(start != 0).map(|()| 0))
    }

    /// # Safety
    ///
    /// `st` comes from `open`; `data` is valid for `len` bytes during the call.
    unsafe extern "C" fn transfer(st: *mut c_void, data: *const c_void, len: usize) -> c_int {
        // SAFETY: `st` is an open stream (from `open`), borrowed for the call.
        let s = unsafe { <KBox<D::Stream> as ForeignOwnable>::borrow(st) };
        let data = PcmData {
            ptr: data.cast(),
            len,
        };
        from_result(|| s.transfer(&data).map(|()| 0))
    }

    /// # Safety
    ///
    /// `st` comes from `open`.
    unsafe extern "C" fn pointer(st: *mut c_void) -> u32 {
        // SAFETY: `st` is an open stream (from `open`), borrowed for the call.
        let s = unsafe { <KBox<D::Stream> as ForeignOwnable>::borrow(st) };
        s.pointer()
    }
}

/// Trampolines of [`ControlOps`].
struct CtlTramp<D>(PhantomData<D>);

impl<D: ControlOps> CtlTramp<D> {
    const OPS: RawCtlOps = RawCtlOps {
        get: Self::get,
        put: Self::put,
        get_iec958: Self::get_iec958,
        put_iec958: Self::put_iec958,
    };

    /// # Safety
    ///
    /// `d` is the card's driver data (alive while the card's controls are reachable);
    /// `out` valid for a write.
    unsafe extern "C" fn get(d: *mut c_void, id: u32, out: *mut c_long) -> c_int {
        // SAFETY: the function's contract.
        let d = unsafe { &*d.cast::<D>() };
        from_result(|| {
            let v = d.get(id)?;
            // SAFETY: the glue's control value.
            unsafe { out.write(v as c_long) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// As `get`.
    unsafe extern "C" fn put(d: *mut c_void, id: u32, v: c_long) -> c_int {
        // SAFETY: the function's contract.
        let d = unsafe { &*d.cast::<D>() };
        #[allow(
            clippy::useless_conversion,
            reason = "c_long is i64 on arm64 but i32 on 32-bit ARM"
        )]
        let v = i64::from(v);
        from_result(|| d.put(id, v).map(c_int::from))
    }

    /// # Safety
    ///
    /// As `get`; `st` is valid for [`IEC958_BYTES`] bytes of writes.
    unsafe extern "C" fn get_iec958(d: *mut c_void, id: u32, st: *mut u8) -> c_int {
        // SAFETY: the function's contract.
        let d = unsafe { &*d.cast::<D>() };
        let mut b = [0u8; IEC958_BYTES];
        from_result(|| {
            d.get_iec958(id, &mut b)?;
            // SAFETY: `st` is the control value's status array (24 bytes).
            unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), st, IEC958_BYTES) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// As `get`; `st` is valid for [`IEC958_BYTES`] bytes of reads.
    unsafe extern "C" fn put_iec958(d: *mut c_void, id: u32, st: *const u8) -> c_int {
        // SAFETY: the function's contract.
        let d = unsafe { &*d.cast::<D>() };
        let mut b = [0u8; IEC958_BYTES];
        // SAFETY: `st` is the control value's status array (24 bytes).
        unsafe { core::ptr::copy_nonoverlapping(st, b.as_mut_ptr(), IEC958_BYTES) };
        from_result(|| d.put_iec958(id, &b).map(c_int::from))
    }
}

/// The names of a card.
pub(crate) struct CardNames<'a> {
    pub(crate) id: &'a CStr,
    pub(crate) driver: &'a CStr,
    pub(crate) shortname: &'a CStr,
    pub(crate) longname: &'a CStr,
}

/// A sound card with driver data `D`.
///
/// # Invariants
///
/// `raw` is a card from `snd_rs_card_new`, freed only in `Drop`; `data` outlives it.
pub(crate) struct Card<D: PcmOps + ControlOps> {
    raw: NonNull<RawCard>,
    data: Arc<D>,
    /// The private data of the card's PCMs, freed after the card.
    pcms: KVec<KBox<PcmPriv<D>>>,
}

// SAFETY: the card is only registered and freed through it, from any thread; `D` is
// `Send + Sync`.
unsafe impl<D: PcmOps + ControlOps> Send for Card<D> {}
// SAFETY: `&Card` offers nothing that races.
unsafe impl<D: PcmOps + ControlOps> Sync for Card<D> {}

impl<D: PcmOps + ControlOps> Card<D> {
    /// A new (unregistered) card under `parent`.
    pub(crate) fn new(parent: &Device, names: &CardNames<'_>, data: Arc<D>) -> Result<Self> {
        // CAST: `Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`; its raw
        // accessor is crate-private.
        let dev = core::ptr::from_ref(parent).cast::<c_void>().cast_mut();
        let mut raw = core::ptr::null_mut();
        // SAFETY: `dev` is a live device (borrowed); the names are NUL-terminated and only
        // copied; `raw` is valid for a write.
        to_result(unsafe {
            snd_rs_card_new(
                dev,
                names.id.as_char_ptr(),
                names.driver.as_char_ptr(),
                names.shortname.as_char_ptr(),
                names.longname.as_char_ptr(),
                &mut raw,
            )
        })?;
        // INVARIANT: a fresh card; the card keeps `data`.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            data,
            pcms: KVec::new(),
        })
    }

    /// Adds playback PCM device `device` ("number" `pcm` in [`PcmOps::open`]).
    pub(crate) fn add_pcm(
        &mut self,
        name: &CStr,
        device: u32,
        pcm: u32,
        substreams: u32,
        hw: &Hardware,
    ) -> Result {
        self.pcms.reserve(1, GFP_KERNEL)?;
        let p = KBox::new(
            PcmPriv {
                data: Arc::as_ptr(&self.data),
                pcm,
            },
            GFP_KERNEL,
        )?;
        let device = c_int::try_from(device).map_err(|_| EINVAL)?;
        let substreams = c_int::try_from(substreams).map_err(|_| EINVAL)?;
        // SAFETY: `raw` is live (type invariant); `name` and `hw` are copied; the ops table
        // is a constant; `p` stays allocated until after the card is freed (`Drop`).
        to_result(unsafe {
            snd_rs_pcm_new(
                self.raw.as_ptr(),
                name.as_char_ptr(),
                device,
                substreams,
                hw,
                &Tramp::<D>::OPS,
                core::ptr::from_ref(&*p).cast_mut().cast(),
            )
        })?;
        self.pcms.push(p, GFP_KERNEL)?;
        Ok(())
    }

    fn data_ptr(&self) -> *mut c_void {
        Arc::as_ptr(&self.data).cast_mut().cast()
    }

    /// Adds an integer control `id` in `min..=max`, with a dB-scale TLV if `db_step` is not
    /// 0 (`db_min` and `db_step` in 0.01 dB; the minimum means muted).
    pub(crate) fn add_integer(
        &self,
        name: &CStr,
        id: u32,
        (min, max): (i32, i32),
        (db_min, db_step): (i32, i32),
    ) -> Result {
        // SAFETY: `raw` is live; `name` is copied; the ops are constant; the driver data
        // outlives the card and so its controls.
        to_result(unsafe {
            snd_rs_ctl_add_integer(
                self.raw.as_ptr(),
                name.as_char_ptr(),
                id,
                c_long::from(min),
                c_long::from(max),
                db_min,
                db_step,
                &CtlTramp::<D>::OPS,
                self.data_ptr(),
            )
        })
    }

    /// Adds a boolean control `id`.
    pub(crate) fn add_boolean(&self, name: &CStr, id: u32) -> Result {
        // SAFETY: as in `add_integer`.
        to_result(unsafe {
            snd_rs_ctl_add_boolean(
                self.raw.as_ptr(),
                name.as_char_ptr(),
                id,
                &CtlTramp::<D>::OPS,
                self.data_ptr(),
            )
        })
    }

    /// Adds an IEC958 status control `id` (read-only if `mask`).
    pub(crate) fn add_iec958(&self, name: &CStr, id: u32, mask: bool) -> Result {
        // SAFETY: as in `add_integer`.
        to_result(unsafe {
            snd_rs_ctl_add_iec958(
                self.raw.as_ptr(),
                name.as_char_ptr(),
                id,
                mask,
                &CtlTramp::<D>::OPS,
                self.data_ptr(),
            )
        })
    }

    /// Registers the card: its devices appear.
    pub(crate) fn register(&self) -> Result {
        // SAFETY: `raw` is live (type invariant).
        to_result(unsafe { snd_rs_card_register(self.raw.as_ptr()) })
    }
}

impl<D: PcmOps + ControlOps> Drop for Card<D> {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and freed once; `snd_card_free` returns when every file is
        // closed, so no callback runs on `pcms` or `data` afterwards.
        unsafe { snd_rs_card_free(self.raw.as_ptr()) };
    }
}
