//! Which matmul configurations the tuner tries for a product, by what
//! the adapter is.

use super::config::{block_bytes, lanes_fit, MatmulConfig, GEMV_MAX_ACC, GEMV_MAX_M, MAX_TILE};
use super::ProductShape;
use crate::gpu::Capabilities;
use crate::kernels::DType;

/// The cooperative GEMMs a GPU tries: ((tile_m, tile_n), (frag_m, frag_n),
/// (bk, buffers)). On an H200 (see the README) subgroup blocks of 64 x 64
/// in 128 x 128 with steps of 64 k single-buffered won every prefill
/// product (S = 128 to 2048), 2-2.5x the double-buffered steps of 32 that
/// 48 KiB of workgroup memory allows; 256 x 128 came within 3-10% at S =
/// 2048; the smaller blocks are for products too small to fill the GPU
/// with 128 x 128; the double-buffered 128 x 128 stays as the reference.
type CoopShape = ((u32, u32), (u32, u32), (u32, u32));
const COOP_GPU: [CoopShape; 7] = [
    ((128, 128), (4, 4), (64, 1)),
    ((256, 128), (4, 4), (32, 1)),
    ((128, 128), (4, 2), (64, 1)),
    ((128, 64), (2, 4), (64, 1)),
    ((64, 128), (4, 2), (64, 1)),
    ((64, 64), (2, 2), (64, 1)),
    ((128, 128), (4, 2), (32, 2)),
];

/// The cooperative GEMMs a GPU tries for 4 < m <= 64 (a decode batch), as
/// (tile_n, frag_n, (bk, buffers)) for a block of m rounded up to 16..64
/// rows: one block row of subgroups owning all its rows, W streamed once
/// in 16-byte octets and split over k so the blocks fill the GPU. On an
/// H200 at B = 16 (see the README), subgroups of 16 x 32 in steps of 64 k
/// won every table: two of them in 16 x 64 blocks for f16 weights (18-45
/// us), one in 16 x 32 for q4_0 (38-111 us, whose dequantizing loads want
/// more workgroups). Double-buffered steps of 32 took 31-104 us for f16
/// (a row's 64 bytes a step against a whole 128-byte line), and steps of
/// 128 or four subgroups of 16 x 16 were 5-35% behind.
const COOP_SKINNY: [(u32, u32, (u32, u32)); 3] =
    [(64, 2, (64, 1)), (32, 1, (64, 1)), (128, 2, (64, 1))];

/// The resident GEMVs a GPU tries for long rows, as (rows, wg, per): 4
/// rows a block in workgroups of 128 or 256 walking 2 to 8 blocks, and 8
/// rows a block in 256 (16 octets of W in flight per invocation at k =
/// 4096 either way). Those whose activations or weights in flight do not
/// fit (`unsupported`) are left out: at k = 11008, all but workgroups of
/// 256 with 4 rows.
const RESIDENT_GPU: [(u32, u32, u32); 5] = [
    (4, 128, 4),
    (4, 256, 2),
    (4, 256, 4),
    (4, 256, 8),
    (8, 256, 4),
];

/// Lanes of a GEMV row group for rows of k elements, each lane loading
/// `unroll` octets a step: the smallest power of two that covers a row in
/// one step, at most `cap`.
fn short_row_lanes(k: u64, unroll: u32, cap: u32) -> u32 {
    let steps = k.div_ceil(8).div_ceil(unroll as u64) as u32;
    steps.next_power_of_two().min(cap)
}

