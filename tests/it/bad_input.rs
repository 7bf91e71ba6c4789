//! Every subcommand against bad input, as one table: each case must exit
//! non-zero (1 for a refused run, 2 for a usage error) with exactly one
//! line on stderr that starts with `error:` and says what was wrong, never
//! panic, and leave no output file behind.

use crate::common;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wgpu_roofline::gpu::{self, BackendChoice};

struct Case {
    args: Vec<String>,
    /// Text the error line must contain.
    want: &'static str,
    /// Expected exit code.
    code: i32,
    /// Whether the case needs an adapter (it measures, or checks limits).
    gpu: bool,
}

fn case(args: &[&str], want: &'static str, code: i32, gpu: bool) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        want,
        code,
        gpu,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn every_bad_input_gets_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out: PathBuf = d.join("out");
    let o = out.to_str().unwrap().to_string();
    let o = o.as_str();
    let json = d.join("r.json");
    let j = json.to_str().unwrap().to_string();
    let j = j.as_str();
    let svg = d.join("o.svg");
    let sv = svg.to_str().unwrap().to_string();
    let sv = sv.as_str();

    let good = common::fixture("run-small.json");
    let full = std::fs::read_to_string(&good).unwrap();
    let truncated = write(d, "truncated.json", &full[..full.len() / 2]);
    let malformed = write(d, "malformed.json", "not json at all");
    let schema = write(d, "schema.json", r#"{"schema_version": 7, "points": []}"#);
    let wrong = write(
        d,
        "wrong.json",
        r#"{"schema_version": 1, "points": "many"}"#,
    );
    let bad_model = write(d, "bad-model.json", "{\"hidden_size\": 4096,");
    let no_heads = write(
        d,
        "noheads.json",
        r#"{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "vocab_size": 10}"#,
    );
    let zero_heads = write(
        d,
        "zeroheads.json",
        r#"{"hidden_size": 64, "num_attention_heads": 0, "num_key_value_heads": 1,
            "intermediate_size": 128, "num_hidden_layers": 1, "vocab_size": 10}"#,
    );
    let odd_heads = write(
        d,
        "oddheads.json",
        r#"{"hidden_size": 64, "num_attention_heads": 3, "num_key_value_heads": 1,
            "intermediate_size": 128, "num_hidden_layers": 1, "vocab_size": 10}"#,
    );
    let half_blocks = write(
        d,
        "halfblocks.json",
        r#"{"name": "odd", "hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 360, "num_hidden_layers": 1, "vocab_size": 10}"#,
    );
    let a_file = write(d, "a-file", "x");
    let gif = d.join("chart.gif").to_str().unwrap().to_string();
    // A roofs-only results file cannot be resumed, and says so before
    // looking for the adapter it names (which no machine has).
    let roofs_dir = d.join("roofs-run");
    std::fs::create_dir(&roofs_dir).unwrap();
    let mut roofs_only: serde_json::Value = serde_json::from_str(&full).unwrap();
    roofs_only.as_object_mut().unwrap().remove("workload");
    roofs_only["adapter"]["name"] = "an adapter of another machine".into();
    std::fs::write(roofs_dir.join("results.json"), roofs_only.to_string()).unwrap();
    let rd = roofs_dir.to_str().unwrap();
    let missing_dir = d.join("missing").join("r.json");
    let md = missing_dir.to_str().unwrap();
    let dd = d.to_str().unwrap();

    let cases = vec![
        // Usage errors: clap's message on one line, exit 2.
        case(&["frobnicate"], "unrecognized subcommand", 2, false),
        case(
            &["roofs", "--backend", "glide"],
            "invalid value 'glide'",
            2,
            false,
        ),
        case(&["roofs", "--repeats", "many"], "invalid digit", 2, false),
        case(
            &["roofs", "--size", "5parsecs"],
            "unknown size unit",
            2,
            false,
        ),
        case(
            &["run", "--seq-lens", "0"],
            "must be greater than zero",
            2,
            false,
        ),
        case(
            &["run", "--batches", "4,0"],
            "must be greater than zero",
            2,
            false,
        ),
        case(&["run", "--dtype", "f64"], "invalid value 'f64'", 2, false),
        case(
            &["run", "--weights", "f16,q5_1"],
            "unknown weight format `q5_1`",
            2,
            false,
        ),
        case(
            &[
                "run",
                "--model",
                &half_blocks,
                "--weights",
                "q8_0",
                "--out",
                o,
            ],
            "intermediate_size = 360",
            1,
            false,
        ),
        case(
            &["run", "--bogus"],
            "unexpected argument '--bogus'",
            2,
            false,
        ),
        case(
            &["run", "--resume", dd, "--model", "llama-7b"],
            "cannot be used with",
            2,
            false,
        ),
        case(&["plot", "-o", sv], "required arguments", 2, false),
        case(&["compare", &good], "2 values required", 2, false),
        case(
            &["compare", &good, &good, "--chart", &gif],
            "must end in .png or .svg",
            1,
            false,
        ),
        case(
            &["plot", &good, "-o", sv, "--size", "10x10"],
            "outside 200..=8000",
            2,
            false,
        ),
        case(
            &["report", &good, "--format", "xml"],
            "invalid value 'xml'",
            2,
            false,
        ),
        case(
            &["devices", "--adapter", "0"],
            "unexpected argument",
            2,
            false,
        ),
        // Results files, for plot, compare and report.
        case(&["plot", &truncated, "-o", sv], "invalid JSON", 1, false),
        case(&["plot", &malformed, "-o", sv], "invalid JSON", 1, false),
        case(&["plot", &schema, "-o", sv], "schema_version 7", 1, false),
        case(
            &["plot", &wrong, "-o", sv],
            "not a wgpu-roofline results file",
            1,
            false,
        ),
        case(
            &["plot", "/nonexistent/r.json", "-o", sv],
            "cannot read",
            1,
            false,
        ),
        case(
            &["plot", &good, "-o", sv, "--preset", "voodoo2"],
            "unknown preset `voodoo2`",
            1,
            false,
        ),
        case(
            &["plot", &good, "-o", "/nonexistent/dir/o.svg"],
            "does not exist",
            1,
            false,
        ),
        case(
            &["plot", &good, "-o", &format!("{dd}/o.jpg")],
            "must end in .png or .svg",
            1,
            false,
        ),
        case(
            &[
                "plot",
                &good,
                "-o",
                sv,
                "--peak-flops",
                "0",
                "--peak-bw",
                "1e9",
            ],
            "positive numbers",
            1,
            false,
        ),
        case(
            &["compare", &good, "/nonexistent.json"],
            "cannot read",
            1,
            false,
        ),
        case(&["compare", &good, &schema], "schema_version 7", 1, false),
        case(&["report", dd], "Is a directory", 1, false),
        case(&["report", &truncated], "invalid JSON", 1, false),
        // Model files and names.
        case(
            &["run", "--model", "gpt-5", "--out", o],
            "unknown model `gpt-5`",
            1,
            false,
        ),
        case(
            &["run", "--model", &bad_model, "--out", o],
            "invalid JSON",
            1,
            false,
        ),
        case(
            &["run", "--model", &no_heads, "--out", o],
            "missing field `num_attention_heads`",
            1,
            false,
        ),
        case(
            &["run", "--model", &zero_heads, "--out", o],
            "must be greater than zero",
            1,
            false,
        ),
        case(
            &["run", "--model", &odd_heads, "--out", o],
            "does not divide",
            1,
            false,
        ),
        case(
            &["run", "--model", "/nonexistent/config.json", "--out", o],
            "cannot read model file",
            1,
            false,
        ),
        // Output paths and resumes.
        case(&["run", "--out", &a_file], "is not a directory", 1, false),
        case(
            &["run", "--resume", "/nonexistent"],
            "cannot read",
            1,
            false,
        ),
        case(&["run", "--resume", rd], "nothing to resume", 1, false),
        case(&["roofs", "--json", md], "does not exist", 1, true),
        case(&["roofs", "--json", dd], "it is a directory", 1, true),
        // Sizes against the adapter's limits, and other refused settings.
        case(
            &["roofs", "--adapter", "no-such-gpu", "--json", j],
            "no adapter matches `no-such-gpu`",
            1,
            true,
        ),
        case(
            &["roofs", "--adapter", "99", "--json", j],
            "no adapter matches `index 99`",
            1,
            true,
        ),
        case(
            &["roofs", "--size", "0", "--json", j],
            "stream array size must be greater than zero",
            1,
            true,
        ),
        case(
            &["roofs", "--size", "64GiB", "--json", j],
            "max_storage_buffer_binding_size",
            1,
            true,
        ),
        case(
            &["roofs", "--size", "1000", "--json", j],
            "multiple of 16 bytes",
            1,
            true,
        ),
        case(
            &["roofs", "--sets", "0", "--json", j],
            "number of stream array sets",
            1,
            true,
        ),
        case(
            &["roofs", "--peak-chains", "9", "--json", j],
            "MAX_CHAINS",
            1,
            true,
        ),
        case(
            &["roofs", "--peak-iterations", "100", "--json", j],
            "multiple of 8",
            1,
            true,
        ),
        case(
            &[
                "roofs",
                "--dtype",
                "f32",
                "--peak-iterations",
                "2000000",
                "--json",
                j,
            ],
            "peak iterations of 2000000 exceeds MAX_ITERATIONS (1048576)",
            1,
            true,
        ),
        case(
            &["roofs", "--peak-workgroups", "70000", "--json", j],
            "max_compute_workgroups_per_dimension",
            1,
            true,
        ),
        case(
            &["roofs", "--workgroup-size", "4096", "--json", j],
            "max_compute_invocations_per_workgroup",
            1,
            true,
        ),
        case(
            &["roofs", "--repeats", "0", "--json", j],
            "--repeats must be at least 1",
            1,
            false,
        ),
        case(
            &["roofs", "--deadline", "0", "--json", j],
            "--deadline must be a positive",
            1,
            true,
        ),
        case(
            &["run", "--samples", "0", "--out", o],
            "--samples must be at least 1",
            1,
            false,
        ),
        case(
            &["run", "--exclude", "flash coop,", "--out", o],
            "an empty one would leave out every kernel",
            1,
            false,
        ),
        case(
            &["run", "--seq-lens", "128,99999999", "--out", o],
            "is larger than 16777216",
            1,
            false,
        ),
        case(
            &[
                "run",
                "--seq-lens",
                "128,1000000",
                "--dtype",
                "f32",
                "--out",
                o,
            ],
            "exceeds",
            1,
            true,
        ),
    ];
    assert!(cases.len() >= 30, "the table must hold at least 30 cases");

    let have_gpu = [BackendChoice::Vulkan, BackendChoice::Gl]
        .iter()
        .any(|c| !gpu::enumerate(*c).is_empty());
    if !have_gpu {
        common::skip(
            "every_bad_input_gets_one_clear_line (GPU cases)",
            "no adapter",
        );
    }
    let mut tried = 0;
    for c in &cases {
        if c.gpu && !have_gpu {
            continue;
        }
        let o = Command::cargo_bin("wgpu-roofline")
            .unwrap()
            .args(&c.args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let args = &c.args;
        assert_eq!(o.status.code(), Some(c.code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            lines[0].contains(c.want),
            "{args:?}: `{}` not in {stderr}",
            c.want
        );
        for p in [&out, &json, &svg, &missing_dir] {
            assert!(!p.exists(), "{args:?} left {}", p.display());
        }
        tried += 1;
    }
    eprintln!("{tried} bad inputs tried");
    // No temporary file was left behind next to the outputs.
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn f16_without_shader_f16_is_refused() {
    // llvmpipe's GL adapter has no SHADER_F16: its f16 peaks cannot run,
    // nor softmax and attention in f16 (the products can, as packed
    // halves: see the runner's tests), so a run of nothing else is
    // refused.
    let gl = gpu::enumerate(BackendChoice::Gl);
    if gl.is_empty() {
        common::skip("f16_without_shader_f16_is_refused", "no GL adapter");
        return;
    }
    if gl
        .iter()
        .any(|a| a.features().contains(wgpu::Features::SHADER_F16))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    for args in [
        vec!["roofs", "--backend", "gl", "--dtype", "f16"],
        vec![
            "run",
            "--backend",
            "gl",
            "--dtype",
            "f16",
            "--ops",
            "softmax,attn",
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let o = Command::cargo_bin("wgpu-roofline")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("lacks SHADER_F16"), "{stderr}");
        assert!(!out.exists());
    }
}
