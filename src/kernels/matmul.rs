//! Matrix products of the linear layers: C = A . W^T, with A the m x k
//! activations and W the n x k weights (the layout of a Linear layer).
//! WGSL: `shaders/matmul.wgsl` (tiled GEMM, direct register-blocked GEMM,
//! split-k GEMV with a workgroup-memory reduction) and
//! `shaders/matmul_subgroup.wgsl` (split-k GEMV with subgroup reductions).
//!
//! Accounting (see [`crate::plan::Op`]): `2 m n k` FLOPs and the minimal
//! `size * (m k + k n + m n)` bytes. Products accumulate in f32 for both
//! dtypes.
//!
//! Operands larger than one storage binding (Llama-7B's 11008 x 4096 f32
//! weights are 172 MiB; lavapipe binds at most 128 MiB) live in one buffer
//! each and are bound in ranges: the product is split into row chunks of A
//! and C and row chunks of W, one dispatch per pair, all of them one timed
//! "dispatch" of the op.
//!
//! Verification: inputs are hashed multiples of 2^-10 in [-1, 1), exact in
//! f16 and f32, so the host regenerates any row without keeping a copy and
//! computes sampled outputs in f64; the error is judged against
//! sum |a_i w_i| (the scale of the rounding), with a tolerance per dtype.

use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

pub use super::source;
use super::{
    batch_chunks, bind_group, clear, fill, initial, operand_buffer, pipeline, record_groups,
    uniform_buffer, Binding,
};
use super::{DType, KernelConfig, Tunable, Verification};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// The WGSL of the tiled, direct and split-k kernels.
pub const SHADER: &str = include_str!("../../shaders/matmul.wgsl");
/// The WGSL of the subgroup kernels: appended to [`SHADER`], whose
/// declarations they use (see [`subgroup_module`]).
pub const SHADER_SUBGROUP: &str = include_str!("../../shaders/matmul_subgroup.wgsl");

/// The module of the subgroup kernels: matmul.wgsl followed by
/// matmul_subgroup.wgsl, so the two share one set of declarations.
pub fn subgroup_module() -> String {
    format!("{SHADER}\n{SHADER_SUBGROUP}")
}

/// Largest TILE_M / TILE_N the shaders hold.
pub const MAX_TILE: u32 = 8;

/// Tolerance of a sampled output, relative to `sum |a_i w_i|`.
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // f32 accumulation over up to ~16k terms
        DType::F32 => 1e-5,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 2e-3,
    }
}

/// One kernel configuration the autotuner can try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum MatmulConfig {
    /// Workgroup-memory tiles; each invocation computes tile_m x tile_n.
    Tiled {
        /// Rows per invocation.
        tile_m: u32,
        /// Columns per invocation.
        tile_n: u32,
        /// Invocations along m.
        wg_m: u32,
        /// Invocations along n.
        wg_n: u32,
        /// k-tile in vec4s.
        bk: u32,
    },
    /// Register blocking straight from memory.
    Direct {
        /// Rows per invocation.
        tile_m: u32,
        /// Columns per invocation.
        tile_n: u32,
        /// Invocations along m.
        wg_m: u32,
        /// Invocations along n.
        wg_n: u32,
    },
    /// A workgroup of `split` invocations shares the k loop of
    /// tile_m x tile_n outputs; workgroup-memory tree reduction.
    SplitK {
        /// Rows per workgroup.
        tile_m: u32,
        /// Columns per workgroup.
        tile_n: u32,
        /// Invocations per workgroup (a power of two).
        split: u32,
    },
    /// One-dimensional workgroups sharing rows of A through subgroup
    /// shuffles; each invocation computes tile_m x tile_n (needs SUBGROUP).
    GemmSubgroup {
        /// Rows per workgroup (and per invocation).
        tile_m: u32,
        /// Columns per invocation.
        tile_n: u32,
        /// Invocations per workgroup.
        wg_n: u32,
    },
    /// As `SplitK`, reducing with subgroup operations (needs SUBGROUP).
    Subgroup {
        /// Rows per workgroup.
        tile_m: u32,
        /// Columns per workgroup.
        tile_n: u32,
        /// Invocations per workgroup.
        split: u32,
    },
}

