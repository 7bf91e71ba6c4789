//! A measured op and its run's memory-roof kernel timed in alternation,
//! batch by batch: a paired ratio of the op's bandwidth to the roof's.
//!
//! A run measures its roofs first and its ops minutes later. Where the
//! host's memory bandwidth moves between regimes within seconds (a shared
//! virtual machine: this project's 2-core host streams at about 6 GB/s in
//! one and 10-12 in the other, one stream kernel after the next), an op's
//! share of a roof measured minutes apart says more about the host than
//! about the op. Timed a batch apart, each pair sees the same machine, and
//! the median of the pairs' ratios is the op's share of the roof.

use super::ops::{self, WithKernel};
use super::roofs;
use super::timer::Timer;
use super::tuner;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{run_and_verify, Extent, Kernel, KernelConfig, Prepared, Verification};
use crate::results::{Point, ResultsFile};
use crate::settings::{Method, SuiteConfig};
use crate::stats::Summary;

/// One pair: seconds per run of the roof kernel and of the op, timed one
/// batch after the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// The memory roof's kernel.
    pub roof_s: f64,
    /// The op, in its point's configuration.
    pub op_s: f64,
}

/// What timing an op beside its memory roof gives.
#[derive(Debug, Clone)]
pub struct Paired {
    /// The memory roof's kernel (`stream.<op>`).
    pub roof_kernel: String,
    /// Bytes one run of the roof kernel moves.
    pub roof_bytes: u64,
    /// The op's minimal bytes (as its point counts them).
    pub op_bytes: u64,
    /// Every pair, in the order timed; the first of a pair alternates
    /// between the roof and the op, so neither always runs on the other's
    /// heels.
    pub pairs: Vec<Pair>,
    /// The op's output, checked after the pairs.
    pub verification: Verification,
    /// Whether the roof kernel's output checked too.
    pub roof_verified: bool,
}

impl Paired {
    /// Each pair's op bandwidth over the roof kernel's: (op bytes / op
    /// time) / (roof bytes / roof time).
    pub fn ratios(&self) -> Vec<f64> {
        self.pairs
            .iter()
            .map(|p| (self.op_bytes as f64 / p.op_s) / (self.roof_bytes as f64 / p.roof_s))
            .collect()
    }

    /// Median and range of [`Self::ratios`]; `None` without pairs.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.ratios())
    }

    /// Whether both outputs matched the host.
    pub fn verified(&self) -> bool {
        self.verification.passed() && self.roof_verified
    }
}

/// Time `point`'s op (its configuration, operands rotated as the run
/// rotated them) and `file`'s memory-roof kernel in `pairs` alternating
/// pairs of batches, each batch at least the run's shortest batch, on
/// `ctx`, the adapter that produced `file`; then verify both.
pub fn against_memory_roof(
    ctx: &GpuContext,
    timer: &Timer,
    file: &ResultsFile,
    point: &Point,
    pairs: usize,
) -> Result<Paired> {
    let suite = file
        .workload
        .as_ref()
        .map(|w| w.suite)
        .ok_or_else(|| Error::Invalid("the results file holds no run's ops".into()))?;
    let name = file
        .ceilings
        .measured
        .memory_kernel
        .clone()
        .ok_or_else(|| Error::Invalid("the results file has no measured memory roof".into()))?;
    let op = roofs::stream_op_named(&name)
        .ok_or_else(|| Error::Invalid(format!("{name}: the memory roof is not a stream kernel")))?;
    let stream = roofs::stream_ready_for(ctx, &file.config, op)?;
    let roof = stream.prepare(ctx, op, Extent::Whole)?;
    let method = suite
        .method
        .unwrap_or_else(|| Method::for_device(&ctx.caps));
    let (_, copies) = ops::rotation(&point.op, &method);
    let (times, verification) = ops::with_kernel(
        ctx,
        &point.op,
        copies,
        Alternate {
            ctx,
            timer,
            suite: &suite,
            method: &method,
            config: point.kernel,
            estimate_s: point.median_s,
            roof: &roof,
            pairs,
        },
    )?;
    let roof_verified = run_and_verify(ctx, &stream, &roof, 0)?.passed();
    Ok(Paired {
        roof_kernel: name,
        roof_bytes: stream.bytes(op),
        op_bytes: point.op.bytes(),
        pairs: times,
        verification,
        roof_verified,
    })
}

/// The pairs' loop on the op's kernel.
struct Alternate<'a, R> {
    ctx: &'a GpuContext,
    timer: &'a Timer,
    suite: &'a SuiteConfig,
    method: &'a Method,
    config: KernelConfig,
    estimate_s: f64,
    roof: &'a Prepared<R>,
    pairs: usize,
}

impl<R> WithKernel for Alternate<'_, R> {
    type Out = (Vec<Pair>, Verification);

    fn call<K>(self, kernel: &K) -> Result<Self::Out>
    where
        K: Kernel,
        K::Config: Into<KernelConfig> + TryFrom<KernelConfig, Error = Error>,
    {
        let (ctx, timer) = (self.ctx, self.timer);
        let config = K::Config::try_from(self.config)?;
        let work = tuner::whole_op(
            ctx,
            kernel,
            config,
            Some(self.estimate_s),
            self.method.max_dispatch_s,
        )?;
        // A first run of each (drivers may compile at the first dispatch),
        // then a warm GPU.
        work.dispatches.run_each_copy(ctx)?;
        self.roof.dispatches.run_each_copy(ctx)?;
        timer.warm(ctx, self.method.warm_s)?;
        // Each batch sized once, so a pair's two batches run back to back.
        let min_s = self.suite.timing.min_batch_s;
        let roof_runs = timer.runs_to_last(ctx, &self.roof.dispatches, min_s)?;
        let op_runs = timer.runs_to_last(ctx, &work.dispatches, min_s)?;
        let roof = || timer.time_runs(ctx, &self.roof.dispatches, roof_runs);
        let op = || timer.time_runs(ctx, &work.dispatches, op_runs);
        let mut pairs = Vec::with_capacity(self.pairs);
        for i in 0..self.pairs {
            let (roof_s, op_s) = if i % 2 == 0 {
                let r = roof()?;
                (r, op()?)
            } else {
                let o = op()?;
                (roof()?, o)
            };
            pairs.push(Pair { roof_s, op_s });
        }
        let verification = run_and_verify(ctx, kernel, &work, self.suite.samples)?;
        Ok((pairs, verification))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_by_hand() {
        // The roof moves 300 B a run, the op 100 B. Pair 1: roof 3 s (100
        // B/s), op 2 s (50 B/s): 0.5. Pair 2: roof 1.5 s (200 B/s), op
        // 0.8 s (125 B/s): 0.625.
        let p = Paired {
            roof_kernel: "stream.triad".into(),
            roof_bytes: 300,
            op_bytes: 100,
            pairs: vec![
                Pair {
                    roof_s: 3.0,
                    op_s: 2.0,
                },
                Pair {
                    roof_s: 1.5,
                    op_s: 0.8,
                },
            ],
            verification: Verification::new(1e-3),
            roof_verified: true,
        };
        let r = p.ratios();
        assert!(
            (r[0] - 0.5).abs() < 1e-12 && (r[1] - 0.625).abs() < 1e-12,
            "{r:?}"
        );
        let s = p.summary().unwrap();
        assert!((s.median - 0.5625).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.n), (r[0], r[1], 2));
    }
}
