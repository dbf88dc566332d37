// SPDX-License-Identifier: GPL-2.0

//! What vchiq-dev needs of the kernel that the 7.3 `kernel` crate lacks (with `dev_glue.c`):
//! `fatal_signal_pending()`, a static inline. Upstream it would be a method of
//! `kernel::task::Task`, next to `signal_pending`.

extern "C" {
    fn vchiq_dev_fatal_signal_pending() -> bool;
}

/// Whether the current task is being killed (`fatal_signal_pending(current)`).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: the helper only reads the current task's pending signals.
    unsafe { vchiq_dev_fatal_signal_pending() }
}