impl std::fmt::Display for MatmulConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Tiled {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
            } => {
                write!(f, "tiled {tile_m}x{tile_n} wg {wg_m}x{wg_n} bk {bk}")
            }
            Self::Direct {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
            } => {
                write!(f, "direct {tile_m}x{tile_n} wg {wg_m}x{wg_n}")
            }
            Self::SplitK {
                tile_m,
                tile_n,
                split,
            } => write!(f, "splitk {tile_m}x{tile_n} /{split}"),
            Self::Subgroup {
                tile_m,
                tile_n,
                split,
            } => {
                write!(f, "subgroup {tile_m}x{tile_n} /{split}")
            }
            Self::GemmSubgroup {
                tile_m,
                tile_n,
                wg_n,
            } => write!(f, "shuffle {tile_m}x{tile_n} wg {wg_n}"),
        }
    }
}

impl MatmulConfig {
    fn entry(&self) -> &'static str {
        match self {
            Self::Tiled { .. } => "gemm_tiled",
            Self::Direct { .. } => "gemm_direct",
            Self::SplitK { .. } => "gemv_splitk",
            Self::Subgroup { .. } => "gemv_subgroup",
            Self::GemmSubgroup { .. } => "gemm_subgroup",
        }
    }

    fn tiles(&self) -> (u32, u32) {
        match *self {
            Self::Tiled { tile_m, tile_n, .. }
            | Self::Direct { tile_m, tile_n, .. }
            | Self::SplitK { tile_m, tile_n, .. }
            | Self::Subgroup { tile_m, tile_n, .. }
            | Self::GemmSubgroup { tile_m, tile_n, .. } => (tile_m, tile_n),
        }
    }

    fn constants(&self) -> Vec<(&'static str, f64)> {
        let (tm, tn) = self.tiles();
        let mut c = vec![("TILE_M", tm as f64), ("TILE_N", tn as f64)];
        match *self {
            Self::Tiled { wg_m, wg_n, bk, .. } => c.extend([
                ("WG_M", wg_m as f64),
                ("WG_N", wg_n as f64),
                ("BK", bk as f64),
            ]),
            Self::Direct { wg_m, wg_n, .. } => {
                c.extend([("WG_M", wg_m as f64), ("WG_N", wg_n as f64)])
            }
            Self::SplitK { split, .. } | Self::Subgroup { split, .. } => {
                c.push(("SPLIT", split as f64))
            }
            Self::GemmSubgroup { wg_n, .. } => c.push(("WG_N", wg_n as f64)),
        }
        c
    }

    /// Rows and columns of C one workgroup covers.
    fn block(&self) -> (u64, u64) {
        let (tm, tn) = self.tiles();
        match *self {
            Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } => {
                ((wg_m * tm) as u64, (wg_n * tn) as u64)
            }
            Self::SplitK { .. } | Self::Subgroup { .. } => (tm as u64, tn as u64),
            Self::GemmSubgroup { wg_n, .. } => (tm as u64, (wg_n * tn) as u64),
        }
    }

    fn invocations(&self) -> u32 {
        match *self {
            Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } => wg_m * wg_n,
            Self::SplitK { split, .. } | Self::Subgroup { split, .. } => split,
            Self::GemmSubgroup { wg_n, .. } => wg_n,
        }
    }

    fn workgroup_bytes(&self, dtype: DType) -> u64 {
        match *self {
            Self::Tiled {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
            } => ((wg_m * tile_m + wg_n * tile_n) * bk) as u64 * 4 * dtype.size(),
            Self::Direct { .. } => 0,
            Self::SplitK { split, .. } => 4 * split as u64,
            Self::Subgroup { split, .. } => split as u64,
            Self::GemmSubgroup { .. } => 0,
        }
    }

    /// Why this configuration cannot run on `ctx` for an m x n chunk, if so.
    pub fn unsupported(&self, ctx: &GpuContext, dtype: DType, m: u64, n: u64) -> Option<String> {
        let (tm, tn) = self.tiles();
        let l = &ctx.limits;
        if tm == 0 || tn == 0 || tm > MAX_TILE || tn > MAX_TILE {
            return Some(format!("tiles {tm}x{tn} outside 1..={MAX_TILE}"));
        }
        if self.invocations() > l.max_compute_invocations_per_workgroup {
            return Some(format!(
                "{} invocations per workgroup > limit {}",
                self.invocations(),
                l.max_compute_invocations_per_workgroup
            ));
        }
        if let Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } = *self {
            if wg_n > l.max_compute_workgroup_size_x || wg_m > l.max_compute_workgroup_size_y {
                return Some(format!("workgroup {wg_n}x{wg_m} exceeds the size limits"));
            }
        }
        if let Self::SplitK { split, .. } | Self::Subgroup { split, .. } = *self {
            if !split.is_power_of_two() || split > l.max_compute_workgroup_size_x {
                return Some(format!(
                    "split {split} is not a power of two within the limit"
                ));
            }
        }
        if self.workgroup_bytes(dtype) > l.max_compute_workgroup_storage_size as u64 {
            return Some(format!(
                "{} bytes of workgroup memory > limit {}",
                self.workgroup_bytes(dtype),
                l.max_compute_workgroup_storage_size
            ));
        }
        if let Self::GemmSubgroup { wg_n, .. } = *self {
            if wg_n > l.max_compute_workgroup_size_x || wg_n % ctx.adapter.subgroup_max_size != 0 {
                return Some(format!(
                    "workgroup {wg_n} is not a multiple of the subgroup size {}",
                    ctx.adapter.subgroup_max_size
                ));
            }
        }
        if matches!(self, Self::Subgroup { .. } | Self::GemmSubgroup { .. })
            && !ctx.has(wgpu::Features::SUBGROUP)
        {
            return Some("the adapter lacks SUBGROUP".into());
        }
        let (bm, bn) = self.block();
        let max = l.max_compute_workgroups_per_dimension as u64;
        if m.div_ceil(bm) > max || n.div_ceil(bn) > max {
            return Some("more workgroups than max_compute_workgroups_per_dimension".into());
        }
        None
    }

    /// The configurations worth trying for a product with m rows: a few
    /// shapes of each kernel, chosen so that at least one suits a discrete
    /// GPU (tiled, split-k) and one a SIMD CPU driver (direct, shuffle).
    pub fn candidates(m: u64, ctx: &GpuContext) -> Vec<Self> {
        let subgroups = ctx.has(wgpu::Features::SUBGROUP);
        let mut v = Vec::new();
        if m >= 32 {
            v.push(Self::Tiled {
                tile_m: 4,
                tile_n: 4,
                wg_m: 16,
                wg_n: 16,
                bk: 4,
            });
            v.push(Self::Tiled {
                tile_m: 8,
                tile_n: 4,
                wg_m: 8,
                wg_n: 16,
                bk: 8,
            });
            v.push(Self::Direct {
                tile_m: 4,
                tile_n: 4,
                wg_m: 8,
                wg_n: 8,
            });
            if subgroups {
                v.push(Self::GemmSubgroup {
                    tile_m: 8,
                    tile_n: 4,
                    wg_n: 8,
                });
                v.push(Self::GemmSubgroup {
                    tile_m: 8,
                    tile_n: 8,
                    wg_n: 64,
                });
            }
        } else {
            let tm = (m as u32).clamp(1, MAX_TILE);
            v.push(Self::Direct {
                tile_m: tm,
                tile_n: 4,
                wg_m: 1,
                wg_n: 64,
            });
            v.push(Self::SplitK {
                tile_m: tm.min(4),
                tile_n: 2,
                split: 64,
            });
            if subgroups {
                v.push(Self::Subgroup {
                    tile_m: tm.min(4),
                    tile_n: 2,
                    split: 64,
                });
                v.push(Self::GemmSubgroup {
                    tile_m: tm,
                    tile_n: 4,
                    wg_n: 8,
                });
                v.push(Self::GemmSubgroup {
                    tile_m: tm,
                    tile_n: 4,
                    wg_n: 32,
                });
            }
        }
        v
    }
}

