//! Sizes at the edges of the adapter's limits, and a lost device: every
//! buffer and dispatch is checked before it is created, operands exactly as
//! large as a binding run in one piece, one row more splits them, workgroup
//! counts beyond 65535 per dimension are walked in several dispatches or
//! along y, and a device lost mid-run is an error that says so, not a panic.
//! Small limits (`GpuContext::with_limits`) reach the edges with small buffers.

mod common;

use wgpu_roofline::gpu::{self, BackendChoice, GpuContext};
use wgpu_roofline::kernels::attention::Attention;
use wgpu_roofline::kernels::matmul::{MatmulConfig, Problem};
use wgpu_roofline::kernels::softmax::Softmax;
use wgpu_roofline::kernels::{DType, Tunable};

const BINDING: u64 = 64 << 10;

/// Every adapter, opened with a 64 KiB storage binding limit.
fn small_binding_contexts(test: &str) -> Vec<GpuContext> {
    let mut out = Vec::new();
    for choice in [BackendChoice::Vulkan, BackendChoice::Gl] {
        for (i, a) in gpu::enumerate(choice).iter().enumerate() {
            let limits = wgpu::Limits {
                max_storage_buffer_binding_size: BINDING,
                ..a.limits()
            };
            out.push(GpuContext::with_limits(i, a, limits).expect("open device"));
        }
    }
    if out.is_empty() {
        common::skip(test, "no Vulkan or GL adapter");
    }
    out
}

#[test]
fn bindings_exactly_at_the_limit_and_one_over() {
    for ctx in small_binding_contexts("bindings_exactly_at_the_limit_and_one_over") {
        let limit = ctx.limits.max_storage_buffer_binding_size;
        assert_eq!(limit, BINDING);
        assert!(ctx.check_binding("exact", limit).is_ok());
        let e = ctx.check_binding("one over", limit + 4).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
        let config = MatmulConfig::Direct {
            tile_m: 1,
            tile_n: 4,
            wg_m: 1,
            wg_n: 64,
        };
        // W of 64 rows x 256 f32 is exactly one binding: one dispatch. One
        // more row splits W in two ranges; both verify.
        for (n, dispatches) in [(64, 1), (68, 2)] {
            let p = Problem::new(&ctx, 4, n, 256, DType::F32).unwrap();
            assert_eq!(
                p.dispatches(),
                dispatches,
                "n = {n} on {}",
                common::label(&ctx)
            );
            let prepared = p.prepare(&ctx, config, false).unwrap();
            let v = p.run_and_verify(&ctx, &prepared, 64).unwrap();
            assert!(v.passed(), "n = {n} on {}: {v:?}", common::label(&ctx));
        }
        // A single row wider than the binding cannot be split: an error
        // naming the limit, before anything is allocated.
        let e = Problem::check(&ctx, 1, 64, 64, (limit / 4) + 4, DType::F32).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
        // Softmax products larger than one binding are refused the same way.
        let e = Softmax::check(&ctx, (2, 64, 512, 1), DType::F32).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
    }
}

#[test]
fn attention_configurations_beyond_the_workgroup_limit_are_refused() {
    // With at most 4 workgroups per dimension, 256 prefill rows fit the
    // 64-row blocks (4 workgroups) but not 32-invocation subgroup
    // configurations (8 rows or fewer per workgroup): those are refused
    // naming the limit, before anything is dispatched.
    for choice in [BackendChoice::Vulkan, BackendChoice::Gl] {
        for (i, a) in gpu::enumerate(choice).iter().enumerate() {
            let limits = wgpu::Limits {
                max_compute_workgroups_per_dimension: 4,
                ..a.limits()
            };
            let ctx = GpuContext::with_limits(i, a, limits).expect("open device");
            let at = Attention::new(&ctx, (2, 256, 256, 256), 16, DType::F32).unwrap();
            let (mut ran, mut refused) = (0, 0);
            for config in at.candidates(&ctx) {
                match at.prepare_probe(&ctx, config, false) {
                    Ok(p) => {
                        let p = at.widen(&ctx, p).unwrap();
                        let v = at.run_and_verify(&ctx, &p, 32).unwrap();
                        assert!(v.passed(), "{config}: {v:?}");
                        ran += 1;
                    }
                    Err(e) => {
                        assert!(
                            e.to_string()
                                .contains("max_compute_workgroups_per_dimension"),
                            "{config}: {e}"
                        );
                        refused += 1;
                    }
                }
            }
            assert!(ran >= 1, "{}", common::label(&ctx));
            if ctx.has(wgpu::Features::SUBGROUP) {
                assert!(refused >= 1, "{}", common::label(&ctx));
            }
            assert!(
                ctx.wait().is_ok(),
                "an oversized dispatch reached the device"
            );
        }
    }
}

#[test]
fn more_than_65535_workgroups_per_dimension() {
    for ctx in common::contexts("more_than_65535_workgroups_per_dimension") {
        let max = ctx.limits.max_compute_workgroups_per_dimension as u64;
        // Softmax: one workgroup per row, rows beyond the x limit walk y.
        let rows = max + 100;
        let s = Softmax::new(&ctx, (1, rows, 8, 1), 64, DType::F32).unwrap();
        let config = s.candidates(&ctx)[0];
        let p = s.prepare_probe(&ctx, config, false).unwrap();
        let p = s.widen(&ctx, p).unwrap();
        let v = s.run_and_verify(&ctx, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
        // Fused decode attention: one product per workgroup z, more products
        // than the z limit: several dispatches.
        let a = Attention::new(&ctx, (max + 7, 1, 8, 1), 4, DType::F32).unwrap();
        let config = a.candidates(&ctx)[0];
        let p = a.prepare_probe(&ctx, config, false).unwrap();
        let p = a.widen(&ctx, p).unwrap();
        assert!(a.dispatches(&p) >= 4, "{}", a.dispatches(&p));
        let v = a.run_and_verify(&ctx, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
        // Batched products beyond the z limit.
        let mm = Problem::batched(&ctx, max + 3, 1, 4, 4, DType::F32).unwrap();
        assert!(mm.dispatches() >= 2);
        let config = MatmulConfig::Direct {
            tile_m: 1,
            tile_n: 4,
            wg_m: 1,
            wg_n: 64,
        };
        let p = mm.prepare(&ctx, config, false).unwrap();
        let v = mm.run_and_verify(&ctx, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
    }
}

#[test]
fn a_lost_device_is_an_error_not_a_panic() {
    for ctx in common::contexts("a_lost_device_is_an_error_not_a_panic") {
        let p = Problem::new(&ctx, 8, 64, 64, DType::F32).unwrap();
        ctx.device.destroy();
        let e = match Problem::new(&ctx, 8, 64, 64, DType::F32) {
            Err(e) => e,
            Ok(_) => {
                let config = MatmulConfig::Direct {
                    tile_m: 1,
                    tile_n: 4,
                    wg_m: 1,
                    wg_n: 64,
                };
                match p.prepare(&ctx, config, false) {
                    Err(e) => e,
                    Ok(prepared) => p.run_and_verify(&ctx, &prepared, 8).unwrap_err(),
                }
            }
        };
        let text = e.to_string();
        assert!(
            text.contains("lost") || text.contains("destroyed") || text.contains("invalid"),
            "{text}"
        );
        assert!(
            ctx.lost().is_some(),
            "the device-lost callback did not fire"
        );
    }
}
