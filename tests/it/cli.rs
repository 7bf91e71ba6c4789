//! End-to-end tests of the `wgpu-roofline` binary on the software adapters.

use std::path::Path;

use crate::common::{self, backends, fixture, SMALL_RUN};

/// One sample per op, no warm-up, a small footprint: for runs of a
/// Hugging Face config that check shapes and accounting, not timing.
const ONE_SAMPLE: &[&str] = &["--repeats", "1", "--warmup", "0", "--footprint", "4MiB"];
use assert_cmd::Command;
use wgpu_roofline::dtype::Format;
use wgpu_roofline::kernels::stream::StreamOp;
use wgpu_roofline::kernels::{DType, RoofKind};
use wgpu_roofline::measure::timer::net_of_gaps;
use wgpu_roofline::plan::Series;
use wgpu_roofline::results::{ResultsFile, SCHEMA_VERSION};

fn bin() -> Command {
    Command::cargo_bin("wgpu-roofline").unwrap()
}

/// A roofs run small enough for a test.
const SMALL: &[&str] = &[
    "roofs",
    "--size",
    "256KiB",
    "--peak-workgroups",
    "8",
    "--peak-iterations",
    "128",
    "--repeats",
    "3",
    "--warmup",
    "1",
    "--min-batch-ms",
    "1",
];

#[test]
fn help_on_every_subcommand_has_an_example() {
    for sub in ["devices", "roofs", "run", "plot", "compare", "report"] {
        let out = bin().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Example: wgpu-roofline"), "{sub}: {text}");
    }
}

#[test]
fn devices_lists_adapters_with_what_matters() {
    let found = backends("devices_lists_adapters_with_what_matters");
    if found.is_empty() {
        return;
    }
    let out = bin().args(["devices", "--json"]).output().unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    for a in list {
        for key in [
            "name",
            "backend",
            "device_type",
            "driver",
            "driver_info",
            "features",
            "subgroup_min_size",
            "cooperative_matrix",
            "limits",
        ] {
            assert!(a.get(key).is_some(), "missing {key} in {a}");
        }
        assert!(
            a["limits"]["max_storage_buffer_binding_size"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    if common::in_ci() {
        let names: Vec<_> = list
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        let backends: Vec<_> = list
            .iter()
            .map(|a| a["backend"].as_str().unwrap())
            .collect();
        assert!(names.iter().any(|n| n.contains("llvmpipe")), "{names:?}");
        assert!(
            backends.contains(&"vulkan") && backends.contains(&"gl"),
            "{backends:?}"
        );
    }
    let text = bin().arg("devices").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("#  adapter")
            && text.contains("timestamps")
            && text.contains("storage binding"),
        "{text}"
    );
    // The same table in CSV, one row per adapter, sizes as raw bytes.
    let csv = bin().args(["devices", "--format", "csv"]).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(csv.lines().count(), list.len() + 1, "{csv}");
    let binding = list[0]["limits"]["max_storage_buffer_binding_size"]
        .as_u64()
        .unwrap();
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(&format!(",{binding},")),
        "{csv}"
    );
}

#[test]
fn roofs_writes_a_valid_verified_results_file_on_each_backend() {
    for backend in backends("roofs_writes_a_valid_verified_results_file_on_each_backend") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let out = bin()
            .args(SMALL)
            .args(["--backend", backend, "--json"])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("memory roof:") && stdout.contains("compute roof:"),
            "{stdout}"
        );

        let r = ResultsFile::read(&path).unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert_eq!(r.adapter.backend, backend);
        // No cooperative matrices on the software adapters: both cooperative
        // roofs are reported as not available, in the file and the table.
        let names: Vec<&str> = r.unavailable_roofs.iter().map(|u| u.op.as_str()).collect();
        assert_eq!(
            names,
            ["peak.coop.f16.f32", "peak.coop.f16.f16"],
            "{backend}"
        );
        assert!(r
            .unavailable_roofs
            .iter()
            .all(|u| u.reason.contains("not available")));
        assert!(stdout.contains("not available"), "{stdout}");
        assert!(!r.git_commit.is_empty() && !r.timestamp.is_empty());
        assert!(
            r.kernels.len() >= 7,
            "7 stream kernels and at least one peak"
        );
        for k in &r.kernels {
            assert!(k.verified, "{backend} {}: {:?}", k.name, k.verification);
            assert_eq!(k.timing.timer, r.timer.kind);
            assert_eq!(k.timing.samples_s.len() + k.timing.discarded, 3);
            match k.roof {
                RoofKind::Memory => {
                    let op = StreamOp::ALL
                        .into_iter()
                        .find(|o| k.name == format!("stream.{}", o.name()))
                        .unwrap();
                    // 16384 vec4 / (256 * 4) workgroups; read_blocks: a
                    // team of 8 per 512 vec4s.
                    let stride = match op {
                        StreamOp::ReadBlocks => 16384 / 512 * 8,
                        _ => k.config["workgroup_size"].as_u64().unwrap() * 16,
                    };
                    assert_eq!(k.bytes_per_dispatch, op.bytes(64 * 1024, stride));
                }
                RoofKind::Compute => {
                    // 8 workgroups * 256 invocations * 128 iterations * chains * 4 lanes * 2
                    let chains = k.config["chains"].as_u64().unwrap();
                    assert_eq!(k.flops_per_dispatch, 8 * 256 * 128 * chains * 8);
                    assert_eq!(k.name, format!("peak.{}.c{chains}", k.dtype.name()));
                }
            }
        }
        // The timer's calibration: the gap taken off every dispatch, and on
        // Vulkan (timestamps inside passes) what a bracket reads instead.
        assert!(r.timer.dispatch_gap_s.unwrap() > 0.0);
        if backend == "vulkan" {
            assert!(r.timer.bracketed_dispatch_s.unwrap() > 0.0);
        }
        let m = &r.ceilings.measured;
        assert!(m.memory_bytes_per_s.unwrap() > 0.0);
        assert!(m.compute.iter().all(|r| r.flops_per_s > 0.0));
        // The raw JSON has the documented top-level fields.
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for key in [
            "schema_version",
            "tool_version",
            "git_commit",
            "timestamp",
            "adapter",
            "features",
            "limits",
            "timer",
            "config",
            "ceilings",
            "kernels",
        ] {
            assert!(raw.get(key).is_some(), "missing {key}");
        }
        let simt_f32 = raw["ceilings"]["measured"]["compute"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["engine"] == "simt" && r["input"] == "f32")
            .unwrap();
        assert!(simt_f32["flops_per_s"].as_f64().unwrap() > 0.0);
        assert_eq!(simt_f32["accumulate"], "f32");
    }
}