/// One dispatch's share of the work: products `b0 .. b0 + bc` of a batch
/// (one per workgroup z), and within them rows `m0 .. m0 + mc` of A and C and
/// rows `n0 .. n0 + nc` of W. A batch of several products is split by whole
/// products; a single product by rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    b0: u64,
    bc: u64,
    m0: u64,
    mc: u64,
    n0: u64,
    nc: u64,
}

/// Split the work so that every bound range fits one storage binding and
/// starts at a multiple of `align` bytes, with at most `max_z` products per
/// dispatch.
fn chunks(
    batch: u64,
    (m, n, k): (u64, u64, u64),
    size: u64,
    binding: u64,
    align: u64,
    max_z: u64,
) -> Result<Vec<Chunk>> {
    if batch > 1 {
        let per = [m * k * size, n * k * size, m * n * size];
        let what = format!("product(s) of {m}x{n}x{k}");
        return Ok(batch_chunks(batch, &per, &what, binding, align, max_z)?
            .into_iter()
            .map(|(b0, bc)| Chunk {
                b0,
                bc,
                m0: 0,
                mc: m,
                n0: 0,
                nc: n,
            })
            .collect());
    }
    let fit = |len: u64, what: &str| -> Result<u64> {
        let rows = binding / (len * size);
        if rows >= m.max(n) {
            Ok(rows)
        } else if rows >= 64 {
            Ok(rows / 64 * 64)
        } else {
            Err(Error::ExceedsLimit {
                what: format!("64 rows of {what} ({len} elements each)"),
                requested: 64 * len * size,
                limit_name: "max_storage_buffer_binding_size",
                limit: binding,
            })
        }
    };
    let mc = fit(k.max(n), "A or C")?.min(m);
    let nc = fit(k, "W")?.min(n);
    let mut out = Vec::new();
    for m0 in (0..m).step_by(mc as usize) {
        for n0 in (0..n).step_by(nc as usize) {
            out.push(Chunk {
                b0: 0,
                bc: 1,
                m0,
                mc: mc.min(m - m0),
                n0,
                nc: nc.min(n - n0),
            });
        }
    }
    Ok(out)
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k4: u32,
    ldc: u32,
    c_col: u32,
    a_bstride: u32,
    w_bstride: u32,
    c_bstride: u32,
}

