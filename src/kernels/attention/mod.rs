//! Fused attention: `O = softmax(Q.K^T / sqrt(d), causal mask) . V` in one
//! pass over K and V, the scores never written. WGSL:
//! `shaders/attention.wgsl` (`flash_prefill`, and for decode the split-KV
//! pair `flash_decode_partial` + `flash_decode_reduce`) and
//! `shaders/attention_subgroup.wgsl` (appended to it: `flash_prefill_sg`,
//! the FlashAttention-2-style `flash_prefill_tile`, the coalesced
//! split-KV `flash_decode_sg` and `flash_decode_lanes`, its form for SIMD
//! drivers). Configurations in [`config`], which ones a
//! device tries and what each needs in `layout`, the shape and accounting
//! in [`accounting`], the CPU twin in [`reference`](mod@reference).
//!
//! Layout: Q and O of `rows x d` per product, K and V of `keys x d`, all
//! row-major.
//!
//! Verification: Q, K and V are hashed values, so the host recomputes any
//! output row in f64, mask included, and compares every element of sampled
//! rows.

pub mod accounting;
pub mod config;
mod coop;
mod layout;
pub mod reference;

pub use accounting::AttentionShape;
pub use config::AttentionConfig;
pub use coop::{
    coop_module_source, COOP_TILES, MAX_COOP_HEAD_DIM, SHADER_COOP, SHADER_COOP_EMULATED,
    SHADER_COOP_FRAGS,
};
pub use layout::{Layout, Problem};

use super::{
    batch_chunks_on, granule, read_sampled_rows, require, source, split_products, Copies, DType,
    Dispatches, Extent, Fill, Kernel, Prepared, Step, Verification,
};
use crate::error::{Error, Result};
use crate::gpu::{range, Binding, Capabilities, GpuContext};

/// The WGSL.
pub const SHADER: &str = include_str!("../../../shaders/attention.wgsl");
/// The WGSL of the subgroup kernel: appended to [`SHADER`], whose
/// declarations it uses (see [`module_source`]).
pub const SHADER_SUBGROUP: &str = include_str!("../../../shaders/attention_subgroup.wgsl");
/// Most query rows per subgroup pass of `flash_prefill_sg`.
pub const MAX_SUBGROUP_ROWS: u32 = 8;
/// Most vec4 columns per lane of `flash_prefill_sg`, and of K (and of V)
/// a lane of `flash_decode_sg` holds in a round.
pub const MAX_LANE_COLUMNS: u64 = 8;
/// Most keys per round of a key group of `flash_decode_sg` (its `MAX_KU`).
pub const MAX_KEYS_PER_ROUND: u32 = 4;

/// Most vec4 columns per lane of `flash_prefill_tile` (its `MAX_CV`).
pub const MAX_TILE_COLUMNS: u64 = 16;
/// Most query rows per lane group of `flash_prefill_tile` (its `MAX_RPL`).
pub const MAX_TILE_ROWS: u32 = 2;

/// Largest head dimension the kernels hold (per-invocation arrays).
pub const MAX_HEAD_DIM: u64 = 256;
/// Most query heads per KV head the split-KV decode kernel holds.
pub const MAX_GROUP: u64 = 8;
/// Most keys per staged tile of the prefill kernel (the shader's `MAX_BC`).
pub const MAX_TILE_KEYS: u32 = 32;
/// Most query rows per invocation of `flash_prefill` (its `MAX_RPI`).
pub const MAX_ROWS_PER_INVOCATION: u32 = 4;
/// Most keys of a tile an invocation of `flash_prefill_block` scores (its
/// `MAX_XK`).
pub const MAX_BLOCK_KEYS: u32 = 8;
/// Most scores a lane of `flash_decode_lanes` holds (its `MAX_HELD`): a
/// chunk's keys over the lanes of its subgroup.
pub const MAX_HELD_SCORES: u32 = 128;
/// Smallest key chunk of the decode kernel (sizes its partials).
const MIN_CHUNK: u32 = 64;
/// Largest key chunk of the decode kernel.
const MAX_CHUNK: u32 = 512;
/// Most query rows a prefill workgroup takes.
const MAX_BLOCK_ROWS: u64 = 64;

