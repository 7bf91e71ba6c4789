//! One op of the plan on one device: its kernel chosen by the op's shape,
//! sizes checked before anything runs, then tuned (or not, when the
//! configuration is known), measured and verified into a [`Point`].
//!
//! This is the one place that maps op kinds to kernels: adding a kernel
//! adds an arm to each match here, and the compiler asks for it.

use super::timer::Timer;
use super::tuner::{self, Measured, Search};
use crate::dtype::Format;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::attention::Attention;
use crate::kernels::matmul::Matmul;
use crate::kernels::softmax::Softmax;
use crate::kernels::{Kernel, KernelConfig};
use crate::plan::{Op, OpShape};
use crate::results::Point;
use crate::settings::{Method, SuiteConfig};

/// Check that `op` can run on `ctx` (sizes against limits, dtype support)
/// without allocating anything, so a run can refuse bad sizes up front.
pub fn check(ctx: &GpuContext, op: &Op) -> Result<()> {
    match op.shape {
        OpShape::Product(s) => Matmul::check(ctx, s, op.dtype),
        OpShape::Quantized(q) => {
            Matmul::check_with(ctx, q.shape, op.dtype, Format::Quant(q.weights))
        }
        OpShape::Softmax(s) => Softmax::check(ctx, s, op.dtype).map(drop),
        OpShape::Attention(s) => Attention::check(ctx, s, op.dtype).map(drop),
    }
    .map_err(|e| Error::Invalid(format!("{}: {e}", op.label())))
}

/// How to choose the op's configuration.
#[derive(Debug, Clone)]
pub enum Tuning {
    /// Probe every candidate and keep the fastest verified one.
    Search,
    /// Use this configuration (chosen earlier), with the trials of the
    /// search that chose it and its estimate.
    Known {
        /// The configuration.
        config: KernelConfig,
        /// The record of the search that chose it (kept in the point).
        search: Search,
        /// Time per run the search or an earlier measurement gave.
        estimate_s: Option<f64>,
    },
}

/// Tune (or not), measure and verify `op` into a point: its operands in
/// enough copies to rotate through the method's footprint, the GPU warmed
/// first.
pub fn measure(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    op: &Op,
    tuning: Tuning,
) -> Result<Point> {
    let method = cfg.method.unwrap_or_else(|| Method::for_device(&ctx.caps));
    let dtype = op.dtype;
    let copy_bytes = match op.shape {
        OpShape::Product(s) => Matmul::copy_bytes(s, dtype),
        OpShape::Quantized(q) => Matmul::copy_bytes_with(q.shape, dtype, Format::Quant(q.weights)),
        OpShape::Softmax(s) => Softmax::copy_bytes(s, dtype),
        OpShape::Attention(s) => Attention::copy_bytes(s, dtype),
    };
    let copies = method.rotation(copy_bytes);
    let (config, search, m) = match op.shape {
        OpShape::Product(s) => {
            let k = Matmul::new(ctx, s, dtype, copies)?;
            run(ctx, timer, cfg, &method, op, &k, tuning)
        }
        OpShape::Quantized(q) => {
            let weights = Format::Quant(q.weights);
            let k = Matmul::with_weights(ctx, q.shape, dtype, weights, copies)?;
            run(ctx, timer, cfg, &method, op, &k, tuning)
        }
        OpShape::Softmax(s) => {
            let k = Softmax::new(ctx, s, dtype, copies)?;
            run(ctx, timer, cfg, &method, op, &k, tuning)
        }
        OpShape::Attention(s) => {
            let k = Attention::new(ctx, s, dtype, copies)?;
            run(ctx, timer, cfg, &method, op, &k, tuning)
        }
    }?;
    let median_s = m.timing.summary.median;
    Ok(Point {
        op: op.clone(),
        flops: op.flops(),
        bytes: op.bytes(),
        intensity: op.intensity(),
        kernel: config,
        engine: config.engine(),
        accumulate: config.accumulate(),
        dispatches_per_op: m.dispatches_per_op,
        working_set_bytes: copies as u64 * copy_bytes,
        rotation: copies,
        tuning: search.trials,
        tuning_tie: search.tie,
        tuning_shared_with: None,
        pipelined_s: m.timing.pipelined_median(),
        median_s,
        flops_per_s: op.flops() as f64 / median_s,
        bytes_per_s: op.bytes() as f64 / median_s,
        verified: m.verification.passed(),
        verification: m.verification,
        timing: m.timing,
    })
}

/// [`measure`] for one kernel type.
fn run<K>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    method: &Method,
    op: &Op,
    kernel: &K,
    tuning: Tuning,
) -> Result<(KernelConfig, Search, Measured)>
where
    K: Kernel,
    K::Config: Into<KernelConfig> + TryFrom<KernelConfig, Error = Error>,
{
    let label = op.label();
    timer.warm(ctx, method.warm_s)?;
    let (config, search, estimate) = match tuning {
        Tuning::Search => {
            let c = tuner::tune(ctx, timer, cfg, &label, kernel)?;
            (c.config, c.search, Some(c.estimate_s))
        }
        Tuning::Known {
            config,
            search,
            estimate_s,
        } => (K::Config::try_from(config)?, search, estimate_s),
    };
    let m = tuner::measure(
        ctx,
        timer,
        cfg,
        &label,
        kernel,
        config,
        estimate,
        method.max_dispatch_s,
    )?;
    Ok((config.into(), search, m))
}
