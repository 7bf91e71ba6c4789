//! Roofline charts from checked-in results (no GPU needed): PNG decodes at
//! the expected size, SVG carries the ceilings, the legend and one marker per
//! valid point; bad inputs fail cleanly.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn plot(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .arg("plot")
        .args(args)
        .output()
        .unwrap()
}

/// Text of every `<text>` element of an SVG.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .map(|(_, rest)| {
            rest.split("</text>")
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect()
}

/// Markers (crosses: two `<line>`s each) drawn in `color`, legend sample included.
fn crosses(svg: &str, color: &str) -> usize {
    svg.lines()
        .filter(|l| l.starts_with("<line") && l.contains(&format!("stroke=\"{color}\"")))
        .count()
        / 2
}

#[test]
fn png_decodes_at_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.png");
    let o = plot(&[
        fixture("run-small.json").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (1200, 800));
    // Not a blank canvas: some pixels are the qkv mlp init blue.
    let rgb = img.to_rgb8();
    assert!(rgb.pixels().any(|p| p.0 == [0x1f, 0x77, 0xb4]));
}

#[test]
fn svg_has_ceilings_legend_and_one_marker_per_valid_point() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.svg");
    let o = plot(&[
        fixture("run-small.json").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&out).unwrap();
    let t = texts(&svg);
    let has = |s: &str| t.iter().any(|x| x.contains(s));
    assert!(has("Roofline Model (llama-7b, llvmpipe"), "{t:?}");
    assert!(
        has("RTX A6000 768GB/s (spec)") && has("RTX A6000 181TFLOP/s (spec)"),
        "{t:?}"
    );
    assert!(has("ridge 235.7 FLOP/B (spec)"), "{t:?}");
    assert!(
        has("measured 16.48GB/s")
            && has("measured SIMT f32 140.62GFLOP/s")
            && has("measured SIMT f16"),
        "{t:?}"
    );
    for legend in [
        "qkv mlp init",
        "qkv mlp ar",
        "up/gate/down init",
        "up/gate/down ar",
    ] {
        assert!(
            t.iter().any(|x| x == legend),
            "no legend `{legend}` in {t:?}"
        );
    }
    for tick in [
        "1", "10", "100", "1k", "10k", "1G", "10G", "100G", "1T", "10T", "100T",
    ] {
        assert!(t.iter().any(|x| x == tick), "no tick `{tick}` in {t:?}");
    }
    // Two valid points per series and phase (f32, f16) plus the legend's
    // sample; the unverified `q-broken` point is not drawn.
    for color in ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728"] {
        assert_eq!(crosses(&svg, color), 2 + 1, "{color}");
    }
}

#[test]
fn several_runs_share_one_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two.svg");
    let f = fixture("run-small.json");
    let f = f.to_str().unwrap();
    let o = plot(&[f, f, "-o", out.to_str().unwrap(), "--preset", "h100"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&out).unwrap();
    let t = texts(&svg);
    assert!(t.iter().any(|x| x.contains("2 runs")), "{t:?}");
    assert!(
        t.iter().any(|x| x.contains("H100 SXM 3.35TB/s (spec)")),
        "{t:?}"
    );
    // Each run's roofs are named in the legend, the series only once.
    let roofs = t
        .iter()
        .filter(|x| x.starts_with("measured ") && x.ends_with("/ vulkan]"))
        .count();
    assert_eq!(roofs, 2 * 3, "memory, f32 and f16 roofs of each run: {t:?}");
    assert_eq!(
        t.iter().filter(|x| x.as_str() == "qkv mlp init").count(),
        1,
        "{t:?}"
    );
    // qkv mlp init keeps its cross; each run's 2 valid points take the run's
    // colour; the legend's sample is grey.
    assert_eq!(crosses(&svg, "#333333"), 2);
    assert_eq!(crosses(&svg, "#17BECF"), 2);
    assert_eq!(crosses(&svg, "#555555"), 1);
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
    let t = texts(&std::fs::read_to_string(&out).unwrap());
    assert!(
        t.iter().any(|x| x == "spec 1TFLOP/s (spec)")
            && t.iter().any(|x| x == "ridge 10.0 FLOP/B (spec)"),
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
    let t = texts(&std::fs::read_to_string(&out).unwrap());
    assert!(!t.iter().any(|x| x.contains("(spec)")), "{t:?}");
}
