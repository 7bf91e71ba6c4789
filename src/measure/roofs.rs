//! The roofs: every streaming kernel (the best verified one is the memory
//! roof), every SIMT peak kernel (the best verified one per dtype is that
//! dtype's SIMT compute roof) and every cooperative-matrix peak kernel the
//! device can run (one cooperative roof per accumulator type), through the
//! same prepare, time and verify path as the ops; and the memory and top
//! SIMT roof kernels measured again at the end of a run.

use super::observer::Observer;
use super::timer::Timer;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::kernels::peak::{self, Peak, PeakConfig, PeakParams};
use crate::kernels::peak_coop::{self, CoopPeak, CoopPeakConfig};
use crate::kernels::stream::{Stream, StreamOp};
use crate::kernels::{run_and_verify, DType, Engine, Extent, Kernel, Prepared, RoofKind};
use crate::results::{Drift, KernelRecord, Skipped};
use crate::roofline::{ComputeKey, MeasuredCeilings};
use crate::settings::RoofsConfig;
use crate::stats::Measurement;

/// Check every size and parameter of `cfg` against the device before
/// anything runs.
pub fn validate(ctx: &GpuContext, cfg: &RoofsConfig) -> Result<()> {
    cfg.stream.validate(ctx)?;
    for p in &cfg.peaks {
        p.validate(ctx)?;
    }
    for &chains in &cfg.peak_chains {
        peak::check(&PeakConfig {
            chains,
            iterations: cfg.peak_iterations.unwrap_or(peak::UNROLL),
        })?;
    }
    for &chains in &cfg.coop_chains {
        peak_coop::check(&CoopPeakConfig {
            chains,
            iterations: 1,
        })?;
    }
    Ok(())
}

/// What the roofs measured, and the roof kernels this device cannot run.
pub struct Roofs {
    /// Every roof kernel measured.
    pub kernels: Vec<KernelRecord>,
    /// Roof kernels not available here (no cooperative matrices, ...), and why.
    pub unavailable: Vec<Skipped>,
}

/// Run every roof kernel of `cfg`, each sampled after `cfg.warm_s` of
/// warm-up (a kernel's verification leaves the GPU idle long enough for its
/// clocks to drop), telling `observer` about each.
pub fn measure(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    observer: &mut dyn Observer,
) -> Result<Roofs> {
    validate(ctx, cfg)?;
    let stream = Stream::new(ctx, cfg.stream)?;
    let peaks = cfg
        .peaks
        .iter()
        .map(|params| Peak::new(ctx, *params, cfg.peak_chains.clone()))
        .collect::<Result<Vec<_>>>()?;
    let mut unavailable = Vec::new();
    let mut coop_peaks = Vec::new();
    for params in &cfg.coop_peaks {
        if let Some(reason) = params.unsupported(&ctx.caps) {
            observer.note(&format!("{}: {reason}", params.name()));
            unavailable.push(Skipped {
                op: params.name(),
                reason,
            });
            continue;
        }
        coop_peaks.push(CoopPeak::new(ctx, *params, cfg.coop_chains.clone())?);
    }
    if cfg.timing.settle_s > 0.0 {
        // Every roof kernel's pipeline first, so one settling wait covers
        // them all rather than one each.
        super::build_pipelines(ctx, &stream, &stream.candidates(&ctx.caps))?;
        for peak in &peaks {
            super::build_pipelines(ctx, peak, &peak.candidates(&ctx.caps))?;
        }
        for peak in &coop_peaks {
            super::build_pipelines(ctx, peak, &peak.candidates(&ctx.caps))?;
        }
        timer.settle(ctx, cfg.timing.settle_s)?;
    }
    let mut records = Vec::new();
    for op in stream.candidates(&ctx.caps) {
        let r = stream_record(ctx, timer, cfg, &stream, op, observer)?;
        observer.roof(&r);
        records.push(r);
    }
    for peak in &peaks {
        for candidate in peak.candidates(&ctx.caps) {
            let r = peak_record(ctx, timer, cfg, peak, candidate, observer)?;
            observer.roof(&r);
            records.push(r);
        }
    }
    for peak in &coop_peaks {
        for candidate in peak.candidates(&ctx.caps) {
            let r = coop_record(ctx, timer, cfg, peak, candidate, observer)?;
            observer.roof(&r);
            records.push(r);
        }
    }
    Ok(Roofs {
        kernels: records,
        unavailable,
    })
}

