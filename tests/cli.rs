//! End-to-end tests of the `wgpu-roofline` binary on the software adapters.

mod common;

use std::path::Path;

use assert_cmd::Command;
use wgpu_roofline::gpu::{self, BackendChoice};
use wgpu_roofline::kernels::stream::StreamOp;
use wgpu_roofline::kernels::RoofKind;
use wgpu_roofline::results::{ResultsFile, SCHEMA_VERSION};

fn bin() -> Command {
    Command::cargo_bin("wgpu-roofline").unwrap()
}

/// Backends with at least one adapter here.
fn backends(test: &str) -> Vec<&'static str> {
    let found: Vec<_> = [("vulkan", BackendChoice::Vulkan), ("gl", BackendChoice::Gl)]
        .into_iter()
        .filter(|(_, c)| !gpu::enumerate(*c).is_empty())
        .map(|(n, _)| n)
        .collect();
    if found.is_empty() {
        common::skip(test, "no Vulkan or GL adapter");
    }
    found
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
    for sub in ["devices", "roofs"] {
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
        text.contains("timestamps:") && text.contains("limits:"),
        "{text}"
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
        assert!(!r.git_commit.is_empty() && !r.timestamp.is_empty());
        assert!(
            r.kernels.len() >= 6,
            "5 stream kernels and at least one peak"
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
                    let stride = k.config["workgroup_size"].as_u64().unwrap() * 16; // 16384 vec4 / (256 * 4)
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
        let m = &r.ceilings.measured;
        assert!(m.memory_bytes_per_s.unwrap() > 0.0);
        assert!(m.compute_flops_per_s.values().all(|f| *f > 0.0));
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
        assert!(
            raw["ceilings"]["measured"]["compute_flops_per_s"]["f32"]
                .as_f64()
                .unwrap()
                > 0.0
        );
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
        5 + 4,
        "5 stream kernels, f32 peak at 4 chain counts"
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
fn bad_inputs_give_one_clear_line() {
    let found = backends("bad_inputs_give_one_clear_line");
    let Some(backend) = found.first().copied() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = out.to_str().unwrap();
    let b = ["--backend", backend];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["roofs", "--adapter", "no-such-gpu", "--json", o],
            "no adapter matches `no-such-gpu`",
        ),
        (
            vec!["roofs", "--adapter", "99", "--json", o],
            "no adapter matches `index 99`",
        ),
        (
            [&["roofs", "--size", "0", "--json", o][..], &b].concat(),
            "stream array size must be greater than zero",
        ),
        (
            [&["roofs", "--size", "64GiB", "--json", o][..], &b].concat(),
            "exceeds the adapter's max_storage_buffer_binding_size",
        ),
        (
            [&["roofs", "--sets", "0", "--json", o][..], &b].concat(),
            "number of stream array sets",
        ),
        (
            [&["roofs", "--peak-chains", "9", "--json", o][..], &b].concat(),
            "MAX_CHAINS",
        ),
        (
            [&["roofs", "--peak-iterations", "100", "--json", o][..], &b].concat(),
            "multiple of 8",
        ),
        (
            [&["roofs", "--size", "1000", "--json", o][..], &b].concat(),
            "multiple of 16 bytes",
        ),
        (
            [
                &[
                    "roofs",
                    "--dtype",
                    "f32",
                    "--peak-iterations",
                    "300000",
                    "--json",
                    o,
                ][..],
                &b,
            ]
            .concat(),
            "exactly verifiable iterations",
        ),
        (
            [
                &["roofs", "--peak-workgroups", "70000", "--json", o][..],
                &b,
            ]
            .concat(),
            "max_compute_workgroups_per_dimension",
        ),
        (
            [&["roofs", "--workgroup-size", "4096", "--json", o][..], &b].concat(),
            "max_compute_invocations_per_workgroup",
        ),
        (
            vec!["roofs", "--repeats", "0", "--json", o],
            "--repeats must be at least 1",
        ),
        (
            vec!["roofs", "--deadline", "0", "--json", o],
            "--deadline must be a positive",
        ),
    ];
    for (args, want) in &cases {
        fails_cleanly(args, &[], want, Some(&out));
    }
    let missing = dir.path().join("missing").join("r.json");
    fails_cleanly(
        &["roofs", "--json", missing.to_str().unwrap()],
        &[],
        "does not exist",
        Some(&missing),
    );
    let as_dir = dir.path().to_str().unwrap();
    fails_cleanly(&["roofs", "--json", as_dir], &[], "it is a directory", None);
    if gpu::enumerate(BackendChoice::Gl)
        .iter()
        .all(|a| !a.features().contains(wgpu::Features::SHADER_F16))
        && found.contains(&"gl")
    {
        fails_cleanly(
            &["roofs", "--backend", "gl", "--dtype", "f16", "--json", o],
            &[],
            "lacks SHADER_F16",
            Some(&out),
        );
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
