//! The unfused attention's softmax, timed as its own step between the score
//! product (qk) and the value product (pv). WGSL: `shaders/softmax.wgsl`.
//! Configurations in [`config`], accounting in [`accounting`], the CPU twin
//! in [`reference`](mod@reference). The layout and mask are those of
//! [`AttentionShape`]: `batch` products of `rows` query rows of `keys`
//! scores.
//!
//! Verification: the scores are hashed values, so the host recomputes any
//! row in f64; every element of each sampled row is compared, its error
//! judged against its own size (floored at 1% of the row's largest
//! probability).

pub mod accounting;
pub mod config;
pub mod reference;

pub use config::SoftmaxConfig;

use super::attention::accounting::AttentionShape;
use super::{
    batch_chunks_on, granule, read_sampled_rows, require, source, split_products, Copies, DType,
    Dispatches, Extent, Fill, Kernel, Prepared, Step, Verification,
};
use crate::error::{Error, Result};
use crate::gpu::{Binding, Capabilities, GpuContext};

/// The WGSL.
pub const SHADER: &str = include_str!("../../../shaders/softmax.wgsl");
/// The WGSL of the subgroup-per-row kernel (a module of its own).
pub const SHADER_SUBGROUP: &str = include_str!("../../../shaders/softmax_subgroup.wgsl");

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

/// The module `config` runs for rows of `keys` scores of `dtype` on a
/// device with `caps`, and its override constants, or why it cannot run
/// there.
pub fn pipeline_source(
    config: SoftmaxConfig,
    dtype: DType,
    keys: u64,
    caps: &Capabilities,
) -> Result<(String, Vec<(&'static str, f64)>)> {
    let wg = config.workgroup_size();
    if !wg.is_power_of_two() {
        return Err(Error::Invalid(format!(
            "softmax workgroup size {wg} is not a power of two"
        )));
    }
    let sg_min = caps.subgroup_sizes.0;
    let (base, constants) = match config {
        SoftmaxConfig::SoftmaxSubgroup { .. } => {
            if !caps.subgroups || sg_min == 0 || !keys.is_multiple_of(4) {
                return Err(Error::Invalid(format!(
                    "{config} needs SUBGROUP and rows of a multiple of 4 keys"
                )));
            }
            let rows = config.rows_per_workgroup(sg_min);
            (
                SHADER_SUBGROUP,
                vec![("WG", wg as f64), ("RB", rows as f64)],
            )
        }
        SoftmaxConfig::SoftmaxRows { .. } | SoftmaxConfig::SoftmaxLanes { .. } => {
            (SHADER, vec![("WG", wg as f64)])
        }
    };
    Ok((source(base, dtype), constants))
}

/// Scores and probabilities of a batch of softmaxes on the GPU, per copy.
pub struct Softmax {
    /// The shape.
    pub shape: AttentionShape,
    /// Element type.
    pub dtype: DType,
    /// What the scores are multiplied by: the shape's
    /// [`AttentionShape::score_scale`] unless [`Self::with_scale`] set it.
    scale: f32,
    x: Copies,
    y: Copies,
    chunks: Vec<(u64, u64)>,
    granule: u64,
}

/// Bytes of work a probe covers at least (whole products).
const PROBE_BYTES: u64 = 64 << 20;

impl Softmax {
    /// Check the sizes against the kernel and `ctx`'s limits, allocating
    /// nothing; returns the products of each dispatch.
    pub fn check(ctx: &GpuContext, s: AttentionShape, dtype: DType) -> Result<Vec<(u64, u64)>> {
        let AttentionShape {
            batch,
            rows,
            keys: n,
            q_len,
            ..
        } = s;
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
        require(ctx, dtype)?;
        let l = &ctx.caps.limits;
        let max_dim = l.max_compute_workgroups_per_dimension as u64;
        if rows > max_dim * max_dim {
            return Err(Error::ExceedsLimit {
                what: "softmax rows per product".into(),
                requested: rows,
                limit_name: "max_compute_workgroups_per_dimension squared",
                limit: max_dim * max_dim,
            });
        }
        let what = format!("softmax scores of {batch} x {rows}x{n} {}", dtype.name());
        ctx.check_buffer(&what, batch * rows * n * dtype.size())?;
        let per = rows * n * dtype.size();
        batch_chunks_on(
            ctx,
            batch,
            &[per],
            &format!("softmax product(s) of {rows}x{n}"),
        )
    }

    /// Bytes of one copy of the operands (scores and probabilities).
    pub fn copy_bytes(shape: AttentionShape, dtype: DType) -> u64 {
        2 * dtype.size() * shape.batch * shape.rows * shape.keys
    }

    /// Check, allocate and fill `copies` copies of the scores.
    pub fn new(ctx: &GpuContext, shape: AttentionShape, dtype: DType, copies: u32) -> Result<Self> {
        let chunks = Self::check(ctx, shape, dtype)?;
        let bytes = shape.batch * shape.rows * shape.keys * dtype.size();
        let x = Copies::new(ctx, "softmax scores", bytes, copies)?;
        let y = Copies::new(ctx, "softmax probabilities", bytes, copies)?;
        x.fill(ctx, reference::SCORES, Fill::Operand(dtype))?;
        let align = ctx.caps.limits.min_storage_buffer_offset_alignment as u64;
        let per = shape.rows * shape.keys * dtype.size();
        Ok(Self {
            shape,
            dtype,
            x,
            y,
            chunks,
            granule: granule(&[per], align),
            scale: shape.score_scale(),
        })
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
                let per = self.shape.rows * self.shape.keys * self.dtype.size();
                PROBE_BYTES.div_ceil(per).clamp(1, self.shape.batch)
            }
        }
    }
}

