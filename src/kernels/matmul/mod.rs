//! Matrix products of the linear layers: C = A . W^T, with A the m x k
//! activations and W the n x k weights (the layout of a Linear layer).
//! WGSL: the `shaders/matmul*.wgsl` files, assembled into modules in
//! [`source`] (see the README's "The kernels" for each family).
//! Configurations in [`config`] (the cooperative GEMM's arithmetic in
//! [`coop`]), the tuner's candidates in `candidates`,
//! accounting in [`accounting`], llama.cpp's blocks in [`quant`], the CPU
//! twin in [`reference`](mod@reference). Products accumulate in f32.
//!
//! Operands larger than one storage binding (Llama-7B's 11008 x 4096 f32
//! weights are 172 MiB; lavapipe binds at most 128 MiB) live in one buffer
//! each and are bound in ranges: the product is split into row chunks of A
//! and C and row chunks of W, one dispatch per pair, all of them one run of
//! the op.
//!
//! Verification: inputs are hashed multiples of 2^-10 in [-1, 1), exact in
//! f16 and f32, so the host regenerates any row without keeping a copy and
//! computes sampled outputs in f64; the error is judged against
//! sum |a_i w_i| (the scale of the rounding), with a tolerance per dtype.

pub mod accounting;
mod bind;
mod candidates;
pub mod config;
pub mod coop;
mod name;
pub mod quant;
pub mod reference;
pub mod source;
mod support;

pub use accounting::{ProductShape, QuantShape};
pub use config::{
    resident_octets, MatmulConfig, BLOCK_MAX_STAGE, GEMV_MAX_ACC, GEMV_MAX_BLOCK_M, GEMV_MAX_M,
    GEMV_MAX_STAGED, GEMV_MAX_UNROLL, MAX_TILE, RESIDENT_MAX_W, RESIDENT_MAX_X,
};
pub use coop::{coop_banded, coop_bytes, COOP_BKS, COOP_FRAGS, COOP_GROUP, COOP_MAX_STAGE};
pub use source::*;
pub use support::coop_unsupported;

use super::{
    batch_chunks, Copies, DType, Dispatches, Extent, Fill, Kernel, Prepared, Verification, XorShift,
};
use crate::dtype::{Format, Quant};
use crate::error::{Error, Result};
use crate::gpu::{Capabilities, GpuContext};

/// Bytes of one row of W (k weights) in `weights`.
pub fn w_row_bytes(k: u64, weights: Format) -> u64 {
    match weights {
        Format::Float(d) => k * d.size(),
        Format::Quant(q) => k / Quant::BLOCK * q.block_bytes(),
    }
}

/// One dispatch's share of the work: products `b0 .. b0 + bc` of a batch
/// (one per workgroup z), and within them rows `m0 .. m0 + mc` of A and C and
/// rows `n0 .. n0 + nc` of W. A batch of several products is split by whole
/// products; a single product by rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) b0: u64,
    pub(crate) bc: u64,
    pub(crate) m0: u64,
    pub(crate) mc: u64,
    pub(crate) n0: u64,
    pub(crate) nc: u64,
}

