//! The matmul kernels' WGSL: the shader files, how the host assembles a
//! module from an activation storage, a weight storage and a kernel, and
//! which module, entry point and override constants a configuration runs.

use super::config::{block_stages, resident_octets, staged_slice_lanes, MatmulConfig, GEMV_MAX_M};
use crate::dtype::{Format, Quant};
use crate::gpu::Capabilities;
use crate::kernels::{source, DType};

/// The shader module a configuration runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `matmul.wgsl`.
    Classic,
    /// `matmul.wgsl` with `matmul_subgroup.wgsl` appended.
    ClassicSubgroup,
    /// The element storage and `matmul_block.wgsl`.
    Block,
    /// The element storage and `matmul_gemv.wgsl`, with
    /// `matmul_gemv_subgroup.wgsl` and `matmul_gemv_resident.wgsl` appended
    /// where `subgroups`.
    Gemv {
        /// Whether the subgroup reduction is in the module.
        subgroups: bool,
    },
    /// The element storage and `matmul_rows.wgsl`, with
    /// `matmul_rows_subgroup.wgsl` appended where `subgroups`.
    Rows {
        /// Whether the subgroup kernel is in the module.
        subgroups: bool,
    },
    /// `matmul_coop.wgsl`, accumulating in `accumulate`.
    Coop {
        /// The accumulators' type.
        accumulate: DType,
    },
}

impl Family {
    /// Whether its kernels compute in `dtype` itself, so need SHADER_F16
    /// for f16: the classic kernels (their f16 variant declares `f16`
    /// values) and the cooperative GEMM. The others read f16 operands as
    /// packed halves (`unpack2x16float`) and compute in f32.
    pub fn computes_in(&self, dtype: DType) -> bool {
        match self {
            Self::Classic | Self::ClassicSubgroup | Self::Coop { .. } => dtype == DType::F16,
            Self::Block | Self::Gemv { .. } | Self::Rows { .. } => false,
        }
    }

    /// Whether its kernels read W through a weight storage, so take every
    /// weight format (the classic kernels take float weights of the
    /// activations' type only; the cooperative GEMM stages any format as
    /// f16).
    pub fn any_weights(&self) -> bool {
        match self {
            Self::Block | Self::Gemv { .. } | Self::Rows { .. } | Self::Coop { .. } => true,
            Self::Classic | Self::ClassicSubgroup => false,
        }
    }
}

