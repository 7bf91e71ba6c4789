//! Softmax and fused attention on every software adapter: every
//! configuration, both dtypes, prefill (causal) and decode (split-KV),
//! grouped-query shapes and odd sizes, checked against the host's f64
//! reference (softmax and causal mask included).

use crate::common;
use wgpu_roofline::gpu::GpuContext;
use wgpu_roofline::kernels::attention::reference::scores as attention_scores;
use wgpu_roofline::kernels::attention::{Attention, AttentionConfig, AttentionShape, COOP_TILES};
use wgpu_roofline::kernels::softmax::reference::scores as softmax_scores;
use wgpu_roofline::kernels::softmax::Softmax;
use wgpu_roofline::kernels::{run_and_verify, DType, Extent, Kernel};

/// (batch, rows, keys, q_len) and head dim as a shape.
fn shape((batch, rows, keys, q_len): (u64, u64, u64, u64), head_dim: u64) -> AttentionShape {
    AttentionShape::new(batch, rows, keys, q_len, head_dim)
}

/// Run the candidate configurations of `kernel`, this adapter's and those a
/// GPU would get (all of them, or only the first of each list when `all` is
/// false: lavapipe compiles each pipeline for seconds) on the probe slice
/// and on the whole, and verify each; returns how many ran.
fn configs<K: Kernel>(ctx: &GpuContext, kernel: &K, what: &str, all: bool) -> usize {
    let mut ran = 0;
    let mut gpu = ctx.caps.clone();
    gpu.cpu = false;
    let mut candidates = Vec::new();
    for caps in [&ctx.caps, &gpu] {
        let list = kernel.candidates(caps);
        let take = if all { list.len() } else { 1 };
        for c in list.into_iter().take(take) {
            if !candidates.contains(&c) {
                candidates.push(c);
            }
        }
    }
    for config in candidates {
        let probe = match kernel.prepare(ctx, config, Extent::Probe) {
            Ok(p) => p,
            Err(e) => {
                // What the adapter's limits rule out (llvmpipe: 32 KiB of
                // workgroup memory) is recorded by the tuner, not run.
                assert!(
                    matches!(e, wgpu_roofline::Error::ExceedsLimit { .. })
                        || e.to_string().contains("limit"),
                    "{config} {what}: {e} on {}",
                    common::label(ctx)
                );
                continue;
            }
        };
        let v = run_and_verify(ctx, kernel, &probe, 50).unwrap();
        assert!(
            v.passed(),
            "probe of {config} {what} on {}: {v:?}",
            common::label(ctx)
        );
        let whole = kernel.prepare(ctx, config, Extent::Whole).unwrap();
        let v = run_and_verify(ctx, kernel, &whole, 300).unwrap();
        assert!(
            v.passed(),
            "{config} {what} on {}: {v:?}",
            common::label(ctx)
        );
        ran += 1;
    }
    ran
}

/// Run `config` on the whole of `a` and verify it; false where the
/// adapter's limits rule it out (llvmpipe's 32 KiB of workgroup memory).
fn verified_whole(ctx: &GpuContext, a: &Attention, config: AttentionConfig, what: &str) -> bool {
    let p = match a.prepare(ctx, config, Extent::Whole) {
        Ok(p) => p,
        Err(wgpu_roofline::Error::ExceedsLimit { .. }) => return false,
        Err(e) => panic!("{config} {what}: {e}"),
    };
    let v = run_and_verify(ctx, a, &p, 300).unwrap();
    assert!(
        v.passed(),
        "{config} {what} on {}: {v:?}",
        common::label(ctx)
    );
    true
}

#[test]
fn softmax_matches_the_host() {
    for ctx in common::contexts("softmax_matches_the_host") {
        for dtype in common::dtypes(&ctx) {
            // (batch, rows, n, q_len): causal prefill with two query heads per
            // KV head and odd sizes; decode over 300 keys.
            for dims in [(3, 2 * 37, 37, 37), (5, 1, 300, 1), (2, 4, 129, 1)] {
                let s = Softmax::new(&ctx, shape(dims, 128), dtype, 1).unwrap();
                let what = format!("softmax {dims:?} {}", dtype.name());
                assert!(configs(&ctx, &s, &what, true) >= 3, "{what}");
            }
            // Rows of a multiple of 4 keys: the subgroup-per-row kernel too.
            for dims in [(3, 2 * 36, 36, 36), (2, 4, 132, 1)] {
                let s = Softmax::new(&ctx, shape(dims, 64), dtype, 1).unwrap();
                let what = format!("softmax {dims:?} {}", dtype.name());
                assert!(configs(&ctx, &s, &what, true) >= 3, "{what}");
            }
        }
    }
}