/// The operands of a batch of products on the GPU, filled and ready to run.
/// Product b uses rows `b*m ..` of A and C and rows `b*n ..` of W.
pub struct Problem {
    /// Independent products.
    pub batch: u64,
    /// Rows of A and C per product.
    pub m: u64,
    /// Rows of W, columns of C.
    pub n: u64,
    /// Inner dimension.
    pub k: u64,
    /// Element type.
    pub dtype: DType,
    a: wgpu::Buffer,
    w: wgpu::Buffer,
    c: wgpu::Buffer,
    chunks: Vec<Chunk>,
}

/// A compiled configuration bound to a problem, or to its first `products`
/// products and their first `rows` rows (the slice the autotuner probes).
pub struct Prepared {
    /// The configuration.
    pub config: MatmulConfig,
    pipeline: wgpu::ComputePipeline,
    groups: Vec<(wgpu::BindGroup, [u32; 3])>,
    _params: Vec<wgpu::Buffer>,
    products: u64,
    rows: u64,
}

impl Prepared {
    /// Share of the whole problem's work this covers.
    pub fn fraction(&self, problem: &Problem) -> f64 {
        (self.products * self.rows) as f64 / (problem.batch * problem.m) as f64
    }
}

impl Problem {
    /// Check a batch of m x n x k products against the kernels' constraints
    /// and the device's limits without allocating anything; returns the chunks.
    fn plan(
        ctx: &GpuContext,
        batch: u64,
        (m, n, k): (u64, u64, u64),
        dtype: DType,
    ) -> Result<Vec<Chunk>> {
        if batch == 0 || m == 0 || n == 0 || k == 0 {
            return Err(Error::ZeroSize {
                what: "matrix dimensions",
            });
        }
        if !k.is_multiple_of(4) || !n.is_multiple_of(4) {
            return Err(Error::Invalid(format!(
                "the matmul kernels need k and n to be multiples of 4, got n = {n}, k = {k}"
            )));
        }
        if !dtype.supported(ctx) {
            return Err(Error::Unsupported {
                dtype: dtype.name().into(),
                adapter: ctx.adapter.name.clone(),
                feature: "SHADER_F16",
            });
        }
        let s = dtype.size();
        for (label, elems) in [("A", m * k), ("W", n * k), ("C", m * n)] {
            let bytes = batch * elems * s;
            if bytes > ctx.limits.max_buffer_size {
                return Err(Error::ExceedsLimit {
                    what: format!("matrix {label} of {batch} x {m}x{n}x{k} {}", dtype.name()),
                    requested: bytes,
                    limit_name: "max_buffer_size",
                    limit: ctx.limits.max_buffer_size,
                });
            }
        }
        chunks(
            batch,
            (m, n, k),
            s,
            ctx.limits.max_storage_buffer_binding_size,
            ctx.limits.min_storage_buffer_offset_alignment as u64,
            ctx.limits.max_compute_workgroups_per_dimension as u64,
        )
    }

