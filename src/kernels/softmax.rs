//! The unfused attention's softmax, timed as its own step between the score
//! product (qk) and the value product (pv). WGSL: `shaders/softmax.wgsl`.
//!
//! Layout: `batch` products (one per sequence and KV head), each `rows`
//! query rows (query heads stacked over `q_len` positions) of `n` scores.
//! Row r sits at position `r % q_len + n - q_len` and sees the keys up to
//! it (the causal mask; in decode `q_len = 1` and every key is visible).
//!
//! Accounting: FLOPs = 5 per visible score (scale, running max, subtract,
//! exponential, sum; the normalising multiply is counted with the sum), and
//! bytes = the visible scores read once plus every probability written
//! (masked ones as zeros, since the unfused P.V reads the whole square).
//!
//! Verification: the scores are [`super::initial`] values, so the host
//! recomputes any row in f64; every element of each sampled row is compared,
//! its error judged against its own size (floored at 1% of the row's
//! largest probability).

use serde::{Deserialize, Serialize};

use super::{
    batch_chunks, bind_group, check_workgroup_size, check_workgroups, clear, fill, initial,
    operand_buffer, pipeline, read_ranges, record_groups, sampled_rows, source, uniform_buffer,
    Binding, DType, KernelConfig, Tunable, Verification,
};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// The WGSL.
pub const SHADER: &str = include_str!("../../shaders/softmax.wgsl");

/// The input operand's index for [`super::initial`].
const SCORES: u32 = 3;

/// Scores visible to `rows` query rows of `q_len` positions over `n` keys:
/// `rows / q_len` query heads, each seeing `n - q_len + i + 1` keys at its
/// i-th position. `n * rows` in decode, about half of it in prefill.
pub fn visible(rows: u64, n: u64, q_len: u64) -> u64 {
    let heads = rows / q_len.max(1);
    heads * (q_len * (n - q_len) + q_len * (q_len + 1) / 2)
}

/// `5 * batch * visible(rows, n, q_len)`.
pub fn flops(batch: u64, rows: u64, n: u64, q_len: u64) -> u64 {
    5 * batch * visible(rows, n, q_len)
}

/// `size * batch * (visible(rows, n, q_len) + rows * n)`.
pub fn bytes(batch: u64, rows: u64, n: u64, q_len: u64, dtype: DType) -> u64 {
    dtype.size() * batch * (visible(rows, n, q_len) + rows * n)
}

/// Tolerance of an output relative to `|want| + 0.01 * max(row)` (its own
/// size, with a floor for the tiny probabilities).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // GPU exponentials are not correctly rounded (Vulkan allows a few ulp).
        DType::F32 => 1e-4,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 1e-3,
    }
}

/// A configuration of the softmax kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum SoftmaxConfig {
    /// One workgroup of `wg` invocations (a power of two) per row.
    SoftmaxRows {
        /// Invocations per row.
        wg: u32,
    },
    /// One invocation per row (no barriers), `wg` rows per workgroup.
    SoftmaxLanes {
        /// Rows (invocations) per workgroup.
        wg: u32,
    },
}

impl std::fmt::Display for SoftmaxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SoftmaxRows { wg } => write!(f, "softmax wg {wg}"),
            Self::SoftmaxLanes { wg } => write!(f, "softmax row/lane wg {wg}"),
        }
    }
}

impl SoftmaxConfig {
    /// The configurations the autotuner tries.
    pub fn candidates() -> Vec<Self> {
        let rows = [32, 64, 128, 256].map(|wg| Self::SoftmaxRows { wg });
        let lanes = [8, 32, 64].map(|wg| Self::SoftmaxLanes { wg });
        rows.into_iter().chain(lanes).collect()
    }

    fn entry(&self) -> &'static str {
        match self {
            Self::SoftmaxRows { .. } => "softmax_rows",
            Self::SoftmaxLanes { .. } => "softmax_lanes",
        }
    }

    fn workgroup_size(&self) -> u32 {
        match *self {
            Self::SoftmaxRows { wg } | Self::SoftmaxLanes { wg } => wg,
        }
    }

    /// Rows one workgroup covers.
    fn rows_per_workgroup(&self) -> u64 {
        match *self {
            Self::SoftmaxRows { .. } => 1,
            Self::SoftmaxLanes { wg } => wg as u64,
        }
    }
}

