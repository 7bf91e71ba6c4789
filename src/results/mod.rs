//! The results file: a versioned JSON document, written atomically. It is
//! what the runner produces and what the reports and charts read.
//!
//! The schema is documented in the README; `schema_version` changes whenever
//! a field changes meaning or disappears (new fields may be added within a
//! version, and readers ignore fields they do not know).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gpu::AdapterSummary;
use crate::kernels::{DType, Engine, KernelConfig, RoofKind, Verification};
use crate::model::ModelConfig;
use crate::plan::{Op, Sweep};
use crate::roofline::{ComputeKey, MeasuredCeilings};
use crate::settings::{RoofsConfig, SuiteConfig};
use crate::stats::{Measurement, TimerInfo, WarningRecord};

mod atomic;
mod upgrade;
mod warnings;

pub use atomic::{check_writable, persist, write_atomic};
use upgrade::{upgrade_v1, upgrade_v2};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 3;

/// The adapter a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterRecord {
    /// Adapter name.
    pub name: String,
    /// Backend (vulkan, gl, metal, dx12).
    pub backend: String,
    /// discrete_gpu, integrated_gpu, virtual_gpu, cpu or other.
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version information.
    pub driver_info: String,
}

impl From<&AdapterSummary> for AdapterRecord {
    fn from(a: &AdapterSummary) -> Self {
        Self {
            name: a.name.clone(),
            backend: a.backend.clone(),
            device_type: a.device_type.clone(),
            driver: a.driver.clone(),
            driver_info: a.driver_info.clone(),
        }
    }
}

/// Features of the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturesRecord {
    /// Relevant optional features the adapter offers.
    pub adapter: Vec<String>,
    /// Those requested at device creation (`adapter & wanted`).
    pub requested: Vec<String>,
}

/// The device's limits, by wgpu's names, as numbers: owned here so the
/// schema does not change with wgpu's `Limits` type.
pub type Limits = BTreeMap<String, u64>;

/// `limits` as a results file stores them.
pub fn limits_record(limits: &wgpu::Limits) -> Limits {
    serde_json::to_value(limits)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|o| {
            o.into_iter()
                .filter_map(|(k, v)| v.as_u64().map(|n| (k, n)))
                .collect()
        })
        .unwrap_or_default()
}

/// The ceilings of the run. Spec ceilings are added by the reports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ceilings {
    /// Roofs measured on this adapter in this run.
    pub measured: MeasuredCeilings,
}

impl Ceilings {
    /// The roofs of `kernels`: the best verified kernel of each kind.
    pub fn of(kernels: &[KernelRecord]) -> Self {
        let mut measured = MeasuredCeilings::default();
        for k in kernels.iter().filter(|k| k.verified) {
            match k.roof {
                RoofKind::Memory => measured.offer_memory(k.bytes_per_s, &k.name),
                RoofKind::Compute => measured.offer_compute(k.key(), k.flops_per_s, &k.name),
            }
        }
        Self { measured }
    }
}

/// One measured, verified roof kernel: what the results file stores per kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelRecord {
    /// Kernel name, e.g. `stream.triad` or `peak.f16.c4`.
    pub name: String,
    /// The roof it measures.
    pub roof: RoofKind,
    /// Element type (of the operands, for compute kernels).
    pub dtype: DType,
    /// The arithmetic units a compute kernel runs on.
    #[serde(default)]
    pub engine: Engine,
    /// The accumulators' type of a compute kernel (its dtype, on SIMT).
    pub accumulate: DType,
    /// Bytes one dispatch moves (read + written).
    pub bytes_per_dispatch: u64,
    /// Distinct bytes the timed dispatches rotate through.
    #[serde(default)]
    pub working_set_bytes: u64,
    /// FLOPs one dispatch performs.
    pub flops_per_dispatch: u64,
    /// Kernel parameters (sizes, workgroup shape, ...), kernel-specific.
    pub config: serde_json::Value,
    /// Whether wgpu's shader runtime checks were on.
    pub shader_checks: bool,
    /// Timing, every sample kept.
    pub timing: Measurement,
    /// bytes_per_dispatch / median seconds.
    pub bytes_per_s: f64,
    /// flops_per_dispatch / median seconds.
    pub flops_per_s: f64,
    /// Output compared with the host reference.
    pub verification: Verification,
    /// `verification.passed()`; unverified kernels never set a roof.
    pub verified: bool,
}

impl KernelRecord {
    /// Which compute roof a compute kernel measures.
    pub fn key(&self) -> ComputeKey {
        ComputeKey {
            engine: self.engine,
            input: self.dtype,
            accumulate: self.accumulate,
        }
    }
}

