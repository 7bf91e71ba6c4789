//! Warnings about measurements: each kind says what happened and what to
//! do about it. Detection works on one measurement at a time (plus the
//! timer's calibration), so the runner, the reports and the tests share it.

use serde::{Deserialize, Serialize};

use super::{Measurement, Summary, TimerInfo, TimerKind, MAX_GAP_SHARE};
use crate::units::seconds;

/// Something about a measurement its reader should know, with what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// The adapter is a CPU running a software driver.
    SoftwareAdapter {
        /// Adapter name.
        adapter: String,
    },
    /// Samples came out zero or negative after the empty pass and were dropped.
    DiscardedSamples {
        /// Kernel or op.
        name: String,
        /// How many were dropped.
        discarded: usize,
        /// Of how many batches.
        total: usize,
    },
    /// The samples spread more than [`Warning::CV_LIMIT`] around their mean.
    HighVariation {
        /// Kernel or op.
        name: String,
        /// Coefficient of variation.
        cv: f64,
    },
    /// GPU timestamps and the host's wall clock around the same batches
    /// disagree: the GPU time exceeds the wall time (impossible with a right
    /// timestamp period), or is under half of it on batches long enough for
    /// submission overhead not to matter.
    TimerDisagrees {
        /// Kernel or op.
        name: String,
        /// Median GPU-timestamp seconds per dispatch.
        gpu_s: f64,
        /// Median wall-clock seconds per dispatch.
        wall_s: f64,
    },
    /// A sample's batch lasts less than ten times the empty pass subtracted
    /// from it, or less than a thousand ticks of the clock: the timer's
    /// resolution and overhead, not the kernel, dominate.
    TooShort {
        /// Kernel or op.
        name: String,
        /// Median seconds per sampled batch.
        batch_s: f64,
        /// Seconds of the empty pass subtracted from every batch.
        overhead_s: f64,
    },
    /// Samples further from the median than 15 median absolute deviations
    /// and 2% of the median (a modified z-score above 10, hyperfine's rule,
    /// ignoring jitter too small to matter).
    Outliers {
        /// Kernel or op.
        name: String,
        /// How many.
        count: usize,
    },
    /// GPU timestamps proved unusable and the run timed with the wall clock.
    TimerFallback {
        /// What was wrong with them.
        why: String,
    },
    /// Launching the op's dispatches takes about as long as their work: its
    /// net time was held at half the pipelined time.
    LaunchBound {
        /// The op or kernel.
        name: String,
        /// Seconds of dispatch gaps per run.
        gap_s: f64,
        /// Pipelined seconds per run.
        pipelined_s: f64,
    },
    /// The op's measured time is well above the fastest probe of its
    /// configuration: the GPU ran slower while the op was measured than when
    /// it was probed (its clocks dropped, other work), or the probe was
    /// lucky and the choice with it.
    ProbeMismatch {
        /// The op.
        name: String,
        /// The chosen configuration's fastest probe, seconds per run.
        probe_s: f64,
        /// The op's measured median, seconds per run.
        median_s: f64,
    },
    /// Two ops doing the same work (dtype and shape) on the same kernel
    /// configuration took times more than [`Warning::TWIN_LIMIT`] apart,
    /// with no sample of the slower as fast as the faster's slowest: the
    /// machine changed between them (in Llama, q, k, v and o are twins, and
    /// gate and up).
    TwinsApart {
        /// The slower op.
        name: String,
        /// The fastest of its twins.
        twin: String,
        /// The slower's median over the twin's.
        ratio: f64,
    },
    /// A roof kernel measured again at the end of the run moved by more
    /// than [`Warning::DRIFT_LIMIT`]: the machine's state changed meanwhile.
    RoofDrift {
        /// The roof kernel.
        name: String,
        /// Its rate at the start, per second.
        before: f64,
        /// Its rate at the end, per second.
        after: f64,
    },
}

impl Warning {
    /// Coefficient of variation above which a measurement is flagged.
    pub const CV_LIMIT: f64 = 0.10;

    /// Measured time over the chosen configuration's fastest probe above
    /// which the point is flagged.
    pub const PROBE_LIMIT: f64 = 2.0;

