//! Fused attention: `O = softmax(Q.K^T / sqrt(d), causal mask) . V` in one
//! pass over K and V, the scores never written. WGSL:
//! `shaders/attention.wgsl` (`flash_prefill`, and for decode the split-KV
//! pair `flash_decode_partial` + `flash_decode_reduce`).
//!
//! Layout: `batch` products, one per sequence and KV head. Each has `rows`
//! query rows (the `rows / q_len` query heads sharing the KV head, stacked
//! over `q_len` positions), Q and O of `rows x d`, K and V of `n x d`, all
//! row-major. Row r sits at position `r % q_len + n - q_len` and sees keys up
//! to it (in decode `q_len = 1`: every key).
//!
//! Accounting, honest to what fused attention must do:
//! - FLOPs: `4 * batch * d * pairs`, with `pairs` the (query, key) pairs the
//!   causal mask lets through ([`super::softmax::visible`]): each pair costs
//!   one multiply-add in Q.K^T and one in P.V. Causal prefill is about half
//!   of the full square; the softmax's own arithmetic is not counted.
//! - Bytes: `size * batch * (2 * rows * d + 2 * n * d)`: Q and K and V read
//!   once, O written once.
//!
//! Verification: Q, K and V are [`super::initial`] values (operands 0, 1
//! and 2), so the host recomputes any output row in f64, mask included, and
//! compares every element of sampled rows.

use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use super::softmax::visible;
use super::{
    batch_chunks, bind_group, check_workgroup_size, check_workgroups, clear, fill, initial,
    operand_buffer, pipeline, read_ranges, sampled_rows, source, uniform_buffer, Binding, DType,
    KernelConfig, Tunable, Verification,
};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// The WGSL.
pub const SHADER: &str = include_str!("../../shaders/attention.wgsl");
/// The WGSL of the subgroup kernel: appended to [`SHADER`], whose
/// declarations it uses (see [`module_source`]).
pub const SHADER_SUBGROUP: &str = include_str!("../../shaders/attention_subgroup.wgsl");
/// Most query rows per subgroup pass of `flash_prefill_sg`.
pub const MAX_SUBGROUP_ROWS: u32 = 8;
/// Most vec4 columns per lane of `flash_prefill_sg`.
const MAX_LANE_COLUMNS: u64 = 8;

/// Largest head dimension the kernels hold (per-invocation arrays).
pub const MAX_HEAD_DIM: u64 = 256;
/// Most query heads per KV head the split-KV decode kernel holds.
pub const MAX_GROUP: u64 = 8;
/// Most keys per staged tile of the prefill kernel.
pub const MAX_TILE_KEYS: u32 = 32;
/// Smallest key chunk of the decode kernel (sizes its partials).
const MIN_CHUNK: u32 = 64;
/// Largest key chunk of the decode kernel.
const MAX_CHUNK: u32 = 512;
/// Most query rows a prefill workgroup takes.
const MAX_BLOCK_ROWS: u64 = 64;

/// `4 * batch * d * pairs`: one multiply-add per visible (query, key) pair
/// in each of the two products.
pub fn flops(batch: u64, rows: u64, n: u64, q_len: u64, d: u64) -> u64 {
    4 * batch * d * visible(rows, n, q_len)
}

/// `size * batch * (2 * rows * d + 2 * n * d)`: Q, K, V read, O written.
pub fn bytes(batch: u64, rows: u64, n: u64, d: u64, dtype: DType) -> u64 {
    dtype.size() * batch * 2 * (rows + n) * d
}

/// Tolerance of an output element relative to `|want| + 0.01 * sum_t p_t |v_t|`
/// (its own size, with a floor at the scale of its terms).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // exponentials within a few ulp, f32 sums over thousands of keys
        DType::F32 => 1e-4,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 1e-3,
    }
}

/// A configuration of the fused attention kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum AttentionConfig {
    /// One query row per invocation, `rows` per workgroup, K/V tiles of
    /// `keys` keys in workgroup memory.
    FlashPrefill {
        /// Query rows (invocations) per workgroup.
        rows: u32,
        /// Keys per staged tile.
        keys: u32,
    },
    /// A subgroup shares `rows` query rows: K rows read per lane, q and
    /// probabilities exchanged by subgroup shuffles (needs SUBGROUP);
    /// workgroups of `wg` invocations.
    FlashPrefillSubgroup {
        /// Query rows per subgroup pass.
        rows: u32,
        /// Invocations per workgroup.
        wg: u32,
    },
    /// Split-KV decode: `chunk` keys per workgroup of `wg` invocations, then
    /// a reduce pass over the chunks.
    FlashDecode {
        /// Keys per workgroup.
        chunk: u32,
        /// Invocations per workgroup (a power of two).
        wg: u32,
    },
}

