//! Which configurations an attention op tries, and what each needs: entry
//! points, override constants, workgroup memory and invocations.

use super::coop::{coop_sizes, coop_source, COOP_TILES};
use super::{
    module_source, split_kv, AttentionConfig, AttentionShape, MAX_BLOCK_KEYS, MAX_BLOCK_ROWS,
    MAX_CHUNK, MAX_GROUP, MAX_HELD_SCORES, MAX_KEYS_PER_ROUND, MAX_LANE_COLUMNS,
    MAX_ROWS_PER_INVOCATION, MAX_SUBGROUP_ROWS, MAX_TILE_COLUMNS, MAX_TILE_KEYS, MAX_TILE_ROWS,
    MIN_CHUNK,
};
use crate::error::{Error, Result};
use crate::gpu::Capabilities;
use crate::kernels::DType;

/// What a configuration's pipelines are built from and need, as the host
/// builds them: the WGSL module, entry points (run in order), override
/// constants, workgroup memory and invocations per workgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The whole module: the shared kernels, and the subgroup ones where
    /// the configuration uses them.
    pub source: String,
    /// Entry points, one dispatch each.
    pub entries: Vec<&'static str>,
    /// Override constants.
    pub constants: Vec<(&'static str, f64)>,
    /// Workgroup memory, bytes.
    pub wg_bytes: u64,
    /// Invocations per workgroup.
    pub invocations: u32,
}

/// The subgroup size `flash_prefill_sg` sums its scores over with a
/// butterfly whose steps are fixed when the pipeline is built: the
/// adapter's one subgroup size, or 0 (subgroupAdd) where sizes vary.
fn sum_lanes(caps: &Capabilities) -> u32 {
    let (lo, hi) = caps.subgroup_sizes;
    if caps.subgroups && lo == hi && lo.is_power_of_two() {
        lo
    } else {
        0
    }
}

/// Lanes per key or row of the subgroup kernels: the largest power of two
/// within both the smallest subgroup size and the `d4` vec4 columns of a
/// row (0 without subgroups). The kernels size everything else by the
/// subgroup size they actually run with.
fn lanes_per(caps: &Capabilities, d4: u64) -> u32 {
    let most = caps.subgroup_sizes.0.min(d4.min(u32::MAX as u64) as u32);
    if !caps.subgroups || most == 0 {
        0
    } else {
        1 << (31 - most.leading_zeros())
    }
}
/// Lanes per key the GPU split-KV decode tries: the three narrowest powers
/// of two from `lanes_per` down to the fewest that hold a row
/// (`MAX_LANE_COLUMNS` vec4 columns each). Fewer lanes a key means more of
/// a row per lane, so more bytes in flight per step: on an H200 at B = 1
/// 8 lanes (of 32) beat 16 and 32 in every decode table, and f16 rows
/// (half the bytes per load) ran at 0.49 of the memory roof against f32's
/// 0.70, so 4 lanes a key are tried too.
fn decode_lanes(caps: &Capabilities, d4: u64) -> Vec<u32> {
    let fewest = d4.div_ceil(MAX_LANE_COLUMNS).max(1);
    let mut lanes = Vec::new();
    let mut l = lanes_per(caps, d4);
    while l > 0 && l as u64 >= fewest {
        lanes.push(l);
        l /= 2;
    }
    let keep = lanes.len().saturating_sub(3);
    lanes.split_off(keep)
}

/// Keys per round the GPU split-KV decode tries with `lanes` lanes a key:
/// 1, 2 and 4 where a lane holds their columns (`MAX_LANE_COLUMNS` vec4s
/// of K and of V). On an H200 at B = 1 every chunk was a handful of
/// sequential rounds, and f16 decode ran at 0.59 of the memory roof with
/// one key a round.
fn decode_unrolls(lanes: u32, d4: u64) -> impl Iterator<Item = u32> {
    let columns = d4.div_ceil(lanes.max(1) as u64);
    [1, 2, 4]
        .into_iter()
        .filter(move |&u| u <= MAX_KEYS_PER_ROUND && u as u64 * columns <= MAX_LANE_COLUMNS)
}

