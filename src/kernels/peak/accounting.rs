//! FLOPs and bytes of one peak dispatch: each invocation runs `iterations`
//! steps of `4 * chains` independent FMAs (2 FLOPs each) and writes one f32.

/// `2 * 4 * chains * iterations * invocations`.
pub fn flops(chains: u32, iterations: u32, invocations: u64) -> u64 {
    2 * 4 * chains as u64 * iterations as u64 * invocations
}

/// `4 * invocations`: one f32 result each, negligible by design.
pub fn bytes(invocations: u64) -> u64 {
    4 * invocations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand() {
        // 640 invocations * 100 iterations * 2 vec4 chains * 4 lanes * 2 FLOPs
        assert_eq!(flops(2, 100, 640), 640 * 100 * 8 * 2);
        assert_eq!(flops(2, 100, 640), 1_024_000);
        assert_eq!(bytes(640), 2560);
    }
}
