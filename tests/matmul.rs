//! The matmul kernels on every software adapter: every configuration, both
//! dtypes, odd shapes, split operands, checked against the host.

mod common;

use wgpu_roofline::gpu::{self, BackendChoice, GpuContext};
use wgpu_roofline::kernels::matmul::{MatmulConfig, Problem};
use wgpu_roofline::kernels::{DType, Tunable};
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Phase, Sweep};
use wgpu_roofline::suite::{self, SuiteConfig};
use wgpu_roofline::timer::{Timer, TimerPreference, TimingConfig};

fn dtypes(ctx: &GpuContext) -> Vec<DType> {
    let mut d = vec![DType::F32];
    if DType::F16.supported(ctx) {
        d.push(DType::F16);
    }
    d
}

fn every_config(m: u64, ctx: &GpuContext) -> Vec<MatmulConfig> {
    let mut all = MatmulConfig::candidates(m.max(32), ctx);
    all.extend(MatmulConfig::candidates(m.min(8), ctx));
    all
}

#[test]
fn every_configuration_matches_the_host() {
    for ctx in common::contexts("every_configuration_matches_the_host") {
        for dtype in dtypes(&ctx) {
            // Shapes that are not multiples of any tile: 70 x 132 x 260,
            // and a decode-like 3 x 100 x 516.
            for (m, n, k) in [(70, 132, 260), (3, 100, 516)] {
                let problem = Problem::new(&ctx, m, n, k, dtype).unwrap();
                for config in every_config(m, &ctx) {
                    let p = match problem.prepare(&ctx, config, false) {
                        Ok(p) => p,
                        Err(e) => {
                            assert!(e.to_string().contains("SUBGROUP"), "{config:?}: {e}");
                            continue;
                        }
                    };
                    let v = problem.run_and_verify(&ctx, &p, 200).unwrap();
                    assert!(
                        v.passed(),
                        "{config:?} {m}x{n}x{k} {} on {}: {v:?}",
                        dtype.name(),
                        common::label(&ctx)
                    );
                }
            }
        }
    }
}

#[test]
fn batched_products_match_the_host() {
    for ctx in common::contexts("batched_products_match_the_host") {
        for dtype in dtypes(&ctx) {
            // Attention-like shapes: 6 products of 40 x 36 x 16 (prefill qk),
            // and 5 products of 2 x 48 x 64 (decode pv with 2 query heads per
            // KV head).
            for (b, m, n, k) in [(6, 40, 36, 16), (5, 2, 48, 64)] {
                let problem = Problem::batched(&ctx, b, m, n, k, dtype).unwrap();
                for config in every_config(m, &ctx) {
                    let Ok(p) = problem.prepare(&ctx, config, false) else {
                        continue;
                    };
                    let v = problem.run_and_verify(&ctx, &p, 200).unwrap();
                    assert!(
                        v.passed(),
                        "{config:?} {b}x{m}x{n}x{k} {}: {v:?}",
                        dtype.name()
                    );
                }
            }
            // A batch split across dispatches by a small binding.
            let mut small = GpuContext::from_adapter(ctx.adapter.index, &adapter_of(&ctx)).unwrap();
            small.limits.max_storage_buffer_binding_size = 16 << 10;
            let problem = Problem::batched(&small, 24, 16, 64, 64, dtype).unwrap();
            assert!(problem.dispatches() > 1);
            let config = MatmulConfig::candidates(16, &small)[0];
            let p = problem.prepare(&small, config, false).unwrap();
            let v = problem.run_and_verify(&small, &p, 200).unwrap();
            assert!(v.passed(), "{config:?}: {v:?}");
        }
    }
}

/// The adapter a context was opened on, found again by index and name.
fn adapter_of(ctx: &GpuContext) -> wgpu::Adapter {
    let choice = if ctx.adapter.backend == "gl" {
        BackendChoice::Gl
    } else {
        BackendChoice::Vulkan
    };
    gpu::enumerate(choice).swap_remove(ctx.adapter.index)
}

