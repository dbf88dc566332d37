// SPDX-License-Identifier: GPL-2.0

//! `func`: the scripted partner of vchiq_test's functional test, phase 2
//! (firmware-services.md §1.6).
//!
//! One listener F1 (version 3, minimum 2, auto-close) exists initially. Opening F1 creates F2
//! (same versions, no auto-close). The rest follows the client's script: F1 echoes a message
//! and plays a receive/transmit sequence that includes a deliberately mismatched pair; F2
//! transmits 2048 bytes that nothing receives; closes of F2 and F1 restore the initial state.

use super::{fourcc, SimService};
use crate::engine::{BulkDir, BulkResult, ServerOptions, ServiceParams};
use crate::host::{BulkBuf, Ctx, Lid};
use crate::knobs::bump;
use kernel::prelude::*;

const FUNC: u32 = fourcc(b"func");
const PARAMS: ServiceParams = ServiceParams {
    fourcc: FUNC,
    version: 3,
    version_min: 2,
};

// Bulk user data, as in the historical server.
const F1_RX_1024: u64 = 0x101;
const F1_TX_1024: u64 = 0x102;
const F1_TX_2048: u64 = 0x103;
const F1_RX_LAST: u64 = 0x104;
const F2_TX_2048: u64 = 0x201;

struct Func {
    f1: Option<Lid>,
    f2: Option<Lid>,
}

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    Ok(KBox::new(Func { f1: None, f2: None }, GFP_KERNEL)? as KBox<dyn SimService>)
}

impl Func {
    fn f1_opts() -> ServerOptions {
        ServerOptions {
            auto_close: true,
            sync: false,
        }
    }

    fn f2_opts() -> ServerOptions {
        ServerOptions {
            auto_close: false,
            sync: false,
        }
    }

    fn bulk(cx: &mut Ctx<'_>, lid: Lid, dir: BulkDir, buf: Result<BulkBuf>, tag: u64) {
        let ok = buf.and_then(|b| cx.bulk(lid, dir, b, tag));
        if ok.is_err() {
            bump(&cx.counters().errors);
        }
    }
}

impl SimService for Func {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        self.f1 = Some(cx.add_listener(PARAMS, Self::f1_opts())?);
        Ok(())
    }

    fn opened(&mut self, cx: &mut Ctx<'_>, lid: Lid, _client_id: u32) {
        if Some(lid) == self.f1 {
            // The client's second open must find F2 listening.
            if self.f2.is_none() {
                match cx.add_listener(PARAMS, Self::f2_opts()) {
                    Ok(l) => self.f2 = Some(l),
                    Err(_) => {
                        bump(&cx.counters().errors);
                    }
                }
            }
        } else if Some(lid) == self.f2 {
            // Nothing on the ARM receives this: it is aborted when the client closes.
            Self::bulk(
                cx,
                lid,
                BulkDir::Transmit,
                BulkBuf::filled(2048, 0),
                F2_TX_2048,
            );
        }
    }

    fn message(&mut self, cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        if Some(lid) != self.f1 {
            return;
        }
        if cx.send(lid, data).is_err() {
            bump(&cx.counters().errors);
        }
        Self::bulk(
            cx,
            lid,
            BulkDir::Receive,
            BulkBuf::filled(1024, 0),
            F1_RX_1024,
        );
    }

    fn bulk_done(
        &mut self,
        cx: &mut Ctx<'_>,
        lid: Lid,
        _dir: BulkDir,
        userdata: u64,
        result: BulkResult,
        buf: BulkBuf,
    ) {
        if Some(lid) != self.f1 {
            return;
        }
        let done = matches!(result, BulkResult::Done(_));
        match (userdata, done) {
            // Send the 1024 received bytes back; the client asks for 2048, so both abort.
            (F1_RX_1024, true) => Self::bulk(cx, lid, BulkDir::Transmit, Ok(buf), F1_TX_1024),
            // Then send them twice, 2048 bytes, which the client's next receive takes.
            (F1_TX_1024, false) => {
                let mut twice = KVVec::new();
                let r = twice
                    .extend_from_slice(buf.region(), GFP_KERNEL)
                    .and_then(|()| twice.extend_from_slice(buf.region(), GFP_KERNEL))
                    .map_err(Error::from);
                let b = r.and_then(|()| {
                    let len = twice.len();
                    BulkBuf::new(twice, 0, len)
                });
                Self::bulk(cx, lid, BulkDir::Transmit, b, F1_TX_2048);
            }
            // Finally a receive that the client's close aborts, and an empty message.
            (F1_TX_2048, true) => {
                Self::bulk(
                    cx,
                    lid,
                    BulkDir::Receive,
                    BulkBuf::filled(1024, 0),
                    F1_RX_LAST,
                );
                if cx.send(lid, &[]).is_err() {
                    bump(&cx.counters().errors);
                }
            }
            _ => {}
        }
    }

    fn closed(&mut self, cx: &mut Ctx<'_>, lid: Lid) {
        if Some(lid) == self.f2 {
            if self.f1.is_some() {
                // F2 has no auto-close: listen again.
                if cx.close(lid).is_err() {
                    bump(&cx.counters().errors);
                }
            } else {
                // The end of an iteration: back to the initial state.
                cx.remove_listener(lid);
                self.f2 = None;
                match cx.add_listener(PARAMS, Self::f1_opts()) {
                    Ok(l) => self.f1 = Some(l),
                    Err(_) => {
                        bump(&cx.counters().errors);
                    }
                }
            }
        } else if Some(lid) == self.f1 && self.f2.is_some() {
            // F1 is listening again (auto-close); it goes away until F2 closes. (Without an
            // F2 the script is off track: F1 simply keeps listening.)
            cx.remove_listener(lid);
            self.f1 = None;
        }
    }
}
