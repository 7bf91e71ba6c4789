//! How the matmul configurations are named in tables, warnings and the
//! tuning lists of results (`shuffle 8x4 wg 8`, `block 128x128 (8x8/inv) bk
//! 8 split 2`, ...): short, and enough to tell every configuration the
//! tuner tries from the others. The fields themselves are in the results
//! file (`config.rs`).

use super::config::MatmulConfig;

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
                blocks,
                staged,
                groups,
            } => {
                write!(f, "gemv {rows} rows wg {wg}")?;
                if groups > 1 {
                    write!(f, " in {groups} groups")?;
                }
                if staged {
                    write!(f, " staged x{unroll}")?;
                } else if blocks {
                    write!(f, " b32")?;
                } else {
                    write!(f, " x{unroll}")?;
                }
                if subgroups {
                    write!(f, " sg")?;
                }
                Ok(())
            }
            Self::Resident { rows, wg, per } => {
                write!(f, "gemv resident {per} blocks of {rows} wg {wg} sg")
            }
            Self::Rows {
                rows,
                wg,
                subgroups,
            } => write!(
                f,
                "rows {rows}/inv wg {wg}{}",
                if subgroups { " sg" } else { "" }
            ),
            Self::Lanes { rows } => write!(f, "lanes {rows} rows"),
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
                write!(
                    f,
                    "coop {tile_m}x{tile_n} ({frag_m}x{frag_n} frags/sg) bk {bk}x{buffers} acc {}",
                    accumulate.name()
                )?;
                if split > 1 {
                    write!(f, " split {split}")?;
                }
                Ok(())
            }
        }
    }
}