/// FLOP-equivalents of work a probe covers at least (whole products).
const PROBE_WORK: u64 = 1 << 30;

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

/// The operands, each in the same number of copies.
struct Operands {
    q: Copies,
    k: Copies,
    v: Copies,
    o: Copies,
}

/// Q, K, V and O of a batch of attention products on the GPU, per copy.
pub struct Attention {
    /// The shape.
    pub shape: AttentionShape,
    /// Element type.
    pub dtype: DType,
    /// What the scores are multiplied by: the shape's
    /// [`AttentionShape::score_scale`] unless [`Self::with_scale`] set it.
    scale: f32,
    ops: Operands,
    chunks: Vec<(u64, u64)>,
    granule: u64,
}

/// Whether a shape suits the split-KV decode kernels: one position per
/// head, at most [`MAX_GROUP`] query heads per KV head.
pub fn split_kv(s: &AttentionShape) -> bool {
    s.q_len == 1 && s.rows <= MAX_GROUP
}

/// Bytes of one product's decode partials (per chunk of `chunk` keys and
/// query row: `d / 4` vec4s of output and one of statistics), padded to the
/// storage offset alignment so every product's range is bindable.
fn part_bytes(s: &AttentionShape, chunk: u32, align: u64) -> u64 {
    let raw = s.keys.div_ceil(chunk as u64) * s.group() * (s.head_dim / 4 + 1) * 16;
    raw.div_ceil(align) * align
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

impl Attention {
    /// Check the sizes against the kernels and `ctx`'s limits, allocating
    /// nothing; returns the products of each dispatch.
    pub fn check(ctx: &GpuContext, s: AttentionShape, dtype: DType) -> Result<Vec<(u64, u64)>> {
        let AttentionShape {
            batch,
            rows,
            keys: n,
            q_len,
            head_dim: d,
        } = s;
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
        require(ctx, dtype)?;
        let l = &ctx.caps.limits;
        let size = dtype.size();
        for (what, bytes) in [("Q", batch * rows * d * size), ("K", batch * n * d * size)] {
            let what = format!(
                "attention {what} of {batch} x {rows}x{n}x{d} {}",
                dtype.name()
            );
            ctx.check_buffer(&what, bytes)?;
        }
        // The configuration with the fewest workgroups must fit (the largest
        // key chunk in decode, 64-row blocks in prefill); each configuration
        // is checked again when it is bound.
        let max_dim = l.max_compute_workgroups_per_dimension as u64;
        let groups_x = if split_kv(&s) {
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
        let align = l.min_storage_buffer_offset_alignment as u64;
        let part = if split_kv(&s) {
            part_bytes(&s, MIN_CHUNK, align)
        } else {
            0
        };
        let per = [rows * d * size, n * d * size, part];
        batch_chunks_on(
            ctx,
            batch,
            &per,
            &format!("attention product(s) of {rows}x{n}x{d}"),
        )
    }

    /// Bytes of one copy of the operands (Q, K, V and O).
    pub fn copy_bytes(shape: AttentionShape, dtype: DType) -> u64 {
        let AttentionShape {
            batch,
            rows,
            keys,
            head_dim,
            ..
        } = shape;
        2 * dtype.size() * batch * (rows + keys) * head_dim
    }

    /// Check, allocate and fill `copies` copies of Q, K and V.
    pub fn new(ctx: &GpuContext, shape: AttentionShape, dtype: DType, copies: u32) -> Result<Self> {
        let chunks = Self::check(ctx, shape, dtype)?;
        let s = dtype.size();
        let AttentionShape {
            batch,
            rows,
            keys,
            head_dim: d,
            ..
        } = shape;
        let ops = Operands {
            q: Copies::new(ctx, "attention Q", batch * rows * d * s, copies)?,
            k: Copies::new(ctx, "attention K", batch * keys * d * s, copies)?,
            v: Copies::new(ctx, "attention V", batch * keys * d * s, copies)?,
            o: Copies::new(ctx, "attention O", batch * rows * d * s, copies)?,
        };
        let what = Fill::Operand(dtype);
        ops.q.fill(ctx, reference::Q, what)?;
        ops.k.fill(ctx, reference::K, what)?;
        ops.v.fill(ctx, reference::V, what)?;
        let align = ctx.caps.limits.min_storage_buffer_offset_alignment as u64;
        let per = [
            rows * d * s,
            keys * d * s,
            part_bytes(&shape, MIN_CHUNK, align),
        ];
        Ok(Self {
            shape,
            dtype,
            ops,
            chunks,
            granule: granule(&per, align),
            scale: shape.score_scale(),
        })
    }

    /// The shape and element type, as the pipelines see them.
    pub fn problem(&self) -> Problem {
        Problem {
            shape: self.shape,
            dtype: self.dtype,
        }
    }

    /// The same kernel with scores scaled by `scale` instead of `1 /
    /// sqrt(head_dim)`: a large scale pushes the scores past the range of
    /// `exp` (e^88.8 overflows f32), so a test can check that every
    /// configuration subtracts each row's maximum before exponentiating.
    pub fn with_scale(self, scale: f32) -> Self {
        Self { scale, ..self }
    }

    fn products(&self, extent: Extent) -> u64 {
        match extent {
            Extent::Whole | Extent::Split(_) => self.shape.batch,
            Extent::Probe => {
                let one = AttentionShape {
                    batch: 1,
                    ..self.shape
                };
                let work = one.flops().max(16 * one.bytes(self.dtype));
                PROBE_WORK.div_ceil(work).clamp(1, self.shape.batch)
            }
        }
    }
}

impl Kernel for Attention {
    type Config = AttentionConfig;

    fn candidates(&self, caps: &Capabilities) -> Vec<AttentionConfig> {
        self.problem().configs(caps)
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        config: AttentionConfig,
        extent: Extent,
    ) -> Result<Prepared<AttentionConfig>> {
        let products = self.products(extent);
        let Layout {
            source: text,
            entries,
            constants,
            wg_bytes,
            invocations,
        } = self.problem().layout(&ctx.caps, config)?;
        ctx.check_workgroup_size(&format!("{config}"), invocations)?;
        let limit = ctx.caps.limits.max_compute_workgroup_storage_size as u64;
        if wg_bytes > limit {
            return Err(Error::ExceedsLimit {
                what: format!("workgroup memory of {config}"),
                requested: wg_bytes,
                limit_name: "max_compute_workgroup_storage_size",
                limit,
            });
        }
        let s = self.shape;
        let label = format!("attention d={} {}", s.head_dim, self.dtype.name());
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
            .map(|e| ctx.pipeline(&label, &text, e, &bindings, &constants))
            .collect::<Result<Vec<_>>>()?;

        let size = self.dtype.size();
        let align = ctx.caps.limits.min_storage_buffer_offset_alignment as u64;
        let (chunks, part_bytes) = match config {
            AttentionConfig::FlashDecode { chunk, .. }
            | AttentionConfig::FlashDecodeSubgroup { chunk, .. }
            | AttentionConfig::FlashDecodeLanes { chunk } => {
                (s.keys.div_ceil(chunk as u64), part_bytes(&s, chunk, align))
            }
            AttentionConfig::FlashPrefill { .. }
            | AttentionConfig::FlashPrefillBlock { .. }
            | AttentionConfig::FlashPrefillSubgroup { .. }
            | AttentionConfig::FlashPrefillTile { .. }
            | AttentionConfig::FlashPrefillCoop { .. } => (1, align.max(16)),
        };
        let part = ctx.operand_buffer("attention partials", products * part_bytes)?;
        let params = Params {
            rows: s.rows as u32,
            n: s.keys as u32,
            q_len: s.q_len as u32,
            scale: self.scale,
            chunks: chunks as u32,
            part_stride: (part_bytes / 16) as u32,
            _pad: [0; 2],
        };
        let ubuf = ctx.uniform_buffer("attention params", bytemuck::bytes_of(&params));
        let (qo, kv) = (s.rows * s.head_dim, s.keys * s.head_dim);
        // Workgroups along x of each dispatch: row blocks in prefill; key
        // chunks, then output lanes of the reduce pass, in decode.
        let xs = match config {
            AttentionConfig::FlashPrefill { rows, .. }
            | AttentionConfig::FlashPrefillBlock { rows, .. } => vec![s.rows.div_ceil(rows as u64)],
            AttentionConfig::FlashPrefillSubgroup { rows, wg } => {
                let per_wg = (wg / ctx.caps.subgroup_sizes.0) as u64 * rows as u64;
                vec![s.rows.div_ceil(per_wg)]
            }
            AttentionConfig::FlashDecode { wg, .. }
            | AttentionConfig::FlashDecodeSubgroup { wg, .. } => {
                vec![chunks, (s.group() * s.head_dim / 4).div_ceil(wg as u64)]
            }
            // A workgroup per chunk and query row, then the reduce pass in
            // workgroups of the same size.
            AttentionConfig::FlashDecodeLanes { .. } => vec![
                chunks * s.group(),
                (s.group() * s.head_dim / 4).div_ceil(invocations as u64),
            ],
            AttentionConfig::FlashPrefillTile {
                lanes, rows, wg, ..
            } => {
                vec![s.rows.div_ceil((wg / lanes) as u64 * rows as u64)]
            }
            AttentionConfig::FlashPrefillCoop { blocks, .. } => {
                vec![s.rows.div_ceil(16 * blocks as u64)]
            }
        };
        let chunks = match extent {
            Extent::Split(parts) => split_products(&self.chunks, parts as u64, self.granule),
            _ => self.chunks.clone(),
        };
        let ops = &self.ops;
        let copies = (0..ops.q.count() as usize)
            .map(|copy| {
                let mut steps = Vec::new();
                for &(b0, bc) in chunks.iter().filter(|c| c.0 < products) {
                    let bc = bc.min(products - b0);
                    let part_range = match config {
                        AttentionConfig::FlashDecode { .. }
                        | AttentionConfig::FlashDecodeSubgroup { .. }
                        | AttentionConfig::FlashDecodeLanes { .. } => {
                            range(&part, b0, bc, part_bytes)
                        }
                        AttentionConfig::FlashPrefill { .. }
                        | AttentionConfig::FlashPrefillBlock { .. }
                        | AttentionConfig::FlashPrefillSubgroup { .. }
                        | AttentionConfig::FlashPrefillTile { .. }
                        | AttentionConfig::FlashPrefillCoop { .. } => part.as_entire_binding(),
                    };
                    let bind_group = ctx.bind_group(
                        &pipelines[0],
                        &[
                            ubuf.as_entire_binding(),
                            ops.q.binding(copy, b0 * qo * size, bc * qo * size),
                            ops.k.binding(copy, b0 * kv * size, bc * kv * size),
                            ops.v.binding(copy, b0 * kv * size, bc * kv * size),
                            ops.o.binding(copy, b0 * qo * size, bc * qo * size),
                            part_range,
                        ],
                    )?;
                    for (pipeline, &x) in xs.iter().enumerate() {
                        let workgroups = ctx.check_workgroups(&format!("{config}"), [x, 1, bc])?;
                        steps.push(Step {
                            pipeline,
                            bind_group: bind_group.clone(),
                            workgroups,
                        });
                    }
                }
                Ok(steps)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            config,
            dispatches: Dispatches {
                pipelines,
                copies,
                keep: vec![ubuf, part],
            },
            fraction: products as f64 / s.batch as f64,
            products,
            rows: s.rows,
        })
    }

    fn clear_output(&self, ctx: &GpuContext) {
        self.ops.o.clear(ctx);
    }

    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<AttentionConfig>,
        samples: u64,
    ) -> Result<Verification> {
        let s = self.shape;
        let copy = self.verified_copies(prepared).start;
        let rows = read_sampled_rows(
            ctx,
            self.ops.o.locate(copy),
            self.dtype,
            (prepared.products, s.rows, s.head_dim),
            0xA77E ^ s.keys,
            samples,
        )?;
        let mut v = Verification::new(reference::tolerance(self.dtype));
        let floor = reference::term_floor(prepared.config.rounds_probabilities());
        for ((b, r), got) in rows {
            for (&g, (want, mag)) in got.iter().zip(reference::row(&s, self.scale, b, r)) {
                // A zero output with zero terms (a lone zero V element) is exact.
                v.add_scaled(g as f64, want, (want.abs() + floor * mag).max(1e-30));
            }
        }
        Ok(v)
    }
}
