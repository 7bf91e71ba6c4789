//! The kernels. Each submodule is one kernel's single home on the host side:
//! buffers and dispatch, tunable parameters, a CPU reference and the kernel's
//! FLOP/byte accounting. The WGSL lives in `shaders/`.

pub mod matmul;
pub mod peak;
pub mod stream;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gpu::GpuContext;

/// Element types the kernels run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (needs SHADER_F16).
    F16,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }

    /// Lowercase name, as in results files.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }

    /// Whether `ctx` can run kernels of this type.
    pub fn supported(self, ctx: &GpuContext) -> bool {
        match self {
            Self::F32 => true,
            Self::F16 => ctx.has(wgpu::Features::SHADER_F16),
        }
    }
}

/// Outcome of comparing a kernel's output with the host's reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Output elements compared.
    pub checked: u64,
    /// Elements outside tolerance.
    pub mismatches: u64,
    /// Largest relative error seen.
    pub max_rel_err: f64,
    /// Relative tolerance applied.
    pub tolerance: f64,
}

impl Verification {
    /// Nothing compared yet, under relative tolerance `tol`.
    pub fn new(tol: f64) -> Self {
        Self {
            checked: 0,
            mismatches: 0,
            max_rel_err: 0.0,
            tolerance: tol,
        }
    }

    /// Compare `got` with `want(i)` elementwise under relative tolerance `tol`
    /// (`tol = 0` demands exact equality).
    pub fn compare(got: &[f32], tol: f64, mut want: impl FnMut(usize) -> f32) -> Self {
        let mut v = Self::new(tol);
        for (i, &g) in got.iter().enumerate() {
            v.add(g as f64, want(i) as f64);
        }
        v
    }

    /// Account one element.
    pub fn add(&mut self, got: f64, want: f64) {
        self.checked += 1;
        let err = (got - want).abs();
        let rel = if want != 0.0 { err / want.abs() } else { err };
        // NaN compares false: a NaN output is a mismatch.
        if rel.is_nan() || rel > self.tolerance {
            self.mismatches += 1;
        }
        if rel > self.max_rel_err || rel.is_nan() {
            self.max_rel_err = rel;
        }
    }

    /// Account one element whose error is judged against `scale` (e.g. the
    /// sum of absolute terms of a dot product) rather than its own size.
    pub fn add_scaled(&mut self, got: f64, want: f64, scale: f64) {
        self.checked += 1;
        let rel = (got - want).abs() / scale;
        if rel.is_nan() || rel > self.tolerance {
            self.mismatches += 1;
        }
        if rel > self.max_rel_err || rel.is_nan() {
            self.max_rel_err = rel;
        }
    }

    /// Merge another comparison's counts into this one.
    pub fn merge(&mut self, other: &Self) {
        self.checked += other.checked;
        self.mismatches += other.mismatches;
        if other.max_rel_err > self.max_rel_err || other.max_rel_err.is_nan() {
            self.max_rel_err = other.max_rel_err;
        }
    }

    /// True when something was checked and nothing mismatched.
    pub fn passed(&self) -> bool {
        self.checked > 0 && self.mismatches == 0
    }
}

/// A storage buffer that can be written from the host and copied out.
pub(crate) fn storage_buffer(ctx: &GpuContext, label: &str, size: u64) -> Result<wgpu::Buffer> {
    ctx.check_binding(label, size)?;
    ctx.scoped(&format!("buffer `{label}` ({size} bytes)"), || {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    })
}

/// Check a one-dimensional workgroup size against the device's limits.
pub(crate) fn check_workgroup_size(ctx: &GpuContext, what: &str, size: u32) -> Result<()> {
    let limit = ctx
        .limits
        .max_compute_invocations_per_workgroup
        .min(ctx.limits.max_compute_workgroup_size_x);
    if size > limit {
        return Err(crate::Error::ExceedsLimit {
            what: what.to_string(),
            requested: size as u64,
            limit_name: "max_compute_invocations_per_workgroup",
            limit: limit as u64,
        });
    }
    Ok(())
}

/// A small uniform buffer holding `data`.
pub(crate) fn uniform_buffer(ctx: &GpuContext, label: &str, data: &[u8]) -> wgpu::Buffer {
    let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: data.len() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    ctx.queue.write_buffer(&buf, 0, data);
    buf
}

/// How a kernel binds one buffer of group 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `var<uniform>`
    Uniform,
    /// `var<storage, read>`
    ReadOnly,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// A compute pipeline for `entry` with pipeline-overridable constants and an