impl MatmulConfig {
    /// The configurations worth trying for `batch` products of m rows on
    /// a device with `caps`. GPUs get the GPU-grade kernels: for m <= 4 the
    /// few-row product (GEMV) with 1 to 4 octets per row in flight, or a
    /// block of 32 weights per lane, and for long rows the resident GEMV
    /// (the activations held in registers, workgroups walking 2-8 blocks
    /// of rows); for 4 < m <= 64 skinny blocks of (m rounded up to 16..64)
    /// x 128 outputs split over k, so W is read once
    /// and the GPU fills (and up to m = 16 the staged GEMV), and for f16
    /// activations the cooperative-matrix GEMM in one block row of that
    /// height, split 4-16 ways over k; above, block GEMMs of 128x128,
    /// 128x64 and 64x64, split over k where the blocks alone would not
    /// fill the GPU, and for f16 activations the cooperative-matrix GEMM
    /// in blocks of 128x128, 128x64 and 64x64, split 2-8 ways for prompts
    /// of up to 512 rows (accumulating in f32 where the device lists it,
    /// else f16; any weight format, staged as f16). CPU
    /// adapters get the kernels shaped for SIMD drivers (direct, subgroup
    /// shuffles, split-k, and for few rows with k in blocks of 32 the
    /// row-walking product; for few rows the shuffles first, as the first
    /// listed wins near-ties, and before them, for one row of k <= 16 x
    /// the subgroup size, the lanes product), plus one block GEMM, one
    /// few-row product, one resident GEMV and one cooperative GEMM, probed
    /// on a small slice (or, without cooperative matrices, listed with the
    /// reason).
    ///
    /// Short rows (k below 1024, as attention's products over the head
    /// dimension have) also get few-row products with small workgroups, and
    /// on GPUs workgroups cut into row groups of just enough lanes for a
    /// row, so invocations do not idle past the end of a row.
    ///
    /// Without SHADER_F16, f16 products keep only the kernels that read
    /// packed halves and compute in f32 ([`super::Family::computes_in`]).
    pub fn candidates(shape: ProductShape, dtype: DType, caps: &Capabilities) -> Vec<Self> {
        let mut v = Self::listed(shape, dtype, caps);
        if !caps.supports(dtype) {
            v.retain(|c| !c.family().computes_in(dtype));
        }
        v
    }

