//! Peak cooperative-matrix kernel for the measured cooperative compute roof
//! (tensor cores), per accumulator type, f16 operands. WGSL:
//! `shaders/peak_coop.wgsl` (f32 accumulators; the f16 variant is generated
//! from it). Accounting in [`accounting`], the CPU twin in [`reference`](mod@reference).
//!
//! Verification: the data are small integers, so every subgroup's every
//! chain ends exactly at its start plus A.B, however many iterations ran,
//! and the host checks all of them for equality.
//!
//! Every subgroup runs the same code, so the work of a workgroup depends on
//! how many subgroups it holds: the kernel runs only where the adapter's
//! subgroup size is fixed.

pub mod accounting;
pub mod reference;

use half::f16;
use serde::{Deserialize, Serialize};

use super::matmul::{coop_source, coop_unsupported};
use super::peak::{PeakConfig, PeakLimits};
use super::{DType, Extent, Kernel, Prepared, Step, Verification};
use crate::error::{Error, Result};
use crate::gpu::{Binding, Capabilities, GpuContext};

/// The WGSL source (f32 accumulators).
pub const SHADER: &str = include_str!("../../../shaders/peak_coop.wgsl");

/// Largest `chains` the shader holds (its `MAX_COOP_CHAINS`).
pub const MAX_COOP_CHAINS: u32 = 8;

/// Chain counts the roofs try: enough independent multiply-adds to hide
/// the latency, few enough to stay in registers.
pub const DEFAULT_CHAINS: [u32; 3] = [2, 4, 8];

/// Iterations a dispatch starts from before the roofs lengthen it.
pub const BASE_ITERATIONS: u32 = 64;

/// The most iterations a dispatch may run.
pub const MAX_ITERATIONS: u32 = 1 << 22;

/// The grid of a cooperative peak kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoopPeakParams {
    /// The accumulators' type (operands are f16).
    pub accumulate: DType,
    /// Subgroups per workgroup.
    pub subgroups_per_workgroup: u32,
    /// Workgroups dispatched (one dimension).
    pub workgroups: u32,
}

impl CoopPeakParams {
    /// 4 subgroups per workgroup, 2048 workgroups: several waves on the
    /// largest GPUs.
    pub fn default_for(accumulate: DType) -> Self {
        Self {
            accumulate,
            subgroups_per_workgroup: 4,
            workgroups: 2048,
        }
    }

    /// Subgroups per dispatch.
    pub fn subgroups(&self) -> u64 {
        self.subgroups_per_workgroup as u64 * self.workgroups as u64
    }

    /// Why the kernel cannot run on a device with `caps`, if so (the roofs
    /// report it as not available).
    pub fn unsupported(&self, caps: &Capabilities) -> Option<String> {
        if let Some(why) = coop_unsupported(caps, DType::F16, self.accumulate) {
            return Some(why);
        }
        let (min, max) = caps.subgroup_sizes;
        if min != max {
            return Some(format!(
                "the subgroup size varies ({min}..{max}), so a workgroup's subgroups are unknown"
            ));
        }
        None
    }

    /// The shader's override constants for `config` on a device with
    /// `caps` (whose subgroup size is fixed: see [`Self::unsupported`]).
    pub fn constants(
        &self,
        caps: &Capabilities,
        config: CoopPeakConfig,
    ) -> Vec<(&'static str, f64)> {
        let wg = self.subgroups_per_workgroup * caps.subgroup_sizes.1;
        vec![("WG", wg as f64), ("CHAINS", config.chains as f64)]
    }

    /// The kernel's name in results: `peak.coop.f16.<acc>`.
    pub fn name(&self) -> String {
        format!("peak.coop.f16.{}", self.accumulate.name())
    }

    /// Reject parameters the adapter cannot run.
    pub fn validate(&self, ctx: &GpuContext) -> Result<()> {
        if self.subgroups_per_workgroup == 0 || self.workgroups == 0 {
            return Err(Error::ZeroSize {
                what: "cooperative peak subgroups and workgroups",
            });
        }
        if let Some(why) = self.unsupported(&ctx.caps) {
            return Err(Error::Invalid(format!("{}: {why}", self.name())));
        }
        ctx.check_workgroups("cooperative peak", [self.workgroups as u64, 1, 1])?;
        let size = self.subgroups_per_workgroup * ctx.caps.subgroup_sizes.1;
        ctx.check_workgroup_size("cooperative peak workgroup size", size)
    }
}

/// One configuration of the cooperative peak kernel: accumulators per
/// subgroup (1 ..= 8) and pairs of multiply-adds per accumulator.
pub type CoopPeakConfig = PeakConfig;

/// Reject configurations the cooperative peak shader cannot run.
pub fn check(config: &CoopPeakConfig) -> Result<()> {
    config.validate_for(&LIMITS)
}

/// The cooperative peak shader's limits.
const LIMITS: PeakLimits = PeakLimits {
    kernel: "cooperative peak",
    zero: "cooperative peak chains and iterations",
    chains: MAX_COOP_CHAINS,
    chains_limit: "the shader's MAX_COOP_CHAINS",
    unroll: 1,
    iterations: MAX_ITERATIONS,
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    iterations: u32,
    _pad: [u32; 3],
}

/// `values` as the bytes of `dtype` elements (exact: small integers).
fn encode(values: impl IntoIterator<Item = f64>, dtype: DType) -> Vec<u8> {
    match dtype {
        DType::F32 => values
            .into_iter()
            .flat_map(|v| (v as f32).to_le_bytes())
            .collect(),
        DType::F16 => values
            .into_iter()
            .flat_map(|v| f16::from_f64(v).to_le_bytes())
            .collect(),
    }
}