#[test]
fn fused_attention_matches_the_host() {
    for ctx in common::contexts("fused_attention_matches_the_host") {
        for dtype in common::dtypes(&ctx) {
            // ((batch, rows, n, q_len), d, every config): causal prefill (GQA
            // 2 heads, odd length), decode (split-KV), both with every
            // configuration at a small head dimension; Llama's d = 128 in
            // prefill longer than one tile and in decode; GQA decode (4 heads
            // per KV head, at d = 64 and, over two chunks of 512 keys, at
            // d = 128, where lavapipe's subgroups of 8 fit the lanes kernel;
            // odd key counts, so no chunk is a multiple of a step);
            // a group too large for split-KV (12 heads: the prefill kernel
            // serves it).
            for (dims, d, all) in [
                ((3, 2 * 37, 37, 37), 16, dtype == DType::F32),
                ((4, 1, 300, 1), 16, dtype == DType::F32),
                ((2, 100, 100, 100), 128, false),
                ((4, 1, 301, 1), 128, false),
                ((3, 4, 200, 1), 64, false),
                ((2, 4, 701, 1), 128, false),
                ((2, 12, 70, 1), 32, false),
            ] {
                let a = Attention::new(&ctx, shape(dims, d), dtype, 1).unwrap();
                let what = format!("attention {dims:?} d={d} {}", dtype.name());
                // lavapipe's subgroups are 8 lanes: decode at d = 128 tries
                // the lanes kernel first (and so runs it below).
                let lanes = ctx.caps.subgroups && ctx.caps.subgroup_sizes == (8, 8);
                if ctx.caps.cpu && lanes && d == 128 && dims.3 == 1 {
                    let first = a.candidates(&ctx.caps)[0];
                    assert!(
                        matches!(first, AttentionConfig::FlashDecodeLanes { chunk: 512 }),
                        "{what}: {first}"
                    );
                }
                let ran = configs(&ctx, &a, &what, all);
                assert!(ran >= if all { 2 } else { 1 }, "{what}");
            }
        }
    }
}

#[test]
fn decode_with_every_lane_count_a_gpu_tries_matches_the_host() {
    for ctx in common::contexts("decode_with_every_lane_count_a_gpu_tries_matches_the_host") {
        if !ctx.caps.subgroups {
            eprintln!("{}: no subgroups, nothing to run", common::label(&ctx));
            continue;
        }
        for dtype in common::dtypes(&ctx) {
            // Llama's d = 128 over 1100 keys (9 chunks of 128, the last
            // partial: the reduce merges 8 chunks at a time, then one):
            // every lane count a GPU tries, down to 4 lanes a key holding 8
            // vec4 columns each, and every count of keys per round, at every
            // workgroup size the adapter's workgroup memory takes. Then d =
            // 64 with 4 keys a round, which needs rows of at most 2 vec4s a
            // lane (lavapipe's subgroups of 8 hold none at d = 128), where
            // lavapipe's 32 KiB take workgroups of 512. The last round of the
            // last chunk masks some keys.
            let mut gpu = ctx.caps.clone();
            gpu.cpu = false;
            let mut lanes = Vec::new();
            let mut unrolls = Vec::new();
            let mut wgs = Vec::new();
            for (d, only_four) in [(128, false), (64, true)] {
                let a = Attention::new(&ctx, shape((4, 1, 1100, 1), d), dtype, 1).unwrap();
                for config in a.candidates(&gpu) {
                    let AttentionConfig::FlashDecodeSubgroup {
                        chunk: 128,
                        lanes: l,
                        unroll,
                        wg,
                    } = config
                    else {
                        continue;
                    };
                    if only_four && unroll != 4 {
                        continue;
                    }
                    let what = format!("d={d} {}", dtype.name());
                    if !verified_whole(&ctx, &a, config, &what) {
                        continue;
                    }
                    if d == 128 {
                        lanes.push(l);
                    }
                    unrolls.push(unroll);
                    wgs.push(wg);
                }
            }
            assert!(lanes.contains(&4), "{lanes:?} on {}", common::label(&ctx));
            // 16 lanes a key, what the H200 chose for f16 decode, where
            // the subgroups are that wide (`lanes.rs`).
            if ctx.caps.subgroup_sizes.0 >= 16 {
                assert!(lanes.contains(&16), "{lanes:?} on {}", common::label(&ctx));
            }
            // Subgroups of 4 hold a key of d = 128 in 4 lanes of 8 columns
            // (all a lane takes) and, at d = 64, 2 keys a round at most.
            if ctx.caps.subgroup_sizes.0 >= 8 {
                assert!(
                    unrolls.contains(&2) && unrolls.contains(&4),
                    "{unrolls:?} on {}",
                    common::label(&ctx)
                );
                assert!(wgs.contains(&512), "{wgs:?} on {}", common::label(&ctx));
            }
        }
    }
}

