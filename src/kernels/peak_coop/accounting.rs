//! FLOPs and bytes of one cooperative peak dispatch: every subgroup runs
//! `chains` accumulators through `2 * iterations + 1` multiply-adds of
//! 16 x 16 x 16 fragments (2 * 16^3 FLOPs each) and writes each
//! accumulator's 16 x 16 result.

/// FLOPs of one 16 x 16 x 16 multiply-add: 2 * 16 * 16 * 16.
pub const FRAGMENT_FLOPS: u64 = 2 * 16 * 16 * 16;

/// `2 * 16^3 * chains * (2 * iterations + 1) * subgroups`.
pub fn flops(chains: u32, iterations: u32, subgroups: u64) -> u64 {
    FRAGMENT_FLOPS * chains as u64 * (2 * iterations as u64 + 1) * subgroups
}

/// `subgroups * chains * 256 * accumulator bytes`: the results written,
/// negligible by design (the fragments read are a few hundred bytes).
pub fn bytes(chains: u32, subgroups: u64, accumulator_bytes: u64) -> u64 {
    subgroups * chains as u64 * 256 * accumulator_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand() {
        // 2 * 4096 = 8192 FLOPs per fragment multiply-add; 3 chains of
        // 2 * 10 + 1 = 21 multiply-adds in each of 100 subgroups.
        assert_eq!(FRAGMENT_FLOPS, 8192);
        assert_eq!(flops(3, 10, 100), 8192 * 3 * 21 * 100);
        assert_eq!(flops(3, 10, 100), 51_609_600);
        // 100 subgroups * 3 chains * 256 f32.
        assert_eq!(bytes(3, 100, 4), 307_200);
    }
}
