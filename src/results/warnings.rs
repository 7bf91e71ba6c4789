//! The warnings a results file's measurements deserve: adapter-wide, those
//! that compare points (a choice measured far above its probe, twins
//! measured apart), then each measurement's own ([`stats::check`]). `run`
//! prints and stores them; `report` derives them from the file again.

use super::{Point, ResultsFile};
use crate::stats::{self, Warning};

impl ResultsFile {
    /// The warnings the file's measurements deserve, adapter-wide first,
    /// then kernel by kernel and point by point.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        if self.adapter.device_type == "cpu" {
            out.push(Warning::SoftwareAdapter {
                adapter: self.adapter.name.clone(),
            });
        }
        if let Some(why) = &self.timer.fallback {
            out.push(Warning::TimerFallback { why: why.clone() });
        }
        for d in &self.drift {
            if (d.after / d.before - 1.0).abs() > Warning::DRIFT_LIMIT {
                out.push(Warning::RoofDrift {
                    name: d.kernel.clone(),
                    before: d.before,
                    after: d.after,
                });
            }
        }
        for p in &self.points {
            let probe = p.tuning.iter().find(|t| t.config == p.kernel);
            let fastest = probe.and_then(|t| t.probes_s.iter().copied().reduce(f64::min));
            if let Some(probe_s) = fastest.or(probe.and_then(|t| t.probe_s)) {
                if p.median_s > Warning::PROBE_LIMIT * probe_s {
                    out.push(Warning::ProbeMismatch {
                        name: p.op.label(),
                        probe_s,
                        median_s: p.median_s,
                    });
                }
            }
        }
        out.extend(twins_apart(&self.points));
        let kernels = self.kernels.iter().map(|k| (k.name.clone(), &k.timing));
        let points = self.points.iter().map(|p| (p.op.label(), &p.timing));
        for (name, t) in kernels.chain(points) {
            out.extend(stats::check(&name, t, &self.timer));
        }
        out
    }

    /// Store the current warnings, as the terminal shows them.
    pub fn store_warnings(&mut self) {
        self.warnings = self.warnings().iter().map(Warning::record).collect();
    }
}

/// Verified ops doing the same work (dtype and shape) on the same
/// configuration whose samples lie apart, each slower one named against the
/// fastest of its twins (see [`Warning::TwinsApart`]). An unverified op is
/// no measure of the work: a kernel that skips it is fast.
fn twins_apart(points: &[Point]) -> Vec<Warning> {
    let same_work = |a: &Point, b: &Point| {
        a.verified
            && b.verified
            && a.op.dtype == b.op.dtype
            && a.op.shape == b.op.shape
            && a.kernel == b.kernel
    };
    let mut out = Vec::new();
    for p in points {
        let fastest = points
            .iter()
            .filter(|q| !std::ptr::eq(*q, p) && same_work(p, q))
            .min_by(|a, b| a.timing.summary.median.total_cmp(&b.timing.summary.median));
        let Some(twin) = fastest else { continue };
        let (slow, fast) = (&p.timing.summary, &twin.timing.summary);
        let ratio = slow.median / fast.median;
        if slow.min > fast.max && ratio > 1.0 + Warning::TWIN_LIMIT {
            out.push(Warning::TwinsApart {
                name: p.op.label(),
                twin: twin.op.label(),
                ratio,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::results::Trial;
    use crate::stats::Summary;

    #[test]
    fn a_choice_measured_far_above_its_probe_is_flagged() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut f = ResultsFile::read(&path).unwrap();
        let mismatches = |f: &ResultsFile| {
            f.warnings()
                .into_iter()
                .filter(|w| w.kind() == "probe_mismatch")
                .collect::<Vec<_>>()
        };
        assert!(mismatches(&f).is_empty());
        let median = f.points[0].median_s;
        let label = f.points[0].op.label();
        let mut probed = |probes_s: &[f64]| {
            let p = &mut f.points[0];
            p.tuning = vec![Trial {
                config: p.kernel,
                probe_s: Summary::of(probes_s).map(|s| s.median),
                probes_s: probes_s.to_vec(),
                verified: true,
                note: None,
            }];
            mismatches(&f)
        };
        // 1.9x its probe: within the limit; 2.5x: flagged, by name.
        assert!(probed(&[median / 1.9]).is_empty());
        let w = probed(&[median / 2.5]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].to_string().contains("2.5x the fastest probe"),
            "{}",
            w[0]
        );
        assert_eq!(w[0].subject(), Some(label.as_str()));
        // The fastest probe counts, not their median: an H200's clocks
        // dropped after the first probe of an op's decode attention (20.5,
        // then 55.2 and 57.9 us), and the op measured 56.3 us.
        let (first, later) = (median / 2.75, median * 0.99);
        assert_eq!(probed(&[first, later, later * 1.03]).len(), 1);
        assert!(probed(&[later, later, later * 1.03]).is_empty());
    }

    #[test]
    fn twins_measured_apart_are_flagged() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut f = ResultsFile::read(&path).unwrap();
        // The twins_apart warnings of `f` with `extra` added.
        fn apart(f: &mut ResultsFile, extra: Point) -> Vec<Warning> {
            f.points.push(extra);
            let w = f.warnings();
            f.points.pop();
            w.into_iter()
                .filter(|w| w.kind() == "twins_apart")
                .collect()
        }
        // `p` with `samples`.
        fn timed(p: &Point, samples: Vec<f64>) -> Point {
            let mut p = p.clone();
            p.timing.summary = Summary::of(&samples).unwrap();
            p.timing.samples_s = samples;
            p
        }
        // `q-broken` is `q`'s twin with the same samples: quiet.
        assert!(f.warnings().iter().all(|w| w.kind() != "twins_apart"));
        // A `k` beside prefill `q`: the same work on the same configuration.
        let mut k = f.points[0].clone();
        k.op.op = "k".into();
        let q = f.points[0].timing.samples_s.clone();
        let scaled = |by: f64| q.iter().map(|s| s * by).collect::<Vec<_>>();
        // 5% slower (its range overlapping q's, which spans 7%), or 9%
        // slower with the ranges apart: quiet.
        assert!(apart(&mut f, timed(&k, scaled(1.05))).is_empty());
        assert!(apart(&mut f, timed(&k, scaled(1.09))).is_empty());
        // 20% slower, but one sample as fast as q's fastest: quiet.
        let mut wide = scaled(1.2);
        wide[0] = q.iter().copied().fold(f64::MAX, f64::min);
        assert!(apart(&mut f, timed(&k, wide)).is_empty());
        // Twice as slow: flagged on k, naming q.
        let w = apart(&mut f, timed(&k, scaled(2.0)));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].subject(), Some("init k B=1 S=128 f32"));
        let text = w[0].to_string();
        assert!(
            text.contains("2.00x as long as init q B=1 S=128 f32"),
            "{text}"
        );
        // An unverified twin is no measure, however fast.
        let mut broken = timed(&k, scaled(0.5));
        broken.verified = false;
        assert!(apart(&mut f, broken).is_empty());
        // Another configuration, or another shape, is no twin of q.
        let mut other = k.clone();
        other.kernel = f.points[2].kernel;
        assert!(apart(&mut f, timed(&other, scaled(2.0))).is_empty());
        let mut other = k.clone();
        other.op.shape = f.points[1].op.shape;
        let w = apart(&mut f, timed(&other, scaled(2.0)));
        assert!(
            !w.iter()
                .any(|w| w.subject() == Some("init k B=1 S=128 f32")),
            "{w:?}"
        );
    }
}
