//! Quantized weights: llama.cpp's `q8_0` and `q4_0` blocks, byte for byte,
//! packed on the host from the same hashed values the float weights use,
//! and the CPU twin that dequantizes those same bytes.
//!
//! A block covers 32 consecutive weights of a row of W (along k) and starts
//! with its scale `d` as f16. `q8_0`: `d = max|x| / 127`, `q = round(x / d)`
//! as int8, `x' = q * d`. `q4_0`: `d = x_max / -8` where x_max is the
//! weight of largest magnitude, sign kept, `q = min(15, trunc(x / d + 8.5))`,
//! byte j holds weight j in its low nibble and weight j + 16 in its high
//! one, `x' = (q - 8) * d`. Rounding follows llama.cpp's reference
//! quantizers (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`).

use half::f16;

use super::reference::W;
use crate::dtype::Quant;
use crate::kernels::initial;

const BLOCK: usize = Quant::BLOCK as usize;

/// Append the block of the 32 weights `x` to `out`.
pub fn quantize_block(q: Quant, x: &[f32; BLOCK], out: &mut Vec<u8>) {
    match q {
        Quant::Q8_0 => {
            let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(f16::from_f32(d).to_le_bytes());
            out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
        }
        Quant::Q4_0 => {
            let (mut amax, mut max) = (0f32, 0f32);
            for &v in x {
                if v.abs() > amax {
                    amax = v.abs();
                    max = v;
                }
            }
            let d = max / -8.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            out.extend(f16::from_f32(d).to_le_bytes());
            let nibble = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
            out.extend((0..BLOCK / 2).map(|j| nibble(x[j]) | (nibble(x[j + BLOCK / 2]) << 4)));
        }
    }
}

/// The 32 weights a block's bytes stand for.
pub fn dequantize_block(q: Quant, bytes: &[u8]) -> [f32; BLOCK] {
    let d = f16::from_le_bytes([bytes[0], bytes[1]]).to_f32();
    let qs = &bytes[2..q.block_bytes() as usize];
    match q {
        Quant::Q8_0 => std::array::from_fn(|j| qs[j] as i8 as f32 * d),
        Quant::Q4_0 => std::array::from_fn(|j| {
            let byte = qs[j % (BLOCK / 2)];
            let nib = if j < BLOCK / 2 {
                byte & 0x0F
            } else {
                byte >> 4
            };
            (nib as f32 - 8.0) * d
        }),
    }
}

/// The float weights of block `b` of row `row` of W (k per row), as the
/// float kernels see them.
fn source(row: u64, b: u64, k: u64) -> [f32; BLOCK] {
    std::array::from_fn(|j| initial(W, row * k + b * Quant::BLOCK + j as u64))
}

/// Rows `rows` of W, k weights each, quantized: `rows.len() * k / 32`
/// blocks, row after row.
pub fn pack_rows(q: Quant, rows: std::ops::Range<u64>, k: u64) -> Vec<u8> {
    let blocks = k / Quant::BLOCK;
    let mut out = Vec::with_capacity(((rows.end - rows.start) * blocks * q.block_bytes()) as usize);
    for row in rows {
        for b in 0..blocks {
            quantize_block(q, &source(row, b, k), &mut out);
        }
    }
    out
}

/// Row `row` of W as the quantized kernels compute with it: each block
/// quantized, then dequantized.
pub fn dequantized_row(q: Quant, row: u64, k: u64) -> Vec<f32> {
    let mut bytes = Vec::with_capacity(q.block_bytes() as usize);
    let mut out = Vec::with_capacity(k as usize);
    for b in 0..k / Quant::BLOCK {
        bytes.clear();
        quantize_block(q, &source(row, b, k), &mut bytes);
        out.extend(dequantize_block(q, &bytes));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(head: &[f32]) -> [f32; BLOCK] {
        std::array::from_fn(|j| head.get(j).copied().unwrap_or(0.0))
    }

    #[test]
    fn q8_0_block_by_hand() {
        // max |x| = 127/64: d = 1/64 (f16 0x2400), q = round(64 x).
        let x = block(&[127.0 / 64.0, -1.0, 0.5, 0.5 / 64.0, -0.75 / 64.0]);
        let mut out = Vec::new();
        quantize_block(Quant::Q8_0, &x, &mut out);
        assert_eq!(out.len(), 34);
        assert_eq!(&out[..7], &[0x00, 0x24, 0x7F, 0xC0, 0x20, 0x01, 0xFF]);
        assert!(out[7..].iter().all(|&b| b == 0));
        let back = dequantize_block(Quant::Q8_0, &out);
        assert_eq!(
            &back[..5],
            &[127.0 / 64.0, -1.0, 0.5, 1.0 / 64.0, -1.0 / 64.0]
        );
    }

    #[test]
    fn q4_0_block_by_hand() {
        // The largest magnitude is -1: d = -1 / -8 = 0.125 (f16 0x3000),
        // q = min(15, trunc(8 x + 8.5)); x[16] = 0.5 shares byte 0 with x[0].
        let mut x = block(&[-1.0, 0.5, 0.25, 0.8]);
        x[16] = 0.5;
        let mut out = Vec::new();
        quantize_block(Quant::Q4_0, &x, &mut out);
        assert_eq!(out.len(), 18);
        // x[0] = -1 -> 0; x[16] = 0.5 -> 12; x[1] = 0.5 -> 12; x[17] = 0 -> 8;
        // x[2] = 0.25 -> 10; x[3] = 0.8 -> trunc(14.9) = 14; zeros -> 8.
        assert_eq!(&out[..6], &[0x00, 0x30, 0xC0, 0x8C, 0x8A, 0x8E]);
        assert!(out[6..].iter().all(|&b| b == 0x88));
        let back = dequantize_block(Quant::Q4_0, &out);
        assert_eq!(&back[..4], &[-1.0, 0.5, 0.25, 0.75]);
        assert_eq!(back[16], 0.5);
    }

    #[test]
    fn all_zero_blocks_stay_zero() {
        for q in [Quant::Q8_0, Quant::Q4_0] {
            let mut out = Vec::new();
            quantize_block(q, &[0.0; BLOCK], &mut out);
            assert_eq!(dequantize_block(q, &out), [0.0; BLOCK]);
        }
    }

    #[test]
    fn packed_rows_and_the_reference_agree() {
        let k = 96;
        for q in [Quant::Q8_0, Quant::Q4_0] {
            let bytes = pack_rows(q, 2..5, k);
            assert_eq!(bytes.len() as u64, 3 * (k / 32) * q.block_bytes());
            let bb = q.block_bytes() as usize;
            let row3: Vec<f32> = bytes[3 * bb..6 * bb]
                .chunks(bb)
                .flat_map(|b| dequantize_block(q, b))
                .collect();
            assert_eq!(row3, dequantized_row(q, 3, k));
            // Close to the float weights (|w| < 1): q8_0 within half a step
            // of 1/127; q4_0 within a step of 1/8 (the positive end of a
            // block whose largest weight is negative is clamped to 7 d).
            let exact: Vec<f32> = (0..k).map(|i| initial(W, 3 * k + i)).collect();
            let bound = match q {
                Quant::Q8_0 => 0.5 / 127.0,
                Quant::Q4_0 => 1.0 / 8.0,
            };
            for (a, b) in row3.iter().zip(&exact) {
                assert!((a - b).abs() <= bound * 1.01, "{q:?}: {a} vs {b}");
            }
        }
    }
}
