//! How things are measured: the sampling of every kernel, the roof kernels
//! to run, and the settings of a run's ops. Plain data, stored in every
//! results file, so a file says how its numbers were taken.

use serde::{Deserialize, Serialize};

use crate::gpu::Capabilities;
use crate::kernels::peak::{self, PeakParams};
use crate::kernels::stream::{StreamOp, StreamParams};
use crate::kernels::DType;

/// How a kernel is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimingConfig {
    /// Batches run and thrown away before sampling.
    pub warmup: u32,
    /// Batches sampled.
    pub repeats: u32,
    /// Shortest duration one batch should last, in seconds.
    pub min_batch_s: f64,
    /// Upper bound on dispatches per batch.
    pub max_dispatches: u32,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            warmup: 2,
            repeats: 10,
            min_batch_s: 0.02,
            max_dispatches: 1000,
        }
    }
}

/// What the roofs measure and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoofsConfig {
    /// Streaming kernels' parameters.
    pub stream: StreamParams,
    /// The peak kernel's grid, one entry per dtype.
    pub peaks: Vec<PeakParams>,
    /// Accumulator chains the peak kernels try; the best sets the roof.
    #[serde(default = "default_chains")]
    pub peak_chains: Vec<u32>,
    /// FMA steps per accumulator of every peak dispatch; `None` lengthens
    /// each dispatch until it lasts `min_dispatch_s`.
    #[serde(default)]
    pub peak_iterations: Option<u32>,
    /// Shortest peak dispatch, seconds.
    #[serde(default = "default_min_dispatch")]
    pub min_dispatch_s: f64,
    /// Sampling.
    pub timing: TimingConfig,
    /// Whether wgpu's shader runtime checks are on (off by default: every
    /// run verifies its output, and the checks cost time on some drivers).
    pub shader_checks: bool,
}

fn default_chains() -> Vec<u32> {
    peak::DEFAULT_CHAINS.to_vec()
}

fn default_min_dispatch() -> f64 {
    1e-3
}

impl RoofsConfig {
    /// Defaults for a device with `caps`: arrays sized from its limits, a
    /// peak kernel for every dtype it supports.
    pub fn for_device(caps: &Capabilities) -> Self {
        Self {
            stream: StreamParams::for_limits(&caps.limits),
            peaks: [DType::F32, DType::F16]
                .into_iter()
                .filter(|d| caps.supports(*d))
                .map(PeakParams::default_for)
                .collect(),
            peak_chains: default_chains(),
            peak_iterations: None,
            min_dispatch_s: default_min_dispatch(),
            timing: TimingConfig::default(),
            shader_checks: false,
        }
    }

    /// A lighter set for `run --quick`: one set of arrays of at most 32 MiB
    /// and 5 samples.
    pub fn quick(caps: &Capabilities) -> Self {
        let mut c = Self::for_device(caps);
        c.stream.array_bytes = c.stream.array_bytes.min(32 << 20);
        c.stream.sets = 1;
        c.timing.repeats = 5;
        c.timing.warmup = 1;
        c
    }

    /// Number of kernels the roofs run.
    pub fn kernel_count(&self) -> usize {
        StreamOp::ALL.len() + self.peaks.len() * self.peak_chains.len()
    }
}

/// How a run measures its ops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SuiteConfig {
    /// Sampling of the chosen configuration.
    pub timing: TimingConfig,
    /// Output elements checked per verification (plus the four corners).
    pub samples: u64,
    /// Whether wgpu's shader runtime checks are on.
    pub shader_checks: bool,
    /// Sampling passes over the whole plan: with 2 or more, every op is
    /// sampled again after all the others, so its spread covers the drift
    /// of the machine over the run, not only over its own few seconds.
    #[serde(default = "one_pass")]
    pub passes: u32,
}

fn one_pass() -> u32 {
    1
}

impl Default for SuiteConfig {
    fn default() -> Self {
        Self {
            timing: TimingConfig {
                warmup: 1,
                repeats: 5,
                ..TimingConfig::default()
            },
            samples: 64,
            shader_checks: false,
            passes: 1,
        }
    }
}

/// The sampling settings a user may override for both roofs and ops.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimingOverrides {
    /// Sampled batches per kernel.
    pub repeats: Option<u32>,
    /// Discarded warm-up batches per kernel.
    pub warmup: Option<u32>,
    /// Shortest batch, seconds.
    pub min_batch_s: Option<f64>,
}

impl TimingOverrides {
    /// `t` with these overrides applied.
    pub fn apply(&self, t: &mut TimingConfig) {
        t.repeats = self.repeats.unwrap_or(t.repeats);
        t.warmup = self.warmup.unwrap_or(t.warmup);
        t.min_batch_s = self.min_batch_s.unwrap_or(t.min_batch_s);
    }
}

/// Which dtypes to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DTypeChoice {
    /// One dtype; an error where the adapter cannot run it.
    Only(DType),
    /// Every dtype the adapter runs (f16 skipped with a note without
    /// `SHADER_F16`).
    All,
}

impl DTypeChoice {
    /// The dtypes to run on a device with `caps`, and a note for each
    /// skipped one; an error when the one asked for cannot run.
    pub fn resolve(
        self,
        caps: &Capabilities,
        adapter: &str,
    ) -> crate::error::Result<(Vec<DType>, Vec<String>)> {
        match self {
            Self::Only(d) if caps.supports(d) => Ok((vec![d], vec![])),
            Self::Only(d) => Err(crate::error::Error::Unsupported {
                dtype: d.name().into(),
                adapter: adapter.to_string(),
                feature: "SHADER_F16",
            }),
            Self::All => {
                let (run, skip): (Vec<DType>, Vec<DType>) = [DType::F32, DType::F16]
                    .into_iter()
                    .partition(|d| caps.supports(*d));
                let notes = skip
                    .iter()
                    .map(|d| format!("skipping {}: {adapter} lacks SHADER_F16", d.name()))
                    .collect();
                Ok((run, notes))
            }
        }
    }
}
