//! The matmul kernels' configurations: their tiles, workgroup shape and
//! the units they compute on. Which module, entry point and override
//! constants each runs is in `source.rs`, what each needs from the device
//! in `support.rs`, which of them the tuner tries in `candidates.rs`, and
//! how each is named in tables in `name.rs`.

use serde::{Deserialize, Serialize};

use crate::kernels::{DType, Engine};

/// Largest TILE_M / TILE_N the shaders hold (their `MAX_TILE`).
pub const MAX_TILE: u32 = 8;

/// Most activation rows the few-row product holds (its `MAX_M`).
pub const GEMV_MAX_M: u64 = 16;

/// Most accumulators per invocation of the few-row product (its `MAX_ACC`).
pub const GEMV_MAX_ACC: u64 = 64;
/// Most activation rows the few-row product holds when it takes blocks of
/// 32 weights (its `MAX_XM`).
pub const GEMV_MAX_BLOCK_M: u64 = 4;
/// Invocations per k-slice of the staged GEMV (its `MP`): one per
/// activation row, m rounded up to a power of two.
pub fn staged_slice_lanes(m: u64) -> u64 {
    m.clamp(1, GEMV_MAX_M).next_power_of_two()
}
/// Most octets of a step one invocation of the staged GEMV stages
/// (`MAX_SO` in the WGSL): rows x unroll over its slice's lanes.
pub const GEMV_MAX_STAGED: u64 = 4;
/// Most octets per row a GEMV step loads (`MAX_U` in the WGSL).
pub const GEMV_MAX_UNROLL: u32 = 4;
/// Most activation octets an invocation of the resident GEMV holds, over
/// all its rows (`MAX_XO` in the WGSL).
pub const RESIDENT_MAX_X: u64 = 8;
/// Most weight octets an invocation of the resident GEMV has in flight
/// (`MAX_PF` in the WGSL).
pub const RESIDENT_MAX_W: u64 = 32;

/// Octets of a row of `k` each of `wg` invocations of the resident GEMV
/// holds (its `XO`).
pub fn resident_octets(k: u64, wg: u32) -> u64 {
    (k / 8).div_ceil(wg.max(1) as u64)
}

/// Whether the lanes product (`gemv_lanes`) holds rows of `k` on a device
/// with `caps`: its workgroup is one whole subgroup, so the device's
/// subgroups must all be one size, and each lane holds 4 vec4s of the
/// activation row (k <= 16 x the subgroup size).
pub fn lanes_fit(caps: &crate::gpu::Capabilities, k: u64) -> bool {
    let (lo, hi) = caps.subgroup_sizes;
    caps.subgroups && lo > 0 && lo == hi && k <= 16 * lo as u64
}

/// Octets per operand and k step one invocation of the block GEMM stages,
/// at most (its `MAX_STAGE`).
pub const BLOCK_MAX_STAGE: u32 = 2;

/// Octets per operand and k step each of `threads` invocations of a
/// `bm` x `bn` block stages (the block GEMM's `STAGES`): exact, so the
/// shader's staging loops hold no slot that is never used.
pub(super) fn block_stages(bm: u32, bn: u32, bk: u32, threads: u32) -> u32 {
    ((bk / 8) * bm.max(bn)).div_ceil(threads.max(1))
}

/// Workgroup memory of a block GEMM: two buffers of `bk` k-major rows of
/// (bm + 4) and (bn + 4) f32.
pub(super) fn block_bytes(bm: u32, bn: u32, bk: u32) -> u64 {
    2 * bk as u64 * ((bm + 4) + (bn + 4)) as u64 * 4
}

