//! The cooperative peak kernel's CPU twin: its exact data and results.
//!
//! A and B have entries of +-1 and each chain starts from a matrix of
//! small integers (distinct per chain), so every value the kernel ever
//! holds is an integer of magnitude at most 16 + 16 + CHAINS: exact in f16
//! and f32 whatever the order of the additions inside a multiply-add.

use crate::kernels::XorShift;

/// Elements of one 16 x 16 fragment.
pub const FRAG: usize = 256;

/// A 16 x 16 row-major matrix of +-1 from `seed`.
pub fn signs(seed: u64) -> [f64; FRAG] {
    let mut rng = XorShift::new(seed);
    std::array::from_fn(|_| if rng.next_u64() >> 63 == 0 { 1.0 } else { -1.0 })
}

/// The A fragment.
pub fn a() -> [f64; FRAG] {
    signs(0xA5A5_0001)
}

/// The B fragment (the kernel also gets -B).
pub fn b() -> [f64; FRAG] {
    signs(0x5A5A_0002)
}

/// Where chain `chain` starts: integers in [-8, 8) plus the chain index,
/// so no two chains hold the same values.
pub fn start(chain: u32) -> [f64; FRAG] {
    let mut rng = XorShift::new(0xC0C0_0003 ^ ((chain as u64) << 32));
    std::array::from_fn(|_| (rng.below(16) as f64 - 8.0) + chain as f64)
}

/// The row-major product of two 16 x 16 row-major matrices.
pub fn product(a: &[f64; FRAG], b: &[f64; FRAG]) -> [f64; FRAG] {
    std::array::from_fn(|i| {
        let (r, c) = (i / 16, i % 16);
        (0..16).map(|k| a[r * 16 + k] * b[k * 16 + c]).sum()
    })
}

/// What every subgroup stores for chain `chain`, whatever the number of
/// iterations: its start plus A.B (the pairs of +A.B and -A.B cancel).
pub fn result(chain: u32) -> [f64; FRAG] {
    let ab = product(&a(), &b());
    let s = start(chain);
    std::array::from_fn(|i| s[i] + ab[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_stays_small_and_exact() {
        let ab = product(&a(), &b());
        // Sums of 16 terms of +-1: even integers in [-16, 16].
        assert!(ab
            .iter()
            .all(|v| v.abs() <= 16.0 && v.rem_euclid(2.0) == 0.0));
        for chain in 0..8 {
            let r = result(chain);
            // Within f16's exact integers by far, and not the start.
            assert!(r.iter().all(|v| v.abs() <= 40.0 && v.fract() == 0.0));
            assert_ne!(r, start(chain));
        }
        assert_ne!(start(0), start(1));
        assert!(a().iter().chain(b().iter()).all(|v| v.abs() == 1.0));
    }

    #[test]
    fn product_by_hand() {
        let mut id = [0.0; FRAG];
        for i in 0..16 {
            id[i * 17] = 1.0;
        }
        assert_eq!(product(&a(), &id), a());
        // Row 0 of A times column 0 of B, written out.
        let (x, y) = (a(), b());
        let want: f64 = (0..16).map(|k| x[k] * y[k * 16]).sum();
        assert_eq!(product(&x, &y)[0], want);
    }
}
