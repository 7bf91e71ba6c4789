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
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: stopping after the current op (Ctrl-C again to stop at once)"
            );
        });
    });
}
