//! Roofline and comparison charts from checked-in results (no GPU needed):
//! PNG decodes at the expected size; SVG is well-formed and renders (parsed
//! by roxmltree and usvg), carries the ceilings, a legend beside the data
//! naming every series and number format, one marker and one tooltip per
//! valid point; bad inputs fail cleanly.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn cmd(sub: &str, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .arg(sub)
        .args(args)
        .output()
        .unwrap()
}

fn plot(args: &[&str]) -> std::process::Output {
    cmd("plot", args)
}

/// `plot` of the fixture run into `out` with `extra` arguments; must succeed.
fn plot_fixture(out: &Path, extra: &[&str]) {
    let f = fixture("run-small.json");
    let mut args = vec![f.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(extra);
    let o = plot(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// An SVG as the tests read it: its text lines and its tooltips, after
/// checking that it parses as XML and renders with usvg.
struct Svg {
    texts: Vec<String>,
    titles: Vec<String>,
    width: f64,
}

fn read_svg(path: &Path) -> Svg {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML: {e}"));
    let tree = usvg::Tree::from_str(&text, &usvg::Options::default())
        .unwrap_or_else(|e| panic!("usvg cannot render it: {e}"));
    let of = |tag: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name(tag))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    };
    Svg {
        texts: of("text"),
        titles: of("title"),
        width: tree.size().width() as f64,
    }
}

fn has(t: &[String], s: &str) -> bool {
    t.iter().any(|x| x.contains(s))
}

#[test]
fn png_decodes_at_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    for (size, want) in [(None, (1200, 800)), (Some("600x400"), (600, 400))] {
        let out = dir.path().join("r.png");
        let mut args = vec![fixture("run-small.json").to_str().unwrap().to_string()];
        args.extend(["-o".into(), out.to_str().unwrap().into()]);
        if let Some(s) = size {
            args.extend(["--size".into(), s.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = plot(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let img = image::open(&out).unwrap();
        assert_eq!((img.width(), img.height()), want);
        // Not a blank canvas: some pixels are the qkv mlp init blue.
        let rgb = img.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 == [0x1f, 0x77, 0xb4]));
    }
}

#[test]
fn svg_has_ceilings_legend_and_a_tooltip_per_valid_point() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.svg");
    plot_fixture(&out, &[]);
    let svg = read_svg(&out);
    let t = &svg.texts;
    assert_eq!(svg.width, 1200.0);
    assert!(has(t, "Roofline Model (llama-7b, llvmpipe"), "{t:?}");
    assert!(has(t, "spec: RTX A6000"), "{t:?}");
    assert!(
        has(t, "memory 768GB/s") && has(t, "compute 181TFLOP/s"),
        "{t:?}"
    );
    assert!(has(t, "ridge 235.7 FLOP/B"), "{t:?}");
    assert!(
        has(t, "memory 16.48GB/s") && has(t, "SIMT f32 140.62GFLOP/s") && has(t, "SIMT f16"),
        "{t:?}"
    );
    // Every series drawn and every number format drawn, named once.
    for legend in [
        "qkv mlp init",
        "qkv mlp ar",
        "up/gate/down init",
        "up/gate/down ar",
        "f32 (hollow)",
        "f16 (filled)",
    ] {
        let n = t.iter().filter(|x| x.as_str() == legend).count();
        assert_eq!(n, 1, "legend `{legend}` in {t:?}");
    }
    for tick in [
        "1", "10", "100", "1k", "10k", "1G", "10G", "100G", "1T", "10T", "100T",
    ] {
        assert!(t.iter().any(|x| x == tick), "no tick `{tick}` in {t:?}");
    }
    // One tooltip per valid point (8; the unverified `q-broken` is not
    // drawn), each naming the op, shape, kernel, time, rates and roof share.
    assert_eq!(svg.titles.len(), 8, "{:?}", svg.titles);
    for title in &svg.titles {
        for part in [
            "kernel: ",
            "median ",
            "FLOP/s",
            "B/s",
            "% of the attainable",
        ] {
            assert!(title.contains(part), "`{part}` missing from {title}");
        }
    }
    assert!(svg
        .titles
        .iter()
        .any(|x| x.starts_with("qkv mlp init: q 128x4096x4096")));
    assert!(!svg.titles.iter().any(|x| x.contains("q-broken")));
}

#[test]
fn the_legend_sits_beside_the_data() {
    // The plotting area ends where the legend column begins: every legend
    // text starts right of the chart's last x tick label.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.svg");
    plot_fixture(&out, &["--size", "600x400"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let x_of = |label: &str| -> f64 {
        doc.descendants()
            .find(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label))
            .and_then(|n| n.attribute("x"))
            .unwrap_or_else(|| panic!("no `{label}`"))
            .parse()
            .unwrap()
    };
    let last_tick = x_of("10k");
    for legend in ["qkv mlp init", "f16 (filled)", "measured"] {
        assert!(x_of(legend) > last_tick, "`{legend}` overlaps the data");
    }
}

#[test]
fn measured_roofs_are_named_on_the_chart_without_overlapping() {
    // Two compute roofs 0.3% apart, as an H200's SIMT f32 and f16 peaks.
    let dir = tempfile::tempdir().unwrap();
    let twins = second_run(dir.path(), "twins.json", |run| {
        run["adapter"]["backend"] = "vulkan".into();
        run["ceilings"]["measured"]["compute_flops_per_s"]["f16"] = 141.0e9.into();
    });
    let out = dir.path().join("twins.svg");
    let o = plot(&[twins.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    // The labels on the chart: right-aligned, left of the legend column.
    let on_chart = |label: &str| -> Vec<(f64, f64, f64)> {
        doc.descendants()
            .filter(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label))
            .map(|n| {
                let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
                (num("x"), num("y"), num("font-size"))
            })
            .filter(|&(x, _, _)| x < 900.0)
            .collect()
    };
    let f32_roof = on_chart("SIMT f32 140.62GFLOP/s");
    let f16_roof = on_chart("SIMT f16 141GFLOP/s");
    assert_eq!((f32_roof.len(), f16_roof.len()), (1, 1), "{text}");
    let ((_, a, size), (_, b, _)) = (f32_roof[0], f16_roof[0]);
    assert!((a - b).abs() >= size, "labels at y {a} and {b} overlap");
    assert_eq!(on_chart("memory 16.48GB/s").len(), 1);
}

#[test]
fn memory_slopes_rise_a_decade_per_decade_where_they_enter_through_the_x_axis() {
    // Points 1000x faster lift the y axis to 10 GFLOP/s, above the memory
    // slope at the chart's left edge: it must start on the x axis, not be
    // bent to the corner.
    let dir = tempfile::tempdir().unwrap();
    let fast = second_run(dir.path(), "fast.json", |run| {
        for p in run["points"].as_array_mut().unwrap() {
            let v = p["flops_per_s"].as_f64().unwrap();
            p["flops_per_s"] = (1000.0 * v).into();
        }
    });
    let out = dir.path().join("fast.svg");
    let o = plot(&[fast.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let tick = |label: &str, attr: &str| -> f64 {
        doc.descendants()
            .find(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label))
            .and_then(|n| n.attribute(attr))
            .unwrap_or_else(|| panic!("no tick `{label}`"))
            .parse()
            .unwrap()
    };
    let x_decade = tick("10", "x") - tick("1", "x");
    let y_decade = tick("10G", "y") - tick("100G", "y");
    // The measured memory slope: the first solid line of the run's colour.
    let slope = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("polyline")
                && n.attribute("stroke") == Some("#333333")
                && n.attribute("stroke-width") == Some("2")
        })
        .and_then(|n| n.attribute("points"))
        .unwrap();
    let pts: Vec<f64> = slope
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    let rise = (pts[1] - pts[3]) / y_decade;
    let run = (pts[2] - pts[0]) / x_decade;
    assert!(
        (rise / run - 1.0).abs() < 0.03,
        "the memory slope rises {rise:.3} decades over {run:.3}: {slope}"
    );
}

#[test]
fn labels_name_each_point() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("l.svg");
    plot_fixture(&out, &["--labels"]);
    let t = read_svg(&out).texts;
    assert!(t.iter().any(|x| x == "q 128x4096x4096"), "{t:?}");
    assert!(t.iter().any(|x| x == "gate 1x11008x4096"), "{t:?}");
}

#[test]
fn several_runs_share_one_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two.svg");
    let f = fixture("run-small.json");
    let f = f.to_str().unwrap();
    let o = plot(&[f, f, "-o", out.to_str().unwrap(), "--preset", "h100"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = read_svg(&out);
    let t = &svg.texts;
    assert!(has(t, "2 runs"), "{t:?}");
    assert!(
        has(t, "spec: H100 SXM") && has(t, "memory 3.35TB/s"),
        "{t:?}"
    );
    // Each run's roofs under its own heading; the series named once.
    let headings = t.iter().filter(|x| x.starts_with("measured: ")).count();
    assert_eq!(headings, 2, "{t:?}");
    assert_eq!(t.iter().filter(|x| x.as_str() == "qkv mlp init").count(), 1);
    // Both runs' points have tooltips naming their run.
    assert_eq!(svg.titles.len(), 16);
    assert!(svg.titles.iter().all(|x| x.starts_with("llvmpipe")));
}

#[test]
fn custom_and_absent_spec_roofs() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("run-small.json");
    let out = dir.path().join("c.svg");
    let o = plot(&[
        f.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--peak-flops",
        "1e12",
        "--peak-bw",
        "1e11",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = read_svg(&out).texts;
    assert!(
        has(&t, "compute 1TFLOP/s") && has(&t, "ridge 10.0 FLOP/B"),
        "{t:?}"
    );
    let o = plot(&[
        f.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--preset",
        "none",
    ]);
    assert!(o.status.success());
    let t = read_svg(&out).texts;
    assert!(!has(&t, "spec:"), "{t:?}");
}

/// The checked-in run as a "second run" on GL, changed by `edit`, written
/// as `name` in `dir`.
fn second_run(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read_to_string(fixture("run-small.json")).unwrap();
    let mut run: serde_json::Value = serde_json::from_str(&text).unwrap();
    run["adapter"]["backend"] = "gl".into();
    edit(&mut run);
    let path = dir.join(name);
    std::fs::write(&path, run.to_string()).unwrap();
    path
}

#[test]
fn compare_draws_the_ratios_as_bars() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("run-small.json");
    // A second run, 2x faster on every point.
    let g = second_run(dir.path(), "faster.json", |run| {
        for p in run["points"].as_array_mut().unwrap() {
            let v = p["flops_per_s"].as_f64().unwrap();
            p["flops_per_s"] = (2.0 * v).into();
        }
    });
    for ext in ["svg", "png"] {
        let out = dir.path().join(format!("cmp.{ext}"));
        let o = cmd(
            "compare",
            &[
                f.to_str().unwrap(),
                g.to_str().unwrap(),
                "--chart",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The table still goes to stdout.
        assert!(String::from_utf8_lossy(&o.stdout).contains("[2]/[1]"));
        if ext == "png" {
            assert!(image::open(&out).unwrap().width() == 1200);
            continue;
        }
        let svg = read_svg(&out);
        assert!(
            has(&svg.texts, "relative to [1] llvmpipe"),
            "{:?}",
            svg.texts
        );
        assert!(has(&svg.texts, "[2] llvmpipe"), "{:?}", svg.texts);
        // A heading per series and phase, a bar (and tooltip) per verified op.
        assert!(svg.texts.iter().any(|x| x == "qkv mlp init"));
        assert_eq!(svg.titles.len(), 8);
        assert!(
            svg.titles.iter().all(|x| x.ends_with(": 2.00")),
            "{:?}",
            svg.titles
        );
    }
}

#[test]
fn compare_chart_leaves_out_ops_no_later_run_has() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("run-small.json");
    // A second run without the first three points (as GL has no f16).
    let g = second_run(dir.path(), "fewer.json", |run| {
        run["points"].as_array_mut().unwrap().drain(..3);
    });
    let out = dir.path().join("cmp.svg");
    let args = [
        f.to_str().unwrap(),
        g.to_str().unwrap(),
        "--chart",
        out.to_str().unwrap(),
    ];
    let o = cmd("compare", &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = read_svg(&out);
    assert_eq!(svg.titles.len(), 5, "{:?}", svg.titles);
    assert!(
        has(&svg.texts, "3 ops of [1] no later run has are left out"),
        "{:?}",
        svg.texts
    );
    // Nothing in common: one error line, no file.
    let g = second_run(dir.path(), "none.json", |run| {
        run["points"].as_array_mut().unwrap().clear();
    });
    let none = dir.path().join("none.svg");
    let o = cmd(
        "compare",
        &[
            f.to_str().unwrap(),
            g.to_str().unwrap(),
            "--chart",
            none.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to compare"));
    assert!(!none.exists());
}
