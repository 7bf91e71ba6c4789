//! The runner for the workload plan: each op of the plan is autotuned over
//! its candidate kernel configurations, measured with the best one, and
//! verified, giving one roofline point. Products run the matmul kernels,
//! the `softmax` series the softmax kernel, `attention (fused)` the fused
//! attention kernels; all through [`Tunable`].

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::kernels::attention::Attention;
use crate::kernels::matmul::Problem;
use crate::kernels::softmax::Softmax;
use crate::kernels::{DType, KernelConfig, Tunable, Verification};
use crate::plan::{Op, Series};
use crate::timer::{Measurement, Timer, TimingConfig};

/// How the ops are measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SuiteConfig {
    /// Sampling of the chosen configuration.
    pub timing: TimingConfig,
    /// Output elements checked per verification (plus the four corners).
    pub samples: u64,
    /// Whether wgpu's shader runtime checks are on.
    pub shader_checks: bool,
    /// Sampling passes over the whole plan: with 2 or more, every op is
    /// sampled again after all the others (see [`resample`]), so its spread
    /// covers the drift of the machine over the run, not only over its own
    /// few seconds.
    #[serde(default = "one_pass")]
    pub passes: u32,
}

fn one_pass() -> u32 {
    1
}

impl Default for SuiteConfig {
    fn default() -> Self {
        Self {
            timing: TimingConfig {
                warmup: 1,
                repeats: 5,
                ..TimingConfig::default()
            },
            samples: 64,
            shader_checks: false,
            passes: 1,
        }
    }
}

/// One configuration the autotuner tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The configuration.
    pub config: KernelConfig,
    /// One probe's time, scaled to the whole op (probes run on a slice of at
    /// most `Problem::PROBE_ROWS` rows), when it ran and verified.
    pub probe_s: Option<f64>,
    /// Whether its sampled output matched the host.
    pub verified: bool,
    /// Why it was skipped or rejected, if it was.
    pub note: Option<String>,
}

/// One measured op: a point of the roofline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The op, with its series, phase, dtype and GEMM-equivalent shape.
    #[serde(flatten)]
    pub op: Op,
    /// FLOPs of the op ([`Op::flops`]: `2 * batch * m * n * k` for products).
    pub flops: u64,
    /// Minimal bytes ([`Op::bytes`]).
    pub bytes: u64,
    /// flops / bytes.
    pub intensity: f64,
    /// The configuration the autotuner chose.
    pub kernel: KernelConfig,
    /// Precision of the accumulation (always f32).
    pub accumulate: DType,
    /// Dispatches per run of the op (operands split across bindings).
    pub dispatches_per_op: usize,
    /// Every configuration tried.
    pub tuning: Vec<Trial>,
    /// Timing of the chosen configuration, every sample kept.
    pub timing: Measurement,
    /// Median seconds per op.
    pub median_s: f64,
    /// flops / median_s.
    pub flops_per_s: f64,
    /// bytes / median_s.
    pub bytes_per_s: f64,
    /// Sampled comparison with the host after the measurement.
    pub verification: Verification,
    /// `verification.passed()`; unverified points are never plotted as valid.
    pub verified: bool,
}

/// Check that `op` can run on `ctx` (sizes against limits, dtype support)
/// without allocating anything, so a run can refuse bad sizes up front.
pub fn check_op(ctx: &GpuContext, op: &Op) -> Result<()> {
    let shape = (op.batch, op.m, op.n, op.q_len());
    match op.series {
        Series::Softmax => Softmax::check(ctx, shape, op.dtype).map(drop),
        Series::Attention => Attention::check(ctx, shape, op.k, op.dtype).map(drop),
        _ => Problem::check(ctx, op.batch, op.m, op.n, op.k, op.dtype),
    }
    .map_err(|e| crate::Error::Invalid(format!("{}: {e}", op.label())))
}

/// Autotune, measure and verify one op.
pub fn measure_op(ctx: &GpuContext, timer: &Timer, cfg: &SuiteConfig, op: &Op) -> Result<Point> {
    let shape = (op.batch, op.m, op.n, op.q_len());
    match op.series {
        Series::Softmax => {
            let problem = Softmax::new(ctx, shape, op.k, op.dtype)?;
            tune_and_measure(ctx, timer, cfg, op, &problem)
        }
        Series::Attention => {
            let problem = Attention::new(ctx, shape, op.k, op.dtype)?;
            tune_and_measure(ctx, timer, cfg, op, &problem)
        }
        _ => {
            let problem = Problem::batched(ctx, op.batch, op.m, op.n, op.k, op.dtype)?;
            tune_and_measure(ctx, timer, cfg, op, &problem)
        }
    }
}

