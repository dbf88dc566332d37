// SPDX-License-Identifier: GPL-2.0

//! Decimal display of 64-bit integers that also works on 32-bit ARM.
//!
//! `core`'s formatting of `u64`/`i64` divides in 64 bits, which the kernel does not support on
//! 32-bit ARM (the helper it would call panics). These wrappers split the value at 10^9 with
//! the kernel's own 64-bit division (`Delta / Delta`, `div64_s64` there) and print the halves
//! as `u32`. vchiq-sim and vchiq-ktest compile this file too.

use core::fmt;
use kernel::time::Delta;

/// Displays a `u64` in decimal.
pub(crate) struct U64(pub(crate) u64);

/// Displays an `i64` in decimal (not every crate that includes this file needs it).
#[allow(
    dead_code,
    reason = "a shared file: not every crate that includes it needs `I64`"
)]
pub(crate) struct I64(pub(crate) i64);

const E9: i64 = 1_000_000_000;

impl fmt::Display for U64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(small) = u32::try_from(self.0) {
            return write!(f, "{small}");
        }
        // Values above `i64::MAX` are shown as `i64::MAX` (never reached by counters).
        let v = i64::try_from(self.0).unwrap_or(i64::MAX);
        let hi = Delta::from_nanos(v) / Delta::from_nanos(E9);
        let lo = v - hi * E9;
        // `hi >= 1` and `0 <= lo < 10^9` here.
        write!(
            f,
            "{}{:09}",
            U64(hi.unsigned_abs()),
            lo.unsigned_abs() as u32
        )
    }
}

impl fmt::Display for I64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", U64(self.0.unsigned_abs()))
        } else {
            write!(f, "{}", U64(self.0.unsigned_abs()))
        }
    }
}

// The kernel's printing macros (`pr_info!`, `dev_err!` ...) take `kernel::fmt::Display`.
impl kernel::fmt::Display for U64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl kernel::fmt::Display for I64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
