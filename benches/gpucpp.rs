//! `cargo bench --bench gpucpp`: our matrix products against a public WGSL
//! kernel on the same adapter and shapes: gpu.cpp's matmul example
//! (github.com/AnswerDotAI/gpu.cpp, `examples/matmul/run.cpp`), its default
//! kernel, 2D block tiling with vectorization, with the parameters that
//! example uses (64 x 64 blocks, k steps of 8, 8 x 8 outputs per
//! invocation, 64 invocations; f32 as its version 8, f16 as version 10).
//!
//! Its source is not part of this repository: set `ROOFLINE_GPUCPP` to the
//! path of that `run.cpp` (a clone of gpu.cpp); the bench reads the kernel's
//! WGSL template from it, fills in the shape and parameters, and runs it
//! through the same device and timer as ours. Without the variable it says
//! so and measures nothing.
//!
//! Shapes: Llama-7B's `q` (128 x 4096 x 4096) and, unless
//! `ROOFLINE_BENCH_QUICK` is set, `up` (128 x 11008 x 4096), prefill at
//! S = 128. Ours is every candidate the tuner would try there, the fastest
//! verified one reported; both sides are timed by the same probe (the
//! least of several batches) and both outputs checked against f64 sums on
//! the host.

#[path = "common.rs"]
mod common;

use wgpu_roofline::dtype::DType;
use wgpu_roofline::gpu::{Binding, GpuContext};
use wgpu_roofline::kernels::matmul::{Matmul, ProductShape};
use wgpu_roofline::kernels::{Dispatches, Extent, Kernel, Step};
use wgpu_roofline::measure::{Timer, TimerPreference};
use wgpu_roofline::settings::TimingConfig;

/// gpu.cpp's block sizes for its default kernel: BM, BK, BN, TM, TN.
const BM: usize = 64;
const BK: usize = 8;
const BN: usize = 64;
const TM: usize = 8;
const TN: usize = 8;
/// Probe rounds per kernel (the least is kept).
const ROUNDS: usize = 3;
/// The raw string in run.cpp that holds the kernel's template.
const TEMPLATE: &str = "kShaderMatmulWithVectorization = R\"(";

fn main() {
    let Some(path) = std::env::var_os("ROOFLINE_GPUCPP") else {
        println!(
            "ROOFLINE_GPUCPP is not set: point it at gpu.cpp's examples/matmul/run.cpp \
             (git clone https://github.com/AnswerDotAI/gpu.cpp) to compare; nothing measured"
        );
        return;
    };
    let source = std::fs::read_to_string(&path).expect("reading ROOFLINE_GPUCPP");
    let template = template(&source).expect("run.cpp has no kShaderMatmulWithVectorization");
    let quick = std::env::var_os("ROOFLINE_BENCH_QUICK").is_some();
    let shapes: &[(&str, usize, usize, usize)] = if quick {
        &[("q", 128, 4096, 4096)]
    } else {
        &[("q", 128, 4096, 4096), ("up", 128, 11008, 4096)]
    };
    for ctx in common::adapters() {
        println!("\n== {} ({})", ctx.adapter.name, ctx.adapter.backend);
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        for dtype in [DType::F32, DType::F16] {
            if dtype == DType::F16 && !ctx.caps.f16 {
                println!("  f16: the adapter lacks SHADER_F16, which gpu.cpp's f16 kernel needs");
                continue;
            }
            for &(op, m, n, k) in shapes {
                compare(&ctx, &timer, &template, dtype, op, (m, n, k));
            }
        }
    }
}

/// The WGSL template of gpu.cpp's default matmul kernel.
fn template(source: &str) -> Option<String> {
    let body = &source[source.find(TEMPLATE)? + TEMPLATE.len()..];
    Some(body[..body.find(")\";")?].to_string())
}

/// The template with gpu.cpp's placeholders filled in, as its
/// createMatmulWithVectorization does (without its textual loop unrolling:
/// the loops have constant bounds either way).
fn instantiate(template: &str, dtype: DType, (m, n, k): (usize, usize, usize)) -> String {
    let threads = BM * BN / (TM * TN);
    let mut text = template.to_string();
    for (key, value) in [
        ("{{workgroupSize}}", threads),
        ("{{M}}", m),
        ("{{K}}", k),
        ("{{N}}", n),
        ("{{BM}}", BM),
        ("{{BK}}", BK),
        ("{{BN}}", BN),
        ("{{TM}}", TM),
        ("{{TN}}", TN),
        ("{{NUM_TILEA}}", BM * BK / threads),
        ("{{NUM_TILEB}}", BN * BK / threads),
        ("{{TN4}}", TN / 4),
        ("{{N4}}", n / 4),
        ("{{BN4}}", BN / 4),
    ] {
        text = text.replace(key, &value.to_string());
    }
    let text = text.replace("{{precision}}", dtype.name());
    match dtype {
        DType::F32 => text,
        DType::F16 => format!("enable f16;\n{text}"),
    }
}

/// Small values exact in f16, different for A and W.
fn value(i: usize, salt: usize) -> f32 {
    ((i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 7) % 17) as f32 / 16.0 - 0.5
}

