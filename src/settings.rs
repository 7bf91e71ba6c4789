//! How things are measured: the sampling of every kernel, the roof kernels
//! to run, and the settings of a run's ops. Plain data, stored in every
//! results file, so a file says how its numbers were taken.

use serde::{Deserialize, Serialize};

use crate::gpu::Capabilities;
use crate::kernels::peak::{self, PeakParams};
use crate::kernels::peak_coop::{self, CoopPeakParams};
use crate::kernels::stream::{StreamOp, StreamParams};
use crate::kernels::{DType, KernelConfig, MAX_COPIES};

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
    /// Seconds the newest pipeline must have existed, the GPU kept busy
    /// meanwhile, before a kernel is sampled or probed. NVIDIA's driver
    /// (580, shader cache cold) runs a pipeline for its first second or so
    /// at a fraction of the speed it settles to: the first cooperative GEMM
    /// of a run read 45-80 TFLOP/s where the same op read 245 later or with
    /// the cache warm. None on CPU adapters, whose drivers compile at the
    /// first dispatch (which the tuner's first probe absorbs).
    #[serde(default)]
    pub settle_s: f64,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            warmup: 2,
            repeats: 10,
            min_batch_s: 0.02,
            max_dispatches: 1000,
            settle_s: 0.0,
        }
    }
}

impl TimingConfig {
    /// The defaults, with pipelines settled for [`SETTLE_S`] on a GPU.
    pub fn for_device(caps: &Capabilities) -> Self {
        Self {
            settle_s: if caps.cpu { 0.0 } else { SETTLE_S },
            ..Self::default()
        }
    }
}

/// Seconds a new pipeline settles on a GPU before it is timed (see
/// [`TimingConfig::settle_s`]): past the slow first second observed, with
/// margin.
pub const SETTLE_S: f64 = 3.0;

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
    /// The cooperative-matrix peak kernels' grids, one per accumulator type
    /// (each runs where the device has that type, and is reported as not
    /// available elsewhere).
    #[serde(default)]
    pub coop_peaks: Vec<CoopPeakParams>,
    /// Accumulator chains the cooperative peak kernels try.
    #[serde(default = "default_coop_chains")]
    pub coop_chains: Vec<u32>,
    /// Shortest peak dispatch, seconds.
    #[serde(default = "default_min_dispatch")]
    pub min_dispatch_s: f64,
    /// Sampling.
    pub timing: TimingConfig,
    /// Whether wgpu's shader runtime checks are on (off by default: every
    /// run verifies its output, and the checks cost time on some drivers).
    pub shader_checks: bool,
    /// Seconds of continuous GPU work before each roof kernel is sampled.
    #[serde(default)]
    pub warm_s: f64,
}

fn default_chains() -> Vec<u32> {
    peak::DEFAULT_CHAINS.to_vec()
}

fn default_coop_chains() -> Vec<u32> {
    peak_coop::DEFAULT_CHAINS.to_vec()
}

fn default_min_dispatch() -> f64 {
    1e-3
}

impl RoofsConfig {
    /// Defaults for a device with `caps`: arrays sized from its limits
    /// for the method's footprint, a peak kernel for every dtype it supports.
    pub fn for_device(caps: &Capabilities) -> Self {
        let method = Method::for_device(caps);
        Self {
            stream: StreamParams::for_limits(&caps.limits, method.footprint_bytes),
            peaks: [DType::F32, DType::F16]
                .into_iter()
                .filter(|d| caps.supports(*d))
                .map(|d| PeakParams::default_for(d, caps))
                .collect(),
            peak_chains: default_chains(),
            peak_iterations: None,
            coop_peaks: [DType::F32, DType::F16]
                .into_iter()
                .map(CoopPeakParams::default_for)
                .collect(),
            coop_chains: default_coop_chains(),
            min_dispatch_s: default_min_dispatch(),
            timing: TimingConfig::for_device(caps),
            shader_checks: false,
            warm_s: method.warm_s,
        }
    }