    /// Check that a batch of m x n x k products can run here, allocating nothing.
    pub fn check(ctx: &GpuContext, batch: u64, m: u64, n: u64, k: u64, dtype: DType) -> Result<()> {
        Self::plan(ctx, batch, (m, n, k), dtype).map(drop)
    }

    /// One m x n x k product: check sizes, allocate and fill A and W.
    pub fn new(ctx: &GpuContext, m: u64, n: u64, k: u64, dtype: DType) -> Result<Self> {
        Self::batched(ctx, 1, m, n, k, dtype)
    }

    /// `batch` independent m x n x k products: check, allocate and fill.
    pub fn batched(
        ctx: &GpuContext,
        batch: u64,
        m: u64,
        n: u64,
        k: u64,
        dtype: DType,
    ) -> Result<Self> {
        let chunks = Self::plan(ctx, batch, (m, n, k), dtype)?;
        let s = dtype.size();
        let a = operand_buffer(ctx, "matrix A", batch * m * k * s)?;
        let w = operand_buffer(ctx, "matrix W", batch * n * k * s)?;
        let c = operand_buffer(ctx, "matrix C", batch * m * n * s)?;
        fill(ctx, &a, 0, batch * m * k, dtype)?;
        fill(ctx, &w, 1, batch * n * k, dtype)?;
        Ok(Self {
            batch,
            m,
            n,
            k,
            dtype,
            a,
            w,
            c,
            chunks,
        })
    }

    /// Rows of A the autotuner's probes cover: enough to be representative
    /// of the kernels' per-row work, few enough to keep tuning cheap.
    pub const PROBE_ROWS: u64 = 256;

    /// Compile `config` for the slice the autotuner probes: the first
    /// [`Self::PROBE_ROWS`] rows of a single product, or as many whole
    /// products of a batch as hold that many rows.
    pub fn prepare_probe(
        &self,
        ctx: &GpuContext,
        config: MatmulConfig,
        checked: bool,
    ) -> Result<Prepared> {
        if self.batch == 1 {
            self.prepare_view(ctx, config, checked, 1, self.m.min(Self::PROBE_ROWS))
        } else {
            let products = Self::PROBE_ROWS.div_ceil(self.m).clamp(1, self.batch);
            self.prepare_view(ctx, config, checked, products, self.m)
        }
    }

    /// Dispatches per run of the op (one per chunk).
    pub fn dispatches(&self) -> usize {
        self.chunks.len()
    }

    /// Compile `config` for this problem, or say why it cannot run here.
    pub fn prepare(
        &self,
        ctx: &GpuContext,
        config: MatmulConfig,
        checked: bool,
    ) -> Result<Prepared> {
        self.prepare_view(ctx, config, checked, self.batch, self.m)
    }

    /// Bind the pipeline a probe compiled to the whole problem, so the
    /// chosen configuration is not compiled a second time.
    pub fn widen(&self, ctx: &GpuContext, probe: Prepared) -> Result<Prepared> {
        let chunks = self.view(self.batch, self.m);
        self.check_fit(ctx, probe.config, &chunks)?;
        self.bind(
            ctx,
            probe.config,
            probe.pipeline,
            chunks,
            self.batch,
            self.m,
        )
    }