fn compare(
    ctx: &GpuContext,
    timer: &Timer,
    template: &str,
    dtype: DType,
    op: &str,
    (m, n, k): (usize, usize, usize),
) {
    let flops = 2.0 * (m * n * k) as f64;
    // gpu.cpp's kernel: C (m x n) = A (m x k) . W^T, W n x k row-major as
    // ours, in whole 64 x 64 blocks.
    assert!(m % BM == 0 && n % BN == 0 && k % BK == 0);
    let a: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
    let w: Vec<f32> = (0..n * k).map(|i| value(i, 2)).collect();
    let bytes = |v: &[f32]| -> Vec<u8> {
        match dtype {
            DType::F32 => bytemuck::cast_slice(v).to_vec(),
            DType::F16 => v
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect(),
        }
    };
    let s = dtype.size();
    // gpu.cpp binds each operand whole (ours binds row ranges).
    let limit = ctx.caps.limits.max_storage_buffer_binding_size;
    if (n * k) as u64 * s > limit {
        println!(
            "  {op} {m}x{n}x{k} {}: gpu.cpp's kernel binds W whole, {} MiB, past this adapter's binding limit of {} MiB",
            dtype.name(),
            ((n * k) as u64 * s) >> 20,
            limit >> 20
        );
        return;
    }
    let buffer = |label, len: usize| ctx.operand_buffer(label, (len as u64) * s).unwrap();
    let (ba, bw, bc) = (buffer("A", m * k), buffer("W", n * k), buffer("C", m * n));
    ctx.queue.write_buffer(&ba, 0, &bytes(&a));
    ctx.queue.write_buffer(&bw, 0, &bytes(&w));
    let text = instantiate(template, dtype, (m, n, k));
    let layout = [Binding::ReadOnly, Binding::ReadOnly, Binding::ReadWrite];
    let pipe = ctx
        .pipeline("gpu.cpp matmul", &text, "main", &layout, &[])
        .expect("gpu.cpp's kernel compiles");
    let resources = [
        ba.as_entire_binding(),
        bw.as_entire_binding(),
        bc.as_entire_binding(),
    ];
    let bind_group = ctx.bind_group(&pipe, &resources).unwrap();
    let peer = Dispatches {
        pipelines: vec![pipe],
        copies: vec![vec![Step {
            pipeline: 0,
            bind_group,
            workgroups: [(m / BM) as u32, (n / BN) as u32, 1],
        }]],
        keep: vec![],
    };
    // Ours: every candidate the tuner would try on this adapter.
    let shape = ProductShape {
        batch: 1,
        m: m as u64,
        n: n as u64,
        k: k as u64,
    };
    let mm = Matmul::new(ctx, shape, dtype, 1).unwrap();
    let mut ours: Vec<_> = mm
        .candidates(&ctx.caps)
        .into_iter()
        .filter_map(|c| Some((c, mm.prepare(ctx, c, Extent::Whole).ok()?, f64::MAX)))
        .collect();
    // Both sides' pipelines are built: let the driver finish with them
    // (see TimingConfig::settle_s) before either is timed.
    let settle_s = TimingConfig::for_device(&ctx.caps).settle_s;
    timer.settle(ctx, settle_s).unwrap();
    let mut peer_s = f64::MAX;
    for _ in 0..ROUNDS {
        peer_s = peer_s.min(timer.probe(ctx, &peer).unwrap());
        for (_, p, best) in ours.iter_mut() {
            *best = best.min(timer.probe(ctx, &p.dispatches).unwrap());
        }
    }
    // gpu.cpp's output against f64 sums at a few places: the largest
    // relative error (its f16 kernel accumulates in f16).
    let at = [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (7, n - 5)];
    let ranges: Vec<_> = at.iter().map(|&(r, c)| ((r * n + c) as u64, 1)).collect();
    let got = ctx.read_ranges(&bc, dtype, &ranges).unwrap();
    let error = at
        .iter()
        .zip(&got)
        .map(|(&(r, c), g)| {
            let want: f64 = (0..k)
                .map(|i| a[r * k + i] as f64 * w[c * k + i] as f64)
                .sum();
            (g[0] as f64 - want).abs() / want.abs().max(1.0)
        })
        .fold(0.0, f64::max);
    ours.retain(|(_, p, _)| mm.verify(ctx, p, 32).is_ok_and(|v| v.passed()));
    ours.sort_by(|x, y| x.2.total_cmp(&y.2));
    let Some((config, _, ours_s)) = ours.first() else {
        println!("  {op} {dtype:?}: none of ours verified");
        return;
    };
    println!(
        "  {op} {m}x{n}x{k} {}: gpu.cpp {:.1} ms ({:.2} GFLOP/s, largest relative error {error:.1e}); \
         ours {:.1} ms ({:.2} GFLOP/s, {config}, verified): {:.2}x",
        dtype.name(),
        peer_s * 1e3,
        flops / peer_s / 1e9,
        ours_s * 1e3,
        flops / ours_s / 1e9,
        peer_s / ours_s
    );
}
