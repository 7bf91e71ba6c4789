//! The matmul kernels' configurations: which entry point, its tiles and
//! workgroup shape, what it needs from the device, and which of them the
//! tuner tries for a product of m rows.

use serde::{Deserialize, Serialize};

use crate::gpu::Capabilities;
use crate::kernels::DType;

/// Largest TILE_M / TILE_N the shaders hold (their `MAX_TILE`).
pub const MAX_TILE: u32 = 8;

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
        }
    }

    /// Whether it needs the subgroup module (and SUBGROUP).
    pub fn uses_subgroups(&self) -> bool {
        matches!(self, Self::Subgroup { .. } | Self::GemmSubgroup { .. })
    }

    fn tiles(&self) -> (u32, u32) {
        match *self {
            Self::Tiled { tile_m, tile_n, .. }
            | Self::Direct { tile_m, tile_n, .. }
            | Self::SplitK { tile_m, tile_n, .. }
            | Self::Subgroup { tile_m, tile_n, .. }
            | Self::GemmSubgroup { tile_m, tile_n, .. } => (tile_m, tile_n),
        }
    }

    /// The override constants of the pipeline.
    pub fn constants(&self) -> Vec<(&'static str, f64)> {
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
        }
        c
    }

    /// Rows and columns of C one workgroup covers.
    pub fn block(&self) -> (u64, u64) {
        let (tm, tn) = self.tiles();
        match *self {
            Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } => {
                ((wg_m * tm) as u64, (wg_n * tn) as u64)
            }
            Self::SplitK { .. } | Self::Subgroup { .. } => (tm as u64, tn as u64),
            Self::GemmSubgroup { wg_n, .. } => (tm as u64, (wg_n * tn) as u64),
        }
    }

    /// Whether workgroup x walks row blocks (and y column blocks).
    pub fn rows_along_x(&self) -> bool {
        matches!(self, Self::GemmSubgroup { .. })
    }

    fn invocations(&self) -> u32 {
        match *self {
            Self::Tiled { wg_m, wg_n, .. } | Self::Direct { wg_m, wg_n, .. } => wg_m * wg_n,
            Self::SplitK { split, .. } | Self::Subgroup { split, .. } => split,
            Self::GemmSubgroup { wg_n, .. } => wg_n,
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
        }
    }

    /// Why this configuration cannot run on a device with `caps` for an
    /// m x n chunk, if so.
    pub fn unsupported(&self, caps: &Capabilities, dtype: DType, m: u64, n: u64) -> Option<String> {
        let (tm, tn) = self.tiles();
        let l = &caps.limits;
        if tm == 0 || tn == 0 || tm > MAX_TILE || tn > MAX_TILE {
            return Some(format!("tiles {tm}x{tn} outside 1..={MAX_TILE}"));
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

    /// The configurations worth trying for a product with m rows: a few
    /// shapes of each kernel, chosen so that at least one suits a discrete
    /// GPU (tiled, split-k) and one a SIMD CPU driver (direct, shuffle).
    pub fn candidates(m: u64, caps: &Capabilities) -> Vec<Self> {
        let subgroups = caps.subgroups;
        let mut v = Vec::new();
        if m >= 32 {
            v.push(Self::Tiled {
                tile_m: 4,
                tile_n: 4,
                wg_m: 16,
                wg_n: 16,
                bk: 4,
            });
            v.push(Self::Tiled {
                tile_m: 8,
                tile_n: 4,
                wg_m: 8,
                wg_n: 16,
                bk: 8,
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
                v.push(Self::Subgroup {
                    tile_m: tm.min(4),
                    tile_n: 2,
                    split: 64,
                });
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
        }
        v
    }
}
