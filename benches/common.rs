//! What the benches share: every adapter opened, and the library's runner
//! driven quietly into a temporary folder.
#![allow(dead_code)]

use std::sync::atomic::AtomicBool;

use wgpu_roofline::gpu::{self, GpuContext};
use wgpu_roofline::measure::runner::{self, RunSettings};
use wgpu_roofline::measure::{paired, Silent, Timer, TimerPreference};
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::Sweep;
use wgpu_roofline::results::{Point, ResultsFile};
use wgpu_roofline::settings::{DTypeChoice, TimingOverrides};

/// Every adapter that opens, in the order `--backend all` visits them.
pub fn adapters() -> Vec<GpuContext> {
    gpu::open_every()
        .into_iter()
        .filter_map(|c| match c {
            Ok(c) => Some(c),
            Err(e) => {
                println!("skipping an adapter: {e}");
                None
            }
        })
        .collect()
}

/// `run --quick`'s settings for Llama-7B over `sweep`.
pub fn settings(sweep: Sweep, passes: u32) -> RunSettings {
    RunSettings {
        model: ModelConfig::preset("llama-7b").expect("preset"),
        sweep,
        dtypes: DTypeChoice::All,
        weights: None,
        quick: true,
        timing: TimingOverrides::default(),
        samples: 64,
        passes,
        timer: TimerPreference::Auto,
        footprint_bytes: None,
        warm_s: None,
        exclude: Vec::new(),
    }
}

/// The runner on `ctx`, quietly, into a temporary folder; every point and
/// roof verified.
pub fn run(ctx: &GpuContext, settings: &RunSettings) -> ResultsFile {
    let dir = tempfile::tempdir().expect("temporary folder");
    let stop = AtomicBool::new(false);
    let out = runner::run(ctx, settings, dir.path(), &stop, &mut Silent).expect("run");
    assert!(out.stopped.is_none(), "{:?}", out.stopped);
    let bad = out.file.unverified();
    assert!(bad.is_empty(), "unverified: {bad:?}");
    out.file
}

/// Pairs of batches per decode point timed beside the memory roof.
pub const PAIRS: usize = 9;

/// `point`'s share of the memory roof timed in alternation with the roof's
/// kernel and the read-only streams ([`paired`]), as "0.91 paired
/// (0.85..0.97, 9 pairs, stream.read_blocks)", naming the kernel fastest
/// in the most pairs; every output verified.
pub fn paired_share(ctx: &GpuContext, timer: &Timer, file: &ResultsFile, point: &Point) -> String {
    let label = point.op.label();
    let p = paired::against_memory_roof(ctx, timer, file, point, PAIRS)
        .unwrap_or_else(|e| panic!("{label}: pairing with the memory roof: {e}"));
    assert!(p.verified(), "{label}: paired run unverified");
    let s = p.summary().expect("pairs");
    format!(
        "{:.2} paired ({:.2}..{:.2}, {} pairs, {})",
        s.median,
        s.min,
        s.max,
        s.n,
        p.usual_roof().unwrap_or("-")
    )
}
