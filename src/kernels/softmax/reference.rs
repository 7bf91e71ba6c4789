//! The softmax's CPU twin: any row of probabilities in f64, causal mask
//! included, from the hashed scores.

use crate::kernels::attention::accounting::AttentionShape;
use crate::kernels::{initial, DType};

/// The scores' operand index for [`initial`].
pub const SCORES: u32 = 3;

/// Tolerance of an output relative to `|want| + 0.01 * max(row)` (its own
/// size, with a floor for the tiny probabilities).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // GPU exponentials are not correctly rounded (Vulkan allows a few ulp).
        DType::F32 => 1e-4,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 1e-3,
    }
}

/// Keys row `row` sees.
pub fn visible_keys(s: &AttentionShape, row: u64) -> u64 {
    (row % s.q_len + s.keys - s.q_len + 1).min(s.keys)
}

/// The scaled scores of row `row` of product `product` that it sees (up
/// to the causal mask), f64.
pub fn scores(s: &AttentionShape, scale: f32, product: u64, row: u64) -> Vec<f64> {
    let base = (product * s.rows + row) * s.keys;
    (0..visible_keys(s, row))
        .map(|t| scale as f64 * initial(SCORES, base + t) as f64)
        .collect()
}

/// The softmax of row `row` of product `product` (f64; zeros past the
/// causal mask), for scores scaled by `scale`.
pub fn row(s: &AttentionShape, scale: f32, product: u64, row: u64) -> Vec<f64> {
    let x = scores(s, scale, product, row);
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    let mut out = vec![0.0; s.keys as usize];
    for (o, v) in out.iter_mut().zip(&e) {
        *o = v / sum;
    }
    out
}
