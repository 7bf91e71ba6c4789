//! The timer's arithmetic on what the clocks read: unwrapping narrow
//! timestamp counters, rejecting implausible timestamps, and a run's time
//! net of its dispatch gaps.

use crate::stats::MAX_GAP_SHARE;

/// Ticks from `begin` to `end` of a counter that may be narrower than 64
/// bits and wrap: when `end < begin` the counter went past its top, taken
/// as the smallest power of two above `begin`.
pub fn ticks(begin: u64, end: u64) -> u64 {
    if end >= begin {
        return end - begin;
    }
    let bits = 64 - begin.leading_zeros();
    if bits >= 64 {
        end.wrapping_sub(begin)
    } else {
        (1u64 << bits) - begin + end
    }
}

/// Why GPU timestamps of a batch cannot be believed, if they cannot: all
/// zero, or off from the wall clock of the same batch by more than a factor
/// of ten (GPU time under a tenth of a wall time of 10 ms or more, or over
/// ten times it).
pub fn implausible(raw: &[u64], gpu_s: f64, wall_s: f64) -> Option<String> {
    if raw.iter().all(|&t| t == 0) {
        return Some("the GPU timestamps came back zero".into());
    }
    if wall_s >= 0.01 && gpu_s < 0.1 * wall_s {
        return Some(format!(
            "the GPU timestamps gave {gpu_s:.3e} s for a batch the wall clock saw take {wall_s:.3e} s"
        ));
    }
    if gpu_s > 10.0 * wall_s + 1e-3 {
        return Some(format!(
            "the GPU timestamps gave {gpu_s:.3e} s for a batch the wall clock saw take {wall_s:.3e} s"
        ));
    }
    None
}

/// One run's time, from a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PerRun {
    /// The batch net of the empty pass, over its runs: gaps included.
    pub(super) pipelined: f64,
    /// `pipelined` less the dispatch gaps, at least `1 - MAX_GAP_SHARE` of it.
    pub(super) net: f64,
    /// The host's wall clock over the runs.
    pub(super) wall: f64,
}

impl PerRun {
    pub(super) fn of(pipelined: f64, gaps: f64, wall: f64) -> Self {
        Self {
            pipelined,
            net: net_of_gaps(pipelined, gaps),
            wall,
        }
    }
}

/// A run's time less its dispatch gaps `gaps`, never below
/// `1 - MAX_GAP_SHARE` of its pipelined time.
pub fn net_of_gaps(pipelined: f64, gaps: f64) -> f64 {
    (pipelined - gaps.max(0.0)).max(pipelined * (1.0 - MAX_GAP_SHARE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_unwrap_a_narrow_counter() {
        assert_eq!(ticks(100, 250), 150);
        // A 36-bit counter that wrapped: 100 ticks before the top, 50 after.
        let top = 1u64 << 36;
        assert_eq!(ticks(top - 100, 50), 150);
        // A 64-bit counter that wrapped.
        assert_eq!(ticks(u64::MAX - 9, 10), 20);
    }

    #[test]
    fn zero_and_implausible_timestamps_are_caught() {
        assert!(implausible(&[0, 0], 0.0, 0.02)
            .unwrap()
            .contains("came back zero"));
        // A tenth of a 20 ms wall clock: a wrong period.
        assert!(implausible(&[5, 6], 0.001, 0.02).is_some());
        // Ten times the wall clock.
        assert!(implausible(&[5, 6], 0.5, 0.02).is_some());
        // Short batches may legitimately be far below the wall clock
        // (submission overhead), long ones close to it are right.
        assert!(implausible(&[5, 6], 1e-5, 0.005).is_none());
        assert!(implausible(&[5, 6], 0.019, 0.02).is_none());
    }

    #[test]
    fn runs_are_net_of_their_gaps_down_to_half() {
        // 26.3 µs pipelined, one dispatch of 2.5 µs gap: 23.8 µs.
        assert!((net_of_gaps(26.3e-6, 2.5e-6) - 23.8e-6).abs() < 1e-12);
        // No gap measured, or a negative one: the pipelined time.
        assert_eq!(net_of_gaps(9e-6, 0.0), 9e-6);
        assert_eq!(net_of_gaps(9e-6, -1e-6), 9e-6);
        // Gaps of two dispatches over half the run: held at half.
        assert_eq!(net_of_gaps(9e-6, 6e-6), 4.5e-6);
    }
}
