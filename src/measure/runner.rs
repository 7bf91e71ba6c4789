//! The runner: what `run` and `roofs` do, as a library. It opens nothing
//! and prints nothing: given a device it measures the roofs, then every op
//! of the plan (tuned, measured, verified), rewriting the results file
//! atomically after every op, sampling again in further passes, skipping
//! what the adapter cannot hold, stopping cleanly on an interrupt or an
//! error, and resuming a stopped run. Progress goes to an [`Observer`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::observer::{Observer, Start};
use super::ops::{self, Tuning};
use super::roofs;
use super::timer::{Timer, TimerPreference};
use super::tuner::Search;
use crate::dtype::{Format, Quant};
use crate::error::{Error, Result};
use crate::gpu::{feature_names, AdapterFilter, BackendChoice, GpuContext};
use crate::kernels::stream::StreamParams;
use crate::kernels::{DType, KernelConfig};
use crate::model::ModelConfig;
use crate::plan::{self, Op, OpShape, Sweep};
use crate::results::{self, limits_record, Point, ResultsFile, Skipped, Workload};
use crate::settings::{DTypeChoice, Method, RoofsConfig, SuiteConfig, TimingOverrides};
use crate::stats::TimerKind;

/// What a `run` measures and how.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The model whose ops are measured.
    pub model: ModelConfig,
    /// The sizes swept (its dtypes are resolved per device from `dtypes`).
    pub sweep: Sweep,
    /// Which dtypes.
    pub dtypes: DTypeChoice,
    /// Weight formats of the linear layers; `None`: the float formats of
    /// the dtypes, with q8_0 and q4_0 (q4_0 alone with `quick`).
    pub weights: Option<Vec<Format>>,
    /// Lighter roofs (`run --quick`).
    pub quick: bool,
    /// Sampling overrides, for roofs and ops alike.
    pub timing: TimingOverrides,
    /// Output elements checked per op.
    pub samples: u64,
    /// Sampling passes over the plan.
    pub passes: u32,
    /// Which clock.
    pub timer: TimerPreference,
    /// Distinct bytes each op's runs rotate through, instead of the
    /// method's default (1 GiB).
    pub footprint_bytes: Option<u64>,
    /// Seconds of warm-up before the roofs and each op's tuning, instead of
    /// the device's default.
    pub warm_s: Option<f64>,
    /// Kernel configurations to leave out: those whose name contains one
    /// of these.
    pub exclude: Vec<String>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The results as written (complete, or marked incomplete).
    pub file: ResultsFile,
    /// Where they were written: `dir/results.json`.
    pub dir: PathBuf,
    /// Why the run stopped before its last op, if it did (the file says
    /// so too, and `run --resume` continues it).
    pub stopped: Option<Error>,
    /// Seconds this session measured for (roofs and ops).
    pub elapsed_s: f64,
}

/// What a results file says while its run is unfinished.
const UNFINISHED: &str = "the run stopped before its last op";

/// The folder a run writes to when none is given: date, model, adapter
/// and backend.
pub fn default_dir(stamp: &str, model: &str, adapter: &str, backend: &str) -> PathBuf {
    PathBuf::from(format!(
        "roofline-{stamp}-{}-{}-{backend}",
        slug(model),
        slug(adapter)
    ))
}

/// The folder of a run over every backend: one subfolder per backend.
pub fn default_dir_all(stamp: &str, model: &str) -> PathBuf {
    PathBuf::from(format!("roofline-{stamp}-{}-all", slug(model)))
}

/// File-system-friendly slug: lowercase letters, digits and dashes.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(40).collect()
}

/// The roofs alone (`roofs`): every roof kernel of `cfg` into a results file.
pub fn measure_roofs(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    observer: &mut dyn Observer,
) -> Result<ResultsFile> {
    roofs::validate(ctx, cfg)?;
    observer.started(&start(
        ctx,
        timer,
        "roofs".into(),
        cfg.kernel_count(&ctx.caps),
    ));
    let records = roofs::measure(ctx, timer, cfg, observer);
    observer.finished();
    let mut file = new_file(ctx, timer, cfg.clone(), records?);
    file.store_warnings();
    Ok(file)
}

