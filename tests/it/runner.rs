//! The runner in-process, observed by a recorder: interrupt, resume and
//! passes without the binary or signals.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::common;
use wgpu_roofline::dtype::Format;
use wgpu_roofline::kernels::attention::AttentionShape;
use wgpu_roofline::kernels::softmax::Softmax;
use wgpu_roofline::kernels::{Kernel, KernelConfig};
use wgpu_roofline::measure::observer::{Observer, Start};
use wgpu_roofline::measure::runner::{self, RunSettings};
use wgpu_roofline::measure::{paired, tuner, Silent, Timer, TimerPreference};
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Phase, Sweep};
use wgpu_roofline::results::{KernelRecord, Point, ResultsFile};
use wgpu_roofline::roofline::MeasuredCeilings;
use wgpu_roofline::settings::{
    DTypeChoice, Method, SuiteConfig, TimingOverrides, CPU_TIE_FLOOR, GPU_TIE_FLOOR,
};
use wgpu_roofline::{kernels::DType, Error};

/// Records what the runner reports, and sets `stop` after `stop_after`
/// points, as Ctrl-C would.
struct Recorder<'a> {
    starts: Vec<Start>,
    steps: Vec<String>,
    roofs: usize,
    points: Vec<String>,
    notes: Vec<String>,
    finished: usize,
    stop: &'a AtomicBool,
    stop_after: Option<usize>,
}

impl<'a> Recorder<'a> {
    fn new(stop: &'a AtomicBool, stop_after: Option<usize>) -> Self {
        Self {
            starts: vec![],
            steps: vec![],
            roofs: 0,
            points: vec![],
            notes: vec![],
            finished: 0,
            stop,
            stop_after,
        }
    }
}

