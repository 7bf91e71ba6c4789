//! Ctrl-C during `run`: once, the op in progress finishes and the run stops
//! cleanly (the runner sees the flag); twice, the process stops at once (the
//! results file, rewritten atomically after every op, stays valid).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// Set by the first Ctrl-C; the runner stops after the op in progress.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Install the handler (once per process).
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted again: stopping now");
                hard_exit(130);
            }
            eprintln!(
                "\ninterrupted: stopping after the current op (Ctrl-C again to stop at once)"
            );
        });
    });
}

/// End the process at once from any thread, without running exit handlers:
/// a driver tearing itself down (Mesa's EGL does, at exit) while the main
/// thread is still inside it would fail there and print a panic.
pub fn hard_exit(code: i32) -> ! {
    #[cfg(unix)]
    // SAFETY: `_exit` ends the process; nothing runs after it.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}
