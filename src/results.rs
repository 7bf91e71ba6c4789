//! The results file: a versioned JSON document, written atomically.
//!
//! The schema is documented in the README; `schema_version` changes whenever
//! a field changes meaning or disappears (new fields may be added within a
//! version, and readers ignore fields they do not know).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gpu::{AdapterSummary, GpuContext};
use crate::kernels::KernelRecord;
use crate::model::ModelConfig;
use crate::plan::Sweep;
use crate::roofs::{MeasuredCeilings, RoofsConfig};
use crate::suite::{Point, SuiteConfig};
use crate::timer::TimerInfo;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

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

/// The ceilings of the run. Spec ceilings are added by the reports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ceilings {
    /// Roofs measured on this adapter in this run.
    pub measured: MeasuredCeilings,
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
    pub limits: wgpu::Limits,
    /// The clock every measurement used.
    pub timer: TimerInfo,
    /// What was run, with which parameters.
    pub config: RoofsConfig,
    /// The roofs.
    pub ceilings: Ceilings,
    /// Every roof kernel measured, with every sample.
    pub kernels: Vec<KernelRecord>,
    /// The model and sweep of a `run` (absent in a `roofs` file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// One point per measured op of a `run`, in plan order.
    #[serde(default)]
    pub points: Vec<Point>,
    /// Ops of the plan skipped because they exceed this adapter's limits.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Warnings about the measurements, as printed after the tables.
    #[serde(default)]
    pub warnings: Vec<WarningRecord>,
    /// Set while a `run` is unfinished (interrupted, or stopped by an
    /// error): what stopped it. `run --resume` continues such a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

impl ResultsFile {
    /// Assemble a file from a finished measurement.
    pub fn new(
        ctx: &GpuContext,
        timer: TimerInfo,
        config: RoofsConfig,
        kernels: Vec<KernelRecord>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("WGPU_ROOFLINE_GIT_COMMIT").to_string(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            adapter: AdapterRecord::from(&ctx.adapter),
            features: FeaturesRecord {
                adapter: ctx.adapter.features.clone(),
                requested: crate::gpu::feature_names(ctx.features),
            },
            limits: ctx.limits.clone(),
            timer,
            config,
            ceilings: Ceilings {
                measured: MeasuredCeilings::from_records(&kernels),
            },
            kernels,
            workload: None,
            points: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            incomplete: None,
        }
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
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON ({e})")))?;
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            Some(v) => {
                return Err(bad(format!(
                    "schema_version {v}, this build reads {SCHEMA_VERSION}"
                )))
            }
            None => return Err(bad("no schema_version field".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Read and parse a results file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|reason| Error::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            reason,
        })?;
        Self::from_json(path, &text)
    }
}

/// Check before a long run that `path` can be written: its directory exists
/// and accepts a new file. Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<()> {
    let io = |reason| Error::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        reason,
    };
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )));
    }
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .map_err(|e| io(std::io::Error::from(e.kind())))
}

/// Write `text` to `path` atomically: a temporary file in the same directory,
/// flushed, then renamed over `path`. A crash never leaves half a file.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    check_writable(path)?;
    let io = |reason: std::io::Error| Error::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        reason,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(parent_dir(path))
        .map_err(|e| io(std::io::Error::from(e.kind())))?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    persist(tmp, path)
}

/// Flush a finished temporary file, give it the permissions of an ordinary
/// new file (tempfile creates 0600), and rename it over `path`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    let io = |reason: std::io::Error| Error::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        reason,
    };
    tmp.as_file().sync_all().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.persist(path)
        .map_err(|e| io(std::io::Error::from(e.error.kind())))?;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, "first").unwrap();
        write_atomic(&p, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_and_missing_directory_fail_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("r.json");
        assert!(check_writable(&p).is_err());
        assert!(write_atomic(&p, "x").is_err());
        assert!(!p.exists());
    }

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
