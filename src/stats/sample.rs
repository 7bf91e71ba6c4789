//! What a measurement keeps: every sample, the clock that took it, and the
//! timer's own calibration.

use serde::{Deserialize, Serialize};

use super::Summary;

/// Most of a run's pipelined time the dispatch gaps may account for: a run
/// that takes less than twice its launch is counted as half its pipelined
/// time (and flagged as launch-bound).
pub const MAX_GAP_SHARE: f64 = 0.5;

/// Which clock produced a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Begin/end-of-pass GPU timestamps (`TIMESTAMP_QUERY`).
    GpuTimestamp,
    /// Host wall clock around submit + wait.
    WallClock,
}

/// What the results file records about the timer of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    /// The clock used for every measurement of the run.
    pub kind: TimerKind,
    /// Nanoseconds per timestamp tick (GPU timestamps only).
    pub timestamp_period_ns: Option<f64>,
    /// Median cost of an empty pass in seconds, subtracted from every batch.
    pub empty_pass_s: f64,
    /// How many empty passes that median is taken over.
    pub empty_pass_samples: usize,
    /// Median cost of one back-to-back minimal dispatch with a read_write
    /// binding (launch, the barrier before it and the least a kernel
    /// takes), net of the empty pass: subtracted once per dispatch from
    /// every run's pipelined time.
    #[serde(default)]
    pub dispatch_gap_s: Option<f64>,
    /// The same dispatch's time between timestamps of its own written
    /// around it inside the pass, where the device can: what bracketing
    /// each run would read. Runs are not bracketed, because this is far
    /// above `dispatch_gap_s` on some drivers (NVIDIA's Vulkan driver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bracketed_dispatch_s: Option<f64>,
    /// Why GPU timestamps were given up for the wall clock, if they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// One kernel's timing: every sample kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The clock used.
    pub timer: TimerKind,
    /// Dispatches per batch (per sample).
    pub dispatches_per_sample: u32,
    /// Seconds per run, one value per valid batch: the pipelined time less
    /// `gap_per_run_s`, at least half the pipelined time.
    pub samples_s: Vec<f64>,
    /// Seconds per run of the same batches, pipelined: the batch's time
    /// (net of the empty pass) over its runs, gaps between runs included.
    #[serde(default)]
    pub pipelined_s: Vec<f64>,
    /// Seconds of dispatch gaps in one run (`timer.dispatch_gap_s` times
    /// the run's dispatches), taken off the pipelined time.
    #[serde(default)]
    pub gap_per_run_s: f64,
    /// Host wall-clock seconds per dispatch for the same batches (overhead
    /// included), kept as a cross-check of the GPU clock.
    pub wall_samples_s: Vec<f64>,
    /// Batches discarded because their time was zero or negative.
    pub discarded: usize,
    /// Statistics over `samples_s`.
    pub summary: Summary,
    /// Seconds the GPU had worked without an idle gap when the first sample
    /// began: at least the run's `warm_s` where it was warmed first. Absent
    /// in files from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_s: Option<f64>,
}

impl Measurement {
    /// Median pipelined seconds per run (the net median where no
    /// pipelined samples were kept).
    pub fn pipelined_median(&self) -> f64 {
        Summary::of(&self.pipelined_s).map_or(self.summary.median, |s| s.median)
    }

    /// Fold the samples of a later measurement of the same kernel in
    /// (seconds per dispatch, whatever each batch's size).
    pub fn merge(&mut self, later: &Measurement) {
        self.samples_s.extend(&later.samples_s);
        self.pipelined_s.extend(&later.pipelined_s);
        self.wall_samples_s.extend(&later.wall_samples_s);
        self.discarded += later.discarded;
        self.summary = Summary::of(&self.samples_s).unwrap_or(self.summary);
        // The least warm of the measurements merged.
        self.busy_s = match (self.busy_s, later.busy_s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
    }
}