impl From<SoftmaxConfig> for KernelConfig {
    fn from(c: SoftmaxConfig) -> Self {
        Self::Softmax(c)
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    n: u32,
    q_len: u32,
    scale: f32,
    nx: u32,
    _pad: [u32; 3],
}

/// Scores and probabilities of a batch of softmaxes on the GPU.
pub struct Softmax {
    /// Independent products (sequences x KV heads).
    pub batch: u64,
    /// Query rows per product.
    pub rows: u64,
    /// Keys (row length).
    pub n: u64,
    /// Query positions per query head.
    pub q_len: u64,
    /// Head dimension (the scale is `1 / sqrt(head_dim)`).
    pub head_dim: u64,
    /// Element type.
    pub dtype: DType,
    x: wgpu::Buffer,
    y: wgpu::Buffer,
    chunks: Vec<(u64, u64)>,
}

/// A compiled configuration bound to the first `products` products.
pub struct Prepared {
    config: SoftmaxConfig,
    pipeline: wgpu::ComputePipeline,
    groups: Vec<(wgpu::BindGroup, [u32; 3])>,
    _params: wgpu::Buffer,
    products: u64,
}

/// Bytes of work a probe covers at least (whole products).
const PROBE_BYTES: u64 = 32 << 20;

impl Softmax {
    /// Check the sizes against the kernel and `ctx`'s limits, allocating
    /// nothing; returns the products of each dispatch.
    pub fn check(
        ctx: &GpuContext,
        (batch, rows, n, q_len): (u64, u64, u64, u64),
        dtype: DType,
    ) -> Result<Vec<(u64, u64)>> {
        if batch == 0 || rows == 0 || n == 0 || q_len == 0 {
            return Err(Error::ZeroSize {
                what: "softmax dimensions",
            });
        }
        if q_len > n || !rows.is_multiple_of(q_len) {
            return Err(Error::Invalid(format!(
                "softmax: {rows} rows are not whole query heads of {q_len} positions over {n} keys"
            )));
        }
        if !dtype.supported(ctx) {
            return Err(Error::Unsupported {
                dtype: dtype.name().into(),
                adapter: ctx.adapter.name.clone(),
                feature: "SHADER_F16",
            });
        }
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension as u64;
        if rows > max_dim * max_dim {
            return Err(Error::ExceedsLimit {
                what: "softmax rows per product".into(),
                requested: rows,
                limit_name: "max_compute_workgroups_per_dimension squared",
                limit: max_dim * max_dim,
            });
        }
        let total = batch * rows * n * dtype.size();
        if total > ctx.limits.max_buffer_size {
            return Err(Error::ExceedsLimit {
                what: format!("softmax scores of {batch} x {rows}x{n} {}", dtype.name()),
                requested: total,
                limit_name: "max_buffer_size",
                limit: ctx.limits.max_buffer_size,
            });
        }
        let per = rows * n * dtype.size();
        batch_chunks(
            batch,
            &[per],
            &format!("softmax product(s) of {rows}x{n}"),
            ctx.limits.max_storage_buffer_binding_size,
            ctx.limits.min_storage_buffer_offset_alignment as u64,
            max_dim,
        )
    }

    /// Check, allocate and fill the scores.
    pub fn new(
        ctx: &GpuContext,
        (batch, rows, n, q_len): (u64, u64, u64, u64),
        head_dim: u64,
        dtype: DType,
    ) -> Result<Self> {
        let chunks = Self::check(ctx, (batch, rows, n, q_len), dtype)?;
        let bytes = batch * rows * n * dtype.size();
        let x = operand_buffer(ctx, "softmax scores", bytes)?;
        let y = operand_buffer(ctx, "softmax probabilities", bytes)?;
        fill(ctx, &x, SCORES, batch * rows * n, dtype)?;
        Ok(Self {
            batch,
            rows,
            n,
            q_len,
            head_dim,
            dtype,
            x,
            y,
            chunks,
        })
    }

    fn scale(&self) -> f64 {
        1.0 / (self.head_dim.max(1) as f64).sqrt()
    }

    /// Keys row `row` sees.
    fn visible_keys(&self, row: u64) -> u64 {
        (row % self.q_len + self.n - self.q_len + 1).min(self.n)
    }

    /// The host's softmax of one row (f64; zeros past the causal mask).
    pub fn reference_row(&self, product: u64, row: u64) -> Vec<f64> {
        let base = (product * self.rows + row) * self.n;
        let vis = self.visible_keys(row) as usize;
        let s: Vec<f64> = (0..vis as u64)
            .map(|t| self.scale() * initial(SCORES, base + t) as f64)
            .collect();
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        let mut out = vec![0.0; self.n as usize];
        for (o, x) in out.iter_mut().zip(&e) {
            *o = x / sum;
        }
        out
    }

    /// Compile `config` bound to the first `products` products.
    fn prepare_products(
        &self,
        ctx: &GpuContext,
        config: SoftmaxConfig,
        checked: bool,
        products: u64,
    ) -> Result<Prepared> {
        let wg = config.workgroup_size();
        if !wg.is_power_of_two() {
            return Err(Error::Invalid(format!(
                "softmax workgroup size {wg} is not a power of two"
            )));
        }
        check_workgroup_size(ctx, "softmax workgroup", wg)?;
        let module = ctx.shader(
            &format!("softmax {}", self.dtype.name()),
            &source(SHADER, self.dtype),
            checked,
        )?;
        let pipe = pipeline(
            ctx,
            &module,
            config.entry(),
            &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
            &[("WG", wg as f64)],
        )?;
        self.bind(ctx, config, pipe, products)
    }