    /// Relative change of a roof over the run above which it is flagged.
    pub const DRIFT_LIMIT: f64 = 0.05;

    /// Relative difference of twin ops' medians above which, their samples
    /// apart, they are flagged.
    pub const TWIN_LIMIT: f64 = 0.10;

    /// Short machine-readable name of the kind of warning.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SoftwareAdapter { .. } => "software_adapter",
            Self::DiscardedSamples { .. } => "discarded_samples",
            Self::HighVariation { .. } => "high_variation",
            Self::TimerDisagrees { .. } => "timer_disagrees",
            Self::TooShort { .. } => "too_short",
            Self::Outliers { .. } => "outliers",
            Self::TimerFallback { .. } => "timer_fallback",
            Self::RoofDrift { .. } => "roof_drift",
            Self::LaunchBound { .. } => "launch_bound",
            Self::ProbeMismatch { .. } => "probe_mismatch",
            Self::TwinsApart { .. } => "twins_apart",
        }
    }

    /// The kernel or op it is about (none for adapter-wide warnings).
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::SoftwareAdapter { .. } | Self::TimerFallback { .. } => None,
            Self::DiscardedSamples { name, .. }
            | Self::RoofDrift { name, .. }
            | Self::HighVariation { name, .. }
            | Self::TimerDisagrees { name, .. }
            | Self::TooShort { name, .. }
            | Self::LaunchBound { name, .. }
            | Self::ProbeMismatch { name, .. }
            | Self::TwinsApart { name, .. }
            | Self::Outliers { name, .. } => Some(name),
        }
    }

    /// The form a results file stores.
    pub fn record(&self) -> WarningRecord {
        let text = self.to_string();
        WarningRecord {
            kind: self.kind().to_string(),
            subject: self.subject().map(str::to_string),
            message: text.strip_prefix("warning: ").unwrap_or(&text).to_string(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SoftwareAdapter { adapter } => write!(
                f,
                "warning: {adapter} is a CPU adapter (a software driver): the roofs and points \
                 describe the host CPU through the driver, not a GPU"
            ),
            Self::DiscardedSamples {
                name,
                discarded,
                total,
            } => write!(
                f,
                "warning: {name}: {discarded} of {total} samples were zero or negative after \
                 subtracting the empty pass and were discarded; raise --min-batch-ms"
            ),
            Self::HighVariation { name, cv } => write!(
                f,
                "warning: {name}: the samples vary by {:.0}% (coefficient of variation); \
                 close other work or raise --repeats and --min-batch-ms",
                cv * 100.0
            ),
            Self::TimerDisagrees {
                name,
                gpu_s,
                wall_s,
            } => write!(
                f,
                "warning: {name}: GPU timestamps give {} per dispatch but the wall clock {}; \
                 the driver's timestamp period may be wrong: compare with --timer wall",
                seconds(*gpu_s),
                seconds(*wall_s)
            ),
            Self::TooShort {
                name,
                batch_s,
                overhead_s,
            } => write!(
                f,
                "warning: {name}: a sampled batch lasts {} against {} of timer overhead and \
                 resolution; the kernel is too short for the timer: raise --min-batch-ms",
                seconds(*batch_s),
                seconds(*overhead_s)
            ),
            Self::Outliers { name, count } => write!(
                f,
                "warning: {name}: {count} sample(s) lie far from the median (over 15 \
                 median absolute deviations); something else ran meanwhile, the median is reported"
            ),
            Self::TimerFallback { why } => write!(
                f,
                "warning: {why}, so the run timed with the wall clock (submission and waiting \
                 included); compare with --timer gpu on another driver"
            ),
            Self::LaunchBound {
                name,
                gap_s,
                pipelined_s,
            } => write!(
                f,
                "warning: {name}: its dispatch gaps ({}) are over half of a run's pipelined time \
                 ({}): the op is launch-bound, and its time is counted as half the pipelined \
                 time; read its rate as an estimate",
                seconds(*gap_s),
                seconds(*pipelined_s)
            ),
            Self::ProbeMismatch {
                name,
                probe_s,
                median_s,
            } => write!(
                f,
                "warning: {name}: measured {} per run, {:.1}x the fastest probe of its \
                 configuration ({}): the GPU ran slower while it was measured (clocks, other \
                 work), or the probe was lucky; compare its tuning table, or run it again",
                seconds(*median_s),
                median_s / probe_s,
                seconds(*probe_s)
            ),
            Self::TwinsApart { name, twin, ratio } => write!(
                f,
                "warning: {name}: took {ratio:.2}x as long as {twin}, the same work on the \
                 same configuration, and none of its samples was as fast as the other's \
                 slowest: the machine's load or clocks changed between them, and the faster \
                 is the likelier figure; compare with --passes 2"
            ),
            Self::RoofDrift {
                name,
                before,
                after,
            } => write!(
                f,
                "warning: {name}: measured again at the end of the run it gave {:.1}% of its \
                 rate at the start; the machine's clocks or load changed meanwhile: close \
                 other work, or compare with --passes 2",
                100.0 * after / before
            ),
        }
    }
}

