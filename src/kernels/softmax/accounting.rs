//! What the unfused attention's softmax costs, over the scores of an
//! [`AttentionShape`]: 5 FLOPs per visible score (scale, running max,
//! subtract, exponential, sum; the normalising multiply is counted with the
//! sum), and the visible scores read once plus every probability written
//! (masked ones as zeros, since the unfused P.V reads the whole square).

use crate::kernels::attention::accounting::AttentionShape;
use crate::kernels::DType;

/// `5 * batch * visible`.
pub fn flops(s: &AttentionShape) -> u64 {
    5 * s.batch * s.visible()
}

/// `size * batch * (visible + rows * keys)`.
pub fn bytes(s: &AttentionShape, dtype: DType) -> u64 {
    dtype.size() * s.batch * (s.visible() + s.rows * s.keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_accounting_by_hand() {
        // Llama-7B prefill S = 1024, f16: 524_800 visible scores per head.
        let s = AttentionShape {
            batch: 32,
            rows: 1024,
            keys: 1024,
            q_len: 1024,
            head_dim: 128,
        };
        assert_eq!(flops(&s), 5 * 32 * 524_800);
        // 2 * 32 * (524_800 + 1_048_576) = 100_696_064
        assert_eq!(bytes(&s, DType::F16), 100_696_064);
        // Decode B = 1, L = 2048: every score visible.
        let d = AttentionShape {
            batch: 32,
            rows: 1,
            keys: 2048,
            q_len: 1,
            head_dim: 128,
        };
        assert_eq!(flops(&d), 5 * 32 * 2048);
        assert_eq!(bytes(&d, DType::F16), 2 * 32 * 2 * 2048);
    }
}
