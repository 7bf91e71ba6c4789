//! Faults a long run meets: a GPU wait past its deadline, and a run
//! interrupted with Ctrl-C then resumed. The interrupted run must leave a
//! valid results file with the points finished so far and a chart of them;
//! `run --resume` must finish the plan without measuring a point twice.

use crate::common;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use wgpu_roofline::results::ResultsFile;

#[test]
fn the_watchdog_fires_when_no_wait_completes_within_the_deadline() {
    for mut ctx in common::contexts("the_watchdog_fires_when_no_wait_completes_within_the_deadline")
    {
        ctx.deadline = Duration::from_millis(20);
        let (tx, rx) = std::sync::mpsc::channel();
        ctx.watchdog(move |d| {
            let _ = tx.send(d);
        });
        // Waits that complete keep it quiet...
        for _ in 0..10 {
            ctx.wait().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(rx.try_recv().is_err(), "fired while waits completed");
        // ...a stall (what a submission stuck inside the driver looks like
        // from the host) does not.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(rx.try_recv(), Ok(Duration::from_millis(20)));
    }
}

#[test]
fn a_run_past_its_deadline_stops_with_one_clear_line() {
    // A stream kernel over 64 MiB takes tens of milliseconds on a CPU
    // adapter: a 5 ms deadline must stop the run, whichever wait it hits.
    for ctx in common::contexts("a_run_past_its_deadline_stops_with_one_clear_line") {
        if ctx.adapter.device_type != "cpu" {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.json");
        let o = std::process::Command::cargo_bin("wgpu-roofline")
            .unwrap()
            .args([
                "roofs",
                "--backend",
                &ctx.adapter.backend,
                "--deadline",
                "0.005",
            ])
            .arg("--json")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let errors: Vec<_> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("did not finish within 0.005 s"),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

fn points(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["points"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn interrupted_run_keeps_its_points_and_resumes() {
    let Some(backend) = common::backends("interrupted_run_keeps_its_points_and_resumes")
        .first()
        .copied()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let results = out.join("results.json");
    let model = common::fixture("tiny-model.json");
    let mut child = std::process::Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args(["run", "--quick", "--backend", backend, "--model", &model])
        .args(common::SMALL_RUN)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while points(&results) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no points written"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the interrupt"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: interrupted") && last.contains("--resume"),
        "{stderr}"
    );
    let r = ResultsFile::read(&results).unwrap();
    let kept = r.points.len();
    assert!(kept >= 3, "{kept}");
    assert!(r.incomplete.is_some());
    assert!(out.join("roofline.png").exists() && out.join("roofline.svg").exists());

    let o = std::process::Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args(["run", "--resume"])
        .arg(&out)
        .args(["--repeats", "2", "--warmup", "0", "--min-batch-ms", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming with {kept} of")),
        "{stderr}"
    );
    let r = ResultsFile::read(&results).unwrap();
    assert!(r.incomplete.is_none());
    let w = r.workload.as_ref().unwrap();
    let plan = wgpu_roofline::plan::plan(&w.model, &w.sweep).unwrap();
    assert_eq!(r.points.len() + r.skipped.len(), plan.len());
    // In plan order, as an uninterrupted run writes them.
    let measured: Vec<_> = plan
        .iter()
        .filter(|op| !r.skipped.iter().any(|s| s.op == op.label()))
        .map(|op| (op.series, op.label()))
        .collect();
    let got: Vec<_> = r
        .points
        .iter()
        .map(|p| (p.op.series, p.op.label()))
        .collect();
    assert_eq!(got, measured);
    let mut labels: Vec<_> = r
        .points
        .iter()
        .map(|p| (p.op.series, p.op.label()))
        .collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), r.points.len(), "a point was measured twice");
    assert!(r.points.iter().all(|p| p.verified));
    // A finished run has nothing to resume.
    let o = std::process::Command::cargo_bin("wgpu-roofline")
        .unwrap()
        .args(["run", "--resume"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to resume"));
}