/// A GEMV's row groups in results written before the field existed.
fn one_group() -> u32 {
    1
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
        /// Whether each invocation takes blocks of 32 weights per row
        /// (`load_w32`, k a multiple of 32, m <= [`GEMV_MAX_BLOCK_M`])
        /// instead of octets: fewer, wider loads for the block storages.
        #[serde(default)]
        blocks: bool,
        /// Whether W's octets are staged in workgroup memory and each
        /// invocation takes one activation row of a k-slice
        /// (`gemv_staged`: 4 < m <= 16, one accumulator per row of W).
        #[serde(default)]
        staged: bool,
        /// Row groups per workgroup: `wg / groups` lanes walk k for each
        /// group's `rows` rows (short rows, such as attention's scores over
        /// a head, would leave most lanes idle). 1 for older results.
        #[serde(default = "one_group")]
        groups: u32,
    },
    /// Few-row products with the activations resident
    /// (`matmul_gemv_resident.wgsl`, needs SUBGROUP): each invocation of a
    /// workgroup of `wg` holds its octets of every activation row in
    /// registers, loaded once, while the workgroup walks `per` blocks of
    /// `rows` rows of W, issuing the next block's loads before summing
    /// this one's.
    Resident {
        /// Rows of W (output columns) per block (4 or 8).
        rows: u32,
        /// Invocations per workgroup (a power of two).
        wg: u32,
        /// Blocks of `rows` rows each workgroup walks.
        per: u32,
    },
    /// Few-row products for CPU adapters (`matmul_rows.wgsl`): each
    /// invocation walks all of k for `rows` rows of W and every activation
    /// row, 32 weights at a time; no workgroup memory or reduction.
    Rows {
        /// Rows of W (output columns) per invocation (4 or 8).
        rows: u32,
        /// Invocations per workgroup.
        wg: u32,
        /// Whether the activations are shared by subgroup shuffles.
        subgroups: bool,
    },
    /// One-row products with short rows for CPU adapters (`gemv_lanes` in
    /// `matmul_subgroup.wgsl`, needs SUBGROUP, k <= 16 x the subgroup
    /// size): a workgroup is one subgroup across k, holding the activation
    /// row and walking `rows` rows of W in order, one `subgroupAdd` each.
    Lanes {
        /// Rows of W (output columns) per workgroup.
        rows: u32,
    },
    /// Tensor cores through cooperative matrices (`matmul_coop.wgsl`, f16
    /// operands): blocks of tile_m x tile_n outputs, each subgroup owning
    /// frag_m x frag_n fragments of 16 x 16, accumulated in `accumulate`.
    Coop {
        /// Rows per workgroup.
        tile_m: u32,
        /// Columns per workgroup.
        tile_n: u32,
        /// 16-row fragments per subgroup (1, 2 or 4).
        frag_m: u32,
        /// 16-column fragments per subgroup (1, 2 or 4).
        frag_n: u32,
        /// k per step (32 or 64).
        #[serde(default = "super::coop::default_bk")]
        bk: u32,
        /// Tile buffers: 2 stage the next step while this one multiplies,
        /// 1 leaves room for deeper steps.
        #[serde(default = "super::coop::default_buffers")]
        buffers: u32,
        /// The accumulators' type (f32, or f16 where the device lists only that).
        accumulate: DType,
        /// Parts k is split into (1: no split): each part's workgroup
        /// writes f32 partials that a second pass sums into C, so few
        /// blocks (a decode batch of 16 rows, a short prompt) still fill
        /// the GPU.
        #[serde(default = "super::coop::default_split")]
        split: u32,
    },
}

