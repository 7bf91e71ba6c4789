//! `cargo bench --bench repeatability`: the same quick suite twice, back to
//! back, on the first adapter (Vulkan first): the roofs and the f32 ops of
//! `run --quick` for Llama-7B (`ROOFLINE_BENCH_FULL=1`: both dtypes), each
//! run in two sampling passes (`run --passes 2`: every kernel and op sampled
//! again after all the others; `ROOFLINE_BENCH_PASSES=1` for one). For
//! every kernel and op it compares the two medians with the spread each run
//! reported (its min..max), and prints:
//! - how many second-run medians fall inside the first run's min..max and
//!   how many of the two min..max ranges overlap;
//! - the median and largest relative difference between the two medians.
//!
//! A bench, not a test: timings on a shared machine are noisy, and a test
//! must not assert on them.

use wgpu_roofline::gpu::{self, BackendChoice, GpuContext};
use wgpu_roofline::kernels::DType;
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Sweep};
use wgpu_roofline::roofs::{self, RoofsConfig};
use wgpu_roofline::stats::Summary;
use wgpu_roofline::suite::{self, SuiteConfig};
use wgpu_roofline::timer::{Timer, TimerPreference};

/// (name, summary of seconds per dispatch) of every kernel and op of one
/// run of `passes` sampling passes.
fn one_run(
    ctx: &GpuContext,
    timer: &Timer,
    ops: &[plan::Op],
    passes: u32,
) -> Vec<(String, Summary)> {
    let cfg = SuiteConfig {
        passes,
        ..SuiteConfig::default()
    };
    let mut kernels: Vec<(String, Vec<f64>)> = Vec::new();
    for _ in 0..passes {
        let records = roofs::measure(
            ctx,
            timer,
            &RoofsConfig::quick(ctx),
            &mut |_| {},
            &mut |_| {},
        )
        .expect("roofs");
        for k in records {
            match kernels.iter_mut().find(|(n, _)| *n == k.name) {
                Some((_, s)) => s.extend(&k.timing.samples_s),
                None => kernels.push((k.name, k.timing.samples_s)),
            }
        }
    }
    let mut points: Vec<_> = ops
        .iter()
        .map(|op| suite::measure_op(ctx, timer, &cfg, op).expect("op"))
        .collect();
    for _ in 1..passes {
        for p in &mut points {
            suite::resample(ctx, timer, &cfg, p).expect("resample");
        }
    }
    let mut out: Vec<_> = kernels
        .into_iter()
        .map(|(n, s)| (n, Summary::of(&s).expect("samples")))
        .collect();
    for p in points {
        assert!(p.verified, "{}", p.op.label());
        out.push((p.op.label(), p.timing.summary));
    }
    out
}

fn main() {
    let full = std::env::var_os("ROOFLINE_BENCH_FULL").is_some();
    let Some(ctx) = [
        BackendChoice::Vulkan,
        BackendChoice::Gl,
        BackendChoice::Auto,
    ]
    .into_iter()
    .find_map(|c| {
        let a = gpu::enumerate(c).into_iter().next()?;
        GpuContext::from_adapter(0, &a).ok()
    }) else {
        eprintln!("no adapter: nothing to measure");
        return;
    };
    let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
    println!("== {} ({})", ctx.adapter.name, ctx.adapter.backend);
    let dtypes = if full && DType::F16.supported(&ctx) {
        vec![DType::F32, DType::F16]
    } else {
        vec![DType::F32]
    };
    let model = ModelConfig::preset("llama-7b").expect("preset");
    let ops: Vec<_> = plan::plan(&model, &Sweep::quick(dtypes))
        .expect("plan")
        .into_iter()
        .filter(|op| suite::check_op(&ctx, op).is_ok())
        .collect();
    let passes = std::env::var("ROOFLINE_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    println!("   {passes} sampling pass(es) per run");
    let first = one_run(&ctx, &timer, &ops, passes);
    let second = one_run(&ctx, &timer, &ops, passes);
    let (mut inside, mut overlap) = (0, 0);
    let mut diffs = Vec::new();
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        let diff = (a.median - b.median).abs() / (0.5 * (a.median + b.median));
        let within = (a.min..=a.max).contains(&b.median);
        let overlaps = a.min <= b.max && b.min <= a.max;
        inside += within as usize;
        overlap += overlaps as usize;
        diffs.push(diff);
        println!(
            "  {name:<28} {:>10.4} ms {:>10.4} ms  {:>5.1}%  {}",
            a.median * 1e3,
            b.median * 1e3,
            diff * 100.0,
            if within {
                "inside"
            } else if overlaps {
                "ranges overlap"
            } else {
                "APART"
            }
        );
    }
    diffs.sort_by(f64::total_cmp);
    let n = diffs.len();
    println!(
        "\n{n} kernels and ops: {inside} second medians inside the first run's min..max, \
         {overlap} ranges overlapping; median difference {:.1}%, largest {:.1}%",
        diffs[n / 2] * 100.0,
        diffs[n - 1] * 100.0
    );
}