/// The cooperative peak kernel of one accumulator type on one device: its
/// fragments, the chains' starts and the output.
pub struct CoopPeak {
    /// The grid.
    pub params: CoopPeakParams,
    /// Chain counts to try.
    pub chains: Vec<u32>,
    frags: wgpu::Buffer,
    init: wgpu::Buffer,
    out: wgpu::Buffer,
}

impl CoopPeak {
    /// Check `params` and upload the data; `chains` are the candidates.
    pub fn new(ctx: &GpuContext, params: CoopPeakParams, chains: Vec<u32>) -> Result<Self> {
        params.validate(ctx)?;
        for &c in &chains {
            check(&CoopPeakConfig {
                chains: c,
                iterations: 1,
            })?;
        }
        let b = reference::b();
        let frags = encode(
            reference::a()
                .into_iter()
                .chain(b)
                .chain(b.into_iter().map(|v| -v)),
            DType::F16,
        );
        let init = encode(
            (0..MAX_COOP_CHAINS).flat_map(reference::start),
            params.accumulate,
        );
        let upload = |label: &str, data: &[u8]| -> Result<wgpu::Buffer> {
            let buf = ctx.storage_buffer(label, data.len() as u64)?;
            ctx.queue.write_buffer(&buf, 0, data);
            Ok(buf)
        };
        let out_bytes = accounting::bytes(
            MAX_COOP_CHAINS,
            params.subgroups(),
            params.accumulate.size(),
        );
        Ok(Self {
            frags: upload("coop peak fragments", &frags)?,
            init: upload("coop peak starts", &init)?,
            out: ctx.storage_buffer("coop peak output", out_bytes)?,
            params,
            chains,
        })
    }

    /// Kernel name in results: `peak.coop.f16.<acc>.c<chains>`.
    pub fn name(&self, config: CoopPeakConfig) -> String {
        format!("{}.c{}", self.params.name(), config.chains)
    }

    /// FLOPs one dispatch of `config` performs.
    pub fn flops(&self, config: CoopPeakConfig) -> u64 {
        accounting::flops(config.chains, config.iterations, self.params.subgroups())
    }

    /// Bytes one dispatch of `config` writes.
    pub fn bytes(&self, config: CoopPeakConfig) -> u64 {
        accounting::bytes(
            config.chains,
            self.params.subgroups(),
            self.params.accumulate.size(),
        )
    }
}

impl Kernel for CoopPeak {
    type Config = CoopPeakConfig;

    fn candidates(&self, _caps: &Capabilities) -> Vec<CoopPeakConfig> {
        self.chains
            .iter()
            .map(|&chains| CoopPeakConfig {
                chains,
                iterations: BASE_ITERATIONS,
            })
            .collect()
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        config: CoopPeakConfig,
        _extent: Extent,
    ) -> Result<Prepared<CoopPeakConfig>> {
        check(&config)?;
        let acc = self.params.accumulate;
        let pipe = ctx.pipeline(
            &format!("peak coop f16 -> {}", acc.name()),
            &coop_source(SHADER, acc),
            "peak_coop",
            &[
                Binding::Uniform,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadWrite,
            ],
            &self.params.constants(&ctx.caps, config),
        )?;
        let uniform = ctx.uniform_buffer(
            "coop peak params",
            bytemuck::bytes_of(&Params {
                iterations: config.iterations,
                _pad: [0; 3],
            }),
        );
        let bind_group = ctx.bind_group(
            &pipe,
            &[
                uniform.as_entire_binding(),
                self.frags.as_entire_binding(),
                self.init.as_entire_binding(),
                self.out.as_entire_binding(),
            ],
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

    /// Every element of every chain of every subgroup, for equality.
    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<CoopPeakConfig>,
        _samples: u64,
    ) -> Result<Verification> {
        let chains = prepared.config.chains;
        let acc = self.params.accumulate;
        let bytes = ctx.read_buffer(&self.out, 0, self.bytes(prepared.config))?;
        let got: Vec<f64> = match acc {
            DType::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect(),
            DType::F16 => bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f64())
                .collect(),
        };
        let want: Vec<[f64; reference::FRAG]> = (0..chains).map(reference::result).collect();
        let mut v = Verification::new(0.0);
        for (i, block) in got.chunks_exact(reference::FRAG).enumerate() {
            let w = &want[i % chains as usize];
            for (&g, &e) in block.iter().zip(w.iter()) {
                v.add(g, e);
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::peak;

    #[test]
    fn each_peak_kernel_checks_its_own_limits() {
        let c = |chains, iterations| PeakConfig { chains, iterations };
        // Cooperative steps are pairs of multiply-adds: any count.
        assert!(check(&c(2, 3)).is_ok());
        // SIMT steps come in unrolled blocks of 8.
        let e = peak::check(&c(2, 3)).unwrap_err().to_string();
        assert!(e.contains("multiple of 8"), "{e}");
        let e = check(&c(MAX_COOP_CHAINS + 1, 1)).unwrap_err().to_string();
        assert!(e.contains("MAX_COOP_CHAINS"), "{e}");
        let e = peak::check(&c(peak::MAX_CHAINS + 1, 8))
            .unwrap_err()
            .to_string();
        assert!(e.contains("MAX_CHAINS") && !e.contains("COOP"), "{e}");
        assert!(check(&c(1, MAX_ITERATIONS + 1)).is_err());
        assert!(check(&c(0, 1)).is_err());
    }
}
