//! Fused attention's CPU twin: any output row in f64, causal mask included,
//! from the hashed Q, K and V.

use super::accounting::AttentionShape;
use crate::kernels::{initial, DType};

/// Operand indices of Q, K and V for [`initial`].
pub const Q: u32 = 0;
/// See [`Q`].
pub const K: u32 = 1;
/// See [`Q`].
pub const V: u32 = 2;

/// Tolerance of an output element relative to `|want| + floor * sum_t p_t
/// |v_t|` (its own size, with a floor at the scale of its terms: see
/// [`term_floor`]).
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // exponentials within a few ulp, f32 sums over thousands of keys
        DType::F32 => 1e-4,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 1e-3,
    }
}

/// The share of an output element's terms, `sum_t p_t |v_t|`, that its
/// tolerance is measured against at least: 0.01 where the probabilities are
/// f32; 1 where they are rounded to f16 for the product (the cooperative
/// kernel, as tensor cores take them). There each weight `p_t / sum p` moves
/// by up to 2^-11 of itself, and the sum by as much, so an element moves by
/// up to 2^-10 of its terms: within the f16 tolerance of 1e-3 of them.
pub fn term_floor(probabilities_in_f16: bool) -> f64 {
    if probabilities_in_f16 {
        1.0
    } else {
        0.01
    }
}

/// The scores of row `row` of product `product` (its keys up to the causal
/// mask), f64, scaled by `scale`.
pub fn scores(s: &AttentionShape, scale: f32, product: u64, row: u64) -> Vec<f64> {
    let d = s.head_dim;
    let pos = row % s.q_len + s.keys - s.q_len;
    let qrow: Vec<f64> = (0..d)
        .map(|i| initial(Q, (product * s.rows + row) * d + i) as f64)
        .collect();
    (0..=pos)
        .map(|t| {
            let kb = (product * s.keys + t) * d;
            scale as f64
                * qrow
                    .iter()
                    .enumerate()
                    .map(|(i, q)| q * initial(K, kb + i as u64) as f64)
                    .sum::<f64>()
        })
        .collect()
}

/// Output row `row` of product `product`, f64, mask included, with
/// `sum_t p_t |v_t|` per element (the scale of its terms), for scores
/// scaled by `scale`.
pub fn row(s: &AttentionShape, scale: f32, product: u64, row: u64) -> Vec<(f64, f64)> {
    let d = s.head_dim;
    let scores = scores(s, scale, product, row);
    let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = scores.iter().map(|v| (v - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    (0..d)
        .map(|i| {
            let (mut want, mut mag) = (0.0, 0.0);
            for (t, w) in e.iter().enumerate() {
                let x = initial(V, (product * s.keys + t as u64) * d + i) as f64;
                want += w / sum * x;
                mag += w / sum * x.abs();
            }
            (want, mag)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_rounded_to_f16_are_allowed_their_bound_and_no_more() {
        // Each weight p / sum p moves by up to 2^-11 of itself when p is
        // rounded to f16, and the sum by as much: an element by up to 2^-10
        // of its terms, which the f16 tolerance must cover at the floor.
        let bound = 2f64.powi(-10);
        assert!(tolerance(DType::F16) * term_floor(true) >= bound);
        assert!(tolerance(DType::F16) * term_floor(true) < 2.0 * bound);
        // f32 probabilities keep the floor at a hundredth of the terms.
        assert_eq!(term_floor(false), 0.01);
        assert!(tolerance(DType::F16) * term_floor(false) < bound);
    }
}
