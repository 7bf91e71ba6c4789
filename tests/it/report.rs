//! `compare` and `report` output, pinned by snapshots (no GPU needed), and
//! efficiency numbers checked against hand-computed values.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json")
}

/// Stdout and stderr of a command that must succeed.
fn output(args: &[&str]) -> (String, String) {
    let o = Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(o.status.success(), "{args:?}: {stderr}");
    (String::from_utf8(o.stdout).unwrap(), stderr)
}

fn stdout(args: &[&str]) -> String {
    output(args).0
}

/// A second run derived from the fixture: the GL backend, every point at
/// half the performance, one point missing and one unverified.
fn second_run(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    v["adapter"]["backend"] = "gl".into();
    let points = v["points"].as_array_mut().unwrap();
    for p in points.iter_mut() {
        let f = p["flops_per_s"].as_f64().unwrap();
        p["flops_per_s"] = (f / 2.0).into();
    }
    points.remove(1); // up/gate/down init gate f32
    points[2]["verified"] = false.into(); // up/gate/down ar gate f32
    let path = dir.join("gl.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    path
}

#[test]
fn compare_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture();
    let b = second_run(dir.path());
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    insta::assert_snapshot!("compare_text", stdout(&["compare", a, b]));
    insta::assert_snapshot!("compare_md", stdout(&["compare", a, b, "--format", "md"]));
    let csv = stdout(&["compare", a, b, "--format", "csv"]);
    insta::assert_snapshot!("compare_csv", csv);
    // Ratios are exactly one half where both runs have a verified point.
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let ratios: Vec<String> = r.records().map(|rec| rec.unwrap()[8].to_string()).collect();
    assert_eq!(
        ratios.iter().filter(|x| x.as_str() == "0.5").count(),
        6,
        "{ratios:?}"
    );
}

#[test]
fn report_in_every_format() {
    let f = fixture();
    let f = f.to_str().unwrap();
    insta::assert_snapshot!("report_text", stdout(&["report", f]));
    insta::assert_snapshot!("report_md", stdout(&["report", f, "--format", "md"]));
    insta::assert_snapshot!(
        "report_csv",
        stdout(&["report", f, "--format", "csv", "--preset", "h100"])
    );
    // The run's warnings go to stderr, whatever the format.
    for format in ["text", "csv"] {
        let (stdout, stderr) = output(&["report", f, "--format", format]);
        assert!(
            stderr.starts_with("warning: llvmpipe (LLVM 15.0.6, 256 bits) is a CPU adapter"),
            "{stderr}"
        );
        assert!(!stdout.contains("warning"));
    }
}

#[test]
fn efficiency_matches_hand_computation() {
    // The fixture's first point: prefill q at S = 128 in f32. Its intensity is
    // 2*128*4096*4096 / (4*(128*4096 + 4096*4096 + 128*4096)) = 60.235...,
    // below the A6000 ridge (235.7), so the spec roof there is
    // intensity * 768e9, and the efficiency is flops_per_s / that.
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let p = &run["points"][0];
    let f = p["flops_per_s"].as_f64().unwrap();
    let intensity =
        2.0 * 128.0 * 4096.0 * 4096.0 / (4.0 * (128.0 * 4096.0 + 4096.0 * 4096.0 + 128.0 * 4096.0));
    assert!((p["intensity"].as_f64().unwrap() - intensity).abs() < 1e-9);
    let spec_eff = f / (intensity * 768e9);
    // Measured: min(f32 compute roof, intensity * memory roof).
    let m = &run["ceilings"]["measured"];
    let measured = (m["compute_flops_per_s"]["f32"].as_f64().unwrap())
        .min(intensity * m["memory_bytes_per_s"].as_f64().unwrap());
    let meas_eff = f / measured;
    let csv = stdout(&["report", fixture().to_str().unwrap(), "--format", "csv"]);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let first = r.records().next().unwrap().unwrap();
    let got_spec: f64 = first[9].parse().unwrap();
    let got_meas: f64 = first[10].parse().unwrap();
    assert!(
        (got_spec - spec_eff).abs() < 1e-12,
        "{got_spec} vs {spec_eff}"
    );
    assert!(
        (got_meas - meas_eff).abs() < 1e-12,
        "{got_meas} vs {meas_eff}"
    );
}

#[test]
fn compare_needs_two_files_and_good_ones() {
    let o = Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args(["compare", fixture().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"schema_version\": 1").unwrap();
    let o = Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args([
            "compare",
            fixture().to_str().unwrap(),
            bad.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid JSON"), "{stderr}");
}
