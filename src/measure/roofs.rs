//! The roofs: every streaming kernel (the best verified one is the memory
//! roof) and every peak kernel (the best verified one per dtype is that
//! dtype's compute roof), through the same prepare, time and verify path
//! as the ops.

use super::observer::Observer;
use super::timer::Timer;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::kernels::peak::{self, Peak, PeakConfig};
use crate::kernels::stream::Stream;
use crate::kernels::{run_and_verify, DType, Extent, Kernel, Prepared, RoofKind};
use crate::results::KernelRecord;
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
        PeakConfig {
            chains,
            iterations: cfg.peak_iterations.unwrap_or(peak::UNROLL),
        }
        .validate()?;
    }
    Ok(())
}

/// Run every roof kernel of `cfg`, telling `observer` about each.
pub fn measure(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    observer: &mut dyn Observer,
) -> Result<Vec<KernelRecord>> {
    validate(ctx, cfg)?;
    let mut records = Vec::new();
    let stream = Stream::new(ctx, cfg.stream)?;
    let params = serde_json::to_value(cfg.stream).expect("serialisable");
    for op in stream.candidates(&ctx.caps) {
        let name = format!("stream.{}", op.name());
        observer.step(&name);
        let p = stream.prepare(ctx, op, Extent::Whole)?;
        let timing = timer.measure(ctx, &cfg.timing, &name, &p.dispatches)?;
        let r = record(
            ctx,
            &stream,
            &p,
            timing,
            Work {
                name,
                roof: RoofKind::Memory,
                dtype: DType::F32,
                bytes: stream.bytes(op),
                flops: 0,
                config: params.clone(),
                checked: cfg.shader_checks,
            },
        )?;
        observer.roof(&r);
        records.push(r);
    }
    for params in &cfg.peaks {
        let peak = Peak::new(ctx, *params, cfg.peak_chains.clone())?;
        for candidate in peak.candidates(&ctx.caps) {
            let name = peak.name(candidate);
            observer.step(&name);
            let config = match cfg.peak_iterations {
                Some(iterations) => PeakConfig {
                    iterations,
                    ..candidate
                },
                None => lengthen(ctx, timer, &peak, candidate, cfg.min_dispatch_s)?,
            };
            let p = peak.prepare(ctx, config, Extent::Whole)?;
            let timing = timer.measure(ctx, &cfg.timing, &name, &p.dispatches)?;
            let mut json = serde_json::to_value(params).expect("serialisable");
            json["chains"] = config.chains.into();
            json["iterations"] = config.iterations.into();
            let r = record(
                ctx,
                &peak,
                &p,
                timing,
                Work {
                    name,
                    roof: RoofKind::Compute,
                    dtype: params.dtype,
                    bytes: peak.bytes(),
                    flops: peak.flops(config),
                    config: json,
                    checked: cfg.shader_checks,
                },
            )?;
            observer.roof(&r);
            records.push(r);
        }
    }
    Ok(records)
}

/// `config` with its iterations multiplied until one dispatch lasts at
/// least `min_s` (probed with the timer, on a warm pipeline).
fn lengthen(
    ctx: &GpuContext,
    timer: &Timer,
    peak: &Peak,
    config: PeakConfig,
    min_s: f64,
) -> Result<PeakConfig> {
    let mut config = config;
    loop {
        let p = peak.prepare(ctx, config, Extent::Whole)?;
        timer.probe(ctx, &p.dispatches)?;
        let t = timer.probe(ctx, &p.dispatches)?;
        if t >= min_s || config.iterations >= peak::MAX_ITERATIONS {
            return Ok(config);
        }
        // Aim 20% past the target, at least doubling, in whole unrolled blocks.
        let scale = (1.2 * min_s / t.max(1e-9)).max(2.0);
        let next = (config.iterations as f64 * scale).min(peak::MAX_ITERATIONS as f64) as u32;
        config.iterations = next.div_ceil(peak::UNROLL) * peak::UNROLL;
    }
}

/// What a roof kernel's record says about its work.
struct Work {
    name: String,
    roof: RoofKind,
    dtype: DType,
    bytes: u64,
    flops: u64,
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
        dtype: work.dtype,
        bytes_per_dispatch: work.bytes,
        flops_per_dispatch: work.flops,
        config: work.config,
        shader_checks: work.checked,
        bytes_per_s: work.bytes as f64 / t,
        flops_per_s: work.flops as f64 / t,
        verified: verification.passed(),
        verification,
        timing,
    })
}