    /// A lighter set for `run --quick`: the same footprint, 5 samples.
    pub fn quick(caps: &Capabilities) -> Self {
        let mut c = Self::for_device(caps);
        c.timing.repeats = 5;
        c.timing.warmup = 1;
        c
    }

    /// Number of kernels the roofs run on a device with `caps`.
    pub fn kernel_count(&self, caps: &Capabilities) -> usize {
        let coop = self
            .coop_peaks
            .iter()
            .filter(|p| p.unsupported(caps).is_none())
            .count();
        StreamOp::ALL.len()
            + self.peaks.len() * self.peak_chains.len()
            + coop * self.coop_chains.len()
    }
}

/// How every op is kept honest on a real GPU: operands rotated past the
/// last-level cache, the GPU kept warm, no dispatch long enough to trip a
/// driver's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Distinct bytes the runs of one op rotate through at least: each run
    /// uses its own copy of the operands, copies cycling, so no run finds
    /// the last one's data in a cache smaller than this.
    pub footprint_bytes: u64,
    /// Most bytes the copies of one op may take.
    pub budget_bytes: u64,
    /// Seconds of continuous GPU work before the roofs, and before each op
    /// is tuned and again before it is sampled (none on CPU adapters, whose
    /// clocks are the host's).
    pub warm_s: f64,
    /// Least fraction of the last second the GPU is kept busy between
    /// tuning probes, with the timer's warm-up kernel where the probes and
    /// their host-side work leave it idler ([`Timer::keep_busy`]); none on
    /// CPU adapters.
    ///
    /// [`Timer::keep_busy`]: crate::measure::Timer::keep_busy
    #[serde(default)]
    pub keep_busy: f64,
    /// Longest a single dispatch may be on a GPU before an op is split into
    /// more dispatches (none on CPU adapters, which have no watchdog).
    pub max_dispatch_s: Option<f64>,
    /// Least tie between two tuning candidates: closer than this, the first
    /// listed is chosen ([`GPU_TIE_FLOOR`], [`CPU_TIE_FLOOR`]).
    #[serde(default = "default_tie_floor")]
    pub tie_floor: f64,
}

/// The tie floor on GPUs, whose probes of one configuration repeat within
/// 1-2% (H100, H200): a 2% difference is real there.
pub const GPU_TIE_FLOOR: f64 = 0.01;
/// The tie floor on CPU adapters: on lavapipe (2 cores) the ratio of the
/// same two candidates' probes differed between back-to-back runs by 2.7%
/// (median) and 5.7% (75th percentile), so choices inside that were the
/// host's, and two runs disagreed on them.
pub const CPU_TIE_FLOOR: f64 = 0.05;

/// Files written before the floor was recorded were tuned with 1%.
fn default_tie_floor() -> f64 {
    GPU_TIE_FLOOR
}

impl Method {
    /// Defaults for a device with `caps`: a 1 GiB footprint, within a
    /// budget of twice the largest buffer (at most 4 GiB); on GPUs a second
    /// of warm-up, the GPU kept at least half busy while tuning, and
    /// half-second dispatches; ties by the device.
    ///
    /// A second of warm-up, because an H200's SM clock took 0.75 s to climb
    /// from 645 to 1980 MHz once loaded (in steps, read by `nvidia-smi`
    /// every 50 ms), and samples taken during the climb varied by 28%.
    pub fn for_device(caps: &Capabilities) -> Self {
        Self {
            footprint_bytes: 1 << 30,
            budget_bytes: (2 * caps.limits.max_buffer_size).min(4 << 30),
            warm_s: if caps.cpu { 0.0 } else { 1.0 },
            keep_busy: if caps.cpu { 0.0 } else { 0.5 },
            max_dispatch_s: (!caps.cpu).then_some(0.5),
            tie_floor: if caps.cpu {
                CPU_TIE_FLOOR
            } else {
                GPU_TIE_FLOOR
            },
        }
    }