#[test]
fn roofs_json_to_stdout_is_pure_json() {
    let Some(backend) = backends("roofs_json_to_stdout_is_pure_json")
        .first()
        .copied()
    else {
        return;
    };
    let out = bin()
        .args(SMALL)
        .args(["--backend", backend, "--dtype", "f32", "--json", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r =
        ResultsFile::from_json(Path::new("-"), &String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        r.kernels.len(),
        7 + 4,
        "7 stream kernels, f32 peak at 4 chain counts"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("memory roof:"));
}

/// Runs `args`, expects a failure with exactly one line on stderr that
/// contains `want`, no panic, and no file at `leaves_no`.
fn fails_cleanly(args: &[&str], env: &[(&str, &str)], want: &str, leaves_no: Option<&Path>) {
    let out = bin().args(args).envs(env.iter().copied()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(want),
        "{args:?}: `{want}` not in {stderr}"
    );
    if let Some(p) = leaves_no {
        assert!(!p.exists(), "{args:?} left {}", p.display());
    }
}

#[test]
fn no_adapter_explains_how_to_get_one() {
    fails_cleanly(
        &["roofs", "--backend", "vulkan"],
        &[
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ],
        "lavapipe",
        None,
    );
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let out = bin()
        .args(["roofs", "--backend", "glide"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'glide'"), "{stderr}");
    assert!(stderr.contains("vulkan, gl, metal, dx12"), "{stderr}");
}

/// A `run` small enough for a test: a tiny model, light roofs.
fn small_run(backend: &str, model: &str, out: &Path) -> std::process::Output {
    bin()
        .args(["run", "--quick", "--backend", backend, "--model", model])
        .args(SMALL_RUN)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn run_writes_verified_points_with_exact_accounting() {
    for backend in backends("run_writes_verified_points_with_exact_accounting") {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let o = small_run(backend, &fixture("tiny-model.json"), &out);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout.contains("qkv mlp init") && stdout.contains("up/gate/down ar"),
            "{stdout}"
        );
        let r = ResultsFile::read(&out.join("results.json")).unwrap();
        let w = r.workload.as_ref().unwrap();
        assert_eq!(w.model.name, "tiny");
        let dtypes = w.sweep.dtypes.len() as usize;
        // (2 prefill + 1 decode points) * (7 linears + qk + softmax + pv +
        // fused attention) per dtype, and 7 linears in q4_0 (--quick's
        // default quantized format) at each point; without SHADER_F16
        // (llvmpipe's GL) f16 softmax and fused attention are skipped.
        let f16 = r.features.adapter.iter().any(|f| f == "SHADER_F16");
        let skipped = if f16 { 0 } else { 3 * 2 };
        assert_eq!(r.skipped.len(), skipped, "{:?}", r.skipped);
        assert!(r.skipped.iter().all(|s| s.reason.contains("SHADER_F16")));
        assert_eq!(r.points.len(), 3 * 11 * dtypes + 3 * 7 - skipped);
        let q4 = r.points.iter().filter(|p| p.op.format().name() == "q4_0");
        assert_eq!(q4.count(), 21);
        for p in &r.points {
            assert!(p.verified, "{}: {:?}", p.op.label(), p.verification);
            assert_eq!((p.flops, p.bytes), (p.op.flops(), p.op.bytes()));
            if matches!(
                p.op.series,
                Series::QkvMlp | Series::UpGateDown | Series::QkPv
            ) {
                let (batch, m, n, k) = p.op.dims();
                assert_eq!(p.flops, 2 * batch * m * n * k);
                let s = p.op.dtype.size();
                match p.op.format() {
                    Format::Float(_) => {
                        assert_eq!(p.bytes, s * batch * (m * k + k * n + m * n))
                    }
                    // W in 18-byte blocks of 32; A and C in the activations' type.
                    Format::Quant(_) => {
                        assert_eq!(p.bytes, batch * (s * (m * k + m * n) + n * (k / 32) * 18))
                    }
                }
            }
            assert!((p.intensity - p.flops as f64 / p.bytes as f64).abs() < 1e-9);
            assert!(p.median_s > 0.0 && p.flops_per_s > 0.0);
            assert_eq!(p.timing.samples_s.len() + p.timing.discarded, 2);
            assert!(!p.tuning.is_empty());
            // Every sample is its batch's pipelined time less one dispatch
            // gap per dispatch of the op.
            let gap = r.timer.dispatch_gap_s.unwrap();
            let t = &p.timing;
            assert!(gap > 0.0);
            assert!((t.gap_per_run_s - gap * p.dispatches_per_op as f64).abs() <= 1e-12);
            assert_eq!(t.samples_s.len(), t.pipelined_s.len());
            for (net, pipelined) in t.samples_s.iter().zip(&t.pipelined_s) {
                // (to the last digit serde_json's float parsing keeps)
                let want = net_of_gaps(*pipelined, t.gap_per_run_s);
                assert!((net - want).abs() <= 1e-12 * want, "{}", p.op.label());
                assert!(*net < *pipelined);
            }
        }
        // GQA: k and v are narrower than q (2 KV heads of 32 vs 4 heads).
        let k = r.points.iter().find(|p| p.op.op == "k").unwrap();
        assert_eq!(k.op.dims(), (1, 40, 64, 128));
        // Attention: one product per KV head, 2 query heads stacked in m.
        let qk = r
            .points
            .iter()
            .find(|p| p.op.op == "qk" && p.op.seq_len == 40)
            .unwrap();
        assert_eq!(qk.op.dims(), (2, 80, 40, 32));
        let pv = r
            .points
            .iter()
            .find(|p| p.op.op == "pv" && p.op.seqs == 3)
            .unwrap();
        assert_eq!(pv.op.dims(), (6, 2, 32, 64));
        assert_eq!(pv.flops, 2 * 3 * 4 * 64 * 32, "2 * B * heads * L * d");
        // Fused causal prefill at S = 40, f32: 2 KV heads x 2 query heads x
        // 40 * 41 / 2 visible pairs = 1640 per product; 4 * 2 * 32 * 1640
        // FLOPs over 4 bytes * 2 * 2 * (80 + 40) * 32 bytes.
        let attn = r
            .points
            .iter()
            .find(|p| {
                p.op.series == Series::Attention && p.op.seq_len == 40 && p.op.dtype == DType::F32
            })
            .unwrap();
        assert_eq!(attn.op.dims(), (2, 80, 40, 32));
        assert_eq!((attn.flops, attn.bytes), (419_840, 61_440));
        assert!(r.points.iter().any(|p| p.op.series == Series::Softmax));
        // The warnings printed after the tables are stored too.
        if r.adapter.device_type == "cpu" {
            assert!(
                r.warnings.iter().any(|w| w.kind == "software_adapter"),
                "{:?}",
                r.warnings
            );
        }
        assert!(r.incomplete.is_none());
        // The raw JSON carries the documented point fields.
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let p0 = &raw["points"][0];
        for key in [
            "series",
            "phase",
            "op",
            "dtype",
            "batch",
            "m",
            "n",
            "k",
            "flops",
            "bytes",
            "intensity",
            "timing",
            "median_s",
            "flops_per_s",
            "bytes_per_s",
            "kernel",
            "verified",
            "accumulate",
        ] {
            assert!(p0.get(key).is_some(), "point lacks {key}: {p0}");
        }
        assert_eq!(p0["series"], "qkv mlp");
        assert_eq!(p0["phase"], "init");
    }
}

#[test]
fn passes_sample_every_op_again() {
    let found = backends("passes_sample_every_op_again");
    let Some(backend) = found.first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args(["run", "--quick", "--backend", backend, "--dtype", "f32"])
        .args(["--model", &fixture("tiny-model.json")])
        .args(["--seq-lens", "40", "--batches", "3", "--context", "64"])
        .args(["--repeats", "2", "--warmup", "0", "--min-batch-ms", "1"])
        .args(["--footprint", "4MiB", "--passes", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = ResultsFile::read(&out.join("results.json")).unwrap();
    assert_eq!(r.workload.as_ref().unwrap().suite.passes, 2);
    for p in &r.points {
        // Two samples per pass, each kept or counted as discarded.
        assert_eq!(
            p.timing.samples_s.len() + p.timing.discarded,
            4,
            "{}",
            p.op.label()
        );
        assert!(p.verified && p.verification.checked > 64);
        assert_eq!(p.median_s, p.timing.summary.median);
    }
}

#[test]
fn run_reads_a_hugging_face_config() {
    let Some(backend) = backends("run_reads_a_hugging_face_config").first().copied() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hf");
    let o = bin()
        .args([
            "run",
            "--quick",
            "--backend",
            backend,
            "--dtype",
            "f32",
            "--model",
        ])
        .arg(fixture("hf-config.json"))
        .args(["--seq-lens", "32", "--batches", "1"])
        .args(ONE_SAMPLE)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = ResultsFile::read(&out.join("results.json")).unwrap();
    let up = r.points.iter().find(|p| p.op.op == "up").unwrap();
    assert_eq!(up.op.dims(), (1, 32, 688, 256));
    // 688 is not whole blocks of 32: the default skips quantized weights.
    assert!(r
        .points
        .iter()
        .all(|p| matches!(p.op.format(), Format::Float(_))));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("skipping quantized weights: intermediate_size = 688"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn run_reads_a_gqa_hugging_face_config_with_q4_0_weights() {
    let Some(backend) = backends("run_reads_a_gqa_hugging_face_config")
        .into_iter()
        .next()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hf");
    let o = bin()
        .args(["run", "--quick", "--backend", backend, "--weights", "q4_0"])
        .arg("--model")
        .arg(fixture("hf-config-gqa.json"))
        .args(["--seq-lens", "32", "--batches", "1", "--ops", "q,k,up,attn"])
        .args(ONE_SAMPLE)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = ResultsFile::read(&out.join("results.json")).unwrap();
    // Only q4_0 linear layers; attention keeps the dtypes.
    let linears: Vec<_> = r
        .points
        .iter()
        .filter(|p| !p.op.series.is_attention())
        .collect();
    assert_eq!(linears.len(), 2 * 3);
    assert!(linears
        .iter()
        .all(|p| p.verified && p.op.format().name() == "q4_0"));
    // GQA: k is 2 KV heads of 32 wide, q 8 heads.
    let k = linears.iter().find(|p| p.op.op == "k").unwrap();
    assert_eq!(k.op.dims(), (1, 32, 64, 256));
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let q = raw["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["op"] == "q")
        .unwrap();
    assert_eq!(q["dtype"], "q4_0");
    assert!(q["activation_dtype"] == "f16" || q["activation_dtype"] == "f32");
}

#[test]
fn run_on_all_backends_writes_each_run_the_overlay_and_the_comparison() {
    let found = backends("run_on_all_backends_writes_each_run_the_overlay_and_the_comparison");
    if found.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all");
    let o = small_run("all", &fixture("tiny-model.json"), &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for b in &found {
        let r = ResultsFile::read(&out.join(b).join("results.json")).unwrap();
        assert_eq!(r.adapter.backend, *b);
        assert!(r.points.iter().all(|p| p.verified));
        assert!(out.join(b).join("roofline.png").exists());
    }
    assert!(out.join("roofline.png").exists() && out.join("roofline.svg").exists());
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.starts_with("| series | op |"), "{md}");
    assert!(md.matches(" / ").count() >= found.len(), "{md}");
    // `all` means something only to `run`.
    fails_cleanly(
        &["roofs", "--backend", "all"],
        &[],
        "--backend all is only for `run`",
        None,
    );
}

#[test]
fn no_charts_writes_the_results_file_alone() {
    let Some(&backend) = backends("no_charts_writes_the_results_file_alone").first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args(["run", "--quick", "--backend", backend, "--model"])
        .arg(fixture("tiny-model.json"))
        .args(SMALL_RUN)
        .args(["--ops", "q", "--no-charts", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["results.json"]);
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with("results.json"), "{last}");
    // The charts can be drawn from it later.
    let chart = dir.path().join("later.svg");
    bin()
        .arg("plot")
        .arg(out.join("results.json"))
        .arg("-o")
        .arg(&chart)
        .assert()
        .success();
    assert!(chart.exists());
}
