//! The bindings and dispatches of every matmul family: one uniform per
//! chunk (in the units its shader counts in), the chunk's ranges of A, W and
//! C in each operand copy, and for the block and cooperative GEMMs split
//! over k a partials buffer and the reduce pass. The cooperative GEMM shares
//! the block GEMM's parameters (octet units) and partials layout.

use super::{Chunk, Family, Matmul, MatmulConfig, ProductShape};
use crate::error::Result;
use crate::gpu::{Binding, GpuContext};
use crate::kernels::Step;

/// The layout of each family's group 0.
pub fn bindings(family: Family) -> &'static [Binding] {
    const FOUR: [Binding; 4] = [
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ];
    const FIVE: [Binding; 5] = [
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ];
    match family {
        Family::Classic | Family::ClassicSubgroup | Family::Gemv { .. } | Family::Rows { .. } => {
            &FOUR
        }
        Family::Block | Family::Coop { .. } => &FIVE,
    }
}

/// `matmul.wgsl`'s parameters (vec4 units).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ClassicParams {
    m: u32,
    n: u32,
    k4: u32,
    ldc: u32,
    c_col: u32,
    a_bstride: u32,
    w_bstride: u32,
    c_bstride: u32,
}

/// `matmul_params.wgsl`'s parameters (octet units), which
/// `matmul_coop.wgsl` repeats.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OctetParams {
    m: u32,
    n: u32,
    k8: u32,
    ldc: u32,
    c_col: u32,
    a_bstride: u32,
    w_bstride: u32,
    c_bstride: u32,
    kper: u32,
    _pad: [u32; 3],
}

