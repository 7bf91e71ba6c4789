//! The roof kernels on every software adapter, checked against their CPU
//! references, and the timer that measures them.

use crate::common;
use wgpu_roofline::gpu::GpuContext;
use wgpu_roofline::kernels::peak::{Peak, PeakConfig, PeakParams};
use wgpu_roofline::kernels::stream::{Stream, StreamOp, StreamParams};
use wgpu_roofline::kernels::{run_and_verify, DType, Extent, Kernel, Prepared, RoofKind};
use wgpu_roofline::measure::observer::Observer;
use wgpu_roofline::measure::{roofs, Timer, TimerPreference};
use wgpu_roofline::results::{Ceilings, KernelRecord};
use wgpu_roofline::settings::{RoofsConfig, TimingConfig};
use wgpu_roofline::stats::TimerKind;

fn quick() -> TimingConfig {
    TimingConfig {
        warmup: 1,
        repeats: 3,
        min_batch_s: 0.001,
        max_dispatches: 50,
        settle_s: 0.0,
    }
}

/// The stream kernels alone, over 64 KiB arrays in one set, timed quickly:
/// for tests of how the roofs are sampled, not of their figures.
fn small_streams(ctx: &GpuContext) -> RoofsConfig {
    RoofsConfig {
        stream: StreamParams {
            array_bytes: 1 << 16,
            sets: 1,
            workgroup_size: 64,
            vec4_per_invocation: 1,
        },
        peaks: vec![],
        timing: quick(),
        ..RoofsConfig::for_device(&ctx.caps)
    }
}

/// Records what the roofs report.
#[derive(Default)]
struct Recorder {
    steps: Vec<String>,
    roofs: Vec<String>,
}

impl Observer for Recorder {
    fn step(&mut self, label: &str) {
        self.steps.push(label.to_string());
    }
    fn roof(&mut self, k: &KernelRecord) {
        self.roofs.push(k.name.clone());
    }
}

#[test]
fn stream_kernels_match_reference() {
    for mut ctx in common::contexts("stream_kernels_match_reference") {
        let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
        // An odd number of vec4s, two sets, and few workgroups so that the
        // grid-stride loop wraps several times.
        let params = StreamParams {
            array_bytes: 16 * 10_007,
            sets: 2,
            workgroup_size: 64,
            vec4_per_invocation: 7,
        };
        for checked in [false, true] {
            ctx.shader_checks = checked;
            let cfg = RoofsConfig {
                stream: params,
                peaks: vec![],
                timing: quick(),
                shader_checks: checked,
                ..RoofsConfig::for_device(&ctx.caps)
            };
            let mut seen = Recorder::default();
            let records = roofs::measure(&ctx, &timer, &cfg, &mut seen)
                .unwrap()
                .kernels;
            let names = [
                "stream.copy",
                "stream.scale",
                "stream.add",
                "stream.triad",
                "stream.dot",
                "stream.read",
                "stream.read_blocks",
            ];
            assert_eq!(seen.steps, names);
            assert_eq!(seen.roofs, names);
            for (r, op) in records.iter().zip(StreamOp::ALL) {
                assert!(
                    r.verified,
                    "{} on {}: {:?}",
                    r.name,
                    common::label(&ctx),
                    r.verification
                );
                // 10007 vec4s, 64 x 7 per workgroup: 23 workgroups, so a
                // grid stride of 23 * 64 = 1472 invocations; read_blocks:
                // 20 teams of 8 (the last block 279 vec4s short).
                let invocations = match op {
                    StreamOp::ReadBlocks => 160,
                    _ => 1472,
                };
                let checked_elements = match op {
                    // every partial sum, 4 lanes each
                    StreamOp::Dot | StreamOp::Read | StreamOp::ReadBlocks => invocations * 4,
                    _ => 40_028, // every element
                };
                assert_eq!(r.verification.checked, 2 * checked_elements, "both sets");
                assert_eq!(r.bytes_per_dispatch, op.bytes(40_028, invocations));
                assert_eq!(r.roof, RoofKind::Memory);
                assert_eq!(r.shader_checks, checked);
                assert!(r.bytes_per_s > 0.0);
            }
        }
    }
}

