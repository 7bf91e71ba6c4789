//! A measured op and memory-roof kernels timed in alternation, batch by
//! batch: a paired ratio of the op's bandwidth to the roof's.
//!
//! A run measures its roofs first and its ops minutes later. Where the
//! host's memory bandwidth moves between regimes within seconds (a shared
//! virtual machine: this project's 2-core host streams at about 6 GB/s in
//! one and 10-12 in the other, one stream kernel after the next), an op's
//! share of a roof measured minutes apart says more about the host than
//! about the op. Timed a batch apart, each pair sees the same machine, and
//! the median of the pairs' ratios is the op's share of the roof.
//!
//! The run's roof is the fastest of its stream kernels, and which one that
//! was can itself be an accident of the regime (lavapipe: `stream.scale`
//! at 11.9 GB/s in one run, where `read_blocks` reads at 13-14), so a pair
//! times the run's roof kernel and the read-only streams (`read`,
//! `read_blocks`, `dot`), and its roof is the fastest of them in that pair.
//! The read-only streams run on arrays of their own: the others write what
//! the read-only ones read, and the read-only ones write partial sums over
//! what scale and triad read.

use super::ops::{self, WithKernel};
use super::roofs;
use super::timer::Timer;
use super::tuner;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::stream::{Stream, StreamOp};
use crate::kernels::{run_and_verify, Extent, Kernel, KernelConfig, Prepared, Verification};
use crate::results::{Point, ResultsFile};
use crate::settings::{Method, SuiteConfig};
use crate::stats::Summary;

/// The stream kernels that only read the arrays, timed in every pair.
const READ_ONLY: [StreamOp; 3] = [StreamOp::Read, StreamOp::ReadBlocks, StreamOp::Dot];

/// One pair: seconds per run of the op and of each roof kernel, timed one
/// batch after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// Each roof kernel, in [`Paired::roof_kernels`]' order.
    pub roofs_s: Vec<f64>,
    /// The op, in its point's configuration.
    pub op_s: f64,
}

/// What timing an op beside its memory roof gives.
#[derive(Debug, Clone)]
pub struct Paired {
    /// The roof kernels (`stream.<op>`): the run's memory roof kernel
    /// first, then the read-only streams.
    pub roof_kernels: Vec<String>,
    /// Bytes one run of each roof kernel moves.
    pub roof_bytes: Vec<u64>,
    /// The op's minimal bytes (as its point counts them).
    pub op_bytes: u64,
    /// Every pair, in the order timed; the first of a pair alternates
    /// between the roofs and the op, so neither always runs on the other's
    /// heels.
    pub pairs: Vec<Pair>,
    /// The op's output, checked after the pairs.
    pub verification: Verification,
    /// Whether every roof kernel's output checked too.
    pub roof_verified: bool,
}

impl Paired {
    /// A pair's roof: the index of its fastest roof kernel and that
    /// kernel's bandwidth (bytes / time).
    fn roof_of(&self, pair: &Pair) -> (usize, f64) {
        pair.roofs_s
            .iter()
            .zip(&self.roof_bytes)
            .map(|(&s, &bytes)| bytes as f64 / s)
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (i, bw)| if bw > best.1 { (i, bw) } else { best },
            )
    }

    /// Each pair's op bandwidth over its roof's: (op bytes / op time) /
    /// the fastest roof kernel's (bytes / time).
    pub fn ratios(&self) -> Vec<f64> {
        self.pairs
            .iter()
            .map(|p| (self.op_bytes as f64 / p.op_s) / self.roof_of(p).1)
            .collect()
    }

    /// The roof kernel that was fastest in the most pairs (the first
    /// listed of a tie); `None` without pairs.
    pub fn usual_roof(&self) -> Option<&str> {
        let mut wins = vec![0usize; self.roof_kernels.len()];
        for p in &self.pairs {
            wins[self.roof_of(p).0] += 1;
        }
        let most = *wins.iter().max()?;
        (most > 0).then(|| {
            let i = wins.iter().position(|&w| w == most).unwrap_or(0);
            self.roof_kernels[i].as_str()
        })
    }

    /// Median and range of [`Self::ratios`]; `None` without pairs.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.ratios())
    }

    /// Whether every output matched the host.
    pub fn verified(&self) -> bool {
        self.verification.passed() && self.roof_verified
    }
}

