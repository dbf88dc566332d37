//! GCMD, the service behind `vcgencmd`, through `/dev/vchiq` with tools/vchiq-test's client
//! library: a request is the command text plus NUL (vcgencmd joins its arguments with spaces
//! and appends one); the answer is one message `i32 code, text, NUL`, at most 4088 bytes.
//!
//! `vcmem gencmd CMD...` prints the answer as vcgencmd does (an `error=` text to stderr, exit
//! status 254); unlike vcgencmd it gives up after `--timeout` ms. `vcmem gencmd-check` checks
//! every command's exact text, eight concurrent clients and the simulator's `gcmd_fault` knob.

use std::io;
use std::time::Duration;
use vchiq_test::{fourcc, Client};

/// Largest answer, header and NUL included.
pub const MAX_RESPONSE: usize = 4088;
const KNOB: &str = "/sys/kernel/debug/vchiq-sim/gcmd_fault";

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub code: i32,
    pub text: String,
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Sends one command on a fresh connection, as each vcgencmd process does.
pub fn ask(cmd: &str, timeout: Duration) -> io::Result<Answer> {
    let client = Client::open("/dev/vchiq")?;
    let svc = client.open_service(fourcc(b"GCMD"), 1, 1, false)?;
    let mut req = format!("{cmd} ").into_bytes();
    req.push(0);
    svc.send(&[&req])?;
    let r = svc.recv_message(timeout);
    svc.close()?;
    client.shutdown()?;
    let msg = r?;
    if msg.len() < 5 || msg.len() > MAX_RESPONSE {
        return Err(bad(format!("answer of {} bytes", msg.len())));
    }
    let code = i32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let body = &msg[4..];
    let Some(end) = body.iter().position(|&c| c == 0) else {
        return Err(bad("answer without NUL".into()));
    };
    Ok(Answer {
        code,
        text: String::from_utf8_lossy(&body[..end]).into_owned(),
    })
}