    /// The chunks restricted to the first `products` products and their first
    /// `rows` rows.
    fn view(&self, products: u64, rows: u64) -> Vec<Chunk> {
        self.chunks
            .iter()
            .filter(|c| c.b0 < products && c.m0 < rows)
            .map(|c| Chunk {
                bc: c.bc.min(products - c.b0),
                mc: c.mc.min(rows - c.m0),
                ..*c
            })
            .collect()
    }

    /// Whether `config` can run every chunk of `chunks` on `ctx`.
    fn check_fit(&self, ctx: &GpuContext, config: MatmulConfig, chunks: &[Chunk]) -> Result<()> {
        let largest = chunks
            .iter()
            .fold((0, 0), |acc, c| (acc.0.max(c.mc), acc.1.max(c.nc)));
        match config.unsupported(ctx, self.dtype, largest.0, largest.1) {
            Some(why) => Err(Error::Invalid(format!("{config:?}: {why}"))),
            None => Ok(()),
        }
    }

    fn prepare_view(
        &self,
        ctx: &GpuContext,
        config: MatmulConfig,
        checked: bool,
        products: u64,
        rows: u64,
    ) -> Result<Prepared> {
        let chunks = self.view(products, rows);
        self.check_fit(ctx, config, &chunks)?;
        let base = match config {
            MatmulConfig::Subgroup { .. } | MatmulConfig::GemmSubgroup { .. } => subgroup_module(),
            _ => SHADER.to_string(),
        };
        let label = format!("matmul {} {}", config.entry(), self.dtype.name());
        let module = ctx.shader(&label, &source(&base, self.dtype), checked)?;
        let bindings = [
            Binding::Uniform,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
        ];
        let pipe = pipeline(ctx, &module, config.entry(), &bindings, &config.constants())?;
        self.bind(ctx, config, pipe, chunks, products, rows)
    }

    /// Uniforms and bind groups of `chunks` for a compiled `pipe`.
    fn bind(
        &self,
        ctx: &GpuContext,
        config: MatmulConfig,
        pipe: wgpu::ComputePipeline,
        chunks: Vec<Chunk>,
        products: u64,
        rows: u64,
    ) -> Result<Prepared> {
        let s = self.dtype.size();
        let (bm, bn) = config.block();
        let params: Vec<wgpu::Buffer> = chunks
            .iter()
            .map(|ch| {
                let p = Params {
                    m: ch.mc as u32,
                    n: ch.nc as u32,
                    k4: (self.k / 4) as u32,
                    ldc: self.n as u32,
                    c_col: ch.n0 as u32,
                    a_bstride: (self.m * self.k / 4) as u32,
                    w_bstride: (self.n * self.k / 4) as u32,
                    c_bstride: (self.m * self.n) as u32,
                };
                uniform_buffer(ctx, "matmul params", bytemuck::bytes_of(&p))
            })
            .collect();
        let groups = chunks
            .iter()
            .zip(&params)
            .map(|(ch, p)| {
                // Rows of the stacked operands this chunk reads or writes.
                let a_rows = (ch.b0 * self.m + ch.m0, (ch.bc - 1) * self.m + ch.mc);
                let w_rows = (ch.b0 * self.n + ch.n0, (ch.bc - 1) * self.n + ch.nc);
                let bg = bind_group(
                    ctx,
                    &pipe,
                    &[
                        p.as_entire_binding(),
                        row_range(&self.a, a_rows.0, a_rows.1, self.k * s),
                        row_range(&self.w, w_rows.0, w_rows.1, self.k * s),
                        row_range(&self.c, a_rows.0, a_rows.1, self.n * s),
                    ],
                )?;
                let (cols, rws) = (ch.nc.div_ceil(bn) as u32, ch.mc.div_ceil(bm) as u32);
                // gemm_subgroup walks row blocks along x (see its shader).
                let (x, y) = match config {
                    MatmulConfig::GemmSubgroup { .. } => (rws, cols),
                    _ => (cols, rws),
                };
                Ok((bg, [x, y, ch.bc as u32]))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            config,
            pipeline: pipe,
            groups,
            _params: params,
            products,
            rows,
        })
    }