/// Invocations of `flash_prefill_block` that share a query row: each holds
/// 4 of the row's `d4` vec4 columns (its `XTX`).
fn block_lanes(d4: u64) -> u64 {
    (d4 / 4).max(1)
}

/// Whether `flash_decode_lanes` fits: its workgroup is one whole subgroup
/// of `d / 16` lanes, 4 vec4 columns each, so the device's subgroups must
/// all be exactly that wide, and enough of them to hold the largest
/// chunk's scores.
fn lanes_fit(caps: &Capabilities, d: u64) -> bool {
    let (lo, hi) = caps.subgroup_sizes;
    caps.subgroups
        && d.is_multiple_of(16)
        && lo as u64 == d / 16
        && hi == lo
        && MAX_CHUNK.div_ceil(lo) <= MAX_HELD_SCORES
}

/// An attention problem as its pipelines see it: the shape and the element
/// type, without operands, so that the configurations and their pipelines
/// can be worked out, and compiled, without a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// The shape.
    pub shape: AttentionShape,
    /// Element type.
    pub dtype: DType,
}

impl Problem {
    /// The configurations worth trying on a device with `caps`, those
    /// exceeding its workgroup limits included (the tuner records why they
    /// cannot run).
    ///
    /// GPUs with 16x16x16 f16 cooperative matrices get the tensor-core
    /// prefill first for f16; GPUs get the register-tiled prefill next where
    /// the head dimension allows, and with subgroups the coalesced kernels (split-KV decode
    /// with lanes across the head dimension, FlashAttention-2-style prefill
    /// tiles); without subgroups, and on CPU adapters, the kernels with a
    /// row or key per invocation, which suit a SIMD driver, and one of the
    /// subgroup kernels and one register tiling, probed on a small slice;
    /// in decode, where their subgroups are exactly d / 16 lanes wide
    /// (lavapipe at d = 128), `flash_decode_lanes` first.
    pub fn configs(&self, caps: &Capabilities) -> Vec<AttentionConfig> {
        let gpu = !caps.cpu;
        let sg = caps.subgroups;
        let mut v = Vec::new();
        if split_kv(&self.shape) {
            // On CPU adapters whose subgroups are d / 16 lanes wide the
            // kernel shaped for them comes first: the first listed wins
            // near-ties.
            if sg && !gpu && lanes_fit(caps, self.shape.head_dim) {
                for chunk in [MAX_CHUNK, 256] {
                    v.push(AttentionConfig::FlashDecodeLanes { chunk });
                }
            }
            // GPUs with subgroups wide enough for a row get the coalesced
            // kernel, the others one key per invocation.
            let gpu_lanes = if sg && gpu {
                decode_lanes(caps, self.shape.head_dim / 4)
            } else {
                Vec::new()
            };
            for chunk in [MIN_CHUNK, 128, 256, MAX_CHUNK] {
                // A chunk much longer than the context only wastes invocations.
                if chunk > MIN_CHUNK && (chunk as u64) >= 2 * self.shape.keys {
                    continue;
                }
                if chunk < MAX_CHUNK {
                    // Workgroups of 64 lost to 128 in every H200 table; 256
                    // beat 128 at 256 keys (a group's keys are sequential
                    // round trips, and a wider workgroup has fewer each), so
                    // 512 is tried too, where the adapter's limits take it.
                    for &lanes in &gpu_lanes {
                        for unroll in decode_unrolls(lanes, self.shape.head_dim / 4) {
                            for wg in [128, 256, 512] {
                                let c = AttentionConfig::FlashDecodeSubgroup {
                                    chunk,
                                    wg,
                                    lanes,
                                    unroll,
                                };
                                if self.fits(caps, c) {
                                    v.push(c);
                                }
                            }
                        }
                    }
                }
                if gpu_lanes.is_empty() {
                    for wg in [32, 64, 128] {
                        v.push(AttentionConfig::FlashDecode { chunk, wg });
                    }
                }
            }
            if sg && !gpu {
                v.push(AttentionConfig::FlashDecodeSubgroup {
                    chunk: 256,
                    wg: 64,
                    lanes: lanes_per(caps, self.shape.head_dim / 4),
                    unroll: 1,
                });
            }
            return v;
        }
        let tile = |lanes, rows, keys| AttentionConfig::FlashPrefillTile {
            lanes,
            rows,
            keys,
            wg: 128,
        };
        let most = lanes_per(caps, self.shape.head_dim / 4);
        // f16 on the tensor cores first, where the adapter has them.
        if gpu && caps.has_coop(16, DType::F16, DType::F32) {
            v.extend(
                COOP_TILES
                    .into_iter()
                    .map(|(blocks, keys)| AttentionConfig::FlashPrefillCoop { blocks, keys })
                    .filter(|&c| self.layout(caps, c).is_ok()),
            );
        }
        // The register-tiled kernel where the head dimension allows (a
        // multiple of 16, and whole keys per invocation).
        let blocks: Vec<_> = [(32, 16), (32, 32)]
            .into_iter()
            .map(|(rows, keys)| AttentionConfig::FlashPrefillBlock { rows, keys })
            .filter(|&c| self.layout(caps, c).is_ok())
            .collect();
        if gpu {
            v.extend(&blocks);
        }
        if sg && gpu {
            for (lanes, rows, keys) in [(4, 2, 32), (4, 2, 16), (8, 2, 32), (4, 1, 32)] {
                if lanes <= most {
                    v.push(tile(lanes, rows, keys));
                }
            }
            if v.len() > blocks.len() {
                return v;
            }
        }
        // Without subgroups the per-row kernel; CPU adapters also the
        // subgroup kernels shaped for them and one tile configuration.
        if sg {
            let wg = caps.subgroup_sizes.1.max(32);
            for rows in [2, 4, 8] {
                v.push(AttentionConfig::FlashPrefillSubgroup { rows, wg });
            }
            if most >= 4 {
                v.push(tile(4, 2, 16));
            }
        }
        for keys in [16, 32] {
            v.push(AttentionConfig::FlashPrefill {
                rows: MAX_BLOCK_ROWS as u32,
                keys,
                per_inv: 1,
            });
        }
        // On a CPU adapter each tile element read serves 4 rows; the
        // register-tiled kernel is probed too, on a small slice.
        if !gpu {
            v.push(AttentionConfig::FlashPrefill {
                rows: MAX_BLOCK_ROWS as u32,
                keys: 16,
                per_inv: MAX_ROWS_PER_INVOCATION,
            });
            v.extend(blocks.first());
        }
        v
    }