/// A roof kernel measured again at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// The roof kernel.
    pub kernel: String,
    /// Its rate in the roofs at the start (bytes/s or FLOP/s).
    pub before: f64,
    /// Its rate at the end.
    pub after: f64,
}

/// One configuration the autotuner tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The configuration.
    pub config: KernelConfig,
    /// Its probe's time per run, scaled to the whole op (probes run on a
    /// slice of the op), when it ran and verified: the median of its
    /// probes where it came close enough to the fastest to be probed again.
    pub probe_s: Option<f64>,
    /// Every probe's time per run, scaled likewise, in the order taken:
    /// how much the probes scattered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes_s: Vec<f64>,
    /// Whether its sampled output matched the host.
    pub verified: bool,
    /// Why it was skipped or rejected, if it was.
    pub note: Option<String>,
}

/// One measured op: a point of the roofline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The op, with its series, phase, dtype and GEMM-equivalent shape.
    #[serde(flatten)]
    pub op: Op,
    /// FLOPs of the op (its kernel's accounting).
    pub flops: u64,
    /// Minimal bytes (its kernel's accounting).
    pub bytes: u64,
    /// flops / bytes.
    pub intensity: f64,
    /// The configuration the autotuner chose.
    pub kernel: KernelConfig,
    /// The arithmetic units the kernel ran on: its point is judged against
    /// that engine's roof.
    #[serde(default)]
    pub engine: Engine,
    /// Precision of the accumulation (f32, or f16 for cooperative kernels
    /// on devices without f32 accumulators).
    pub accumulate: DType,
    /// Dispatches per run of the op (operands split across bindings, or
    /// long work split to stay under a driver's timeout).
    pub dispatches_per_op: usize,
    /// Distinct bytes the timed runs rotate through (every copy of the
    /// operands): what a cache would have to hold to serve them.
    #[serde(default)]
    pub working_set_bytes: u64,
    /// Copies of the operands the runs rotate through.
    #[serde(default)]
    pub rotation: u32,
    /// Every configuration tried.
    pub tuning: Vec<Trial>,
    /// The fraction of the least median probe ratio (each probe over its
    /// round's fastest) within which the tuner held its choice tied with the
    /// fastest (the larger scatter of the two candidates' ratios, from the
    /// method's tie floor to 15%), where it searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_tie: Option<f64>,
    /// The op whose tuning this point reused (same kind, shape and dtype),
    /// if it did not tune itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_shared_with: Option<String>,
    /// Timing of the chosen configuration, every sample kept.
    pub timing: Measurement,
    /// Median seconds per run of the op: pipelined, less one dispatch gap
    /// per dispatch (files of schema 2: the time between timestamps of
    /// each run's own).
    pub median_s: f64,
    /// Median seconds per run, pipelined: a batch over its runs, the gaps
    /// between dispatches included.
    #[serde(default)]
    pub pipelined_s: f64,
    /// flops / median_s.
    pub flops_per_s: f64,
    /// bytes / median_s.
    pub bytes_per_s: f64,
    /// Sampled comparison with the host after the measurement.
    pub verification: Verification,
    /// `verification.passed()`; unverified points are never plotted as valid.
    pub verified: bool,
}

impl Point {
    /// Fold a later measurement and verification of the same op and
    /// configuration in (another sampling pass).
    pub fn merge(&mut self, timing: &Measurement, verification: &Verification) {
        self.timing.merge(timing);
        self.median_s = self.timing.summary.median;
        self.pipelined_s = self.timing.pipelined_median();
        self.flops_per_s = self.flops as f64 / self.median_s;
        self.bytes_per_s = self.bytes as f64 / self.median_s;
        self.verification.merge(verification);
        self.verified = self.verification.passed();
    }

    /// The compute roof this point is judged against: its engine's, for
    /// the types it computes in (SIMT kernels convert f16 operands and
    /// compute in the accumulator's type).
    pub fn compute_key(&self) -> ComputeKey {
        match self.engine {
            Engine::Simt => ComputeKey::simt(self.accumulate),
            Engine::Coop => ComputeKey {
                engine: Engine::Coop,
                input: self.op.dtype,
                accumulate: self.accumulate,
            },
        }
    }

    /// Attainable FLOP/s at this point's intensity under `roofs`.
    pub fn attainable(&self, roofs: &MeasuredCeilings) -> Option<f64> {
        roofs.attainable(self.intensity, self.compute_key())
    }
}