    fn bind(
        &self,
        ctx: &GpuContext,
        config: SoftmaxConfig,
        pipe: wgpu::ComputePipeline,
        products: u64,
    ) -> Result<Prepared> {
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension as u64;
        let groups = self.rows.div_ceil(config.rows_per_workgroup());
        let nx = groups.min(max_dim);
        let ny = groups.div_ceil(nx);
        let params = Params {
            rows: self.rows as u32,
            n: self.n as u32,
            q_len: self.q_len as u32,
            scale: self.scale() as f32,
            nx: nx as u32,
            _pad: [0; 3],
        };
        let ubuf = uniform_buffer(ctx, "softmax params", bytemuck::bytes_of(&params));
        let per = self.rows * self.n * self.dtype.size();
        let groups = self
            .chunks
            .iter()
            .filter(|&&(b0, _)| b0 < products)
            .map(|&(b0, bc)| {
                let bc = bc.min(products - b0);
                let range = |buf| {
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: buf,
                        offset: b0 * per,
                        size: std::num::NonZeroU64::new(bc * per),
                    })
                };
                let bg = bind_group(
                    ctx,
                    &pipe,
                    &[ubuf.as_entire_binding(), range(&self.x), range(&self.y)],
                )?;
                let size = check_workgroups(ctx, &format!("{config}"), [nx, ny, bc])?;
                Ok((bg, size))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            config,
            pipeline: pipe,
            groups,
            _params: ubuf,
            products,
        })
    }
}

fn softmax_config(config: KernelConfig) -> Result<SoftmaxConfig> {
    match config {
        KernelConfig::Softmax(c) => Ok(c),
        other => Err(Error::Invalid(format!(
            "{other} is not a softmax configuration"
        ))),
    }
}

impl Tunable for Softmax {
    type Prepared = Prepared;

    fn candidates(&self, _ctx: &GpuContext) -> Vec<KernelConfig> {
        SoftmaxConfig::candidates()
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
        let per = self.rows * self.n * self.dtype.size();
        let products = PROBE_BYTES.div_ceil(per).clamp(1, self.batch);
        self.prepare_products(ctx, softmax_config(config)?, checked, products)
    }

    fn fraction(&self, prepared: &Prepared) -> f64 {
        prepared.products as f64 / self.batch as f64
    }

    fn widen(&self, ctx: &GpuContext, probe: Prepared) -> Result<Prepared> {
        self.bind(ctx, probe.config, probe.pipeline, self.batch)
    }

    fn config(&self, prepared: &Prepared) -> KernelConfig {
        prepared.config.into()
    }

    fn dispatches(&self, prepared: &Prepared) -> usize {
        prepared.groups.len()
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, prepared: &Prepared) {
        record_groups(pass, &prepared.pipeline, &prepared.groups);
    }

    fn clear_output(&self, ctx: &GpuContext) {
        clear(ctx, &self.y);
    }

    fn verify_prepared(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared,
        samples: u64,
    ) -> Result<Verification> {
        let rows = self.rows;
        let picks = sampled_rows(prepared.products, rows, 0x5EED ^ self.n, samples);
        let ranges: Vec<(u64, u64)> = picks
            .iter()
            .map(|&(b, r)| ((b * rows + r) * self.n, self.n))
            .collect();
        let got = read_ranges(ctx, &self.y, self.dtype, &ranges)?;
        let mut v = Verification::new(tolerance(self.dtype));
        for (&(b, r), got) in picks.iter().zip(&got) {
            let want = self.reference_row(b, r);
            let top = want.iter().copied().fold(0.0, f64::max);
            for (&g, &w) in got.iter().zip(&want) {
                v.add_scaled(g as f64, w, w.abs() + 0.01 * top);
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_scores_by_hand() {
        // Prefill, one head of 4 positions over 4 keys: 1 + 2 + 3 + 4.
        assert_eq!(visible(4, 4, 4), 10);
        // Two query heads stacked (GQA): twice that.
        assert_eq!(visible(8, 4, 4), 20);
        // Decode: every key of every row.
        assert_eq!(visible(4, 2048, 1), 4 * 2048);
        // Llama-7B prefill S = 1024: 1024 * 1025 / 2 = 524_800 per head.
        assert_eq!(visible(1024, 1024, 1024), 524_800);
        assert_eq!(flops(32, 1024, 1024, 1024), 5 * 32 * 524_800);
        // f16: 2 * 32 * (524_800 + 1_048_576) = 100_696_064
        assert_eq!(bytes(32, 1024, 1024, 1024, DType::F16), 100_696_064);
    }

    #[test]
    fn config_names_and_json() {
        let c = SoftmaxConfig::SoftmaxRows { wg: 128 };
        assert_eq!(c.to_string(), "softmax wg 128");
        let json = serde_json::to_string(&KernelConfig::from(c)).unwrap();
        assert_eq!(json, r#"{"kernel":"softmax_rows","wg":128}"#);
        let back: KernelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KernelConfig::Softmax(c));
    }
}
