//! vchiq-test: tests /dev/vchiq through the vchiq_test crate's client library, in the
//! spirit of userland's vchiq_test. See README.md.

mod bulk;
mod check;
mod functional;
mod fuzz;
mod killbulk;
mod ping;
mod races;
mod rt;
mod stress;
mod util;

use std::process::ExitCode;
use vchiq_test::device::DEVICE;

const USAGE: &str = "\
usage: vchiq-test [options] MODE
modes:
  -f [N]            functional test, N iterations (default 1)
  -p [N]            ping test: message and bulk latencies, N iterations (default 1000)
  --rt [N]          round trip of an empty message, QUEUE_MESSAGE then AWAIT_COMPLETION
                    in one thread (no completion thread), and a bare ioctl's cost, N
                    iterations (default 1000)
  -b KIB [N]        bulk test: N echoed blocks of KIB KiB (default 100)
  --stress P        P processes (re-executions), each with 3 threads of open/echo/close
  --kill-bulk N     N children SIGKILLed during large blocking bulks
  --fuzz N          N random ioctls
  --unbind-held     hold replies unread, say ready, wait for a line (the simulator is
                    unloaded meanwhile), then close (plan dev)
  --kept-bulk       queue an echoed bulk on a stopped VideoCore, say ready twice (the
                    core is unbound, the VideoCore keeps the memory and resumes), check
                    that the echo reached the kept receive buffer (plan dev)
  --hold N          N open echo services, say ready, wait to be killed (plan dev)
  --open-all N      N echo services open at once (plan dev)
  --client-id       GET_CLIENT_ID of a service opened by a second thread (plan dev)
options:
  --dev PATH        device node (default /dev/vchiq)
  --seed S          random seed (stress, kill-bulk, fuzz)
  --rounds R        rounds per stress thread (default 10)
  --fun2-slice K    functional test: iteration i runs the fun2 alignment tests whose
                    index is i modulo K (default 20; 1 = the full 5184-test sweep)
  -v                verbose: print every passed check";

enum Mode {
    Functional(usize),
    Ping(usize),
    RoundTrip(usize),
    Bulk(usize, usize),
    Stress(usize),
    KillBulk(usize),
    Fuzz(usize),
    StressChild(usize, usize),
    KillBulkChild,
    UnbindHeld,
    KeptBulk,
    Hold(usize),
    OpenAll(usize),
    ClientId,
}

struct Args {
    mode: Mode,
    dev: String,
    seed: Option<u64>,
    rounds: usize,
    fun2_slice: usize,
    verbose: bool,
}

fn parse() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let mut mode = None;
    let mut a = Args {
        mode: Mode::Functional(1),
        dev: DEVICE.to_string(),
        seed: None,
        rounds: 10,
        fun2_slice: 20,
        verbose: false,
    };
    let num = |i: usize| -> Result<usize, String> {
        argv.get(i)
            .ok_or_else(|| format!("{} needs a number", argv[i - 1]))?
            .parse()
            .map_err(|_| format!("{}: not a number: {}", argv[i - 1], argv[i]))
    };
    let opt_num = |i: &mut usize, default: usize| -> usize {
        match argv.get(*i + 1).and_then(|s| s.parse().ok()) {
            Some(n) => {
                *i += 1;
                n
            }
            None => default,
        }
    };
    while i < argv.len() {
        match argv[i].as_str() {
            "-f" => mode = Some(Mode::Functional(opt_num(&mut i, 1))),
            "-p" => mode = Some(Mode::Ping(opt_num(&mut i, 1000))),
            "--rt" => mode = Some(Mode::RoundTrip(opt_num(&mut i, 1000))),
            "-b" => {
                let k = num(i + 1)?;
                i += 1;
                mode = Some(Mode::Bulk(k, opt_num(&mut i, 100)));
            }
            "--stress" => {
                mode = Some(Mode::Stress(num(i + 1)?));
                i += 1;
            }
            "--kill-bulk" => {
                mode = Some(Mode::KillBulk(num(i + 1)?));
                i += 1;
            }
            "--fuzz" => {
                mode = Some(Mode::Fuzz(num(i + 1)?));
                i += 1;
            }
            "--stress-child" => {
                mode = Some(Mode::StressChild(num(i + 1)?, num(i + 2)?));
                i += 2;
            }
            "--kill-bulk-child" => mode = Some(Mode::KillBulkChild),
            "--unbind-held" => mode = Some(Mode::UnbindHeld),
            "--kept-bulk" => mode = Some(Mode::KeptBulk),
            "--hold" => {
                mode = Some(Mode::Hold(num(i + 1)?));
                i += 1;
            }
            "--open-all" => {
                mode = Some(Mode::OpenAll(num(i + 1)?));
                i += 1;
            }
            "--client-id" => mode = Some(Mode::ClientId),
            "--dev" => {
                a.dev = argv.get(i + 1).ok_or("--dev needs a path")?.clone();
                i += 1;
            }
            "--seed" => {
                let v = argv.get(i + 1).ok_or("--seed needs a number")?;
                a.seed = Some(
                    v.parse()
                        .map_err(|_| format!("--seed: not a number: {v}"))?,
                );
                i += 1;
            }
            "--rounds" => {
                a.rounds = num(i + 1)?;
                i += 1;
            }
            "--fun2-slice" => {
                a.fun2_slice = num(i + 1)?;
                i += 1;
            }
            "-v" => a.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            o => return Err(format!("unknown option '{o}'")),
        }
        i += 1;
    }
    a.mode = mode.ok_or("no mode given")?;
    Ok(a)
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("* {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let seed = a.seed.unwrap_or_else(vchiq_test::rng::time_seed) & 0x7fff_ffff_ffff_ffff;
    let (name, ok) = match a.mode {
        Mode::Functional(n) => {
            let o = functional::Opts {
                iters: n,
                path: a.dev.clone(),
                fun2_slice: a.fun2_slice,
                iteration: std::cell::Cell::new(0),
                verbose: a.verbose,
            };
            ("functional", functional::run(&o))
        }
        Mode::Ping(n) => ("ping", ping::run(&a.dev, n)),
        Mode::RoundTrip(n) => ("round trip", rt::run(&a.dev, n)),
        Mode::Bulk(k, n) => ("bulk", bulk::run(&a.dev, k, n)),
        Mode::Stress(p) => ("stress", stress::run(&a.dev, p, a.rounds, seed)),
        Mode::KillBulk(n) => ("kill-bulk", killbulk::run(&a.dev, n, seed)),
        Mode::Fuzz(n) => ("fuzz", fuzz::run(&a.dev, n, seed)),
        Mode::StressChild(idx, rounds) => {
            return code(stress::child(&a.dev, idx, rounds, seed));
        }
        Mode::KillBulkChild => return code(killbulk::child(&a.dev, seed)),
        Mode::UnbindHeld => ("unbind-held", races::unbind_held(&a.dev)),
        Mode::KeptBulk => ("kept-bulk", races::kept_bulk(&a.dev)),
        Mode::Hold(n) => ("hold", races::hold(&a.dev, n)),
        Mode::OpenAll(n) => ("open-all", races::open_all(&a.dev, n)),
        Mode::ClientId => ("client-id", races::client_id(&a.dev)),
    };
    let bits = 8 * std::mem::size_of::<usize>();
    if ok {
        println!("PASS: vchiq-test {name} ({bits}-bit)");
    } else {
        println!("FAIL: vchiq-test {name} ({bits}-bit)");
    }
    code(ok)
}

fn code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
