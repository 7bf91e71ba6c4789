//! The matmul kernels on every software adapter: every configuration, both
//! dtypes, odd shapes, split operands, checked against the host.

use crate::common;
use wgpu_roofline::dtype::{Format, Quant};
use wgpu_roofline::gpu::GpuContext;
use wgpu_roofline::kernels::matmul::{quant, Matmul, MatmulConfig, ProductShape};
use wgpu_roofline::kernels::{run_and_verify, DType, Extent, Kernel};
use wgpu_roofline::measure::ops::{self, Tuning};
use wgpu_roofline::measure::{Timer, TimerPreference};
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, OpShape, Phase, Sweep};
use wgpu_roofline::settings::{Method, SuiteConfig, TimingConfig};

/// Every candidate for m rows and for few rows, for this adapter and as a
/// GPU would list them (the GPU-grade kernels run on the software adapters
/// too).
fn every_config(batch: u64, m: u64, k: u64, dtype: DType, ctx: &GpuContext) -> Vec<MatmulConfig> {
    let mut gpu = ctx.caps.clone();
    gpu.cpu = false;
    let mut all = Vec::new();
    for caps in [&ctx.caps, &gpu] {
        for rows in [m.max(32), m.min(8)] {
            for c in MatmulConfig::candidates(shape(batch, rows, 64, k), dtype, caps) {
                if !all.contains(&c) {
                    all.push(c);
                }
            }
        }
    }
    all
}

/// Errors a configuration may give for a shape it does not take.
fn declines(e: &wgpu_roofline::Error) -> bool {
    let t = e.to_string();
    t.contains("SUBGROUP")
        || t.contains("multiple of 8")
        || t.contains("gemv holds")
        || t.contains("not available")
        || t.contains("bytes of workgroup memory")
        || t.contains("not a multiple of the subgroup size")
}

fn shape(batch: u64, m: u64, n: u64, k: u64) -> ProductShape {
    ProductShape { batch, m, n, k }
}