impl std::fmt::Display for AttentionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::FlashPrefill { rows, keys } => write!(f, "flash {rows} rows x {keys} keys"),
            Self::FlashPrefillSubgroup { rows, wg } => {
                write!(f, "flash shuffle {rows} rows wg {wg}")
            }
            Self::FlashDecode { chunk, wg } => write!(f, "split-kv {chunk} keys wg {wg}"),
        }
    }
}

impl From<AttentionConfig> for KernelConfig {
    fn from(c: AttentionConfig) -> Self {
        Self::Attention(c)
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    n: u32,
    q_len: u32,
    scale: f32,
    chunks: u32,
    part_stride: u32,
    _pad: [u32; 2],
}

/// Q, K, V and O of a batch of attention products on the GPU.
pub struct Attention {
    /// Independent products (sequences x KV heads).
    pub batch: u64,
    /// Query rows per product (query heads per KV head x `q_len`).
    pub rows: u64,
    /// Keys per product.
    pub n: u64,
    /// Query positions per query head (S in prefill, 1 in decode).
    pub q_len: u64,
    /// Head dimension.
    pub d: u64,
    /// Element type.
    pub dtype: DType,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    o: wgpu::Buffer,
    chunks: Vec<(u64, u64)>,
}

/// A compiled configuration bound to the first `products` products.
pub struct Prepared {
    config: AttentionConfig,
    pipelines: Vec<wgpu::ComputePipeline>,
    /// (pipeline index, bind group, workgroups)
    groups: Vec<(usize, wgpu::BindGroup, [u32; 3])>,
    _buffers: Vec<wgpu::Buffer>,
    products: u64,
}

/// FLOP-equivalents of work a probe covers at least (whole products).
const PROBE_WORK: u64 = 1 << 30;

impl Attention {
    /// Query heads per KV head.
    pub fn group(&self) -> u64 {
        self.rows / self.q_len
    }

    /// Whether the split-KV decode kernels apply: one position per head and
    /// at most [`MAX_GROUP`] query heads per KV head.
    pub fn split_kv(&self) -> bool {
        split_kv(self.rows, self.q_len)
    }

    fn part_bytes(&self, chunk: u32, align: u64) -> u64 {
        part_bytes(self.n, self.group(), self.d, chunk, align)
    }

