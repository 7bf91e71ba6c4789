//! The matrix products' CPU twin: any element of C in f64, from the hashed
//! operands, with the scale its rounding error is judged against.

use crate::kernels::{initial, DType};

/// Operand indices of A and W for [`initial`].
pub const A: u32 = 0;
/// See [`A`].
pub const W: u32 = 1;

/// Tolerance of a sampled output, relative to `sum |a_i w_i|`.
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        // f32 accumulation over up to ~16k terms
        DType::F32 => 1e-5,
        // plus rounding the output to f16 (2^-11 relative)
        DType::F16 => 2e-3,
    }
}

/// C = A . W^T at (row `a_row` of A, row `w_row` of W) over `k` terms: the
/// exact value in f64 and `sum |a_i w_i|`, the scale of the rounding.
pub fn element(a_row: u64, w_row: u64, k: u64) -> (f64, f64) {
    let (mut want, mut scale) = (0f64, 0f64);
    for kk in 0..k {
        let p = initial(A, a_row * k + kk) as f64 * initial(W, w_row * k + kk) as f64;
        want += p;
        scale += p.abs();
    }
    (want, scale.max(f64::MIN_POSITIVE))
}

/// C at (row `a_row` of A, a row of W whose weights are `w`): as
/// [`element`], for weights the host computed (dequantized blocks).
pub fn element_with(a_row: u64, w: &[f32]) -> (f64, f64) {
    let k = w.len() as u64;
    let (mut want, mut scale) = (0f64, 0f64);
    for (kk, &wv) in w.iter().enumerate() {
        let p = initial(A, a_row * k + kk as u64) as f64 * wv as f64;
        want += p;
        scale += p.abs();
    }
    (want, scale.max(f64::MIN_POSITIVE))
}
