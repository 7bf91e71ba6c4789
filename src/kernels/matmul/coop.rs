//! The cooperative-matrix GEMM's host-side arithmetic
//! (`shaders/matmul_coop.wgsl`): the fragment and step sizes it takes, its
//! workgroup memory, and its walk over the blocks of C. Its configuration
//! is [`MatmulConfig::Coop`](super::MatmulConfig::Coop).

use crate::kernels::DType;

/// Fragments per subgroup block of the cooperative GEMM along m and n (its
/// accumulators cover 1, 2 or 4 of each).
pub const COOP_FRAGS: [u32; 3] = [1, 2, 4];
/// k per step of the cooperative GEMM (its `BK`).
pub const COOP_BKS: [u32; 2] = [32, 64];
/// Octets an invocation of the cooperative GEMM stages per operand and
/// step, at most (its `MAX_STAGE`).
pub const COOP_MAX_STAGE: u32 = 8;

/// Workgroup memory of the cooperative GEMM: `buffers` f16 tiles per
/// operand of bk + 8 halves per row, and a 16 x 16 staging fragment of the
/// accumulator type per subgroup block.
pub fn coop_bytes(
    (bm, bn): (u32, u32),
    (bk, buffers): (u32, u32),
    blocks: u32,
    accumulate: DType,
) -> u64 {
    buffers as u64 * (bm + bn) as u64 * (bk + 8) as u64 * 2
        + blocks as u64 * 256 * accumulate.size()
}

/// Block rows per band of the cooperative GEMM's walk over C (its `GROUP`).
pub const COOP_GROUP: u32 = 8;

/// The (column, row) block of C that workgroup (x, y) of a grid of
/// `groups` (columns, rows) computes in the cooperative GEMM (the host twin
/// of its `banded`): workgroups, in order of y then x, walk bands of
/// [`COOP_GROUP`] block rows, down each column of the band, then across, so
/// the blocks in flight share a few block rows of A and block columns of W
/// in the last-level cache instead of sweeping all of W.
pub fn coop_banded(x: u32, y: u32, (cols, rows): (u32, u32)) -> (u32, u32) {
    let i = y * cols + x;
    let band = COOP_GROUP * cols;
    let first = (i / band) * COOP_GROUP;
    let in_band = (rows - first).min(COOP_GROUP);
    let j = i % band;
    (j / in_band, first + j % in_band)
}

/// The k step of cooperative configurations recorded before it was a
/// field.
pub(super) fn default_bk() -> u32 {
    32
}

/// The split of cooperative configurations recorded before it was a field
/// (none).
pub(super) fn default_split() -> u32 {
    1
}

/// The tile buffers of cooperative configurations recorded before they
/// were a field.
pub(super) fn default_buffers() -> u32 {
    2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::matmul::MatmulConfig;
    use crate::kernels::Engine;

    #[test]
    fn the_banded_walk_covers_every_block_once_in_bands() {
        for grid in [(1, 1), (32, 4), (86, 16), (3, 7), (5, 9), (32, 17)] {
            let (cols, rows) = grid;
            let mut seen = std::collections::HashSet::new();
            for y in 0..rows {
                for x in 0..cols {
                    let (c, r) = coop_banded(x, y, grid);
                    assert!(c < cols && r < rows, "{grid:?}: ({x}, {y}) -> ({c}, {r})");
                    assert!(seen.insert((c, r)), "{grid:?}: ({c}, {r}) twice");
                }
            }
            assert_eq!(seen.len(), (cols * rows) as usize);
        }
        // By hand, 3 columns x 10 rows: the first band is rows 0..8 of
        // column 0, then of column 1; the last band (rows 8, 9) is short.
        let g = (3, 10);
        assert_eq!(coop_banded(0, 0, g), (0, 0));
        assert_eq!(coop_banded(2, 2, g), (1, 0)); // i = 8: column 1, row 0
        assert_eq!(coop_banded(1, 0, g), (0, 1));
        assert_eq!(coop_banded(1, 2, g), (0, 7)); // i = 7
        assert_eq!(coop_banded(0, 8, g), (0, 8)); // i = 24: the short band
        assert_eq!(coop_banded(1, 8, g), (0, 9));
        assert_eq!(coop_banded(2, 8, g), (1, 8));
        assert_eq!(coop_banded(2, 9, g), (2, 9));
    }

    #[test]
    fn cooperative_tile_arithmetic_by_hand() {
        let coop = |tile_m, tile_n, frag_m, frag_n| MatmulConfig::Coop {
            tile_m,
            tile_n,
            frag_m,
            frag_n,
            bk: 32,
            buffers: 2,
            accumulate: DType::F32,
            split: 1,
        };
        // 128 x 128 in subgroup blocks of 64 x 32: 2 x 4 = 8 blocks; of
        // 64 x 64: 2 x 2 = 4.
        assert_eq!(coop(128, 128, 4, 2).coop_blocks(), 8);
        assert_eq!(coop(128, 128, 4, 4).coop_blocks(), 4);
        assert_eq!(coop(128, 64, 2, 2).coop_blocks(), 8);
        assert_eq!(coop(64, 64, 2, 2).coop_blocks(), 4);
        let c = coop(128, 128, 4, 2);
        assert_eq!(c.block(), (128, 128));
        assert_eq!(c.engine(), Engine::Coop);
        assert_eq!(c.accumulate(), DType::F32);
        assert_eq!(c.split(), 1);
        assert_eq!(c.to_string(), "coop 128x128 (4x2 frags/sg) bk 32x2 acc f32");
        // Results recorded before bk and buffers were fields read as the
        // kernel ran then.
        let old: MatmulConfig = serde_json::from_str(
            r#"{"kernel":"coop","tile_m":128,"tile_n":128,"frag_m":4,"frag_n":2,"accumulate":"f32"}"#,
        )
        .unwrap();
        assert_eq!(old, c);
        // Split over k, named so.
        let skinny = MatmulConfig::Coop {
            tile_m: 16,
            tile_n: 64,
            frag_m: 1,
            frag_n: 4,
            bk: 32,
            buffers: 2,
            accumulate: DType::F32,
            split: 8,
        };
        assert_eq!(skinny.split(), 8);
        assert_eq!(skinny.coop_blocks(), 1);
        assert_eq!(
            skinny.to_string(),
            "coop 16x64 (1x4 frags/sg) bk 32x2 acc f32 split 8"
        );
        // SIMT kernels accumulate in f32 whatever the operands.
        let gemv = MatmulConfig::Gemv {
            rows: 4,
            wg: 128,
            unroll: 2,
            subgroups: true,
            blocks: false,
            staged: false,
            groups: 1,
        };
        assert_eq!(
            (gemv.engine(), gemv.accumulate()),
            (Engine::Simt, DType::F32)
        );
    }

    #[test]
    fn workgroup_memory_by_hand() {
        // Two buffers of (128 + 128) rows of 40 halves, and 8 fragments of
        // 256 f32: 40960 + 8192 = 48 KiB exactly.
        assert_eq!(coop_bytes((128, 128), (32, 2), 8, DType::F32), 49152);
        assert_eq!(coop_bytes((64, 64), (32, 2), 4, DType::F16), 20480 + 2048);
        // One buffer of (128 + 128) rows of 72 halves, 4 f32 fragments:
        // 36864 + 4096.
        assert_eq!(coop_bytes((128, 128), (64, 1), 4, DType::F32), 40960);
    }
}
