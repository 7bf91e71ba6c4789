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
    let (copy_bytes, copies) = rotation(op, &method);
    let (config, search, m) = with_kernel(
        ctx,
        op,
        copies,
        Tune {
            ctx,
            timer,
            cfg,
            method: &method,
            op,
            tuning,
        },
    )?;
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

/// Bytes of one copy of `op`'s operands, and how many copies `method`
/// rotates through.
pub(super) fn rotation(op: &Op, method: &Method) -> (u64, u32) {
    let dtype = op.dtype;
    let copy_bytes = match op.shape {
        OpShape::Product(s) => Matmul::copy_bytes(s, dtype),
        OpShape::Quantized(q) => Matmul::copy_bytes_with(q.shape, dtype, Format::Quant(q.weights)),
        OpShape::Softmax(s) => Softmax::copy_bytes(s, dtype),
        OpShape::Attention(s) => Attention::copy_bytes(s, dtype),
    };
    (copy_bytes, method.rotation(copy_bytes))
}

/// Work to do with an op's kernel, whatever the kernel's type:
/// [`with_kernel`] builds the kernel of the op's kind and hands it over.
pub(super) trait WithKernel {
    /// What the work gives.
    type Out;
    /// Do the work with `kernel`.
    fn call<K>(self, kernel: &K) -> Result<Self::Out>
    where
        K: Kernel,
        K::Config: Into<KernelConfig> + TryFrom<KernelConfig, Error = Error>;
}

/// `work` done with the kernel of `op`'s kind, on `copies` copies of its
/// operands.
pub(super) fn with_kernel<W: WithKernel>(
    ctx: &GpuContext,
    op: &Op,
    copies: u32,
    work: W,
) -> Result<W::Out> {
    let dtype = op.dtype;
    match op.shape {
        OpShape::Product(s) => work.call(&Matmul::new(ctx, s, dtype, copies)?),
        OpShape::Quantized(q) => {
            let weights = Format::Quant(q.weights);
            work.call(&Matmul::with_weights(ctx, q.shape, dtype, weights, copies)?)
        }
        OpShape::Softmax(s) => work.call(&Softmax::new(ctx, s, dtype, copies)?),
        OpShape::Attention(s) => work.call(&Attention::new(ctx, s, dtype, copies)?),
    }
}

/// [`measure`]'s work on one kernel: warm the GPU, tune (or not), measure,
/// verify.
struct Tune<'a> {
    ctx: &'a GpuContext,
    timer: &'a Timer,
    cfg: &'a SuiteConfig,
    method: &'a Method,
    op: &'a Op,
    tuning: Tuning,
}

impl WithKernel for Tune<'_> {
    type Out = (KernelConfig, Search, Measured);

    fn call<K>(self, kernel: &K) -> Result<Self::Out>
    where
        K: Kernel,
        K::Config: Into<KernelConfig> + TryFrom<KernelConfig, Error = Error>,
    {
        let (ctx, timer, cfg) = (self.ctx, self.timer, self.cfg);
        let label = self.op.label();
        timer.warm(ctx, self.method.warm_s)?;
        let (config, search, estimate) = match self.tuning {
            Tuning::Search => {
                let c = tuner::tune(ctx, timer, cfg, self.method, &label, kernel)?;
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
            self.method,
            &label,
            kernel,
            config,
            estimate,
        )?;
        Ok((config.into(), search, m))
    }
}
