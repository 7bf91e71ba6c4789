//! The tensor-core prefill's host side (`flash_prefill_coop`,
//! `shaders/attention_coop.wgsl` with its fragment files): its module, the
//! tilings a GPU tries, and what each needs. Its configuration is
//! [`AttentionConfig::FlashPrefillCoop`].

use super::{module_source, split_kv, AttentionConfig, AttentionShape};
use crate::error::{Error, Result};
use crate::gpu::Capabilities;
use crate::kernels::DType;

/// The WGSL of `flash_prefill_coop`: appended to the f16 [`super::SHADER`], then
/// one of the two fragment files (see [`coop_module_source`]).
pub const SHADER_COOP: &str = include_str!("../../../shaders/attention_coop.wgsl");
/// `flash_prefill_coop`'s fragments as cooperative matrices.
pub const SHADER_COOP_FRAGS: &str = include_str!("../../../shaders/attention_coop_frags.wgsl");
/// `flash_prefill_coop`'s fragments written out per invocation, for
/// adapters without cooperative matrices.
pub const SHADER_COOP_EMULATED: &str =
    include_str!("../../../shaders/attention_coop_emulated.wgsl");
/// Largest head dimension `flash_prefill_coop` holds (8 fragments of Q and
/// of O per subgroup).
pub const MAX_COOP_HEAD_DIM: u64 = 128;
/// The (subgroups of 16 rows, keys per tile) of `flash_prefill_coop` a GPU
/// with cooperative matrices tries: 64 rows by tiles of 32 keys (31.8 KiB
/// of workgroup memory with subgroups of 32 at d = 128), and 32 rows, twice
/// the workgroups on an SM, by 32 or 16.
pub const COOP_TILES: [(u32, u32); 3] = [(4, 32), (2, 32), (2, 16)];

/// Entry points (run in order), override constants, workgroup bytes and
/// invocations per workgroup, as [`super::Layout`] holds them.
pub(super) type Sizes = (Vec<&'static str>, Vec<(&'static str, f64)>, u64, u32);

/// The WGSL of `flash_prefill_coop` at head dimension `d`: the f16 module
/// with the fragments as cooperative matrices, or, with `emulated` lanes
/// (a subgroup size dividing 16), written out over the lanes of such
/// subgroups (no cooperative-matrix directive).
pub fn coop_module_source(d: u64, emulated: Option<u32>) -> String {
    let base = module_source(DType::F16, d, false);
    let (base, frags) = match emulated {
        Some(lanes) => (
            base,
            SHADER_COOP_EMULATED.replacen(
                "const EMU_SG: u32 = 8u;",
                &format!("const EMU_SG: u32 = {lanes}u;"),
                1,
            ),
        ),
        None => (
            base.replacen(
                "enable f16;\n",
                "enable f16;\nenable wgpu_cooperative_matrix;\n",
                1,
            ),
            SHADER_COOP_FRAGS.to_string(),
        ),
    };
    // The kernel before its fragments: naga 30 lowers declarations in the
    // order they are first reached, and resolving one entry point's
    // overrides fails on a named override (`CWG`) lowered after an array
    // sized by an override expression (`kv`, which the fragments reach
    // first).
    format!("{base}\n{SHADER_COOP}\n{frags}")
}

/// Entry points, override constants, workgroup memory and invocations of
/// `config` (`blocks` subgroups of 16 rows, tiles of `keys` keys), or why
/// it does not apply to attention of `shape` in `dtype` on `caps`.
pub(super) fn coop_sizes(
    shape: &AttentionShape,
    dtype: DType,
    caps: &Capabilities,
    config: AttentionConfig,
    blocks: u32,
    keys: u32,
) -> Result<Sizes> {
    let s = *shape;
    let (lo, hi) = caps.subgroup_sizes;
    let d = s.head_dim;
    if split_kv(&s)
        || dtype != DType::F16
        || !caps.f16
        || !caps.subgroups
        || lo == 0
        || !d.is_multiple_of(16)
        || d > MAX_COOP_HEAD_DIM
        || !(keys == 16 || keys == 32)
        || blocks == 0
        || 16 * blocks > 2 * keys
    {
        return Err(Error::Invalid(format!(
                "{config} does not apply here (f16 prefill with SHADER_F16 and subgroups, head dimensions a multiple of 16 up to {MAX_COOP_HEAD_DIM}, tiles of 16 or 32 keys, at most twice as many keys a tile as rows a workgroup)"
            )));
    }
    let (blocks, keys) = (blocks as u64, keys as u64);
    // Subgroups a workgroup of `blocks` largest ones holds at the smallest
    // size: each has its own scratch.
    let subgroups = blocks * (hi / lo) as u64;
    let row = d / 4 + 2;
    let bytes = 8 * 2 * keys * row
        + 4 * subgroups * 16 * (keys + 4)
        + 8 * blocks * 16 * (keys / 4 + 2)
        + 4 * 3 * blocks * 16
        + 4;
    Ok((
        vec!["flash_prefill_coop"],
        vec![
            ("CS", blocks as f64),
            ("CK", keys as f64),
            ("CSG", hi as f64),
            ("CSUB", subgroups as f64),
        ],
        bytes,
        blocks as u32 * hi,
    ))
}