    /// Check the sizes against the kernels and `ctx`'s limits, allocating
    /// nothing; returns the products of each dispatch.
    pub fn check(
        ctx: &GpuContext,
        (batch, rows, n, q_len): (u64, u64, u64, u64),
        d: u64,
        dtype: DType,
    ) -> Result<Vec<(u64, u64)>> {
        if batch == 0 || rows == 0 || n == 0 || q_len == 0 || d == 0 {
            return Err(Error::ZeroSize {
                what: "attention dimensions",
            });
        }
        if !d.is_multiple_of(4) || d > MAX_HEAD_DIM {
            return Err(Error::Invalid(format!(
                "fused attention supports head dimensions that are multiples of 4 up to {MAX_HEAD_DIM}, got {d}"
            )));
        }
        if q_len > n || !rows.is_multiple_of(q_len) {
            return Err(Error::Invalid(format!(
                "attention: {rows} rows are not whole query heads of {q_len} positions over {n} keys"
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
        for (what, bytes) in [("Q", batch * rows * d * s), ("K", batch * n * d * s)] {
            if bytes > ctx.limits.max_buffer_size {
                return Err(Error::ExceedsLimit {
                    what: format!(
                        "attention {what} of {batch} x {rows}x{n}x{d} {}",
                        dtype.name()
                    ),
                    requested: bytes,
                    limit_name: "max_buffer_size",
                    limit: ctx.limits.max_buffer_size,
                });
            }
        }
        // The configuration with the fewest workgroups must fit (the largest
        // key chunk in decode, 64-row blocks in prefill); each configuration
        // is checked again when it is bound.
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension as u64;
        let groups_x = if split_kv(rows, q_len) {
            n.div_ceil(MAX_CHUNK as u64)
        } else {
            rows.div_ceil(MAX_BLOCK_ROWS)
        };
        if groups_x > max_dim {
            return Err(Error::ExceedsLimit {
                what: format!("attention workgroups along x for {rows} rows over {n} keys"),
                requested: groups_x,
                limit_name: "max_compute_workgroups_per_dimension",
                limit: max_dim,
            });
        }
        let align = ctx.limits.min_storage_buffer_offset_alignment as u64;
        let part = if split_kv(rows, q_len) {
            part_bytes(n, rows, d, MIN_CHUNK, align)
        } else {
            0
        };
        let per = [rows * d * s, n * d * s, part];
        batch_chunks(
            batch,
            &per,
            &format!("attention product(s) of {rows}x{n}x{d}"),
            ctx.limits.max_storage_buffer_binding_size,
            align,
            max_dim,
        )
    }

    /// Check, allocate and fill Q, K and V.
    pub fn new(
        ctx: &GpuContext,
        (batch, rows, n, q_len): (u64, u64, u64, u64),
        d: u64,
        dtype: DType,
    ) -> Result<Self> {
        let chunks = Self::check(ctx, (batch, rows, n, q_len), d, dtype)?;
        let s = dtype.size();
        let q = operand_buffer(ctx, "attention Q", batch * rows * d * s)?;
        let k = operand_buffer(ctx, "attention K", batch * n * d * s)?;
        let v = operand_buffer(ctx, "attention V", batch * n * d * s)?;
        let o = operand_buffer(ctx, "attention O", batch * rows * d * s)?;
        fill(ctx, &q, 0, batch * rows * d, dtype)?;
        fill(ctx, &k, 1, batch * n * d, dtype)?;
        fill(ctx, &v, 2, batch * n * d, dtype)?;
        Ok(Self {
            batch,
            rows,
            n,
            q_len,
            d,
            dtype,
            q,
            k,
            v,
            o,
            chunks,
        })
    }

    /// The configurations worth trying on `ctx`, those exceeding its
    /// workgroup limits included (the tuner records why they cannot run).
    pub fn configs(&self, ctx: &GpuContext) -> Vec<AttentionConfig> {
        if self.split_kv() {
            let mut v = Vec::new();
            for chunk in [MIN_CHUNK, 128, 256, MAX_CHUNK] {
                // A chunk much longer than the context only wastes invocations.
                if chunk > MIN_CHUNK && (chunk as u64) >= 2 * self.n {
                    continue;
                }
                for wg in [32, 64, 128] {
                    v.push(AttentionConfig::FlashDecode { chunk, wg });
                }
            }
            v
        } else {
            // The subgroup kernel where there are subgroups (workgroups of
            // at least 32 invocations, and at least one subgroup), the
            // per-row kernel everywhere (the only one without subgroups).
            let mut v = Vec::new();
            if ctx.has(wgpu::Features::SUBGROUP) {
                let wg = ctx.adapter.subgroup_max_size.max(32);
                for rows in [2, 4, 8] {
                    v.push(AttentionConfig::FlashPrefillSubgroup { rows, wg });
                }
            }
            for keys in [16, 32] {
                v.push(AttentionConfig::FlashPrefill {
                    rows: MAX_BLOCK_ROWS as u32,
                    keys,
                });
            }
            v
        }
    }

    /// The host's output row `row` of product `product`, f64, mask included,
    /// with `sum_t p_t |v_t|` per element (the scale of its terms).
    pub fn reference_row(&self, product: u64, row: u64) -> Vec<(f64, f64)> {
        let d = self.d;
        let pos = row % self.q_len + self.n - self.q_len;
        let scale = 1.0 / (d as f64).sqrt();
        let qrow: Vec<f64> = (0..d)
            .map(|i| initial(0, (product * self.rows + row) * d + i) as f64)
            .collect();
        let scores: Vec<f64> = (0..=pos)
            .map(|t| {
                let kb = (product * self.n + t) * d;
                scale
                    * qrow
                        .iter()
                        .enumerate()
                        .map(|(i, q)| q * initial(1, kb + i as u64) as f64)
                        .sum::<f64>()
            })
            .collect();
        let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        (0..d)
            .map(|i| {
                let (mut want, mut mag) = (0.0, 0.0);
                for (t, w) in e.iter().enumerate() {
                    let x = initial(2, (product * self.n + t as u64) * d + i) as f64;
                    want += w / sum * x;
                    mag += w / sum * x.abs();
                }
                (want, mag)
            })
            .collect()
    }

    /// Compile `config` bound to the first `products` products.
    fn prepare_products(
        &self,
        ctx: &GpuContext,
        config: AttentionConfig,
        checked: bool,
        products: u64,
    ) -> Result<Prepared> {
        let s = self.dtype.size();
        let (entries, constants, wg_bytes, invocations): (Vec<&str>, Vec<(&str, f64)>, u64, u32) =
            match config {
                AttentionConfig::FlashPrefill { rows, keys } => {
                    if keys == 0 || keys > MAX_TILE_KEYS || self.split_kv() {
                        return Err(Error::Invalid(format!(
                            "{config} does not apply to this problem (tiles of 1..={MAX_TILE_KEYS} keys, prefill shapes)"
                        )));
                    }
                    (
                        vec!["flash_prefill"],
                        vec![("BR", rows as f64), ("BC", keys as f64)],
                        2 * keys as u64 * self.d * s,
                        rows,
                    )
                }
                AttentionConfig::FlashPrefillSubgroup { rows, wg } => {
                    let (lo, hi) = (ctx.adapter.subgroup_min_size, ctx.adapter.subgroup_max_size);
                    if !ctx.has(wgpu::Features::SUBGROUP) || lo == 0 {
                        return Err(Error::Invalid(format!(
                            "{config} needs SUBGROUP, which {} lacks",
                            ctx.adapter.name
                        )));
                    }
                    let columns = (self.d / 4).div_ceil(lo as u64);
                    if rows == 0
                        || rows > MAX_SUBGROUP_ROWS
                        || columns > MAX_LANE_COLUMNS
                        || wg < hi
                        || self.split_kv()
                    {
                        return Err(Error::Invalid(format!(
                            "{config} does not apply here (1..={MAX_SUBGROUP_ROWS} rows, at most {MAX_LANE_COLUMNS} vec4 columns per lane for subgroups of {lo}, workgroups of at least {hi})"
                        )));
                    }
                    (
                        vec!["flash_prefill_sg"],
                        vec![
                            ("TR", rows as f64),
                            ("CH", columns as f64),
                            ("RGW", (wg / lo) as f64),
                            ("SGW", wg as f64),
                        ],
                        0,
                        wg,
                    )
                }
                AttentionConfig::FlashDecode { chunk, wg } => {
                    if !self.split_kv() || !wg.is_power_of_two() || chunk == 0 {
                        return Err(Error::Invalid(format!(
                            "{config} does not apply to this problem (decode with at most {MAX_GROUP} query heads per KV head, power-of-two workgroups)"
                        )));
                    }
                    let g = self.group();
                    (
                        vec!["flash_decode_partial", "flash_decode_reduce"],
                        vec![
                            ("WG", wg as f64),
                            ("CHUNK", chunk as f64),
                            ("GROUP", g as f64),
                        ],
                        g * self.d * 4 + g * chunk as u64 * 4 + wg as u64 * 64,
                        wg,
                    )
                }
            };
        check_workgroup_size(ctx, &format!("{config}"), invocations)?;
        let limit = ctx.limits.max_compute_workgroup_storage_size as u64;
        if wg_bytes > limit {
            return Err(Error::ExceedsLimit {
                what: format!("workgroup memory of {config}"),
                requested: wg_bytes,
                limit_name: "max_compute_workgroup_storage_size",
                limit,
            });
        }
        let subgroup = matches!(config, AttentionConfig::FlashPrefillSubgroup { .. });
        let text = module_source(self.dtype, self.d, subgroup);
        let module = ctx.shader(
            &format!("attention d={} {}", self.d, self.dtype.name()),
            &text,
            checked,
        )?;
        let bindings = [
            Binding::Uniform,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadOnly,
            Binding::ReadWrite,
            Binding::ReadWrite,
        ];
        let pipelines = entries
            .iter()
            .map(|e| pipeline(ctx, &module, e, &bindings, &constants))
            .collect::<Result<Vec<_>>>()?;
        self.bind(ctx, config, pipelines, products)
    }

    fn bind(
        &self,
        ctx: &GpuContext,
        config: AttentionConfig,
        pipelines: Vec<wgpu::ComputePipeline>,
        products: u64,
    ) -> Result<Prepared> {
        let s = self.dtype.size();
        let align = ctx.limits.min_storage_buffer_offset_alignment as u64;
        let (chunks, part_bytes) = match config {
            AttentionConfig::FlashDecode { chunk, .. } => {
                (self.n.div_ceil(chunk as u64), self.part_bytes(chunk, align))
            }
            _ => (1, align.max(16)),
        };
        let part = operand_buffer(ctx, "attention partials", products * part_bytes)?;
        let params = Params {
            rows: self.rows as u32,
            n: self.n as u32,
            q_len: self.q_len as u32,
            scale: (1.0 / (self.d as f64).sqrt()) as f32,
            chunks: chunks as u32,
            part_stride: (part_bytes / 16) as u32,
            _pad: [0; 2],
        };
        let ubuf = uniform_buffer(ctx, "attention params", bytemuck::bytes_of(&params));
        let (qo, kv) = (self.rows * self.d * s, self.n * self.d * s);
        let mut groups = Vec::new();
        for &(b0, bc) in self.chunks.iter().filter(|c| c.0 < products) {
            let bc = bc.min(products - b0);
            let range = |buf, per: u64| {
                wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: buf,
                    offset: b0 * per,
                    size: NonZeroU64::new(bc * per),
                })
            };
            let part_range = match config {
                AttentionConfig::FlashDecode { .. } => range(&part, part_bytes),
                _ => part.as_entire_binding(),
            };
            let bg = bind_group(
                ctx,
                &pipelines[0],
                &[
                    ubuf.as_entire_binding(),
                    range(&self.q, qo),
                    range(&self.k, kv),
                    range(&self.v, kv),
                    range(&self.o, qo),
                    part_range,
                ],
            )?;
            // Workgroups along x of each dispatch: row blocks in prefill;
            // key chunks, then output lanes of the reduce pass, in decode.
            let xs = match config {
                AttentionConfig::FlashPrefill { rows, .. } => vec![self.rows.div_ceil(rows as u64)],
                AttentionConfig::FlashPrefillSubgroup { rows, wg } => {
                    let per_wg = (wg / ctx.adapter.subgroup_min_size) as u64 * rows as u64;
                    vec![self.rows.div_ceil(per_wg)]
                }
                AttentionConfig::FlashDecode { wg, .. } => {
                    vec![chunks, (self.group() * self.d / 4).div_ceil(wg as u64)]
                }
            };
            for (pipe, x) in xs.into_iter().enumerate() {
                let size = check_workgroups(ctx, &format!("{config}"), [x, 1, bc])?;
                groups.push((pipe, bg.clone(), size));
            }
        }
        Ok(Prepared {
            config,
            pipelines,
            groups,
            _buffers: vec![ubuf, part],
            products,
        })
    }
}

/// The WGSL for `dtype` and head dimension `d`, with the subgroup kernel
/// appended when `subgroup`: generated from the files by replacing the
/// element alias (f16) and the `HEAD_DIM` constant, which sizes
/// per-invocation arrays and so cannot be an override.
pub fn module_source(dtype: DType, d: u64, subgroup: bool) -> String {
    let base = if subgroup {
        format!("{SHADER}\n{SHADER_SUBGROUP}")
    } else {
        SHADER.to_string()
    };
    source(&base, dtype).replacen(
        "const HEAD_DIM: u32 = 128u;",
        &format!("const HEAD_DIM: u32 = {d}u;"),
        1,
    )
}

/// Whether `rows` query rows of `q_len` positions suit the split-KV decode
/// kernels: one position per head, at most [`MAX_GROUP`] heads.
fn split_kv(rows: u64, q_len: u64) -> bool {
    q_len == 1 && rows <= MAX_GROUP
}

/// Bytes of one product's decode partials (per chunk of `chunk` keys and
/// query row: `d / 4` vec4s of output and one of statistics), padded to the
/// storage offset alignment so every product's range is bindable.
fn part_bytes(n: u64, group: u64, d: u64, chunk: u32, align: u64) -> u64 {
    let raw = n.div_ceil(chunk as u64) * group * (d / 4 + 1) * 16;
    raw.div_ceil(align) * align
}

fn attention_config(config: KernelConfig) -> Result<AttentionConfig> {
    match config {
        KernelConfig::Attention(c) => Ok(c),
        other => Err(Error::Invalid(format!(
            "{other} is not an attention configuration"
        ))),
    }
}

impl Tunable for Attention {
    type Prepared = Prepared;

    fn candidates(&self, ctx: &GpuContext) -> Vec<KernelConfig> {
        self.configs(ctx).into_iter().map(Into::into).collect()
    }

    fn prepare_probe(
        &self,
        ctx: &GpuContext,
        config: KernelConfig,
        checked: bool,
    ) -> Result<Prepared> {
        let work = flops(1, self.rows, self.n, self.q_len, self.d)
            .max(16 * bytes(1, self.rows, self.n, self.d, self.dtype));
        let products = PROBE_WORK.div_ceil(work).clamp(1, self.batch);
        self.prepare_products(ctx, attention_config(config)?, checked, products)
    }

    fn fraction(&self, prepared: &Prepared) -> f64 {
        prepared.products as f64 / self.batch as f64
    }

    fn widen(&self, ctx: &GpuContext, probe: Prepared) -> Result<Prepared> {
        self.bind(ctx, probe.config, probe.pipelines, self.batch)
    }

    fn config(&self, prepared: &Prepared) -> KernelConfig {
        prepared.config.into()
    }

    fn dispatches(&self, prepared: &Prepared) -> usize {
        prepared.groups.len()
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, prepared: &Prepared) {
        for (pipe, bg, [x, y, z]) in &prepared.groups {
            pass.set_pipeline(&prepared.pipelines[*pipe]);
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(*x, *y, *z);
        }
    }

    fn clear_output(&self, ctx: &GpuContext) {
        clear(ctx, &self.o);
    }

    fn verify_prepared(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared,
        samples: u64,
    ) -> Result<Verification> {
        let rows = self.rows;
        let picks = sampled_rows(prepared.products, rows, 0xA77E ^ self.n, samples);
        let ranges: Vec<(u64, u64)> = picks
            .iter()
            .map(|&(b, r)| ((b * rows + r) * self.d, self.d))
            .collect();
        let got = read_ranges(ctx, &self.o, self.dtype, &ranges)?;
        let mut v = Verification::new(tolerance(self.dtype));
        for (&(b, r), got) in picks.iter().zip(&got) {
            for (&g, (want, mag)) in got.iter().zip(self.reference_row(b, r)) {
                // A zero output with zero terms (a lone zero V element) is exact.
                v.add_scaled(g as f64, want, (want.abs() + 0.01 * mag).max(1e-30));
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_by_hand() {
        // Llama-7B prefill S = 1024: 32 heads, 1024 * 1025 / 2 = 524_800
        // visible pairs each; 4 * 32 * 128 * 524_800 = 8_598_323_200 FLOPs.
        assert_eq!(flops(32, 1024, 1024, 1024, 128), 8_598_323_200);
        // f16 bytes: 2 * 32 * 2 * (1024 + 1024) * 128 = 33_554_432.
        assert_eq!(bytes(32, 1024, 1024, 128, DType::F16), 33_554_432);
        // Decode B = 1, L = 2048: 4 * 32 * 128 * 2048 = 33_554_432 FLOPs over
        // 2 * 32 * 2 * (1 + 2048) * 128 = 33_570_816 bytes.
        assert_eq!(flops(32, 1, 2048, 1, 128), 33_554_432);
        assert_eq!(bytes(32, 1, 2048, 128, DType::F16), 33_570_816);
        // Causal prefill does about half the products of the full square.
        let full = 4 * 32 * 128 * 1024 * 1024_u64;
        let ratio = flops(32, 1024, 1024, 1024, 128) as f64 / full as f64;
        assert!((ratio - 0.5).abs() < 1e-3, "{ratio}");
    }

    #[test]
    fn config_names_and_json() {
        let c = AttentionConfig::FlashDecode { chunk: 256, wg: 64 };
        assert_eq!(c.to_string(), "split-kv 256 keys wg 64");
        let json = serde_json::to_string(&KernelConfig::from(c)).unwrap();
        assert_eq!(json, r#"{"kernel":"flash_decode","chunk":256,"wg":64}"#);
        let back: KernelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KernelConfig::Attention(c));
        let p = AttentionConfig::FlashPrefill { rows: 64, keys: 16 };
        assert_eq!(p.to_string(), "flash 64 rows x 16 keys");
    }
}
