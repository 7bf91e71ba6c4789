//! `cargo bench --bench roofs`: the measured roofs on every software (or real)
//! adapter as ratios to the host's own limits, measured by this bench in the
//! same run, plus a sweep over kernel shapes and shader runtime checks.
//!
//! Host limits (all cores, one thread per core):
//! - copy bandwidth: each thread copies its share of a 512 MiB buffer into
//!   another; bytes = read + written, best of 5.
//! - FP32 FMA peak: each thread runs 12 independent SIMD FMA chains
//!   (AVX-512 and AVX2 when the CPU has them, portable mul+add otherwise);
//!   FLOPs = 2 per lane per FMA, best of 5.
//!
//! Set `ROOFLINE_BENCH_QUICK=1` for a shorter run.

use std::time::Instant;

#[path = "common.rs"]
mod common;

use wgpu_roofline::gpu::GpuContext;
use wgpu_roofline::kernels::peak::PeakParams;
use wgpu_roofline::kernels::stream::StreamParams;
use wgpu_roofline::kernels::DType;
use wgpu_roofline::measure::runner;
use wgpu_roofline::measure::{Silent, Timer, TimerPreference};
use wgpu_roofline::results::{KernelRecord, ResultsFile};
use wgpu_roofline::roofline::{ComputeKey, MeasuredCeilings};
use wgpu_roofline::settings::RoofsConfig;
use wgpu_roofline::units::si;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Host copy bandwidth in bytes/s (read + written), best of `reps`.
fn host_copy_bandwidth(bytes: usize, reps: usize) -> f64 {
    let n = bytes / 4;
    let src: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
    let mut dst = vec![0f32; n];
    let t = threads();
    let chunk = n.div_ceil(t);
    let mut best = 0f64;
    for _ in 0..reps {
        let start = Instant::now();
        std::thread::scope(|s| {
            for (d, sr) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                s.spawn(move || d.copy_from_slice(sr));
            }
        });
        let dt = start.elapsed().as_secs_f64();
        best = best.max(2.0 * bytes as f64 / dt);
    }
    std::hint::black_box(&dst);
    best
}

/// FLOPs per second of one thread running `iters` steps of FMA chains, with
/// the named instruction set.
fn fma_thread(isa: &str, iters: u64) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(iters: u64) -> (f64, f32) {
            let a = _mm512_set1_ps(0.999_999);
            let b = _mm512_set1_ps(1e-7);
            let mut acc = [_mm512_set1_ps(1.0); 12];
            for (i, x) in acc.iter_mut().enumerate() {
                *x = _mm512_set1_ps(1.0 + i as f32 * 1e-3);
            }
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = _mm512_fmadd_ps(*x, a, b);
                }
            }
            let mut s = _mm512_setzero_ps();
            for x in acc {
                s = _mm512_add_ps(s, x);
            }
            (iters as f64 * 12.0 * 16.0 * 2.0, _mm512_reduce_add_ps(s))
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(iters: u64) -> (f64, f32) {
            let a = _mm256_set1_ps(0.999_999);
            let b = _mm256_set1_ps(1e-7);
            let mut acc = [_mm256_set1_ps(1.0); 12];
            for (i, x) in acc.iter_mut().enumerate() {
                *x = _mm256_set1_ps(1.0 + i as f32 * 1e-3);
            }
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = _mm256_fmadd_ps(*x, a, b);
                }
            }
            let mut out = [0f32; 8];
            let mut s = _mm256_setzero_ps();
            for x in acc {
                s = _mm256_add_ps(s, x);
            }
            _mm256_storeu_ps(out.as_mut_ptr(), s);
            (iters as f64 * 12.0 * 8.0 * 2.0, out.iter().sum())
        }
        let start = Instant::now();
        // SAFETY: each is only called after its features were detected.
        let (flops, sink) = match isa {
            "avx512" => unsafe { avx512(iters) },
            "avx2" => unsafe { avx2(iters) },
            _ => portable(iters),
        };
        std::hint::black_box(sink);
        (flops, start.elapsed().as_secs_f64())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        let start = Instant::now();
        let (flops, sink) = portable(iters);
        std::hint::black_box(sink);
        (flops, start.elapsed().as_secs_f64())
    }
}

