//! Softmax and fused attention on every software adapter: every
//! configuration, both dtypes, prefill (causal) and decode (split-KV),
//! grouped-query shapes and odd sizes, checked against the host's f64
//! reference (softmax and causal mask included).

mod common;

use wgpu_roofline::gpu::GpuContext;
use wgpu_roofline::kernels::attention::Attention;
use wgpu_roofline::kernels::softmax::Softmax;
use wgpu_roofline::kernels::{DType, Tunable};

fn dtypes(ctx: &GpuContext) -> Vec<DType> {
    let mut d = vec![DType::F32];
    if DType::F16.supported(ctx) {
        d.push(DType::F16);
    }
    d
}

/// Run the candidate configurations of `problem` (all of them, or only the
/// first when `all` is false: lavapipe compiles each pipeline for seconds)
/// and verify each; returns how many ran.
fn configs<P: Tunable>(ctx: &GpuContext, problem: &P, what: &str, all: bool) -> usize {
    let mut ran = 0;
    let candidates = problem.candidates(ctx);
    let take = if all { candidates.len() } else { 1 };
    for config in candidates.into_iter().take(take) {
        let probe = match problem.prepare_probe(ctx, config, false) {
            Ok(p) => p,
            Err(e) => {
                assert!(
                    e.to_string().contains("limit"),
                    "{config} {what}: {e} on {}",
                    common::label(ctx)
                );
                continue;
            }
        };
        let whole = problem.widen(ctx, probe).unwrap();
        let v = problem.run_and_verify(ctx, &whole, 300).unwrap();
        assert!(
            v.passed(),
            "{config} {what} on {}: {v:?}",
            common::label(ctx)
        );
        ran += 1;
    }
    ran
}

#[test]
fn softmax_matches_the_host() {
    for ctx in common::contexts("softmax_matches_the_host") {
        for dtype in dtypes(&ctx) {
            // (batch, rows, n, q_len): causal prefill with two query heads per
            // KV head and odd sizes; decode over 300 keys.
            for shape in [(3, 2 * 37, 37, 37), (5, 1, 300, 1), (2, 4, 129, 1)] {
                let s = Softmax::new(&ctx, shape, 128, dtype).unwrap();
                let what = format!("softmax {shape:?} {}", dtype.name());
                assert!(configs(&ctx, &s, &what, true) >= 3, "{what}");
            }
        }
    }
}

#[test]
fn fused_attention_matches_the_host() {
    for ctx in common::contexts("fused_attention_matches_the_host") {
        for dtype in dtypes(&ctx) {
            // ((batch, rows, n, q_len), d, every config): causal prefill (GQA
            // 2 heads, odd length), decode (split-KV), both with every
            // configuration at a small head dimension; Llama's d = 128 in
            // prefill longer than one tile and in decode; GQA decode (4 heads
            // per KV head); a group too large for split-KV (12 heads: the
            // prefill kernel serves it).
            for (shape, d, all) in [
                ((3, 2 * 37, 37, 37), 16, dtype == DType::F32),
                ((4, 1, 300, 1), 16, dtype == DType::F32),
                ((2, 100, 100, 100), 128, false),
                ((4, 1, 300, 1), 128, false),
                ((3, 4, 200, 1), 64, false),
                ((2, 12, 70, 1), 32, false),
            ] {
                let a = Attention::new(&ctx, shape, d, dtype).unwrap();
                let what = format!("attention {shape:?} d={d} {}", dtype.name());
                let ran = configs(&ctx, &a, &what, all);
                assert!(ran >= if all { 2 } else { 1 }, "{what}");
            }
        }
    }
}

#[test]
fn verification_catches_wrong_outputs() {
    for ctx in common::contexts("verification_catches_wrong_outputs") {
        // Zeroed output after a correct run: every sampled row must fail.
        let a = Attention::new(&ctx, (2, 64, 64, 64), 64, DType::F32).unwrap();
        let config = a.candidates(&ctx)[0];
        let p = a.prepare_probe(&ctx, config, false).unwrap();
        let v = a.run_and_verify(&ctx, &p, 20).unwrap();
        assert!(v.passed(), "{v:?} {}", common::label(&ctx));
        a.clear_output(&ctx);
        let v = a.verify_prepared(&ctx, &p, 20).unwrap();
        assert!(!v.passed() && v.mismatches > 0, "{v:?}");

        let s = Softmax::new(&ctx, (2, 8, 64, 8), 64, DType::F32).unwrap();
        let config = s.candidates(&ctx)[0];
        let p = s.prepare_probe(&ctx, config, false).unwrap();
        assert!(s.run_and_verify(&ctx, &p, 20).unwrap().passed());
        s.clear_output(&ctx);
        assert!(!s.verify_prepared(&ctx, &p, 20).unwrap().passed());
    }
}

#[test]
fn bad_attention_shapes_are_errors() {
    for ctx in common::contexts("bad_attention_shapes_are_errors") {
        type Case = ((u64, u64, u64, u64), u64, &'static str);
        let cases: [Case; 6] = [
            ((1, 1, 0, 1), 128, "dimensions"),
            ((0, 1, 16, 1), 128, "dimensions"),
            ((1, 1, 16, 1), 130, "head dimensions"),
            ((1, 1, 16, 1), 512, "head dimensions"),
            ((1, 3, 16, 2), 64, "whole query heads"),
            ((1, 64, 16, 64), 64, "whole query heads"),
        ];
        for (shape, d, want) in cases {
            let e = Attention::check(&ctx, shape, d, DType::F32).unwrap_err();
            assert!(e.to_string().contains(want), "{shape:?} d={d}: {e}");
        }
        // A context whose K cache exceeds the largest buffer.
        let huge = ctx.limits.max_buffer_size / (128 * 4) + 1;
        let e = Attention::check(&ctx, (1, 1, huge, 1), 128, DType::F32).unwrap_err();
        assert!(e.to_string().contains("max_buffer_size"), "{e}");
        let e = Softmax::check(&ctx, (1, 1, 0, 1), DType::F32).unwrap_err();
        assert!(e.to_string().contains("dimensions"), "{e}");
    }
}