/// Split the work so that every bound range fits one storage binding and
/// starts at a multiple of `align` bytes, with at most `max_z` products per
/// dispatch.
fn chunks(s: ProductShape, size: u64, binding: u64, align: u64, max_z: u64) -> Result<Vec<Chunk>> {
    let ProductShape { batch, m, n, k } = s;
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

/// `chunks` cut into at least `parts` pieces in all: whole products of a
/// batch, else rows in multiples of 64 (every piece stays within the
/// binding its chunk fitted).
fn split(chunks: &[Chunk], parts: u64) -> Vec<Chunk> {
    let each = parts.div_ceil(chunks.len().max(1) as u64).max(1);
    let mut out = Vec::new();
    for c in chunks {
        if c.bc > 1 {
            let per = c.bc.div_ceil(each).max(1);
            for b0 in (0..c.bc).step_by(per as usize) {
                out.push(Chunk {
                    b0: c.b0 + b0,
                    bc: per.min(c.bc - b0),
                    ..*c
                });
            }
        } else {
            let per = (c.mc.div_ceil(each).div_ceil(64) * 64).max(64);
            for m0 in (0..c.mc).step_by(per as usize) {
                out.push(Chunk {
                    m0: c.m0 + m0,
                    mc: per.min(c.mc - m0),
                    ..*c
                });
            }
        }
    }
    out
}

/// The operands of a batch of products on the GPU, filled and ready to run,
/// each in the same number of copies. Product b uses rows `b*m ..` of A and
/// C and rows `b*n ..` of W.
pub struct Matmul {
    /// The shape.
    pub shape: ProductShape,
    /// Element type of the activations (A and C).
    pub dtype: DType,
    /// W's format: the activations' float type, or quantized.
    pub weights: Format,
    pub(crate) a: Copies,
    pub(crate) w: Copies,
    pub(crate) c: Copies,
    chunks: Vec<Chunk>,
}

/// Rows (or whole products' rows) the tuner's probes cover at least: a
/// probe must give a large tile enough workgroups to fill a big GPU.
pub const PROBE_ROWS: u64 = 2048;

impl Matmul {
    /// Check a batch of products against the kernels' constraints and the
    /// device's limits without allocating anything; returns the chunks.
    fn plan(
        ctx: &GpuContext,
        s: ProductShape,
        dtype: DType,
        weights: Format,
    ) -> Result<Vec<Chunk>> {
        let ProductShape { batch, m, n, k } = s;
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
        match weights {
            Format::Float(d) if d != dtype => {
                return Err(Error::Invalid(format!(
                    "{} weights with {} activations: float weights take the activations' type",
                    d.name(),
                    dtype.name()
                )))
            }
            Format::Quant(q) if !k.is_multiple_of(Quant::BLOCK) || batch > 1 => {
                return Err(Error::Invalid(format!(
                    "{} weights need k to be a multiple of {} and one product, got k = {k}, batch = {batch}",
                    q.name(),
                    Quant::BLOCK
                )))
            }
            Format::Float(_) | Format::Quant(_) => {}
        }
        // Without SHADER_F16, f16 operands go to the kernels that read them
        // as packed halves, octets of k at a time.
        if !ctx.caps.supports(dtype) && !k.is_multiple_of(8) {
            return Err(Error::Invalid(format!(
                "{} products on an adapter without SHADER_F16 read packed octets of k, so k must be a multiple of 8, got k = {k}",
                dtype.name()
            )));
        }
        let l = &ctx.caps.limits;
        let size = dtype.size();
        let w_bytes = n * w_row_bytes(k, weights);
        for (label, bytes) in [("A", m * k * size), ("W", w_bytes), ("C", m * n * size)] {
            let what = format!("matrix {label} of {batch} x {m}x{n}x{k} {}", weights.name());
            ctx.check_buffer(&what, batch * bytes)?;
        }
        if let Format::Quant(q) = weights {
            // Quantized rows are not split across bindings (their byte
            // offsets would not be aligned): W must fit one.
            ctx.check_binding(&format!("{} weights of {n}x{k}", q.name()), w_bytes)?;
        }
        chunks(
            s,
            size,
            l.max_storage_buffer_binding_size,
            l.min_storage_buffer_offset_alignment as u64,
            l.max_compute_workgroups_per_dimension as u64,
        )
    }

    /// Check that a batch of products can run here, allocating nothing.
    pub fn check(ctx: &GpuContext, shape: ProductShape, dtype: DType) -> Result<()> {
        Self::check_with(ctx, shape, dtype, Format::Float(dtype))
    }

    /// As [`Self::check`], for weights in `weights`.
    pub fn check_with(
        ctx: &GpuContext,
        shape: ProductShape,
        dtype: DType,
        weights: Format,
    ) -> Result<()> {
        Self::plan(ctx, shape, dtype, weights).map(drop)
    }

    /// Bytes of one copy of the operands (A, W and C).
    pub fn copy_bytes(shape: ProductShape, dtype: DType) -> u64 {
        Self::copy_bytes_with(shape, dtype, Format::Float(dtype))
    }

    /// As [`Self::copy_bytes`], for weights in `weights`.
    pub fn copy_bytes_with(shape: ProductShape, dtype: DType, weights: Format) -> u64 {
        let ProductShape { batch, m, n, k } = shape;
        batch * (dtype.size() * (m * k + m * n) + n * w_row_bytes(k, weights))
    }

    /// Check, allocate and fill `copies` copies of the operands (every
    /// copy holds the same values).
    pub fn new(ctx: &GpuContext, shape: ProductShape, dtype: DType, copies: u32) -> Result<Self> {
        Self::with_weights(ctx, shape, dtype, Format::Float(dtype), copies)
    }

    /// As [`Self::new`], with W in `weights`: float weights are filled on
    /// the GPU, quantized ones packed on the host from the same hashed
    /// values and uploaded once.
    pub fn with_weights(
        ctx: &GpuContext,
        shape: ProductShape,
        dtype: DType,
        weights: Format,
        copies: u32,
    ) -> Result<Self> {
        let chunks = Self::plan(ctx, shape, dtype, weights)?;
        let ProductShape { batch, m, n, k } = shape;
        let s = dtype.size();
        let a = Copies::new(ctx, "matrix A", batch * m * k * s, copies)?;
        let w = Copies::new(ctx, "matrix W", batch * n * w_row_bytes(k, weights), copies)?;
        let c = Copies::new(ctx, "matrix C", batch * m * n * s, copies)?;
        a.fill(ctx, reference::A, Fill::Operand(dtype))?;
        match weights {
            Format::Float(d) => w.fill(ctx, reference::W, Fill::Operand(d))?,
            Format::Quant(q) => w.upload(ctx, &quant::pack_rows(q, 0..n, k))?,
        }
        Ok(Self {
            shape,
            dtype,
            weights,
            a,
            w,
            c,
            chunks,
        })
    }

    /// One m x n x k product with one copy of the operands.
    pub fn single(ctx: &GpuContext, m: u64, n: u64, k: u64, dtype: DType) -> Result<Self> {
        Self::new(ctx, ProductShape { batch: 1, m, n, k }, dtype, 1)
    }

    /// Dispatches per run of the op (one per chunk).
    pub fn dispatches(&self) -> usize {
        self.chunks.len()
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

    /// (products, rows) of `extent`: a probe covers the first
    /// [`PROBE_ROWS`] rows of a single product, or as many whole products
    /// of a batch as hold that many rows.
    fn covered(&self, extent: Extent) -> (u64, u64) {
        let ProductShape { batch, m, .. } = self.shape;
        match extent {
            Extent::Whole | Extent::Split(_) => (batch, m),
            Extent::Probe if batch == 1 => (1, m.min(PROBE_ROWS)),
            Extent::Probe => (PROBE_ROWS.div_ceil(m).clamp(1, batch), m),
        }
    }

    /// Compare sampled elements of C (copy `copy`) with f64 dot products on
    /// the host: the corners and `samples` random elements of the first
    /// `products` products and their first `rows` rows.
    pub fn verify_within(
        &self,
        ctx: &GpuContext,
        copy: usize,
        products: u64,
        rows: u64,
        samples: u64,
    ) -> Result<Verification> {
        let (bt, m, n, k) = (products, rows, self.shape.n, self.shape.k);
        let full_m = self.shape.m;
        let mut points = vec![
            (0, 0, 0),
            (0, m - 1, n - 1),
            (bt - 1, 0, n - 1),
            (bt - 1, m - 1, 0),
        ];
        let mut rng = XorShift::new(0x1234_5678_9ABC_DEF1 ^ (m << 40) ^ (n << 20) ^ k ^ (bt << 50));
        for _ in 0..samples {
            points.push((rng.below(bt), rng.below(m), rng.below(n)));
        }
        let (buf, at) = self.c.locate(copy);
        let base = at / self.dtype.size();
        let index = |(b, r, c): (u64, u64, u64)| base + (b * full_m + r) * n + c;
        let ranges: Vec<(u64, u64)> = points.iter().map(|&p| (index(p), 1)).collect();
        let got = ctx.read_ranges(buf, self.dtype, &ranges)?;
        let mut v = Verification::new(reference::tolerance(self.dtype));
        let mut rows = std::collections::HashMap::new();
        for (&(b, r, c), got) in points.iter().zip(&got) {
            let (want, scale) = match self.weights {
                Format::Float(_) => reference::element(b * full_m + r, b * n + c, k),
                // The same bytes the GPU read, dequantized (one row at a time).
                Format::Quant(q) => {
                    let w = rows
                        .entry(b * n + c)
                        .or_insert_with(|| quant::dequantized_row(q, b * n + c, k));
                    reference::element_with(b * full_m + r, w)
                }
            };
            v.add_scaled(got[0] as f64, want, scale);
        }
        Ok(v)
    }
}

impl Kernel for Matmul {
    type Config = MatmulConfig;

    fn candidates(&self, caps: &Capabilities) -> Vec<MatmulConfig> {
        let all = MatmulConfig::candidates(self.shape, self.dtype, caps);
        match self.weights {
            Format::Float(_) => all,
            // Quantized weights: the kernels that dequantize as they load.
            Format::Quant(_) => all
                .into_iter()
                .filter(|c| c.family().any_weights())
                .collect(),
        }
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        config: MatmulConfig,
        extent: Extent,
    ) -> Result<Prepared<MatmulConfig>> {
        let (products, rows) = self.covered(extent);
        let mut chunks = self.view(products, rows);
        if let Extent::Split(parts) = extent {
            chunks = split(&chunks, parts as u64);
        }
        let largest = chunks
            .iter()
            .fold((0, 0), |acc, c| (acc.0.max(c.mc), acc.1.max(c.nc)));
        let dims = (largest.0, largest.1, self.shape.k);
        if let Some(why) = config.unsupported(&ctx.caps, self.dtype, dims) {
            return Err(Error::Invalid(format!("{config:?}: {why}")));
        }
        if config.split() > 1 && self.shape.batch > 1 {
            return Err(Error::Invalid(format!(
                "{config}: split-k runs single products only"
            )));
        }
        let family = config.family();
        if matches!(self.weights, Format::Quant(_)) && !family.any_weights() {
            return Err(Error::Invalid(format!(
                "{config}: {} weights are dequantized by the block, gemv and rows kernels only",
                self.weights
            )));
        }
        let text = module_with(family, self.dtype, self.weights);
        let bindings = bind::bindings(family);
        let label = format!(
            "matmul {} {} {}",
            config.entry(),
            self.dtype.name(),
            self.weights
        );
        let constants = config.constants((self.shape.m, self.shape.k), self.dtype, &ctx.caps);
        let pipelines = config
            .entries()
            .into_iter()
            .map(|e| ctx.pipeline(&label, &text, e, bindings, &constants))
            .collect::<Result<Vec<_>>>()?;
        let (copies, keep) = bind::steps(self, ctx, config, &pipelines[0], &chunks)?;
        let total = (self.shape.batch * self.shape.m) as f64;
        Ok(Prepared {
            config,
            dispatches: Dispatches {
                pipelines,
                copies,
                keep,
            },
            fraction: (products * rows) as f64 / total,
            products,
            rows,
        })
    }

    fn clear_output(&self, ctx: &GpuContext) {
        self.c.clear(ctx);
    }

    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<MatmulConfig>,
        samples: u64,
    ) -> Result<Verification> {
        let copy = self.verified_copies(prepared).start;
        self.verify_within(ctx, copy, prepared.products, prepared.rows, samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(batch: u64, m: u64, n: u64, k: u64) -> ProductShape {
        ProductShape { batch, m, n, k }
    }

    #[test]
    fn chunks_cover_everything_within_the_binding() {
        // Llama-7B up projection at S = 4096 in f32 against lavapipe's 128 MiB.
        let (m, n, k, s, b) = (4096, 11008, 4096, 4, 128 << 20);
        let cs = chunks(shape(1, m, n, k), s, b, 256, 65535).unwrap();
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
            chunks(shape(1, 128, 4096, 4096), 2, b, 256, 65535)
                .unwrap()
                .len(),
            1
        );
        // A row that cannot fit 64 times is an error, not a panic.
        assert!(chunks(shape(1, 64, 64, 1 << 22), 4, b, 256, 65535).is_err());
    }

    #[test]
    fn batches_split_by_whole_aligned_products() {
        // Prefill qk of Llama-7B at S = 2048 in f32: 32 heads of 2048 x 2048
        // scores (16 MiB each) against a 128 MiB binding: 8 heads a dispatch.
        let cs = chunks(shape(32, 2048, 2048, 128), 4, 128 << 20, 256, 65535).unwrap();
        assert_eq!(cs.len(), 4);
        assert!(cs.iter().all(|c| c.bc == 8 && c.mc == 2048 && c.nc == 2048));
        // Tiny products whose A rows are 8 bytes: chunks must start at
        // multiples of 32 products to keep A's offsets 256-aligned.
        let cs = chunks(shape(4096, 1, 64, 4), 2, 64 << 10, 256, 65535).unwrap();
        assert!(cs.iter().all(|c| c.b0 % 32 == 0 && c.bc == 128), "{cs:?}");
        assert_eq!(cs.iter().map(|c| c.bc).sum::<u64>(), 4096);
        let cs = chunks(shape(70_000, 1, 4, 4), 4, 128 << 20, 256, 65535).unwrap();
        assert!(cs.iter().all(|c| c.bc <= 65535));
    }

    #[test]
    fn splits_cover_the_same_work_in_more_dispatches() {
        let one = chunks(shape(1, 4096, 4096, 4096), 2, 2 << 30, 256, 65535).unwrap();
        assert_eq!(one.len(), 1);
        let four = split(&one, 4);
        assert_eq!(four.len(), 4);
        assert!(four.iter().all(|c| c.mc == 1024 && c.m0 % 64 == 0));
        assert_eq!(four.iter().map(|c| c.mc).sum::<u64>(), 4096);
        // Batches split by whole products.
        let b = chunks(shape(32, 128, 128, 128), 2, 2 << 30, 256, 65535).unwrap();
        let s = split(&b, 3);
        assert_eq!(s.iter().map(|c| c.bc).sum::<u64>(), 32);
        assert!(s.len() >= 3);
    }
}