fn stream_record(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    stream: &Stream,
    op: StreamOp,
    observer: &mut dyn Observer,
) -> Result<KernelRecord> {
    let name = stream_name(op);
    observer.step(&name);
    let p = stream.prepare(ctx, op, Extent::Whole)?;
    timer.warm(ctx, cfg.warm_s)?;
    let timing = timer.measure(ctx, &cfg.timing, &name, &p.dispatches)?;
    record(
        ctx,
        stream,
        &p,
        timing,
        Work {
            name,
            roof: RoofKind::Memory,
            key: ComputeKey::simt(DType::F32),
            bytes: stream.bytes(op),
            flops: 0,
            working_set: stream.working_set_bytes(),
            config: serde_json::to_value(cfg.stream).expect("serialisable"),
            checked: cfg.shader_checks,
        },
    )
}

fn peak_record(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    peak: &Peak,
    candidate: PeakConfig,
    observer: &mut dyn Observer,
) -> Result<KernelRecord> {
    let name = peak.name(candidate);
    observer.step(&name);
    let config = match cfg.peak_iterations {
        Some(iterations) => PeakConfig {
            iterations,
            ..candidate
        },
        None => lengthen(
            ctx,
            timer,
            peak,
            candidate,
            cfg.min_dispatch_s,
            (peak::UNROLL, peak::MAX_ITERATIONS),
        )?,
    };
    let p = peak.prepare(ctx, config, Extent::Whole)?;
    timer.warm(ctx, cfg.warm_s)?;
    let timing = timer.measure(ctx, &cfg.timing, &name, &p.dispatches)?;
    record(
        ctx,
        peak,
        &p,
        timing,
        Work {
            name,
            roof: RoofKind::Compute,
            key: ComputeKey::simt(peak.params.dtype),
            bytes: peak.bytes(),
            flops: peak.flops(config),
            working_set: peak.bytes(),
            config: peak_json(peak.params, config.chains, config.iterations),
            checked: cfg.shader_checks,
        },
    )
}

fn coop_record(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    peak: &CoopPeak,
    candidate: CoopPeakConfig,
    observer: &mut dyn Observer,
) -> Result<KernelRecord> {
    let name = peak.name(candidate);
    observer.step(&name);
    // Lengthened until one dispatch lasts `min_dispatch_s`, as the SIMT peaks.
    let config = lengthen(
        ctx,
        timer,
        peak,
        candidate,
        cfg.min_dispatch_s,
        (1, peak_coop::MAX_ITERATIONS),
    )?;
    let p = peak.prepare(ctx, config, Extent::Whole)?;
    timer.warm(ctx, cfg.warm_s)?;
    let timing = timer.measure(ctx, &cfg.timing, &name, &p.dispatches)?;
    record(
        ctx,
        peak,
        &p,
        timing,
        Work {
            name,
            roof: RoofKind::Compute,
            key: ComputeKey::coop(peak.params.accumulate),
            bytes: peak.bytes(config),
            flops: peak.flops(config),
            working_set: peak.bytes(config),
            config: peak_json(peak.params, config.chains, config.iterations),
            checked: cfg.shader_checks,
        },
    )
}

/// The memory roof's kernel and the top SIMT compute roof's kernel of `records`,
/// measured again (after a run's last op): how far each moved.
pub fn remeasure(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    roofs: &MeasuredCeilings,
    records: &[KernelRecord],
    observer: &mut dyn Observer,
) -> Result<Vec<Drift>> {
    let mut out = Vec::new();
    let find = |name: &Option<String>| records.iter().find(|r| Some(&r.name) == name.as_ref());
    let memory = find(&roofs.memory_kernel)
        .and_then(|before| stream_op_named(&before.name).map(|op| (before, op)));
    if let Some((before, op)) = memory {
        let stream = stream_ready_for(ctx, cfg, op)?;
        let after = stream_record(ctx, timer, cfg, &stream, op, observer)?;
        if after.verified {
            out.push(Drift {
                kernel: before.name.clone(),
                before: before.bytes_per_s,
                after: after.bytes_per_s,
            });
        }
    }
    let top = roofs
        .of_engine(Engine::Simt)
        .max_by(|a, b| a.flops_per_s.total_cmp(&b.flops_per_s));
    if let Some(top) = top {
        let dtype = top.key.input;
        let before = records.iter().find(|r| r.name == top.kernel);
        let params = cfg.peaks.iter().find(|p| p.dtype == dtype);
        if let (Some(before), Some(params)) = (before, params) {
            let chains = before.config["chains"].as_u64().unwrap_or(4) as u32;
            let iterations = before.config["iterations"].as_u64().unwrap_or(64) as u32;
            let peak = Peak::new(ctx, PeakParams { ..*params }, vec![chains])?;
            let fixed = RoofsConfig {
                peak_iterations: Some(iterations),
                ..cfg.clone()
            };
            let config = PeakConfig { chains, iterations };
            let after = peak_record(ctx, timer, &fixed, &peak, config, observer)?;
            if after.verified {
                out.push(Drift {
                    kernel: before.name.clone(),
                    before: before.flops_per_s,
                    after: after.flops_per_s,
                });
            }
        }
    }
    Ok(out)
}