    /// How many copies of operands of `copy_bytes` each to rotate through:
    /// enough for the footprint, as many as the budget allows, at most
    /// [`MAX_COPIES`], at least one.
    pub fn rotation(&self, copy_bytes: u64) -> u32 {
        let want = self.footprint_bytes.div_ceil(copy_bytes.max(1));
        let fit = self.budget_bytes / copy_bytes.max(1);
        want.min(fit).clamp(1, MAX_COPIES as u64) as u32
    }
}

/// How a run measures its ops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Rotation, warm-up and dispatch length (absent in files written
    /// before they existed).
    #[serde(default)]
    pub method: Option<Method>,
    /// Kernel configurations left out of every op's tuning: those whose
    /// name contains one of these (`run --exclude`), e.g. a family a driver
    /// rejects. They stay listed in each point's tuning table, marked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

fn one_pass() -> u32 {
    1
}

impl SuiteConfig {
    /// Defaults for a device with `caps`.
    pub fn for_device(caps: &Capabilities) -> Self {
        Self {
            timing: TimingConfig {
                warmup: 1,
                repeats: 5,
                ..TimingConfig::for_device(caps)
            },
            samples: 64,
            shader_checks: false,
            passes: 1,
            method: Some(Method::for_device(caps)),
            exclude: Vec::new(),
        }
    }

