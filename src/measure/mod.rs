//! Measuring on a device: the timer, the roofs, the autotuner, one op, and
//! the runner that drives them over a plan and reports to an observer.

pub mod observer;
pub mod ops;
pub mod paired;
pub mod roofs;
pub mod runner;
pub mod timer;
pub mod tuner;

pub use observer::{Observer, Silent, Start};
pub use runner::{Outcome, RunSettings};
pub use timer::{Timer, TimerPreference};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{Extent, Kernel};

/// Build the pipelines of `candidates` of `kernel`, each bound to the probe
/// slice and dropped again (the pipelines stay in the device's cache, the
/// bindings do not: holding every candidate's bindings and split-k partials
/// at once would cost far more memory), so that one settling wait
/// ([`Timer::settle`]) covers them all. A candidate that cannot be prepared
/// is left for the caller's own `prepare` to report; a lost device is an
/// error at once.
fn build_pipelines<K: Kernel>(
    ctx: &GpuContext,
    kernel: &K,
    candidates: &[K::Config],
) -> Result<()> {
    for &config in candidates {
        if let Err(e @ Error::DeviceLost { .. }) = kernel.prepare(ctx, config, Extent::Probe) {
            return Err(e);
        }
    }
    Ok(())
}
