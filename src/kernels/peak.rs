//! Peak-arithmetic kernel for the measured compute roof, per dtype.
//! WGSL: `shaders/peak_f32.wgsl`, `shaders/peak_f16.wgsl`.
//!
//! Accounting: each invocation runs `iterations` steps of `4 * chains`
//! independent FMAs; an FMA counts as 2 FLOPs, so a dispatch performs
//! `2 * 4 * chains * iterations * invocations` FLOPs. Bytes: the 4-byte
//! result per invocation (`4 * invocations`), negligible by design.
//!
//! Verification: with a = 1 and b = one unit in the last place at 1.0 (2^-20
//! for f32, 2^-10 for f16) every lane stays in [1, 1.5), where the arithmetic
//! is exact, so the host computes each invocation's result exactly and checks
//! every one for equality: a kernel that skipped iterations, chains or
//! invocations cannot pass.

use serde::{Deserialize, Serialize};

use super::{bind_group, check_workgroup_size, pipeline, storage_buffer, uniform_buffer, Binding};
use super::{DType, KernelRecord, RoofKind, Verification};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::timer::{Timer, TimingConfig};

/// The f32 WGSL source.
pub const SHADER_F32: &str = include_str!("../../shaders/peak_f32.wgsl");
/// The f16 WGSL source.
pub const SHADER_F16: &str = include_str!("../../shaders/peak_f16.wgsl");

/// Largest `chains` the shaders hold (their `MAX_CHAINS`).
pub const MAX_CHAINS: u32 = 8;

/// The shaders' `UNROLL`: `iterations` must be a multiple of it.
pub const UNROLL: u32 = 8;

/// Tunable parameters of the peak kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeakParams {
    /// Element type of the arithmetic.
    pub dtype: DType,
    /// Invocations per workgroup.
    pub workgroup_size: u32,
    /// Workgroups dispatched (one dimension).
    pub workgroups: u32,
    /// vec4 accumulators per invocation (1 ..= 8).
    pub chains: u32,
    /// FMA steps per accumulator.
    pub iterations: u32,
}

impl PeakParams {
    /// Largest iteration count whose arithmetic stays exact.
    pub fn max_iterations(dtype: DType) -> u32 {
        match dtype {
            // start offsets < 2^18 ulps, plus 2^18 steps: below 1.5
            DType::F32 => 1 << 18,
            // start offsets < 64 ulps, plus 384 steps: below 1.5 (448 ulps)
            DType::F16 => 384,
        }
    }

    /// Chain counts the roofs try by default: the best one depends on the
    /// register file and latencies (on lavapipe both f32 and the emulated
    /// f16 peak at 3 chains).
    pub const DEFAULT_CHAINS: [u32; 4] = [2, 3, 4, 8];

    /// Defaults: 256 Ki invocations, enough to fill the largest GPUs, and
    /// arithmetic long enough to dwarf the per-invocation setup and store.
    pub fn default_for(dtype: DType) -> Self {
        Self {
            dtype,
            workgroup_size: 256,
            workgroups: 1024,
            chains: 4,
            iterations: match dtype {
                DType::F32 => 512,
                DType::F16 => 256,
            },
        }
    }

    /// Kernel name in results: `peak.<dtype>.c<chains>`.
    pub fn name(&self) -> String {
        format!("peak.{}.c{}", self.dtype.name(), self.chains)
    }

    /// Invocations per dispatch.
    pub fn invocations(&self) -> u64 {
        self.workgroup_size as u64 * self.workgroups as u64
    }

    /// FLOPs one dispatch performs: 2 per FMA.
    pub fn flops(&self) -> u64 {
        2 * 4 * self.chains as u64 * self.iterations as u64 * self.invocations()
    }

    /// Bytes one dispatch writes: one f32 per invocation.
    pub fn bytes(&self) -> u64 {
        4 * self.invocations()
    }

    /// Reject parameters the kernel cannot run exactly or the adapter cannot run.
    pub fn validate(&self, ctx: &GpuContext) -> Result<()> {
        if self.workgroup_size == 0
            || self.workgroups == 0
            || self.chains == 0
            || self.iterations == 0
        {
            return Err(Error::ZeroSize {
                what: "peak workgroup size, workgroups, chains and iterations",
            });
        }
        if self.chains > MAX_CHAINS {
            return Err(Error::ExceedsLimit {
                what: "peak chains".into(),
                requested: self.chains as u64,
                limit_name: "the shaders' MAX_CHAINS",
                limit: MAX_CHAINS as u64,
            });
        }
        if !self.iterations.is_multiple_of(UNROLL) {
            return Err(Error::Invalid(format!(
                "peak iterations must be a multiple of {UNROLL}, got {}",
                self.iterations
            )));
        }
        let max_it = Self::max_iterations(self.dtype);
        if self.iterations > max_it {
            return Err(Error::ExceedsLimit {
                what: format!("{} peak iterations", self.dtype.name()),
                requested: self.iterations as u64,
                limit_name: "exactly verifiable iterations",
                limit: max_it as u64,
            });
        }
        if self.workgroups > ctx.limits.max_compute_workgroups_per_dimension {
            return Err(Error::ExceedsLimit {
                what: "peak workgroups".into(),
                requested: self.workgroups as u64,
                limit_name: "max_compute_workgroups_per_dimension",
                limit: ctx.limits.max_compute_workgroups_per_dimension as u64,
            });
        }
        check_workgroup_size(ctx, "peak workgroup size", self.workgroup_size)?;
        if !self.dtype.supported(ctx) {
            return Err(Error::Unsupported {
                dtype: self.dtype.name().into(),
                adapter: ctx.adapter.name.clone(),
                feature: "SHADER_F16",
            });
        }
        ctx.check_binding("peak output", self.bytes())
    }

