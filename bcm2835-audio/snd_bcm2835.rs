// SPDX-License-Identifier: GPL-2.0

//! snd-bcm2835: ALSA playback through the VideoCore's AUDS service, as a client of
//! vchiq-core alone (no `/dev/vchiq`).
//!
//! It binds vchiq-core's `audio` auxiliary device and creates the cards downstream offers:
//! "bcm2835 Headphones" (`enable_headphones`, on by default) and "bcm2835 HDMI"
//! (`enable_hdmi`) with its IEC958 PCM, sharing `num_channels` substreams. Each open
//! substream opens its own AUDS service; its data goes in DATA messages when the
//! VideoCore's service is version 2 or later, in bulk transfers otherwise or with
//! `force_bulk`. See `Documentation/audio.rst`.
//!
//! * `msg.rs`: the AUDS wire format;
//! * `stream.rs`: one substream: requests, data, the pointer, the handler;
//! * `chip.rs`: one card's data: the PCM open, the mixer controls;
//! * `alsa.rs` with `alsa_glue.c`: the ALSA layer the 7.3 `kernel` crate lacks.

use kernel::debugfs::Scope;
use kernel::device::Core;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::{auxiliary, driver, InPlaceModule};

#[path = "../include/vchiq-rs/client.rs"]
mod vchiq;

mod alsa;
mod chip;
mod msg;
// The family's rate-limited logging rule, from the engine (`Documentation/architecture.rst`).
#[expect(
    unreachable_pub,
    reason = "the engine's items are `pub` for its host crate"
)]
#[path = "../vchiq-core/engine/src/ratelimit.rs"]
mod ratelimit;
mod stream;

use alsa::{Card, CardNames};
use chip::{Chip, MAX_SUBSTREAMS};
use stream::Oddities;

module! {
    type: AudioModule,
    name: "snd_bcm2835",
    authors: ["The vchiq-rs developers"],
    description: "ALSA playback through the VideoCore's audio service (vchiq-rs)",
    license: "GPL",
    params: {
        enable_hdmi: bool {
            default: false,
            description: "Enables the HDMI card (with its IEC958 PCM)",
        },
        enable_headphones: bool {
            default: true,
            description: "Enables the headphones card",
        },
        num_channels: i32 {
            default: 8,
            description: "Substreams shared by the cards (1-8)",
        },
        force_bulk: bool {
            default: false,
            description: "Sends PCM data in bulk transfers even to a version 2 service",
        },
    },
}

kernel::auxiliary_device_table!(
    AUX_TABLE,
    <AudioDriver as auxiliary::Driver>::IdInfo,
    [(auxiliary::DeviceId::new(c"vchiq_core", c"audio"), ())]
);

/// One card kind.
struct Kind {
    names: CardNames<'static>,
    /// CONTROL's route.
    dest: u32,
    hdmi: bool,
    /// The debugfs directory of its counters.
    debugfs: &'static CStr,
}

const HDMI: Kind = Kind {
    names: CardNames {
        id: c"HDMI",
        driver: c"bcm2835_hdmi",
        shortname: c"bcm2835 HDMI",
        longname: c"bcm2835 HDMI",
    },
    dest: 2,
    hdmi: true,
    debugfs: c"snd-bcm2835-hdmi",
};

const HEADPHONES: Kind = Kind {
    names: CardNames {
        id: c"Headphones",
        driver: c"bcm2835_headphones",
        shortname: c"bcm2835 Headphones",
        longname: c"bcm2835 Headphones",
    },
    dest: 1,
    hdmi: false,
    debugfs: c"snd-bcm2835-headphones",
};

/// The driver's data: the cards (dropping one waits until its files are closed) and their
/// counters in debugfs.
struct AudioData {
    _cards: KVec<Card<Chip>>,
    _debugfs: KVec<Pin<KBox<Scope<Arc<Oddities>>>>>,
}

/// `/sys/kernel/debug/snd-bcm2835-<card>/`: what the VideoCore sent that did not fit.
fn debugfs(name: &'static CStr, odd: Arc<Oddities>) -> impl PinInit<Scope<Arc<Oddities>>> {
    Scope::dir(odd, name, |o, dir| {
        dir.read_only_file(c"stray_results", &o.stray_results);
        dir.read_only_file(c"bad_cookies", &o.bad_cookies);
        dir.read_only_file(c"bad_counts", &o.bad_counts);
        dir.read_only_file(c"underruns", &o.underruns);
        dir.read_only_file(c"ignored", &o.ignored);
        dir.read_only_file(c"unexpected", &o.unexpected);
    })
}

