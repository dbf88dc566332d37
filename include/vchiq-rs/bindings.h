/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The input of bindgen (include/vchiq-rs/bindings.mk): every boundary header of the family.
 * The Rust side of each boundary is generated from these at build time, never written out
 * by hand (include/vchiq-rs/bindings.rs).
 */
#include <vchiq-rs/vchiq.h>
#include <vchiq-rs/sim.h>
