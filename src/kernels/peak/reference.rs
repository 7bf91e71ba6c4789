//! The peak kernel's CPU twin: the lanes' start offsets and the exact
//! result of every invocation after any number of iterations.

use crate::kernels::DType;

/// The shader's start-offset hash, unmasked.
pub fn start_offset(invocation: u32, lane: u32) -> u32 {
    let mut h = invocation
        .wrapping_mul(2_654_435_761)
        .wrapping_add(lane.wrapping_mul(2_246_822_519));
    h ^= h >> 15;
    h = h.wrapping_mul(2_246_822_519);
    h ^= h >> 13;
    h
}

/// The arithmetic's grid per type: log2 of the unit step, the start-offset
/// mask, and the longest half period, chosen so that every value stays in
/// [1, 1.5) where multiples of the unit are exact (f32: offsets below 2^18
/// plus at most 2^18 steps of 2^-20; f16: below 64 plus at most 384 steps
/// of 2^-10).
pub fn grid(dtype: DType) -> (i32, u32, u32) {
    match dtype {
        DType::F32 => (-20, 0x3_FFFF, 1 << 18),
        DType::F16 => (-10, 0x3F, 384),
    }
}

/// Where the triangle wave of half period `half` is after `n` steps, in
/// units above its start.
pub fn wave(n: u64, half: u64) -> u64 {
    let p = n % (2 * half);
    if p <= half {
        p
    } else {
        2 * half - p
    }
}

/// The exact result of invocation `g`: the sum over its `4 * chains` lanes
/// of (x - 1), in units, after `iterations` steps of a triangle wave of
/// half period `half`.
pub fn units(dtype: DType, chains: u32, iterations: u32, half: u32, g: u32) -> u64 {
    let (_, mask, _) = grid(dtype);
    let lanes = 4 * chains;
    let offsets: u64 = (0..lanes).map(|l| (start_offset(g, l) & mask) as u64).sum();
    offsets + lanes as u64 * wave(iterations as u64, half as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wave_rises_falls_and_repeats() {
        let got: Vec<u64> = (0..10).map(|n| wave(n, 3)).collect();
        assert_eq!(got, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
    }

    #[test]
    fn every_lane_stays_below_one_and_a_half_for_any_length() {
        for dtype in [DType::F32, DType::F16] {
            let (exp, mask, half) = grid(dtype);
            // The largest start plus the highest point of the wave.
            let top = (mask as u64 + half as u64) as f64 * 2f64.powi(exp);
            assert!(top < 0.5, "{dtype:?}: {top}");
            for iterations in [8, half, 2 * half + 8, 1 << 24] {
                for g in [0u32, 1, 77, 1 << 20, u32::MAX] {
                    // 32 lanes of at most 2^19 units: fits a u32.
                    assert!(units(dtype, 8, iterations, half, g) < 1 << 24);
                }
            }
        }
    }

    #[test]
    fn results_change_with_every_parameter() {
        let r = units(DType::F32, 4, 512, 1 << 18, 5);
        assert_ne!(r, units(DType::F32, 4, 512, 1 << 18, 6));
        assert_ne!(r, units(DType::F32, 4, 504, 1 << 18, 5));
        assert_ne!(r, units(DType::F32, 5, 512, 1 << 18, 5));
        // Past a half period the wave comes back down.
        assert_ne!(
            units(DType::F32, 1, 24, 16, 5),
            units(DType::F32, 1, 16, 16, 5)
        );
        assert_eq!(
            units(DType::F32, 1, 24, 16, 5),
            units(DType::F32, 1, 8, 16, 5)
        );
    }
}