    /// The first of the run's exclusions that `config`'s printed name
    /// contains or that is its kernel's name in results files.
    pub fn excluded_by(&self, config: &KernelConfig) -> Option<&str> {
        let (name, kernel) = (config.to_string(), config.kernel_name());
        self.exclude
            .iter()
            .find(|p| name.contains(p.as_str()) || kernel == **p)
            .map(String::as_str)
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
    /// One dtype (for the peaks, an error where the adapter cannot compute
    /// in it).
    Only(DType),
    /// Every dtype the adapter runs (the peaks skip f16 with a note
    /// without `SHADER_F16`; a run keeps it for the products).
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

    /// The dtypes a run measures on a device with `caps`, and a note for
    /// each that runs only in part. Unlike the peak kernels, the products
    /// take f16 operands without `SHADER_F16`: the block, few-row and
    /// row-walking kernels read them as packed halves and compute in f32.
    /// Softmax and the attention kernels compute in the dtype itself, so
    /// the run skips them there (and says so).
    pub fn resolve_for_run(self, caps: &Capabilities, adapter: &str) -> (Vec<DType>, Vec<String>) {
        let dtypes = match self {
            Self::Only(d) => vec![d],
            Self::All => vec![DType::F32, DType::F16],
        };
        let notes = dtypes
            .iter()
            .filter(|d| !caps.supports(**d))
            .map(|d| {
                format!(
                    "{} on {adapter} without SHADER_F16: products read packed halves and compute in f32; softmax and attention are skipped",
                    d.name()
                )
            })
            .collect();
        (dtypes, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_a_part_of_the_printed_name_or_the_whole_kernel_name() {
        use crate::kernels::attention::AttentionConfig;
        let coop = KernelConfig::from(AttentionConfig::FlashPrefillCoop {
            blocks: 4,
            keys: 32,
        });
        let tile = KernelConfig::from(AttentionConfig::FlashPrefillBlock { rows: 32, keys: 32 });
        assert_eq!(coop.kernel_name(), "flash_prefill_coop");
        let mut suite = SuiteConfig::for_device(&Capabilities::for_tests(false, (32, 32)));
        assert_eq!(suite.excluded_by(&coop), None);
        // A script's word, the results file's kernel name: that kernel alone.
        suite.exclude = vec!["flash_prefill_coop".into()];
        assert_eq!(suite.excluded_by(&coop), Some("flash_prefill_coop"));
        assert_eq!(suite.excluded_by(&tile), None);
        // A part of the name as the tables print it.
        suite.exclude = vec!["x 16".into(), "flash coop".into()];
        assert_eq!(suite.excluded_by(&coop), Some("flash coop"));
        assert_eq!(suite.excluded_by(&tile), None);
        // A part of a kernel name matches only as a part of a printed one.
        suite.exclude = vec!["prefill".into()];
        assert_eq!(suite.excluded_by(&coop), None);
    }

    #[test]
    fn a_run_keeps_f16_without_shader_f16_and_says_so() {
        let mut caps = Capabilities::for_tests(true, (0, 0));
        caps.f16 = false;
        let (all, notes) = DTypeChoice::All.resolve_for_run(&caps, "gl");
        assert_eq!(all, [DType::F32, DType::F16]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("f16 on gl without SHADER_F16"),
            "{notes:?}"
        );
        let (only, _) = DTypeChoice::Only(DType::F16).resolve_for_run(&caps, "gl");
        assert_eq!(only, [DType::F16]);
        // The peaks still leave it out, or refuse it.
        let (peaks, notes) = DTypeChoice::All.resolve(&caps, "gl").unwrap();
        assert_eq!((peaks, notes.len()), (vec![DType::F32], 1));
        assert!(DTypeChoice::Only(DType::F16).resolve(&caps, "gl").is_err());
        // With SHADER_F16 nothing is said.
        caps.f16 = true;
        assert!(DTypeChoice::All.resolve_for_run(&caps, "vk").1.is_empty());
    }

    #[test]
    fn pipelines_settle_on_gpus_only() {
        let mut caps = Capabilities::for_tests(true, (8, 8));
        assert_eq!(SuiteConfig::for_device(&caps).timing.settle_s, 0.0);
        assert_eq!(RoofsConfig::for_device(&caps).timing.settle_s, 0.0);
        caps.cpu = false;
        assert_eq!(SuiteConfig::for_device(&caps).timing.settle_s, SETTLE_S);
        assert_eq!(RoofsConfig::quick(&caps).timing.settle_s, SETTLE_S);
        // Files written before the field read as not settling.
        let old: TimingConfig = serde_json::from_str(
            r#"{"warmup":1,"repeats":5,"min_batch_s":0.02,"max_dispatches":1000}"#,
        )
        .unwrap();
        assert_eq!(old.settle_s, 0.0);
    }

    #[test]
    fn gpus_are_warmed_and_kept_busy_cpu_adapters_not() {
        let mut caps = Capabilities::for_tests(true, (8, 8));
        let cpu = Method::for_device(&caps);
        assert_eq!((cpu.warm_s, cpu.keep_busy), (0.0, 0.0));
        caps.cpu = false;
        let gpu = Method::for_device(&caps);
        assert_eq!((gpu.warm_s, gpu.keep_busy), (1.0, 0.5));
        // Files written before the field read as not keeping busy.
        let mut old = serde_json::to_value(gpu).unwrap();
        old.as_object_mut().unwrap().remove("keep_busy");
        let old: Method = serde_json::from_value(old).unwrap();
        assert_eq!(old.keep_busy, 0.0);
    }

    #[test]
    fn rotation_reaches_the_footprint_within_the_budget() {
        let m = Method {
            footprint_bytes: 1 << 30,
            budget_bytes: 4 << 30,
            warm_s: 1.0,
            keep_busy: 0.5,
            max_dispatch_s: Some(0.5),
            tie_floor: GPU_TIE_FLOOR,
        };
        // A 32 MiB f16 weight plus tiny activations: 32 copies make 1 GiB.
        assert_eq!(m.rotation(32 << 20), 32);
        // 300 MiB: 4 copies (1.17 GiB).
        assert_eq!(m.rotation(300 << 20), 4);
        // Larger than the footprint: one copy.
        assert_eq!(m.rotation(2 << 30), 1);
        // Larger than the budget: still one.
        assert_eq!(m.rotation(8 << 30), 1);
        // Tiny operands: at most MAX_COPIES.
        assert_eq!(m.rotation(1 << 10), MAX_COPIES);
        // The budget caps the copies: 3 GiB of 1.5 GiB copies is 2.
        let tight = Method {
            footprint_bytes: 4 << 30,
            budget_bytes: 3 << 30,
            ..m
        };
        assert_eq!(tight.rotation(1536 << 20), 2);
    }
}