impl Kernel for Softmax {
    type Config = SoftmaxConfig;

    fn candidates(&self, caps: &Capabilities) -> Vec<SoftmaxConfig> {
        SoftmaxConfig::candidates(caps, self.shape.keys)
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        config: SoftmaxConfig,
        extent: Extent,
    ) -> Result<Prepared<SoftmaxConfig>> {
        let products = self.products(extent);
        ctx.check_workgroup_size("softmax workgroup", config.workgroup_size())?;
        let (module, constants) = pipeline_source(config, self.dtype, self.shape.keys, &ctx.caps)?;
        let rows_per_wg = config.rows_per_workgroup(ctx.caps.subgroup_sizes.0);
        let pipe = ctx.pipeline(
            &format!("softmax {}", self.dtype.name()),
            &module,
            config.entry(),
            &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
            &constants,
        )?;
        let s = self.shape;
        let max_dim = ctx.caps.limits.max_compute_workgroups_per_dimension as u64;
        let groups = s.rows.div_ceil(rows_per_wg);
        let nx = groups.min(max_dim);
        let ny = groups.div_ceil(nx);
        let params = Params {
            rows: s.rows as u32,
            n: s.keys as u32,
            q_len: s.q_len as u32,
            scale: self.scale,
            nx: nx as u32,
            _pad: [0; 3],
        };
        let ubuf = ctx.uniform_buffer("softmax params", bytemuck::bytes_of(&params));
        let per = s.rows * s.keys;
        let size = self.dtype.size();
        let chunks = match extent {
            Extent::Split(parts) => split_products(&self.chunks, parts as u64, self.granule),
            _ => self.chunks.clone(),
        };
        let copies = (0..self.x.count() as usize)
            .map(|copy| {
                chunks
                    .iter()
                    .filter(|&&(b0, _)| b0 < products)
                    .map(|&(b0, bc)| {
                        let bc = bc.min(products - b0);
                        let bind_group = ctx.bind_group(
                            &pipe,
                            &[
                                ubuf.as_entire_binding(),
                                self.x.binding(copy, b0 * per * size, bc * per * size),
                                self.y.binding(copy, b0 * per * size, bc * per * size),
                            ],
                        )?;
                        let workgroups =
                            ctx.check_workgroups(&format!("{config}"), [nx, ny, bc])?;
                        Ok(Step {
                            pipeline: 0,
                            bind_group,
                            workgroups,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            config,
            dispatches: Dispatches {
                pipelines: vec![pipe],
                copies,
                keep: vec![ubuf],
            },
            fraction: products as f64 / s.batch as f64,
            products,
            rows: s.rows,
        })
    }

    fn clear_output(&self, ctx: &GpuContext) {
        self.y.clear(ctx);
    }

    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<SoftmaxConfig>,
        samples: u64,
    ) -> Result<Verification> {
        let s = self.shape;
        let copy = self.verified_copies(prepared).start;
        let rows = read_sampled_rows(
            ctx,
            self.y.locate(copy),
            self.dtype,
            (prepared.products, s.rows, s.keys),
            0x5EED ^ s.keys,
            samples,
        )?;
        let mut v = Verification::new(reference::tolerance(self.dtype));
        for ((b, r), got) in rows {
            let want = reference::row(&s, self.scale, b, r);
            let top = want.iter().copied().fold(0.0, f64::max);
            for (&g, &w) in got.iter().zip(&want) {
                v.add_scaled(g as f64, w, w.abs() + 0.01 * top);
            }
        }
        Ok(v)
    }
}