/// What a configuration runs in the shaders: its module, entry point and
/// override constants.
impl MatmulConfig {
    /// Every entry point it dispatches, in order: its own, then, split over
    /// k, the pass that sums the parts.
    pub fn entries(&self) -> Vec<&'static str> {
        let mut v = vec![self.entry()];
        if self.split() > 1 {
            v.push("gemm_reduce");
        }
        v
    }

    /// The entry point in the shaders.
    pub fn entry(&self) -> &'static str {
        match self {
            Self::Tiled { .. } => "gemm_tiled",
            Self::Direct { .. } => "gemm_direct",
            Self::SplitK { .. } => "gemv_splitk",
            Self::Subgroup { .. } => "gemv_subgroup",
            Self::GemmSubgroup { .. } => "gemm_subgroup",
            Self::Block { .. } => "gemm_block",
            Self::Gemv { staged: true, .. } => "gemv_staged",
            Self::Gemv {
                subgroups: true, ..
            } => "gemv_subgroup",
            Self::Gemv { .. } => "gemv",
            Self::Resident { .. } => "gemv_resident",
            Self::Rows {
                subgroups: true, ..
            } => "gemv_rows_subgroup",
            Self::Rows { .. } => "gemv_rows",
            Self::Lanes { .. } => "gemv_lanes",
            Self::Coop { .. } => "gemm_coop",
        }
    }

    /// Which shader module: the classic kernels (`matmul.wgsl`, with
    /// `matmul_subgroup.wgsl` appended where subgroups are used), the block
    /// GEMM or the few-row product.
    pub fn family(&self) -> Family {
        match self {
            Self::Tiled { .. } | Self::Direct { .. } | Self::SplitK { .. } => Family::Classic,
            Self::Subgroup { .. } | Self::GemmSubgroup { .. } | Self::Lanes { .. } => {
                Family::ClassicSubgroup
            }
            Self::Block { .. } => Family::Block,
            Self::Gemv { subgroups, .. } => Family::Gemv {
                subgroups: *subgroups,
            },
            Self::Resident { .. } => Family::Gemv { subgroups: true },
            Self::Rows { subgroups, .. } => Family::Rows {
                subgroups: *subgroups,
            },
            Self::Coop { accumulate, .. } => Family::Coop {
                accumulate: *accumulate,
            },
        }
    }

    /// Whether it needs the subgroup module (and SUBGROUP).
    pub fn uses_subgroups(&self) -> bool {
        matches!(
            self,
            Self::Subgroup { .. }
                | Self::GemmSubgroup { .. }
                | Self::Lanes { .. }
                | Self::Coop { .. }
                | Self::Resident { .. }
                | Self::Gemv {
                    subgroups: true,
                    ..
                }
                | Self::Rows {
                    subgroups: true,
                    ..
                }
        )
    }

    /// The override constants of the pipeline for products of `m` rows
    /// and inner dimension `k` of `dtype` activations on a device with
    /// `caps`.
    pub fn constants(
        &self,
        (m, k): (u64, u64),
        dtype: DType,
        caps: &Capabilities,
    ) -> Vec<(&'static str, f64)> {
        match *self {
            Self::Coop {
                tile_m,
                tile_n,
                frag_m,
                frag_n,
                bk,
                buffers,
                split,
                ..
            } => {
                return vec![
                    ("BM", tile_m as f64),
                    ("BN", tile_n as f64),
                    ("FM", frag_m as f64),
                    ("FN", frag_n as f64),
                    ("BK", bk as f64),
                    ("BUFS", buffers as f64),
                    ("SGS", caps.subgroup_sizes.1 as f64),
                    ("SPLIT", split.max(1) as f64),
                ]
            }
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
                    (
                        "STAGES",
                        block_stages(tile_m * wg_m, tile_n * wg_n, bk, wg_m * wg_n) as f64,
                    ),
                ]
            }
            Self::Gemv {
                rows,
                wg,
                unroll,
                blocks,
                staged,
                groups,
                ..
            } => {
                let m = m.clamp(1, GEMV_MAX_M);
                return vec![
                    ("WG", wg as f64),
                    ("R", rows as f64),
                    ("G", groups.max(1) as f64),
                    ("M", m as f64),
                    ("U", unroll as f64),
                    ("UNIT", if blocks { 32.0 } else { 8.0 }),
                    // The staged kernel's workgroup memory is sized by
                    // WG / MP: one slice elsewhere.
                    (
                        "MP",
                        if staged {
                            staged_slice_lanes(m) as f64
                        } else {
                            wg as f64
                        },
                    ),
                ];
            }
            // The module's other kernels see one group, octets and one
            // slice, as the plain GEMV's do.
            Self::Resident { rows, wg, per } => {
                return vec![
                    ("WG", wg as f64),
                    ("R", rows as f64),
                    ("G", 1.0),
                    ("M", m.clamp(1, GEMV_MAX_M) as f64),
                    ("U", 1.0),
                    ("UNIT", 8.0),
                    ("MP", wg as f64),
                    ("XO", resident_octets(k, wg) as f64),
                    ("PER", per as f64),
                ];
            }
            Self::Rows { rows, wg, .. } => {
                return vec![
                    ("WG", wg as f64),
                    ("R", rows as f64),
                    ("M", m.clamp(1, GEMV_MAX_M) as f64),
                ]
            }
            // A workgroup is one subgroup (`unsupported` checks that all
            // subgroups are that size).
            Self::Lanes { rows } => {
                return vec![
                    ("WG_N", caps.subgroup_sizes.0 as f64),
                    ("LANE_ROWS", rows as f64),
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
            Self::GemmSubgroup { wg_n, .. } => c.extend([
                ("WG_N", wg_n as f64),
                // Reading a block ahead: faster with f32 operands, slower
                // with f16 (see matmul_subgroup.wgsl).
                ("AHEAD", if dtype == DType::F32 { 1.0 } else { 0.0 }),
            ]),
            Self::Block { .. }
            | Self::Gemv { .. }
            | Self::Resident { .. }
            | Self::Rows { .. }
            | Self::Lanes { .. }
            | Self::Coop { .. } => {
                unreachable!("returned above")
            }
        }
        c
    }
}

/// The WGSL of the tiled, direct and split-k kernels.
pub const SHADER: &str = include_str!("../../../shaders/matmul.wgsl");
/// The WGSL of the subgroup kernels: appended to [`SHADER`], whose
/// declarations they use (see [`subgroup_module`]).
pub const SHADER_SUBGROUP: &str = include_str!("../../../shaders/matmul_subgroup.wgsl");

