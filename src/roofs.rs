//! The measured roofs: the best verified streaming kernel is the memory roof,
//! the best verified peak kernel of each dtype is that dtype's compute roof.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::kernels::peak::{self, PeakParams};
use crate::kernels::stream::{self, StreamParams};
use crate::kernels::{DType, KernelRecord, RoofKind};
use crate::timer::{Timer, TimingConfig};

/// What to measure and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoofsConfig {
    /// Streaming kernels' parameters.
    pub stream: StreamParams,
    /// One peak kernel per entry (normally one per supported dtype).
    pub peaks: Vec<PeakParams>,
    /// Sampling.
    pub timing: TimingConfig,
    /// Whether wgpu's shader runtime checks are on (off by default: every
    /// run verifies its output, and the checks cost time on some drivers).
    pub shader_checks: bool,
}

impl RoofsConfig {
    /// Defaults for `ctx`: arrays sized from its limits, a peak kernel for
    /// every dtype it supports.
    pub fn for_device(ctx: &GpuContext) -> Self {
        Self {
            stream: StreamParams::for_limits(&ctx.limits),
            peaks: [DType::F32, DType::F16]
                .into_iter()
                .filter(|d| d.supported(ctx))
                .flat_map(|d| {
                    PeakParams::DEFAULT_CHAINS.map(|chains| PeakParams {
                        chains,
                        ..PeakParams::default_for(d)
                    })
                })
                .collect(),
            timing: TimingConfig::default(),
            shader_checks: false,
        }
    }

    /// A lighter set for `run --quick`: one set of arrays of at most 32 MiB,
    /// a quarter of the peak invocations, 5 samples.
    pub fn quick(ctx: &GpuContext) -> Self {
        let mut c = Self::for_device(ctx);
        c.stream.array_bytes = c.stream.array_bytes.min(32 << 20);
        c.stream.sets = 1;
        for p in &mut c.peaks {
            p.workgroups = 256;
        }
        c.timing.repeats = 5;
        c.timing.warmup = 1;
        c
    }

    /// Check every size and parameter against the device before anything runs.
    pub fn validate(&self, ctx: &GpuContext) -> Result<()> {
        self.stream.validate(ctx)?;
        self.peaks.iter().try_for_each(|p| p.validate(ctx))
    }

    /// Number of kernels [`measure`] runs.
    pub fn kernel_count(&self) -> usize {
        stream::StreamOp::ALL.len() + self.peaks.len()
    }
}

/// The roofs a run measured; only verified kernels count.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MeasuredCeilings {
    /// Best sustained bandwidth, bytes/s.
    pub memory_bytes_per_s: Option<f64>,
    /// The kernel that achieved it.
    pub memory_kernel: Option<String>,
    /// Best arithmetic throughput per dtype, FLOP/s.
    pub compute_flops_per_s: BTreeMap<DType, f64>,
    /// The kernel that achieved it, per dtype.
    pub compute_kernels: BTreeMap<DType, String>,
}

impl MeasuredCeilings {
    /// Derive the roofs from kernel records, ignoring unverified ones.
    pub fn from_records(records: &[KernelRecord]) -> Self {
        let mut c = Self::default();
        for r in records.iter().filter(|r| r.verified) {
            match r.roof {
                RoofKind::Memory => {
                    if c.memory_bytes_per_s.is_none_or(|m| r.bytes_per_s > m) {
                        c.memory_bytes_per_s = Some(r.bytes_per_s);
                        c.memory_kernel = Some(r.name.clone());
                    }
                }
                RoofKind::Compute => {
                    if c.compute_flops_per_s
                        .get(&r.dtype)
                        .is_none_or(|f| r.flops_per_s > *f)
                    {
                        c.compute_flops_per_s.insert(r.dtype, r.flops_per_s);
                        c.compute_kernels.insert(r.dtype, r.name.clone());
                    }
                }
            }
        }
        c
    }
}

/// Run every roof kernel of `cfg`. `on_start` is called with each kernel's
/// name before it runs, `on_done` with its record after.
pub fn measure(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    on_start: &mut dyn FnMut(&str),
    on_done: &mut dyn FnMut(&KernelRecord),
) -> Result<Vec<KernelRecord>> {
    cfg.validate(ctx)?;
    let mut records = stream::run(
        ctx,
        timer,
        &cfg.timing,
        &cfg.stream,
        cfg.shader_checks,
        on_start,
        on_done,
    )?;
    for p in &cfg.peaks {
        on_start(&p.name());
        let r = peak::run(ctx, timer, &cfg.timing, p, cfg.shader_checks)?;
        on_done(&r);
        records.push(r);
    }
    Ok(records)
}
