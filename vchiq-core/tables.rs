// SPDX-License-Identifier: GPL-2.0

//! Heap allocation of the engine's [`Tables`].
//!
//! The tables are about 30 KiB, far too large for a kernel stack (8 KiB on 32-bit ARM), so
//! they are initialised in place in their heap allocation, element by element, with pin-init:
//! no `Tables` value ever exists on the stack.

use crate::engine::{OutQueue, Quota, RxSlot, Service, Tables};
use kernel::prelude::*;
use pin_init::init_array_from_fn;

/// Allocates empty engine tables with `GFP_KERNEL`.
pub(crate) fn new_tables() -> Result<KBox<Tables>> {
    KBox::init(
        init!(Tables {
            quotas <- init_array_from_fn(|_| Quota::EMPTY),
            rx_info <- init_array_from_fn(|_| RxSlot::EMPTY),
            services <- init_array_from_fn(|_| Service::EMPTY),
            out <- init!(OutQueue {
                buf <- init_array_from_fn(|_| None),
                head: 0,
                len: 0,
            }),
        }),
        GFP_KERNEL,
    )
}
