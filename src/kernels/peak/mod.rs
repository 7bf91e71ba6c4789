//! Peak-arithmetic kernel for the measured compute roofs, per dtype. WGSL:
//! `shaders/peak.wgsl` (f32; the f16 variant is generated from it).
//! Accounting in [`accounting`], the CPU twin in [`reference`](mod@reference).
//!
//! Verification: with a = 1 and b = ± one unit in the last place at 1.0,
//! every lane walks a triangle wave that stays in [1, 1.5), where the
//! arithmetic is exact, and the lanes are summed as integers (units above
//! 1), so the host computes each invocation's result exactly and checks
//! every one for equality, however many iterations ran: a kernel that
//! skipped iterations, chains or invocations cannot pass.

pub mod accounting;
pub mod reference;

use serde::{Deserialize, Serialize};

use super::{require, source, DType, Extent, Kernel, Prepared, Step, Verification};
use crate::error::{Error, Result};
use crate::gpu::{Binding, Capabilities, GpuContext};

/// The WGSL source (f32).
pub const SHADER: &str = include_str!("../../../shaders/peak.wgsl");

/// Largest `chains` the shader holds (its `MAX_CHAINS`).
pub const MAX_CHAINS: u32 = 8;

/// The shader's `UNROLL`: `iterations` must be a multiple of it.
pub const UNROLL: u32 = 8;

/// Chain counts the roofs try by default: the best one depends on the
/// register file and latencies (on lavapipe both f32 and the emulated f16
/// peak at 3 chains).
pub const DEFAULT_CHAINS: [u32; 4] = [2, 3, 4, 8];

/// Iterations a dispatch starts from before the roofs lengthen it to the
/// shortest dispatch they accept.
pub const BASE_ITERATIONS: u32 = 64;

/// The most iterations a dispatch may run (the wave keeps any number
/// exact; this bounds a dispatch's length).
pub const MAX_ITERATIONS: u32 = 1 << 20;

/// The grid of a peak kernel: how many invocations, of which type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeakParams {
    /// Element type of the arithmetic.
    pub dtype: DType,
    /// Invocations per workgroup.
    pub workgroup_size: u32,
    /// Workgroups dispatched (one dimension).
    pub workgroups: u32,
}

impl PeakParams {
    /// On GPUs 4096 workgroups of 256: a million invocations, several waves
    /// on the largest GPUs. On CPU adapters 256 workgroups, far more
    /// invocations than the host has lanes.
    pub fn default_for(dtype: DType, caps: &Capabilities) -> Self {
        Self {
            dtype,
            workgroup_size: 256,
            workgroups: if caps.cpu { 256 } else { 4096 },
        }
    }

    /// Invocations per dispatch.
    pub fn invocations(&self) -> u64 {
        self.workgroup_size as u64 * self.workgroups as u64
    }

    /// The shader's override constants for `config`.
    pub fn constants(&self, config: PeakConfig) -> Vec<(&'static str, f64)> {
        vec![
            ("WORKGROUP_SIZE", self.workgroup_size as f64),
            ("CHAINS", config.chains as f64),
        ]
    }

    /// Reject parameters the adapter cannot run.
    pub fn validate(&self, ctx: &GpuContext) -> Result<()> {
        if self.workgroup_size == 0 || self.workgroups == 0 {
            return Err(Error::ZeroSize {
                what: "peak workgroup size and workgroups",
            });
        }
        ctx.check_workgroups("peak", [self.workgroups as u64, 1, 1])?;
        ctx.check_workgroup_size("peak workgroup size", self.workgroup_size)?;
        require(ctx, self.dtype)?;
        ctx.check_binding("peak output", accounting::bytes(self.invocations()))
    }
}

/// One configuration of a peak kernel, the SIMT one here or the
/// cooperative one (`peak_coop`): independent accumulator chains, and the
/// steps each runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeakConfig {
    /// Accumulators per invocation (vec4s) or per subgroup (fragments).
    pub chains: u32,
    /// Steps per accumulator: FMAs (a multiple of [`UNROLL`]) or pairs of
    /// multiply-adds.
    pub iterations: u32,
}

impl std::fmt::Display for PeakConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} chains x {} iterations", self.chains, self.iterations)
    }
}

/// What a peak shader can run: at most `chains` (named in errors by
/// `chains_limit`), iterations a multiple of `unroll` and at most
/// `iterations`.
pub(crate) struct PeakLimits {
    pub(crate) kernel: &'static str,
    pub(crate) zero: &'static str,
    pub(crate) chains: u32,
    pub(crate) chains_limit: &'static str,
    pub(crate) unroll: u32,
    pub(crate) iterations: u32,
}

/// The SIMT peak shader's limits.
const LIMITS: PeakLimits = PeakLimits {
    kernel: "peak",
    zero: "peak chains and iterations",
    chains: MAX_CHAINS,
    chains_limit: "the shader's MAX_CHAINS",
    unroll: UNROLL,
    iterations: MAX_ITERATIONS,
};