    /// log2 of the unit step (b) for this dtype.
    fn ulp_exp(&self) -> i32 {
        match self.dtype {
            DType::F32 => -20,
            DType::F16 => -10,
        }
    }

    /// Host reference for invocation `g`: the exact sum over lanes of (x - 1).
    pub fn reference(&self, g: u32) -> f64 {
        let mask = match self.dtype {
            DType::F32 => 0x3_FFFF,
            DType::F16 => 0x3F,
        };
        let lanes = 4 * self.chains;
        let offsets: u64 = (0..lanes).map(|l| (start_offset(g, l) & mask) as u64).sum();
        let steps = lanes as u64 * self.iterations as u64;
        (offsets + steps) as f64 * 2f64.powi(self.ulp_exp())
    }
}

/// The shaders' start-offset hash, unmasked.
pub fn start_offset(invocation: u32, lane: u32) -> u32 {
    let mut h = invocation
        .wrapping_mul(2_654_435_761)
        .wrapping_add(lane.wrapping_mul(2_246_822_519));
    h ^= h >> 15;
    h = h.wrapping_mul(2_246_822_519);
    h ^= h >> 13;
    h
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    iterations: u32,
    a: f32,
    b: f32,
    _pad: u32,
}

/// Measure the peak kernel with `params`; verifies every invocation's result.
pub fn run(
    ctx: &GpuContext,
    timer: &Timer,
    timing: &TimingConfig,
    params: &PeakParams,
    checked: bool,
) -> Result<KernelRecord> {
    params.validate(ctx)?;
    let (label, source) = match params.dtype {
        DType::F32 => ("peak_f32", SHADER_F32),
        DType::F16 => ("peak_f16", SHADER_F16),
    };
    let module = ctx.shader(label, source, checked)?;
    let pipe = pipeline(
        ctx,
        &module,
        "peak",
        &[Binding::Uniform, Binding::ReadWrite],
        &[
            ("WORKGROUP_SIZE", params.workgroup_size as f64),
            ("CHAINS", params.chains as f64),
        ],
    )?;
    let uniform = uniform_buffer(
        ctx,
        "peak params",
        bytemuck::bytes_of(&Params {
            iterations: params.iterations,
            a: 1.0,
            b: 2f32.powi(params.ulp_exp()),
            _pad: 0,
        }),
    );
    let out = storage_buffer(ctx, "peak output", params.bytes())?;
    let bg = bind_group(
        ctx,
        &pipe,
        &[uniform.as_entire_binding(), out.as_entire_binding()],
    )?;
    let name = params.name();
    let timing_result = timer.measure(ctx, timing, &name, &mut |pass, _| {
        pass.set_pipeline(&pipe);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(params.workgroups, 1, 1);
    })?;
    let got = super::read_f32(ctx, &out)?;
    let verification = Verification::compare(&got, 0.0, |g| params.reference(g as u32) as f32);
    Ok(KernelRecord::new(
        name,
        RoofKind::Compute,
        params.dtype,
        params.bytes(),
        params.flops(),
        serde_json::to_value(params).expect("serialisable"),
        checked,
        timing_result,
        verification,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand() {
        let p = PeakParams {
            dtype: DType::F32,
            workgroup_size: 64,
            workgroups: 10,
            chains: 2,
            iterations: 100,
        };
        // 640 invocations * 100 iterations * 2 vec4 chains * 4 lanes * 2 FLOPs
        assert_eq!(p.flops(), 640 * 100 * 8 * 2);
        assert_eq!(p.flops(), 1_024_000);
        assert_eq!(p.bytes(), 2560);
    }

    #[test]
    fn reference_is_exact_in_the_dtype() {
        for dtype in [DType::F32, DType::F16] {
            let mut p = PeakParams::default_for(dtype);
            p.chains = MAX_CHAINS;
            p.iterations = PeakParams::max_iterations(dtype);
            for g in [0u32, 1, 77, 1 << 20, u32::MAX] {
                let r = p.reference(g);
                // The sum of 32 lanes below 0.5 each is below 16, and a
                // multiple of the ulp: exactly representable in f32.
                assert!(r < 16.0);
                assert_eq!(r as f32 as f64, r);
            }
        }
    }

    #[test]
    fn reference_changes_with_every_parameter() {
        let p = PeakParams::default_for(DType::F32);
        let r = p.reference(5);
        assert_ne!(r, p.reference(6));
        assert_ne!(
            r,
            PeakParams {
                iterations: p.iterations - 1,
                ..p
            }
            .reference(5)
        );
        assert_ne!(
            r,
            PeakParams {
                chains: p.chains + 1,
                ..p
            }
            .reference(5)
        );
    }
}