fn start(ctx: &GpuContext, timer: &Timer, what: String, steps: usize) -> Start {
    Start {
        what,
        adapter: ctx.adapter.name.clone(),
        backend: ctx.adapter.backend.clone(),
        timer: timer.info().kind,
        steps,
    }
}

fn new_file(ctx: &GpuContext, timer: &Timer, cfg: RoofsConfig, roofs: roofs::Roofs) -> ResultsFile {
    let mut file = ResultsFile::new(
        &ctx.adapter,
        feature_names(ctx.features),
        limits_record(&ctx.caps.limits),
        timer.info().clone(),
        cfg,
        roofs.kernels,
    );
    file.unavailable_roofs = roofs.unavailable;
    file
}

/// The plan of `settings` on `ctx`: the dtypes it can run, the ops that
/// fit (attention beyond the adapter's buffers, or in f16 without
/// SHADER_F16, is skipped and said; a linear layer that cannot run, or a
/// plan of nothing but skipped ops, is an error, before anything runs).
fn plan_for(
    ctx: &GpuContext,
    settings: &RunSettings,
    observer: &mut dyn Observer,
) -> Result<(Sweep, Vec<Op>, Vec<Skipped>)> {
    // Said once the plan is known to run something (a refused plan is
    // one error line).
    let (dtypes, mut notes) = settings
        .dtypes
        .resolve_for_run(&ctx.caps, &ctx.adapter.name);
    let weights = match &settings.weights {
        Some(list) => {
            let mut kept = Vec::new();
            for &f in list {
                if !kept.contains(&f) {
                    kept.push(f);
                }
            }
            kept
        }
        None => {
            let quant: &[Quant] = if settings.quick {
                &[Quant::Q4_0]
            } else {
                &[Quant::Q8_0, Quant::Q4_0]
            };
            let floats = dtypes.iter().map(|&d| Format::Float(d));
            // By default, quantized weights only where the model's sizes
            // are whole blocks (asked for by name, they are an error).
            let quant = match plan::block_mismatch(&settings.model) {
                Some((name, v)) => {
                    notes.push(format!(
                        "skipping quantized weights: {name} = {v} is not a multiple of {}",
                        Quant::BLOCK
                    ));
                    &[]
                }
                None => quant,
            };
            floats
                .chain(quant.iter().map(|&q| Format::Quant(q)))
                .collect()
        }
    };
    let sweep = Sweep {
        dtypes,
        weights,
        ..settings.sweep.clone()
    };
    let mut ops = Vec::new();
    let mut skipped = Vec::new();
    for op in plan::plan(&settings.model, &sweep)? {
        match ops::check(ctx, &op) {
            Ok(()) => ops.push(op),
            Err(e) if op.series.is_attention() => {
                notes.push(format!("skipping {e}"));
                skipped.push(Skipped {
                    op: op.label(),
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    if ops.is_empty() {
        if let Some(first) = skipped.first() {
            return Err(Error::Invalid(format!(
                "no op of the plan runs on {}: {}",
                ctx.adapter.name, first.reason
            )));
        }
    }
    notes.iter().for_each(|n| observer.note(n));
    Ok((sweep, ops, skipped))
}

/// `run` on one device into `dir`: the roofs, then every op of the plan.
/// `stop`, once set, ends the run after the op in progress.
pub fn run(
    ctx: &GpuContext,
    settings: &RunSettings,
    dir: &Path,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Outcome> {
    let (sweep, ops, skipped) = plan_for(ctx, settings, observer)?;
    let mut roofs_cfg = if settings.quick {
        RoofsConfig::quick(&ctx.caps)
    } else {
        RoofsConfig::for_device(&ctx.caps)
    };
    let mut method = Method::for_device(&ctx.caps);
    method.footprint_bytes = settings.footprint_bytes.unwrap_or(method.footprint_bytes);
    method.warm_s = settings.warm_s.unwrap_or(method.warm_s);
    if settings.footprint_bytes.is_some() {
        roofs_cfg.stream = StreamParams::for_limits(&ctx.caps.limits, method.footprint_bytes);
    }
    roofs_cfg.warm_s = method.warm_s;
    // The f32 SIMT roof judges every SIMT kernel (they accumulate in f32,
    // f16 operands included), so it is measured whatever the dtypes.
    roofs_cfg
        .peaks
        .retain(|p| p.dtype == DType::F32 || sweep.dtypes.contains(&p.dtype));
    if !sweep.dtypes.contains(&DType::F16) {
        roofs_cfg.coop_peaks.clear();
    }
    settings.timing.apply(&mut roofs_cfg.timing);
    roofs_cfg.shader_checks = ctx.shader_checks;
    roofs::validate(ctx, &roofs_cfg)?;
    let mut suite = SuiteConfig {
        samples: settings.samples,
        passes: settings.passes,
        shader_checks: ctx.shader_checks,
        method: Some(method),
        exclude: settings.exclude.clone(),
        ..SuiteConfig::for_device(&ctx.caps)
    };
    settings.timing.apply(&mut suite.timing);

    std::fs::create_dir_all(dir).map_err(|reason| Error::Io {
        action: "cannot create --out",
        path: dir.to_path_buf(),
        reason,
    })?;
    let path = dir.join("results.json");
    results::check_writable(&path)?;

    let started = Instant::now();
    let timer = Timer::new(ctx, settings.timer)?;
    // The roofs, every op in every pass, and the two roof kernels again.
    let steps = roofs_cfg.kernel_count(&ctx.caps) + ops.len() * settings.passes.max(1) as usize + 2;
    let what = format!("{} ({} ops)", settings.model.name, ops.len());
    observer.started(&start(ctx, &timer, what, steps));
    let records = match roofs::measure(ctx, &timer, &roofs_cfg, observer) {
        Ok(r) => r,
        Err(e) => {
            observer.finished();
            return Err(e.context("measuring the roofs"));
        }
    };
    let mut file = new_file(ctx, &timer, roofs_cfg, records);
    file.workload = Some(Workload {
        model: settings.model.clone(),
        sweep,
        suite,
    });
    file.skipped = skipped;
    let mut stopped = measure_ops(ctx, &timer, &ops, &mut file, &path, stop, observer)?;
    if stopped.is_none() {
        let again = roofs::remeasure(
            ctx,
            &timer,
            &file.config,
            &file.ceilings.measured,
            &file.kernels,
            observer,
        );
        match again {
            Ok(drift) => file.drift = drift,
            Err(e) => stopped = Some(e.context("measuring the roofs again")),
        }
    }
    observer.finished();
    file.pipelines_built = ctx.pipelines_built();
    file.wall_s = started.elapsed().as_secs_f64();
    save(&mut file, &path)?;
    Ok(Outcome {
        file,
        dir: dir.to_path_buf(),
        stopped,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// `run --backend all`: [`run`] on every backend `open` finds an adapter
/// on (it gives `None` for a backend without one), each into
/// `dir/<backend>`. Stops at the first run that stops.
pub fn run_each(
    mut open: impl FnMut(BackendChoice) -> Result<Option<GpuContext>>,
    settings: &RunSettings,
    dir: &Path,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for choice in BackendChoice::EACH {
        let Some(ctx) = open(choice)? else {
            continue;
        };
        let sub = dir.join(&ctx.adapter.backend);
        let outcome = run(&ctx, settings, &sub, stop, observer)?;
        let stopped = outcome.stopped.is_some();
        outcomes.push(outcome);
        if stopped {
            break;
        }
    }
    if outcomes.is_empty() {
        return Err(Error::NoAdapter {
            tried: BackendChoice::Auto.describe(),
        });
    }
    Ok(outcomes)
}

/// The backend and adapter the stopped run in `dir` (its results `file`)
/// measured, to open again for [`resume`]. Says first, without opening
/// any adapter, when there is nothing to resume: a roofs-only file, or a
/// complete run.
pub fn resume_target(file: &ResultsFile, dir: &Path) -> Result<(BackendChoice, AdapterFilter)> {
    pending(file, dir)?;
    let choice = BackendChoice::from_name(&file.adapter.backend)
        .ok_or_else(|| Error::Invalid(format!("unknown backend `{}`", file.adapter.backend)))?;
    Ok((choice, AdapterFilter::Name(file.adapter.name.clone())))
}

/// The plan of the run in `dir` (its results `file`) and those of its ops
/// that have no point and were not skipped, or why there is nothing to
/// resume.
fn pending(file: &ResultsFile, dir: &Path) -> Result<(Vec<Op>, Vec<Op>)> {
    let Some(w) = &file.workload else {
        return Err(Error::Invalid(format!(
            "{} holds roofs only, not a `run`: there is nothing to resume",
            dir.join("results.json").display()
        )));
    };
    let planned = plan::plan(&w.model, &w.sweep)?;
    let done =
        |op: &Op| file.point(op).is_some() || file.skipped.iter().any(|s| s.op == op.label());
    let ops: Vec<Op> = planned.iter().filter(|op| !done(op)).cloned().collect();
    if ops.is_empty() && file.incomplete.is_none() {
        return Err(Error::Invalid(format!(
            "nothing to resume: the run in {} is complete",
            dir.display()
        )));
    }
    Ok((planned, ops))
}

/// `run --resume`: measure the ops of the plan of the run in `dir` that
/// have no point and were not skipped, on `ctx` (the adapter it measured),
/// with the run's own roofs, timer and settings, and the kernel
/// configurations named by `exclude` left out too; points end in plan
/// order.
pub fn resume(
    ctx: &GpuContext,
    dir: &Path,
    exclude: &[String],
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Outcome> {
    let path = dir.join("results.json");
    let mut file = ResultsFile::read(&path)?;
    let (planned, ops) = pending(&file, dir)?;
    let w = file.workload.as_mut().expect("pending() checked it");
    // Further exclusions hold for the ops still to measure (a family that
    // took the device down, say), and are recorded with the run's.
    for pattern in exclude {
        if !w.suite.exclude.contains(pattern) {
            w.suite.exclude.push(pattern.clone());
        }
    }
    let w = w.clone();
    for op in &ops {
        ops::check(ctx, op)?;
    }
    let started = Instant::now();
    let pref = match file.timer.kind {
        TimerKind::GpuTimestamp => TimerPreference::Gpu,
        TimerKind::WallClock => TimerPreference::Wall,
    };
    let timer = Timer::new(ctx, pref)?;
    let what = format!(
        "{}: resuming with {} of {} points done, {} to go",
        w.model.name,
        file.points.len(),
        file.points.len() + ops.len(),
        ops.len()
    );
    let steps = ops.len() * w.suite.passes.max(1) as usize;
    observer.started(&start(ctx, &timer, what, steps));
    let stopped = measure_ops(ctx, &timer, &ops, &mut file, &path, stop, observer)?;
    observer.finished();
    // Points in plan order, as an uninterrupted run writes them.
    file.points.sort_by_key(|p| {
        let key = p.op.key();
        planned
            .iter()
            .position(|op| op.key() == key)
            .unwrap_or(usize::MAX)
    });
    save(&mut file, &path)?;
    Ok(Outcome {
        file,
        dir: dir.to_path_buf(),
        stopped,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Refresh the stored warnings and rewrite the results file atomically.
fn save(file: &mut ResultsFile, path: &Path) -> Result<()> {
    file.store_warnings();
    results::write_atomic(path, &file.to_json())
}

/// Measure `ops` into `file`, rewriting `path` after each. On `stop` or an
/// error the file is marked unfinished and saved; the reason is returned.
fn measure_ops(
    ctx: &GpuContext,
    timer: &Timer,
    ops: &[Op],
    file: &mut ResultsFile,
    path: &Path,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Option<Error>> {
    let suite = file
        .workload
        .as_ref()
        .map(|w| w.suite.clone())
        .unwrap_or_else(|| SuiteConfig::for_device(&ctx.caps));
    file.incomplete = Some(UNFINISHED.into());
    save(file, path)?;
    let mut stopped = None;
    // Ops of the same kind, shape and dtype share one tuning decision,
    // those of earlier sessions of the run included (but for a kernel the
    // run now excludes).
    let mut decided: HashMap<(OpShape, DType), Decision> = HashMap::new();
    for p in file
        .points
        .iter()
        .filter(|p| suite.excluded_by(&p.kernel).is_none())
    {
        decided
            .entry((p.op.shape, p.op.dtype))
            .or_insert_with(|| Decision::of(p));
    }
    // Pass 1 tunes and measures every op; further passes sample the points
    // of this session again with the configuration chosen.
    'passes: for pass in 1..=suite.passes.max(1) {
        for op in ops {
            if stop.load(Ordering::SeqCst) {
                stopped = Some(Error::Interrupted);
                break 'passes;
            }
            let label = op.label();
            let result = if pass == 1 {
                observer.step(&label);
                let key = (op.shape, op.dtype);
                let shared = decided.get(&key).cloned();
                let tuning = match &shared {
                    None => Tuning::Search,
                    Some(d) => Tuning::Known {
                        config: d.config,
                        search: d.search.clone(),
                        estimate_s: Some(d.estimate_s),
                    },
                };
                ops::measure(ctx, timer, &suite, op, tuning).map(|mut p| {
                    p.tuning_shared_with = shared.map(|d| d.label);
                    decided.entry(key).or_insert_with(|| Decision::of(&p));
                    file.points.push(p);
                    file.points.len() - 1
                })
            } else {
                let Some(i) = file.points.iter().position(|p| p.op.key() == op.key()) else {
                    continue;
                };
                observer.step(&format!("{label} (pass {pass})"));
                let known = Tuning::Known {
                    config: file.points[i].kernel,
                    search: Search::default(),
                    estimate_s: Some(file.points[i].median_s),
                };
                ops::measure(ctx, timer, &suite, op, known).map(|again| {
                    file.points[i].merge(&again.timing, &again.verification);
                    i
                })
            };
            match result {
                Ok(i) => {
                    observer.point(&file.points[i], &file.ceilings.measured);
                    // Rewritten after every op: an interrupted run keeps what it measured.
                    save(file, path)?;
                }
                Err(e) => {
                    stopped = Some(e.context(format!("measuring {label}")));
                    break 'passes;
                }
            }
        }
    }
    match &stopped {
        None => file.incomplete = None,
        Some(e) => file.incomplete = Some(e.to_string()),
    }
    save(file, path)?;
    Ok(stopped)
}

/// A tuning decision, shared by the ops of one kind, shape and dtype.
#[derive(Debug, Clone)]
struct Decision {
    config: KernelConfig,
    search: Search,
    estimate_s: f64,
    label: String,
}

impl Decision {
    fn of(p: &Point) -> Self {
        Self {
            config: p.kernel,
            search: Search {
                trials: p.tuning.clone(),
                tie: p.tuning_tie,
            },
            estimate_s: p.median_s,
            label: p.op.label(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_named_after_date_model_and_adapter() {
        let d = default_dir(
            "20260101-120000",
            "Llama 7B",
            "NVIDIA H200 (PCIe)",
            "vulkan",
        );
        assert_eq!(
            d,
            PathBuf::from("roofline-20260101-120000-llama-7b-nvidia-h200-pcie-vulkan")
        );
        assert_eq!(
            default_dir_all("s", "tiny"),
            PathBuf::from("roofline-s-tiny-all")
        );
    }
}
