// SPDX-License-Identifier: GPL-2.0

//! libFuzzer target: arbitrary bytes as the peer's slots and shared fields.
//! The same entry point runs, bounded, in `tests/fuzz_peer.rs`.

#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::fuzz::fuzz_peer(data);
});
