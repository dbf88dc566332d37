// SPDX-License-Identifier: GPL-2.0

//! `echo`: vchiq_test's message and bulk echo service (firmware-services.md §1.4), eight
//! independent listeners, version 3/3.

use super::{fourcc, le_i32, SimService};
use crate::engine::{BulkDir, BulkResult, ServerOptions, ServiceParams};
use crate::host::{BulkBuf, Ctx, Lid};
use crate::knobs::bump;
use kernel::prelude::*;

const ECHO: u32 = fourcc(b"echo");
const LISTENERS: usize = 8;

// First word of every message.
const MSG_ONEWAY: i32 = 1;
const MSG_ASYNC: i32 = 2;
const MSG_SYNC: i32 = 3;
const MSG_CONFIG: i32 = 4;
const MSG_ECHO: i32 = 5;

/// Size of `struct test_params`.
const PARAMS_SIZE: usize = 40;
/// Largest bulk block the simulator accepts (the ARM's test uses far less).
const MAX_BLOCK: usize = 16 << 20;

/// State of one listener's connection.
#[derive(Default)]
struct Conn {
    lid: Option<Lid>,
    /// The bulk buffer while no bulk is queued.
    buf: Option<BulkBuf>,
    iters: u32,
    count: u32,
    verify: bool,
    echo: bool,
    /// Bumped by every MSG_CONFIG and close, so that bulks of an old configuration that come
    /// back late are recognised.
    gen: u32,
}

struct Echo {
    conns: KVec<Conn>,
}

/// Creates the service.
pub(super) fn make() -> Result<KBox<dyn SimService>> {
    let mut conns = KVec::with_capacity(LISTENERS, GFP_KERNEL)?;
    for _ in 0..LISTENERS {
        conns.push(Conn::default(), GFP_KERNEL)?;
    }
    Ok(KBox::new(Echo { conns }, GFP_KERNEL)? as KBox<dyn SimService>)
}

/// Packs a configuration generation and an iteration count into bulk user data.
fn tag(gen: u32, count: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(count)
}

impl Echo {
    fn conn(&mut self, lid: Lid) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.lid == Some(lid))
    }

    fn reply(cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        if cx.send(lid, data).is_err() {
            bump(&cx.counters().errors);
        }
    }

    /// MSG_CONFIG: (re)configures the bulk loop and posts the first receive.
    fn config(cx: &mut Ctx<'_>, lid: Lid, c: &mut Conn, data: &[u8]) {
        if data.len() != PARAMS_SIZE {
            Self::reply(cx, lid, b"Bad params size\0");
            return;
        }
        let field = |i: usize| le_i32(data, i.saturating_mul(4)).unwrap_or(0);
        let (blocksize, iters) = (field(1), field(2));
        c.gen = c.gen.wrapping_add(1);
        c.buf = None;
        // blocksize 0 is the ping test's synchronisation: post nothing (see the spec).
        if blocksize > 0 && iters > 0 {
            let size = usize::try_from(blocksize).unwrap_or(usize::MAX);
            if size > MAX_BLOCK {
                Self::reply(cx, lid, b"Out of memory\0");
                return;
            }
            c.iters = u32::try_from(iters).unwrap_or(0);
            c.count = 0;
            c.verify = field(3) != 0;
            c.echo = field(4) != 0;
            let fill = if c.verify { 0xff } else { 0 };
            let buf = match BulkBuf::filled(size, fill) {
                Ok(b) => b,
                Err(_) => {
                    Self::reply(cx, lid, b"Out of memory\0");
                    return;
                }
            };
            if cx.bulk(lid, BulkDir::Receive, buf, tag(c.gen, 0)).is_err() {
                bump(&cx.counters().errors);
            }
            let quota = field(9);
            if quota > 0 {
                let q = u16::try_from(quota).unwrap_or(u16::MAX);
                if cx.set_msg_quota(lid, q).is_err() {
                    bump(&cx.counters().errors);
                }
            }
        }
        Self::reply(cx, lid, b"\0");
    }

    /// A transmit finished (or a receive, with echo off): next iteration.
    fn next(cx: &mut Ctx<'_>, lid: Lid, c: &mut Conn, mut buf: BulkBuf) {
        c.count = c.count.wrapping_add(1);
        if c.count == c.iters {
            c.buf = Some(buf);
            return;
        }
        if c.verify {
            buf.region_mut().fill(0xff);
        }
        if cx
            .bulk(lid, BulkDir::Receive, buf, tag(c.gen, c.count))
            .is_err()
        {
            bump(&cx.counters().errors);
        }
    }
}

impl SimService for Echo {
    fn start(&mut self, cx: &mut Ctx<'_>) -> Result {
        let params = ServiceParams {
            fourcc: ECHO,
            version: 3,
            version_min: 3,
        };
        for c in self.conns.iter_mut() {
            c.lid = Some(cx.add_listener(params, ServerOptions::default())?);
        }
        Ok(())
    }

    fn closed(&mut self, _cx: &mut Ctx<'_>, lid: Lid) {
        if let Some(c) = self.conn(lid) {
            c.gen = c.gen.wrapping_add(1);
            c.buf = None;
        }
    }

    fn message(&mut self, cx: &mut Ctx<'_>, lid: Lid, data: &[u8]) {
        let Some(c) = self.conn(lid) else {
            return;
        };
        let Some(kind) = le_i32(data, 0) else {
            Self::reply(cx, lid, b"message too short\0");
            return;
        };
        match kind {
            MSG_CONFIG => Self::config(cx, lid, c, data),
            MSG_ONEWAY => {}
            MSG_ASYNC => Self::reply(cx, lid, &[]),
            MSG_SYNC => Self::reply(cx, lid, b"\0"),
            MSG_ECHO => Self::reply(cx, lid, data),
            _ => Self::reply(cx, lid, b"Unexpected message type\0"),
        }
    }

    fn bulk_done(
        &mut self,
        cx: &mut Ctx<'_>,
        lid: Lid,
        dir: BulkDir,
        userdata: u64,
        result: BulkResult,
        buf: BulkBuf,
    ) {
        let Some(c) = self.conn(lid) else {
            return;
        };
        if userdata >> 32 != u64::from(c.gen) {
            // A bulk of an earlier configuration.
            return;
        }
        if result == BulkResult::Aborted {
            c.buf = Some(buf);
            return;
        }
        match dir {
            BulkDir::Receive if c.echo => {
                if cx.bulk(lid, BulkDir::Transmit, buf, userdata).is_err() {
                    bump(&cx.counters().errors);
                }
            }
            _ => Self::next(cx, lid, c, buf),
        }
    }
}