    /// The configurations of [`Self::candidates`], whatever the device's
    /// f16 arithmetic.
    fn listed(shape: ProductShape, dtype: DType, caps: &Capabilities) -> Vec<Self> {
        let ProductShape { batch, m, k, .. } = shape;
        let subgroups = caps.subgroups;
        // A bm x bn block of tm x tn per invocation, in k steps of `bk`.
        let block_in = |tm: u32, tn: u32, (bm, bn): (u32, u32), bk: u32, split: u32| Self::Block {
            tile_m: tm,
            tile_n: tn,
            wg_m: bm / tm,
            wg_n: bn / tn,
            bk,
            split,
        };
        // k steps of 16 where both buffers fit the workgroup memory, else 8.
        let room = caps.limits.max_compute_workgroup_storage_size as u64;
        let block = |tm: u32, tn: u32, bm: u32, bn: u32, split: u32| {
            let bk = if block_bytes(bm, bn, 16) <= room {
                16
            } else {
                8
            };
            block_in(tm, tn, (bm, bn), bk, split)
        };
        let gemv_in = |rows, wg, unroll, groups| Self::Gemv {
            rows,
            wg,
            unroll,
            subgroups,
            blocks: false,
            staged: false,
            groups,
        };
        let gemv = |rows, wg, unroll| gemv_in(rows, wg, unroll, 1);
        // The resident GEMVs of `list` that hold this product (long rows
        // with subgroups, where the registers hold k), in order.
        let residents = |list: &[(u32, u32, u32)]| {
            list.iter()
                .map(|&(rows, wg, per)| Self::Resident { rows, wg, per })
                .filter(|c| {
                    subgroups && k >= 1024 && c.unsupported(caps, dtype, (m, shape.n, k)).is_none()
                })
                .collect::<Vec<_>>()
        };
        let accumulate = if caps.has_coop(16, DType::F16, DType::F32)
            || !caps.has_coop(16, DType::F16, DType::F16)
        {
            DType::F32
        } else {
            DType::F16
        };
        let coop = |(tile_m, tile_n), (frag_m, frag_n), (bk, buffers), split| Self::Coop {
            tile_m,
            tile_n,
            frag_m,
            frag_n,
            bk,
            buffers,
            accumulate,
            split,
        };
        let coop_too = dtype == DType::F16 && m > 64;
        // A decode batch's block of (m rounded up to 16..64) rows.
        let skinny_m = (m as u32).next_power_of_two().clamp(16, 64);
        let skinny_coop = dtype == DType::F16 && m > 4 && m <= 64 && batch == 1;
        let skinny = |(tile_n, frag_n, step), split| {
            coop((skinny_m, tile_n), (skinny_m / 16, frag_n), step, split)
        };
        let few = m <= GEMV_MAX_M;
        let mut v = Vec::new();
        if !caps.cpu {
            if coop_too {
                for (block, frags, step) in COOP_GPU {
                    v.push(coop(block, frags, step, 1));
                }
                // Short prompts have too few 128 x 128 blocks for the GPU
                // (S = 128: 32 for q on 132 SMs): split over k.
                if batch == 1 && m <= 512 {
                    for split in [2, 4] {
                        v.push(coop((128, 128), (4, 4), (64, 1), split));
                        v.push(coop((128, 64), (2, 4), (64, 1), split));
                    }
                    if m <= 128 {
                        v.push(coop((128, 128), (4, 4), (64, 1), 8));
                    }
                }
            }
            if skinny_coop {
                for shape in COOP_SKINNY {
                    for split in [4, 8, 16] {
                        v.push(skinny(shape, split));
                    }
                }
            }
            if m <= 4 {
                for (wg, unroll) in [(128, 1), (128, 2), (128, 4), (64, 4), (256, 2)] {
                    v.push(gemv(4, wg, unroll));
                }
                // (8 rows a workgroup, x1 and x2, lost every decode table
                // on an H200, f16 `q` included: not listed.)
                // A block of 32 weights per lane: fewer, wider loads for
                // the quantized storages (whose octets straddle words).
                if k.is_multiple_of(32) {
                    for (rows, wg) in [(4, 64), (4, 128)] {
                        v.push(Self::Gemv {
                            rows,
                            wg,
                            unroll: 1,
                            subgroups,
                            blocks: true,
                            staged: false,
                            groups: 1,
                        });
                    }
                }
                // The activations resident in registers and each
                // workgroup walking 2 to 8 blocks of rows, the next
                // block's loads issued before this one is summed: for long
                // rows, where the plain GEMV reloads its share of the
                // activations for every block of 4 rows (on an H200 the
                // 4096-row products then sat at 0.76-0.84 of the memory
                // roof, the 11008-row ones at 0.88-0.93), where it fits.
                v.extend(residents(&RESIDENT_GPU));
                if k < 1024 {
                    v.push(gemv(8, 32, 1));
                    v.push(gemv(4, 32, 2));
                    // Row groups of lanes just wide enough to cover a row
                    // in one step of `unroll` octets a lane (at most a
                    // subgroup, so the groups sum by shuffles).
                    let cap = if subgroups {
                        caps.subgroup_sizes.0.clamp(1, 32)
                    } else {
                        32
                    };
                    for unroll in [1, 2] {
                        let lanes = short_row_lanes(k, unroll, cap);
                        for wg in [128, 256] {
                            if lanes < wg {
                                v.push(gemv_in(4, wg, unroll, wg / lanes));
                            }
                        }
                    }
                }
                return v;
            }
            if few {
                // W staged in workgroup memory, an activation row per
                // invocation: one accumulator per row of W. (The octet
                // GEMV, m x 4 accumulators per invocation, ran 10-30x
                // slower than the skinny block at m = 16 on an H100.)
                for (wg, unroll) in [(128, 2), (128, 4), (256, 2)] {
                    v.push(Self::Gemv {
                        rows: 8,
                        wg,
                        unroll,
                        subgroups,
                        blocks: false,
                        staged: true,
                        groups: 1,
                    });
                }
            }
            if m <= 64 && batch == 1 {
                let bm = (m as u32).next_power_of_two().clamp(16, 64);
                for split in [4, 8, 16] {
                    v.push(block(4, 4, bm, 128, split));
                }
                return v;
            }
            // 128 x 128 in steps of 8 k first, as CUDA's SIMT GEMMs take
            // them: on an H200 they beat steps of 16 by 1.3-1.4x at S = 2048
            // (half the workgroup memory, twice the barriers). Then steps of
            // 16, where they fit (else `block` gives steps of 8 again).
            // On an H100, steps of 8 for the 8 x 4 blocks and 8 x 8 per
            // invocation in 128 x 64 and 64 x 64 blocks (split or not) lost
            // every table at S = 128 to 2048, so they are not listed.
            let wide = |split| block_in(8, 8, (128, 128), 8, split);
            v.push(wide(1));
            if block(8, 8, 128, 128, 1) != wide(1) {
                v.push(block(8, 8, 128, 128, 1));
            }
            v.push(block(8, 4, 128, 64, 1));
            v.push(block(8, 4, 64, 64, 1));
            if batch == 1 && m <= 512 {
                for split in [2, 4] {
                    v.push(wide(split));
                    v.push(block(8, 4, 64, 64, split));
                }
                // 64 x 64 in 8 parts for the smallest prompts (won up at S =
                // 128 on an H100).
                if m <= 128 {
                    v.push(block(8, 4, 64, 64, 8));
                }
            }
            return v;
        }
        // The shuffled products' smallest workgroup: one subgroup, as on
        // lavapipe's 8 lanes (its workgroup must be whole subgroups: 16
        // where llvmpipe runs 512-bit vectors).
        let one_subgroup = caps.subgroup_sizes.1.max(8);
        if !few {
            v.push(Self::Tiled {
                tile_m: 4,
                tile_n: 4,
                wg_m: 16,
                wg_n: 16,
                bk: 4,
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
                    wg_n: one_subgroup,
                });
                v.push(Self::GemmSubgroup {
                    tile_m: 8,
                    tile_n: 8,
                    wg_n: 64,
                });
            }
            v.push(block(8, 8, 128, 128, 1));
        } else {
            let tm = (m as u32).clamp(1, MAX_TILE);
            // One row with short rows (attention's decode scores, k = d):
            // a subgroup across k walking rows in order, first. One row
            // count only: 64 and 256 tied in every lavapipe probe table,
            // and near-ties are what flip between runs.
            if m == 1 && lanes_fit(caps, k) {
                v.push(Self::Lanes { rows: 256 });
            }
            // The first listed wins near-ties: with subgroups the shuffled
            // product, faster than the direct one in every lavapipe probe
            // table read so far (decode q: 6.5-7.4 ms against 7.4-13.1).
            if subgroups {
                v.push(Self::GemmSubgroup {
                    tile_m: tm,
                    tile_n: 4,
                    wg_n: one_subgroup,
                });
                if one_subgroup < 32 {
                    v.push(Self::GemmSubgroup {
                        tile_m: tm,
                        tile_n: 4,
                        wg_n: 32,
                    });
                }
            }
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
            v.push(gemv(4, 128, 2));
            // And one resident GEMV, the first that fits (m <= 4).
            if m <= 4 {
                v.extend(residents(&[(4, 128, 4), (4, 256, 4)]).first());
            }
            // The row-walking product, the quantized formats' fastest here:
            // 8 rows per invocation where the accumulators fit, else 4.
            if k.is_multiple_of(32) {
                let (rows, wg) = if m <= GEMV_MAX_ACC / 8 {
                    (8, 8)
                } else {
                    (4, 64)
                };
                v.push(Self::Rows {
                    rows,
                    wg,
                    subgroups,
                });
            }
        }
        if coop_too {
            let (block, frags, step) = COOP_GPU[0];
            v.push(coop(block, frags, step, 1));
        } else if skinny_coop {
            v.push(skinny(COOP_SKINNY[0], 8));
        }
        v
    }
}

#[cfg(test)]
mod tests;