/// The WGSL of the GPU-grade GEMM (after an element storage).
pub const SHADER_BLOCK: &str = include_str!("../../../shaders/matmul_block.wgsl");
/// The cooperative GEMM's staging of f16 weights, an octet a load.
pub const SHADER_COOP_OCTETS: &str = include_str!("../../../shaders/matmul_coop_octets.wgsl");
/// The cooperative GEMM's staging of block-format weights, a block of 32 a
/// load.
pub const SHADER_COOP_BLOCKS: &str = include_str!("../../../shaders/matmul_coop_blocks.wgsl");
/// The WGSL of the split-k partials and their reduce pass, appended to the
/// block and cooperative GEMMs.
pub const SHADER_SPLIT: &str = include_str!("../../../shaders/matmul_split.wgsl");
/// The WGSL of the few-row product (after an element storage).
pub const SHADER_GEMV: &str = include_str!("../../../shaders/matmul_gemv.wgsl");
/// The WGSL of the few-row product for CPU adapters (after an element
/// storage).
pub const SHADER_ROWS: &str = include_str!("../../../shaders/matmul_rows.wgsl");
/// The row-walking product's kernel with shared activations (appended
/// to [`SHADER_ROWS`]).
pub const SHADER_ROWS_SUBGROUP: &str = include_str!("../../../shaders/matmul_rows_subgroup.wgsl");
/// The parameters and their binding, the first part of every module built
/// on an element storage.
pub const PARAMS: &str = include_str!("../../../shaders/matmul_params.wgsl");
/// The 32-weight block every weight storage's `load_w32` returns: the
/// first part of every element storage.
pub const W32: &str = include_str!("../../../shaders/matmul_w32.wgsl");
/// The few-row product's subgroup reduction (appended to [`SHADER_GEMV`]).
pub const SHADER_GEMV_SUBGROUP: &str = include_str!("../../../shaders/matmul_gemv_subgroup.wgsl");
/// The few-row product with resident activations (appended after
/// [`SHADER_GEMV_SUBGROUP`]).
pub const SHADER_GEMV_RESIDENT: &str = include_str!("../../../shaders/matmul_gemv_resident.wgsl");
/// The activation storages (A and C) of the block and few-row kernels.
pub const ACT_F32: &str = include_str!("../../../shaders/matmul_act_f32.wgsl");
/// See [`ACT_F32`].
pub const ACT_F16: &str = include_str!("../../../shaders/matmul_act_f16.wgsl");
/// The weight storages (W) of the block and few-row kernels: floats, or
/// llama.cpp blocks dequantized as they are loaded.
pub const W_F32: &str = include_str!("../../../shaders/matmul_w_f32.wgsl");
/// See [`W_F32`].
pub const W_F16: &str = include_str!("../../../shaders/matmul_w_f16.wgsl");
/// Byte access to W for the llama.cpp block storages, prepended to them.
pub const W_BLOCKS: &str = include_str!("../../../shaders/matmul_w_blocks.wgsl");
/// See [`W_F32`].
pub const W_Q8_0: &str = include_str!("../../../shaders/matmul_w_q8_0.wgsl");
/// See [`W_F32`].
pub const W_Q4_0: &str = include_str!("../../../shaders/matmul_w_q4_0.wgsl");
/// The WGSL of the cooperative-matrix GEMM (f16 activations, weights staged
/// as f16, f32 or f16 accumulators).
pub const SHADER_COOP: &str = include_str!("../../../shaders/matmul_coop.wgsl");

/// The module of the subgroup kernels: matmul.wgsl followed by
/// matmul_subgroup.wgsl, so the two share one set of declarations.
pub fn subgroup_module() -> String {
    format!("{SHADER}\n{SHADER_SUBGROUP}")
}

/// The WGSL of a family of kernels for `dtype` operands.
pub fn module_source(family: Family, dtype: DType) -> String {
    module_with(family, dtype, Format::Float(dtype))
}

