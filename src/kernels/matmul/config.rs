//! The matmul kernels' configurations: which entry point, its tiles and
//! workgroup shape, what it needs from the device, and which of them the
//! tuner tries for a product of m rows.

use serde::{Deserialize, Serialize};

use crate::gpu::Capabilities;
use crate::kernels::DType;

/// Largest TILE_M / TILE_N the shaders hold (their `MAX_TILE`).
pub const MAX_TILE: u32 = 8;

/// Most activation rows the few-row product holds (its `MAX_M`).
pub const GEMV_MAX_M: u64 = 16;

/// Most accumulators per invocation of the few-row product (its `MAX_ACC`).
pub const GEMV_MAX_ACC: u64 = 64;
/// Most octets per row a GEMV step loads (`MAX_U` in the WGSL).
pub const GEMV_MAX_UNROLL: u32 = 4;

/// Workgroup memory of a block GEMM: two buffers of `bk` k-major rows of
/// (bm + 4) and (bn + 4) f32.
fn block_bytes(bm: u32, bn: u32, bk: u32) -> u64 {
    2 * bk as u64 * ((bm + 4) + (bn + 4)) as u64 * 4
}

/// The shader module a configuration runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `matmul.wgsl`.
    Classic,
    /// `matmul.wgsl` with `matmul_subgroup.wgsl` appended.
    ClassicSubgroup,
    /// The element storage and `matmul_block.wgsl`.
    Block,
    /// The element storage and `matmul_gemv.wgsl`.
    Gemv,
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
    /// The GPU-grade GEMM (`matmul_block.wgsl`): blocks of
    /// (tile_m * wg_m) x (tile_n * wg_n) outputs staged through
    /// double-buffered, k-major workgroup tiles, tile_m x tile_n outer
    /// products per invocation; `split` > 1 splits k over that many
    /// workgroups per block and sums their partials in a second pass.
    Block {
        /// Rows per invocation (4 or 8).
        tile_m: u32,
        /// Columns per invocation (4 or 8).
        tile_n: u32,
        /// Invocations along m.
        wg_m: u32,
        /// Invocations along n.
        wg_n: u32,
        /// k per step (8 or 16).
        bk: u32,
        /// Parts k is split into (1: no split).
        split: u32,
    },
    /// Few-row products (`matmul_gemv.wgsl`): a workgroup of `wg`
    /// invocations per `rows` rows of W, all m activation rows at once, so
    /// W is read once; reduced with subgroup operations where `subgroups`.
    Gemv {
        /// Rows of W (output columns) per workgroup (4 or 8).
        rows: u32,
        /// Invocations per workgroup (a power of two).
        wg: u32,
        /// Octets (8 elements) of each row loaded per step before any is
        /// used (1 ..= [`GEMV_MAX_UNROLL`]): loads in flight per invocation.
        unroll: u32,
        /// Whether the reduction uses subgroup operations.
        subgroups: bool,
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
            Self::Block {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
                split,
            } => {
                write!(
                    f,
                    "block {}x{} ({tile_m}x{tile_n}/inv) bk {bk}",
                    tile_m * wg_m,
                    tile_n * wg_n
                )?;
                if split > 1 {
                    write!(f, " split {split}")?;
                }
                Ok(())
            }
            Self::Gemv {
                rows,
                wg,
                unroll,
                subgroups,
            } => write!(
                f,
                "gemv {rows} rows wg {wg} x{unroll}{}",
                if subgroups { " sg" } else { "" }
            ),
        }
    }
}

