// SPDX-License-Identifier: GPL-2.0

//! One card's driver data ("chip"): its VideoCore session, its route, the mixer and the
//! open substreams, as ALSA's [`PcmOps`] and [`ControlOps`].
//!
//! Controls: "PCM Playback Volume" (−10239 … +400 in 0.01 dB, a dB-scale TLV whose minimum
//! mutes), "PCM Playback Switch" (0 mutes) and, on HDMI, "IEC958 Playback Default" and
//! "IEC958 Playback Con Mask". A change is sent to every open stream as CONTROL, and waited
//! for; the put fails (`EIO`, `ETIMEDOUT`) if the VideoCore refuses it.

use crate::alsa::{ControlOps, Hardware, Notifier, PcmOps, FMT_S16_LE, FMT_U8, IEC958_BYTES};
use crate::msg;
use crate::stream::{self, Link, Oddities, Stream};
use crate::vchiq;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// Substreams per chip at most.
pub(crate) const MAX_SUBSTREAMS: u32 = 8;
/// The ALSA buffer of a substream at most (and the bulk bounce buffer).
pub(crate) const BUFFER_BYTES: u32 = 128 * 1024;
/// How long a write waits for a period at least, in milliseconds. Periods are COMPLETE
/// messages through vchiq-core's callback thread, not interrupts: a busy ARM may hold them back
/// for longer than ALSA's own wait (1.1 buffer times, at least 100 ms: 100 ms at 192 kHz 8ch
/// U8, whose largest buffer is 85 ms), and a write then failed with `EIO` where the stream
/// would have gone on (or underrun, which the player recovers from). A VideoCore that reports
/// nothing still ends a write in this time.
pub(crate) const PERIOD_WAIT_MIN_MS: u32 = 2000;

/// Control ids.
pub(crate) const CTL_VOLUME: u32 = 0;
pub(crate) const CTL_SWITCH: u32 = 1;
pub(crate) const CTL_IEC958: u32 = 2;
pub(crate) const CTL_IEC958_MASK: u32 = 3;
/// Volume range in 0.01 dB.
pub(crate) const VOLUME_MIN: i32 = -10239;
pub(crate) const VOLUME_MAX: i32 = 400;

/// The PCM numbers of [`PcmOps::open`].
pub(crate) const PCM_MAIN: u32 = 0;
pub(crate) const PCM_IEC958: u32 = 1;

/// `IEC958_AES0_NONAUDIO`.
const AES0_NONAUDIO: u8 = 1 << 1;

/// The PCM's hardware (§6.5: U8 and S16_LE, 1-8 channels, 8-192 kHz; periods of at least
/// 10 ms, multiples of 16 bytes for the bulk path). At least two periods: the position moves
/// only by COMPLETEs, and with one period the application may write only once the VideoCore
/// has played the whole buffer, which it then has nothing left to play (downstream allows one).
pub(crate) const PCM_HW: Hardware = Hardware {
    formats: FMT_U8 | FMT_S16_LE,
    rate_min: 8000,
    rate_max: 192_000,
    channels_min: 1,
    channels_max: 8,
    buffer_bytes_max: BUFFER_BYTES,
    period_bytes_min: 1024,
    period_bytes_max: BUFFER_BYTES,
    periods_min: 2,
    periods_max: 128,
    period_bytes_step: 16,
    period_time_min_us: 10_000,
    period_wait_min_ms: PERIOD_WAIT_MIN_MS,
};

/// The IEC958 PCM's hardware: S16_LE stereo at 44.1 or 48 kHz.
pub(crate) const IEC958_HW: Hardware = Hardware {
    formats: FMT_S16_LE,
    rate_min: 44_100,
    rate_max: 48_000,
    channels_min: 2,
    channels_max: 2,
    ..PCM_HW
};

/// The mixer's values.
struct Mixer {
    /// 0.01 dB.
    volume: i32,
    /// The switch: `false` mutes.
    on: bool,
    iec958: [u8; IEC958_BYTES],
}

/// An open substream, for the mixer's broadcasts.
struct Entry {
    bit: u32,
    handle: u32,
    link: Arc<Link>,
}

/// The open substreams.
struct Open {
    /// Bit N: substream N (the IEC958 PCM's substream uses bit 0, as downstream).
    mask: u32,
    entries: KVec<Entry>,
}

/// One card's driver data.
#[pin_data]
pub(crate) struct Chip {
    pub(crate) instance: vchiq::Instance,
    /// CONTROL's route: 1 headphones, 2 HDMI.
    dest: u32,
    pub(crate) force_bulk: bool,
    #[pin]
    mixer: Mutex<Mixer>,
    #[pin]
    open: Mutex<Open>,
    pub(crate) oddities: Arc<Oddities>,
}

