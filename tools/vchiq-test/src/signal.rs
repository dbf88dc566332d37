//! SIGALRM without SA_RESTART: a no-op handler, so that a blocking ioctl in an
//! interruptible wait returns EINTR instead of being restarted or killing the process.

use crate::sys;
use std::io;
use std::os::raw::c_int;

extern "C" fn noop(_sig: c_int) {}

/// Installs a no-op SIGALRM handler without SA_RESTART.
pub fn install_alarm_handler() -> io::Result<()> {
    let act = sys::SigAction {
        sa_handler: noop as extern "C" fn(c_int) as usize,
        sa_mask: [0; 128 / std::mem::size_of::<std::os::raw::c_ulong>()],
        sa_flags: 0,
        sa_restorer: 0,
    };
    // SAFETY: `act` is a valid glibc struct sigaction with an empty mask and a handler that
    // does nothing (async-signal-safe); the old action is not requested.
    let r = unsafe { sys::sigaction(sys::SIGALRM, &act, std::ptr::null_mut()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's pthread id, for [`alarm_thread`].
pub fn this_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { sys::pthread_self() as u64 }
}

/// Sends SIGALRM to one thread of this process (the handler must be installed).
pub fn alarm_thread(thread: u64) -> io::Result<()> {
    // SAFETY: `thread` came from `this_thread` of a thread that is still running (the
    // caller's contract); SIGALRM has a handler installed.
    let r = unsafe { sys::pthread_kill(thread as std::os::raw::c_ulong, sys::SIGALRM) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// Arms the process's SIGALRM timer to fire after `usecs` and again every `usecs` (below one
/// second) until [`ualarm`]`(0)` disarms it. Unlike a one-shot alarm this bounds a blocking
/// call even when the first signal comes before the call starts to wait (the process was
/// preempted in between): the handler takes that one and the next ends the wait.
pub fn ualarm_repeating(usecs: u32) {
    // SAFETY: ualarm only changes the process's real-time timer.
    unsafe { sys::ualarm(usecs, usecs) };
}

/// Arms (or with 0, disarms) the process's one-shot SIGALRM timer, in microseconds
/// (below one second).
pub fn ualarm(usecs: u32) {
    // SAFETY: ualarm only changes the process's real-time timer.
    unsafe { sys::ualarm(usecs, 0) };
}