#[test]
fn a_stream_op_that_writes_nothing_fails_verification() {
    let Some(ctx) = common::first("a_stream_op_that_writes_nothing_fails_verification") else {
        return;
    };
    let params = StreamParams {
        array_bytes: 1 << 12,
        sets: 1,
        workgroup_size: 64,
        vec4_per_invocation: 1,
    };
    let s = Stream::new(&ctx, params).unwrap();
    // Scale before copy ran: c still holds its own initial values, so b = s * c
    // is not what the sequence copy, scale gives.
    let p = s.prepare(&ctx, StreamOp::Scale, Extent::Whole).unwrap();
    let v = run_and_verify(&ctx, &s, &p, 0).unwrap();
    assert!(!v.passed(), "{v:?}");
}

#[test]
fn peak_kernels_match_reference_exactly() {
    for mut ctx in common::contexts("peak_kernels_match_reference_exactly") {
        if common::in_ci() && ctx.adapter.backend == "vulkan" {
            assert!(
                ctx.caps.f16,
                "CI's lavapipe must have SHADER_F16 (Mesa 25 from bookworm-backports)"
            );
        }
        for dtype in common::dtypes(&ctx) {
            let params = PeakParams {
                dtype,
                workgroup_size: 64,
                workgroups: 5,
            };
            let peak = Peak::new(&ctx, params, vec![1, 3, 8]).unwrap();
            // Within the first half period, and past two of them (f16's wave
            // turns every 384 steps): exact either way.
            for iterations in [296, 1000] {
                for chains in [1, 3, 8] {
                    ctx.shader_checks = chains == 3;
                    let config = PeakConfig { chains, iterations };
                    let p = peak.prepare(&ctx, config, Extent::Whole).unwrap();
                    let v = run_and_verify(&ctx, &peak, &p, 0).unwrap();
                    assert!(
                        v.passed(),
                        "{} x{chains} {iterations} on {}: {v:?}",
                        peak.name(config),
                        common::label(&ctx),
                    );
                    assert_eq!(v.checked, 320);
                    assert_eq!(
                        peak.flops(config),
                        320 * iterations as u64 * chains as u64 * 8
                    );
                }
            }
        }
    }
}

#[test]
fn f16_without_the_feature_is_refused() {
    for ctx in common::contexts("f16_without_the_feature_is_refused") {
        if ctx.caps.f16 {
            continue;
        }
        let e = Peak::new(
            &ctx,
            PeakParams::default_for(DType::F16, &ctx.caps),
            vec![4],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("SHADER_F16"), "{e}");
    }
}

#[test]
fn oversized_and_empty_buffers_are_errors_not_panics() {
    for ctx in common::contexts("oversized_and_empty_buffers_are_errors_not_panics") {
        let limit = ctx.caps.limits.max_storage_buffer_binding_size;
        for (bytes, want) in [(0, "greater than zero"), (limit + 16, "exceeds")] {
            let params = StreamParams {
                array_bytes: bytes,
                sets: 1,
                workgroup_size: 64,
                vec4_per_invocation: 1,
            };
            let e = Stream::new(&ctx, params).err().unwrap();
            assert!(e.to_string().contains(want), "{e}");
        }
        let mut p = PeakParams::default_for(DType::F32, &ctx.caps);
        p.workgroups = ctx.caps.limits.max_compute_workgroups_per_dimension + 1;
        let e = Peak::new(&ctx, p, vec![4]).err().unwrap();
        assert!(
            e.to_string()
                .contains("max_compute_workgroups_per_dimension"),
            "{e}"
        );
        let e = Peak::new(
            &ctx,
            PeakParams::default_for(DType::F32, &ctx.caps),
            vec![9],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("MAX_CHAINS"), "{e}");
    }
}