#[test]
fn prefill_by_register_tiles_matches_the_host() {
    for ctx in common::contexts("prefill_by_register_tiles_matches_the_host") {
        for dtype in common::dtypes(&ctx) {
            // Every tiling a GPU tries, where it applies: Llama's d = 128,
            // causal, two query heads per KV head over an odd length (so a
            // workgroup's rows span both heads, and the last is partial);
            // queries behind a longer context (100 keys, 32 positions); d =
            // 64; and d = 32 (8 keys a tile per invocation) with one
            // position, so every row sees every key.
            let mut gpu = ctx.caps.clone();
            gpu.cpu = false;
            let mut ran = 0;
            for (dims, d) in [
                ((2, 2 * 75, 75, 75), 128),
                ((2, 64, 100, 32), 128),
                ((3, 37, 37, 37), 64),
                ((2, 12, 70, 1), 32),
            ] {
                let a = Attention::new(&ctx, shape(dims, d), dtype, 1).unwrap();
                for config in a.candidates(&gpu) {
                    if !matches!(config, AttentionConfig::FlashPrefillBlock { .. }) {
                        continue;
                    }
                    // 32 KiB of workgroup memory rule out 32 keys at d = 128.
                    let what = format!("{dims:?} d={d} {}", dtype.name());
                    if verified_whole(&ctx, &a, config, &what) {
                        ran += 1;
                    }
                }
            }
            assert!(ran >= 5, "{ran} on {}", common::label(&ctx));
        }
    }
}

#[test]
fn verification_catches_wrong_outputs() {
    for ctx in common::contexts("verification_catches_wrong_outputs") {
        // Zeroed output after a correct run: every sampled row must fail.
        let a = Attention::new(&ctx, shape((2, 64, 64, 64), 64), DType::F32, 1).unwrap();
        let config = a.candidates(&ctx.caps)[0];
        let p = a.prepare(&ctx, config, Extent::Probe).unwrap();
        let v = run_and_verify(&ctx, &a, &p, 20).unwrap();
        assert!(v.passed(), "{v:?} {}", common::label(&ctx));
        a.clear_output(&ctx);
        let v = a.verify(&ctx, &p, 20).unwrap();
        assert!(!v.passed() && v.mismatches > 0, "{v:?}");

        let s = Softmax::new(&ctx, shape((2, 8, 64, 8), 64), DType::F32, 1).unwrap();
        let config = s.candidates(&ctx.caps)[0];
        let p = s.prepare(&ctx, config, Extent::Probe).unwrap();
        assert!(run_and_verify(&ctx, &s, &p, 20).unwrap().passed());
        s.clear_output(&ctx);
        assert!(!s.verify(&ctx, &p, 20).unwrap().passed());
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
        for (dims, d, want) in cases {
            let e = Attention::check(&ctx, shape(dims, d), DType::F32).unwrap_err();
            assert!(e.to_string().contains(want), "{dims:?} d={d}: {e}");
        }
        // A context whose K cache exceeds the largest buffer.
        let huge = ctx.caps.limits.max_buffer_size / (128 * 4) + 1;
        let e = Attention::check(&ctx, shape((1, 1, huge, 1), 128), DType::F32).unwrap_err();
        assert!(e.to_string().contains("max_buffer_size"), "{e}");
        let e = Softmax::check(&ctx, shape((1, 1, 0, 1), 128), DType::F32).unwrap_err();
        assert!(e.to_string().contains("dimensions"), "{e}");
    }
}

#[test]
fn prefill_by_subgroups_matches_the_host_with_either_sum() {
    for mut ctx in common::contexts("prefill_by_subgroups_matches_the_host_with_either_sum") {
        if !ctx.caps.subgroups {
            eprintln!("{}: no subgroups, nothing to run", common::label(&ctx));
            continue;
        }
        // The adapter's own sizes (lavapipe: 8 only, so the scores are
        // summed by a butterfly of 8 lanes), then the same subgroups
        // described as varying in size (so by subgroupAdd): causal GQA
        // prefill at d = 128, odd length.
        let (lo, hi) = ctx.caps.subgroup_sizes;
        for sizes in [(lo, hi), (lo, 2 * hi)] {
            ctx.caps.subgroup_sizes = sizes;
            let a = Attention::new(&ctx, shape((2, 2 * 37, 37, 37), 128), DType::F32, 1).unwrap();
            let mut ran = 0;
            for config in a.candidates(&ctx.caps) {
                if !matches!(config, AttentionConfig::FlashPrefillSubgroup { .. }) {
                    continue;
                }
                let p = a.prepare(&ctx, config, Extent::Whole).unwrap();
                let v = run_and_verify(&ctx, &a, &p, 300).unwrap();
                assert!(
                    v.passed(),
                    "{config} with subgroup sizes {sizes:?} on {}: {v:?}",
                    common::label(&ctx)
                );
                ran += 1;
            }
            assert!(ran >= 1, "sizes {sizes:?} on {}", common::label(&ctx));
        }
    }
}

