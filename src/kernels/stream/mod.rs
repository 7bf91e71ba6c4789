//! Streaming kernels (copy, scale, add, triad, dot, read, read_blocks) for
//! the measured memory roof. WGSL: `shaders/stream.wgsl`. Accounting in [`accounting`], the CPU
//! twin in [`reference`](mod@reference).
//!
//! Working set: `sets` independent triples (a, b, c) of `array_bytes` each;
//! the runs of a batch rotate through the sets (one operand copy each), so
//! the footprint (`3 * sets * array_bytes`) can exceed the largest storage
//! binding and every cache. The ops run in order copy, scale, add, triad;
//! each is idempotent given the previous one's result, so the host knows the
//! exact state of every array from the initial data alone and verifies every
//! element of every set.

pub mod accounting;
pub mod reference;

use serde::{Deserialize, Serialize};

pub use accounting::{StreamOp, TEAM, TEAM_BLOCK};
pub use reference::SCALAR;

use super::{Copies, Extent, Fill, Kernel, Prepared, Step, Verification};
use crate::error::{Error, Result};
use crate::gpu::{Binding, Capabilities, GpuContext};

/// The WGSL source.
pub const SHADER: &str = include_str!("../../../shaders/stream.wgsl");

/// Relative tolerance: triad may be fused into one FMA on the GPU (one
/// rounding fewer than the host's mul + add), the others are exact.
pub const TOLERANCE: f64 = 1e-6;

/// Relative tolerance of dot's f32 partial sums against the host's f64 sums
/// of positive terms: a few roundings per term.
pub const DOT_TOLERANCE: f64 = 1e-5;

/// Tunable parameters of the streaming kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamParams {
    /// Bytes per array (a multiple of 16).
    pub array_bytes: u64,
    /// Independent (a, b, c) triples the dispatches rotate through.
    pub sets: u32,
    /// Invocations per workgroup.
    pub workgroup_size: u32,
    /// vec4 elements each invocation handles (sets the workgroup count).
    pub vec4_per_invocation: u32,
}

impl StreamParams {
    /// Largest array the adapter allows, capped at 256 MiB (and at a third
    /// of the footprint), and enough sets for `footprint` bytes at least
    /// (1 GiB by default: far beyond any GPU's last-level cache and beyond
    /// the host caches under a software adapter).
    pub fn for_limits(limits: &wgpu::Limits, footprint: u64) -> Self {
        let cap = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(256 << 20)
            .min(footprint.div_ceil(3).max(16));
        let array_bytes = cap / 16 * 16;
        let sets = footprint.div_ceil(3 * array_bytes.max(1)).max(1) as u32;
        Self {
            array_bytes,
            sets,
            workgroup_size: 256,
            vec4_per_invocation: 4,
        }
    }

    /// The shader's override constants (the same for every op).
    pub fn constants(&self) -> Vec<(&'static str, f64)> {
        vec![("WORKGROUP_SIZE", self.workgroup_size as f64)]
    }

    /// f32 elements per array.
    pub fn elements(&self) -> u64 {
        self.array_bytes / 4
    }