#[test]
fn timers_give_positive_samples_and_say_which_clock() {
    for ctx in common::contexts("timers_give_positive_samples_and_say_which_clock") {
        let has_ts = ctx.has(wgpu::Features::TIMESTAMP_QUERY);
        if common::in_ci() && !has_ts {
            panic!(
                "CI's adapters must have TIMESTAMP_QUERY: {}",
                common::label(&ctx)
            );
        }
        let p = tiny_peak(&ctx, (64, 2), 1);
        for pref in [TimerPreference::Auto, TimerPreference::Wall] {
            let timer = Timer::new(&ctx, pref).unwrap();
            let want = if has_ts && pref == TimerPreference::Auto {
                TimerKind::GpuTimestamp
            } else {
                TimerKind::WallClock
            };
            assert_eq!(timer.info().kind, want);
            assert_eq!(
                timer.info().timestamp_period_ns.is_some(),
                want == TimerKind::GpuTimestamp
            );
            assert!(timer.info().empty_pass_s >= 0.0);
            // A tiny kernel: calibration must batch many dispatches.
            let cfg = TimingConfig {
                warmup: 1,
                repeats: 5,
                min_batch_s: 0.005,
                max_dispatches: 200,
                settle_s: 0.0,
            };
            let t = timer.measure(&ctx, &cfg, "tiny", &p.dispatches).unwrap();
            assert_eq!(t.timer, want);
            assert!(t.dispatches_per_sample > 1, "{t:?}");
            assert_eq!(t.samples_s.len() + t.discarded, 5);
            assert!(t.samples_s.iter().all(|s| *s > 0.0));
            assert!(t.summary.min <= t.summary.median && t.summary.median <= t.summary.max);
        }
    }
}

/// Batches that come out no longer than the empty pass (a busy host, a
/// kernel shorter than the timer's noise) are discarded, and where all are,
/// the timer lengthens the batch rather than fail.
#[test]
fn batches_no_longer_than_the_empty_pass_are_lengthened() {
    for ctx in common::contexts("batches_no_longer_than_the_empty_pass_are_lengthened") {
        let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
        // About a millisecond on lavapipe: far above the timer's noise.
        let p = tiny_peak(&ctx, (64, 1024), 8);
        let cfg = TimingConfig {
            warmup: 1,
            repeats: 3,
            min_batch_s: 0.0,
            max_dispatches: 1,
            settle_s: 0.0,
        };
        let run = timer.measure(&ctx, &cfg, "peak", &p.dispatches).unwrap();
        assert_eq!(run.dispatches_per_sample, 1);
        // An empty pass 20 runs longer than it is: no batch of one run
        // outlasts it (unless the host slowed 20-fold), batches of 64 do
        // (unless it sped up 3-fold).
        let empty = timer.info().empty_pass_s;
        timer.assume_empty_pass_s(empty + 20.0 * run.summary.median);
        let t = timer.measure(&ctx, &cfg, "peak", &p.dispatches).unwrap();
        assert!(t.dispatches_per_sample > 1, "{t:?}");
        assert!(t.discarded >= 3, "{t:?}");
        assert!(!t.samples_s.is_empty(), "{t:?}");
        // Three batches a round, of 1, 8, 64, ... runs.
        let rounds = t.dispatches_per_sample.ilog(8) as usize + 1;
        assert_eq!(t.samples_s.len() + t.discarded, 3 * rounds, "{t:?}");
        assert!(t.samples_s.iter().all(|s| *s > 0.0), "{t:?}");
    }
}

/// A small f32 peak kernel of `chains` chains and 64 iterations on a grid
/// of (workgroup size, workgroups), ready to time.
fn tiny_peak(
    ctx: &GpuContext,
    (workgroup_size, workgroups): (u32, u32),
    chains: u32,
) -> Prepared<PeakConfig> {
    let params = PeakParams {
        dtype: DType::F32,
        workgroup_size,
        workgroups,
    };
    let peak = Peak::new(ctx, params, vec![chains]).unwrap();
    let config = PeakConfig {
        chains,
        iterations: 64,
    };
    peak.prepare(ctx, config, Extent::Whole).unwrap()
}

