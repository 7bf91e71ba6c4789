//! The streaming kernels' CPU twin: the arrays' initial values and each
//! op's output after the ops before it ran.

use super::accounting::StreamOp;
use crate::kernels::stream_initial;

/// BabelStream's scalar.
pub const SCALAR: f32 = 0.4;

/// The fill shader's operand index of array `which` (0 = a, 1 = b, 2 = c).
pub fn operand(which: u32) -> u32 {
    16 + which
}

/// Initial value of element `i` of array `which` (0 = a, 1 = b, 2 = c),
/// the same in every set: a float in [1, 2) with 23 hashed mantissa bits,
/// so no two neighbouring values repeat and nothing compresses.
pub fn initial(which: u32, i: u64) -> f32 {
    stream_initial(operand(which), i)
}

/// The op's output element, given the initial value `a0` of `a` at that
/// element, after all earlier ops have run. For `Dot`, the element's product
/// a * b, and for `Read` and `ReadBlocks` the element of a, which the
/// kernels sum.
pub fn reference(op: StreamOp, a0: f32) -> f32 {
    let s = SCALAR;
    let b = s * a0; // after scale
    let c = a0 + b; // after add
    let a = b + s * c; // after triad
    match op {
        StreamOp::Copy => a0,
        StreamOp::Scale => b,
        StreamOp::Add => c,
        StreamOp::Triad => a,
        StreamOp::Dot => a * b,
        StreamOp::Read | StreamOp::ReadBlocks => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_follows_babelstream_sequence() {
        let a0 = 1.5f32;
        assert_eq!(reference(StreamOp::Copy, a0), 1.5);
        assert_eq!(reference(StreamOp::Scale, a0), 0.4f32 * 1.5);
        assert_eq!(reference(StreamOp::Add, a0), 1.5 + 0.4f32 * 1.5);
        let b = 0.4f32 * 1.5;
        let a = b + 0.4 * (1.5 + b);
        assert_eq!(reference(StreamOp::Triad, a0), a);
        assert_eq!(reference(StreamOp::Dot, a0), a * b);
    }

    #[test]
    fn initial_values_are_varied_and_in_range() {
        let v: Vec<f32> = (0..1000).map(|i| initial(0, i)).collect();
        assert!(v.iter().all(|x| (1.0..2.0).contains(x)));
        let mut distinct = v.clone();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 990);
        assert_ne!(initial(0, 5), initial(1, 5));
        assert_ne!(initial(0, 5), initial(0, 6));
    }
}
