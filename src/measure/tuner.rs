//! The autotuner: every candidate configuration of a kernel is probed on
//! the kernel's probe slice, its output verified, and the fastest verified
//! one is measured on the whole op and verified again.

use super::timer::Timer;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{run_and_verify, Extent, Kernel, KernelConfig, Verification};
use crate::results::Trial;
use crate::settings::SuiteConfig;
use crate::stats::Measurement;

/// The tuner's choice among the candidates.
pub struct Choice<C> {
    /// The fastest verified configuration.
    pub config: C,
    /// Its probe's time per run, scaled to the whole op.
    pub estimate_s: f64,
    /// Every candidate tried, in order.
    pub trials: Vec<Trial>,
}

/// Probe every candidate of `kernel` on its probe slice (each probe's
/// output cleared first and verified) and choose the fastest verified one.
pub fn tune<K>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    label: &str,
    kernel: &K,
) -> Result<Choice<K::Config>>
where
    K: Kernel,
    K::Config: Into<KernelConfig>,
{
    let mut trials = Vec::new();
    let mut best: Option<(f64, K::Config)> = None;
    for config in kernel.candidates(&ctx.caps) {
        let mut trial = |probe_s, verified, note| {
            trials.push(Trial {
                config: config.into(),
                probe_s,
                verified,
                note,
            })
        };
        let p = match kernel.prepare(ctx, config, Extent::Probe) {
            Ok(p) => p,
            // Nothing else can run on a lost device.
            Err(e @ Error::DeviceLost { .. }) => return Err(e),
            Err(e) => {
                trial(None, false, Some(e.to_string()));
                continue;
            }
        };
        // The probe's own output is verified: the output is cleared first,
        // so a kernel that writes nothing cannot pass on an earlier result.
        kernel.clear_output(ctx);
        // Drivers may compile a pipeline at its first dispatch (lavapipe
        // does): the first probe warms it up, the second is compared.
        timer.probe(ctx, &p.dispatches)?;
        let t = timer.probe(ctx, &p.dispatches)? / p.fraction;
        let v = run_and_verify(ctx, kernel, &p, cfg.samples.min(16))?;
        if !v.passed() {
            let note = format!("{} of {} sampled outputs wrong", v.mismatches, v.checked);
            trial(None, false, Some(note));
            continue;
        }
        trial(Some(t), true, None);
        if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
            best = Some((t, config));
        }
    }
    let Some((estimate_s, config)) = best else {
        let why: Vec<String> = trials.iter().filter_map(|t| t.note.clone()).collect();
        return Err(Error::Invalid(format!(
            "{label}: no kernel configuration ran and verified ({})",
            why.join("; ")
        )));
    };
    Ok(Choice {
        config,
        estimate_s,
        trials,
    })
}

/// What measuring one configuration on the whole op gives.
pub struct Measured {
    /// Timing, every sample kept.
    pub timing: Measurement,
    /// The sampled comparison with the host after the timing.
    pub verification: Verification,
    /// Dispatches per run.
    pub dispatches_per_op: usize,
}

/// Measure `config` on the whole op, then verify it. Where one dispatch
/// would run past `max_dispatch_s` (by the estimate), the op is split into
/// enough dispatches to stay under it.
#[allow(clippy::too_many_arguments)]
pub fn measure<K: Kernel>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    label: &str,
    kernel: &K,
    config: K::Config,
    estimate_s: Option<f64>,
    max_dispatch_s: Option<f64>,
) -> Result<Measured> {
    let mut whole = kernel.prepare(ctx, config, Extent::Whole)?;
    if let (Some(e), Some(max)) = (estimate_s, max_dispatch_s) {
        if e / whole.dispatches.per_run().max(1) as f64 > max {
            let parts = (e / (0.8 * max)).ceil() as u32;
            whole = kernel.prepare(ctx, config, Extent::Split(parts))?;
        }
    }
    let timing =
        timer.measure_with_estimate(ctx, &cfg.timing, label, &whole.dispatches, estimate_s)?;
    let verification = run_and_verify(ctx, kernel, &whole, cfg.samples)?;
    Ok(Measured {
        timing,
        verification,
        dispatches_per_op: whole.dispatches.per_run(),
    })
}