/// `vcmem gencmd [--timeout MS] CMD...`.
pub fn main(args: &[String]) -> std::process::ExitCode {
    let (timeout, words) = match args {
        [t, ms, rest @ ..] if t == "--timeout" => (ms.parse().unwrap_or(5000), rest),
        rest => (5000, rest),
    };
    match ask(&words.join(" "), Duration::from_millis(timeout)) {
        Ok(a) if a.text.starts_with("error=") => {
            eprintln!("{}", a.text);
            std::process::ExitCode::from(254)
        }
        Ok(a) => {
            if a.text.ends_with('\n') {
                print!("{}", a.text);
            } else {
                println!("{}", a.text);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vcmem gencmd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

const VERSION: &str = "Mar 17 2023 10:52:00 \nCopyright (c) 2012 Broadcom\nversion 82f3750a65fadae9a38077e3c2e217ad158c8d54 (clean) (release) (start)";

/// Commands and the exact text (a trailing `*` means "starts with").
fn table(arm_mb: u32, gpu_mb: u32) -> Vec<(String, i32, String)> {
    let e1 = "error=1 error_msg=\"Command not registered\"";
    let e2 = "error=2 error_msg=\"Invalid arguments\"";
    let t = |c: &str, code: i32, s: &str| (c.to_string(), code, s.to_string());
    vec![
        t("commands", 0, "commands=\"vcos, ap_output_control, *"),
        t("version", 0, VERSION),
        t("vcos version", 0, VERSION),
        ("get_mem arm".into(), 0, format!("arm={arm_mb}M")),
        ("get_mem gpu".into(), 0, format!("gpu={gpu_mb}M")),
        t("get_mem", 2, e2),
        t("get_mem both", 2, e2),
        t("measure_temp", 0, "temp=42.8'C"),
        t("measure_clock arm", 0, "frequency(48)=1500000000"),
        t("measure_clock core", 0, "frequency(1)=500000000"),
        t("measure_clock nonsense", 0, "frequency(0)=0"),
        t("measure_clock", 2, e2),
        t("measure_volts", 0, "volt=1.2000V"),
        t("measure_volts core", 0, "volt=1.2000V"),
        t("measure_volts sdram_c", 0, "volt=1.1000V"),
        t("measure_volts foo", 2, e2),
        t("get_throttled", 0, "throttled=0x0"),
        t("get_config arm_freq", 0, "arm_freq=1500"),
        t("get_config int", 0, "arm_freq=1500\ncore_freq=500\n*"),
        t("get_config str", 0, "device_tree=*"),
        t("codec_enabled H264", 0, "H264=enabled"),
        t("codec_enabled MPG2", 0, "MPG2=disabled"),
        t("codec_enabled", 2, e2),
        t(
            "get_camera",
            0,
            "supported=0 detected=0, libcamera interfaces=0",
        ),
        t("display_power", 0, "display_power=1"),
        t("display_power 0", 0, "display_power=0"),
        t("display_power -1 2", 0, "display_power=1"),
        t("otp_dump", 0, "08:00000000\n09:00000000\n*"),
        t("get_lcd_info", 0, "720 480 24"),
        t("no_such_command", 1, e1),
        t("", 1, e1),
    ]
}

fn matches(got: &Answer, code: i32, want: &str) -> bool {
    let text_ok = match want.strip_suffix('*') {
        Some(prefix) => got.text.starts_with(prefix),
        None => got.text == want,
    };
    text_ok && got.code == code
}

fn set_fault(v: u32) -> Result<(), String> {
    std::fs::write(KNOB, format!("{v}\n")).map_err(|e| format!("{KNOB}: {e}"))
}

/// Judges the answer to a command under a fault.
type Judge = dyn Fn(io::Result<Answer>) -> Result<(), String>;

/// Runs the fault checks with the knob set, and always clears it.
fn faults(report: &mut dyn FnMut(&str, Result<(), String>)) {
    let short = Duration::from_millis(1500);
    let normal = Duration::from_secs(5);
    let cases: [(u32, &str, Box<Judge>); 5] = [
        (
            1,
            "no answer: the client times out",
            Box::new(|r| match r {
                Err(e) if e.raw_os_error() == Some(110) => Ok(()),
                r => Err(format!("{r:?}")),
            }),
        ),
        (
            2,
            "a 4083-character answer (4088 bytes)",
            Box::new(|r| match r {
                Ok(a) if a.text.len() == MAX_RESPONSE - 5 && a.text.bytes().all(|c| c == b'x') => {
                    Ok(())
                }
                r => Err(format!("{:?}", r.map(|a| a.text.len()))),
            }),
        ),
        (
            3,
            "an answer without NUL is refused",
            Box::new(|r| match r {
                Err(e) if e.to_string().contains("without NUL") => Ok(()),
                r => Err(format!("{r:?}")),
            }),
        ),
        (
            4,
            "error= answers",
            Box::new(|r| match r {
                Ok(a) if a.code == 3 && a.text.starts_with("error=3 ") => Ok(()),
                r => Err(format!("{r:?}")),
            }),
        ),
        (
            5,
            "non-zero code with normal text",
            Box::new(|r| match r {
                Ok(a) if a.code == 5 && a.text == VERSION => Ok(()),
                r => Err(format!("{r:?}")),
            }),
        ),
    ];
    for (v, name, judge) in cases.iter() {
        let r = set_fault(*v).and_then(|()| {
            let timeout = if *v == 1 { short } else { normal };
            judge(ask("version", timeout))
        });
        report(&format!("gcmd_fault={v}: {name}"), r);
    }
    let r = set_fault(0).and_then(|()| match ask("version", normal) {
        Ok(a) if a.text == VERSION => Ok(()),
        r => Err(format!("{r:?}")),
    });
    report("gcmd_fault=0: normal again", r);
}

/// `vcmem gencmd-check`: prints `ok NAME` / `not ok NAME: why`, exit status 1 on failure.
pub fn check() -> std::process::ExitCode {
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut report = |name: &str, r: Result<(), String>| match r {
        Ok(()) => {
            passed += 1;
            println!("ok {name}");
        }
        Err(why) => {
            failed += 1;
            println!("not ok {name}: {why}");
        }
    };
    // get_mem agrees with vc-mem's view of the split.
    let split = crate::mem::VcMem::open("/dev/vc-mem", crate::mem::Via::Auto)
        .map(|m| (m.base >> 20, (m.size - m.base) >> 20));
    report(
        "vc-mem for get_mem",
        split.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    let (arm, gpu) = split.unwrap_or((0, 0));
    let timeout = Duration::from_secs(5);
    for (cmd, code, want) in table(arm, gpu) {
        let r = match ask(&cmd, timeout) {
            Ok(a) if matches(&a, code, &want) => Ok(()),
            Ok(a) => Err(format!("code {} text {:?}", a.code, a.text)),
            Err(e) => Err(e.to_string()),
        };
        report(&format!("gencmd {cmd:?}"), r);
    }
    let otp = ask("otp_dump", timeout).map(|a| a.text.lines().count());
    report(
        "otp_dump has rows 08..64",
        match otp {
            Ok(57) => Ok(()),
            r => Err(format!("{r:?}")),
        },
    );
    report("eight concurrent clients", concurrent(8, 4, arm));
    faults(&mut report);
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// `clients` threads, each with its own connection per command, `rounds` commands each.
fn concurrent(clients: u32, rounds: u32, arm: u32) -> Result<(), String> {
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            std::thread::spawn(move || -> Result<(), String> {
                for k in 0..rounds {
                    let (cmd, want) = if (i + k) % 2 == 0 {
                        ("get_mem arm".to_string(), format!("arm={arm}M"))
                    } else {
                        ("measure_temp".to_string(), "temp=42.8'C".to_string())
                    };
                    let a = ask(&cmd, Duration::from_secs(10))
                        .map_err(|e| format!("client {i}: {e}"))?;
                    if a.text != want {
                        return Err(format!("client {i}: {cmd} gave {:?}", a.text));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| "a client thread panicked".to_string())??;
    }
    Ok(())
}
