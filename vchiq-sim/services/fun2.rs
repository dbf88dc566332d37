// SPDX-License-Identifier: GPL-2.0

//! `fun2`: bulk alignment echo, phase 3 of vchiq_test's functional test
//! (firmware-services.md §1.7).
//!
//! Each message `{ i32 datalen, i32 server_align, ... }` (4 or 16 bytes) makes the service
//! receive `datalen` bytes into a buffer guarded by 32 bytes of 0xff on each side (displaced
//! by `server_align`), check the pattern and the guards, and transmit the same bytes back.
//! Every transfer whose data or guards are wrong counts in the `fun2_mismatches` counter,
//! which the ARM-side tests read. fun2 never sends DATA.

use super::{fourcc, le_i32, SimService};
use crate::engine::{log_nth, BulkDir, BulkResult, ServerOptions, ServiceParams};
use crate::host::{BulkBuf, Ctx, Lid};
use crate::knobs::bump;
use kernel::prelude::*;

const FUN2: u32 = fourcc(b"fun2");
const GUARD: usize = 32;
const MAX_DATA: usize = 16384;
const MAX_ALIGN: usize = 4096;

struct Fun2;

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    Ok(KBox::new(Fun2, GFP_KERNEL)? as KBox<dyn SimService>)
}

/// Byte `i` of vchiq_test's fun2 pattern for a transfer of `len` bytes.
pub(crate) fn pattern(i: usize, len: usize) -> u8 {
    if i.wrapping_add(1) == len {
        0
    } else if i % 32 == 0 {
        // CAST: truncation to the low byte is the pattern.
        (i >> 5) as u8
    } else {
        // CAST: truncation to the low byte is the pattern (`i` modulo 256).
        i as u8
    }
}

/// Whether `buf` holds the pattern between intact guards.
fn verify(buf: &BulkBuf) -> bool {
    let (off, len) = (buf.off(), buf.len());
    let all = buf.all();
    let before = all.get(..off).unwrap_or(&[]);
    let after = all.get(off.saturating_add(len)..).unwrap_or(&[]);
    Iterator::chain(before.iter(), after).all(|&b| b == 0xff)
        && buf
            .region()
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(i, len))
}

impl SimService for Fun2 {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        let params = ServiceParams {
            fourcc: FUN2,
            version: 3,
            version_min: 3,
        };
        cx.add_listener(params, ServerOptions::default())?;
        Ok(())
    }

    fn message(&mut self, cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        let len = le_i32(data, 0).and_then(|v| usize::try_from(v).ok());
        let align = le_i32(data, 4)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(0);
        let len = match len {
            // Zero bytes is a legal transfer (the ARM's tests use it); vchiq_test never sends it.
            Some(l) if l <= MAX_DATA && align <= MAX_ALIGN => l,
            _ => {
                bump(&cx.counters().errors);
                return;
            }
        };
        // Cannot overflow: all terms are bounded above.
        let off = GUARD.saturating_add(align);
        let total = off.saturating_add(len).saturating_add(GUARD);
        let buf = KVVec::from_elem(0xffu8, total, GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|v| BulkBuf::new(v, off, len));
        let ok = buf.and_then(|b| cx.bulk(lid, BulkDir::Receive, b, 0));
        if ok.is_err() {
            bump(&cx.counters().errors);
        }
    }

    fn bulk_done(
        &mut self,
        cx: &mut Ctx<'_>,
        lid: Lid,
        dir: BulkDir,
        _userdata: u64,
        result: BulkResult,
        buf: BulkBuf,
    ) {
        if dir != BulkDir::Receive {
            return;
        }
        let BulkResult::Done(actual) = result else {
            return;
        };
        let full = usize::try_from(actual).ok() == Some(buf.len());
        if !full || !verify(&buf) {
            let n = bump(&cx.counters().fun2_mismatches);
            if log_nth(n) {
                pr_warn!(
                    "fun2: {} bytes at offset {} received wrong (mismatch #{})\n",
                    buf.len(),
                    buf.off(),
                    n
                );
            }
        }
        if cx.bulk(lid, BulkDir::Transmit, buf, 0).is_err() {
            bump(&cx.counters().errors);
        }
    }
}
