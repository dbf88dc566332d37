// SPDX-License-Identifier: GPL-2.0

//! `GCMD`: the general command service behind `vcgencmd` (firmware-services.md §3), eight
//! independent listeners (one per concurrent client), version 1/1.
//!
//! A request is one message with the command text (NUL-terminated; vcgencmd adds a trailing
//! space); the answer is one message: `i32` error code (LE), the text, a NUL, at most 4088
//! bytes. Errors are in the text, in the firmware's words: `error=1 error_msg="Command not
//! registered"`, `error=2 error_msg="Invalid arguments"`; the code repeats the number.
//! Every command and its result code go to the firmware's message log. The debugfs knob
//! `gcmd_fault` ([`FAULT`]) makes every answer misbehave, as firmware-services.md §7 lists.

use super::{fourcc, SimService};
use crate::engine::{ServerOptions, ServiceParams};
use crate::host::{Ctx, Lid};
use crate::knobs::bump;
use core::fmt::Write;
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

const GCMD: u32 = fourcc(b"GCMD");
const LISTENERS: usize = 8;
/// Largest answer, header and NUL included (the client's buffer is 4092 bytes).
pub(crate) const MAX_RESPONSE: usize = 4088;
/// Longest command the simulator reads.
const MAX_COMMAND: usize = 512;

/// Answer faults (`gcmd_fault` in debugfs); persistent until set back to [`FAULT_NONE`].
pub(crate) static FAULT: Atomic<u32> = Atomic::new(FAULT_NONE);
pub(crate) const FAULT_NONE: u32 = 0;
/// No answer at all (vcgencmd waits forever; clients need their own timeout).
pub(crate) const FAULT_SILENT: u32 = 1;
/// A 4083-character answer: the largest that fits.
pub(crate) const FAULT_LONG: u32 = 2;
/// The text without its NUL.
pub(crate) const FAULT_NO_NUL: u32 = 3;
/// `error=3 error_msg="Simulated failure"` whatever the command.
pub(crate) const FAULT_ERROR: u32 = 4;
/// The normal text with error code 5.
pub(crate) const FAULT_CODE: u32 = 5;
/// Largest knob value.
pub(crate) const FAULT_MAX: u32 = FAULT_CODE;

const COMMANDS: &str = "commands=\"vcos, ap_output_control, ap_output_post_processing, vchi_test_init, vchi_test_exit, pm_set_policy, pm_get_status, pm_show_stats, pm_start_logging, pm_stop_logging, version, commands, set_vll_dir, set_backlight, set_logging, get_lcd_info, arbiter, cache_flush, otp_dump, test_result, codec_enabled, get_camera, get_mem, measure_clock, measure_volts, enable_clock, scaling_kernel, scaling_sharpness, get_hvs_asserts, get_throttled, measure_temp, get_config, hdmi_ntsc_freqs, hdmi_adjust_clock, hdmi_status_show, hvs_update_fields, pwm_speedup, force_audio, hdmi_stream_channels, hdmi_channel_map, display_power, read_ring_osc, memtest, dispmanx_list, get_rsts, schmoo, render_bar, disk_notify, inuse_notify, sus_suspend, sus_status, sus_is_enabled, sus_stop_test_thread, egl_platform_switch, mem_validate, mem_oom, mem_reloc_stats, hdmi_cvt, hdmi_timings, readmr, pmicrd, pmicwr, bootloader_version, bootloader_config, file, vctest_memmap, vctest_start, vctest_stop, vctest_set, vctest_get\"";
const VERSION: &str = "Mar 17 2023 10:52:00 \nCopyright (c) 2012 Broadcom\nversion 82f3750a65fadae9a38077e3c2e217ad158c8d54 (clean) (release) (start)";
/// The memory split when the simulator has no firmware memory (a 1 GiB Pi 3's default).
const DEFAULT_SPLIT: (u32, u32) = (948, 76);
/// `measure_clock`: name, firmware clock id, Hz.
const CLOCKS: [(&str, u32, u32); 12] = [
    ("arm", 48, 1_500_000_000),
    ("core", 1, 500_000_000),
    ("h264", 28, 0),
    ("isp", 42, 0),
    ("v3d", 43, 500_000_000),
    ("uart", 22, 48_000_000),
    ("pwm", 25, 0),
    ("emmc", 50, 250_000_000),
    ("pixel", 29, 75_000_000),
    ("vec", 10, 0),
    ("hdmi", 9, 0),
    ("dpi", 4, 0),
];
/// `measure_volts`: name, volts in units of 0.1 mV.
const VOLTS: [(&str, u32); 4] = [
    ("core", 12_000),
    ("sdram_c", 11_000),
    ("sdram_i", 11_000),
    ("sdram_p", 11_000),
];
/// `get_config`: integer settings.
const CONFIG_INT: [(&str, u32); 6] = [
    ("arm_freq", 1500),
    ("core_freq", 500),
    ("sdram_freq", 3200),
    ("over_voltage", 0),
    ("disable_overscan", 1),
    ("hdmi_group", 0),
];
/// `get_config`: string settings.
const CONFIG_STR: [(&str, &str); 2] = [
    ("device_tree", "bcm2711-rpi-4-b.dtb"),
    ("kernel", "kernel8.img"),
];
/// `codec_enabled`: the codecs and whether they are licensed.
const CODECS: [(&str, bool); 8] = [
    ("AGIF", true),
    ("FLAC", true),
    ("H263", false),
    ("H264", true),
    ("MJPA", true),
    ("MPG2", false),
    ("VORB", true),
    ("WVC1", false),
];

