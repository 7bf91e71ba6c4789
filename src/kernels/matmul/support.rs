//! Whether a matmul configuration can run: on this device (limits,
//! features, cooperative matrices) and for this shape.

use super::config::{
    block_bytes, block_stages, lanes_fit, resident_octets, staged_slice_lanes, MatmulConfig,
    BLOCK_MAX_STAGE, GEMV_MAX_ACC, GEMV_MAX_BLOCK_M, GEMV_MAX_M, GEMV_MAX_STAGED, GEMV_MAX_UNROLL,
    MAX_TILE, RESIDENT_MAX_W, RESIDENT_MAX_X,
};
use super::coop::{coop_bytes, COOP_BKS, COOP_FRAGS, COOP_MAX_STAGE};
use super::Family;
use crate::gpu::Capabilities;
use crate::kernels::DType;

impl MatmulConfig {
    /// Invocations per workgroup.
    fn invocations(&self, caps: &Capabilities) -> u32 {
        match *self {
            Self::Coop { .. } => self.coop_blocks() * caps.subgroup_sizes.1,
            Self::Tiled { wg_m, wg_n, .. }
            | Self::Direct { wg_m, wg_n, .. }
            | Self::Block { wg_m, wg_n, .. } => wg_m * wg_n,
            Self::SplitK { split, .. } | Self::Subgroup { split, .. } => split,
            Self::GemmSubgroup { wg_n, .. } => wg_n,
            Self::Gemv { wg, .. } | Self::Resident { wg, .. } | Self::Rows { wg, .. } => wg,
            Self::Lanes { .. } => caps.subgroup_sizes.0,
        }
    }