    /// Whether `config` applies here and its workgroup fits the adapter's
    /// limits (invocations and workgroup memory).
    fn fits(&self, caps: &Capabilities, config: AttentionConfig) -> bool {
        self.layout(caps, config).is_ok_and(|l| {
            l.invocations <= caps.limits.max_compute_invocations_per_workgroup
                && l.wg_bytes <= caps.limits.max_compute_workgroup_storage_size as u64
        })
    }

    /// The module, entry points, override constants, workgroup bytes and
    /// invocations of `config`, or why it does not apply here (the
    /// device's limits are checked when its pipelines are built).
    pub fn layout(&self, caps: &Capabilities, config: AttentionConfig) -> Result<Layout> {
        let s = self.shape;
        let size = self.dtype.size();
        let (entries, constants, wg_bytes, invocations) = match config {
            AttentionConfig::FlashPrefill {
                rows,
                keys,
                per_inv,
            } => {
                if keys == 0
                    || keys > MAX_TILE_KEYS
                    || !(1..=MAX_ROWS_PER_INVOCATION).contains(&per_inv)
                    || !rows.is_multiple_of(per_inv)
                    || split_kv(&s)
                {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply to this problem (tiles of 1..={MAX_TILE_KEYS} keys, 1..={MAX_ROWS_PER_INVOCATION} rows per invocation dividing the workgroup's, prefill shapes)"
                    )));
                }
                (
                    vec!["flash_prefill"],
                    vec![
                        ("BR", rows as f64),
                        ("BC", keys as f64),
                        ("RPI", per_inv as f64),
                    ],
                    2 * keys as u64 * s.head_dim * size,
                    rows / per_inv,
                )
            }
            AttentionConfig::FlashPrefillSubgroup { rows, wg } => {
                let (lo, hi) = caps.subgroup_sizes;
                if !caps.subgroups || lo == 0 {
                    return Err(Error::Invalid(format!(
                        "{config} needs SUBGROUP, which this adapter lacks"
                    )));
                }
                let columns = (s.head_dim / 4).div_ceil(lo as u64);
                if rows == 0
                    || rows > MAX_SUBGROUP_ROWS
                    || columns > MAX_LANE_COLUMNS
                    || wg < hi
                    || split_kv(&s)
                {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply here (1..={MAX_SUBGROUP_ROWS} rows, at most {MAX_LANE_COLUMNS} vec4 columns per lane for subgroups of {lo}, workgroups of at least {hi})"
                    )));
                }
                (
                    vec!["flash_prefill_sg"],
                    vec![
                        ("TR", rows as f64),
                        ("CH", columns as f64),
                        ("RGW", (wg / lo) as f64),
                        ("SGW", wg as f64),
                        ("SUM_LANES", sum_lanes(caps) as f64),
                    ],
                    0,
                    wg,
                )
            }
            AttentionConfig::FlashDecodeSubgroup {
                chunk,
                wg,
                lanes,
                unroll,
            } => {
                let most = lanes_per(caps, s.head_dim / 4);
                let lpk = if lanes == 0 { most } else { lanes };
                if !split_kv(&s)
                    || !wg.is_power_of_two()
                    || chunk == 0
                    || lpk == 0
                    || !lpk.is_power_of_two()
                    || lpk > most
                    || wg < caps.subgroup_sizes.1.max(lpk)
                {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply here (decode with subgroups, at most {MAX_GROUP} query heads per KV head, power-of-two workgroups at least a subgroup wide and lanes per key, at most {most} lanes per key)"
                    )));
                }
                let lv = (s.head_dim / 4).div_ceil(lpk as u64);
                if unroll == 0
                    || unroll > MAX_KEYS_PER_ROUND
                    || lv * unroll as u64 > MAX_LANE_COLUMNS
                {
                    return Err(Error::Invalid(format!(
                        "{config}: {lv} vec4 columns per lane for {lpk} lanes a key, {unroll} keys a round (at most {MAX_LANE_COLUMNS} columns and {MAX_KEYS_PER_ROUND} keys)"
                    )));
                }
                let g = s.group();
                (
                    vec!["flash_decode_sg", "flash_decode_reduce"],
                    vec![
                        ("WG", wg as f64),
                        ("CHUNK", chunk as f64),
                        ("GROUP", g as f64),
                        ("LPK", lpk as f64),
                        ("LV", lv as f64),
                        ("KU", unroll as f64),
                    ],
                    (wg / lpk) as u64 * g * (8 + s.head_dim * 4),
                    wg,
                )
            }
            AttentionConfig::FlashDecodeLanes { chunk } => {
                // One whole subgroup of d / 16 lanes, 4 vec4 columns each.
                let lanes = s.head_dim / 16;
                let (lo, hi) = caps.subgroup_sizes;
                if !split_kv(&s) || chunk == 0 || !lanes_fit(caps, s.head_dim) {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply here (decode with subgroups of exactly head_dim / 16 = {lanes} lanes; this adapter's are {lo}..={hi})"
                    )));
                }
                (
                    vec!["flash_decode_lanes", "flash_decode_reduce"],
                    vec![
                        ("WG", lanes as f64),
                        ("CHUNK", chunk as f64),
                        ("GROUP", s.group() as f64),
                    ],
                    0,
                    lanes as u32,
                )
            }
            AttentionConfig::FlashPrefillBlock { rows, keys } => {
                let d4 = s.head_dim / 4;
                let tx = block_lanes(d4);
                if split_kv(&s)
                    || !d4.is_multiple_of(4)
                    || rows == 0
                    || rows % 4 != 0
                    || rows as u64 > MAX_BLOCK_ROWS
                    || keys == 0
                    || keys % 4 != 0
                    || !(keys as u64).is_multiple_of(tx)
                    || keys as u64 / tx > MAX_BLOCK_KEYS as u64
                {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply here (prefill, head dimensions a multiple of 16, up to {MAX_BLOCK_ROWS} rows in fours, tiles of a multiple of 4 and of {tx} keys, at most {MAX_BLOCK_KEYS} per invocation)"
                    )));
                }
                let (rows, keys) = (rows as u64, keys as u64);
                // q, then K or V, padded by a vec4 a row; P padded alike;
                // the rows' maxima and sums.
                let bytes = 16 * ((rows + keys) * (d4 + 1) + rows * (keys / 4 + 1)) + 4 * rows * tx;
                (
                    vec!["flash_prefill_block"],
                    vec![("XR", rows as f64), ("XC", keys as f64)],
                    bytes,
                    (rows / 4 * tx) as u32,
                )
            }
            AttentionConfig::FlashPrefillTile {
                lanes,
                rows,
                keys,
                wg,
            } => {
                let most = lanes_per(caps, s.head_dim / 4);
                let cv = (s.head_dim / 4).div_ceil(lanes as u64);
                if split_kv(&s)
                    || !lanes.is_power_of_two()
                    || lanes > most
                    || rows == 0
                    || rows > MAX_TILE_ROWS
                    || keys == 0
                    || keys % 8 != 0
                    || wg % lanes != 0
                    || cv > MAX_TILE_COLUMNS
                {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply here (prefill with subgroups of at least {lanes} lanes, 1 or 2 rows, tiles of a multiple of 8 keys, at most 16 vec4 columns per lane)"
                    )));
                }
                (
                    vec!["flash_prefill_tile"],
                    vec![
                        ("LPR", lanes as f64),
                        ("RPL", rows as f64),
                        ("CV", cv as f64),
                        ("BCK", keys as f64),
                        ("TWG", wg as f64),
                    ],
                    2 * keys as u64 * s.head_dim * 4,
                    wg,
                )
            }
            AttentionConfig::FlashPrefillCoop { blocks, keys } => {
                coop_sizes(&self.shape, self.dtype, caps, config, blocks, keys)?
            }
            AttentionConfig::FlashDecode { chunk, wg } => {
                if !split_kv(&s) || !wg.is_power_of_two() || chunk == 0 {
                    return Err(Error::Invalid(format!(
                        "{config} does not apply to this problem (decode with at most {MAX_GROUP} query heads per KV head, power-of-two workgroups)"
                    )));
                }
                let g = s.group();
                (
                    vec!["flash_decode_partial", "flash_decode_reduce"],
                    vec![
                        ("WG", wg as f64),
                        ("CHUNK", chunk as f64),
                        ("GROUP", g as f64),
                    ],
                    g * s.head_dim * 4 + g * chunk as u64 * 4 + wg as u64 * 64,
                    wg,
                )
            }
        };
        let plain = |subgroup| module_source(self.dtype, s.head_dim, subgroup);
        let source = match config {
            AttentionConfig::FlashPrefill { .. }
            | AttentionConfig::FlashPrefillBlock { .. }
            | AttentionConfig::FlashDecode { .. } => plain(false),
            AttentionConfig::FlashPrefillSubgroup { .. }
            | AttentionConfig::FlashDecodeSubgroup { .. }
            | AttentionConfig::FlashDecodeLanes { .. }
            | AttentionConfig::FlashPrefillTile { .. } => plain(true),
            AttentionConfig::FlashPrefillCoop { .. } => coop_source(caps, s.head_dim, config)?,
        };
        Ok(Layout {
            source,
            entries,
            constants,
            wg_bytes,
            invocations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(subgroup_sizes: (u32, u32)) -> Capabilities {
        Capabilities::for_tests(false, subgroup_sizes)
    }

    #[test]
    fn the_lanes_kernel_needs_subgroups_of_d_over_16_that_hold_a_chunk() {
        // lavapipe: 8 lanes at d = 128, 64 scores a lane.
        assert!(lanes_fit(&caps((8, 8)), 128));
        assert!(!lanes_fit(&caps((8, 8)), 64));
        assert!(!lanes_fit(&caps((4, 8)), 128));
        // The narrowest subgroup WebGPU allows, 4 lanes at d = 64: 128.
        assert!(lanes_fit(&caps((4, 4)), 64));
        // 2 lanes would hold 256 scores each, past MAX_HELD.
        assert!(!lanes_fit(&caps((2, 2)), 32));
    }

    #[test]
    fn prefill_sums_by_butterfly_only_where_the_subgroup_size_is_fixed() {
        assert_eq!(sum_lanes(&caps((8, 8))), 8);
        assert_eq!(sum_lanes(&caps((32, 32))), 32);
        // Sizes that vary (Intel, Apple) or none: subgroupAdd.
        assert_eq!(sum_lanes(&caps((8, 32))), 0);
        assert_eq!(sum_lanes(&caps((0, 0))), 0);
    }

    #[test]
    fn decode_tries_the_three_narrowest_lane_counts_that_hold_a_row() {
        // d = 128 (32 vec4s): 8 columns a lane at most, so 4 lanes a key.
        assert_eq!(decode_lanes(&caps((32, 32)), 32), [16, 8, 4]);
        assert_eq!(decode_lanes(&caps((64, 64)), 32), [16, 8, 4]);
        assert_eq!(decode_lanes(&caps((8, 16)), 32), [8, 4]);
        // d = 64 (16 vec4s): down to 2 lanes.
        assert_eq!(decode_lanes(&caps((32, 32)), 16), [8, 4, 2]);
        // Subgroups narrower than the fewest lanes a row allows, or none.
        assert!(decode_lanes(&caps((2, 2)), 32).is_empty());
        assert!(decode_lanes(&caps((0, 0)), 32).is_empty());
    }

    #[test]
    fn every_listed_configuration_lays_out_at_every_subgroup_size() {
        // Subgroups of 4 to 64 lanes, fixed or varying, on CPU adapters and
        // GPUs with 48 KiB of workgroup memory: prefill and decode at d =
        // 64 and 128, both dtypes. The tensor-core prefill is listed
        // without cooperative matrices, with the reason.
        let sizes = [
            (4, 4),
            (8, 8),
            (16, 16),
            (32, 32),
            (64, 64),
            (8, 32),
            (32, 64),
        ];
        for sizes in sizes {
            for cpu in [false, true] {
                let mut caps = Capabilities::for_tests(cpu, sizes);
                caps.limits.max_compute_workgroup_storage_size = 49152;
                for (batch, rows, keys, q_len) in [(1, 512, 512, 512), (4, 1, 2048, 1)] {
                    for (d, dtype) in [(64, DType::F32), (128, DType::F32), (128, DType::F16)] {
                        let problem = Problem {
                            shape: AttentionShape::new(batch, rows, keys, q_len, d),
                            dtype,
                        };
                        for c in problem.configs(&caps) {
                            if matches!(c, AttentionConfig::FlashPrefillCoop { .. }) {
                                continue;
                            }
                            if let Err(e) = problem.layout(&caps, c) {
                                panic!("{c}: {sizes:?} lanes, cpu {cpu}, d = {d}, L = {keys}: {e}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn decode_loads_as_many_keys_a_round_as_a_lane_holds_columns_for() {
        let unrolls = |lanes, d4| decode_unrolls(lanes, d4).collect::<Vec<_>>();
        // d = 128: 2 columns a lane at 16 lanes (4 keys: 8 columns), 4 at
        // 8 lanes (2 keys), 8 at 4 lanes (1 key).
        assert_eq!(unrolls(16, 32), [1, 2, 4]);
        assert_eq!(unrolls(8, 32), [1, 2]);
        assert_eq!(unrolls(4, 32), [1]);
        // d = 64 at 8 lanes: 2 columns, 4 keys.
        assert_eq!(unrolls(8, 16), [1, 2, 4]);
        // A row wider than a lane holds: none.
        assert!(unrolls(2, 32).is_empty());
    }
}
