// SPDX-License-Identifier: GPL-2.0

//! The family's one rule for rate-limited logging.
//!
//! Pure, so that every module of the family (vchiq-core and vchiq-sim through the engine,
//! the clients by including this file with `#[path]`) logs by the same rule, and the host
//! tests pin it.

/// Whether the `n`-th occurrence of an event (counting from 1) is logged: the first ten, then
/// every power of two (16, 32, 64, ...).
///
/// The events so limited are errors a peer or a user can repeat as fast as it sends (a
/// malformed message, a refused call): logging each one would let it flood the log and spend
/// more time printing than the error costs. The first ten show what goes wrong; the powers of
/// two after them show that it goes on and how often, in a number of lines that grows only with
/// the logarithm of the count (at most 32 more for a `u32`), however long it lasts. Unlike a
/// time-based limit (`printk_ratelimit`), the rule needs no clock, lock or state besides the
/// count the caller keeps anyway (and mostly shows in debugfs), so it may be used in any
/// context, and the same count always gives the same lines.
pub const fn log_nth(n: u32) -> bool {
    n <= 10 || n.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ten_are_logged() {
        for n in 1..=10 {
            assert!(log_nth(n), "{n}");
        }
    }

    #[test]
    fn then_only_powers_of_two() {
        let logged: [u32; 6] = [16, 32, 64, 128, 1_048_576, 2_147_483_648];
        for n in 11..=2048u32 {
            assert_eq!(log_nth(n), n.is_power_of_two(), "{n}");
        }
        for n in logged {
            assert!(log_nth(n), "{n}");
        }
        for n in [11, 12, 15, 17, 1000, 1023, 1025, u32::MAX] {
            assert!(!log_nth(n), "{n}");
        }
    }

    #[test]
    fn lines_grow_with_the_logarithm() {
        // 10 + 16, 32, ..., 2^19: 10 + 16 lines for a million events.
        let lines = (1..=1_000_000u32).filter(|&n| log_nth(n)).count();
        assert_eq!(lines, 26);
    }
}
