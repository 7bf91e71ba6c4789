//! The kernels. Each kernel has one home, `src/kernels/<name>/`: its host
//! side (buffers, dispatch, configurations), its CPU reference and its
//! FLOP/byte accounting (in `accounting.rs`, which needs no GPU); its WGSL
//! lives in `shaders/<name>*.wgsl`.
//!
//! Every kernel, the roof kernels included, implements [`Kernel`]: it lists
//! the configurations worth trying, prepares one as a [`Prepared`] run (a
//! list of dispatches, per operand copy), and verifies what a run wrote. The
//! tuner, the timer and the roofs go through that interface alone.

pub mod attention;
mod copies;
mod data;
pub mod matmul;
pub mod peak;
pub mod peak_coop;
pub mod softmax;
pub mod stream;
mod verification;

use serde::{Deserialize, Serialize};

pub use crate::dtype::DType;
pub use copies::{Copies, Fill, MAX_COPIES};
pub use data::{
    hash, initial, read_sampled_rows, sampled_rows, stream_initial, XorShift, FILL_SHADER,
};
pub use verification::Verification;

use crate::error::{Error, Result};
use crate::gpu::{Capabilities, GpuContext};

/// How much of its work a prepared kernel covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The whole op.
    Whole,
    /// The slice the tuner probes candidates on: chosen by the kernel to be
    /// large enough to fill a GPU and short enough to keep tuning cheap.
    Probe,
    /// The whole op, in at least this many dispatches per run (to keep each
    /// under a driver's timeout); kernels that cannot split treat it as
    /// [`Extent::Whole`].
    Split(u32),
}

/// One dispatch of a prepared run.
#[derive(Debug, Clone)]
pub struct Step {
    /// Index into [`Dispatches::pipelines`].
    pub pipeline: usize,
    /// Its bindings.
    pub bind_group: wgpu::BindGroup,
    /// Workgroups along x, y, z.
    pub workgroups: [u32; 3],
}

/// What one run of a prepared kernel dispatches: the same steps bound to
/// each copy of the operands (rotation: run r uses copy r mod copies).
#[derive(Debug, Clone)]
pub struct Dispatches {
    /// The pipelines the steps use.
    pub pipelines: Vec<wgpu::ComputePipeline>,
    /// `copies[c]` is the list of steps of one run on operand copy c.
    pub copies: Vec<Vec<Step>>,
    /// Buffers the bind groups need alive (uniforms, scratch).
    pub keep: Vec<wgpu::Buffer>,
}

