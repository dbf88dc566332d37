//! `vcsm bench`: figures for `make bench`, not checks. The CPU's read and write bandwidth of a
//! cached and of an uncached vc-sm-cma buffer, each access bracketed by DMA_BUF_IOCTL_SYNC as
//! libvcsm does (the cache maintenance is part of the cost), against ordinary memory of the same
//! size read and written by the same loop in the same run (also the passes alone, without the
//! time in the syncs, and the syncs' cost, which under QEMU is mostly TCG executing the cache
//! maintenance instructions one line at a time); and what an allocation (which is
//! also its export: ALLOC returns the dma-buf), an import of that dma-buf and the close of both
//! cost.

use crate::check::{open, s, R};
use crate::dev::{self, Map};
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The buffers' size: larger than the caches of the machines it runs on.
const SIZE: usize = 1 << 20;
/// Passes over each buffer per figure.
const PASSES: u32 = 16;
/// Allocation rounds for the latency.
const ALLOCS: u32 = 50;

/// Words of `u64` in a buffer.
const WORDS: usize = SIZE / 8;

/// Sums the buffer's words (volatile, so that every word is read, the same way for every kind
/// of memory).
///
/// # Safety
///
/// `p` must be valid for reads of [`WORDS`] aligned `u64`s.
unsafe fn read_pass(p: *const u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..WORDS {
        // SAFETY: `i < WORDS`, inside the buffer the caller vouches for; page-aligned base.
        sum = sum.wrapping_add(unsafe { p.add(i).read_volatile() });
    }
    sum
}

/// Writes every word of the buffer.
///
/// # Safety
///
/// `p` must be valid for writes of [`WORDS`] aligned `u64`s.
unsafe fn write_pass(p: *mut u64, seed: u64) {
    for i in 0..WORDS {
        // SAFETY: `i < WORDS`, inside the buffer the caller vouches for; page-aligned base.
        unsafe { p.add(i).write_volatile(seed ^ i as u64) };
    }
}

/// MB/s for [`PASSES`] passes over [`SIZE`] bytes in `t`.
fn mbs(t: Duration) -> u64 {
    let bytes = SIZE as f64 * f64::from(PASSES);
    (bytes / t.as_secs_f64().max(1e-9) / 1e6) as u64
}

/// Read and write bandwidth of ordinary (anonymous, already touched) memory.
fn ordinary() -> (u64, u64) {
    let mut v = vec![1u64; WORDS];
    let p = v.as_mut_ptr();
    let t = Instant::now();
    for k in 0..PASSES {
        // SAFETY: `v` holds `WORDS` words and lives until the end of this function.
        unsafe { write_pass(p, u64::from(k)) };
    }
    let write = mbs(t.elapsed());
    let t = Instant::now();
    for _ in 0..PASSES {
        // SAFETY: as for the writes: `v` holds `WORDS` words.
        black_box(unsafe { read_pass(p) });
    }
    (mbs(t.elapsed()), write)
}

/// A vc-sm-cma buffer's figures: read and write MB/s with the syncs, the same passes' MB/s
/// without the time spent in the syncs, and microseconds per sync pair (start + end).
struct Figures {
    read: u64,
    write: u64,
    pass_read: u64,
    pass_write: u64,
    sync_us: u64,
}

/// The figures of a vc-sm-cma buffer of cache type `cached`, every pass inside a
/// DMA_BUF_IOCTL_SYNC start/end pair.
fn vcsm(cached: u32) -> Result<Figures, String> {
    let d = open()?;
    let b = dev::alloc(&d, SIZE as u32, cached, "bench").map_err(s)?;
    let m = Map::new(b.fd.as_raw_fd(), b.size).map_err(s)?;
    let p = m.addr() as *mut u64;
    let fd = b.fd.as_raw_fd();
    let mut passes = [Duration::ZERO; 2];
    let mut all = [Duration::ZERO; 2];
    for (w, (pass, total)) in passes.iter_mut().zip(all.iter_mut()).enumerate() {
        let t = Instant::now();
        for k in 0..PASSES {
            dev::sync(fd, true).map_err(s)?;
            let tp = Instant::now();
            if w == 0 {
                // SAFETY: the mapping is `b.size >= SIZE` bytes, page-aligned, and lives
                // (`m`) until the end of this function.
                unsafe { write_pass(p, u64::from(k)) };
            } else {
                // SAFETY: `m` maps at least `SIZE` bytes at `p` and lives until the end of
                // this function; reads of any bit pattern are valid `u64`s.
                black_box(unsafe { read_pass(p) });
            }
            *pass += tp.elapsed();
            dev::sync(fd, false).map_err(s)?;
        }
        *total = t.elapsed();
    }
    let syncs = all[0] + all[1] - passes[0] - passes[1];
    Ok(Figures {
        read: mbs(all[1]),
        write: mbs(all[0]),
        pass_read: mbs(passes[1]),
        pass_write: mbs(passes[0]),
        sync_us: (syncs.as_micros() / u128::from(2 * PASSES)) as u64,
    })
}

/// Microseconds for one ALLOC (64 KiB, uncached), one IMPORT_DMABUF of its dma-buf and the
/// close of both, each averaged over [`ALLOCS`] rounds.
fn alloc_import_us() -> Result<[u64; 3], String> {
    let d = open()?;
    let mut spent = [Duration::ZERO; 3];
    for _ in 0..ALLOCS {
        let t = Instant::now();
        let b = dev::alloc(&d, 64 << 10, 0, "bench-alloc").map_err(s)?;
        spent[0] += t.elapsed();
        let t = Instant::now();
        let i = dev::import(&d, b.fd.as_raw_fd()).map_err(s)?;
        spent[1] += t.elapsed();
        let t = Instant::now();
        drop(i);
        drop(b);
        spent[2] += t.elapsed();
    }
    Ok(spent.map(|t| (t.as_micros() / u128::from(ALLOCS)) as u64))
}

pub fn run() -> R {
    let (read, write) = ordinary();
    println!("bench: ordinary read {read} MB/s write {write} MB/s");
    for (kind, cached) in [("cached", 1), ("uncached", 0)] {
        let f = vcsm(cached)?;
        println!("bench: {kind} read {} MB/s write {} MB/s", f.read, f.write);
        println!(
            "bench: {kind}-passes read {} MB/s write {} MB/s sync-pair {} us",
            f.pass_read, f.pass_write, f.sync_us
        );
    }
    let [alloc, import, close] = alloc_import_us()?;
    println!(
        "bench: alloc+import+free {} us (alloc {alloc} import {import} close {close})",
        alloc + import + close
    );
    Ok(())
}
