//! Comparing a kernel's output with its CPU reference.

use serde::{Deserialize, Serialize};

/// Outcome of comparing a kernel's output with the host's reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Output elements compared.
    pub checked: u64,
    /// Elements outside tolerance.
    pub mismatches: u64,
    /// Largest relative error seen.
    pub max_rel_err: f64,
    /// Relative tolerance applied.
    pub tolerance: f64,
}

impl Verification {
    /// Nothing compared yet, under relative tolerance `tol`.
    pub fn new(tol: f64) -> Self {
        Self {
            checked: 0,
            mismatches: 0,
            max_rel_err: 0.0,
            tolerance: tol,
        }
    }

    /// Compare `got` with `want(i)` elementwise under relative tolerance `tol`
    /// (`tol = 0` demands exact equality).
    pub fn compare(got: &[f32], tol: f64, mut want: impl FnMut(usize) -> f32) -> Self {
        let mut v = Self::new(tol);
        for (i, &g) in got.iter().enumerate() {
            v.add(g as f64, want(i) as f64);
        }
        v
    }

    /// Account one element.
    pub fn add(&mut self, got: f64, want: f64) {
        let err = (got - want).abs();
        let rel = if want != 0.0 { err / want.abs() } else { err };
        self.account(rel);
    }

    /// Account one element whose error is judged against `scale` (e.g. the
    /// sum of absolute terms of a dot product) rather than its own size.
    pub fn add_scaled(&mut self, got: f64, want: f64, scale: f64) {
        self.account((got - want).abs() / scale);
    }

    fn account(&mut self, rel: f64) {
        self.checked += 1;
        // NaN compares false: a NaN output is a mismatch.
        if rel.is_nan() || rel > self.tolerance {
            self.mismatches += 1;
        }
        if rel > self.max_rel_err || rel.is_nan() {
            self.max_rel_err = rel;
        }
    }

    /// Merge another comparison's counts into this one.
    pub fn merge(&mut self, other: &Self) {
        self.checked += other.checked;
        self.mismatches += other.mismatches;
        if other.max_rel_err > self.max_rel_err || other.max_rel_err.is_nan() {
            self.max_rel_err = other.max_rel_err;
        }
    }

    /// True when something was checked and nothing mismatched.
    pub fn passed(&self) -> bool {
        self.checked > 0 && self.mismatches == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_counts_mismatches() {
        let v = Verification::compare(&[1.0, 2.0, 3.5], 0.0, |i| (i + 1) as f32);
        assert_eq!((v.checked, v.mismatches), (3, 1));
        assert!(!v.passed());
        assert!((v.max_rel_err - 0.5 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn verification_tolerance_and_nan() {
        let v = Verification::compare(&[1.0 + 1e-7], 1e-6, |_| 1.0);
        assert!(v.passed());
        let v = Verification::compare(&[f32::NAN], 1e-6, |_| 1.0);
        assert!(!v.passed());
        let empty = Verification::new(0.0);
        assert!(!empty.passed(), "nothing checked is not a pass");
    }
}