/// Sample `point`'s op again with the configuration already chosen (no
/// tuning), verify it again, and fold the new samples into its timing,
/// median, rates and verification.
pub fn resample(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    point: &mut Point,
) -> Result<()> {
    let op = point.op.clone();
    let shape = (op.batch, op.m, op.n, op.q_len());
    match op.series {
        Series::Softmax => {
            let problem = Softmax::new(ctx, shape, op.k, op.dtype)?;
            resample_with(ctx, timer, cfg, point, &problem)
        }
        Series::Attention => {
            let problem = Attention::new(ctx, shape, op.k, op.dtype)?;
            resample_with(ctx, timer, cfg, point, &problem)
        }
        _ => {
            let problem = Problem::batched(ctx, op.batch, op.m, op.n, op.k, op.dtype)?;
            resample_with(ctx, timer, cfg, point, &problem)
        }
    }
}

fn resample_with<P: Tunable>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    point: &mut Point,
    problem: &P,
) -> Result<()> {
    let probe = problem.prepare_probe(ctx, point.kernel, cfg.shader_checks)?;
    let chosen = problem.widen(ctx, probe)?;
    let mut record = |pass: &mut wgpu::ComputePass<'_>, _| problem.record(pass, &chosen);
    let t = timer.measure_with_estimate(
        ctx,
        &cfg.timing,
        &point.op.label(),
        &mut record,
        Some(point.median_s),
    )?;
    let verification = problem.run_and_verify(ctx, &chosen, cfg.samples)?;
    let timing = &mut point.timing;
    // Samples of either pass are seconds per dispatch, whatever the batch size.
    timing.samples_s.extend(&t.samples_s);
    timing.wall_samples_s.extend(&t.wall_samples_s);
    timing.discarded += t.discarded;
    timing.summary = crate::stats::Summary::of(&timing.samples_s).unwrap_or(timing.summary);
    point.median_s = timing.summary.median;
    point.flops_per_s = point.flops as f64 / point.median_s;
    point.bytes_per_s = point.bytes as f64 / point.median_s;
    point.verification.merge(&verification);
    point.verified = point.verification.passed();
    Ok(())
}

/// Probe every candidate of `problem` on its probe slice (each probe's
/// output verified), then measure the fastest on the whole problem and
/// verify it again.
pub fn tune_and_measure<P: Tunable>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    op: &Op,
    problem: &P,
) -> Result<Point> {
    let mut tuning = Vec::new();
    let mut best: Option<(f64, P::Prepared)> = None;
    for config in problem.candidates(ctx) {
        let p = match problem.prepare_probe(ctx, config, cfg.shader_checks) {
            Ok(p) => p,
            Err(e) => {
                tuning.push(Trial {
                    config,
                    probe_s: None,
                    verified: false,
                    note: Some(e.to_string()),
                });
                continue;
            }
        };
        // The probe's own output is verified: the output is cleared first,
        // so a kernel that writes nothing cannot pass on an earlier result.
        problem.clear_output(ctx);
        // Drivers may compile a pipeline at its first dispatch (lavapipe
        // does): the first probe warms it up, the second is compared.
        timer.probe(ctx, &mut |pass, _| problem.record(pass, &p))?;
        let t = timer.probe(ctx, &mut |pass, _| problem.record(pass, &p))? / problem.fraction(&p);
        let v = problem.verify_prepared(ctx, &p, cfg.samples.min(16))?;
        if !v.passed() {
            tuning.push(Trial {
                config,
                probe_s: None,
                verified: false,
                note: Some(format!(
                    "{} of {} sampled outputs wrong",
                    v.mismatches, v.checked
                )),
            });
            continue;
        }
        tuning.push(Trial {
            config,
            probe_s: Some(t),
            verified: true,
            note: None,
        });
        if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
            best = Some((t, p));
        }
    }
    let Some((estimate, probe)) = best else {
        return Err(crate::Error::Invalid(format!(
            "{}: no kernel configuration ran and verified ({})",
            op.label(),
            tuning
                .iter()
                .filter_map(|t| t.note.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    };
    let chosen = &problem.widen(ctx, probe)?;
    let mut record = |pass: &mut wgpu::ComputePass<'_>, _| problem.record(pass, chosen);
    let label = op.label();
    let timing =
        timer.measure_with_estimate(ctx, &cfg.timing, &label, &mut record, Some(estimate))?;
    let verification = problem.run_and_verify(ctx, chosen, cfg.samples)?;
    let median_s = timing.summary.median;
    Ok(Point {
        op: op.clone(),
        flops: op.flops(),
        bytes: op.bytes(),
        intensity: op.intensity(),
        kernel: problem.config(chosen),
        accumulate: DType::F32,
        dispatches_per_op: problem.dispatches(chosen),
        tuning,
        median_s,
        flops_per_s: op.flops() as f64 / median_s,
        bytes_per_s: op.bytes() as f64 / median_s,
        verified: verification.passed(),
        verification,
        timing,
    })
}