/// Portable chains: mul + add (2 FLOPs) that the compiler vectorises.
fn portable(iters: u64) -> (f64, f32) {
    let mut acc = [[1.0f32; 8]; 12];
    for _ in 0..iters {
        for row in acc.iter_mut() {
            for x in row.iter_mut() {
                *x = *x * 0.999_999 + 1e-7;
            }
        }
    }
    (iters as f64 * 12.0 * 8.0 * 2.0, acc.iter().flatten().sum())
}

/// Host FP32 peak over all cores for `isa`, best of `reps`.
fn host_fma_peak(isa: &'static str, reps: usize) -> f64 {
    let iters = 20_000_000;
    let mut best = 0f64;
    for _ in 0..reps {
        let start = Instant::now();
        let flops: f64 = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads())
                .map(|_| s.spawn(move || fma_thread(isa, iters).0))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        best = best.max(flops / start.elapsed().as_secs_f64());
    }
    best
}

fn isas() -> Vec<&'static str> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            v.push("avx512");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            v.push("avx2");
        }
    }
    v.push("portable");
    v
}

struct Host {
    copy: f64,
    fma: Vec<(&'static str, f64)>,
}

fn measure_host(quick: bool) -> Host {
    let reps = if quick { 2 } else { 5 };
    Host {
        copy: host_copy_bandwidth(512 << 20, reps),
        fma: isas()
            .into_iter()
            .map(|i| (i, host_fma_peak(i, reps)))
            .collect(),
    }
}

fn best_of(a: Host, b: Host) -> Host {
    Host {
        copy: a.copy.max(b.copy),
        fma: a
            .fma
            .iter()
            .zip(&b.fma)
            .map(|((n, x), (_, y))| (*n, x.max(*y)))
            .collect(),
    }
}

fn rate(r: &KernelRecord) -> String {
    if r.flops_per_dispatch > r.bytes_per_dispatch {
        si(r.flops_per_s, "FLOP/s")
    } else {
        si(r.bytes_per_s, "B/s")
    }
}

/// The runner's roofs with `cfg`: every kernel's record.
fn roofs(ctx: &GpuContext, timer: &Timer, cfg: &RoofsConfig) -> wgpu_roofline::Result<ResultsFile> {
    runner::measure_roofs(ctx, timer, cfg, &mut Silent)
}

/// Variants of the kernel shapes, each one line.
fn sweep(ctx: &mut GpuContext, timer: &Timer, base: &RoofsConfig, quick: bool) {
    let mut timing = base.timing;
    timing.repeats = if quick { 3 } else { 5 };
    let stream_base = StreamParams {
        sets: 1,
        ..base.stream
    };
    println!(
        "  stream sweep (1 set of {} per array):",
        wgpu_roofline::units::bytes(stream_base.array_bytes)
    );
    let shapes: &[(u32, u32)] = if quick {
        &[(256, 4), (64, 1)]
    } else {
        &[(256, 4), (256, 1), (256, 16), (64, 4), (1024, 4)]
    };
    for &(wg, per) in shapes {
        for checked in [false, true] {
            ctx.shader_checks = checked;
            let cfg = RoofsConfig {
                stream: StreamParams {
                    workgroup_size: wg,
                    vec4_per_invocation: per,
                    ..stream_base
                },
                peaks: vec![],
                timing,
                shader_checks: checked,
                ..base.clone()
            };
            match roofs(ctx, timer, &cfg) {
                Ok(f) => {
                    let rs = &f.kernels;
                    let best = rs
                        .iter()
                        .filter(|r| r.verified)
                        .max_by(|a, b| a.bytes_per_s.total_cmp(&b.bytes_per_s));
                    let all: Vec<_> = rs
                        .iter()
                        .map(|r| format!("{} {}", &r.name[7..], rate(r)))
                        .collect();
                    println!(
                        "    wg {wg:>4} x {per:>2} vec4/inv, checks {:<3}: best {} | {}",
                        if checked { "on" } else { "off" },
                        best.map(rate).unwrap_or_else(|| "unverified".into()),
                        all.join(", ")
                    );
                }
                Err(e) => println!("    wg {wg} x {per}: {e}"),
            }
        }
    }
    println!("  peak sweep:");
    for base_peak in &base.peaks {
        let chains: &[u32] = if quick { &[2, 8] } else { &[1, 2, 3, 4, 8] };
        for (wg, checked) in [(256, false), (64, false), (256, true)] {
            ctx.shader_checks = checked;
            let p = PeakParams {
                workgroup_size: wg,
                workgroups: (base_peak.invocations() / wg as u64) as u32,
                ..*base_peak
            };
            let cfg = RoofsConfig {
                stream: StreamParams {
                    array_bytes: 1 << 16,
                    sets: 1,
                    ..stream_base
                },
                peaks: vec![p],
                peak_chains: chains.to_vec(),
                timing,
                shader_checks: checked,
                ..base.clone()
            };
            match roofs(ctx, timer, &cfg) {
                Ok(f) => {
                    for r in f.kernels.iter().filter(|k| k.name.starts_with("peak")) {
                        println!(
                            "    {} wg {wg:>4}, checks {:<3}: {}{}",
                            r.name,
                            if checked { "on" } else { "off" },
                            rate(r),
                            if r.verified { "" } else { " UNVERIFIED" }
                        );
                    }
                }
                Err(e) => println!("    {} wg {wg}: {e}", p.dtype.name()),
            }
        }
    }
    ctx.shader_checks = false;
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let quick = std::env::var_os("ROOFLINE_BENCH_QUICK").is_some();
    println!(
        "host: {} threads; measuring copy bandwidth and FMA peak ...",
        threads()
    );
    let host_before = measure_host(quick);

    let mut rows = Vec::new();
    for mut ctx in common::adapters() {
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        let mut cfg = RoofsConfig::for_device(&ctx.caps);
        if quick {
            cfg.stream.sets = 1;
            cfg.timing.repeats = 5;
        }
        println!(
            "\n== {} ({}), timer {:?}",
            ctx.adapter.name,
            ctx.adapter.backend,
            timer.info().kind
        );
        let file = roofs(&ctx, &timer, &cfg).expect("roofs");
        for r in &file.kernels {
            println!(
                "  {:<18} {:>16}  cv {:>5.1}%  verified {}",
                r.name,
                rate(r),
                r.timing.summary.cv * 100.0,
                r.verified
            )
        }
        let ceilings: MeasuredCeilings = file.ceilings.measured.clone();
        sweep(&mut ctx, &timer, &cfg, quick);
        rows.push((
            ctx.adapter.backend.clone(),
            ctx.adapter.name.clone(),
            ceilings,
        ));
    }
    let host_after = measure_host(quick);
    let host = best_of(host_before, host_after);

    println!("\n== host limits (best of before and after the GPU runs)");
    println!(
        "  copy bandwidth (read + write, {} threads): {}",
        threads(),
        si(host.copy, "B/s")
    );
    for (isa, f) in &host.fma {
        println!("  FP32 FMA peak, {isa:<8}: {}", si(*f, "FLOP/s"));
    }
    let best_fma = host.fma.iter().map(|x| x.1).fold(0.0, f64::max);
    let avx2 = host.fma.iter().find(|x| x.0 == "avx2").map(|x| x.1);

    println!("\n== ratios (targets: memory >= 0.90 x host copy, compute >= 0.50 x host FMA peak)");
    println!(
        "  {:<8} {:>12} {:>8} {:>16} {:>9} {:>9} {:>16}",
        "backend", "memory roof", "/copy", "f32 compute", "/best", "/avx2", "f16 compute"
    );
    for (backend, _name, c) in &rows {
        let mem = c.memory_bytes_per_s.unwrap_or(0.0);
        let f32r = c.compute_roof(ComputeKey::simt(DType::F32)).unwrap_or(0.0);
        let f16r = c
            .compute_roof(ComputeKey::simt(DType::F16))
            .map(|f| si(f, "FLOP/s"))
            .unwrap_or_else(|| "-".into());
        println!(
            "  {:<8} {:>12} {:>8.2} {:>16} {:>9.2} {:>9} {:>16}",
            backend,
            si(mem, "B/s"),
            mem / host.copy,
            si(f32r, "FLOP/s"),
            f32r / best_fma,
            avx2.map(|a| format!("{:.2}", f32r / a))
                .unwrap_or_else(|| "-".into()),
            f16r
        );
    }
    if rows.is_empty() {
        println!("  no adapter found: install Mesa's lavapipe (see README)");
    }
}
