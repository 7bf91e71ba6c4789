//! The kernels. Each submodule is one kernel's single home on the host side:
//! buffers and dispatch, tunable parameters, a CPU reference and the kernel's
//! FLOP/byte accounting. The WGSL lives in `shaders/`.

pub mod attention;
pub mod matmul;
pub mod peak;
pub mod softmax;
pub mod stream;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
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

/// Check a dispatch of `size` workgroups against the per-dimension limit
/// before it is recorded (wgpu would only report it as a validation error
/// inside the pass).
pub(crate) fn check_workgroups(ctx: &GpuContext, what: &str, size: [u64; 3]) -> Result<[u32; 3]> {
    let limit = ctx.limits.max_compute_workgroups_per_dimension as u64;
    if let Some(&over) = size.iter().find(|&&n| n > limit) {
        return Err(crate::Error::ExceedsLimit {
            what: format!("workgroups of {what}"),
            requested: over,
            limit_name: "max_compute_workgroups_per_dimension",
            limit,
        });
    }
    Ok(size.map(|n| n as u32))
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
    fn inputs_are_exact_in_f16() {
        for i in 0..10_000 {
            let x = initial(0, i);
            assert!((-1.0..1.0).contains(&x));
            assert_eq!(half::f16::from_f32(x).to_f32(), x);
        }
        assert_ne!(initial(0, 7), initial(1, 7));
    }

    #[test]
    fn batch_chunks_are_aligned_and_fit() {
        // 32 products of 16 MiB against 128 MiB: 8 a dispatch.
        let cs = batch_chunks(32, &[16 << 20, 1 << 20], "x", 128 << 20, 256, 65535).unwrap();
        assert_eq!(cs, vec![(0, 8), (8, 8), (16, 8), (24, 8)]);
        // 8-byte products against 256-byte alignment: runs of 32 products.
        let cs = batch_chunks(4096, &[8, 512], "x", 64 << 10, 256, 65535).unwrap();
        assert!(cs.iter().all(|&(b0, n)| b0 % 32 == 0 && n == 128), "{cs:?}");
        // The z limit caps products per dispatch.
        let cs = batch_chunks(70_000, &[16], "x", 128 << 20, 16, 65535).unwrap();
        assert!(cs.iter().all(|&(_, n)| n <= 65535));
        assert_eq!(cs.iter().map(|c| c.1).sum::<u64>(), 70_000);
        // One product larger than a binding is an error naming the limit.
        let e = batch_chunks(2, &[200 << 20], "heads", 128 << 20, 256, 65535).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
    }

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

/// Element `i` of operand `which` of the matmul, softmax and attention
/// kernels: a hashed multiple of 2^-10 in [-1, 1), exact in f16 and f32, so
/// the host regenerates any input instead of keeping a copy.
pub fn initial(which: u32, i: u64) -> f32 {
    let mut h = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((which as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 29;
    ((h & 2047) as f32 - 1024.0) / 1024.0
}

/// Elements uploaded per write when filling a buffer.
const FILL_CHUNK: u64 = 4 << 20;

/// Upload [`initial`]`(which, 0 .. elems)` into `buf` as `dtype`, in pieces
/// (a 1 GiB operand never exists twice on the host).
pub(crate) fn fill(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    which: u32,
    elems: u64,
    dtype: DType,
) -> Result<()> {
    let mut start = 0;
    while start < elems {
        let end = (start + FILL_CHUNK).min(elems);
        let bytes: Vec<u8> = match dtype {
            DType::F32 => (start..end)
                .flat_map(|i| initial(which, i).to_le_bytes())
                .collect(),
            DType::F16 => (start..end)
                .flat_map(|i| half::f16::from_f32(initial(which, i)).to_le_bytes())
                .collect(),
        };
        ctx.queue.write_buffer(buf, start * dtype.size(), &bytes);
        ctx.queue.submit([]);
        ctx.wait()?;
        start = end;
    }
    Ok(())
}

/// A buffer of `bytes` for a kernel's operand, checked against
/// `max_buffer_size` first (it may be bound in ranges, so the binding limit
/// is checked per range by the caller).
pub(crate) fn operand_buffer(ctx: &GpuContext, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
    if bytes > ctx.limits.max_buffer_size {
        return Err(Error::ExceedsLimit {
            what: label.to_string(),
            requested: bytes,
            limit_name: "max_buffer_size",
            limit: ctx.limits.max_buffer_size,
        });
    }
    ctx.scoped(&format!("{label} ({bytes} bytes)"), || {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Split `batch` independent products into runs of whole products, one run
/// per dispatch, so that every operand's range (`per_product[i]` bytes per
/// product) fits one storage binding of `binding` bytes and starts at a
/// multiple of `align` bytes, with at most `max_z` products (workgroups
/// along z) per dispatch. Returns (first product, products) per dispatch.
pub(crate) fn batch_chunks(
    batch: u64,
    per_product: &[u64],
    what: &str,
    binding: u64,
    align: u64,
    max_z: u64,
) -> Result<Vec<(u64, u64)>> {
    let largest = per_product.iter().copied().max().unwrap_or(0).max(1);
    // Products per dispatch must keep every operand's offset aligned.
    let granule = per_product.iter().fold(1, |g, &b| {
        let q = align / gcd(b, align);
        g / gcd(g, q) * q
    });
    let fit = (binding / largest).min(max_z);
    let per = if fit >= batch {
        batch
    } else {
        fit / granule * granule
    };
    if per == 0 {
        return Err(Error::ExceedsLimit {
            what: format!("{granule} {what}"),
            requested: granule * largest,
            limit_name: "max_storage_buffer_binding_size",
            limit: binding,
        });
    }
    Ok((0..batch)
        .step_by(per as usize)
        .map(|b0| (b0, per.min(batch - b0)))
        .collect())
}

/// Read `ranges` (first element, element count) of a `dtype` storage buffer
/// back as f32, in one copy per range and one mapping.
pub(crate) fn read_ranges(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    dtype: DType,
    ranges: &[(u64, u64)],
) -> Result<Vec<Vec<f32>>> {
    let s = dtype.size();
    // Copies need 4-byte aligned offsets and sizes: widen each range.
    let spans: Vec<(u64, u64)> = ranges
        .iter()
        .map(|&(first, count)| {
            let start = first * s / 4 * 4;
            let end = ((first + count) * s).div_ceil(4) * 4;
            (start, end - start)
        })
        .collect();
    let total: u64 = spans.iter().map(|s| s.1).sum();
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("sampled readback"),
        size: total.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    let mut at = 0;
    for &(start, len) in &spans {
        enc.copy_buffer_to_buffer(buf, start, &staging, at, len);
        at += len;
    }
    ctx.queue.submit([enc.finish()]);
    let bytes = ctx.read_mapped(&staging)?;
    let mut at = 0usize;
    let mut out = Vec::with_capacity(ranges.len());
    for (&(first, count), &(start, len)) in ranges.iter().zip(&spans) {
        let skip = (first * s - start) as usize;
        let raw = &bytes[at + skip..at + skip + (count * s) as usize];
        out.push(match dtype {
            DType::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(raw),
            DType::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        });
        at += len as usize;
    }
    Ok(out)
}

/// The configuration of any tunable kernel, as stored in results files
/// (each variant's own `kernel` tag says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KernelConfig {
    /// A matrix product (linear layers, unfused attention products).
    Matmul(matmul::MatmulConfig),
    /// The unfused attention's softmax.
    Softmax(softmax::SoftmaxConfig),
    /// Fused attention.
    Attention(attention::AttentionConfig),
}

impl std::fmt::Display for KernelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Matmul(c) => c.fmt(f),
            Self::Softmax(c) => c.fmt(f),
            Self::Attention(c) => c.fmt(f),
        }
    }
}

/// A problem on the GPU that the autotuner can tune: candidate
/// configurations, a cheap probe over a slice of the work, the whole run and
/// its sampled verification. Implemented by each tunable kernel's problem.
pub trait Tunable {
    /// A compiled configuration bound to (a slice of) the problem.
    type Prepared;

    /// The configurations worth trying on `ctx`.
    fn candidates(&self, ctx: &GpuContext) -> Vec<KernelConfig>;

    /// Compile `config` for the slice the autotuner probes, or say why it
    /// cannot run here.
    fn prepare_probe(
        &self,
        ctx: &GpuContext,
        config: KernelConfig,
        checked: bool,
    ) -> Result<Self::Prepared>;

    /// Share of the whole problem's work that `prepared` covers.
    fn fraction(&self, prepared: &Self::Prepared) -> f64;

    /// Bind a probe's compiled pipeline to the whole problem.
    fn widen(&self, ctx: &GpuContext, probe: Self::Prepared) -> Result<Self::Prepared>;

    /// The configuration of `prepared`.
    fn config(&self, prepared: &Self::Prepared) -> KernelConfig;

    /// Dispatches per run of `prepared`.
    fn dispatches(&self, prepared: &Self::Prepared) -> usize;

    /// Record one run of `prepared` into `pass`.
    fn record(&self, pass: &mut wgpu::ComputePass<'_>, prepared: &Self::Prepared);

    /// Zero the output, so a kernel that writes nothing cannot pass on an
    /// earlier kernel's result.
    fn clear_output(&self, ctx: &GpuContext);

    /// Compare `samples` sampled outputs (plus corners) within what
    /// `prepared` covers with the host's reference, after it ran.
    fn verify_prepared(
        &self,
        ctx: &GpuContext,
        prepared: &Self::Prepared,
        samples: u64,
    ) -> Result<Verification>;

    /// Clear the output, run `prepared` once and verify it.
    fn run_and_verify(
        &self,
        ctx: &GpuContext,
        prepared: &Self::Prepared,
        samples: u64,
    ) -> Result<Verification> {
        self.clear_output(ctx);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.record(&mut pass, prepared);
        }
        ctx.queue.submit([enc.finish()]);
        self.verify_prepared(ctx, prepared, samples)
    }
}

/// The shader source for `dtype`: the f16 variant is generated from the f32
/// file by enabling f16 and redefining the element alias `T`.
pub fn source(base: &str, dtype: DType) -> String {
    match dtype {
        DType::F32 => base.to_string(),
        DType::F16 => base.replacen("alias T = f32;", "enable f16;\nalias T = f16;", 1),
    }
}

/// Zero `buf`, so a kernel that writes nothing cannot pass verification on
/// an earlier kernel's output.
pub(crate) fn clear(ctx: &GpuContext, buf: &wgpu::Buffer) {
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.clear_buffer(buf, 0, None);
    ctx.queue.submit([enc.finish()]);
}

/// Record one pipeline over its (bind group, workgroups) dispatches.
pub(crate) fn record_groups(
    pass: &mut wgpu::ComputePass<'_>,
    pipeline: &wgpu::ComputePipeline,
    groups: &[(wgpu::BindGroup, [u32; 3])],
) {
    pass.set_pipeline(pipeline);
    for (bg, [x, y, z]) in groups {
        pass.set_bind_group(0, bg, &[]);
        pass.dispatch_workgroups(*x, *y, *z);
    }
}

/// The (product, row) pairs a sampled verification checks: the four
/// corners of the first `products` products of `rows` rows, then `samples`
/// pseudo-random ones.
pub(crate) fn sampled_rows(products: u64, rows: u64, seed: u64, samples: u64) -> Vec<(u64, u64)> {
    let (bt, last) = (products, rows - 1);
    let mut picks = vec![(0, 0), (bt - 1, last), (0, last), (bt - 1, 0)];
    let seed = seed ^ (bt << 40) ^ (rows << 20);
    picks.extend(
        sample_indices(seed, bt * rows, samples)
            .into_iter()
            .map(|i| (i / rows, i % rows)),
    );
    picks
}

/// Up to `samples` pseudo-random indices below `n`, reproducible per seed.
pub(crate) fn sample_indices(seed: u64, n: u64, samples: u64) -> Vec<u64> {
    let mut h = seed | 1;
    (0..samples)
        .map(|_| {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            h % n.max(1)
        })
        .collect()
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