/// The module of `config` at head dimension `d`: cooperative fragments
/// where `caps` has 16x16x16 f16 -> f32 ones, else emulated over subgroups
/// of one size of 4 to 16 lanes, else why not.
pub(super) fn coop_source(caps: &Capabilities, d: u64, config: AttentionConfig) -> Result<String> {
    if caps.has_coop(16, DType::F16, DType::F32) {
        return Ok(coop_module_source(d, None));
    }
    let (lo, hi) = caps.subgroup_sizes;
    if lo != hi || !(4..=16).contains(&lo) || !lo.is_power_of_two() {
        return Err(Error::Invalid(format!(
            "{config} needs 16x16x16 f16 cooperative matrices, or one subgroup size of 4 to 16 lanes to emulate them (this adapter's are {lo}..={hi})"
        )));
    }
    Ok(coop_module_source(d, Some(lo)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::attention::Problem;

    fn caps(subgroup_sizes: (u32, u32)) -> Capabilities {
        Capabilities::for_tests(false, subgroup_sizes)
    }

    /// A GPU with 16x16x16 f16 cooperative matrices accumulating in f32,
    /// subgroups of 32 and 48 KiB of workgroup memory.
    fn tensor_cores() -> Capabilities {
        let mut c = caps((32, 32));
        c.coop = vec![crate::gpu::CoopMatrixShape {
            m: 16,
            n: 16,
            k: 16,
            ab_type: "f16".into(),
            cr_type: "f32".into(),
        }];
        c.limits.max_compute_workgroup_storage_size = 49152;
        c
    }

    fn prefill(dtype: DType, d: u64) -> Problem {
        Problem {
            shape: AttentionShape::new(1, 512, 512, 512, d),
            dtype,
        }
    }

    #[test]
    fn the_cooperative_prefill_is_tried_first_in_f16_where_there_are_tensor_cores() {
        let coop = |list: Vec<AttentionConfig>| {
            list.iter()
                .take_while(|c| matches!(c, AttentionConfig::FlashPrefillCoop { .. }))
                .count()
        };
        let gpu = tensor_cores();
        assert_eq!(coop(prefill(DType::F16, 128).configs(&gpu)), 3);
        assert_eq!(coop(prefill(DType::F16, 64).configs(&gpu)), 3);
        // Not in f32, not for heads of 72 (not whole fragments) or 256 (past
        // the 8 fragments held), not in decode, not without the fragments,
        // not on CPU adapters.
        let listed = |p: Problem, c: &Capabilities| {
            p.configs(c)
                .iter()
                .any(|c| matches!(c, AttentionConfig::FlashPrefillCoop { .. }))
        };
        assert!(!listed(prefill(DType::F32, 128), &gpu));
        assert!(!listed(prefill(DType::F16, 72), &gpu));
        assert!(!listed(prefill(DType::F16, 256), &gpu));
        assert!(listed(prefill(DType::F16, 96), &gpu));
        let decode = Problem {
            shape: AttentionShape::new(1, 1, 2048, 1, 128),
            dtype: DType::F16,
        };
        assert!(!listed(decode, &gpu));
        assert!(!listed(prefill(DType::F16, 128), &caps((32, 32))));
        let mut cpu = tensor_cores();
        cpu.cpu = true;
        assert!(!listed(prefill(DType::F16, 128), &cpu));
    }

    #[test]
    fn the_cooperative_prefill_sizes_its_workgroup_memory_by_hand() {
        let gpu = tensor_cores();
        let l = |blocks, keys| {
            prefill(DType::F16, 128)
                .layout(&gpu, AttentionConfig::FlashPrefillCoop { blocks, keys })
                .unwrap()
        };
        // d = 128: rows of 34 vec4<f16> (8 bytes); K and V tiles of 32
        // rows (17408); per subgroup 16 rows of 36 f32 scores (4 x 2304);
        // P, 16 rows of 10 vec4<f16> per block (4 x 1280); 3 floats a row
        // (768); the flag (4).
        let big = l(4, 32);
        assert_eq!(big.wg_bytes, 17408 + 9216 + 5120 + 768 + 4);
        assert_eq!(big.invocations, 128);
        assert_eq!(big.entries, ["flash_prefill_coop"]);
        assert!(big.source.contains("enable wgpu_cooperative_matrix;"));
        assert_eq!(l(2, 16).wg_bytes, 8704 + 2560 + 1536 + 384 + 4);
        // Q is staged where the tiles go: 64 rows need tiles of 32 keys.
        let q = prefill(DType::F16, 128);
        for (blocks, keys) in [(4, 16), (0, 32), (2, 64), (2, 8)] {
            let c = AttentionConfig::FlashPrefillCoop { blocks, keys };
            assert!(q.layout(&gpu, c).is_err(), "{c}");
        }
        // Where sizes vary (8 to 32 lanes), every subgroup of 8 has its
        // own scratch: 16 of them for 4 blocks of 32 lanes.
        let mut varied = gpu.clone();
        varied.subgroup_sizes = (8, 32);
        let v = q
            .layout(
                &varied,
                AttentionConfig::FlashPrefillCoop {
                    blocks: 4,
                    keys: 32,
                },
            )
            .unwrap();
        assert_eq!(v.wg_bytes, 17408 + 16 * 2304 + 5120 + 768 + 4);
        assert!(v.constants.contains(&("CSUB", 16.0)));
        // Without the fragments: emulated over subgroups of 4 to 16 lanes
        // of one size, or refused.
        let emulated = q
            .layout(
                &caps((8, 8)),
                AttentionConfig::FlashPrefillCoop {
                    blocks: 4,
                    keys: 32,
                },
            )
            .unwrap();
        assert!(!emulated.source.contains("wgpu_cooperative_matrix"));
        assert!(emulated.source.contains("const EMU_SG: u32 = 8u;"));
        for sizes in [(32, 32), (8, 16), (0, 0)] {
            let c = AttentionConfig::FlashPrefillCoop {
                blocks: 2,
                keys: 32,
            };
            assert!(q.layout(&caps(sizes), c).is_err(), "{sizes:?}");
        }
    }
}