/// An answer being built: code and text.
struct Answer {
    code: i32,
    text: KVec<u8>,
    /// The text did not fit (or could not be allocated): cut.
    cut: bool,
}

impl Write for Answer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = (MAX_RESPONSE - 5).saturating_sub(self.text.len());
        let n = s.len().min(room);
        if n < s.len() {
            self.cut = true;
        }
        if self
            .text
            .extend_from_slice(&s.as_bytes()[..n], GFP_KERNEL)
            .is_err()
        {
            self.cut = true;
        }
        Ok(())
    }
}

impl Answer {
    fn new() -> Self {
        Self {
            code: 0,
            text: KVec::new(),
            cut: false,
        }
    }

    fn error(&mut self, code: i32) {
        self.text.clear();
        self.code = code;
        let msg = match code {
            1 => "Command not registered",
            2 => "Invalid arguments",
            _ => "Simulated failure",
        };
        let _ = write!(self, "error={code} error_msg=\"{msg}\"");
    }
}

/// Executes one command line into `a`.
fn execute(a: &mut Answer, cmd: &str, args: &[&str]) {
    let r = match (cmd, args) {
        ("commands", []) => write!(a, "{COMMANDS}"),
        ("version", []) | ("vcos", ["version"]) => write!(a, "{VERSION}"),
        ("get_mem", [which]) => {
            let (arm, gpu) = crate::fwmem::region()
                .map(|(base, size)| (base >> 20, (size - base) >> 20))
                .unwrap_or(DEFAULT_SPLIT);
            match *which {
                "arm" => write!(a, "arm={arm}M"),
                "gpu" => write!(a, "gpu={gpu}M"),
                _ => return a.error(2),
            }
        }
        ("measure_temp", []) => write!(a, "temp=42.8'C"),
        ("measure_clock", [clk]) => match CLOCKS.iter().find(|c| c.0 == *clk) {
            Some((_, id, hz)) => write!(a, "frequency({id})={hz}"),
            None => write!(a, "frequency(0)=0"),
        },
        ("measure_volts", []) => write_volts(a, VOLTS[0].1),
        ("measure_volts", [which]) => match VOLTS.iter().find(|v| v.0 == *which) {
            Some((_, v)) => write_volts(a, *v),
            None => return a.error(2),
        },
        ("get_throttled", []) => write!(a, "throttled=0x0"),
        ("get_camera", []) => write!(a, "supported=0 detected=0, libcamera interfaces=0"),
        ("get_config", ["int"]) => CONFIG_INT
            .iter()
            .try_for_each(|(k, v)| writeln!(a, "{k}={v}")),
        ("get_config", ["str"]) => CONFIG_STR
            .iter()
            .try_for_each(|(k, v)| writeln!(a, "{k}={v}")),
        ("get_config", [name]) => {
            if let Some((k, v)) = CONFIG_INT.iter().find(|c| c.0 == *name) {
                write!(a, "{k}={v}")
            } else if let Some((k, v)) = CONFIG_STR.iter().find(|c| c.0 == *name) {
                write!(a, "{k}={v}")
            } else {
                write!(a, "{name}=0")
            }
        }
        ("codec_enabled", [codec]) => match CODECS.iter().find(|c| c.0.eq_ignore_ascii_case(codec))
        {
            Some((name, on)) => write!(a, "{name}={}", if *on { "enabled" } else { "disabled" }),
            None => return a.error(2),
        },
        ("display_power", []) => write!(a, "display_power=1"),
        ("display_power", [state] | [state, _]) => match *state {
            "0" | "1" => write!(a, "display_power={state}"),
            "-1" => write!(a, "display_power=1"),
            _ => return a.error(2),
        },
        ("otp_dump", []) => {
            (8u32..=64).try_for_each(|row| writeln!(a, "{row:02}:{:08x}", otp(row)))
        }
        ("get_lcd_info", []) => write!(a, "720 480 24"),
        (
            "version" | "get_mem" | "measure_temp" | "measure_clock" | "measure_volts"
            | "get_throttled" | "get_camera" | "get_config" | "codec_enabled" | "display_power"
            | "otp_dump" | "get_lcd_info" | "vcos",
            _,
        ) => return a.error(2),
        _ => return a.error(1),
    };
    if r.is_err() {
        a.cut = true;
    }
}

