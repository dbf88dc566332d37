//! vcsm: tests vc-sm-cma through `/dev/vcsm-cma` as libvcsm (user-vcsm.c) uses it, with the
//! simulated VideoCore's SMEM knobs; the test driver of plan `vcsm`.
//!
//! ```text
//! vcsm abi                 every ioctl's errors and successes
//! vcsm flow [CACHED]       libvcsm's alloc/mmap/sync/dup/close flow (CACHED: 0 or 1)
//! vcsm camera [CACHED]     simulated camera frames, CPU writes checksummed by the VideoCore
//! vcsm import              a udmabuf imported; the VideoCore writes its pages
//! vcsm reimport            an own buffer imported again: the mapped table is its own page
//! vcsm released            RELEASED after and before FREE
//! vcsm faults              the SMEM fault knobs
//! vcsm interrupt           a process killed while waiting; the late answer
//! vcsm request             VC_MEM_REQUEST
//! vcsm v1                  protocol 1: FREE is final
//! vcsm cycles N            N alloc/import/free cycles
//! vcsm hold N              N buffers mapped, then wait to be killed
//! vcsm kill-cleaning       a process in an hours-long CLEAN_INVALID2 dies when killed
//! vcsm display [CACHED]    a camera frame PRIME-imported into VKMS, read back by writeback
//! vcsm vgem                a VGEM buffer imported, written by the CPU, checksummed by the VideoCore
//! vcsm bench               figures for make bench: CPU bandwidth cached/uncached/ordinary, alloc cost
//! ```

mod bench;
mod check;
mod dev;
mod kms;
mod sim;
mod sys;
mod zerocopy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let exe = args.first().cloned().unwrap_or_default();
    let num = |i: usize, d: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let r = match cmd {
        "abi" => check::abi(),
        "flow" => check::flow(num(2, 0)),
        "camera" => check::camera(num(2, 0)),
        "import" => check::import(),
        "reimport" => check::reimport(),
        "released" => check::released(),
        "faults" => check::faults(),
        "interrupt" => check::interrupt(&exe),
        "request" => check::request(),
        "v1" => check::v1(),
        "cycles" => check::cycles(num(2, 10)),
        "hold" => check::hold(num(2, 1)),
        "alloc-once" => check::alloc_once(),
        "kill-cleaning" => check::kill_cleaning(&exe),
        "clean-forever" => check::clean_forever(),
        "display" => zerocopy::display(num(2, 0)),
        "vgem" => zerocopy::vgem(),
        "bench" => bench::run(),
        _ => {
            eprintln!("usage: vcsm abi|flow|camera|import|released|faults|interrupt|request|v1|cycles N|hold N|kill-cleaning|display [CACHED]|vgem|bench");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => {
            println!("ok {cmd}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