/// The steps of one run on each operand copy, and the buffers they need.
pub fn steps(
    mm: &Matmul,
    ctx: &GpuContext,
    config: MatmulConfig,
    pipe: &wgpu::ComputePipeline,
    chunks: &[Chunk],
) -> Result<(Vec<Vec<Step>>, Vec<wgpu::Buffer>)> {
    let ProductShape { m, n, k, .. } = mm.shape;
    let s = mm.dtype.size();
    let wrow = super::w_row_bytes(k, mm.weights);
    let family = config.family();
    let split = config.split() as u64;
    let (bm, bn) = config.block();
    let params: Vec<wgpu::Buffer> = chunks
        .iter()
        .map(|ch| {
            let bytes = match family {
                Family::Classic | Family::ClassicSubgroup => bytemuck::bytes_of(&ClassicParams {
                    m: ch.mc as u32,
                    n: ch.nc as u32,
                    k4: (k / 4) as u32,
                    ldc: n as u32,
                    c_col: ch.n0 as u32,
                    a_bstride: (m * k / 4) as u32,
                    w_bstride: (n * k / 4) as u32,
                    c_bstride: (m * n) as u32,
                })
                .to_vec(),
                Family::Block | Family::Gemv { .. } | Family::Rows { .. } | Family::Coop { .. } => {
                    bytemuck::bytes_of(&OctetParams {
                        m: ch.mc as u32,
                        n: ch.nc as u32,
                        k8: (k / 8) as u32,
                        ldc: n as u32,
                        c_col: ch.n0 as u32,
                        a_bstride: (m * k / 8) as u32,
                        w_bstride: (n * k / 8) as u32,
                        c_bstride: (m * n) as u32,
                        kper: part_octets(&config, k / 8) as u32,
                        _pad: [0; 3],
                    })
                    .to_vec()
                }
            };
            ctx.uniform_buffer("matmul params", &bytes)
        })
        .collect();
    // Split-k partials: per chunk, split x rows x columns f32, each chunk's
    // range aligned for binding (a word where there is no split).
    let align = (ctx.caps.limits.min_storage_buffer_offset_alignment as u64).max(16);
    let part_bytes: Vec<u64> = chunks
        .iter()
        .map(|ch| {
            let b = if split > 1 {
                split * ch.mc * ch.nc * 4
            } else {
                16
            };
            b.div_ceil(align) * align
        })
        .collect();
    let part = ctx.operand_buffer("matmul partials", part_bytes.iter().sum::<u64>().max(16))?;
    let reduce_groups = |ch: &Chunk| ctx.workgroups(ch.mc * ch.nc / 4, 256);
    let copies = (0..mm.a.count() as usize)
        .map(|copy| {
            let mut out = Vec::new();
            let mut part_at = 0;
            for ((ch, p), &pb) in chunks.iter().zip(&params).zip(&part_bytes) {
                // Rows of the stacked operands this chunk reads or writes.
                let a_rows = (ch.b0 * m + ch.m0, (ch.bc - 1) * m + ch.mc);
                let w_rows = (ch.b0 * n + ch.n0, (ch.bc - 1) * n + ch.nc);
                let mut resources = vec![
                    p.as_entire_binding(),
                    mm.a.binding(copy, a_rows.0 * k * s, a_rows.1 * k * s),
                    mm.w.binding(copy, w_rows.0 * wrow, (w_rows.1 * wrow).div_ceil(4) * 4),
                    mm.c.binding(copy, a_rows.0 * n * s, a_rows.1 * n * s),
                ];
                if matches!(family, Family::Block | Family::Coop { .. }) {
                    resources.push(wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &part,
                        offset: part_at,
                        size: std::num::NonZeroU64::new(pb),
                    }));
                }
                let bind_group = ctx.bind_group(pipe, &resources)?;
                let (cols, rws) = (ch.nc.div_ceil(bn) as u32, ch.mc.div_ceil(bm) as u32);
                let (x, y) = if config.rows_along_x() {
                    (rws, cols)
                } else {
                    (cols, rws)
                };
                out.push(Step {
                    pipeline: 0,
                    bind_group: bind_group.clone(),
                    workgroups: [x, y, (ch.bc * split) as u32],
                });
                if split > 1 {
                    out.push(Step {
                        pipeline: 1,
                        bind_group,
                        workgroups: [reduce_groups(ch), 1, 1],
                    });
                }
                part_at += pb;
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut keep = params;
    keep.push(part);
    Ok((copies, keep))
}

/// Octets of k each split part walks (the uniform's `kper`), for rows
/// of `k8` octets: an even share rounded up to whole k steps of the
/// split kernels (bk / 8 octets), so every part starts on a step (for
/// the cooperative GEMM, on a block of 32 weights, which it stages
/// whole); the last parts may be shorter, or empty. All of k without a
/// split.
fn part_octets(config: &MatmulConfig, k8: u64) -> u64 {
    let step = match *config {
        MatmulConfig::Block { bk, .. } | MatmulConfig::Coop { bk, .. } => (bk / 8).max(1) as u64,
        MatmulConfig::Tiled { .. }
        | MatmulConfig::Direct { .. }
        | MatmulConfig::SplitK { .. }
        | MatmulConfig::GemmSubgroup { .. }
        | MatmulConfig::Subgroup { .. }
        | MatmulConfig::Gemv { .. }
        | MatmulConfig::Resident { .. }
        | MatmulConfig::Rows { .. }
        | MatmulConfig::Lanes { .. } => 1,
    };
    k8.div_ceil(config.split() as u64).div_ceil(step) * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::DType;

    #[test]
    fn split_parts_are_whole_steps_by_hand() {
        let coop = |bk, split| MatmulConfig::Coop {
            tile_m: 16,
            tile_n: 64,
            frag_m: 1,
            frag_n: 2,
            bk,
            buffers: 1,
            accumulate: DType::F32,
            split,
        };
        // k = 4096 (512 octets) in 16 parts of 32 octets: 4 steps of 64 k.
        assert_eq!(part_octets(&coop(64, 16), 512), 32);
        // k = 11008 (1376 octets): 86 a part rounds up to 88 (11 steps of
        // 8 octets); 15 parts cover 1320, the 16th the last 56.
        assert_eq!(part_octets(&coop(64, 16), 1376), 88);
        assert_eq!(part_octets(&coop(64, 4), 1376), 344);
        // Steps of 32 k round to 4 octets; no split is all of k.
        assert_eq!(part_octets(&coop(32, 16), 1376), 88);
        assert_eq!(part_octets(&coop(64, 1), 1376), 1376);
        // More parts than steps: the first parts take a step, the rest none.
        assert_eq!(part_octets(&coop(64, 8), 12), 8);
        // The block GEMM: 49 octets in 4 parts of 13, rounded to steps of
        // 16 k (2 octets): 14, 14, 14 and 7; steps of 8 k keep 13.
        let block = |bk| MatmulConfig::Block {
            tile_m: 4,
            tile_n: 4,
            wg_m: 16,
            wg_n: 32,
            bk,
            split: 4,
        };
        assert_eq!(part_octets(&block(16), 49), 14);
        assert_eq!(part_octets(&block(8), 49), 13);
        // Kernels that do not split walk all of k.
        let gemv = MatmulConfig::Rows {
            rows: 4,
            wg: 64,
            subgroups: false,
        };
        assert_eq!(part_octets(&gemv, 49), 49);
    }
}
