//! The fused attention kernels' configurations.

use crate::kernels::Engine;
use serde::{Deserialize, Serialize};

/// A configuration of the fused attention kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum AttentionConfig {
    /// `per_inv` query rows per invocation, `rows` per workgroup, K/V
    /// tiles of `keys` keys in workgroup memory.
    FlashPrefill {
        /// Query rows per workgroup.
        rows: u32,
        /// Keys per staged tile.
        keys: u32,
        /// Query rows per invocation, each tile element read serving them
        /// all (1 on GPUs; more on CPU adapters, where every read of
        /// workgroup memory is a load per lane).
        #[serde(default = "one")]
        per_inv: u32,
    },
    /// A subgroup shares `rows` query rows: K rows read per lane, q and
    /// probabilities exchanged by subgroup shuffles (needs SUBGROUP);
    /// workgroups of `wg` invocations.
    FlashPrefillSubgroup {
        /// Query rows per subgroup pass.
        rows: u32,
        /// Invocations per workgroup.
        wg: u32,
    },
    /// Split-KV decode: `chunk` keys per workgroup of `wg` invocations, then
    /// a reduce pass over the chunks.
    FlashDecode {
        /// Keys per workgroup.
        chunk: u32,
        /// Invocations per workgroup (a power of two).
        wg: u32,
    },
    /// Split-KV decode with coalesced reads (needs SUBGROUP): `lanes`
    /// lanes share a key across the head dimension, butterfly reductions,
    /// an online softmax per group; `chunk` keys per workgroup of `wg`.
    FlashDecodeSubgroup {
        /// Keys per workgroup.
        chunk: u32,
        /// Invocations per workgroup (a power of two).
        wg: u32,
        /// Lanes per key (a power of two, at most the smallest subgroup
        /// size): fewer lanes per key put more keys, and more bytes, in
        /// flight per subgroup. 0 (files written before the field) means
        /// the most lanes the head dimension and the subgroups allow.
        #[serde(default)]
        lanes: u32,
        /// Keys each group of lanes loads per round before using any (1
        /// in files written before the field): more bytes in flight and
        /// fewer sequential round trips per chunk.
        #[serde(default = "one")]
        unroll: u32,
    },
    /// Split-KV decode shaped for SIMD drivers (needs SUBGROUP, CPU
    /// adapters): a workgroup is one subgroup of `d / 16` lanes across the
    /// head dimension, 4 vec4 columns each, walking `chunk` keys in order
    /// for one query row.
    FlashDecodeLanes {
        /// Keys per workgroup.
        chunk: u32,
    },
    /// FlashAttention-2 prefill as two register-tiled products per tile of
    /// `keys` keys (S = Q.K^T, then O += P.V), `rows` query rows per
    /// workgroup, 4 rows by a few keys or vec4 columns per invocation; no
    /// subgroup operations (head dimensions a multiple of 16).
    FlashPrefillBlock {
        /// Query rows per workgroup (a multiple of 4).
        rows: u32,
        /// Keys per staged tile.
        keys: u32,
    },
    /// FlashAttention-2-style prefill (needs SUBGROUP): `lanes` lanes share
    /// `rows` query rows across the head dimension, K/V tiles of `keys` keys
    /// staged in workgroup memory, workgroups of `wg` invocations.
    FlashPrefillTile {
        /// Lanes per row group (a power of two).
        lanes: u32,
        /// Query rows per lane group (1 or 2).
        rows: u32,
        /// Keys per staged tile (a multiple of 8).
        keys: u32,
        /// Invocations per workgroup.
        wg: u32,
    },
    /// FlashAttention-2 on cooperative matrices (the tensor cores): 16 x
    /// 16 x 16 f16 fragments with f32 accumulators, `blocks` subgroups of
    /// 16 query rows per workgroup, K/V tiles of `keys` keys (16 or 32).
    /// f16 only; needs the fragments, SHADER_F16 and SUBGROUP. Adapters
    /// without cooperative matrices run it with the fragments emulated per
    /// lane (what the tests verify on the software adapters), and never
    /// list it.
    FlashPrefillCoop {
        /// Subgroups of 16 query rows per workgroup.
        blocks: u32,
        /// Keys per staged tile.
        keys: u32,
    },
}

impl AttentionConfig {
    /// The arithmetic units it computes on (every kernel accumulates in
    /// f32).
    pub fn engine(&self) -> Engine {
        if self.on_fragments() {
            Engine::Coop
        } else {
            Engine::Simt
        }
    }

    /// Whether the kernel rounds the probabilities to f16 before it
    /// multiplies them by V (the cooperative kernel's fragments are f16),
    /// which its verification allows for.
    pub fn rounds_probabilities(&self) -> bool {
        self.on_fragments()
    }

    /// Whether its products are cooperative-matrix fragments.
    fn on_fragments(&self) -> bool {
        match self {
            Self::FlashPrefillCoop { .. } => true,
            Self::FlashPrefill { .. }
            | Self::FlashPrefillSubgroup { .. }
            | Self::FlashDecode { .. }
            | Self::FlashDecodeSubgroup { .. }
            | Self::FlashDecodeLanes { .. }
            | Self::FlashPrefillBlock { .. }
            | Self::FlashPrefillTile { .. } => false,
        }
    }
}

/// Configurations written before `per_inv` (or `unroll`) existed held one
/// row per invocation (loaded one key per round).
fn one() -> u32 {
    1
}