    /// Record one full run (every chunk) into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, prepared: &Prepared) {
        record_groups(pass, &prepared.pipeline, &prepared.groups);
    }

    /// Zero C, so a kernel that writes nothing cannot pass on an earlier
    /// kernel's output.
    pub fn clear_output(&self, ctx: &GpuContext) {
        clear(ctx, &self.c);
    }

    /// [`Self::verify`] within what `prepared` covers (after it ran alone).
    pub fn verify_prepared(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared,
        samples: u64,
    ) -> Result<Verification> {
        self.verify_within(ctx, prepared.products, prepared.rows, samples)
    }

    /// Compare sampled elements of C with f64 dot products on the host: the
    /// corners of the first and last product and `samples` random elements.
    pub fn verify(&self, ctx: &GpuContext, samples: u64) -> Result<Verification> {
        self.verify_within(ctx, self.batch, self.m, samples)
    }

    /// [`Self::verify`] within the first `products` products and their first
    /// `rows` rows: what a probe computed.
    pub fn verify_within(
        &self,
        ctx: &GpuContext,
        products: u64,
        rows: u64,
        samples: u64,
    ) -> Result<Verification> {
        let (bt, m, n) = (products, rows, self.n);
        let full_m = self.m;
        let mut points = vec![
            (0, 0, 0),
            (0, m - 1, n - 1),
            (bt - 1, 0, n - 1),
            (bt - 1, m - 1, 0),
        ];
        let mut h: u64 = 0x1234_5678_9ABC_DEF1 ^ (m << 40) ^ (n << 20) ^ self.k ^ (bt << 50);
        for _ in 0..samples {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            points.push((
                (h >> 48) % bt,
                ((h >> 24) & 0xFF_FFFF) % m,
                (h & 0xFF_FFFF) % n,
            ));
        }
        let s = self.dtype.size();
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("matmul samples"),
            size: 4 * points.len() as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let index = |(b, r, c): (u64, u64, u64)| (b * full_m + r) * n + c;
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        for (i, &pt) in points.iter().enumerate() {
            let byte = index(pt) * s;
            enc.copy_buffer_to_buffer(&self.c, byte & !3, &staging, 4 * i as u64, 4);
        }
        ctx.queue.submit([enc.finish()]);
        let bytes = ctx.read_mapped(&staging)?;
        let mut v = Verification::new(tolerance(self.dtype));
        for (i, &(b, r, c)) in points.iter().enumerate() {
            let word = &bytes[4 * i..4 * i + 4];
            let got = match self.dtype {
                DType::F32 => f32::from_le_bytes(word.try_into().expect("4 bytes")) as f64,
                DType::F16 => {
                    let half = (index((b, r, c)) * s % 4) as usize;
                    let bits = u16::from_le_bytes([word[half], word[half + 1]]);
                    half::f16::from_bits(bits).to_f64()
                }
            };
            let (arow, wrow) = (b * full_m + r, b * n + c);
            let (mut want, mut scale) = (0f64, 0f64);
            for kk in 0..self.k {
                let p =
                    initial(0, arow * self.k + kk) as f64 * initial(1, wrow * self.k + kk) as f64;
                want += p;
                scale += p.abs();
            }
            v.add_scaled(got, want, scale.max(f64::MIN_POSITIVE));
        }
        Ok(v)
    }
}

impl From<MatmulConfig> for KernelConfig {
    fn from(c: MatmulConfig) -> Self {
        Self::Matmul(c)
    }
}

/// The autotuner's view of a problem: the inherent methods, with the
/// configuration wrapped in [`KernelConfig`].
impl Tunable for Problem {
    type Prepared = Prepared;