/// A warning about the measurements, as stored (the reports derive them;
/// `run` stores them so other tools see what the terminal said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningRecord {
    /// Kind, e.g. `high_variation`, `outliers`, `too_short`.
    pub kind: String,
    /// The kernel or op it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What happened and what to do about it.
    pub message: String,
}

/// The warnings one measurement named `name` deserves, given the timer's
/// calibration.
pub fn check(name: &str, t: &Measurement, timer: &TimerInfo) -> Vec<Warning> {
    let mut out = Vec::new();
    let name = name.to_string();
    if t.discarded > 0 {
        out.push(Warning::DiscardedSamples {
            name: name.clone(),
            discarded: t.discarded,
            total: t.discarded + t.samples_s.len(),
        });
    }
    if t.summary.cv > Warning::CV_LIMIT {
        out.push(Warning::HighVariation {
            name: name.clone(),
            cv: t.summary.cv,
        });
    }
    let median = t.summary.median;
    let batch_s = median * t.dispatches_per_sample as f64;
    let tick = timer.timestamp_period_ns.map_or(1e-6, |ns| ns * 1e-9);
    let overhead_s = timer.empty_pass_s.max(tick);
    if batch_s < 10.0 * timer.empty_pass_s || batch_s < 1000.0 * tick {
        out.push(Warning::TooShort {
            name: name.clone(),
            batch_s,
            overhead_s,
        });
    }
    if t.timer == TimerKind::GpuTimestamp && !t.wall_samples_s.is_empty() {
        // The pipelined time is what the wall clock saw (gaps included).
        let gpu = t.pipelined_median();
        let wall = Summary::of(&t.wall_samples_s).map_or(0.0, |s| s.median);
        let batch_s = wall * t.dispatches_per_sample as f64;
        if gpu > 1.05 * wall || (batch_s >= 0.01 && gpu < 0.5 * wall) {
            out.push(Warning::TimerDisagrees {
                name: name.clone(),
                gpu_s: gpu,
                wall_s: wall,
            });
        }
    }
    let pipelined = t.pipelined_median();
    if t.gap_per_run_s > MAX_GAP_SHARE * pipelined {
        out.push(Warning::LaunchBound {
            name: name.clone(),
            gap_s: t.gap_per_run_s,
            pipelined_s: pipelined,
        });
    }
    let count = outliers(&t.samples_s, median);
    if count > 0 {
        out.push(Warning::Outliers { name, count });
    }
    out
}