#[test]
fn a_wrong_result_fails_verification() {
    let Some(ctx) = common::contexts("a_wrong_result_fails_verification")
        .into_iter()
        .next()
    else {
        return;
    };
    let problem = Problem::new(&ctx, 64, 64, 64, DType::F32).unwrap();
    // Nothing ran: C holds zeros, which the host must reject.
    problem.clear_output(&ctx);
    let v = problem.verify(&ctx, 32).unwrap();
    assert!(!v.passed(), "{v:?}");
    assert!(v.mismatches > 30);
}

#[test]
fn operands_split_across_bindings_are_verified() {
    for ctx in common::contexts("operands_split_across_bindings_are_verified") {
        // Pretend the binding limit were tiny: W (256 x 4096 f32 = 4 MiB)
        // and A must then be bound in 64-row ranges.
        let mut small = ctx;
        small.limits.max_storage_buffer_binding_size = 1 << 20;
        let problem = Problem::new(&small, 130, 256, 4096, DType::F32).unwrap();
        assert!(problem.dispatches() > 4, "{}", problem.dispatches());
        for config in every_config(130, &small) {
            if let Ok(p) = problem.prepare(&small, config, false) {
                let v = problem.run_and_verify(&small, &p, 100).unwrap();
                assert!(v.passed(), "{config:?}: {v:?}");
            }
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let Some(ctx) = common::contexts("bad_shapes_are_errors").into_iter().next() else {
        return;
    };
    let e = Problem::new(&ctx, 0, 4, 4, DType::F32).err().unwrap();
    assert!(e.to_string().contains("greater than zero"), "{e}");
    let e = Problem::new(&ctx, 4, 4, 6, DType::F32).err().unwrap();
    assert!(e.to_string().contains("multiples of 4"), "{e}");
    // A row too long to bind 64 times.
    let long = ctx.limits.max_storage_buffer_binding_size / 4;
    let e = Problem::new(&ctx, 4, 4, long, DType::F32).err().unwrap();
    assert!(
        e.to_string().contains("max_storage_buffer_binding_size"),
        "{e}"
    );
    // More rows than one buffer holds.
    let rows = ctx.limits.max_buffer_size / 16 + 64;
    let e = Problem::new(&ctx, rows, 4, 4, DType::F32).err().unwrap();
    assert!(e.to_string().contains("max_buffer_size"), "{e}");
}

#[test]
fn suite_points_are_verified_with_exact_accounting() {
    for ctx in common::contexts("suite_points_are_verified_with_exact_accounting") {
        let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
        let model = ModelConfig::from_json(
            r#"{"name": "tiny", "hidden_size": 128, "num_attention_heads": 4,
                "num_key_value_heads": 2, "intermediate_size": 352,
                "num_hidden_layers": 2, "vocab_size": 1000}"#,
            "tiny",
        )
        .unwrap();
        let sweep = Sweep {
            seq_lens: vec![40],
            prefill_batch: 1,
            batches: vec![3],
            context: 64,
            contexts: vec![16],
            dtypes: dtypes(&ctx),
        };
        let cfg = SuiteConfig {
            timing: TimingConfig {
                warmup: 0,
                repeats: 2,
                min_batch_s: 0.0,
                max_dispatches: 4,
            },
            ..SuiteConfig::default()
        };
        for op in plan::plan(&model, &sweep).unwrap() {
            let p = suite::measure_op(&ctx, &timer, &cfg, &op).unwrap();
            assert!(
                p.verified,
                "{} on {}: {:?}",
                op.label(),
                common::label(&ctx),
                p.verification
            );
            assert_eq!((p.flops, p.bytes), (op.flops(), op.bytes()));
            assert!(p.tuning.iter().any(|t| t.config == p.kernel && t.verified));
            if !op.series.is_attention() {
                assert_eq!(p.flops, 2 * op.batch * op.m * op.n * op.k);
                assert_eq!(
                    p.bytes,
                    op.dtype.size() * op.batch * (op.m * op.k + op.k * op.n + op.m * op.n)
                );
                let m = if op.phase == Phase::Init { 40 } else { 3 };
                assert_eq!(op.m, m);
            }
        }
    }
}