/// Where f32's `exp` overflows: scores past it break a softmax that does not
/// subtract the row's maximum.
const EXP_RANGE: f64 = 88.8;

/// The largest score of a product's first and last rows, as the host
/// computes them.
fn top_score(rows: u64, mut scores: impl FnMut(u64) -> Vec<f64>) -> f64 {
    [0, rows - 1]
        .into_iter()
        .flat_map(&mut scores)
        .fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn scores_past_the_range_of_exp_give_the_same_softmax() {
    // With 1 / sqrt(d) the test data's scores stay within +-4, where a
    // kernel that skipped the row's maximum, or took too low a one, still
    // gives the right softmax. Scaled past e^88.8 (beyond f32), such a
    // kernel overflows. d = 16 keeps every q.k exact in f32, so the large
    // scale adds no rounding; d = 128 in decode is where lavapipe runs its
    // lanes kernel (and so tries it first).
    for ctx in common::contexts("scores_past_the_range_of_exp_give_the_same_softmax") {
        for dtype in common::dtypes(&ctx) {
            for (dims, d, scale, all) in [
                ((3, 2 * 37, 37, 37), 16, 64.0, true),
                ((4, 1, 300, 1), 16, 64.0, true),
                ((4, 1, 701, 1), 128, 16.0, false),
            ] {
                let s = shape(dims, d);
                let top = top_score(s.rows, |r| attention_scores(&s, scale, 0, r));
                assert!(top > 2.0 * EXP_RANGE, "{dims:?} d={d}: top score {top}");
                let a = Attention::new(&ctx, s, dtype, 1).unwrap().with_scale(scale);
                let what = format!("attention {dims:?} d={d} x{scale} {}", dtype.name());
                assert!(configs(&ctx, &a, &what, all) >= 1, "{what}");
            }
            for (dims, d) in [((3, 2 * 37, 37, 37), 128), ((2, 4, 132, 1), 64)] {
                let s = shape(dims, d);
                let top = top_score(s.rows, |r| softmax_scores(&s, 128.0, 0, r));
                assert!(top > EXP_RANGE, "softmax {dims:?}: top score {top}");
                let x = Softmax::new(&ctx, s, dtype, 1).unwrap().with_scale(128.0);
                let what = format!("softmax {dims:?} x128 {}", dtype.name());
                assert!(configs(&ctx, &x, &what, true) >= 2, "{what}");
            }
        }
    }
}

#[test]
fn prefill_on_emulated_cooperative_fragments_matches_the_host() {
    // The software adapters have no cooperative matrices, so the tensor-core
    // kernel runs here with its fragments written out over the lanes: its
    // staging, masks, softmax, rescaling and output are what is checked.
    // Every tiling at d = 16 with scores scaled past exp's range (a row's
    // reference maximum moves tile after tile, so the output fragments are
    // rescaled) and at d = 32 on the register tiles' shapes (two query
    // heads per KV head over an odd length, queries behind a longer
    // context); d = 64 with one. Larger heads only add fragments of the
    // same form, and lavapipe takes minutes to compile them (about 40 s at
    // d = 64). f16 only: GL has no SHADER_F16.
    let mut ran = 0;
    for ctx in common::contexts("prefill_on_emulated_cooperative_fragments") {
        if !ctx.caps.supports(DType::F16) || !ctx.caps.subgroups {
            eprintln!(
                "{}: no SHADER_F16 or subgroups, which the cooperative prefill needs",
                common::label(&ctx)
            );
            continue;
        }
        for (dims, d, scale, tiles) in [
            ((3, 2 * 37, 37, 37), 16, Some(64.0), 3),
            ((2, 2 * 75, 75, 75), 32, None, 3),
            ((2, 64, 100, 32), 32, None, 3),
            ((3, 37, 37, 37), 64, None, 1),
        ] {
            let s = shape(dims, d);
            let mut a = Attention::new(&ctx, s, DType::F16, 1).unwrap();
            if let Some(scale) = scale {
                let top = top_score(s.rows, |r| attention_scores(&s, scale, 0, r));
                assert!(top > 2.0 * EXP_RANGE, "{dims:?} d={d}: top score {top}");
                a = a.with_scale(scale);
            }
            for (blocks, keys) in COOP_TILES.into_iter().take(tiles) {
                let config = AttentionConfig::FlashPrefillCoop { blocks, keys };
                let what = format!("{dims:?} d={d} scale {scale:?}");
                assert!(verified_whole(&ctx, &a, config, &what), "{what}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 10, "{ran} ran");
}