/// Samples further from `median` than 15 median absolute deviations and
/// 2% of the median.
fn outliers(samples: &[f64], median: f64) -> usize {
    let mut dev: Vec<f64> = samples.iter().map(|s| (s - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = dev.get(dev.len() / 2).copied().unwrap_or(0.0);
    let far = (15.0 * mad).max(0.02 * median);
    samples.iter().filter(|s| (*s - median).abs() > far).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> TimerInfo {
        TimerInfo {
            kind: TimerKind::GpuTimestamp,
            timestamp_period_ns: Some(1.0),
            empty_pass_s: 1e-6,
            empty_pass_samples: 16,
            dispatch_gap_s: Some(2e-6),
            bracketed_dispatch_s: Some(8e-6),
            fallback: None,
        }
    }

    fn measurement(samples: Vec<f64>, per_batch: u32) -> Measurement {
        Measurement {
            timer: TimerKind::GpuTimestamp,
            dispatches_per_sample: per_batch,
            wall_samples_s: samples.clone(),
            pipelined_s: samples.clone(),
            gap_per_run_s: 0.0,
            summary: Summary::of(&samples).unwrap(),
            samples_s: samples,
            discarded: 0,
            busy_s: None,
        }
    }

    #[test]
    fn a_steady_long_measurement_is_quiet() {
        let t = measurement(vec![0.010, 0.0101, 0.0099, 0.0100, 0.0102], 4);
        assert_eq!(check("k", &t, &timer()), vec![]);
    }

    #[test]
    fn variation_and_outliers_are_flagged() {
        // Median 1.01, MAD 0.01: 3.0 is an outlier; cv about 0.7.
        let t = measurement(vec![1.0, 1.01, 0.99, 1.02, 3.0], 1);
        let w = check("k", &t, &timer());
        assert!(w.contains(&Warning::Outliers {
            name: "k".into(),
            count: 1
        }));
        assert!(w
            .iter()
            .any(|x| matches!(x, Warning::HighVariation { cv, .. } if *cv > 0.5)));
    }

    #[test]
    fn short_batches_and_disagreeing_clocks_are_flagged() {
        let mut info = timer();
        info.empty_pass_s = 20e-6;
        let mut t = measurement(vec![5e-6; 5], 1);
        t.wall_samples_s = vec![25e-6; 5];
        let w = check("k", &t, &info);
        assert!(w.iter().any(|x| x.kind() == "too_short"), "{w:?}");
        // GPU time ten times the wall time: a wrong timestamp period.
        let mut t = measurement(vec![0.1; 5], 1);
        t.pipelined_s = vec![0.1; 5];
        t.wall_samples_s = vec![0.01; 5];
        let w = check("k", &t, &timer());
        let hit = w.iter().find(|x| x.kind() == "timer_disagrees").unwrap();
        assert!(hit.to_string().contains("timestamp period"));
        assert_eq!(hit.record().subject.as_deref(), Some("k"));
        // Net times far below the wall clock are no disagreement: the
        // pipelined time is what the wall clock sees.
        let mut t = measurement(vec![0.002; 5], 10);
        t.pipelined_s = vec![0.004; 5];
        t.wall_samples_s = vec![0.0041; 5];
        assert!(check("k", &t, &timer()).is_empty());
    }

    #[test]
    fn launch_bound_runs_are_flagged() {
        // 9 µs pipelined, 2 dispatches of 2 µs gaps: quiet.
        let mut t = measurement(vec![5e-6; 5], 4000);
        t.pipelined_s = vec![9e-6; 5];
        t.wall_samples_s = vec![9.2e-6; 5];
        t.gap_per_run_s = 4e-6;
        assert!(check("k", &t, &timer()).is_empty());
        // 6 µs of gaps in 9 µs: launch-bound.
        t.gap_per_run_s = 6e-6;
        t.samples_s = vec![4.5e-6; 5];
        t.summary = Summary::of(&t.samples_s).unwrap();
        let w = check("k", &t, &timer());
        assert_eq!(
            w,
            vec![Warning::LaunchBound {
                name: "k".into(),
                gap_s: 6e-6,
                pipelined_s: 9e-6
            }]
        );
        assert!(w[0].to_string().contains("launch-bound"));
    }

    #[test]
    fn drift_and_fallback_say_what_to_do() {
        let d = Warning::RoofDrift {
            name: "stream.add".into(),
            before: 100.0,
            after: 90.0,
        };
        assert!(d.to_string().contains("90.0% of its rate"), "{d}");
        assert_eq!(d.record().kind, "roof_drift");
        let f = Warning::TimerFallback {
            why: "the GPU timestamps came back zero".into(),
        };
        assert!(f.to_string().contains("wall clock"), "{f}");
        assert_eq!(f.subject(), None);
    }
}
