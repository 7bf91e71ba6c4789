//! Every kernel on every software adapter, checked against its CPU reference.

mod common;

use wgpu_roofline::kernels::peak::{self, PeakParams};
use wgpu_roofline::kernels::stream::{self, StreamOp, StreamParams};
use wgpu_roofline::kernels::{DType, RoofKind};
use wgpu_roofline::roofs::MeasuredCeilings;
use wgpu_roofline::timer::{Timer, TimerKind, TimerPreference, TimingConfig};

fn quick() -> TimingConfig {
    TimingConfig {
        warmup: 1,
        repeats: 3,
        min_batch_s: 0.001,
        max_dispatches: 50,
    }
}

#[test]
fn stream_kernels_match_reference() {
    for ctx in common::contexts("stream_kernels_match_reference") {
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
            let mut started = Vec::new();
            let records = stream::run(
                &ctx,
                &timer,
                &quick(),
                &params,
                checked,
                &mut |n| started.push(n.to_string()),
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(
                started,
                [
                    "stream.copy",
                    "stream.scale",
                    "stream.add",
                    "stream.triad",
                    "stream.dot"
                ]
            );
            for (r, op) in records.iter().zip(StreamOp::ALL) {
                assert!(
                    r.verified,
                    "{} on {}: {:?}",
                    r.name,
                    common::label(&ctx),
                    r.verification
                );
                // 10007 vec4s, 64 x 7 per workgroup: 23 workgroups, so a
                // grid stride of 23 * 64 = 1472 invocations.
                let checked_elements = match op {
                    StreamOp::Dot => 1472 * 4, // every partial sum, 4 lanes each
                    _ => 40_028,               // every element
                };
                assert_eq!(r.verification.checked, 2 * checked_elements, "both sets");
                assert_eq!(r.bytes_per_dispatch, op.bytes(40_028, 1472));
                assert_eq!(r.roof, RoofKind::Memory);
                assert_eq!(r.shader_checks, checked);
                assert!(r.bytes_per_s > 0.0);
            }
        }
    }
}

#[test]
fn peak_kernels_match_reference_exactly() {
    for ctx in common::contexts("peak_kernels_match_reference_exactly") {
        let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
        let mut dtypes = vec![DType::F32];
        if DType::F16.supported(&ctx) {
            dtypes.push(DType::F16);
        } else if common::in_ci() && ctx.adapter.backend == "vulkan" {
            panic!("CI's lavapipe must have SHADER_F16 (Mesa 25 from bookworm-backports)");
        }
        for dtype in dtypes {
            for chains in [1, 3, 8] {
                let p = PeakParams {
                    dtype,
                    workgroup_size: 64,
                    workgroups: 5,
                    chains,
                    iterations: PeakParams::max_iterations(dtype).min(296),
                };
                let r = peak::run(&ctx, &timer, &quick(), &p, chains == 3).unwrap();
                assert!(
                    r.verified,
                    "{} x{chains} on {}: {:?}",
                    r.name,
                    common::label(&ctx),
                    r.verification
                );
                assert_eq!(r.verification.checked, 320);
                assert_eq!(r.flops_per_dispatch, 320 * 296 * chains as u64 * 8);
                assert_eq!(r.dtype, dtype);
            }
        }
    }
}

#[test]
fn f16_without_the_feature_is_refused() {
    for ctx in common::contexts("f16_without_the_feature_is_refused") {
        if DType::F16.supported(&ctx) {
            continue;
        }
        let timer = Timer::new(&ctx, TimerPreference::Wall).unwrap();
        let e = peak::run(
            &ctx,
            &timer,
            &quick(),
            &PeakParams::default_for(DType::F16),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("SHADER_F16"), "{e}");
    }
}

#[test]
fn oversized_and_empty_buffers_are_errors_not_panics() {
    for ctx in common::contexts("oversized_and_empty_buffers_are_errors_not_panics") {
        let timer = Timer::new(&ctx, TimerPreference::Wall).unwrap();
        let limit = ctx.limits.max_storage_buffer_binding_size;
        for (bytes, want) in [(0, "greater than zero"), (limit + 16, "exceeds")] {
            let params = StreamParams {
                array_bytes: bytes,
                sets: 1,
                workgroup_size: 64,
                vec4_per_invocation: 1,
            };
            let e = stream::run(
                &ctx,
                &timer,
                &quick(),
                &params,
                false,
                &mut |_| {},
                &mut |_| {},
            )
            .unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        let mut p = PeakParams::default_for(DType::F32);
        p.workgroups = ctx.limits.max_compute_workgroups_per_dimension + 1;
        let e = peak::run(&ctx, &timer, &quick(), &p, false).unwrap_err();
        assert!(
            e.to_string()
                .contains("max_compute_workgroups_per_dimension"),
            "{e}"
        );
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
            let p = PeakParams {
                dtype: DType::F32,
                workgroup_size: 64,
                workgroups: 2,
                chains: 1,
                iterations: 64,
            };
            // A tiny kernel: calibration must batch many dispatches.
            let cfg = TimingConfig {
                warmup: 1,
                repeats: 5,
                min_batch_s: 0.005,
                max_dispatches: 200,
            };
            let r = peak::run(&ctx, &timer, &cfg, &p, false).unwrap();
            let t = &r.timing;
            assert_eq!(t.timer, want);
            assert!(t.dispatches_per_sample > 1, "{t:?}");
            assert_eq!(t.samples_s.len() + t.discarded, 5);
            assert!(t.samples_s.iter().all(|s| *s > 0.0));
            assert!(t.summary.min <= t.summary.median && t.summary.median <= t.summary.max);
        }
    }
}

#[test]
fn ceilings_come_from_verified_kernels_only() {
    let Some(ctx) = common::contexts("ceilings_come_from_verified_kernels_only")
        .into_iter()
        .next()
    else {
        return;
    };
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    let params = StreamParams {
        array_bytes: 1 << 16,
        sets: 1,
        workgroup_size: 64,
        vec4_per_invocation: 1,
    };
    let mut records = stream::run(
        &ctx,
        &timer,
        &quick(),
        &params,
        false,
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap();
    let best = records.iter().map(|r| r.bytes_per_s).fold(0.0, f64::max);
    let c = MeasuredCeilings::from_records(&records);
    assert_eq!(c.memory_bytes_per_s, Some(best));
    // Mark the best one unverified: it must no longer set the roof.
    let i = records.iter().position(|r| r.bytes_per_s == best).unwrap();
    records[i].verified = false;
    let c = MeasuredCeilings::from_records(&records);
    assert!(c.memory_bytes_per_s.unwrap() <= best);
    assert_ne!(c.memory_kernel.as_deref(), Some(records[i].name.as_str()));
    // None verified: no roof at all.
    records.iter_mut().for_each(|r| r.verified = false);
    assert_eq!(
        MeasuredCeilings::from_records(&records),
        MeasuredCeilings::default()
    );
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
        assert!(
            vulkan.adapter.features.iter().any(|x| x == f),
            "lavapipe lacks {f}"
        );
    }
    assert!(
        ctxs.iter().any(|c| c.adapter.backend == "gl"),
        "CI must see llvmpipe on GL"
    );
}