/// Time `point`'s op (its configuration, operands rotated as the run
/// rotated them), `file`'s memory-roof kernel and the read-only streams in
/// `pairs` alternating pairs of batches, each batch at least the run's
/// shortest batch, on `ctx`, the adapter that produced `file`; then verify
/// them all.
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
        .map(|w| w.suite.clone())
        .ok_or_else(|| Error::Invalid("the results file holds no run's ops".into()))?;
    let name = file
        .ceilings
        .measured
        .memory_kernel
        .clone()
        .ok_or_else(|| Error::Invalid("the results file has no measured memory roof".into()))?;
    let op = roofs::stream_op_named(&name)
        .ok_or_else(|| Error::Invalid(format!("{name}: the memory roof is not a stream kernel")))?;
    // The read-only streams on arrays as the run left them for `read`
    // (each sums what triad wrote); the run's roof kernel on arrays of its
    // own unless it is one of them.
    let readers = roofs::stream_ready_for(ctx, &file.config, StreamOp::Read)?;
    let own = if READ_ONLY.contains(&op) {
        None
    } else {
        Some(roofs::stream_ready_for(ctx, &file.config, op)?)
    };
    // Each roof kernel prepared on its arrays: the run's first.
    let kernels = std::iter::once(op)
        .chain(READ_ONLY.into_iter().filter(|&o| o != op))
        .map(|o| {
            let stream = match &own {
                Some(s) if o == op => s,
                _ => &readers,
            };
            Ok((stream, stream.prepare(ctx, o, Extent::Whole)?))
        })
        .collect::<Result<Vec<_>>>()?;
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
            roofs: &kernels,
            pairs,
        },
    )?;
    let mut roof_verified = true;
    for (stream, p) in &kernels {
        roof_verified &= run_and_verify(ctx, *stream, p, 0)?.passed();
    }
    Ok(Paired {
        roof_kernels: kernels
            .iter()
            .map(|(_, p)| roofs::stream_name(p.config))
            .collect(),
        roof_bytes: kernels.iter().map(|(s, p)| s.bytes(p.config)).collect(),
        op_bytes: point.op.bytes(),
        pairs: times,
        verification,
        roof_verified,
    })
}

/// The pairs' loop on the op's kernel.
struct Alternate<'a> {
    ctx: &'a GpuContext,
    timer: &'a Timer,
    suite: &'a SuiteConfig,
    method: &'a Method,
    config: KernelConfig,
    estimate_s: f64,
    roofs: &'a [(&'a Stream, Prepared<StreamOp>)],
    pairs: usize,
}

impl WithKernel for Alternate<'_> {
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
        for (_, roof) in self.roofs {
            roof.dispatches.run_each_copy(ctx)?;
        }
        timer.warm(ctx, self.method.warm_s)?;
        // Each batch sized once, so a pair's batches run back to back.
        let min_s = self.suite.timing.min_batch_s;
        let roof_runs = self
            .roofs
            .iter()
            .map(|(_, r)| timer.runs_to_last(ctx, &r.dispatches, min_s))
            .collect::<Result<Vec<_>>>()?;
        let op_runs = timer.runs_to_last(ctx, &work.dispatches, min_s)?;
        let roof_batches = || {
            self.roofs
                .iter()
                .zip(&roof_runs)
                .map(|((_, r), &n)| timer.time_runs(ctx, &r.dispatches, n))
                .collect::<Result<Vec<_>>>()
        };
        let op = || timer.time_runs(ctx, &work.dispatches, op_runs);
        let mut pairs = Vec::with_capacity(self.pairs);
        for i in 0..self.pairs {
            let (roofs_s, op_s) = if i % 2 == 0 {
                let r = roof_batches()?;
                (r, op()?)
            } else {
                let o = op()?;
                (roof_batches()?, o)
            };
            pairs.push(Pair { roofs_s, op_s });
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
        // Two roof kernels moving 300 and 200 B a run, the op 100 B. Pair
        // 1: roofs 3 s (100 B/s) and 1 s (200 B/s), op 2 s (50 B/s): 50 /
        // 200 = 0.25. Pair 2: roofs 1.5 s (200 B/s) and 2 s (100 B/s), op
        // 0.8 s (125 B/s): 125 / 200 = 0.625.
        let p = Paired {
            roof_kernels: vec!["stream.triad".into(), "stream.read".into()],
            roof_bytes: vec![300, 200],
            op_bytes: 100,
            pairs: vec![
                Pair {
                    roofs_s: vec![3.0, 1.0],
                    op_s: 2.0,
                },
                Pair {
                    roofs_s: vec![1.5, 2.0],
                    op_s: 0.8,
                },
            ],
            verification: Verification::new(1e-3),
            roof_verified: true,
        };
        let r = p.ratios();
        assert!(
            (r[0] - 0.25).abs() < 1e-12 && (r[1] - 0.625).abs() < 1e-12,
            "{r:?}"
        );
        let s = p.summary().unwrap();
        assert!((s.median - 0.4375).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.n), (r[0], r[1], 2));
        // Each kernel was fastest once: the first listed names the roof.
        assert_eq!(p.usual_roof(), Some("stream.triad"));
        let mut q = p.clone();
        q.pairs[0].roofs_s[0] = 30.0;
        q.pairs[1].roofs_s[0] = 30.0;
        assert_eq!(q.usual_roof(), Some("stream.read"));
        q.pairs.clear();
        assert_eq!(q.usual_roof(), None);
    }
}