/// Reject configurations the SIMT peak shader cannot run (the
/// cooperative one has [`crate::kernels::peak_coop::check`]).
pub fn check(config: &PeakConfig) -> Result<()> {
    config.validate_for(&LIMITS)
}

impl PeakConfig {
    /// Reject configurations beyond `l`.
    pub(crate) fn validate_for(&self, l: &PeakLimits) -> Result<()> {
        if self.chains == 0 || self.iterations == 0 {
            return Err(Error::ZeroSize { what: l.zero });
        }
        if self.chains > l.chains {
            return Err(Error::ExceedsLimit {
                what: format!("{} chains", l.kernel),
                requested: self.chains as u64,
                limit_name: l.chains_limit,
                limit: l.chains as u64,
            });
        }
        if !self.iterations.is_multiple_of(l.unroll) {
            return Err(Error::Invalid(format!(
                "{} iterations must be a multiple of {}, got {}",
                l.kernel, l.unroll, self.iterations
            )));
        }
        if self.iterations > l.iterations {
            return Err(Error::ExceedsLimit {
                what: format!("{} iterations", l.kernel),
                requested: self.iterations as u64,
                limit_name: "MAX_ITERATIONS",
                limit: l.iterations as u64,
            });
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    iterations: u32,
    half: u32,
    unit: f32,
    mask: u32,
    a: f32,
    shift: u32,
    _pad: [u32; 2],
}

/// The peak kernel of one dtype on one device: its output buffer.
pub struct Peak {
    /// The grid.
    pub params: PeakParams,
    /// Chain counts to try.
    pub chains: Vec<u32>,
    out: wgpu::Buffer,
}

impl Peak {
    /// Check `params` and allocate the output; `chains` are the candidates.
    pub fn new(ctx: &GpuContext, params: PeakParams, chains: Vec<u32>) -> Result<Self> {
        params.validate(ctx)?;
        for &c in &chains {
            check(&PeakConfig {
                chains: c,
                iterations: UNROLL,
            })?;
        }
        let out = ctx.storage_buffer("peak output", accounting::bytes(params.invocations()))?;
        Ok(Self {
            params,
            chains,
            out,
        })
    }

    /// Kernel name in results: `peak.<dtype>.c<chains>`.
    pub fn name(&self, config: PeakConfig) -> String {
        format!("peak.{}.c{}", self.params.dtype.name(), config.chains)
    }

    /// FLOPs one dispatch of `config` performs.
    pub fn flops(&self, config: PeakConfig) -> u64 {
        accounting::flops(config.chains, config.iterations, self.params.invocations())
    }

    /// Bytes one dispatch writes.
    pub fn bytes(&self) -> u64 {
        accounting::bytes(self.params.invocations())
    }
}

impl Kernel for Peak {
    type Config = PeakConfig;

    fn candidates(&self, _caps: &Capabilities) -> Vec<PeakConfig> {
        self.chains
            .iter()
            .map(|&chains| PeakConfig {
                chains,
                iterations: BASE_ITERATIONS,
            })
            .collect()
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        config: PeakConfig,
        _extent: Extent,
    ) -> Result<Prepared<PeakConfig>> {
        check(&config)?;
        let dtype = self.params.dtype;
        let (exp, mask, half) = reference::grid(dtype);
        let pipe = ctx.pipeline(
            &format!("peak {}", dtype.name()),
            &source(SHADER, dtype),
            "peak",
            &[Binding::Uniform, Binding::ReadWrite],
            &self.params.constants(config),
        )?;
        let uniform = ctx.uniform_buffer(
            "peak params",
            bytemuck::bytes_of(&Params {
                iterations: config.iterations,
                half,
                unit: 2f32.powi(exp),
                mask,
                a: 1.0,
                shift: (23 + exp) as u32,
                _pad: [0; 2],
            }),
        );
        let bind_group = ctx.bind_group(
            &pipe,
            &[uniform.as_entire_binding(), self.out.as_entire_binding()],
        )?;
        let step = Step {
            pipeline: 0,
            bind_group,
            workgroups: [self.params.workgroups, 1, 1],
        };
        Ok(Prepared::whole(
            config,
            pipe,
            vec![vec![step]],
            vec![uniform],
        ))
    }

    fn clear_output(&self, ctx: &GpuContext) {
        ctx.clear(&self.out);
    }

    /// Every invocation, for equality.
    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<PeakConfig>,
        _samples: u64,
    ) -> Result<Verification> {
        let c = prepared.config;
        let (_, _, half) = reference::grid(self.params.dtype);
        let bytes = ctx.read_buffer(&self.out, 0, self.out.size())?;
        let got: &[u32] = bytemuck::cast_slice(&bytes);
        let mut v = Verification::new(0.0);
        for (g, &units) in got.iter().enumerate() {
            let want = reference::units(self.params.dtype, c.chains, c.iterations, half, g as u32);
            v.add(units as f64, want as f64);
        }
        Ok(v)
    }
}
