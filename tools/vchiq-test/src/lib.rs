//! A user-space client library over the `/dev/vchiq` ioctls, written from the ABI
//! (vchiq-protocol.md §11), and the building blocks of the `vchiq-test` tool.
//!
//! * [`ioc`]: the ioctl numbers, computed from the generic `_IOC` encoding;
//! * [`abi`]: the `#[repr(C)]` argument structures in the target's native layout;
//! * [`sys`]: the few glibc functions the crate needs, declared by hand;
//! * [`device`]: [`Vchiq`], one open `/dev/vchiq` and a method per ioctl;
//! * [`client`]: [`Client`] and [`Service`], a connected instance with a completion thread
//!   that dispatches completions to services and acknowledges closes;
//! * [`badmem`]: addresses that must fault, for error tests and the fuzzer;
//! * [`fourcc`], [`rng`], [`signal`]: small helpers.

pub mod abi;
pub mod badmem;
pub mod client;
pub mod device;
pub mod fourcc;
pub mod ioc;
pub mod rng;
pub mod signal;
pub mod sys;

pub use client::{Client, Event, Service};
pub use device::{BulkDir, Vchiq};
pub use fourcc::fourcc;