#[test]
fn every_configuration_matches_the_host() {
    for ctx in common::contexts("every_configuration_matches_the_host") {
        for dtype in common::dtypes(&ctx) {
            // Shapes that are not multiples of any tile: 70 x 132 x 260
            // (k not a multiple of 8: the classic kernels only), 70 x 132 x
            // 264, 1 x 100 x 120 (a row shorter than a subgroup's 4 vec4s
            // per lane: the lanes product), 130 x 196 x 328 (past one
            // 128-row block, several k
            // steps and a partial one), decode-like 3 x 100 x 516, 5 x 100 x
            // 520 and 1 x 100 x 1032 (129 octets: a GEMV's partial last
            // step), 3 x 100 x 1056 (33 blocks of 32: the kernels that
            // walk k by blocks), 40 x 68 x 392 (a skinny block split
            // over k) and 3 x 100 x 136 (17 octets: a GEMV's row groups
            // with a partial last step).
            let shapes = [
                (70, 132, 260),
                (70, 132, 264),
                (130, 196, 328),
                (3, 100, 516),
                (5, 100, 520),
                (1, 100, 1032),
                (1, 100, 120),
                (3, 100, 1056),
                (40, 68, 392),
                (3, 100, 136),
            ];
            for (m, n, k) in shapes {
                let problem = Matmul::new(&ctx, shape(1, m, n, k), dtype, 1).unwrap();
                for config in every_config(1, m, k, dtype, &ctx) {
                    let p = match problem.prepare(&ctx, config, Extent::Whole) {
                        Ok(p) => p,
                        Err(e) => {
                            assert!(declines(&e), "{config:?}: {e}");
                            continue;
                        }
                    };
                    let v = run_and_verify(&ctx, &problem, &p, 200).unwrap();
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
        for dtype in common::dtypes(&ctx) {
            // Attention-like shapes: 6 products of 40 x 36 x 16 (prefill qk),
            // 5 products of 2 x 48 x 64 (decode pv with 2 query heads per
            // KV head) and 4 of 1 x 300 x 128 (decode qk at d = 128: the
            // lanes product on lavapipe, rows past one workgroup's).
            for (b, m, n, k) in [(6, 40, 36, 16), (5, 2, 48, 64), (4, 1, 300, 128)] {
                let problem = Matmul::new(&ctx, shape(b, m, n, k), dtype, 1).unwrap();
                for config in every_config(b, m, k, dtype, &ctx) {
                    let Ok(p) = problem.prepare(&ctx, config, Extent::Whole) else {
                        continue;
                    };
                    let v = run_and_verify(&ctx, &problem, &p, 200).unwrap();
                    assert!(
                        v.passed(),
                        "{config:?} {b}x{m}x{n}x{k} {}: {v:?}",
                        dtype.name()
                    );
                }
            }
        }
    }
    // A batch split across dispatches by a small binding.
    for small in common::contexts_with("batched_products_match_the_host", |a| wgpu::Limits {
        max_storage_buffer_binding_size: 16 << 10,
        ..a.limits()
    }) {
        for dtype in common::dtypes(&small) {
            let problem = Matmul::new(&small, shape(24, 16, 64, 64), dtype, 1).unwrap();
            assert!(problem.dispatches() > 1);
            let config = MatmulConfig::candidates(shape(24, 16, 64, 64), dtype, &small.caps)[0];
            let p = problem.prepare(&small, config, Extent::Whole).unwrap();
            let v = run_and_verify(&small, &problem, &p, 200).unwrap();
            assert!(v.passed(), "{config:?}: {v:?}");
        }
    }
}

#[test]
fn a_wrong_result_fails_verification() {
    let Some(ctx) = common::first("a_wrong_result_fails_verification") else {
        return;
    };
    let problem = Matmul::single(&ctx, 64, 64, 64, DType::F32).unwrap();
    // Nothing ran: C holds zeros, which the host must reject.
    problem.clear_output(&ctx);
    let v = problem.verify_within(&ctx, 0, 1, 64, 32).unwrap();
    assert!(!v.passed(), "{v:?}");
    assert!(v.mismatches > 30);
}

#[test]
fn operands_split_across_bindings_are_verified() {
    // Pretend the binding limit were tiny: W (256 x 4096 f32 = 4 MiB) and A
    // must then be bound in 64-row ranges.
    for small in common::contexts_with("operands_split_across_bindings_are_verified", |a| {
        wgpu::Limits {
            max_storage_buffer_binding_size: 1 << 20,
            ..a.limits()
        }
    }) {
        let problem = Matmul::single(&small, 130, 256, 4096, DType::F32).unwrap();
        assert!(problem.dispatches() > 4, "{}", problem.dispatches());
        for config in every_config(1, 130, 4096, DType::F32, &small) {
            if let Ok(p) = problem.prepare(&small, config, Extent::Whole) {
                let v = run_and_verify(&small, &problem, &p, 100).unwrap();
                assert!(v.passed(), "{config:?}: {v:?}");
            }
        }
    }
}

#[test]
fn quantized_weights_match_the_host() {
    for ctx in common::contexts("quantized_weights_match_the_host") {
        // q8_0 with f32 activations, q4_0 with f16 where the adapter has it:
        // both activation storages and both weight formats, at half the
        // pipelines (lavapipe compiles each for a second or more).
        let dtypes = common::dtypes(&ctx);
        let f16 = *dtypes.last().unwrap();
        for (q, act) in [(Quant::Q8_0, DType::F32), (Quant::Q4_0, f16)] {
            // Decode (m = 1 and 5) and prefill (m = 70) rows; k of 3 and
            // 33 blocks, so rows start at odd halves of a word.
            for (m, n, k) in [(1, 100, 96), (5, 36, 1056), (70, 132, 96)] {
                let s = shape(1, m, n, k);
                let problem = Matmul::with_weights(&ctx, s, act, Format::Quant(q), 1).unwrap();
                let mut gpu = ctx.caps.clone();
                gpu.cpu = false;
                let mut tried = Vec::new();
                for caps in [&ctx.caps, &gpu] {
                    for config in problem.candidates(caps) {
                        if tried.contains(&config) {
                            continue;
                        }
                        tried.push(config);
                        let p = match problem.prepare(&ctx, config, Extent::Whole) {
                            Ok(p) => p,
                            Err(e) => {
                                assert!(declines(&e), "{config:?}: {e}");
                                continue;
                            }
                        };
                        let v = run_and_verify(&ctx, &problem, &p, 100).unwrap();
                        assert!(
                            v.passed(),
                            "{config} {} {m}x{n}x{k} {} on {}: {v:?}",
                            q.name(),
                            act.name(),
                            common::label(&ctx)
                        );
                    }
                }
                assert!(!tried.is_empty());
            }
        }
    }
}

/// Every weight format with activations `ctx` runs: f32 and f16 floats (f32
/// twice where f16 is missing), q8_0 with f32 activations, q4_0 with f16.
fn weight_formats(ctx: &GpuContext) -> [(Format, DType); 4] {
    let f16 = *common::dtypes(ctx).last().unwrap();
    [
        (Format::Float(DType::F32), DType::F32),
        (Format::Float(f16), f16),
        (Format::Quant(Quant::Q8_0), DType::F32),
        (Format::Quant(Quant::Q4_0), f16),
    ]
}

#[test]
fn staged_gemv_serves_every_weight_format_up_to_16_rows() {
    for ctx in common::contexts("staged_gemv_serves_every_weight_format_up_to_16_rows") {
        let formats = weight_formats(&ctx);
        // m = 5 (8 slices of 16 invocations) and 16 (k-slices of 16), k of
        // 33 blocks: the last step runs past k and stages zeros; n not a
        // multiple of the workgroup's 8 rows. At m = 5, 2 octets per step
        // (4 would need 34 KiB of double-buffered workgroup memory, past
        // lavapipe's 32).
        for ((weights, act), m) in formats.into_iter().zip([5, 16, 16, 5]) {
            let s = shape(1, m, 36, 1056);
            let problem = Matmul::with_weights(&ctx, s, act, weights, 1).unwrap();
            let config = MatmulConfig::Gemv {
                rows: 8,
                wg: 128,
                unroll: if m == 5 { 2 } else { 4 },
                subgroups: false,
                blocks: false,
                staged: true,
                groups: 1,
            };
            let p = problem.prepare(&ctx, config, Extent::Whole).unwrap();
            let v = run_and_verify(&ctx, &problem, &p, 200).unwrap();
            assert!(
                v.passed(),
                "{config} {weights:?} m={m} on {}: {v:?}",
                common::label(&ctx)
            );
        }
    }
}

#[test]
fn resident_gemv_serves_every_weight_format_and_batches() {
    for ctx in common::contexts("resident_gemv_serves_every_weight_format_and_batches") {
        let formats = weight_formats(&ctx);
        // k of 33 blocks (132 octets: two a lane in 128 or 256, the second
        // past k for most lanes); n = 36, 9 blocks of 4 rows or 5 of 8, so
        // the last workgroup walks fewer blocks than the others (and with
        // 8 rows a partial block); one activation row and four (in 256
        // invocations: with lavapipe's subgroups of 8, 32 subgroups of 16
        // sums fill half of `red`); three products of float weights.
        let configs = [
            MatmulConfig::Resident {
                rows: 4,
                wg: 128,
                per: 4,
            },
            MatmulConfig::Resident {
                rows: 8,
                wg: 256,
                per: 2,
            },
            MatmulConfig::Resident {
                rows: 4,
                wg: 256,
                per: 4,
            },
        ];
        for (weights, act) in formats {
            let batch = if matches!(weights, Format::Float(_)) {
                3
            } else {
                1
            };
            for (m, config) in [(1, configs[0]), (1, configs[1]), (4, configs[2])] {
                let s = shape(batch, m, 36, 1056);
                let problem = Matmul::with_weights(&ctx, s, act, weights, 1).unwrap();
                let p = match problem.prepare(&ctx, config, Extent::Whole) {
                    Ok(p) => p,
                    Err(e) => {
                        // Without subgroups, or, for 4 activation rows of 4
                        // in 256 invocations, with subgroups of 4: 64
                        // subgroups of 16 sums overflow its 512 slots.
                        let t = e.to_string();
                        let ok = if ctx.caps.subgroups {
                            t.contains("too many for subgroups of 4")
                        } else {
                            t.contains("SUBGROUP")
                        };
                        assert!(ok, "{config}: {e}");
                        continue;
                    }
                };
                let v = run_and_verify(&ctx, &problem, &p, 200).unwrap();
                assert!(
                    v.passed(),
                    "{config} {weights:?} {batch}x{m} on {}: {v:?}",
                    common::label(&ctx)
                );
            }
        }
    }
}

#[test]
fn quantized_shapes_that_do_not_fit_are_errors() {
    let Some(ctx) = common::first("quantized_shapes_that_do_not_fit_are_errors") else {
        return;
    };
    let q4 = Format::Quant(Quant::Q4_0);
    let e = Matmul::check_with(&ctx, shape(1, 4, 8, 48), DType::F32, q4).unwrap_err();
    assert!(e.to_string().contains("multiple of 32"), "{e}");
    // Float weights take the activations' type.
    let e = Matmul::check_with(
        &ctx,
        shape(1, 4, 8, 64),
        DType::F32,
        Format::Float(DType::F16),
    )
    .unwrap_err();
    assert!(e.to_string().contains("activations' type"), "{e}");
}

#[test]
fn cooperative_gemm_is_listed_and_declined_without_cooperative_matrices() {
    for ctx in common::contexts("cooperative_gemm_is_listed_and_declined") {
        if !ctx.caps.supports(DType::F16) {
            continue;
        }
        // A prefill-sized f16 product lists the cooperative GEMM, as does
        // a decode batch of 16 (split over k) and either with q4_0 or q8_0
        // weights (dequantized to f16 as they are staged); the software
        // adapters have no cooperative matrices and say so.
        let shape = |m| ProductShape {
            batch: 1,
            m,
            n: 64,
            k: 64,
        };
        let formats = [
            Format::Float(DType::F16),
            Format::Quant(Quant::Q4_0),
            Format::Quant(Quant::Q8_0),
        ];
        for (m, weights) in [128, 16].into_iter().flat_map(|m| formats.map(|w| (m, w))) {
            let problem = Matmul::with_weights(&ctx, shape(m), DType::F16, weights, 1).unwrap();
            let coop: Vec<MatmulConfig> = problem
                .candidates(&ctx.caps)
                .into_iter()
                .filter(|c| c.engine() == wgpu_roofline::kernels::Engine::Coop)
                .collect();
            assert!(!coop.is_empty(), "m = {m}, {weights}");
            assert_eq!(m == 16, coop.iter().all(|c| c.split() > 1), "m = {m}");
            for c in coop {
                let e = problem.prepare(&ctx, c, Extent::Probe).err().unwrap();
                assert!(e.to_string().contains("not available"), "{weights}: {e}");
            }
        }
        // f32 products and decode never list it.
        let f32 = Matmul::single(&ctx, 128, 64, 64, DType::F32).unwrap();
        assert!(f32
            .candidates(&ctx.caps)
            .iter()
            .all(|c| c.engine() != wgpu_roofline::kernels::Engine::Coop));
        let gemv = Matmul::single(&ctx, 1, 64, 64, DType::F16).unwrap();
        assert!(gemv
            .candidates(&ctx.caps)
            .iter()
            .all(|c| c.engine() != wgpu_roofline::kernels::Engine::Coop));
    }
}

#[test]
fn bad_shapes_are_errors() {
    let Some(ctx) = common::first("bad_shapes_are_errors") else {
        return;
    };
    let e = Matmul::single(&ctx, 0, 4, 4, DType::F32).err().unwrap();
    assert!(e.to_string().contains("greater than zero"), "{e}");
    let e = Matmul::single(&ctx, 4, 4, 6, DType::F32).err().unwrap();
    assert!(e.to_string().contains("multiples of 4"), "{e}");
    // A row too long to bind 64 times.
    let long = ctx.caps.limits.max_storage_buffer_binding_size / 4;
    let e = Matmul::single(&ctx, 4, 4, long, DType::F32).err().unwrap();
    assert!(
        e.to_string().contains("max_storage_buffer_binding_size"),
        "{e}"
    );
    // More rows than one buffer holds.
    let rows = ctx.caps.limits.max_buffer_size / 16 + 64;
    let e = Matmul::single(&ctx, rows, 4, 4, DType::F32).err().unwrap();
    assert!(e.to_string().contains("max_buffer_size"), "{e}");
}

#[test]
fn every_op_of_a_plan_is_verified_with_exact_accounting() {
    for ctx in common::contexts("every_op_of_a_plan_is_verified_with_exact_accounting") {
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
            dtypes: common::dtypes(&ctx),
            // Every float format the adapter runs, and q4_0 linear layers.
            weights: common::dtypes(&ctx)
                .into_iter()
                .map(Format::Float)
                .chain([Format::Quant(Quant::Q4_0)])
                .collect(),
            ops: vec![],
        };
        let mut cfg = SuiteConfig {
            timing: TimingConfig {
                warmup: 0,
                repeats: 2,
                min_batch_s: 0.0,
                max_dispatches: 4,
                settle_s: 0.0,
            },
            ..SuiteConfig::for_device(&ctx.caps)
        };
        // A 4 MiB footprint: a few copies of the tiny operands.
        cfg.method = cfg.method.map(|m| Method {
            footprint_bytes: 4 << 20,
            ..m
        });
        for op in plan::plan(&model, &sweep).unwrap() {
            let p = ops::measure(&ctx, &timer, &cfg, &op, Tuning::Search).unwrap();
            assert!(
                p.verified,
                "{} on {}: {:?}",
                op.label(),
                common::label(&ctx),
                p.verification
            );
            assert_eq!((p.flops, p.bytes), (op.flops(), op.bytes()));
            assert!(p.tuning.iter().any(|t| t.config == p.kernel && t.verified));
            // Enough copies for the footprint, each bound to its own run.
            assert!(p.rotation >= 1);
            assert_eq!(p.working_set_bytes % p.rotation as u64, 0);
            assert!(
                p.working_set_bytes >= 4 << 20 || p.rotation == wgpu_roofline::kernels::MAX_COPIES,
                "{}: {} bytes in {} copies",
                op.label(),
                p.working_set_bytes,
                p.rotation
            );
            if let OpShape::Quantized(q) = op.shape {
                let s = q.shape;
                // Activations in the sweep's f16 where it has it; W in 18-byte
                // blocks of 32.
                assert_eq!(op.dtype, *common::dtypes(&ctx).last().unwrap());
                assert_eq!(p.flops, 2 * s.m * s.n * s.k);
                let a = op.dtype.size();
                assert_eq!(
                    p.bytes,
                    s.m * s.k * a + s.n * (s.k / 32) * 18 + s.m * s.n * a
                );
                assert!(op.label().ends_with("q4_0"), "{}", op.label());
            }
            if let OpShape::Product(s) = op.shape {
                assert_eq!(p.flops, 2 * s.batch * s.m * s.n * s.k);
                assert_eq!(
                    p.bytes,
                    op.dtype.size() * s.batch * (s.m * s.k + s.k * s.n + s.m * s.n)
                );
                if !op.series.is_attention() {
                    let m = if op.phase == Phase::Init { 40 } else { 3 };
                    assert_eq!(s.m, m);
                }
            }
        }
    }
}

/// The block formats reach the cooperative GEMM as f16 (`load_w32h` in
/// matmul_w_blocks.wgsl: a block of 32 weights dequantized by `load_w32`,
/// scaled and rounded to f16 pairs). The GEMM itself runs only where there
/// are cooperative matrices, and is verified there; this pins the
/// conversion it stages on the adapters CI has: every weight of a few rows
/// within an f16 rounding of the host's dequantized value.
#[test]
fn block_formats_hand_the_cooperative_gemm_their_weights_as_f16() {
    // Appended to the block GEMM's module, which holds the storage: each
    // invocation writes one block's 4 octets to the partials binding.
    const ENTRY: &str = "
@compute @workgroup_size(64)
fn blocks_as_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
    let per_row = p.k8 / 4u;
    if gid.x >= p.n * per_row {
        return;
    }
    let q = load_w32h(gid.x / per_row, gid.x % per_row);
    for (var j = 0u; j < 4u; j++) {
        part[gid.x * 4u + j] = bitcast<vec4<f32>>(q[j]);
    }
}";
    use wgpu_roofline::gpu::Binding;
    let (n, k) = (6u64, 96u64);
    for ctx in common::contexts("block_formats_hand_the_cooperative_gemm_their_weights_as_f16") {
        for q in [Quant::Q4_0, Quant::Q8_0] {
            let module = wgpu_roofline::kernels::matmul::module_with(
                wgpu_roofline::kernels::matmul::Family::Block,
                DType::F32,
                Format::Quant(q),
            );
            let src = format!("{module}\n{ENTRY}");
            let bindings = [
                Binding::Uniform,
                Binding::ReadOnly,
                Binding::ReadOnly,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ];
            let pipe = ctx
                .pipeline("blocks as f16", &src, "blocks_as_f16", &bindings, &[])
                .unwrap();
            // matmul_params.wgsl: m, n, k8, ldc, c_col, three strides, kper.
            let mut params = [0u32; 12];
            params[1] = n as u32;
            params[2] = (k / 8) as u32;
            let p = ctx.uniform_buffer("params", bytemuck::cast_slice(&params));
            let mut bytes = quant::pack_rows(q, 0..n, k);
            bytes.resize(bytes.len().div_ceil(4) * 4, 0);
            let w = ctx.operand_buffer("w", bytes.len() as u64).unwrap();
            ctx.queue.write_buffer(&w, 0, &bytes);
            let a = ctx.operand_buffer("a", 16).unwrap();
            let c = ctx.operand_buffer("c", 16).unwrap();
            let out_bytes = n * k * 2;
            let out = ctx.operand_buffer("octets", out_bytes).unwrap();
            let bind = ctx
                .bind_group(
                    &pipe,
                    &[
                        p.as_entire_binding(),
                        a.as_entire_binding(),
                        w.as_entire_binding(),
                        c.as_entire_binding(),
                        out.as_entire_binding(),
                    ],
                )
                .unwrap();
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipe);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups((n * k / 32).div_ceil(64) as u32, 1, 1);
            }
            ctx.queue.submit([enc.finish()]);
            let got: Vec<half::f16> = bytemuck::cast_slice::<u8, half::f16>(
                &ctx.read_buffer(&out, 0, out_bytes).unwrap(),
            )
            .to_vec();
            for row in 0..n {
                let want = quant::dequantized_row(q, row, k);
                for (i, &x) in want.iter().enumerate() {
                    let g = got[(row * k) as usize + i].to_f32();
                    assert!(
                        (g - x).abs() <= x.abs() * 2f32.powi(-10) + 1e-7,
                        "{q:?} row {row} weight {i}: {g} against {x} on {}",
                        common::label(&ctx)
                    );
                }
            }
        }
    }
}