impl MatmulConfig {
    /// The entry point in the shaders.
    pub fn entry(&self) -> &'static str {
        match self {
            Self::Tiled { .. } => "gemm_tiled",
            Self::Direct { .. } => "gemm_direct",
            Self::SplitK { .. } => "gemv_splitk",
            Self::Subgroup { .. } => "gemv_subgroup",
            Self::GemmSubgroup { .. } => "gemm_subgroup",
            Self::Block { .. } => "gemm_block",
            Self::Gemv {
                subgroups: true, ..
            } => "gemv_subgroup",
            Self::Gemv { .. } => "gemv",
        }
    }

    /// Which shader module: the classic kernels (`matmul.wgsl`, with
    /// `matmul_subgroup.wgsl` appended where subgroups are used), the block
    /// GEMM or the few-row product.
    pub fn family(&self) -> Family {
        match self {
            Self::Tiled { .. } | Self::Direct { .. } | Self::SplitK { .. } => Family::Classic,
            Self::Subgroup { .. } | Self::GemmSubgroup { .. } => Family::ClassicSubgroup,
            Self::Block { .. } => Family::Block,
            Self::Gemv { .. } => Family::Gemv,
        }
    }

    /// Whether it needs the subgroup module (and SUBGROUP).
    pub fn uses_subgroups(&self) -> bool {
        matches!(
            self,
            Self::Subgroup { .. }
                | Self::GemmSubgroup { .. }
                | Self::Gemv {
                    subgroups: true,
                    ..
                }
        )
    }

    fn tiles(&self) -> (u32, u32) {
        match *self {
            Self::Tiled { tile_m, tile_n, .. }
            | Self::Direct { tile_m, tile_n, .. }
            | Self::SplitK { tile_m, tile_n, .. }
            | Self::Subgroup { tile_m, tile_n, .. }
            | Self::GemmSubgroup { tile_m, tile_n, .. }
            | Self::Block { tile_m, tile_n, .. } => (tile_m, tile_n),
            Self::Gemv { rows, .. } => (MAX_TILE.min(16), rows),
        }
    }

    /// Parts k is split into.
    pub fn split(&self) -> u32 {
        match *self {
            Self::Block { split, .. } => split.max(1),
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::GemmSubgroup { .. }
            | Self::Subgroup { .. }
            | Self::Gemv { .. } => 1,
        }
    }

    /// The override constants of the pipeline for products of `m` rows.
    pub fn constants(&self, m: u64) -> Vec<(&'static str, f64)> {
        match *self {
            Self::Block {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
                split,
            } => {
                return vec![
                    ("BM", (tile_m * wg_m) as f64),
                    ("BN", (tile_n * wg_n) as f64),
                    ("TM", tile_m as f64),
                    ("TN", tile_n as f64),
                    ("BK", bk as f64),
                    ("SPLIT", split.max(1) as f64),
                ]
            }
            Self::Gemv {
                rows, wg, unroll, ..
            } => {
                return vec![
                    ("WG", wg as f64),
                    ("R", rows as f64),
                    ("M", m.clamp(1, GEMV_MAX_M) as f64),
                    ("U", unroll as f64),
                ]
            }
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::GemmSubgroup { .. }
            | Self::Subgroup { .. } => {}
        }
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
            Self::Block { .. } | Self::Gemv { .. } => unreachable!("returned above"),
        }
        c
    }

    /// Rows and columns of C one workgroup covers.
    pub fn block(&self) -> (u64, u64) {
        let (tm, tn) = self.tiles();
        match *self {
            Self::Tiled { wg_m, wg_n, .. }
            | Self::Direct { wg_m, wg_n, .. }
            | Self::Block { wg_m, wg_n, .. } => ((wg_m * tm) as u64, (wg_n * tn) as u64),
            Self::SplitK { .. } | Self::Subgroup { .. } => (tm as u64, tn as u64),
            Self::GemmSubgroup { wg_n, .. } => (tm as u64, (wg_n * tn) as u64),
            Self::Gemv { rows, .. } => (GEMV_MAX_M, rows as u64),
        }
    }

    /// Whether workgroup x walks row blocks (and y column blocks).
    pub fn rows_along_x(&self) -> bool {
        matches!(self, Self::GemmSubgroup { .. })
    }

    fn invocations(&self) -> u32 {
        match *self {
            Self::Tiled { wg_m, wg_n, .. }
            | Self::Direct { wg_m, wg_n, .. }
            | Self::Block { wg_m, wg_n, .. } => wg_m * wg_n,
            Self::SplitK { split, .. } | Self::Subgroup { split, .. } => split,
            Self::GemmSubgroup { wg_n, .. } => wg_n,
            Self::Gemv { wg, .. } => wg,
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
            // Two buffers of BK k-major rows of (BM + 4) and (BN + 4) f32.
            Self::Block {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
                ..
            } => block_bytes(tile_m * wg_m, tile_n * wg_n, bk),
            Self::Gemv { wg, .. } => 16 * wg as u64,
        }
    }

    /// Why this configuration cannot run on a device with `caps` for an
    /// m x n chunk with inner dimension k, if so.
    pub fn unsupported(
        &self,
        caps: &Capabilities,
        dtype: DType,
        (m, n, k): (u64, u64, u64),
    ) -> Option<String> {
        let (tm, tn) = self.tiles();
        let l = &caps.limits;
        if tm == 0 || tn == 0 || tm > MAX_TILE || tn > MAX_TILE {
            return Some(format!("tiles {tm}x{tn} outside 1..={MAX_TILE}"));
        }
        if matches!(self.family(), Family::Block | Family::Gemv) && !k.is_multiple_of(8) {
            return Some(format!("k = {k} is not a multiple of 8 (16-byte octets)"));
        }
        match *self {
            Self::Block {
                tile_m,
                tile_n,
                wg_m,
                wg_n,
                bk,
                split,
            } => {
                let ok_t = |t| t == 4 || t == 8;
                let (bm, bn, threads) = (tile_m * wg_m, tile_n * wg_n, wg_m * wg_n);
                if !ok_t(tile_m) || !ok_t(tile_n) || !(bk == 8 || bk == 16) || split == 0 {
                    return Some("block tiles of 4 or 8 per invocation, bk 8 or 16".into());
                }
                // Every invocation stages at most two octets per operand.
                let octets = bk / 8;
                if octets * bm > 2 * threads || octets * bn > 2 * threads {
                    return Some(format!(
                        "block {bm}x{bn} bk {bk} needs more than {threads} invocations to stage"
                    ));
                }
            }
            Self::Gemv {
                rows, wg, unroll, ..
            } => {
                if !(rows == 4 || rows == 8)
                    || !wg.is_power_of_two()
                    || !(1..=GEMV_MAX_UNROLL).contains(&unroll)
                {
                    return Some(format!(
                        "gemv needs 4 or 8 rows, a power-of-two workgroup and 1 to {GEMV_MAX_UNROLL} octets per step"
                    ));
                }
                if m > GEMV_MAX_M || m * rows as u64 > GEMV_MAX_ACC {
                    return Some(format!(
                        "gemv holds at most {GEMV_MAX_M} rows and {GEMV_MAX_ACC} accumulators"
                    ));
                }
            }
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::GemmSubgroup { .. }
            | Self::Subgroup { .. } => {}
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
            let sg = caps.subgroup_sizes.1;
            if wg_n > l.max_compute_workgroup_size_x || sg == 0 || wg_n % sg != 0 {
                return Some(format!(
                    "workgroup {wg_n} is not a multiple of the subgroup size {sg}"
                ));
            }
        }
        if self.uses_subgroups() && !caps.subgroups {
            return Some("the adapter lacks SUBGROUP".into());
        }
        let (bm, bn) = self.block();
        let max = l.max_compute_workgroups_per_dimension as u64;
        if m.div_ceil(bm) > max || n.div_ceil(bn) > max {
            return Some("more workgroups than max_compute_workgroups_per_dimension".into());
        }
        None
    }

    /// The configurations worth trying for `batch` products of m rows on
    /// a device with `caps`. GPUs get the GPU-grade kernels: for m <= 4 the
    /// few-row product (GEMV) with 1 to 4 octets per row in flight; for
    /// 4 < m <= 64 skinny blocks of (m rounded up to 16..64) x 128 outputs
    /// split over k, so W is read once and the GPU fills (and the few-row
    /// product up to m = 16); above, block GEMMs of 128x128, 128x64 and
    /// 64x64, split over k where the blocks alone would not fill the GPU.
    /// CPU adapters get the kernels shaped for SIMD drivers (direct,
    /// subgroup shuffles, split-k), plus one block GEMM and one few-row
    /// product, probed on a small slice.
    pub fn candidates(batch: u64, m: u64, caps: &Capabilities) -> Vec<Self> {
        let subgroups = caps.subgroups;
        // k steps of 16 where both buffers fit the workgroup memory, else 8.
        let room = caps.limits.max_compute_workgroup_storage_size as u64;
        let block = |tm: u32, tn: u32, bm: u32, bn: u32, split: u32| Self::Block {
            tile_m: tm,
            tile_n: tn,
            wg_m: bm / tm,
            wg_n: bn / tn,
            bk: if block_bytes(bm, bn, 16) <= room {
                16
            } else {
                8
            },
            split,
        };
        let gemv = |rows, wg, unroll| Self::Gemv {
            rows,
            wg,
            unroll,
            subgroups,
        };
        let few = m <= GEMV_MAX_M;
        let mut v = Vec::new();
        if !caps.cpu {
            if m <= 4 {
                for (wg, unroll) in [(128, 1), (128, 2), (128, 4), (64, 4), (256, 2)] {
                    v.push(gemv(4, wg, unroll));
                }
                return v;
            }
            if few {
                v.push(gemv(4, 128, 2));
            }
            if m <= 64 && batch == 1 {
                let bm = (m as u32).next_power_of_two().clamp(16, 64);
                for split in [4, 8, 16] {
                    v.push(block(4, 4, bm, 128, split));
                }
                return v;
            }
            v.push(block(8, 8, 128, 128, 1));
            v.push(block(8, 4, 128, 64, 1));
            v.push(block(8, 4, 64, 64, 1));
            if batch == 1 && m <= 512 {
                for split in [2, 4] {
                    v.push(block(8, 8, 128, 128, split));
                    v.push(block(8, 4, 64, 64, split));
                }
            }
            return v;
        }
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
                    wg_n: 8,
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
            v.push(gemv(4, 128, 2));
        }
        v
    }
}
