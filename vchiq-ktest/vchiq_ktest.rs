// SPDX-License-Identifier: GPL-2.0

//! vchiq-ktest: a kernel client of vchiq-core that tests the service API end to end against
//! the simulated VideoCore's test services (`echo`, `func`, `fun2`).
//!
//! It binds vchiq-core's `ktest` auxiliary device and offers
//! `/sys/kernel/debug/vchiq-ktest/run`: writing a test name runs it in the writer's context;
//! the write fails (`EIO`) if the test fails. `/sys/kernel/debug/vchiq-ktest/result` reports
//! the last run. Tests: see [`tests::run`].

use kernel::debugfs::{Dir, File};
use kernel::device::Core;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::{auxiliary, driver, new_mutex, InPlaceModule};

#[path = "../include/vchiq-rs/client.rs"]
mod vchiq;

mod bench;
#[path = "../vchiq-core/fmt64.rs"]
mod fmt64;
mod races;
mod tests;
mod util;

const AUX_NAME: &CStr = c"ktest";

kernel::auxiliary_device_table!(
    AUX_TABLE,
    <KtestDriver as auxiliary::Driver>::IdInfo,
    [(auxiliary::DeviceId::new(c"vchiq_core", AUX_NAME), ())]
);

/// What the debugfs files share.
#[pin_data]
pub(crate) struct Ktest {
    /// The VideoCore of the auxiliary device.
    state: vchiq::State,
    /// Report of the last run.
    #[pin]
    result: Mutex<KVec<u8>>,
    /// The session of a test run in steps (`races.rs`).
    #[pin]
    stash: Mutex<Option<races::Stash>>,
}

impl Ktest {
    /// A session on the VideoCore.
    pub(crate) fn instance(&self) -> Result<vchiq::Instance> {
        vchiq::Instance::new(&self.state)
    }
}

fn run_write(k: &Arc<Ktest>, reader: &mut kernel::uaccess::UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let n = reader.len().min(buf.len());
    reader.read_slice(&mut buf[..n])?;
    let cmd = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim();
    let mut out = util::Report::new();
    let r = tests::run(k, cmd, &mut out);
    match &r {
        Ok(()) => out.line(format_args!("PASS {}", cmd)),
        Err(e) => out.line(format_args!("FAIL {}: {:?}", cmd, e)),
    }
    let text = out.into_bytes();
    if let Ok(s) = core::str::from_utf8(&text) {
        for l in s.lines() {
            pr_info!("{}\n", l);
        }
    }
    *k.result.lock() = text;
    r.map_err(|_| EIO)
}

fn result_read(k: &Arc<Ktest>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let r = k.result.lock();
    f.write_str(core::str::from_utf8(&r).unwrap_or("(binary)\n"))
}

/// The driver's data: the debugfs files.
pub(crate) struct KtestData {
    _run: Pin<KBox<File<Arc<Ktest>>>>,
    _result: Pin<KBox<File<Arc<Ktest>>>>,
    _dir: Dir,
}

struct KtestDriver;

impl auxiliary::Driver for KtestDriver {
    type IdInfo = ();
    type Data<'bound> = KtestData;
    const ID_TABLE: auxiliary::IdTable<Self::IdInfo> = &AUX_TABLE;

    fn probe<'bound>(
        adev: &'bound auxiliary::Device<Core<'_>>,
        _info: &'bound Self::IdInfo,
    ) -> impl PinInit<KtestData, Error> + 'bound {
        let state = vchiq::State::of(adev)?;
        let k = Arc::pin_init(
            pin_init!(Ktest {
                state,
                result <- new_mutex!(KVec::new(), "Ktest::result"),
                stash <- new_mutex!(None, "Ktest::stash"),
            }),
            GFP_KERNEL,
        )?;
        let dir = Dir::new(c"vchiq-ktest");
        let run = KBox::pin_init(
            dir.write_callback_file(c"run", k.clone(), &run_write),
            GFP_KERNEL,
        )?;
        let result = KBox::pin_init(
            dir.read_callback_file(c"result", k, &result_read),
            GFP_KERNEL,
        )?;
        dev_info!(adev.as_ref(), "ready\n");
        Ok(KtestData {
            _run: run,
            _result: result,
            _dir: dir,
        })
    }
}

#[pin_data]
struct KtestModule {
    #[pin]
    _driver: driver::Registration<auxiliary::Adapter<KtestDriver>>,
}

impl InPlaceModule for KtestModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- driver::Registration::new(c"vchiq_ktest", module),
        })
    }
}

module! {
    type: KtestModule,
    name: "vchiq_ktest",
    authors: ["The vchiq-rs developers"],
    description: "End-to-end tests of the vchiq-core service API (simulated VideoCore)",
    license: "GPL",
}