/// The WGSL of a family of kernels for activations of `act` and weights in
/// `weights`: the block, few-row and cooperative kernels are built from an
/// activation storage, a weight storage and the kernel (the weight format
/// is the storage's business alone; the cooperative GEMM takes f16
/// activations, after its enable directives); the classic kernels take
/// float weights of the activations' type only.
pub fn module_with(family: Family, act: DType, weights: Format) -> String {
    let storage = || {
        let a = match act {
            DType::F32 => ACT_F32,
            DType::F16 => ACT_F16,
        };
        // (f16 weights use unpack8 from the f16 activation storage: float
        // weights always come with activations of their type.)
        let w = match weights {
            Format::Float(DType::F32) => W_F32.to_string(),
            Format::Float(DType::F16) => W_F16.to_string(),
            Format::Quant(Quant::Q8_0) => format!("{W_BLOCKS}\n{W_Q8_0}"),
            Format::Quant(Quant::Q4_0) => format!("{W_BLOCKS}\n{W_Q4_0}"),
        };
        format!("{PARAMS}\n{W32}\n{a}\n{w}")
    };
    match family {
        Family::Classic => source(SHADER, act),
        Family::ClassicSubgroup => source(&subgroup_module(), act),
        Family::Block => format!("{}\n{SHADER_BLOCK}\n{SHADER_SPLIT}", storage()),
        Family::Gemv { subgroups: false } => format!("{}\n{SHADER_GEMV}", storage()),
        Family::Gemv { subgroups: true } => {
            format!(
                "{}\n{SHADER_GEMV}\n{SHADER_GEMV_SUBGROUP}\n{SHADER_GEMV_RESIDENT}",
                storage()
            )
        }
        Family::Rows { subgroups: false } => format!("{}\n{SHADER_ROWS}", storage()),
        Family::Rows { subgroups: true } => {
            format!("{}\n{SHADER_ROWS}\n{SHADER_ROWS_SUBGROUP}", storage())
        }
        Family::Coop { accumulate } => {
            // f16 weights staged an octet at a time; the block formats a
            // block of 32 weights at a time (one scale read a block).
            let staging = match weights {
                Format::Float(_) => SHADER_COOP_OCTETS,
                Format::Quant(_) => SHADER_COOP_BLOCKS,
            };
            coop_source(
                &format!("{}\n{SHADER_COOP}\n{staging}\n{SHADER_SPLIT}", storage()),
                accumulate,
            )
        }
    }
}

/// A cooperative kernel's WGSL for accumulators of `accumulate`: `text`
/// after the enable directives (which must come before any declaration)
/// and `alias ACC`.
pub fn coop_source(text: &str, accumulate: DType) -> String {
    format!(
        "enable f16;\nenable wgpu_cooperative_matrix;\n\nalias ACC = {};\n\n{text}",
        accumulate.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_source_is_generated() {
        let s = source(SHADER, DType::F16);
        assert!(s.contains("enable f16;\nalias T = f16;"));
        assert_eq!(source(SHADER, DType::F32), SHADER);
    }

    #[test]
    fn cooperative_modules_open_with_their_directives_then_the_parameters() {
        let m = module_source(
            Family::Coop {
                accumulate: DType::F16,
            },
            DType::F16,
        );
        assert!(m.starts_with("enable f16;\nenable wgpu_cooperative_matrix;\n\nalias ACC = f16;"));
        // One parameter block, the shared one, before the kernel.
        assert_eq!(m.matches("struct Params").count(), 1);
        assert!(m.find("struct Params").unwrap() < m.find("fn gemm_coop").unwrap());
        assert!(coop_source("", DType::F32).contains("alias ACC = f32;"));
    }

    /// The value `config` gives override `name` for m x k products.
    fn constant(
        config: &MatmulConfig,
        mk: (u64, u64),
        dtype: DType,
        caps: &Capabilities,
        name: &str,
    ) -> Option<f64> {
        let c = config.constants(mk, dtype, caps);
        c.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    #[test]
    fn the_shuffled_product_reads_ahead_for_f32_only() {
        let caps = Capabilities::for_tests(true, (8, 8));
        let config = MatmulConfig::GemmSubgroup {
            tile_m: 1,
            tile_n: 4,
            wg_n: 8,
        };
        let ahead = |dtype| constant(&config, (1, 4096), dtype, &caps, "AHEAD");
        assert_eq!(ahead(DType::F32), Some(1.0));
        assert_eq!(ahead(DType::F16), Some(0.0));
    }

    #[test]
    fn the_resident_gemv_holds_its_share_of_k() {
        let caps = Capabilities::for_tests(false, (32, 32));
        let config = MatmulConfig::Resident {
            rows: 4,
            wg: 256,
            per: 2,
        };
        let get = |m, k, name| constant(&config, (m, k), DType::F16, &caps, name);
        // 1376 octets over 256 lanes: 6 each; 512: 2.
        assert_eq!(get(1, 11008, "XO"), Some(6.0));
        assert_eq!(get(1, 4096, "XO"), Some(2.0));
        assert_eq!(get(3, 4096, "M"), Some(3.0));
        assert_eq!(get(1, 4096, "PER"), Some(2.0));
        assert_eq!(get(1, 4096, "R"), Some(4.0));
    }

    #[test]
    fn block_storages_come_after_their_byte_access() {
        let m = module_with(
            Family::Gemv { subgroups: false },
            DType::F16,
            Format::Quant(Quant::Q4_0),
        );
        let (bytes, q4) = (
            m.find("fn w_bytes8").unwrap(),
            m.find("fn load_w8(").unwrap(),
        );
        assert!(bytes < q4);
        assert!(!module_source(Family::Block, DType::F32).contains("fn w_bytes8"));
    }
}
