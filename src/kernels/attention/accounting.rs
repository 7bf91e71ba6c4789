//! The shape of attention's score products and what fused attention costs.
//!
//! `batch` products, one per sequence and KV head. Each has `rows` query
//! rows (the `rows / q_len` query heads sharing the KV head, stacked over
//! `q_len` positions) against `keys` keys of `head_dim` each. Row r sits at
//! position `r % q_len + keys - q_len` and sees the keys up to it (the
//! causal mask; in decode `q_len = 1` and every key is visible).
//!
//! Fused attention, honest to what it must do:
//! - FLOPs: `4 * batch * head_dim * visible`: one multiply-add per visible
//!   (query, key) pair in Q.K^T and one in P.V; the softmax's own arithmetic
//!   is not counted. Causal prefill is about half of the full square.
//! - Bytes: `size * batch * 2 * (rows + keys) * head_dim`: Q, K and V read
//!   once, O written once.

use serde::{Deserialize, Serialize};

use crate::kernels::DType;

/// A batch of attention products (shared by softmax and fused attention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttentionShape {
    /// Independent products (sequences x KV heads).
    pub batch: u64,
    /// Query rows per product (query heads per KV head x `q_len`).
    pub rows: u64,
    /// Keys per product (S in prefill, L in decode).
    pub keys: u64,
    /// Query positions per query head (S in prefill, 1 in decode).
    pub q_len: u64,
    /// Width of one head.
    pub head_dim: u64,
}

impl AttentionShape {
    /// A shape from its five sizes, in field order.
    pub const fn new(batch: u64, rows: u64, keys: u64, q_len: u64, head_dim: u64) -> Self {
        Self {
            batch,
            rows,
            keys,
            q_len,
            head_dim,
        }
    }

    /// The scale of the scores, `1 / sqrt(head_dim)`, as the kernels get it
    /// (an f32).
    pub fn score_scale(&self) -> f32 {
        (1.0 / (self.head_dim.max(1) as f64).sqrt()) as f32
    }

    /// Query heads per KV head.
    pub fn group(&self) -> u64 {
        self.rows / self.q_len.max(1)
    }

    /// Visible (query, key) pairs per product: `rows / q_len` query heads,
    /// each seeing `keys - q_len + i + 1` keys at its i-th position; all of
    /// `rows * keys` in decode, about half of it in prefill.
    pub fn visible(&self) -> u64 {
        let q = self.q_len.max(1);
        self.group() * (q * (self.keys - q) + q * (q + 1) / 2)
    }

    /// Fused attention's FLOPs: `4 * batch * head_dim * visible`.
    pub fn flops(&self) -> u64 {
        4 * self.batch * self.head_dim * self.visible()
    }

    /// Fused attention's bytes: `size * batch * 2 * (rows + keys) * head_dim`.
    pub fn bytes(&self, dtype: DType) -> u64 {
        dtype.size() * self.batch * 2 * (self.rows + self.keys) * self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use AttentionShape as S;

    fn shape(batch: u64, rows: u64, keys: u64, q_len: u64, head_dim: u64) -> AttentionShape {
        S::new(batch, rows, keys, q_len, head_dim)
    }

    #[test]
    fn score_scale_by_hand() {
        // 1 / sqrt(128) = 0.0883883476..., 1 / sqrt(64) = 1/8 exactly; a
        // zero head dimension (rejected by the kernels' checks) scales by 1.
        assert_eq!(
            shape(1, 1, 8, 1, 128).score_scale(),
            0.088_388_347_648_318_44_f64 as f32
        );
        assert_eq!(shape(1, 1, 8, 1, 64).score_scale(), 0.125);
        assert_eq!(shape(1, 1, 8, 1, 0).score_scale(), 1.0);
    }

    #[test]
    fn visible_pairs_by_hand() {
        // Prefill, one head of 4 positions over 4 keys: 1 + 2 + 3 + 4.
        assert_eq!(shape(1, 4, 4, 4, 8).visible(), 10);
        // Two query heads stacked (GQA): twice that.
        assert_eq!(shape(1, 8, 4, 4, 8).visible(), 20);
        // Decode: every key of every row.
        assert_eq!(shape(1, 4, 2048, 1, 8).visible(), 4 * 2048);
        // Llama-7B prefill S = 1024: 1024 * 1025 / 2 = 524_800 per head.
        assert_eq!(shape(32, 1024, 1024, 1024, 128).visible(), 524_800);
    }

    #[test]
    fn fused_accounting_by_hand() {
        // Llama-7B prefill S = 1024: 4 * 32 * 128 * 524_800 = 8_598_323_200.
        let prefill = shape(32, 1024, 1024, 1024, 128);
        assert_eq!(prefill.flops(), 8_598_323_200);
        // f16: 2 * 32 * 2 * (1024 + 1024) * 128 = 33_554_432.
        assert_eq!(prefill.bytes(DType::F16), 33_554_432);
        // Decode B = 1, L = 2048: 4 * 32 * 128 * 2048 = 33_554_432 FLOPs over
        // 2 * 32 * 2 * (1 + 2048) * 128 = 33_570_816 bytes.
        let decode = shape(32, 1, 2048, 1, 128);
        assert_eq!(decode.flops(), 33_554_432);
        assert_eq!(decode.bytes(DType::F16), 33_570_816);
        // Causal prefill does about half the products of the full square.
        let full = 4 * 32 * 128 * 1024 * 1024_u64;
        let ratio = prefill.flops() as f64 / full as f64;
        assert!((ratio - 0.5).abs() < 1e-3, "{ratio}");
    }
}