impl Dispatches {
    /// Record run number `run` into `pass`: the steps of copy `run mod copies`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, run: u64) {
        let steps = &self.copies[(run % self.copies.len() as u64) as usize];
        let mut bound = usize::MAX;
        for s in steps {
            if s.pipeline != bound {
                pass.set_pipeline(&self.pipelines[s.pipeline]);
                bound = s.pipeline;
            }
            pass.set_bind_group(0, &s.bind_group, &[]);
            let [x, y, z] = s.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// Run once on each copy, and wait.
    pub fn run_each_copy(&self, ctx: &GpuContext) -> Result<()> {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for c in 0..self.copies.len() {
                self.record(&mut pass, c as u64);
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait()
    }

    /// Operand copies the runs rotate through.
    pub fn copies(&self) -> usize {
        self.copies.len()
    }

    /// Dispatches per run.
    pub fn per_run(&self) -> usize {
        self.copies.first().map_or(0, Vec::len)
    }
}

/// A configuration compiled and bound to (part of) a kernel's work.
#[derive(Debug, Clone)]
pub struct Prepared<C> {
    /// The configuration.
    pub config: C,
    /// What one run dispatches.
    pub dispatches: Dispatches,
    /// Share of the whole op's work one run covers (1 for [`Extent::Whole`]).
    pub fraction: f64,
    /// Products (batch entries) one run covers, from the first.
    pub products: u64,
    /// Rows of each product one run covers, from the first.
    pub rows: u64,
}

impl<C> Prepared<C> {
    /// A roof kernel's work: one pipeline whose steps (`copies[c]` per
    /// operand copy) cover all of it in every run.
    pub fn whole(
        config: C,
        pipeline: wgpu::ComputePipeline,
        copies: Vec<Vec<Step>>,
        keep: Vec<wgpu::Buffer>,
    ) -> Self {
        Self {
            config,
            dispatches: Dispatches {
                pipelines: vec![pipeline],
                copies,
                keep,
            },
            fraction: 1.0,
            products: 1,
            rows: 1,
        }
    }
}

/// A kernel bound to its operands on one device: the interface the tuner,
/// the timer and the roofs use.
pub trait Kernel {
    /// A configuration: tile sizes, workgroup shape, ...
    type Config: Copy + PartialEq + std::fmt::Debug + std::fmt::Display;

    /// The configurations worth trying on a device with `caps`, in order.
    fn candidates(&self, caps: &Capabilities) -> Vec<Self::Config>;

    /// Compile `config` (through the device's pipeline cache) and bind it
    /// to `extent` of the work, or say why it cannot run here.
    fn prepare(
        &self,
        ctx: &GpuContext,
        config: Self::Config,
        extent: Extent,
    ) -> Result<Prepared<Self::Config>>;

    /// Zero the outputs of every copy, so a kernel that writes nothing
    /// cannot pass on an earlier result.
    fn clear_output(&self, ctx: &GpuContext);

    /// Which operand copies a verification run must have run on before
    /// [`Kernel::verify`]: the last one, unless the kernel says otherwise.
    fn verified_copies(&self, prepared: &Prepared<Self::Config>) -> std::ops::Range<usize> {
        let n = prepared.dispatches.copies();
        n.saturating_sub(1)..n
    }

    /// Compare `samples` sampled outputs (plus corners) of the verified
    /// copies, within what `prepared` covers, with the CPU reference.
    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<Self::Config>,
        samples: u64,
    ) -> Result<Verification>;
}

/// Clear the outputs, run `prepared` once on each copy [`Kernel::verified_copies`]
/// names, and verify.
pub fn run_and_verify<K: Kernel + ?Sized>(
    ctx: &GpuContext,
    kernel: &K,
    prepared: &Prepared<K::Config>,
    samples: u64,
) -> Result<Verification> {
    kernel.clear_output(ctx);
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        for copy in kernel.verified_copies(prepared) {
            prepared.dispatches.record(&mut pass, copy as u64);
        }
    }
    ctx.queue.submit([enc.finish()]);
    kernel.verify(ctx, prepared, samples)
}

/// The configuration of any tunable op kernel, as stored in results files
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

/// `From<$config> for KernelConfig` and its inverse, for one variant.
macro_rules! kernel_config {
    ($variant:ident, $config:ty) => {
        impl From<$config> for KernelConfig {
            fn from(c: $config) -> Self {
                Self::$variant(c)
            }
        }
        impl TryFrom<KernelConfig> for $config {
            type Error = Error;
            fn try_from(c: KernelConfig) -> Result<Self> {
                match c {
                    KernelConfig::$variant(c) => Ok(c),
                    other => Err(Error::Invalid(format!(
                        "{other} is not a {} configuration",
                        stringify!($variant)
                    ))),
                }
            }
        }
    };
}
kernel_config!(Matmul, matmul::MatmulConfig);
kernel_config!(Softmax, softmax::SoftmaxConfig);
kernel_config!(Attention, attention::AttentionConfig);

impl KernelConfig {
    /// The kernel's name in results files (the `kernel` field of its
    /// configuration, e.g. `flash_prefill_coop`).
    pub fn kernel_name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("kernel")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The arithmetic units the kernel computes on.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Matmul(c) => c.engine(),
            Self::Attention(c) => c.engine(),
            Self::Softmax(_) => Engine::Simt,
        }
    }

    /// The precision the kernel accumulates in.
    pub fn accumulate(&self) -> DType {
        match self {
            Self::Matmul(c) => c.accumulate(),
            Self::Softmax(_) | Self::Attention(_) => DType::F32,
        }
    }
}

