//! Sizes at the edges of the adapter's limits, and a lost device: every
//! buffer and dispatch is checked before it is created, operands exactly as
//! large as a binding run in one piece, one row more splits them, workgroup
//! counts beyond 65535 per dimension are walked in several dispatches or
//! along y, and a device lost mid-run is an error that says so, not a panic.
//! Small limits reach the edges with small buffers.

use crate::common;
use wgpu_roofline::kernels::attention::{Attention, AttentionShape};
use wgpu_roofline::kernels::matmul::{Matmul, MatmulConfig, ProductShape};
use wgpu_roofline::kernels::softmax::Softmax;
use wgpu_roofline::kernels::stream::{Stream, StreamOp, StreamParams};
use wgpu_roofline::kernels::{run_and_verify, DType, Extent, Kernel};

const BINDING: u64 = 64 << 10;

use AttentionShape as S;

fn attention(batch: u64, rows: u64, keys: u64, q_len: u64, head_dim: u64) -> AttentionShape {
    S::new(batch, rows, keys, q_len, head_dim)
}

const GEMV: MatmulConfig = MatmulConfig::Direct {
    tile_m: 1,
    tile_n: 4,
    wg_m: 1,
    wg_n: 64,
};

#[test]
fn bindings_exactly_at_the_limit_and_one_over() {
    for ctx in common::contexts_with("bindings_exactly_at_the_limit_and_one_over", |a| {
        wgpu::Limits {
            max_storage_buffer_binding_size: BINDING,
            ..a.limits()
        }
    }) {
        let limit = ctx.caps.limits.max_storage_buffer_binding_size;
        assert_eq!(limit, BINDING);
        assert!(ctx.check_binding("exact", limit).is_ok());
        let e = ctx.check_binding("one over", limit + 4).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
        // W of 64 rows x 256 f32 is exactly one binding: one dispatch. One
        // more row splits W in two ranges; both verify.
        for (n, dispatches) in [(64, 1), (68, 2)] {
            let p = Matmul::single(&ctx, 4, n, 256, DType::F32).unwrap();
            assert_eq!(
                p.dispatches(),
                dispatches,
                "n = {n} on {}",
                common::label(&ctx)
            );
            let prepared = p.prepare(&ctx, GEMV, Extent::Whole).unwrap();
            let v = run_and_verify(&ctx, &p, &prepared, 64).unwrap();
            assert!(v.passed(), "n = {n} on {}: {v:?}", common::label(&ctx));
        }
        // A single row wider than the binding cannot be split: an error
        // naming the limit, before anything is allocated.
        let wide = ProductShape {
            batch: 1,
            m: 64,
            n: 64,
            k: (limit / 4) + 4,
        };
        let e = Matmul::check(&ctx, wide, DType::F32).unwrap_err();
        assert!(
            e.to_string().contains("max_storage_buffer_binding_size"),
            "{e}"
        );
        // Softmax products larger than one binding are refused the same way.
        let e = Softmax::check(&ctx, attention(2, 64, 512, 1, 64), DType::F32).unwrap_err();
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
    let test = "attention_configurations_beyond_the_workgroup_limit_are_refused";
    for ctx in common::contexts_with(test, |a| wgpu::Limits {
        max_compute_workgroups_per_dimension: 4,
        ..a.limits()
    }) {
        let at = Attention::new(&ctx, attention(2, 256, 256, 256, 16), DType::F32, 1).unwrap();
        let (mut ran, mut refused) = (0, 0);
        for config in at.candidates(&ctx.caps) {
            match at.prepare(&ctx, config, Extent::Whole) {
                Ok(p) => {
                    let v = run_and_verify(&ctx, &at, &p, 32).unwrap();
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
        if ctx.caps.subgroups {
            assert!(refused >= 1, "{}", common::label(&ctx));
        }
        assert!(
            ctx.wait().is_ok(),
            "an oversized dispatch reached the device"
        );
    }
}

#[test]
fn streams_in_tiny_workgroups_cover_the_array_under_the_workgroup_limit() {
    // 10007 vec4s in workgroups of 1 under 16 workgroups a dimension:
    // read_blocks' team of 8 per block of 512 would need 160 workgroups, so
    // its blocks grow until 2 teams cover the array; the grid-stride ops
    // wrap 16 invocations. Every partial sum and element is verified.
    let test = "streams_in_tiny_workgroups_cover_the_array_under_the_workgroup_limit";
    for ctx in common::contexts_with(test, |a| wgpu::Limits {
        max_compute_workgroups_per_dimension: 16,
        ..a.limits()
    }) {
        let params = StreamParams {
            array_bytes: 16 * 10_007,
            sets: 1,
            workgroup_size: 1,
            vec4_per_invocation: 4,
        };
        let stream = Stream::new(&ctx, params).unwrap();
        assert_eq!(stream.invocations(StreamOp::ReadBlocks), 16);
        assert_eq!(stream.invocations(StreamOp::Read), 16);
        for op in StreamOp::ALL {
            let p = stream.prepare(&ctx, op, Extent::Whole).unwrap();
            let v = run_and_verify(&ctx, &stream, &p, 0).unwrap();
            assert!(v.passed(), "{op:?} on {}: {v:?}", common::label(&ctx));
        }
    }
}

#[test]
fn more_than_65535_workgroups_per_dimension() {
    for ctx in common::contexts("more_than_65535_workgroups_per_dimension") {
        let max = ctx.caps.limits.max_compute_workgroups_per_dimension as u64;
        // Softmax: one workgroup per row, rows beyond the x limit walk y.
        let rows = max + 100;
        let s = Softmax::new(&ctx, attention(1, rows, 8, 1, 64), DType::F32, 1).unwrap();
        let config = s.candidates(&ctx.caps)[0];
        let p = s.prepare(&ctx, config, Extent::Whole).unwrap();
        let v = run_and_verify(&ctx, &s, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
        // Fused decode attention: one product per workgroup z, more products
        // than the z limit: several dispatches.
        let a = Attention::new(&ctx, attention(max + 7, 1, 8, 1, 4), DType::F32, 1).unwrap();
        let config = a.candidates(&ctx.caps)[0];
        let p = a.prepare(&ctx, config, Extent::Whole).unwrap();
        assert!(p.dispatches.per_run() >= 4, "{}", p.dispatches.per_run());
        let v = run_and_verify(&ctx, &a, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
        // Batched products beyond the z limit.
        let shape = ProductShape {
            batch: max + 3,
            m: 1,
            n: 4,
            k: 4,
        };
        let mm = Matmul::new(&ctx, shape, DType::F32, 1).unwrap();
        assert!(mm.dispatches() >= 2);
        let p = mm.prepare(&ctx, GEMV, Extent::Whole).unwrap();
        let v = run_and_verify(&ctx, &mm, &p, 64).unwrap();
        assert!(v.passed(), "{}: {v:?}", common::label(&ctx));
    }
}

#[test]
fn a_lost_device_is_an_error_not_a_panic() {
    for ctx in common::contexts("a_lost_device_is_an_error_not_a_panic") {
        let p = Matmul::single(&ctx, 8, 64, 64, DType::F32).unwrap();
        ctx.device.destroy();
        let e = match Matmul::single(&ctx, 8, 64, 64, DType::F32) {
            Err(e) => e,
            Ok(_) => match p.prepare(&ctx, GEMV, Extent::Whole) {
                Err(e) => e,
                Ok(prepared) => run_and_verify(&ctx, &p, &prepared, 8).unwrap_err(),
            },
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