impl Chip {
    /// A chip with its own session on `state`.
    pub(crate) fn new(state: &vchiq::State, dest: u32, force_bulk: bool) -> Result<Arc<Self>> {
        let instance = vchiq::Instance::new(state)?;
        let oddities = Arc::new(Oddities::new(), GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Chip {
                instance,
                dest,
                force_bulk,
                mixer <- new_mutex!(
                    Mixer {
                        volume: 0,
                        on: true,
                        iec958: [0; IEC958_BYTES],
                    },
                    "snd_bcm2835::Chip::mixer"
                ),
                open <- new_mutex!(
                    Open {
                        mask: 0,
                        entries: KVec::new(),
                    },
                    "snd_bcm2835::Chip::open"
                ),
                oddities,
            }),
            GFP_KERNEL,
        )
    }

    /// CONTROL's words: the volume (muted: about 102.4 dB of attenuation) and the route.
    pub(crate) fn control_words(&self) -> (u32, u32) {
        let m = self.mixer.lock();
        let alsa = if m.on { m.volume } else { msg::MUTED };
        (msg::volume(alsa), self.dest)
    }

    /// Whether the IEC958 status says non-audio (CONFIG then sends 0 channels).
    pub(crate) fn nonaudio(&self) -> bool {
        self.mixer.lock().iec958[0] & AES0_NONAUDIO != 0
    }

    /// Substream `bit` closed.
    pub(crate) fn forget(&self, bit: u32) {
        let mut open = self.open.lock();
        open.mask &= !(1 << bit);
        if let Some(i) = open.entries.iter().position(|e| e.bit == bit) {
            let _ = open.entries.remove(i);
        }
    }

    /// Sends the mixer's values to every open stream, each whatever the others answered;
    /// the first error is returned.
    fn broadcast(&self) -> Result {
        let words = self.control_words();
        let open = self.open.lock();
        let mut first = Ok(());
        for e in open.entries.iter() {
            let r = stream::send_control(&e.link, self.instance.service(e.handle), words);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// The chip of an open path: `Chip` is reached through the `Arc` ALSA's private data is
/// taken from, so an open stream can keep it.
impl PcmOps for Chip {
    type Stream = Stream;

    fn open(&self, pcm: u32, number: u32, notifier: Notifier) -> Result<KBox<Stream>> {
        let spdif = pcm == PCM_IEC958;
        if number >= MAX_SUBSTREAMS {
            return Err(ENODEV);
        }
        let bit = if spdif { 0 } else { number };
        let this = self.arc()?;
        {
            let mut open = self.open.lock();
            if (spdif && open.mask != 0) || open.mask & (1 << bit) != 0 {
                return Err(EBUSY);
            }
            open.entries.reserve(1, GFP_KERNEL)?;
            open.mask |= 1 << bit;
        }
        if !spdif {
            self.mixer.lock().iec958 = [0; IEC958_BYTES];
        }
        let stream = match Stream::open(&this, notifier, spdif, bit) {
            Ok(s) => s,
            Err(e) => {
                self.open.lock().mask &= !(1 << bit);
                return Err(e);
            }
        };
        let entry = Entry {
            bit: stream.bit(),
            handle: stream.handle(),
            link: stream.link().clone(),
        };
        // Room was reserved above.
        if self.open.lock().entries.push(entry, GFP_KERNEL).is_err() {
            return Err(ENOMEM);
        }
        Ok(stream)
    }
}

impl Chip {
    /// The `Arc` this chip lives in (every chip is made by [`Chip::new`]).
    fn arc(&self) -> Result<Arc<Self>> {
        // SAFETY: every `Chip` lives in the `Arc` of `Chip::new`, which the card holds while
        // its PCMs can be opened, so the count cannot reach zero meanwhile.
        Ok(unsafe { kernel::sync::ArcBorrow::from_raw(self) }.into())
    }
}

impl ControlOps for Chip {
    fn get(&self, id: u32) -> Result<i64> {
        let m = self.mixer.lock();
        match id {
            CTL_VOLUME => Ok(i64::from(m.volume)),
            CTL_SWITCH => Ok(i64::from(m.on)),
            _ => Err(EINVAL),
        }
    }

    fn put(&self, id: u32, value: i64) -> Result<bool> {
        let changed = {
            let mut m = self.mixer.lock();
            match id {
                CTL_VOLUME => {
                    let v = i32::try_from(value).map_err(|_| EINVAL)?;
                    let changed = m.volume != v;
                    m.volume = v;
                    changed
                }
                CTL_SWITCH => {
                    let on = value != 0;
                    let changed = m.on != on;
                    m.on = on;
                    changed
                }
                _ => return Err(EINVAL),
            }
        };
        if changed {
            self.broadcast()?;
        }
        Ok(changed)
    }

    fn get_iec958(&self, id: u32, status: &mut [u8; IEC958_BYTES]) -> Result {
        match id {
            CTL_IEC958 => *status = self.mixer.lock().iec958,
            CTL_IEC958_MASK => *status = [AES0_NONAUDIO, 0, 0, 0],
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    fn put_iec958(&self, id: u32, status: &[u8; IEC958_BYTES]) -> Result<bool> {
        if id != CTL_IEC958 {
            return Err(EINVAL);
        }
        let mut m = self.mixer.lock();
        let changed = m.iec958 != *status;
        m.iec958 = *status;
        Ok(changed)
    }
}
