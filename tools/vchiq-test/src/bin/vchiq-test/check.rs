//! Counting checks: each failure prints one `* FAIL` line; a run passes with none.

use std::fmt::Display;
use std::io;
use vchiq_test::device::{errno, errno_name};

pub struct Checker {
    pub checks: usize,
    pub failures: usize,
    pub verbose: bool,
}

impl Checker {
    pub fn new(verbose: bool) -> Self {
        Checker {
            checks: 0,
            failures: 0,
            verbose,
        }
    }

    /// Records a failure.
    pub fn fail(&mut self, what: impl Display) {
        self.checks += 1;
        self.failures += 1;
        println!("* FAIL: {what}");
    }

    /// A condition that must hold.
    pub fn ok(&mut self, cond: bool, what: impl Display) -> bool {
        if cond {
            self.checks += 1;
            if self.verbose {
                println!("  ok: {what}");
            }
        } else {
            self.fail(what);
        }
        cond
    }

    /// A call that must succeed; its value.
    pub fn success<T>(&mut self, r: io::Result<T>, what: impl Display) -> Option<T> {
        match r {
            Ok(v) => {
                self.ok(true, what);
                Some(v)
            }
            Err(e) => {
                self.fail(format_args!("{what}: {}", describe(&e)));
                None
            }
        }
    }

    /// A call that must fail with `want`.
    pub fn errno<T>(&mut self, r: io::Result<T>, want: i32, what: impl Display) -> bool {
        self.errno_any(r, &[want], what)
    }

    /// A call that must fail with one of `wants`.
    pub fn errno_any<T>(&mut self, r: io::Result<T>, wants: &[i32], what: impl Display) -> bool {
        let names: Vec<String> = wants.iter().map(|w| errno_name(*w)).collect();
        match r {
            Ok(_) => {
                self.fail(format_args!(
                    "{what}: succeeded, expected {}",
                    names.join("/")
                ));
                false
            }
            Err(e) if wants.contains(&errno(&e)) => {
                self.ok(true, format_args!("{what}: {}", errno_name(errno(&e))))
            }
            Err(e) => {
                self.fail(format_args!(
                    "{what}: got {}, expected {}",
                    describe(&e),
                    names.join("/")
                ));
                false
            }
        }
    }
}

/// An error with its symbolic errno.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_name(n),
        None => e.to_string(),
    }
}