impl Observer for Recorder<'_> {
    fn started(&mut self, s: &Start) {
        self.starts.push(s.clone());
    }
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_string());
    }
    fn step(&mut self, label: &str) {
        self.steps.push(label.to_string());
    }
    fn roof(&mut self, _: &KernelRecord) {
        self.roofs += 1;
    }
    fn point(&mut self, p: &Point, _: &MeasuredCeilings) {
        self.points.push(p.op.label());
        if Some(self.points.len()) == self.stop_after {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
    fn finished(&mut self) {
        self.finished += 1;
    }
}

fn settings(passes: u32) -> RunSettings {
    RunSettings {
        model: ModelConfig::load(&common::fixture("tiny-model.json")).unwrap(),
        sweep: Sweep {
            seq_lens: vec![40],
            batches: vec![3],
            context: 64,
            contexts: vec![],
            ..Sweep::quick(vec![])
        },
        dtypes: DTypeChoice::Only(DType::F32),
        weights: Some(vec![Format::Float(DType::F32)]),
        quick: true,
        timing: TimingOverrides {
            repeats: Some(2),
            warmup: Some(0),
            min_batch_s: Some(0.001),
        },
        samples: 16,
        passes,
        timer: TimerPreference::Auto,
        footprint_bytes: Some(4 << 20),
        warm_s: None,
        exclude: Vec::new(),
    }
}

#[test]
fn an_interrupted_run_keeps_its_points_and_resumes_in_plan_order() {
    let Some(ctx) = common::first("an_interrupted_run_keeps_its_points_and_resumes_in_plan_order")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let stop = AtomicBool::new(false);
    let mut seen = Recorder::new(&stop, Some(3));
    let s = settings(1);
    let o = runner::run(&ctx, &s, &out, &stop, &mut seen).unwrap();
    assert!(
        matches!(o.stopped, Some(Error::Interrupted)),
        "{:?}",
        o.stopped
    );
    assert_eq!(seen.points.len(), 3, "stops after the op in progress");
    assert_eq!(seen.finished, 1);
    assert!(seen.roofs >= 6);
    let kept = ResultsFile::read(&out.join("results.json")).unwrap();
    assert_eq!(kept.points.len(), 3);
    assert_eq!(kept.incomplete.as_deref(), Some("interrupted"));

    // Resumed with the first point's kernel left out (a family that took
    // the device down, say): the ops of its shape tune again without it.
    let first = kept.points[0].kernel.to_string();
    let exclude = [first.clone()];
    let stop = AtomicBool::new(false);
    let mut again = Recorder::new(&stop, None);
    let o = runner::resume(&ctx, &out, &exclude, &stop, &mut again).unwrap();
    assert!(o.stopped.is_none());
    assert_eq!(again.roofs, 0, "the run's own roofs are kept");
    assert!(
        again.starts[0].what.contains("resuming with 3 of"),
        "{:?}",
        again.starts
    );
    let r = ResultsFile::read(&out.join("results.json")).unwrap();
    assert!(r.incomplete.is_none());
    let w = r.workload.as_ref().unwrap();
    let planned = plan::plan(&w.model, &w.sweep).unwrap();
    assert_eq!(r.points.len() + r.skipped.len(), planned.len());
    let got: Vec<_> = r.points.iter().map(|p| p.op.key()).collect();
    let want: Vec<_> = planned
        .iter()
        .filter(|op| !r.skipped.iter().any(|s| s.op == op.label()))
        .map(|op| op.key())
        .collect();
    assert_eq!(got, want, "in plan order, none twice");
    assert_eq!(
        again.points.len(),
        r.points.len() - 3,
        "only the missing ones"
    );
    assert_eq!(w.suite.exclude, exclude, "recorded with the run");
    let mut left_out = 0;
    for p in &r.points[3..] {
        assert_ne!(p.kernel.to_string(), first, "{}", p.op.label());
        for t in p
            .tuning
            .iter()
            .filter(|t| t.config.to_string().contains(&first))
        {
            assert!(!t.verified && t.probe_s.is_none(), "{}", p.op.label());
            assert_eq!(
                t.note.as_deref(),
                Some(format!("left out by --exclude `{first}`").as_str())
            );
            left_out += 1;
        }
    }
    assert!(left_out > 0, "`{first}` was a candidate of a resumed op");
    // A finished run has nothing to resume.
    let e = runner::resume(&ctx, &out, &[], &stop, &mut Recorder::new(&stop, None)).unwrap_err();
    assert!(e.to_string().contains("nothing to resume"), "{e}");
}

#[test]
fn passes_sample_every_op_again_with_the_same_configuration() {
    let Some(ctx) = common::first("passes_sample_every_op_again_with_the_same_configuration")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let mut seen = Recorder::new(&stop, None);
    let o = runner::run(&ctx, &settings(2), &dir.path().join("p"), &stop, &mut seen).unwrap();
    assert!(o.stopped.is_none());
    let n = o.file.points.len();
    assert_eq!(seen.points.len(), 2 * n, "every op reported in both passes");
    assert!(
        seen.steps
            .iter()
            .filter(|s| s.ends_with("(pass 2)"))
            .count()
            == n
    );
    for p in &o.file.points {
        // Two samples per pass, each kept or counted as discarded.
        assert_eq!(
            p.timing.samples_s.len() + p.timing.discarded,
            4,
            "{}",
            p.op.label()
        );
        assert!(p.verified);
        assert_eq!(p.median_s, p.timing.summary.median);
    }
    let suite = o.file.workload.as_ref().unwrap().suite.clone();
    assert_eq!(suite.passes, 2);
    // The tie floor the run used is recorded: CPU adapters' probes scatter
    // more from run to run than GPUs'.
    let floor = suite.method.unwrap().tie_floor;
    let want = if ctx.caps.cpu {
        CPU_TIE_FLOOR
    } else {
        GPU_TIE_FLOOR
    };
    assert_eq!(floor, want);
    for p in &o.file.points {
        tuned_by_the_rules(p, &o.file.points, floor);
    }
}

#[test]
fn a_run_samples_every_roof_and_op_on_a_warm_gpu() {
    let Some(ctx) = common::first("a_run_samples_every_roof_and_op_on_a_warm_gpu") else {
        return;
    };
    // Tuning leaves the GPU idle between probes (building each candidate's
    // pipeline, verifying its output), long enough for a GPU's clocks to
    // drop: each op is warmed again before it is sampled, as each roof
    // kernel is. CPU adapters skip warming by default; here it is asked for.
    let warm_s = 0.1;
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let s = RunSettings {
        warm_s: Some(warm_s),
        ..settings(1)
    };
    let o = runner::run(&ctx, &s, &dir.path().join("w"), &stop, &mut Silent).unwrap();
    assert!(o.stopped.is_none());
    let kernels = o.file.kernels.iter().map(|k| (k.name.clone(), &k.timing));
    let points = o.file.points.iter().map(|p| (p.op.label(), &p.timing));
    for (name, t) in kernels.chain(points) {
        let busy = t.busy_s.expect("the streak is recorded");
        assert!(busy >= warm_s, "{name}: sampled after {busy} s of work");
    }

    // However long the GPU idled after tuning, the op is sampled warm.
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    let suite = SuiteConfig::for_device(&ctx.caps);
    let method = Method {
        warm_s,
        ..Method::for_device(&ctx.caps)
    };
    let shape = AttentionShape::new(1, 8, 64, 8, 64);
    let softmax = Softmax::new(&ctx, shape, DType::F32, 1).unwrap();
    let config = softmax.candidates(&ctx.caps)[0];
    timer.warm(&ctx, warm_s).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(timer.busy_s(), 0.0, "an idle gap ends the streak");
    let m = tuner::measure(
        &ctx, &timer, &suite, &method, "softmax", &softmax, config, None,
    )
    .unwrap();
    assert!(m.verification.passed());
    let busy = m.timing.busy_s.unwrap();
    assert!(busy >= warm_s, "sampled after {busy} s of work");
}

/// The tuner's record of a point obeys its rules: every verified candidate
/// keeps its probes, and its `probe_s` is their median; the contenders
/// (those probed most) are judged round by round, each probe over the
/// round's fastest, by the median of those ratios; the choice is the first
/// listed contender whose median ratio is within its tie of the least, the
/// tie being the larger spread of the two candidates' ratios, from the
/// method's `floor` to 15%. A point that reused another's search carries its
/// record.
fn tuned_by_the_rules(p: &Point, all: &[Point], floor: f64) {
    let label = p.op.label();
    if let Some(from) = &p.tuning_shared_with {
        let q = all.iter().find(|q| q.op.label() == *from).unwrap();
        assert_eq!(
            (p.kernel, p.tuning_tie),
            (q.kernel, q.tuning_tie),
            "{label}"
        );
        return;
    }
    let recorded = p
        .tuning_tie
        .unwrap_or_else(|| panic!("{label}: no tie recorded"));
    for t in &p.tuning {
        assert_eq!(t.verified, !t.probes_s.is_empty(), "{label}: {}", t.config);
        if let Some(s) = t.probe_s {
            let median = wgpu_roofline::stats::Summary::of(&t.probes_s)
                .unwrap()
                .median;
            assert_eq!(s, median, "{label}: {}", t.config);
        }
    }
    let most = p.tuning.iter().map(|t| t.probes_s.len()).max().unwrap();
    let contenders: Vec<_> = p
        .tuning
        .iter()
        .filter(|t| t.probes_s.len() == most)
        .collect();
    // Each contender's ratios to the round's fastest, and their median.
    let ratios: Vec<Vec<f64>> = contenders
        .iter()
        .map(|t| {
            (0..most)
                .map(|r| {
                    let least = contenders
                        .iter()
                        .map(|c| c.probes_s[r])
                        .fold(f64::MAX, f64::min);
                    t.probes_s[r] / least
                })
                .collect()
        })
        .collect();
    let median = |r: &[f64]| wgpu_roofline::stats::Summary::of(r).unwrap().median;
    let spread = |r: &[f64]| {
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        hi / lo - 1.0
    };
    let fastest = (0..contenders.len())
        .min_by(|&a, &b| median(&ratios[a]).total_cmp(&median(&ratios[b])))
        .unwrap();
    let least = median(&ratios[fastest]);
    let (chosen, tie) = (0..contenders.len())
        .find_map(|j| {
            let tie = spread(&ratios[fastest])
                .max(spread(&ratios[j]))
                .min(0.15)
                .max(floor);
            (median(&ratios[j]) <= least * (1.0 + tie)).then_some((contenders[j].config, tie))
        })
        .unwrap();
    assert_eq!(chosen, p.kernel, "{label}");
    assert!(
        (recorded - tie).abs() < 1e-9,
        "{label}: tie {recorded}, want {tie}"
    );
}

#[test]
fn a_decode_op_timed_beside_the_memory_roof_pairs_batch_by_batch() {
    let Some(ctx) = common::first("a_decode_op_timed_beside_the_memory_roof_pairs_batch_by_batch")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let o = runner::run(
        &ctx,
        &settings(1),
        &dir.path().join("r"),
        &stop,
        &mut Silent,
    )
    .unwrap();
    let file = o.file;
    let point = file
        .points
        .iter()
        .find(|p| p.op.phase == Phase::Ar && p.op.op == "up")
        .unwrap();
    let timer = Timer::new(&ctx, TimerPreference::Auto).unwrap();
    let p = paired::against_memory_roof(&ctx, &timer, &file, point, 3).unwrap();
    assert!(p.verified(), "{:?}", p.verification);
    assert_eq!(p.pairs.len(), 3);
    // The run's own roof kernel first, then the read-only streams it is
    // not, each moving what it moved in the run; the op's bytes.
    let roof = file.ceilings.measured.memory_kernel.as_deref().unwrap();
    assert_eq!(p.roof_kernels[0], roof);
    let mut kernels = p.roof_kernels.clone();
    kernels.sort();
    kernels.dedup();
    assert_eq!(kernels.len(), p.roof_kernels.len(), "{:?}", p.roof_kernels);
    for read_only in ["stream.read", "stream.read_blocks", "stream.dot"] {
        assert!(p.roof_kernels.iter().any(|k| k == read_only), "{read_only}");
    }
    assert!(p.roof_kernels.len() <= 4);
    for (name, bytes) in p.roof_kernels.iter().zip(&p.roof_bytes) {
        let record = file.kernels.iter().find(|k| &k.name == name).unwrap();
        assert_eq!(*bytes, record.bytes_per_dispatch, "{name}");
    }
    assert!(p.pairs.iter().all(|x| x.op_s > 0.0
        && x.roofs_s.len() == p.roof_kernels.len()
        && x.roofs_s.iter().all(|&s| s > 0.0)));
    assert_eq!(p.op_bytes, point.bytes);
    assert!(p.summary().unwrap().median.is_finite());
    assert!(p.usual_roof().is_some());

    // A run whose roof was a stream that writes (triad, which reads what
    // the read-only streams overwrite with partial sums): it runs on
    // arrays of its own, and every stream still verifies after the pairs.
    let mut triad = file.clone();
    triad.ceilings.measured.memory_kernel = Some("stream.triad".into());
    let p = paired::against_memory_roof(&ctx, &timer, &triad, point, 2).unwrap();
    assert!(p.verified(), "{:?} {}", p.verification, p.roof_verified);
    assert_eq!(p.roof_kernels.len(), 4);
    assert_eq!(p.roof_kernels[0], "stream.triad");

    // A file of roofs alone has no op to pair: one line says so.
    let mut roofs_only = file.clone();
    roofs_only.workload = None;
    let e = paired::against_memory_roof(&ctx, &timer, &roofs_only, point, 3).unwrap_err();
    assert_eq!(e.to_string(), "the results file holds no run's ops");
}

#[test]
fn f16_products_run_without_shader_f16_as_packed_halves() {
    let test = "f16_products_run_without_shader_f16_as_packed_halves";
    let plain: Vec<_> = common::contexts(test)
        .into_iter()
        .filter(|c| !c.caps.f16)
        .collect();
    if plain.is_empty() {
        common::skip(test, "no adapter lacks SHADER_F16 (llvmpipe's GL does)");
        return;
    }
    for ctx in plain {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let mut seen = Recorder::new(&stop, None);
        let mut s = settings(1);
        s.dtypes = DTypeChoice::Only(DType::F16);
        s.weights = Some(vec![Format::Float(DType::F16)]);
        s.sweep.ops = ["q", "down", "qk", "pv", "softmax", "attn"]
            .map(String::from)
            .to_vec();
        let o = runner::run(&ctx, &s, &dir.path().join("run"), &stop, &mut seen).unwrap();
        assert!(o.stopped.is_none(), "{:?}", o.stopped);
        assert!(
            seen.notes.iter().any(|n| n.contains("packed halves")),
            "{:?}",
            seen.notes
        );
        let r = ResultsFile::read(&dir.path().join("run/results.json")).unwrap();
        // Prefill and decode of the two projections and both products,
        // every one verified, in f16, by a kernel that computes in f32.
        assert_eq!(r.points.len(), 8, "{:?}", seen.points);
        for p in &r.points {
            assert!(p.verified, "{}", p.op.label());
            assert_eq!(p.op.dtype, DType::F16);
            let KernelConfig::Matmul(c) = p.kernel else {
                panic!("{}: {}", p.op.label(), p.kernel);
            };
            assert!(!c.family().computes_in(DType::F16), "{c}");
        }
        // Softmax and fused attention compute in f16: skipped, and said why.
        assert_eq!(r.skipped.len(), 4, "{:?}", r.skipped);
        assert!(r.skipped.iter().all(|s| s.reason.contains("SHADER_F16")));
        // A plan of nothing but those is an error, not an empty run.
        s.sweep.ops = vec!["softmax".into()];
        let e = runner::run(&ctx, &s, &dir.path().join("none"), &stop, &mut Silent).unwrap_err();
        assert!(e.to_string().contains("no op of the plan runs"), "{e}");
        assert!(!dir.path().join("none").exists());
    }
}
