//! Summary statistics over timing samples: median, range, mean, spread.

use serde::{Deserialize, Serialize};

/// Order statistics and spread of a set of samples (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples summarised.
    pub n: usize,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator; 0 for one sample).
    pub stddev: f64,
    /// Coefficient of variation, stddev / mean.
    pub cv: f64,
}

impl Summary {
    /// Summarise `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        };
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let stddev = var.sqrt();
        Some(Self {
            n,
            median,
            min: sorted[0],
            max: sorted[n - 1],
            mean,
            stddev,
            cv: if mean > 0.0 { stddev / mean } else { 0.0 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn odd_count() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 3.0);
        assert_eq!(s.mean, 2.0);
        assert_relative_eq!(s.stddev, 1.0);
        assert_relative_eq!(s.cv, 0.5);
    }

    #[test]
    fn even_count_median_is_middle_mean() {
        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        // variance = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
        assert_relative_eq!(s.stddev, (5.0f64 / 3.0).sqrt());
    }

    #[test]
    fn single_and_empty() {
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!((s.median, s.stddev, s.cv), (7.0, 0.0, 0.0));
        assert!(Summary::of(&[]).is_none());
    }
}