/// A kernel is not sampled until the newest pipeline has existed for the
/// settling time: sampling a pipeline built just now waits until it is that
/// old.
#[test]
fn sampling_waits_for_new_pipelines_to_settle() {
    for ctx in common::contexts("sampling_waits_for_new_pipelines_to_settle") {
        let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
        // Built after the timer's own pipelines, so the newest. About a
        // millisecond of FMAs on lavapipe: its one sample must outlast the
        // empty pass and the dispatch gap subtracted from it (one workgroup
        // of 32 invocations, as this test had, sometimes came out at zero or
        // below on a busy host, failing on the timing, not the settling).
        let p = tiny_peak(&ctx, (64, 1024), 8);
        let settle = std::time::Duration::from_millis(300);
        assert!(ctx.newest_pipeline_age().unwrap() < settle);
        let cfg = TimingConfig {
            warmup: 0,
            repeats: 1,
            min_batch_s: 0.0,
            max_dispatches: 1,
            settle_s: settle.as_secs_f64(),
        };
        timer
            .measure(&ctx, &cfg, "settling", &p.dispatches)
            .unwrap();
        assert!(ctx.newest_pipeline_age().unwrap() >= settle);
    }
}

/// Leaves the GPU idle for a while before each roof kernel, as a slow
/// verification or a host busy with buffers does.
struct Idler(std::time::Duration);

impl Observer for Idler {
    fn step(&mut self, _: &str) {
        std::thread::sleep(self.0);
    }
}

#[test]
fn every_roof_kernel_is_sampled_on_a_warm_gpu() {
    let Some(ctx) = common::first("every_roof_kernel_is_sampled_on_a_warm_gpu") else {
        return;
    };
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    // A GPU's clocks drop within seconds of idling: each kernel must be
    // warmed again, not only the first. Idle gaps longer than the timer's
    // (250 ms) end a busy streak before every kernel.
    let warm_s = 0.15;
    let cfg = RoofsConfig {
        timing: TimingConfig {
            warmup: 0,
            ..quick()
        },
        warm_s,
        ..small_streams(&ctx)
    };
    let idle = std::time::Duration::from_millis(300);
    let records = roofs::measure(&ctx, &timer, &cfg, &mut Idler(idle))
        .unwrap()
        .kernels;
    assert_eq!(records.len(), 7);
    for r in &records {
        let busy = r.timing.busy_s.expect("the streak is recorded");
        assert!(busy >= warm_s, "{}: sampled after {busy} s of work", r.name);
    }
}

#[test]
fn the_timer_tops_up_the_gpus_duty_cycle() {
    let Some(ctx) = common::first("the_timer_tops_up_the_gpus_duty_cycle") else {
        return;
    };
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    // A second idle: nothing in the window.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(timer.duty() < 0.01, "{}", timer.duty());
    timer.keep_busy(&ctx, 0.0).unwrap();
    assert!(timer.duty() < 0.01, "nothing asked, nothing run");
    // Topped up to 60% of the last second (read a moment later, less
    // whatever the window slid past meanwhile on a loaded host), and not
    // run again while the GPU is that busy.
    timer.keep_busy(&ctx, 0.6).unwrap();
    let duty = timer.duty();
    assert!((0.55..=1.0).contains(&duty), "{duty}");
    timer.keep_busy(&ctx, 0.3).unwrap();
    assert!(timer.duty() <= duty + 0.01, "{} after {duty}", timer.duty());
}

#[test]
fn ceilings_come_from_verified_kernels_only() {
    let Some(ctx) = common::first("ceilings_come_from_verified_kernels_only") else {
        return;
    };
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    let cfg = small_streams(&ctx);
    let mut records = roofs::measure(&ctx, &timer, &cfg, &mut Recorder::default())
        .unwrap()
        .kernels;
    let best = records.iter().map(|r| r.bytes_per_s).fold(0.0, f64::max);
    let c = Ceilings::of(&records).measured;
    assert_eq!(c.memory_bytes_per_s, Some(best));
    // Mark the best one unverified: it must no longer set the roof.
    let i = records.iter().position(|r| r.bytes_per_s == best).unwrap();
    records[i].verified = false;
    let c = Ceilings::of(&records).measured;
    assert!(c.memory_bytes_per_s.unwrap() <= best);
    assert_ne!(c.memory_kernel.as_deref(), Some(records[i].name.as_str()));
    // None verified: no roof at all.
    records.iter_mut().for_each(|r| r.verified = false);
    assert_eq!(Ceilings::of(&records), Ceilings::default());
}

