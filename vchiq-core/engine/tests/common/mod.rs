// SPDX-License-Identifier: GPL-2.0

//! Shared test support: a host implementation of the shared-memory trait,
//! a doorbell, a driver for one side, and the fuzz entry point.

#![allow(dead_code)]

pub mod fuzz;
#[cfg(loom)]
pub mod loom_util;
pub mod shm;

#[cfg(not(loom))]
pub mod side;