fn write_volts(a: &mut Answer, v: u32) -> core::fmt::Result {
    write!(a, "volt={}.{:04}V", v / 10_000, v % 10_000)
}

/// A plausible OTP row: serial number and revision where a Pi keeps them, zero elsewhere.
fn otp(row: u32) -> u32 {
    match row {
        28 => 0x1234_abcd,
        30 => 0x00c0_3111,
        _ => 0,
    }
}

struct Gcmd {
    lids: KVec<Lid>,
}

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    Ok(KBox::new(Gcmd { lids: KVec::new() }, GFP_KERNEL)? as KBox<dyn SimService>)
}

/// The command text: up to the first NUL, at most [`MAX_COMMAND`] bytes, as UTF-8.
fn command_text(data: &[u8]) -> &str {
    let data = &data[..data.len().min(MAX_COMMAND)];
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    core::str::from_utf8(&data[..end]).unwrap_or("")
}

/// The answer message for `data` under `fault`, or `None` for no answer.
fn respond(data: &[u8], fault: u32) -> Result<Option<KVec<u8>>> {
    let line = command_text(data).trim_ascii();
    let mut words = line.split_ascii_whitespace();
    let cmd = words.next().unwrap_or("");
    let mut args = [""; 4];
    let mut n = 0;
    for w in words {
        if n == args.len() {
            n += 1;
            break;
        }
        args[n] = w;
        n += 1;
    }
    let mut a = Answer::new();
    if n > args.len() {
        a.error(2);
    } else {
        execute(&mut a, cmd, &args[..n]);
    }
    match fault {
        FAULT_SILENT => {
            crate::fwmem::msg(format_args!("gencmd: {line} -> no answer (gcmd_fault)"));
            return Ok(None);
        }
        FAULT_LONG => {
            a.text.clear();
            a.text.resize(MAX_RESPONSE - 5, b'x', GFP_KERNEL)?;
        }
        FAULT_ERROR => a.error(3),
        FAULT_CODE => a.code = 5,
        _ => {}
    }
    crate::fwmem::msg(format_args!("gencmd: {line} -> {}", a.code));
    let mut out = KVec::with_capacity(4 + a.text.len() + 1, GFP_KERNEL)?;
    out.extend_from_slice(&a.code.to_le_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&a.text, GFP_KERNEL)?;
    if fault != FAULT_NO_NUL {
        out.push(0, GFP_KERNEL)?;
    }
    Ok(Some(out))
}

impl SimService for Gcmd {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        let params = ServiceParams {
            fourcc: GCMD,
            version: 1,
            version_min: 1,
        };
        for _ in 0..LISTENERS {
            let lid = cx.add_listener(params, ServerOptions::default())?;
            self.lids.push(lid, GFP_KERNEL)?;
        }
        Ok(())
    }

    fn message(&mut self, cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        match respond(data, FAULT.load(Relaxed)) {
            Ok(Some(out)) => {
                if cx.send(lid, &out).is_err() {
                    bump(&cx.counters().errors);
                }
            }
            Ok(None) => {}
            Err(_) => {
                bump(&cx.counters().errors);
            }
        }
    }
}