#[test]
fn ci_has_the_software_adapters() {
    if !common::in_ci() {
        return;
    }
    let ctxs = common::contexts("ci_has_the_software_adapters");
    let vulkan = ctxs.iter().find(|c| c.adapter.backend == "vulkan");
    let vulkan = vulkan.expect("CI must see lavapipe on Vulkan");
    for f in ["SHADER_F16", "TIMESTAMP_QUERY", "SUBGROUP"] {
        assert!(vulkan.adapter.offers(f), "lavapipe lacks {f}");
    }
    assert!(
        ctxs.iter().any(|c| c.adapter.backend == "gl"),
        "CI must see llvmpipe on GL"
    );
}

#[test]
fn the_gpu_fill_is_the_hosts_twin() {
    use wgpu_roofline::kernels::{initial, stream_initial, Copies, Fill};
    // A 4 KiB binding limit: the fill walks each buffer in several ranges.
    for ctx in common::contexts_with("the_gpu_fill_is_the_hosts_twin", |a| wgpu::Limits {
        max_storage_buffer_binding_size: 4 << 10,
        ..a.limits()
    }) {
        for (what, size) in [
            (Fill::Operand(DType::F32), 4),
            (Fill::Operand(DType::F16), 2),
            (Fill::Stream, 4),
        ] {
            let elems = 3001;
            let copies = Copies::new(&ctx, "fill test", elems * size, 3).unwrap();
            copies.fill(&ctx, 7, what).unwrap();
            for copy in 0..3 {
                let (buf, at) = copies.locate(copy);
                let dtype = if size == 2 { DType::F16 } else { DType::F32 };
                let got = ctx
                    .read_ranges(buf, dtype, &[(at / size, elems)])
                    .unwrap()
                    .remove(0);
                for (i, g) in got.iter().enumerate() {
                    let want = match what {
                        Fill::Stream => stream_initial(7, i as u64),
                        Fill::Operand(_) => initial(7, i as u64),
                    };
                    assert_eq!(
                        *g,
                        want,
                        "{what:?} copy {copy} element {i} on {}",
                        common::label(&ctx)
                    );
                }
            }
        }
    }
}

#[test]
fn rotated_runs_bind_distinct_copies() {
    use wgpu_roofline::kernels::matmul::{Matmul, MatmulConfig, ProductShape};
    let Some(ctx) = common::first("rotated_runs_bind_distinct_copies") else {
        return;
    };
    let shape = ProductShape {
        batch: 1,
        m: 8,
        n: 64,
        k: 64,
    };
    let mm = Matmul::new(&ctx, shape, DType::F32, 3).unwrap();
    let config = MatmulConfig::Direct {
        tile_m: 1,
        tile_n: 4,
        wg_m: 1,
        wg_n: 64,
    };
    let p = mm.prepare(&ctx, config, Extent::Whole).unwrap();
    assert_eq!(p.dispatches.copies(), 3);
    // Only the run on copy `run` writes copy `run`'s output: verification,
    // which reads the last copy, passes after run 2 alone (and run 5, its
    // next turn) and fails after runs 0 and 1.
    for (runs, passes) in [(&[2u64][..], true), (&[0, 1], false), (&[5], true)] {
        mm.clear_output(&ctx);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for &r in runs {
                p.dispatches.record(&mut pass, r);
            }
        }
        ctx.queue.submit([enc.finish()]);
        let v = mm.verify(&ctx, &p, 16).unwrap();
        assert_eq!(v.passed(), passes, "runs {runs:?}: {v:?}");
    }
}