    /// Reject sizes the kernels cannot run.
    pub fn validate(&self, ctx: &GpuContext) -> Result<()> {
        if self.array_bytes == 0 {
            return Err(Error::ZeroSize {
                what: "stream array size",
            });
        }
        if self.sets == 0 {
            return Err(Error::ZeroSize {
                what: "number of stream array sets",
            });
        }
        if self.workgroup_size == 0 || self.vec4_per_invocation == 0 {
            return Err(Error::ZeroSize {
                what: "workgroup size and vec4s per invocation",
            });
        }
        if !self.array_bytes.is_multiple_of(16) {
            return Err(Error::Invalid(format!(
                "stream array size must be a multiple of 16 bytes, got {}",
                self.array_bytes
            )));
        }
        ctx.check_binding("stream array", self.array_bytes)?;
        if self.array_bytes / 16 > u32::MAX as u64 {
            return Err(Error::ExceedsLimit {
                what: "stream array".into(),
                requested: self.array_bytes,
                limit_name: "u32 vec4 index range",
                limit: (u32::MAX as u64) * 16,
            });
        }
        ctx.check_workgroup_size("stream workgroup size", self.workgroup_size)
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    stride: u32,
    scalar: f32,
    block: u32,
}

/// Host-side chunk used when filling and checking arrays (bounds host memory).
const CHUNK_ELEMENTS: u64 = 4 << 20;

/// Workgroups of a dispatch, and its invocations that write a partial
/// sum (dot, read, read_blocks).
#[derive(Debug, Clone, Copy)]
struct Grid {
    groups: u32,
    invocations: u64,
}

/// The arrays of every set, filled, with the grids the ops walk them with.
pub struct Stream {
    /// The parameters.
    pub params: StreamParams,
    /// Arrays a, b and c, one copy per set.
    arrays: [Copies; 3],
    uniform: wgpu::Buffer,
    /// The grid stride's grid (its invocations are the stride).
    stride: Grid,
    /// `read_blocks`' grid: a team per block.
    teams: Grid,
    /// vec4s per block of `read_blocks`.
    block: u64,
}

impl Stream {
    /// Check `params`, allocate and fill every set.
    pub fn new(ctx: &GpuContext, params: StreamParams) -> Result<Self> {
        params.validate(ctx)?;
        let n_vec4 = params.array_bytes / 16;
        let wg = params.workgroup_size as u64;
        let groups = ctx.workgroups(n_vec4, wg * params.vec4_per_invocation as u64);
        let stride = Grid {
            groups,
            invocations: groups as u64 * wg,
        };
        // A team per block, the blocks grown where the teams would need
        // more workgroups than a dispatch takes.
        let max_groups = ctx.caps.limits.max_compute_workgroups_per_dimension as u64;
        let block = accounting::team_block(n_vec4, max_groups * wg / TEAM);
        let team_invocations = accounting::team_invocations(n_vec4, block);
        let teams = Grid {
            groups: ctx.workgroups(team_invocations, wg),
            invocations: team_invocations,
        };
        let uniform = ctx.uniform_buffer(
            "stream params",
            bytemuck::bytes_of(&Params {
                n: n_vec4 as u32,
                stride: stride.invocations as u32,
                scalar: SCALAR,
                block: block as u32,
            }),
        );
        let array = |w: u32| -> Result<Copies> {
            let a = Copies::new(
                ctx,
                &format!("stream array {w}"),
                params.array_bytes,
                params.sets,
            )?;
            a.fill(ctx, reference::operand(w), Fill::Stream)?;
            Ok(a)
        };
        let arrays = [array(0)?, array(1)?, array(2)?];
        Ok(Self {
            params,
            arrays,
            uniform,
            stride,
            teams,
            block,
        })
    }

    /// The grid `op` runs on: teams for `read_blocks`, else the grid stride.
    fn grid(&self, op: StreamOp) -> Grid {
        match op {
            StreamOp::ReadBlocks => self.teams,
            StreamOp::Copy
            | StreamOp::Scale
            | StreamOp::Add
            | StreamOp::Triad
            | StreamOp::Dot
            | StreamOp::Read => self.stride,
        }
    }

    /// Invocations a dispatch of `op` runs that write a partial sum (dot,
    /// read and read_blocks write one each).
    pub fn invocations(&self, op: StreamOp) -> u64 {
        self.grid(op).invocations
    }

    /// Distinct bytes the runs rotate through: every array of every set.
    pub fn working_set_bytes(&self) -> u64 {
        3 * self.params.sets as u64 * self.params.array_bytes
    }

    /// Bytes one dispatch of `op` moves.
    pub fn bytes(&self, op: StreamOp) -> u64 {
        op.bytes(self.params.elements(), self.invocations(op))
    }
}

impl Kernel for Stream {
    type Config = StreamOp;

    /// Every op, in the order their results depend on each other.
    fn candidates(&self, _caps: &Capabilities) -> Vec<StreamOp> {
        StreamOp::ALL.to_vec()
    }

