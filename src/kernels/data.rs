//! The operands the kernels read and the outputs verification samples:
//! hashed values the host can regenerate at any index (so no operand is
//! kept on the host), their upload, and the reproducible choice of which
//! outputs a sampled verification compares.

use super::DType;
use crate::error::Result;
use crate::gpu::GpuContext;

/// The fill shader's source.
pub const FILL_SHADER: &str = include_str!("../../shaders/fill.wgsl");

/// lowbias32, as `shaders/fill.wgsl` computes it.
fn mix(x: u32) -> u32 {
    let mut h = x;
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^= h >> 16;
    h
}

/// The hash of element `i` of operand `which`, as the fill shader computes it.
pub fn hash(which: u32, i: u64) -> u32 {
    mix((i as u32) ^ mix(which.wrapping_add(0x9e37_79b9)))
}

/// Element `i` of operand `which` of the matmul, softmax and attention
/// kernels: a hashed multiple of 2^-10 in [-1, 1), exact in f16 and f32, so
/// the host regenerates any input instead of keeping a copy.
pub fn initial(which: u32, i: u64) -> f32 {
    ((hash(which, i) & 2047) as f32 - 1024.0) / 1024.0
}

/// Element `i` of streaming array `which`: a float in [1, 2) with 23 hashed
/// mantissa bits, so no two neighbouring values repeat and nothing compresses.
pub fn stream_initial(which: u32, i: u64) -> f32 {
    f32::from_bits(0x3F80_0000 | (hash(which, i) & 0x7F_FFFF))
}

/// xorshift64: the one pseudo-random sequence sampled verifications use.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A sequence from `seed` (zero is made odd).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut h = self.0;
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        self.0 = h;
        h
    }

    /// The next value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The (product, row) pairs a sampled verification checks: the four
/// corners of the first `products` products of `rows` rows, then `samples`
/// pseudo-random ones.
pub fn sampled_rows(products: u64, rows: u64, seed: u64, samples: u64) -> Vec<(u64, u64)> {
    let (bt, last) = (products, rows - 1);
    let mut picks = vec![(0, 0), (bt - 1, last), (0, last), (bt - 1, 0)];
    let mut rng = XorShift::new(seed ^ (bt << 40) ^ (rows << 20));
    picks.extend((0..samples).map(|_| {
        let i = rng.below(bt * rows);
        (i / rows, i % rows)
    }));
    picks
}

/// One sampled row: (product, row) and its values.
pub type SampledRow = ((u64, u64), Vec<f32>);

/// A sampled verification's rows of the copy at byte `at` of `buf`
/// (row-major, `row_len` elements of `dtype` per row, `rows` rows per product): [`sampled_rows`] of the
/// first `products` products, each with its values widened to f32.
pub fn read_sampled_rows(
    ctx: &GpuContext,
    (buf, at): (&wgpu::Buffer, u64),
    dtype: DType,
    (products, rows, row_len): (u64, u64, u64),
    seed: u64,
    samples: u64,
) -> Result<Vec<SampledRow>> {
    let picks = sampled_rows(products, rows, seed, samples);
    let base = at / dtype.size();
    let ranges: Vec<(u64, u64)> = picks
        .iter()
        .map(|&(b, r)| (base + (b * rows + r) * row_len, row_len))
        .collect();
    let got = ctx.read_ranges(buf, dtype, &ranges)?;
    Ok(picks.into_iter().zip(got).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_shaders() {
        assert_eq!(mix(0), 0);
        // lowbias32(1), computed independently.
        assert_eq!(mix(1), 0x6889_90c0, "{:#x}", mix(1));
        assert_ne!(hash(0, 1), hash(1, 1));
        assert_ne!(hash(0, 1), hash(0, 2));
        let s = stream_initial(3, 77);
        assert!((1.0..2.0).contains(&s));
    }

    #[test]
    fn inputs_are_exact_in_f16() {
        for i in 0..10_000 {
            let x = initial(0, i);
            assert!((-1.0..1.0).contains(&x));
            assert_eq!(half::f16::from_f32(x).to_f32(), x);
        }
        assert_ne!(initial(0, 7), initial(1, 7));
    }

    #[test]
    fn sampled_rows_start_with_the_corners_and_stay_inside() {
        let picks = sampled_rows(3, 5, 42, 100);
        assert_eq!(&picks[..4], &[(0, 0), (2, 4), (0, 4), (2, 0)]);
        assert!(picks.iter().all(|&(b, r)| b < 3 && r < 5));
        assert_eq!(picks, sampled_rows(3, 5, 42, 100), "reproducible");
    }
}