    /// Workgroup memory, in bytes, for `dtype` operands.
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
            // `red` (gemv_staged's octets depend on m: see `unsupported`).
            Self::Gemv { wg, .. } | Self::Resident { wg, .. } => 16 * wg as u64,
            Self::Rows { .. } | Self::Lanes { .. } => 0,
            Self::Coop {
                tile_m,
                tile_n,
                bk,
                buffers,
                accumulate,
                ..
            } => coop_bytes(
                (tile_m, tile_n),
                (bk, buffers),
                self.coop_blocks(),
                accumulate,
            ),
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
        if self.family().computes_in(dtype) && !caps.supports(dtype) {
            return Some(format!(
                "{} operands need SHADER_F16 in this kernel (the block, gemv and rows kernels read them as packed halves without it)",
                dtype.name()
            ));
        }
        if tm == 0 || tn == 0 || tm > MAX_TILE || tn > MAX_TILE {
            return Some(format!("tiles {tm}x{tn} outside 1..={MAX_TILE}"));
        }
        if matches!(
            self.family(),
            Family::Block | Family::Gemv { .. } | Family::Rows { .. } | Family::Coop { .. }
        ) && !k.is_multiple_of(8)
        {
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
                // Every invocation stages at most BLOCK_MAX_STAGE octets
                // per operand.
                if block_stages(bm, bn, bk, threads) > BLOCK_MAX_STAGE {
                    return Some(format!(
                        "block {bm}x{bn} bk {bk} needs more than {threads} invocations to stage"
                    ));
                }
            }
            Self::Gemv {
                rows,
                wg,
                unroll,
                staged: true,
                blocks,
                groups,
                ..
            } => {
                if blocks
                    || groups != 1
                    || rows != 8
                    || !wg.is_power_of_two()
                    || (wg as u64) < GEMV_MAX_M
                    || !(1..=GEMV_MAX_UNROLL).contains(&unroll)
                {
                    return Some(format!(
                        "staged gemv needs 8 rows in one group, octets, a power-of-two workgroup of {GEMV_MAX_M} or more and 1 to {GEMV_MAX_UNROLL} octets per step"
                    ));
                }
                if m > GEMV_MAX_M {
                    return Some(format!("staged gemv holds at most {GEMV_MAX_M} rows"));
                }
                // Each invocation holds its share of the next step's
                // octets in registers.
                let lanes = staged_slice_lanes(m);
                if (rows * unroll) as u64 > GEMV_MAX_STAGED * lanes {
                    return Some(format!(
                        "staged gemv stages at most {GEMV_MAX_STAGED} octets per invocation ({rows} rows x {unroll} over {lanes} lanes for m = {m})"
                    ));
                }
                // `red`, and two buffers of 32 bytes per row of W, step
                // and slice of k.
                let slices = wg as u64 / lanes;
                let bytes = 16 * wg as u64 + 64 * (rows * unroll) as u64 * slices;
                if bytes > l.max_compute_workgroup_storage_size as u64 {
                    return Some(format!(
                        "staged gemv needs {bytes} bytes of workgroup memory for m = {m} (limit {})",
                        l.max_compute_workgroup_storage_size
                    ));
                }
            }
            Self::Gemv {
                rows,
                wg,
                unroll,
                blocks,
                subgroups,
                groups,
                ..
            } => {
                if blocks && m > GEMV_MAX_BLOCK_M {
                    return Some(format!(
                        "gemv by blocks holds at most {GEMV_MAX_BLOCK_M} rows"
                    ));
                }
                if !(rows == 4 || rows == 8)
                    || !wg.is_power_of_two()
                    || !(1..=GEMV_MAX_UNROLL).contains(&unroll)
                {
                    return Some(format!(
                        "gemv needs 4 or 8 rows, a power-of-two workgroup and 1 to {GEMV_MAX_UNROLL} octets per step"
                    ));
                }
                if !groups.is_power_of_two() || groups > wg {
                    return Some(format!(
                        "gemv needs a power-of-two number of row groups up to its workgroup ({groups} for {wg})"
                    ));
                }
                // Groups sum by shuffles within a subgroup of any size the
                // device may run.
                let lanes = wg / groups;
                if subgroups && groups > 1 && lanes > caps.subgroup_sizes.0 {
                    return Some(format!(
                        "gemv groups of {lanes} lanes do not fit subgroups of {}",
                        caps.subgroup_sizes.0
                    ));
                }
                if let Some(why) = few_rows_unfit("gemv", m, rows) {
                    return Some(why);
                }
            }
            Self::Resident { rows, wg, per } => {
                if !(rows == 4 || rows == 8) || !wg.is_power_of_two() || per == 0 {
                    return Some(
                        "resident gemv needs 4 or 8 rows, a power-of-two workgroup and a block or more per workgroup"
                            .into(),
                    );
                }
                let xo = resident_octets(k, wg);
                if m * xo > RESIDENT_MAX_X || rows as u64 * xo > RESIDENT_MAX_W {
                    return Some(format!(
                        "resident gemv holds at most {RESIDENT_MAX_X} activation and {RESIDENT_MAX_W} weight octets per invocation ({m} rows and {rows} rows of W x {xo} octets for k = {k} over {wg})"
                    ));
                }
                // Each half of `red` (2 x wg slots) takes m x rows sums of
                // every subgroup, of the smallest size the device may run.
                let sgs = (wg as u64).div_ceil(caps.subgroup_sizes.0.max(1) as u64);
                if caps.subgroups && sgs * m * rows as u64 > 2 * wg as u64 {
                    return Some(format!(
                        "resident gemv sums {m} x {rows} per subgroup in {} slots: too many for subgroups of {}",
                        2 * wg,
                        caps.subgroup_sizes.0
                    ));
                }
            }
            Self::Rows { rows, wg, .. } => {
                if !(rows == 4 || rows == 8) || wg < 4 || !wg.is_power_of_two() {
                    return Some(
                        "rows needs 4 or 8 rows per invocation and a power-of-two workgroup of 4 or more"
                            .into(),
                    );
                }
                if let Some(why) = few_rows_unfit("rows", m, rows) {
                    return Some(why);
                }
            }
            Self::Coop {
                tile_m,
                tile_n,
                frag_m,
                frag_n,
                bk,
                buffers,
                accumulate,
                split,
            } => {
                if let Some(why) = coop_unsupported(caps, dtype, accumulate) {
                    return Some(why);
                }
                if !COOP_FRAGS.contains(&frag_m)
                    || !COOP_FRAGS.contains(&frag_n)
                    || tile_m == 0
                    || tile_n == 0
                    || tile_m % (16 * frag_m) != 0
                    || tile_n % (16 * frag_n) != 0
                {
                    return Some(format!(
                        "cooperative blocks are whole subgroup blocks of {COOP_FRAGS:?} x {COOP_FRAGS:?} fragments"
                    ));
                }
                if split == 0 {
                    return Some("cooperative split-k needs at least one part".into());
                }
                if !COOP_BKS.contains(&bk) || !(buffers == 1 || buffers == 2) {
                    return Some(format!(
                        "cooperative steps of {COOP_BKS:?} k in 1 or 2 buffers"
                    ));
                }
                let threads = self.invocations(caps) as u64;
                // Every invocation stages at most COOP_MAX_STAGE octets per operand.
                let octets = (bk / 8) as u64 * tile_m.max(tile_n) as u64;
                if threads == 0 || octets.div_ceil(threads) > COOP_MAX_STAGE as u64 {
                    return Some(format!(
                        "{tile_m}x{tile_n} needs more than {threads} invocations to stage"
                    ));
                }
            }
            Self::Lanes { rows } => {
                let (lo, hi) = caps.subgroup_sizes;
                // Without subgroups the SUBGROUP check below says why.
                if caps.subgroups && (rows == 0 || !lanes_fit(caps, k)) {
                    return Some(format!(
                        "lanes needs subgroups of one size holding k in 4 vec4s per lane (k <= 16 x {lo}, subgroups {lo}..={hi})"
                    ));
                }
            }
            Self::Tiled { .. }
            | Self::Direct { .. }
            | Self::SplitK { .. }
            | Self::GemmSubgroup { .. }
            | Self::Subgroup { .. } => {}
        }
        if self.invocations(caps) > l.max_compute_invocations_per_workgroup {
            return Some(format!(
                "{} invocations per workgroup > limit {}",
                self.invocations(caps),
                l.max_compute_invocations_per_workgroup
            ));
        }
        if let Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } = *self {
            if wg_n > l.max_compute_workgroup_size_x || wg_m > l.max_compute_workgroup_size_y {
                return Some(format!("workgroup {wg_n}x{wg_m} exceeds the size limits"));
            }
        }
        if self.walks_blocks() && !k.is_multiple_of(32) {
            return Some(format!("k = {k} is not a multiple of 32 (blocks)"));
        }
        if let Self::Gemv { wg, .. } | Self::Resident { wg, .. } | Self::Rows { wg, .. } = *self {
            if wg > l.max_compute_workgroup_size_x {
                return Some(format!("workgroup {wg} exceeds the size limit"));
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
}

/// Why a few-row product (`name`) cannot hold m activation rows times
/// `rows` rows of W in its accumulators, if so.
fn few_rows_unfit(name: &str, m: u64, rows: u32) -> Option<String> {
    (m > GEMV_MAX_M || m * rows as u64 > GEMV_MAX_ACC)
        .then(|| format!("{name} holds at most {GEMV_MAX_M} rows and {GEMV_MAX_ACC} accumulators"))
}

/// Why the cooperative kernels cannot run `dtype` operands accumulated in
/// `accumulate` on a device with `caps`, if so.
pub fn coop_unsupported(caps: &Capabilities, dtype: DType, accumulate: DType) -> Option<String> {
    if dtype != DType::F16 {
        return Some("cooperative matrices take f16 operands".into());
    }
    if caps.coop.is_empty() {
        return Some(
            "not available: the device has no cooperative matrices (EXPERIMENTAL_COOPERATIVE_MATRIX)"
                .into(),
        );
    }
    if !caps.has_coop(16, DType::F16, accumulate) {
        return Some(format!(
            "not available: the device lists no 16x16x16 f16 -> {} cooperative matrices",
            accumulate.name()
        ));
    }
    if !caps.f16 || !caps.subgroups {
        return Some("the cooperative kernels need SHADER_F16 and SUBGROUP".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemv(wg: u32, unroll: u32, staged: bool, groups: u32, subgroups: bool) -> MatmulConfig {
        MatmulConfig::Gemv {
            rows: if staged { 8 } else { 4 },
            wg,
            unroll,
            subgroups,
            blocks: false,
            staged,
            groups,
        }
    }

    #[test]
    fn staged_gemv_limits_by_hand() {
        let mut caps = Capabilities::for_tests(false, (32, 32));
        caps.limits.max_compute_workgroup_storage_size = 32768;
        let why = |c: MatmulConfig, caps: &Capabilities, m| {
            c.unsupported(caps, DType::F16, (m, 4096, 4096))
        };
        // m = 5: slices of 8 lanes, 16 of them in 128. Four octets a step:
        // `red` 16 x 128 = 2048 bytes and two buffers of 8 rows x 4 octets
        // x 16 slices x 32 bytes = 32768: 34816 in all, past 32 KiB.
        let four = gemv(128, 4, true, 1, true);
        let no = why(four, &caps, 5).unwrap();
        assert!(no.contains("34816 bytes"), "{no}");
        // Two octets a step: 2048 + 16384 bytes.
        assert_eq!(why(gemv(128, 2, true, 1, true), &caps, 5), None);
        caps.limits.max_compute_workgroup_storage_size = 49152;
        assert_eq!(why(four, &caps, 5), None);
        // Each invocation holds 8 rows x 4 octets over its slice's lanes
        // in registers: 4 at m = 8, 32 at m = 1 (past GEMV_MAX_STAGED).
        assert_eq!(why(four, &caps, 8), None);
        let no = why(four, &caps, 1).unwrap();
        assert!(no.contains("at most 4 octets"), "{no}");
        // Row groups are for the plain GEMV only.
        assert!(why(gemv(128, 4, true, 2, true), &caps, 8).is_some());
    }

    #[test]
    fn resident_gemv_limits_by_hand() {
        let resident = |rows, wg, per| MatmulConfig::Resident { rows, wg, per };
        let why = |c: MatmulConfig, caps: &Capabilities, m, k| {
            c.unsupported(caps, DType::F16, (m, 4096, k))
        };
        let gpu = Capabilities::for_tests(false, (32, 32));
        // k = 4096 over 128 lanes: 4 octets each, so 2 activation rows
        // (8 octets held) and 8 rows of W (32 octets in flight) fit; 3
        // rows do not.
        assert_eq!(why(resident(8, 128, 4), &gpu, 2, 4096), None);
        let no = why(resident(4, 128, 4), &gpu, 3, 4096).unwrap();
        assert!(no.contains("3 rows and 4 rows of W x 4 octets"), "{no}");
        // k = 11008 over 256 lanes: 6 octets; 8 rows would be 48 in flight.
        assert_eq!(why(resident(4, 256, 4), &gpu, 1, 11008), None);
        assert!(why(resident(8, 256, 4), &gpu, 1, 11008).is_some());
        // `red`'s half holds 2 x 256 slots: 32 subgroups of 8 lanes with 4
        // x 4 sums each fill it, with 4 x 8 they do not; subgroups of 32
        // hold either.
        let small = Capabilities::for_tests(false, (8, 8));
        assert_eq!(why(resident(4, 256, 4), &small, 4, 4096), None);
        let no = why(resident(8, 256, 4), &small, 4, 4096).unwrap();
        assert!(no.contains("subgroups of 8"), "{no}");
        assert_eq!(why(resident(8, 256, 4), &gpu, 4, 4096), None);
        // Shapes it does not take at all, and no SUBGROUP.
        assert!(why(resident(6, 256, 4), &gpu, 1, 4096).is_some());
        assert!(why(resident(4, 192, 4), &gpu, 1, 4096).is_some());
        assert!(why(resident(4, 256, 0), &gpu, 1, 4096).is_some());
        let mut plain = gpu.clone();
        plain.subgroups = false;
        let no = why(resident(4, 256, 4), &plain, 1, 4096).unwrap();
        assert!(no.contains("SUBGROUP"), "{no}");
    }

    #[test]
    fn row_groups_fit_inside_the_smallest_subgroup() {
        let caps = Capabilities::for_tests(false, (16, 32));
        let fits = |c: MatmulConfig| c.unsupported(&caps, DType::F16, (1, 2048, 128)).is_none();
        // 128 lanes in 8 groups of 16: a group sits inside any subgroup.
        assert!(fits(gemv(128, 1, false, 8, true)));
        // 4 groups of 32 lanes: past subgroups of 16; the tree of the
        // kernel without subgroups takes them.
        assert!(!fits(gemv(128, 1, false, 4, true)));
        assert!(fits(gemv(128, 1, false, 4, false)));
        // Not a power of two, or more groups than lanes.
        assert!(!fits(gemv(128, 1, false, 3, false)));
        assert!(!fits(gemv(128, 1, false, 256, false)));
    }
}