/// What `run` measured beyond the roofs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// The model whose ops were measured.
    pub model: ModelConfig,
    /// The sizes swept.
    pub sweep: Sweep,
    /// How each op was measured.
    pub suite: SuiteConfig,
}

/// An op of the plan that was not measured, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The op's label.
    pub op: String,
    /// Why it could not run (a limit of this adapter).
    pub reason: String,
}

/// A whole results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// See [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of wgpu-roofline that wrote the file.
    pub tool_version: String,
    /// Git commit of the build ("unknown" outside a checkout).
    pub git_commit: String,
    /// When the run finished, RFC 3339.
    pub timestamp: String,
    /// The measured adapter.
    pub adapter: AdapterRecord,
    /// Optional features offered and requested.
    pub features: FeaturesRecord,
    /// The device's limits (the adapter's own, as requested).
    pub limits: Limits,
    /// The clock every measurement used.
    pub timer: TimerInfo,
    /// What was run, with which parameters.
    pub config: RoofsConfig,
    /// The roofs.
    pub ceilings: Ceilings,
    /// Every roof kernel measured, with every sample.
    pub kernels: Vec<KernelRecord>,
    /// Roof kernels this device cannot run (cooperative matrices where the
    /// device has none, ...), and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable_roofs: Vec<Skipped>,
    /// The model and sweep of a `run` (absent in a `roofs` file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// One point per measured op of a `run`, in plan order.
    #[serde(default)]
    pub points: Vec<Point>,
    /// Ops of the plan skipped because they exceed this adapter's limits.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The memory and compute roof kernels measured again after the last op.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// Pipelines the run built (each module, entry point and constants once).
    #[serde(default)]
    pub pipelines_built: usize,
    /// Seconds from the first roof kernel to the last op.
    #[serde(default)]
    pub wall_s: f64,
    /// Warnings about the measurements, as printed after the tables.
    #[serde(default)]
    pub warnings: Vec<WarningRecord>,
    /// Set while a `run` is unfinished (interrupted, or stopped by an
    /// error): what stopped it. `run --resume` continues such a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

impl ResultsFile {
    /// Assemble a file from the roofs measured on the adapter `adapter`
    /// describes, opened with the `requested` features and `limits`.
    pub fn new(
        adapter: &AdapterSummary,
        requested: Vec<String>,
        limits: Limits,
        timer: TimerInfo,
        config: RoofsConfig,
        kernels: Vec<KernelRecord>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("WGPU_ROOFLINE_GIT_COMMIT").to_string(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            adapter: AdapterRecord::from(adapter),
            features: FeaturesRecord {
                adapter: adapter.features.clone(),
                requested,
            },
            limits,
            timer,
            config,
            ceilings: Ceilings::of(&kernels),
            kernels,
            unavailable_roofs: Vec::new(),
            workload: None,
            points: Vec::new(),
            skipped: Vec::new(),
            drift: Vec::new(),
            pipelines_built: 0,
            wall_s: 0.0,
            warnings: Vec::new(),
            incomplete: None,
        }
    }

    /// The point of `op`, if the file has one.
    pub fn point(&self, op: &Op) -> Option<&Point> {
        let key = op.key();
        self.points.iter().find(|p| p.op.key() == key)
    }

    /// Names of the kernels and points whose output did not match the reference.
    pub fn unverified(&self) -> Vec<String> {
        let kernels = self
            .kernels
            .iter()
            .filter(|k| !k.verified)
            .map(|k| k.name.clone());
        let points = self
            .points
            .iter()
            .filter(|p| !p.verified)
            .map(|p| p.op.label());
        kernels.chain(points).collect()
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("results serialise")
    }

    /// Parse a results file's text, checking the schema version first.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        let bad = |message: String| Error::BadResults {
            path: path.to_path_buf(),
            message,
        };
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON ({e})")))?;
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            Some(1) => upgrade_v1(&mut value),
            Some(2) => upgrade_v2(&mut value),
            Some(v) => {
                return Err(bad(format!(
                    "schema_version {v}, this build reads {SCHEMA_VERSION}"
                )))
            }
            None => return Err(bad("no schema_version field".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Read and parse a results file (schema 1 and 2 files are upgraded).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|reason| Error::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            reason,
        })?;
        Self::from_json(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_schema_is_named() {
        let p = Path::new("x.json");
        let e = ResultsFile::from_json(p, r#"{"schema_version": 99}"#).unwrap_err();
        assert!(e.to_string().contains("schema_version 99"), "{e}");
        let e = ResultsFile::from_json(p, "{").unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
        let e = ResultsFile::from_json(p, "[]").unwrap_err();
        assert!(e.to_string().contains("no schema_version"), "{e}");
    }
}
