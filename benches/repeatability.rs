//! `cargo bench --bench repeatability`: `run --quick` twice, back to back,
//! through the library's runner, on the first adapter (Vulkan first): the
//! roofs and the f32 ops of Llama-7B (`ROOFLINE_BENCH_FULL=1`: both
//! dtypes), each run in two sampling passes (`ROOFLINE_BENCH_PASSES=1` for
//! one). For every kernel and op it compares the two medians with the
//! spread each run reported (its min..max), and prints:
//! - how many second-run medians fall inside the first run's min..max and
//!   how many of the two min..max ranges overlap;
//! - the median and largest relative difference between the two medians;
//!   a roof kernel whose run sized it differently (the peaks' iterations
//!   are lengthened until a dispatch lasts long enough, so two runs can
//!   differ 2x) is compared per unit of work: the second run's times are
//!   scaled to the first run's FLOPs (or bytes) per dispatch, and the row
//!   says so;
//! - how many ops the tuner gave the same configuration in both runs, and
//!   for those it did not, each run's tie and the probes of both choices.
//!
//! Both runs' results files are kept in `target/tmp/repeatability/`.
//!
//! A bench, not a test: timings on a shared machine are noisy, and a test
//! must not assert on them.

#[path = "common.rs"]
mod common;

use wgpu_roofline::gpu::{self, BackendChoice, GpuContext};
use wgpu_roofline::kernels::{DType, RoofKind};
use wgpu_roofline::plan::Sweep;
use wgpu_roofline::results::{Point, ResultsFile};
use wgpu_roofline::settings::DTypeChoice;
use wgpu_roofline::stats::Summary;

/// (name, summary of seconds per run, chosen configuration, work per run)
/// of every kernel and op of a run; a kernel's work is its FLOPs per
/// dispatch (its bytes for a memory roof), an op's its FLOPs.
fn rows(file: &ResultsFile) -> Vec<(String, Summary, String, u64)> {
    let kernels = file.kernels.iter().map(|k| {
        let work = match k.roof {
            RoofKind::Compute => k.flops_per_dispatch,
            RoofKind::Memory => k.bytes_per_dispatch,
        };
        (k.name.clone(), k.timing.summary, String::new(), work)
    });
    let points = file.points.iter().map(|p| {
        (
            p.op.label(),
            p.timing.summary,
            p.kernel.to_string(),
            p.flops,
        )
    });
    kernels.chain(points).collect()
}

/// `s` with its times scaled by `factor` (a run's times at another
/// amount of work).
fn scaled(s: Summary, factor: f64) -> Summary {
    Summary {
        median: s.median * factor,
        min: s.min * factor,
        max: s.max * factor,
        mean: s.mean * factor,
        stddev: s.stddev * factor,
        ..s
    }
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
    println!("== {} ({})", ctx.adapter.name, ctx.adapter.backend);
    let passes = std::env::var("ROOFLINE_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    println!("   {passes} sampling pass(es) per run");
    let mut settings = common::settings(Sweep::quick(vec![]), passes);
    if !full {
        settings.dtypes = DTypeChoice::Only(DType::F32);
    }
    let (one, two) = (common::run(&ctx, &settings), common::run(&ctx, &settings));
    // Both files kept, so the tuner's probes can be read and replayed.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("repeatability");
    std::fs::create_dir_all(&dir).expect("bench output folder");
    for (i, file) in [&one, &two].into_iter().enumerate() {
        let path = dir.join(format!("run-{}.json", i + 1));
        wgpu_roofline::results::write_atomic(&path, &file.to_json())
            .expect("write a run's results");
        println!("   run {}: {}", i + 1, path.display());
    }
    let (first, second) = (rows(&one), rows(&two));
    let (mut inside, mut overlap, mut same, mut ops) = (0, 0, 0, 0);
    let mut diffs = Vec::new();
    for ((name, a, ca, wa), (_, b, cb, wb)) in first.iter().zip(&second) {
        // The second run's times at the first run's work per dispatch.
        let b = &scaled(*b, *wa as f64 / (*wb).max(1) as f64);
        let note = if wa == wb {
            String::new()
        } else {
            format!("run 2 scaled from {wb} to {wa} per dispatch")
        };
        let diff = (a.median - b.median).abs() / (0.5 * (a.median + b.median));
        let within = (a.min..=a.max).contains(&b.median);
        let overlaps = a.min <= b.max && b.min <= a.max;
        inside += within as usize;
        overlap += overlaps as usize;
        if !ca.is_empty() {
            ops += 1;
            same += (ca == cb) as usize;
        }
        diffs.push(diff);
        println!(
            "  {name:<28} {:>10.4} ms {:>10.4} ms  {:>5.1}%  {:<14} {}",
            a.median * 1e3,
            b.median * 1e3,
            diff * 100.0,
            if within {
                "inside"
            } else if overlaps {
                "ranges overlap"
            } else {
                "APART"
            },
            if ca == cb {
                format!("{ca}{note}")
            } else {
                format!("{ca} -> {cb}{note}")
            }
        );
    }
    println!("\nops tuned differently (tie, then each choice's probes in ms):");
    for (a, b) in one.points.iter().zip(&two.points) {
        if a.kernel != b.kernel && a.tuning_shared_with.is_none() {
            println!("  {}", a.op.label());
            for p in [a, b] {
                println!("    {}", probes(p, &[a.kernel, b.kernel]));
            }
        }
    }
    diffs.sort_by(f64::total_cmp);
    let n = diffs.len();
    println!(
        "\n{n} kernels and ops: {inside} second medians inside the first run's min..max, \
         {overlap} ranges overlapping; median difference {:.1}%, largest {:.1}%; \
         {same} of {ops} ops tuned to the same configuration",
        diffs[n / 2] * 100.0,
        diffs[n - 1] * 100.0
    );
}

/// A point's tie and the probes of `configs` in its tuning table.
fn probes(p: &Point, configs: &[wgpu_roofline::kernels::KernelConfig]) -> String {
    let tie = p
        .tuning_tie
        .map_or("-".into(), |t| format!("{:.1}%", t * 100.0));
    let each = configs.iter().map(|c| {
        let ms = p
            .tuning
            .iter()
            .find(|t| t.config == *c)
            .map(|t| {
                let v: Vec<String> = t
                    .probes_s
                    .iter()
                    .map(|s| format!("{:.3}", s * 1e3))
                    .collect();
                v.join(" ")
            })
            .unwrap_or_default();
        format!("{c}: [{ms}]")
    });
    format!("tie {tie}; {}", each.collect::<Vec<_>>().join("; "))
}