    fn prepare(
        &self,
        ctx: &GpuContext,
        op: StreamOp,
        _extent: Extent,
    ) -> Result<Prepared<StreamOp>> {
        let pipe = ctx.pipeline(
            "stream",
            SHADER,
            op.name(),
            &[
                Binding::Uniform,
                Binding::ReadWrite,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ],
            &self.params.constants(),
        )?;
        let [a, b, c] = &self.arrays;
        let groups = self.grid(op).groups;
        let copies = (0..self.params.sets as usize)
            .map(|set| {
                let r = [
                    self.uniform.as_entire_binding(),
                    a.whole(set),
                    b.whole(set),
                    c.whole(set),
                ];
                Ok(vec![Step {
                    pipeline: 0,
                    bind_group: ctx.bind_group(&pipe, &r)?,
                    workgroups: [groups, 1, 1],
                }])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared::whole(op, pipe, copies, Vec::new()))
    }

    /// Nothing to clear: each op overwrites an array whose earlier values
    /// differ from its result, so an op that writes nothing fails anyway,
    /// and the later ops need the earlier ones' results.
    fn clear_output(&self, _ctx: &GpuContext) {}

    /// Every set: each must hold the op's result for the next op to be
    /// checkable.
    fn verified_copies(&self, prepared: &Prepared<StreamOp>) -> std::ops::Range<usize> {
        0..prepared.dispatches.copies()
    }

    /// Every element of every set (every partial sum for dot).
    fn verify(
        &self,
        ctx: &GpuContext,
        prepared: &Prepared<StreamOp>,
        _samples: u64,
    ) -> Result<Verification> {
        let op = prepared.config;
        let mut v = Verification::new(TOLERANCE);
        for set in 0..self.params.sets as usize {
            let out = self.arrays[op.output()].locate(set);
            v.merge(&match op {
                StreamOp::Dot | StreamOp::Read | StreamOp::ReadBlocks => {
                    self.check_partials(ctx, op, out)?
                }
                StreamOp::Copy | StreamOp::Scale | StreamOp::Add | StreamOp::Triad => {
                    check(ctx, out, op, self.params.elements())?
                }
            });
        }
        Ok(v)
    }
}

impl Stream {
    /// Compare dot's, read's or read_blocks' per-invocation partial sums
    /// with host sums in f64.
    fn check_partials(
        &self,
        ctx: &GpuContext,
        op: StreamOp,
        (c, at): (&wgpu::Buffer, u64),
    ) -> Result<Verification> {
        let n_vec4 = self.params.array_bytes / 16;
        let stride = self.stride.invocations;
        let partials = self.invocations(op).min(n_vec4);
        // The invocation that sums vec4 i: the grid stride's i % stride, or
        // a team member.
        let owner = |i: u64| match op {
            StreamOp::ReadBlocks => accounting::team_member(i, self.block),
            StreamOp::Copy
            | StreamOp::Scale
            | StreamOp::Add
            | StreamOp::Triad
            | StreamOp::Dot
            | StreamOp::Read => i % stride,
        };
        let mut want = vec![0f64; partials as usize];
        for i in 0..n_vec4 {
            let lanes: f64 = (0..4)
                .map(|l| reference::reference(op, reference::initial(0, 4 * i + l)) as f64)
                .sum();
            want[owner(i) as usize] += lanes;
        }
        let bytes = ctx.read_buffer(c, at, partials * 16)?;
        let got: &[[f32; 4]] = bytemuck::cast_slice(&bytes);
        let mut v = Verification::new(DOT_TOLERANCE);
        for (g, w) in got.iter().zip(&want) {
            v.add(g[0] as f64, *w);
            for lane in &g[1..] {
                v.add(*lane as f64, 0.0);
            }
        }
        Ok(v)
    }
}

/// Compare every element of `buf` with the op's reference, chunk by chunk.
fn check(
    ctx: &GpuContext,
    (buf, at): (&wgpu::Buffer, u64),
    op: StreamOp,
    elements: u64,
) -> Result<Verification> {
    let mut v = Verification::new(TOLERANCE);
    let mut start = 0;
    while start < elements {
        let end = (start + CHUNK_ELEMENTS).min(elements);
        let bytes = ctx.read_buffer(buf, at + start * 4, (end - start) * 4)?;
        let got: &[f32] = bytemuck::cast_slice(&bytes);
        v.merge(&Verification::compare(got, TOLERANCE, |i| {
            reference::reference(op, reference::initial(0, start + i as u64))
        }));
        start = end;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_follow_limits() {
        let mut limits = wgpu::Limits {
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: 1 << 40,
            ..Default::default()
        };
        let p = StreamParams::for_limits(&limits, 1 << 30);
        assert_eq!(p.array_bytes, 128 << 20);
        assert_eq!(p.sets, 3); // 3 * 3 * 128 MiB = 1.125 GiB >= 1 GiB
        limits.max_storage_buffer_binding_size = u32::MAX as _;
        let p = StreamParams::for_limits(&limits, 1 << 30);
        assert_eq!(p.array_bytes, 256 << 20);
        assert_eq!(p.sets, 2);
        // A small footprint: one set of a third each.
        let p = StreamParams::for_limits(&limits, 3 << 20);
        assert_eq!((p.array_bytes, p.sets), (1 << 20, 1));
    }
}