/// The name of `op`'s roof record (`stream.<op>`).
pub(super) fn stream_name(op: StreamOp) -> String {
    format!("stream.{}", op.name())
}

/// The stream op of the roof record named `name`, if it is one.
pub(super) fn stream_op_named(name: &str) -> Option<StreamOp> {
    StreamOp::ALL
        .into_iter()
        .find(|&op| stream_name(op) == name)
}

/// `cfg`'s stream arrays with the ops before `op` run once, so `op` reads
/// what it read when the roofs were measured (the ops build on each
/// other's results; no readback, so the GPU does not idle before `op` is
/// timed).
pub(super) fn stream_ready_for(
    ctx: &GpuContext,
    cfg: &RoofsConfig,
    op: StreamOp,
) -> Result<Stream> {
    let stream = Stream::new(ctx, cfg.stream)?;
    for earlier in StreamOp::ALL.into_iter().take_while(|o| *o != op) {
        let p = stream.prepare(ctx, earlier, Extent::Whole)?;
        p.dispatches.run_each_copy(ctx)?;
    }
    Ok(stream)
}

/// A peak kernel's `config` with its iterations raised until one dispatch
/// lasts `min_s`: aiming 20% past it, at least doubling, in whole blocks of
/// `step`, at most `max`. Each probe runs on a warm pipeline.
fn lengthen<K: Kernel<Config = PeakConfig>>(
    ctx: &GpuContext,
    timer: &Timer,
    kernel: &K,
    mut config: PeakConfig,
    min_s: f64,
    (step, max): (u32, u32),
) -> Result<PeakConfig> {
    loop {
        let p = kernel.prepare(ctx, config, Extent::Whole)?;
        let t = timer.probe(ctx, &p.dispatches)?;
        if t >= min_s || config.iterations >= max {
            return Ok(config);
        }
        let scale = (1.2 * min_s / t.max(1e-9)).max(2.0);
        let next = (config.iterations as f64 * scale).min(max as f64) as u32;
        config.iterations = next.div_ceil(step) * step;
    }
}

/// A peak kernel's parameters with the chains and iterations it ran.
fn peak_json(params: impl serde::Serialize, chains: u32, iterations: u32) -> serde_json::Value {
    let mut json = serde_json::to_value(params).expect("serialisable");
    json["chains"] = chains.into();
    json["iterations"] = iterations.into();
    json
}

/// What a roof kernel's record says about its work.
struct Work {
    name: String,
    roof: RoofKind,
    key: ComputeKey,
    bytes: u64,
    flops: u64,
    working_set: u64,
    config: serde_json::Value,
    checked: bool,
}

/// Verify `prepared` after its timing and assemble the record, rates from
/// the median.
fn record<K: Kernel>(
    ctx: &GpuContext,
    kernel: &K,
    prepared: &Prepared<K::Config>,
    timing: Measurement,
    work: Work,
) -> Result<KernelRecord> {
    let verification = run_and_verify(ctx, kernel, prepared, 0)?;
    let t = timing.summary.median;
    Ok(KernelRecord {
        name: work.name,
        roof: work.roof,
        dtype: work.key.input,
        engine: work.key.engine,
        accumulate: work.key.accumulate,
        bytes_per_dispatch: work.bytes,
        flops_per_dispatch: work.flops,
        working_set_bytes: work.working_set,
        config: work.config,
        shader_checks: work.checked,
        bytes_per_s: work.bytes as f64 / t,
        flops_per_s: work.flops as f64 / t,
        verified: verification.passed(),
        verification,
        timing,
    })
}
