//! Progress on stderr, as an observer of the runner: a bar on a terminal,
//! one line per kernel or op otherwise, and the live line of every point.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use wgpu_roofline::kernels::RoofKind;
use wgpu_roofline::measure::{Observer, Start};
use wgpu_roofline::report::point_line;
use wgpu_roofline::results::{KernelRecord, Point};
use wgpu_roofline::roofline::MeasuredCeilings;
use wgpu_roofline::stats::TimerKind;
use wgpu_roofline::units::si;

/// The command line's observer.
#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish_one(&mut self, text: &str) {
        self.done += 1;
        match &self.bar {
            Some(b) => {
                b.println(text);
                b.inc(1);
            }
            None => eprintln!("      {text}"),
        }
    }
}

impl Observer for Progress {
    fn started(&mut self, s: &Start) {
        eprintln!(
            "measuring {} on {} ({}), {} timer",
            s.what,
            s.adapter,
            s.backend,
            match s.timer {
                TimerKind::GpuTimestamp => "GPU timestamp",
                TimerKind::WallClock => "wall-clock",
            }
        );
        self.total = s.steps;
        self.done = 0;
        self.bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(s.steps as u64);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {msg}")
                    .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
    }

    fn note(&mut self, message: &str) {
        self.line(message);
    }

    fn step(&mut self, label: &str) {
        match &self.bar {
            Some(b) => b.set_message(label.to_string()),
            None => eprintln!("[{}/{}] {label} ...", self.done + 1, self.total),
        }
    }

    fn roof(&mut self, r: &KernelRecord) {
        let rate = match r.roof {
            RoofKind::Memory => si(r.bytes_per_s, "B/s"),
            RoofKind::Compute => si(r.flops_per_s, "FLOP/s"),
        };
        let ok = if r.verified {
            "verified"
        } else {
            "FAILED VERIFICATION"
        };
        self.finish_one(&format!("{:<14} {rate:>16}  {ok}", r.name));
    }

    fn point(&mut self, p: &Point, roofs: &MeasuredCeilings) {
        self.finish_one(&point_line(p, roofs));
    }

    fn finished(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