impl std::fmt::Display for AttentionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::FlashPrefill {
                rows,
                keys,
                per_inv,
            } => {
                write!(f, "flash {rows} rows x {keys} keys")?;
                if per_inv > 1 {
                    write!(f, ", {per_inv}/inv")?;
                }
                Ok(())
            }
            Self::FlashPrefillSubgroup { rows, wg } => {
                write!(f, "flash shuffle {rows} rows wg {wg}")
            }
            Self::FlashPrefillBlock { rows, keys } => {
                write!(f, "flash block {rows} rows x {keys} keys")
            }
            Self::FlashDecode { chunk, wg } => write!(f, "split-kv {chunk} keys wg {wg}"),
            Self::FlashDecodeSubgroup {
                chunk,
                wg,
                lanes,
                unroll,
            } => {
                write!(f, "split-kv sg {chunk} keys")?;
                if lanes > 0 {
                    write!(f, ", {lanes} lanes/key")?;
                }
                if unroll > 1 {
                    write!(f, ", {unroll} keys/round")?;
                }
                write!(f, " wg {wg}")
            }
            Self::FlashDecodeLanes { chunk } => write!(f, "split-kv lanes {chunk} keys"),
            Self::FlashPrefillTile {
                lanes,
                rows,
                keys,
                wg,
            } => write!(
                f,
                "flash tile {lanes} lanes x {rows} rows, {keys} keys, wg {wg}"
            ),
            Self::FlashPrefillCoop { blocks, keys } => {
                write!(f, "flash coop {} rows x {keys} keys", 16 * blocks)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelConfig;

    #[test]
    fn config_names_and_json() {
        let c = AttentionConfig::FlashDecode { chunk: 256, wg: 64 };
        assert_eq!(c.to_string(), "split-kv 256 keys wg 64");
        let json = serde_json::to_string(&KernelConfig::from(c)).unwrap();
        assert_eq!(json, r#"{"kernel":"flash_decode","chunk":256,"wg":64}"#);
        let back: KernelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KernelConfig::Attention(c));
        let p = AttentionConfig::FlashPrefill {
            rows: 64,
            keys: 16,
            per_inv: 1,
        };
        assert_eq!(p.to_string(), "flash 64 rows x 16 keys");
        let old: KernelConfig =
            serde_json::from_str(r#"{"kernel":"flash_prefill","rows":64,"keys":16}"#).unwrap();
        assert_eq!(old, KernelConfig::Attention(p));
        let four = AttentionConfig::FlashPrefill {
            rows: 64,
            keys: 16,
            per_inv: 4,
        };
        assert_eq!(four.to_string(), "flash 64 rows x 16 keys, 4/inv");
        // Lanes per key: named when chosen; files without them meant the most.
        let sg = AttentionConfig::FlashDecodeSubgroup {
            chunk: 64,
            wg: 128,
            lanes: 16,
            unroll: 1,
        };
        assert_eq!(sg.to_string(), "split-kv sg 64 keys, 16 lanes/key wg 128");
        // Keys per round: named above one; files without them loaded one.
        let four = AttentionConfig::FlashDecodeSubgroup {
            chunk: 64,
            wg: 128,
            lanes: 16,
            unroll: 4,
        };
        assert_eq!(
            four.to_string(),
            "split-kv sg 64 keys, 16 lanes/key, 4 keys/round wg 128"
        );
        let json = serde_json::to_string(&KernelConfig::from(four)).unwrap();
        assert_eq!(
            json,
            r#"{"kernel":"flash_decode_subgroup","chunk":64,"wg":128,"lanes":16,"unroll":4}"#
        );
        let old: KernelConfig = serde_json::from_str(
            r#"{"kernel":"flash_decode_subgroup","chunk":64,"wg":128,"lanes":16}"#,
        )
        .unwrap();
        assert_eq!(old, KernelConfig::Attention(sg));
        let old: KernelConfig =
            serde_json::from_str(r#"{"kernel":"flash_decode_subgroup","chunk":64,"wg":128}"#)
                .unwrap();
        let widest = AttentionConfig::FlashDecodeSubgroup {
            chunk: 64,
            wg: 128,
            lanes: 0,
            unroll: 1,
        };
        assert_eq!(old, KernelConfig::Attention(widest));
        assert_eq!(widest.to_string(), "split-kv sg 64 keys wg 128");
        let block = AttentionConfig::FlashPrefillBlock { rows: 32, keys: 16 };
        assert_eq!(block.to_string(), "flash block 32 rows x 16 keys");
        let json = serde_json::to_string(&KernelConfig::from(block)).unwrap();
        assert_eq!(
            json,
            r#"{"kernel":"flash_prefill_block","rows":32,"keys":16}"#
        );
        let lanes = AttentionConfig::FlashDecodeLanes { chunk: 512 };
        assert_eq!(lanes.to_string(), "split-kv lanes 512 keys");
        let json = serde_json::to_string(&KernelConfig::from(lanes)).unwrap();
        assert_eq!(json, r#"{"kernel":"flash_decode_lanes","chunk":512}"#);
        let coop = AttentionConfig::FlashPrefillCoop {
            blocks: 4,
            keys: 32,
        };
        assert_eq!(coop.to_string(), "flash coop 64 rows x 32 keys");
        let json = serde_json::to_string(&KernelConfig::from(coop)).unwrap();
        assert_eq!(
            json,
            r#"{"kernel":"flash_prefill_coop","blocks":4,"keys":32}"#
        );
    }
}
