//! vcmem: VideoCore memory through `/dev/vc-mem`, the way libdebug_sym (vcdbg) and vclog use
//! it, as a tool and as the test driver of plan `vcmem`.
//!
//! ```text
//! vcmem [--dma|--mmap] [--dev PATH] info           the ioctls' values
//! vcmem [...] header                              the debug header at load + 0x2800
//! vcmem [...] syms                                  the firmware's symbol table
//! vcmem [...] sym NAME                              one symbol: address and size
//! vcmem [...] peek NAME                             a symbol's first word (decimal)
//! vcmem [...] read ADDR LEN                         a hex dump of VideoCore memory
//! vcmem [...] log -m|-a                             the message or assert log, as vclog
//! vcmem [...] churn N                               N mmaps checked against FBIODMACOPY
//! vcmem check                                       vc-mem's ABI and bounds (root)
//! vcmem gencmd [--timeout MS] CMD...                a GCMD command over /dev/vchiq, as vcgencmd
//! vcmem gencmd-check                                GCMD's commands, clients and faults (root)
//! ```
//!
//! Reads go through FBIODMACOPY and fall back to mmap (`--dma`, `--mmap` force one).

mod check;
mod gencmd;
mod log;
mod mem;
mod symbols;
mod sys;

use mem::{VcMem, Via};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: vcmem [--dma|--mmap] [--dev PATH] info|header|syms|sym NAME|peek NAME|read ADDR LEN|churn N|log -m|-a|check|gencmd CMD...|gencmd-check"
    );
    ExitCode::from(2)
}

pub fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn run(m: &VcMem, cmd: &str, rest: &[String]) -> Result<(), String> {
    let e = |x: std::io::Error| x.to_string();
    match (cmd, rest) {
        ("info", []) => {
            println!(
                "phys_addr=0x{:x} mem_base=0x{:08x} mem_load=0x{:08x} mem_size=0x{:08x} ({} MiB firmware memory)",
                m.phys_addr,
                m.base,
                m.load,
                m.size,
                (m.size - m.base.min(m.size)) >> 20
            );
        }
        ("header", []) => {
            let h = symbols::header(m).map_err(e)?;
            println!(
                "symbol_table=0x{:08x} vc_mem_base=0x{:08x} vc_mem_size=0x{:08x} entry=0x{:08x} symbol_table_length={}",
                h.symtab, h.mem_base, h.mem_size, h.entry, h.table_len
            );
        }
        ("syms", []) => {
            for s in symbols::symbols(m).map_err(e)? {
                println!("0x{:08x} {:8} {}", s.addr, s.size, s.name);
            }
        }
        ("sym", [name]) => {
            let s = symbols::lookup(m, name).map_err(e)?;
            println!("{} addr=0x{:08x} size={}", s.name, s.addr, s.size);
        }
        ("peek", [name]) => {
            let s = symbols::lookup(m, name).map_err(e)?;
            println!("{}", m.read_u32(s.addr).map_err(e)?);
        }
        ("read", [addr, len]) => {
            let (addr, len) = parse_u32(addr)
                .zip(parse_u32(len))
                .ok_or("bad ADDR or LEN")?;
            let mut buf = vec![0u8; len as usize];
            m.read(addr, &mut buf).map_err(e)?;
            for (i, line) in buf.chunks(16).enumerate() {
                let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
                println!("{:08x}: {}", addr as usize + 16 * i, hex.join(" "));
            }
        }
        ("churn", [n]) => check::churn(m, parse_u32(n).ok_or("bad N")?)?,
        ("log", [opt]) => {
            let kind = match opt.as_str() {
                "-m" | "--msg" => log::Kind::Msg,
                "-a" | "--assert" => log::Kind::Assert,
                _ => return Err("log -m or -a".into()),
            };
            for r in log::records(m, kind).map_err(e)? {
                println!("{}", log::format(kind, &r));
            }
        }
        _ => return Err("unknown command".into()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut via = Via::Auto;
    let mut dev = "/dev/vc-mem".to_string();
    loop {
        match args.first().map(String::as_str) {
            Some("--dma") => via = Via::Dma,
            Some("--mmap") => via = Via::Mmap,
            Some("--dev") if args.len() > 1 => dev = args.remove(1),
            _ => break,
        }
        args.remove(0);
    }
    let Some(cmd) = args.first().cloned() else {
        return usage();
    };
    match cmd.as_str() {
        "check" => return check::main(&dev),
        "check-unprivileged" => return check::unprivileged(&dev),
        "gencmd" => return gencmd::main(&args[1..]),
        "gencmd-check" => return gencmd::check(),
        _ => {}
    }
    let m = match VcMem::open(&dev, via) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("vcmem: {dev}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&m, &cmd, &args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e == "unknown command" => usage(),
        Err(e) => {
            eprintln!("vcmem: {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
