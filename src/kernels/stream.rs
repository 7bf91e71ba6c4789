//! Streaming kernels (copy, scale, add, triad, dot) for the measured memory
//! roof. WGSL: `shaders/stream.wgsl`.
//!
//! Accounting: a dispatch over arrays of `n` f32 elements moves
//! `(arrays read + arrays written) * 4 * n` bytes: copy and scale `8n`,
//! add and triad `12n`; dot reads two arrays and writes one 16-byte partial
//! sum per invocation, `8n + 16 * invocations`. FLOPs are not counted (scale,
//! add, triad and dot do `n`, `n`, `2n` and `2n`, negligible at their
//! intensity, as in BabelStream).
//!
//! Working set: `sets` independent triples (a, b, c) of `array_bytes` each;
//! the dispatches of a batch rotate through the sets so the footprint
//! (`3 * sets * array_bytes`) can exceed the largest storage binding and every
//! cache. The ops run in order copy, scale, add, triad; each is idempotent
//! given the previous one's result, so the host knows the exact state of every
//! array from the initial data alone and verifies every element of every set.

use serde::{Deserialize, Serialize};

use super::{
    bind_group, check_workgroup_size, pipeline, storage_buffer, uniform_buffer, workgroups, Binding,
};
use super::{DType, KernelRecord, RoofKind, Verification};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::timer::{Timer, TimingConfig};

/// The WGSL source.
pub const SHADER: &str = include_str!("../../shaders/stream.wgsl");

/// BabelStream's scalar.
pub const SCALAR: f32 = 0.4;

/// Relative tolerance: triad may be fused into one FMA on the GPU (one
/// rounding fewer than the host's mul + add), the others are exact.
pub const TOLERANCE: f64 = 1e-6;

/// Relative tolerance of dot's f32 partial sums against the host's f64 sums
/// of positive terms: a few roundings per term.
pub const DOT_TOLERANCE: f64 = 1e-5;

/// The four streaming operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamOp {
    /// c = a
    Copy,
    /// b = s * c
    Scale,
    /// c = a + b
    Add,
    /// a = b + s * c
    Triad,
    /// per-invocation partial sums of a . b, into c
    Dot,
}

impl StreamOp {
    /// In the order they run (each depends on the previous one's output).
    pub const ALL: [Self; 5] = [Self::Copy, Self::Scale, Self::Add, Self::Triad, Self::Dot];

    /// Entry point name in the shader, also the op's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Scale => "scale",
            Self::Add => "add",
            Self::Triad => "triad",
            Self::Dot => "dot",
        }
    }

    /// Arrays read per element.
    pub fn reads(self) -> u64 {
        match self {
            Self::Copy | Self::Scale => 1,
            Self::Add | Self::Triad | Self::Dot => 2,
        }
    }

    /// Bytes one dispatch moves over `elements` f32 elements with
    /// `invocations` invocations: reads + writes.
    pub fn bytes(self, elements: u64, invocations: u64) -> u64 {
        let read = self.reads() * DType::F32.size() * elements;
        match self {
            Self::Dot => read + 16 * invocations.min(elements / 4),
            _ => read + DType::F32.size() * elements,
        }
    }

    /// Index of the array the op writes (0 = a, 1 = b, 2 = c).
    fn output(self) -> usize {
        match self {
            Self::Copy | Self::Add | Self::Dot => 2,
            Self::Scale => 1,
            Self::Triad => 0,
        }
    }

    /// Host reference: the op's output element, given the initial value
    /// `a0` of `a` at that element, after all earlier ops have run. For
    /// `Dot`, the element's product a * b, which the kernel sums.
    pub fn reference(self, a0: f32) -> f32 {
        let s = SCALAR;
        let b = s * a0; // after scale
        let c = a0 + b; // after add
        let a = b + s * c; // after triad
        match self {
            Self::Copy => a0,
            Self::Scale => b,
            Self::Add => c,
            Self::Triad => a,
            Self::Dot => a * b,
        }
    }
}

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
    /// Largest array the adapter allows, capped at 256 MiB, and enough sets
    /// for a footprint of at least 1 GiB: far beyond any GPU's last-level
    /// cache and beyond the host caches under a software adapter.
    pub fn for_limits(limits: &wgpu::Limits) -> Self {
        let cap = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(256 << 20);
        let array_bytes = cap / 16 * 16;
        let footprint: u64 = 1 << 30;
        let sets = footprint.div_ceil(3 * array_bytes.max(1)).max(1) as u32;
        Self {
            array_bytes,
            sets,
            workgroup_size: 256,
            vec4_per_invocation: 4,
        }
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
        check_workgroup_size(ctx, "stream workgroup size", self.workgroup_size)?;
        Ok(())
    }
}

