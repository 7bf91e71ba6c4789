//! The operands the kernels read and the outputs verification samples:
//! hashed values the host can regenerate at any index (so no operand is
//! kept on the host), their upload, and the reproducible choice of which
//! outputs a sampled verification compares.

use super::DType;
use crate::error::Result;
use crate::gpu::GpuContext;

/// Element `i` of operand `which` of the matmul, softmax and attention
/// kernels: a hashed multiple of 2^-10 in [-1, 1), exact in f16 and f32, so
/// the host regenerates any input instead of keeping a copy.
pub fn initial(which: u32, i: u64) -> f32 {
    let mut h = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((which as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 29;
    ((h & 2047) as f32 - 1024.0) / 1024.0
}

/// Elements uploaded per write when filling a buffer.
const FILL_CHUNK: u64 = 4 << 20;

/// Upload [`initial`]`(which, 0 .. elems)` into `buf` as `dtype`, in pieces
/// (a 1 GiB operand never exists twice on the host).
pub fn fill(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    which: u32,
    elems: u64,
    dtype: DType,
) -> Result<()> {
    let mut start = 0;
    while start < elems {
        let end = (start + FILL_CHUNK).min(elems);
        let bytes: Vec<u8> = (start..end)
            .flat_map(|i| dtype.encode(initial(which, i)))
            .collect();
        ctx.queue.write_buffer(buf, start * dtype.size(), &bytes);
        ctx.queue.submit([]);
        ctx.wait()?;
        start = end;
    }
    Ok(())
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

/// A sampled verification's rows of `buf` (row-major, `row_len` elements
/// of `dtype` per row, `rows` rows per product): [`sampled_rows`] of the
/// first `products` products, each with its values widened to f32.
pub fn read_sampled_rows(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    dtype: DType,
    (products, rows, row_len): (u64, u64, u64),
    seed: u64,
    samples: u64,
) -> Result<Vec<SampledRow>> {
    let picks = sampled_rows(products, rows, seed, samples);
    let ranges: Vec<(u64, u64)> = picks
        .iter()
        .map(|&(b, r)| ((b * rows + r) * row_len, row_len))
        .collect();
    let got = ctx.read_ranges(buf, dtype, &ranges)?;
    Ok(picks.into_iter().zip(got).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