/// The arithmetic units a kernel computes on, each with its own measured
/// compute roof.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Scalar and vector FMAs, one per lane (CUDA cores, stream processors).
    #[default]
    Simt,
    /// Cooperative matrices: a subgroup's matrix multiply-add (tensor
    /// cores, matrix cores, simdgroup matrices).
    Coop,
}

impl Engine {
    /// Name in results and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Simt => "simt",
            Self::Coop => "coop",
        }
    }
}

/// Which roof a roof kernel measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoofKind {
    /// Memory bandwidth (bytes/s).
    Memory,
    /// Arithmetic throughput (FLOP/s).
    Compute,
}

/// The error for a dtype the adapter cannot run.
pub fn unsupported(ctx: &GpuContext, dtype: DType) -> Error {
    Error::Unsupported {
        dtype: dtype.name().into(),
        adapter: ctx.adapter.name.clone(),
        feature: "SHADER_F16",
    }
}

/// Fail with [`unsupported`] unless `ctx` runs `dtype`.
pub fn require(ctx: &GpuContext, dtype: DType) -> Result<()> {
    if ctx.caps.supports(dtype) {
        Ok(())
    } else {
        Err(unsupported(ctx, dtype))
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
pub fn batch_chunks(
    batch: u64,
    per_product: &[u64],
    what: &str,
    binding: u64,
    align: u64,
    max_z: u64,
) -> Result<Vec<(u64, u64)>> {
    let largest = per_product.iter().copied().max().unwrap_or(0).max(1);
    let granule = granule(per_product, align);
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

/// The fewest products a dispatch may start at a multiple of, so that every
/// operand's offset (`per_product[i]` bytes per product) stays aligned.
pub fn granule(per_product: &[u64], align: u64) -> u64 {
    per_product.iter().fold(1, |g, &b| {
        let q = align / gcd(b, align);
        g / gcd(g, q) * q
    })
}

/// `chunks` of whole products (first, count) cut into at least `parts`
/// pieces in all, each starting at a multiple of `granule` products.
pub fn split_products(chunks: &[(u64, u64)], parts: u64, granule: u64) -> Vec<(u64, u64)> {
    let each = parts.div_ceil(chunks.len().max(1) as u64).max(1);
    let mut out = Vec::new();
    for &(b0, bc) in chunks {
        let per = (bc.div_ceil(each).div_ceil(granule) * granule).max(granule);
        for first in (0..bc).step_by(per as usize) {
            out.push((b0 + first, per.min(bc - first)));
        }
    }
    out
}

/// [`batch_chunks`] against `ctx`'s binding, alignment and z limits.
pub fn batch_chunks_on(
    ctx: &GpuContext,
    batch: u64,
    per_product: &[u64],
    what: &str,
) -> Result<Vec<(u64, u64)>> {
    let l = &ctx.caps.limits;
    batch_chunks(
        batch,
        per_product,
        what,
        l.max_storage_buffer_binding_size,
        l.min_storage_buffer_offset_alignment as u64,
        l.max_compute_workgroups_per_dimension as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn products_split_on_aligned_boundaries() {
        // 32 products of 96 bytes against 256-byte alignment: granule 8.
        assert_eq!(granule(&[96], 256), 8);
        let s = split_products(&[(0, 32)], 4, 8);
        assert_eq!(s, vec![(0, 8), (8, 8), (16, 8), (24, 8)]);
        // More parts than granules allow: as fine as the granule.
        let s = split_products(&[(0, 32)], 16, 8);
        assert_eq!(s.len(), 4);
        assert_eq!(split_products(&[(0, 5)], 2, 1), vec![(0, 3), (3, 2)]);
    }

    #[test]
    fn configs_convert_both_ways() {
        let c = softmax::SoftmaxConfig::SoftmaxRows { wg: 64 };
        let k: KernelConfig = c.into();
        assert_eq!(softmax::SoftmaxConfig::try_from(k).unwrap(), c);
        let e = matmul::MatmulConfig::try_from(k).unwrap_err();
        assert!(e.to_string().contains("not a Matmul configuration"), "{e}");
    }
}