    fn candidates(&self, ctx: &GpuContext) -> Vec<KernelConfig> {
        MatmulConfig::candidates(self.m, ctx)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    fn prepare_probe(
        &self,
        ctx: &GpuContext,
        config: KernelConfig,
        checked: bool,
    ) -> Result<Prepared> {
        match config {
            KernelConfig::Matmul(c) => Problem::prepare_probe(self, ctx, c, checked),
            other => Err(Error::Invalid(format!(
                "{other} is not a matmul configuration"
            ))),
        }
    }

    fn fraction(&self, prepared: &Prepared) -> f64 {
        prepared.fraction(self)
    }

    fn widen(&self, ctx: &GpuContext, probe: Prepared) -> Result<Prepared> {
        Problem::widen(self, ctx, probe)
    }

    fn config(&self, prepared: &Prepared) -> KernelConfig {
        prepared.config.into()
    }

    fn dispatches(&self, _prepared: &Prepared) -> usize {
        Problem::dispatches(self)
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, prepared: &Prepared) {
        Problem::record(self, pass, prepared)
    }

    fn clear_output(&self, ctx: &GpuContext) {
        Problem::clear_output(self, ctx)
    }

    fn verify_prepared(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared,
        samples: u64,
    ) -> Result<Verification> {
        Problem::verify_prepared(self, ctx, prepared, samples)
    }
}

/// Rows `row0 .. row0 + count` of a row-major buffer with `row_bytes` per row.
fn row_range(
    buf: &wgpu::Buffer,
    row0: u64,
    count: u64,
    row_bytes: u64,
) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: buf,
        offset: row0 * row_bytes,
        size: NonZeroU64::new(count * row_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_within_the_binding() {
        // Llama-7B up projection at S = 4096 in f32 against lavapipe's 128 MiB.
        let (m, n, k, s, b) = (4096, 11008, 4096, 4, 128 << 20);
        let cs = chunks(1, (m, n, k), s, b, 256, 65535).unwrap();
        let area: u64 = cs.iter().map(|c| c.mc * c.nc).sum();
        assert_eq!(area, m * n);
        for c in &cs {
            assert!(
                c.mc * k * s <= b && c.mc * n * s <= b && c.nc * k * s <= b,
                "{c:?}"
            );
            assert_eq!(c.m0 % 64, 0);
            assert_eq!(c.n0 % 64, 0);
        }
        // W: 11008 rows of 16 KiB = 172 MiB: two row chunks of W.
        assert_eq!(cs.iter().map(|c| c.n0).max(), Some(8192));
        // Small problems are one chunk.
        assert_eq!(
            chunks(1, (128, 4096, 4096), 2, b, 256, 65535)
                .unwrap()
                .len(),
            1
        );
        // A row that cannot fit 64 times is an error, not a panic.
        assert!(chunks(1, (64, 64, 1 << 22), 4, b, 256, 65535).is_err());
    }

    #[test]
    fn batches_split_by_whole_aligned_products() {
        // Prefill qk of Llama-7B at S = 2048 in f32: 32 heads of 2048 x 2048
        // scores (16 MiB each) against a 128 MiB binding: 8 heads a dispatch.
        let cs = chunks(32, (2048, 2048, 128), 4, 128 << 20, 256, 65535).unwrap();
        assert_eq!(cs.len(), 4);
        assert!(cs.iter().all(|c| c.bc == 8 && c.mc == 2048 && c.nc == 2048));
        // Tiny products whose A rows are 8 bytes: chunks must start at
        // multiples of 32 products to keep A's offsets 256-aligned.
        let cs = chunks(4096, (1, 64, 4), 2, 64 << 10, 256, 65535).unwrap();
        assert!(cs.iter().all(|c| c.b0 % 32 == 0 && c.bc == 128), "{cs:?}");
        assert_eq!(cs.iter().map(|c| c.bc).sum::<u64>(), 4096);
        let cs = chunks(70_000, (1, 4, 4), 4, 128 << 20, 256, 65535).unwrap();
        assert!(cs.iter().all(|c| c.bc <= 65535));
    }

    #[test]
    fn f16_source_is_generated() {
        let s = source(SHADER, DType::F16);
        assert!(s.contains("enable f16;\nalias T = f16;"));
        assert_eq!(source(SHADER, DType::F32), SHADER);
    }
}