/// The substreams of each enabled card: one each, the rest shared out (the first card
/// gets the remainder), as downstream.
fn shares(total: u32, enabled: &[bool; 2]) -> [u32; 2] {
    let n = enabled.iter().filter(|e| **e).count() as u32;
    if n == 0 {
        return [0, 0];
    }
    let extra = total.saturating_sub(n);
    let (each, mut rem) = (extra / n, extra % n);
    let mut out = [0; 2];
    for (o, e) in out.iter_mut().zip(enabled) {
        if *e {
            *o = 1 + each + rem;
            rem = 0;
        }
    }
    out
}

/// Creates and registers one card.
fn card(
    adev: &auxiliary::Device<Core<'_>>,
    state: &vchiq::State,
    kind: &Kind,
    substreams: u32,
) -> Result<(Card<Chip>, Arc<Oddities>)> {
    let force_bulk = module_parameters::force_bulk.value();
    let chip = Chip::new(state, kind.dest, force_bulk)?;
    let odd = chip.oddities.clone();
    let mut card = Card::new(adev.as_ref(), &kind.names, chip)?;
    card.add_pcm(
        kind.names.shortname,
        0,
        chip::PCM_MAIN,
        substreams,
        &chip::PCM_HW,
    )?;
    card.add_integer(
        c"PCM Playback Volume",
        chip::CTL_VOLUME,
        (chip::VOLUME_MIN, chip::VOLUME_MAX),
        (chip::VOLUME_MIN, 1),
    )?;
    card.add_boolean(c"PCM Playback Switch", chip::CTL_SWITCH)?;
    if kind.hdmi {
        card.add_pcm(c"IEC958", 1, chip::PCM_IEC958, 1, &chip::IEC958_HW)?;
        card.add_iec958(c"IEC958 Playback Default", chip::CTL_IEC958, false)?;
        card.add_iec958(c"IEC958 Playback Con Mask", chip::CTL_IEC958_MASK, true)?;
    }
    card.register()?;
    Ok((card, odd))
}

struct AudioDriver;

impl auxiliary::Driver for AudioDriver {
    type IdInfo = ();
    type Data<'bound> = AudioData;
    const ID_TABLE: auxiliary::IdTable<Self::IdInfo> = &AUX_TABLE;

    fn probe<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        _info: &'bound Self::IdInfo,
    ) -> impl PinInit<AudioData, Error> + 'bound {
        let state = vchiq::State::of(adev)?;
        let mut total = module_parameters::num_channels.value();
        if total <= 0 || total > MAX_SUBSTREAMS as i32 {
            dev_warn!(
                adev.as_ref(),
                "Illegal num_channels value, will use {}\n",
                MAX_SUBSTREAMS
            );
            total = MAX_SUBSTREAMS as i32;
        }
        let enabled = [
            module_parameters::enable_hdmi.value(),
            module_parameters::enable_headphones.value(),
        ];
        let mut cards = KVec::new();
        let mut dirs = KVec::new();
        for ((kind, on), n) in [&HDMI, &HEADPHONES]
            .iter()
            .zip(enabled)
            .zip(shares(total as u32, &enabled))
        {
            if on {
                let (c, odd) = card(adev, &state, kind, n)?;
                cards.push(c, GFP_KERNEL)?;
                dirs.push(
                    KBox::pin_init(debugfs(kind.debugfs, odd), GFP_KERNEL)?,
                    GFP_KERNEL,
                )?;
            }
        }
        dev_info!(adev.as_ref(), "{} card(s)\n", cards.len());
        Ok(AudioData {
            _cards: cards,
            _debugfs: dirs,
        })
    }
}

#[pin_data]
struct AudioModule {
    #[pin]
    _driver: driver::Registration<auxiliary::Adapter<AudioDriver>>,
}

impl InPlaceModule for AudioModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- driver::Registration::new(c"snd_bcm2835", module),
        })
    }
}