/// Initial value of element `i` of array `which` (0 = a, 1 = b, 2 = c) in set
/// `set`: a float in [1, 2) with 23 hashed mantissa bits, so no two
/// neighbouring values repeat and nothing compresses.
pub fn initial(set: u32, which: u32, i: u64) -> f32 {
    let mut h = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(((set as u64) << 32 | which as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    h ^= h >> 31;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 29;
    f32::from_bits(0x3F80_0000 | (h as u32 & 0x007F_FFFF))
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    stride: u32,
    scalar: f32,
    _pad: u32,
}

/// Host-side chunk used when filling and checking arrays (bounds host memory).
const CHUNK_ELEMENTS: u64 = 4 << 20;

/// Measure all four ops; returns one record per op, in run order.
/// `on_start` is called with each kernel's name before it runs, `on_done`
/// with its record after.
pub fn run(
    ctx: &GpuContext,
    timer: &Timer,
    timing: &TimingConfig,
    params: &StreamParams,
    checked: bool,
    on_start: &mut dyn FnMut(&str),
    on_done: &mut dyn FnMut(&KernelRecord),
) -> Result<Vec<KernelRecord>> {
    params.validate(ctx)?;
    let module = ctx.shader("stream", SHADER, checked)?;
    let n_vec4 = params.array_bytes / 16;
    let wg = params.workgroup_size as u64;
    let groups = workgroups(ctx, n_vec4, wg * params.vec4_per_invocation as u64);
    let stride = groups * params.workgroup_size;
    let uniform = uniform_buffer(
        ctx,
        "stream params",
        bytemuck::bytes_of(&Params {
            n: n_vec4 as u32,
            stride,
            scalar: SCALAR,
            _pad: 0,
        }),
    );

    // Allocate and fill the sets.
    let mut sets: Vec<[wgpu::Buffer; 3]> = Vec::with_capacity(params.sets as usize);
    for s in 0..params.sets {
        let make = |w: u32| -> Result<wgpu::Buffer> {
            let buf = storage_buffer(
                ctx,
                &format!("stream set {s} array {w}"),
                params.array_bytes,
            )?;
            fill(ctx, &buf, s, w, params.elements())?;
            Ok(buf)
        };
        sets.push([make(0)?, make(1)?, make(2)?]);
    }
    ctx.wait()?;

    let config = serde_json::to_value(params).expect("serialisable");
    let mut records = Vec::with_capacity(4);
    for op in StreamOp::ALL {
        let name = format!("stream.{}", op.name());
        on_start(&name);
        let pipe = pipeline(
            ctx,
            &module,
            op.name(),
            &[
                Binding::Uniform,
                Binding::ReadWrite,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ],
            &[("WORKGROUP_SIZE", params.workgroup_size as f64)],
        )?;
        let groups_bound = sets
            .iter()
            .map(|[a, b, c]| {
                let r = [&uniform, a, b, c].map(|x| x.as_entire_binding());
                bind_group(ctx, &pipe, &r)
            })
            .collect::<Result<Vec<_>>>()?;
        let timing_result = timer.measure(ctx, timing, &name, &mut |pass, i| {
            pass.set_pipeline(&pipe);
            pass.set_bind_group(0, &groups_bound[i as usize % groups_bound.len()], &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        })?;
        // Every set must hold the op's result whatever the batch count was,
        // so run one dispatch on each before checking.
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipe);
            for bg in &groups_bound {
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(groups, 1, 1);
            }
        }
        ctx.queue.submit([enc.finish()]);
        let mut verification = Verification::new(TOLERANCE);
        for (s, set) in sets.iter().enumerate() {
            let out = &set[op.output()];
            let v = match op {
                StreamOp::Dot => check_dot(ctx, out, s as u32, n_vec4, stride)?,
                _ => check(ctx, out, s as u32, op, params.elements())?,
            };
            verification.merge(&v);
        }
        records.push(KernelRecord::new(
            name,
            RoofKind::Memory,
            DType::F32,
            op.bytes(params.elements(), stride as u64),
            0,
            config.clone(),
            checked,
            timing_result,
            verification,
        ));
        on_done(records.last().expect("just pushed"));
    }
    Ok(records)
}

/// Upload the initial values of array `which` of set `set` in chunks.
fn fill(ctx: &GpuContext, buf: &wgpu::Buffer, set: u32, which: u32, elements: u64) -> Result<()> {
    let mut start = 0;
    while start < elements {
        let end = (start + CHUNK_ELEMENTS).min(elements);
        let chunk: Vec<f32> = (start..end).map(|i| initial(set, which, i)).collect();
        ctx.queue
            .write_buffer(buf, start * 4, bytemuck::cast_slice(&chunk));
        // Bound the staging memory wgpu holds for queued writes.
        ctx.queue.submit([]);
        ctx.wait()?;
        start = end;
    }
    Ok(())
}

/// Compare every element of `buf` with the op's reference, chunk by chunk.
fn check(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    set: u32,
    op: StreamOp,
    elements: u64,
) -> Result<Verification> {
    let mut v = Verification::new(TOLERANCE);
    let mut start = 0;
    while start < elements {
        let end = (start + CHUNK_ELEMENTS).min(elements);
        let bytes = ctx.read_buffer(buf, start * 4, (end - start) * 4)?;
        let got: &[f32] = bytemuck::cast_slice(&bytes);
        v.merge(&Verification::compare(got, TOLERANCE, |i| {
            op.reference(initial(set, 0, start + i as u64))
        }));
        start = end;
    }
    Ok(v)
}

/// Compare dot's per-invocation partial sums with host sums in f64.
fn check_dot(
    ctx: &GpuContext,
    c: &wgpu::Buffer,
    set: u32,
    n_vec4: u64,
    stride: u32,
) -> Result<Verification> {
    let partials = (stride as u64).min(n_vec4);
    let mut want = vec![0f64; partials as usize];
    for i in 0..n_vec4 {
        let lanes: f64 = (0..4)
            .map(|l| StreamOp::Dot.reference(initial(set, 0, 4 * i + l)) as f64)
            .sum();
        want[(i % stride as u64) as usize] += lanes;
    }
    let bytes = ctx.read_buffer(c, 0, partials * 16)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_dispatch_by_hand() {
        // 1 Mi elements of 4 bytes: copy/scale read 1 array and write 1,
        // add/triad read 2 and write 1.
        let n = 1 << 20;
        assert_eq!(StreamOp::Copy.bytes(n, 4096), 8 << 20);
        assert_eq!(StreamOp::Scale.bytes(n, 4096), 8 << 20);
        assert_eq!(StreamOp::Add.bytes(n, 4096), 12 << 20);
        assert_eq!(StreamOp::Triad.bytes(n, 4096), 12 << 20);
        // dot: 2 arrays read, one 16-byte partial per invocation written
        assert_eq!(StreamOp::Dot.bytes(n, 4096), (8 << 20) + 16 * 4096);
        // never more partials than vec4 elements
        assert_eq!(StreamOp::Dot.bytes(16, 4096), 8 * 16 + 16 * 4);
    }

    #[test]
    fn reference_follows_babelstream_sequence() {
        let a0 = 1.5f32;
        assert_eq!(StreamOp::Copy.reference(a0), 1.5);
        assert_eq!(StreamOp::Scale.reference(a0), 0.4f32 * 1.5);
        assert_eq!(StreamOp::Add.reference(a0), 1.5 + 0.4f32 * 1.5);
        let b = 0.4f32 * 1.5;
        let a = b + 0.4 * (1.5 + b);
        assert_eq!(StreamOp::Triad.reference(a0), a);
        assert_eq!(StreamOp::Dot.reference(a0), a * b);
    }

    #[test]
    fn initial_values_are_varied_and_in_range() {
        let v: Vec<f32> = (0..1000).map(|i| initial(0, 0, i)).collect();
        assert!(v.iter().all(|x| (1.0..2.0).contains(x)));
        let mut distinct = v.clone();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 990);
        assert_ne!(initial(0, 0, 5), initial(1, 0, 5));
        assert_ne!(initial(0, 0, 5), initial(0, 1, 5));
    }

    #[test]
    fn default_params_follow_limits() {
        let mut limits = wgpu::Limits {
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: 1 << 40,
            ..Default::default()
        };
        let p = StreamParams::for_limits(&limits);
        assert_eq!(p.array_bytes, 128 << 20);
        assert_eq!(p.sets, 3); // 3 * 3 * 128 MiB = 1.125 GiB >= 1 GiB
        limits.max_storage_buffer_binding_size = u32::MAX as _;
        let p = StreamParams::for_limits(&limits);
        assert_eq!(p.array_bytes, 256 << 20);
        assert_eq!(p.sets, 2);
    }
}