impl MatmulConfig {
    /// The arithmetic units it computes on.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Coop { .. } => Engine::Coop,
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::Subgroup { .. }
            | Self::GemmSubgroup { .. }
            | Self::Block { .. }
            | Self::Gemv { .. }
            | Self::Resident { .. }
            | Self::Rows { .. }
            | Self::Lanes { .. } => Engine::Simt,
        }
    }

    /// The precision it accumulates in (f16 operands are converted to f32
    /// by every SIMT kernel).
    pub fn accumulate(&self) -> DType {
        match *self {
            Self::Coop { accumulate, .. } => accumulate,
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::Subgroup { .. }
            | Self::GemmSubgroup { .. }
            | Self::Block { .. }
            | Self::Gemv { .. }
            | Self::Resident { .. }
            | Self::Rows { .. }
            | Self::Lanes { .. } => DType::F32,
        }
    }

    /// Subgroup blocks of the cooperative GEMM's workgroup (0 otherwise).
    pub(super) fn coop_blocks(&self) -> u32 {
        match *self {
            Self::Coop {
                tile_m,
                tile_n,
                frag_m,
                frag_n,
                ..
            } => (tile_m / (16 * frag_m).max(1)) * (tile_n / (16 * frag_n).max(1)),
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::Subgroup { .. }
            | Self::GemmSubgroup { .. }
            | Self::Block { .. }
            | Self::Gemv { .. }
            | Self::Resident { .. }
            | Self::Rows { .. }
            | Self::Lanes { .. } => 0,
        }
    }

    /// Whether it walks k a block of 32 weights at a time (`load_w32`), so
    /// k must be a multiple of 32.
    pub fn walks_blocks(&self) -> bool {
        matches!(self, Self::Rows { .. } | Self::Gemv { blocks: true, .. })
    }

    pub(super) fn tiles(&self) -> (u32, u32) {
        match *self {
            Self::Tiled { tile_m, tile_n, .. }
            | Self::Direct { tile_m, tile_n, .. }
            | Self::SplitK { tile_m, tile_n, .. }
            | Self::Subgroup { tile_m, tile_n, .. }
            | Self::GemmSubgroup { tile_m, tile_n, .. }
            | Self::Block { tile_m, tile_n, .. } => (tile_m, tile_n),
            Self::Gemv { rows, .. } | Self::Resident { rows, .. } | Self::Rows { rows, .. } => {
                (MAX_TILE.min(16), rows)
            }
            // One activation row and one row of W per step.
            Self::Lanes { .. } => (1, 1),
            Self::Coop { frag_m, frag_n, .. } => (frag_m, frag_n),
        }
    }

    /// Parts k is split into.
    pub fn split(&self) -> u32 {
        match *self {
            Self::Block { split, .. } | Self::Coop { split, .. } => split.max(1),
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::GemmSubgroup { .. }
            | Self::Subgroup { .. }
            | Self::Gemv { .. }
            | Self::Resident { .. }
            | Self::Rows { .. }
            | Self::Lanes { .. } => 1,
        }
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
            Self::Gemv { rows, groups, .. } => (GEMV_MAX_M, (rows * groups.max(1)) as u64),
            Self::Resident { rows, per, .. } => (GEMV_MAX_M, (rows * per) as u64),
            Self::Rows { rows, wg, .. } => (GEMV_MAX_M, (rows * wg) as u64),
            Self::Lanes { rows } => (1, rows as u64),
            Self::Coop { tile_m, tile_n, .. } => (tile_m as u64, tile_n as u64),
        }
    }

    /// Whether workgroup x walks row blocks (and y column blocks).
    pub fn rows_along_x(&self) -> bool {
        matches!(self, Self::GemmSubgroup { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::matmul::Family;

    #[test]
    fn block_invocations_stage_one_or_two_octets_a_step() {
        // 128 x 128 by 256 invocations: bk 16 is 2 octets a row, 256 rows
        // of A and W octets each, so one; bk 8 half a slot, rounded up.
        assert_eq!(block_stages(128, 128, 16, 256), 1);
        assert_eq!(block_stages(128, 128, 8, 256), 1);
        // 64 x 64 by 128 (8 x 4 tiles): 128 octets each, one.
        assert_eq!(block_stages(64, 64, 16, 128), 1);
        // Skinny 16 x 128 by 128 (4 x 4 tiles): W's 256 octets need two.
        assert_eq!(block_stages(16, 128, 16, 128), 2);
        assert_eq!(block_stages(16, 128, 16, 128), BLOCK_MAX_STAGE);
    }

    #[test]
    fn gemv_by_blocks_is_named_apart() {
        let gemv = |blocks| MatmulConfig::Gemv {
            rows: 4,
            wg: 64,
            unroll: 1,
            subgroups: true,
            blocks,
            staged: false,
            groups: 1,
        };
        assert_eq!(gemv(true).to_string(), "gemv 4 rows wg 64 b32 sg");
        let staged = MatmulConfig::Gemv {
            rows: 8,
            wg: 128,
            unroll: 4,
            subgroups: false,
            blocks: false,
            staged: true,
            groups: 1,
        };
        assert_eq!(staged.to_string(), "gemv 8 rows wg 128 staged x4");
        assert_eq!(staged.entry(), "gemv_staged");
        // A slice holds one invocation per activation row, m rounded up.
        let lanes: Vec<u64> = [1, 5, 8, 9, 16].map(staged_slice_lanes).to_vec();
        assert_eq!(lanes, [1, 8, 8, 16, 16]);
        assert_eq!(gemv(false).to_string(), "gemv 4 rows wg 64 x1 sg");
        assert_eq!(gemv(true).block(), gemv(false).block());
        // Row groups: 8 groups of 16 lanes cover 8 x 4 columns.
        let grouped = MatmulConfig::Gemv {
            rows: 4,
            wg: 128,
            unroll: 1,
            subgroups: true,
            blocks: false,
            staged: false,
            groups: 8,
        };
        assert_eq!(grouped.block(), (GEMV_MAX_M, 32));
        assert_eq!(grouped.to_string(), "gemv 4 rows wg 128 in 8 groups x1 sg");
        // Results written before the field existed read as octets.
        let old: MatmulConfig = serde_json::from_str(
            r#"{"kernel":"gemv","rows":4,"wg":64,"unroll":1,"subgroups":true}"#,
        )
        .unwrap();
        assert_eq!(old, gemv(false));
    }

    #[test]
    fn resident_gemv_by_hand() {
        let c = MatmulConfig::Resident {
            rows: 4,
            wg: 256,
            per: 8,
        };
        // 8 blocks of 4 rows: a workgroup covers 32 columns.
        assert_eq!(c.block(), (GEMV_MAX_M, 32));
        assert_eq!(c.entry(), "gemv_resident");
        assert_eq!(c.family(), Family::Gemv { subgroups: true });
        assert!(c.uses_subgroups());
        assert_eq!(c.to_string(), "gemv resident 8 blocks of 4 wg 256 sg");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"kernel":"resident","rows":4,"wg":256,"per":8}"#);
        // Octets of a row each invocation holds: 512 over 256 and 128;
        // 1376 (k = 11008) over 256 rounds up to 6.
        assert_eq!(resident_octets(4096, 256), 2);
        assert_eq!(resident_octets(4096, 128), 4);
        assert_eq!(resident_octets(11008, 256), 6);
    }

    #[test]
    fn row_walking_product_by_hand() {
        let rows = MatmulConfig::Rows {
            rows: 8,
            wg: 8,
            subgroups: true,
        };
        // 8 invocations of 8 rows: a workgroup covers 64 columns.
        assert_eq!(rows.block(), (GEMV_MAX_M, 64));
        assert_eq!(rows.entry(), "gemv_rows_subgroup");
        assert_eq!(rows.family(), Family::Rows { subgroups: true });
        assert!(rows.uses_subgroups());
        assert_eq!(rows.to_string(), "rows 8/inv wg 8 sg");
        let plain = MatmulConfig::Rows {
            rows: 4,
            wg: 64,
            subgroups: false,
        };
        assert_eq!(plain.entry(), "gemv_rows");
        assert!(!plain.uses_subgroups());
    }

    #[test]
    fn lanes_product_by_hand() {
        let lanes = MatmulConfig::Lanes { rows: 64 };
        // A workgroup per activation row and 64 rows of W.
        assert_eq!(lanes.block(), (1, 64));
        assert_eq!(lanes.entry(), "gemv_lanes");
        assert_eq!(lanes.family(), Family::ClassicSubgroup);
        assert!(lanes.uses_subgroups());
        assert_eq!(lanes.to_string(), "lanes 64 rows");
        let json = serde_json::to_string(&lanes).unwrap();
        assert_eq!(json, r#"{"kernel":"lanes","rows":64}"#);
    }
}
