//! Ctrl-C, `kill` and hang-up turned into a flag every guest's wait loop checks, so
//! an interrupted run unwinds normally: each [`crate::Guest`] is dropped, which kills
//! its QEMU and removes its temporary directory.
//!
//! Without [`install`], the default signal action ends the process at once; QEMU
//! still dies then (it runs with `PR_SET_PDEATHSIG`), but temporary directories
//! stay behind until the next run removes them (see [`crate::guest`]).

use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signum: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    SIGNAL.store(signum, Ordering::SeqCst);
}

/// Catch SIGINT, SIGTERM and SIGHUP: afterwards they only set the flag
/// [`requested`] reports. Call once, early, from the program's main thread.
pub fn install() -> std::io::Result<()> {
    for signum in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that only
        // stores to an atomic is the documented way to install an async-signal-safe handler.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signum, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// Ask every running wait loop to stop, as a signal would (for front ends that
/// want to cancel a run themselves).
pub fn request(signum: i32) {
    SIGNAL.store(signum, Ordering::SeqCst);
}