/// explicit layout (`bindings[i]` at binding i of group 0), so that entry
/// points that leave a binding unused still share one bind group layout.
pub(crate) fn pipeline(
    ctx: &GpuContext,
    module: &wgpu::ShaderModule,
    entry: &str,
    bindings: &[Binding],
    constants: &[(&str, f64)],
) -> Result<wgpu::ComputePipeline> {
    let entries: Vec<_> = bindings
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match b {
                    Binding::Uniform => wgpu::BufferBindingType::Uniform,
                    Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                    Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    ctx.scoped(&format!("pipeline `{entry}` {constants:?}"), || {
        let bgl = ctx
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(entry),
                entries: &entries,
            });
        let layout = ctx
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(entry),
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            });
        ctx.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&layout),
                module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
    })
}

/// Bind `resources` in order to bindings 0.. of group 0 of `pipeline`.
pub(crate) fn bind_group(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    resources: &[wgpu::BindingResource<'_>],
) -> Result<wgpu::BindGroup> {
    let entries: Vec<_> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: r.clone(),
        })
        .collect();
    ctx.scoped("bind group", || {
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    })
}

/// Read back a whole f32 storage buffer.
pub(crate) fn read_f32(ctx: &GpuContext, buf: &wgpu::Buffer) -> Result<Vec<f32>> {
    let bytes = ctx.read_buffer(buf, 0, buf.size())?;
    Ok(bytemuck::cast_slice(&bytes).to_vec())
}

/// Workgroups for `items` work items at `per_workgroup` each, capped at the
/// per-dimension limit (kernels that may be capped walk with a grid stride).
pub(crate) fn workgroups(ctx: &GpuContext, items: u64, per_workgroup: u64) -> u32 {
    let wanted = items.div_ceil(per_workgroup.max(1)).max(1);
    wanted.min(ctx.limits.max_compute_workgroups_per_dimension as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_counts_mismatches() {
        let v = Verification::compare(&[1.0, 2.0, 3.5], 0.0, |i| (i + 1) as f32);
        assert_eq!((v.checked, v.mismatches), (3, 1));
        assert!(!v.passed());
        assert!((v.max_rel_err - 0.5 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn verification_tolerance_and_nan() {
        let v = Verification::compare(&[1.0 + 1e-7], 1e-6, |_| 1.0);
        assert!(v.passed());
        let v = Verification::compare(&[f32::NAN], 1e-6, |_| 1.0);
        assert!(!v.passed());
        let empty = Verification::new(0.0);
        assert!(!empty.passed(), "nothing checked is not a pass");
    }

    #[test]
    fn dtype_sizes() {
        assert_eq!(DType::F32.size(), 4);
        assert_eq!(DType::F16.size(), 2);
    }
}

/// Which roof a kernel measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoofKind {
    /// Memory bandwidth (bytes/s).
    Memory,
    /// Arithmetic throughput (FLOP/s).
    Compute,
}

/// One measured, verified kernel: what the results file stores per kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelRecord {
    /// Kernel name, e.g. `stream.triad` or `peak.f16`.
    pub name: String,
    /// The roof it measures.
    pub roof: RoofKind,
    /// Element type.
    pub dtype: DType,
    /// Bytes one dispatch moves (read + written).
    pub bytes_per_dispatch: u64,
    /// FLOPs one dispatch performs.
    pub flops_per_dispatch: u64,
    /// Kernel parameters (sizes, workgroup shape, ...), kernel-specific.
    pub config: serde_json::Value,
    /// Whether wgpu's shader runtime checks were on.
    pub shader_checks: bool,
    /// Timing, every sample kept.
    pub timing: crate::timer::Measurement,
    /// bytes_per_dispatch / median seconds.
    pub bytes_per_s: f64,
    /// flops_per_dispatch / median seconds.
    pub flops_per_s: f64,
    /// Output compared with the host reference.
    pub verification: Verification,
    /// `verification.passed()`; unverified kernels never set a roof.
    pub verified: bool,
}

impl KernelRecord {
    /// Assemble a record, deriving rates from the median time.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        roof: RoofKind,
        dtype: DType,
        bytes_per_dispatch: u64,
        flops_per_dispatch: u64,
        config: serde_json::Value,
        shader_checks: bool,
        timing: crate::timer::Measurement,
        verification: Verification,
    ) -> Self {
        let t = timing.summary.median;
        Self {
            name,
            roof,
            dtype,
            bytes_per_dispatch,
            flops_per_dispatch,
            config,
            shader_checks,
            bytes_per_s: bytes_per_dispatch as f64 / t,
            flops_per_s: flops_per_dispatch as f64 / t,
            verified: verification.passed(),
            verification,
            timing,
        }
    }
}
