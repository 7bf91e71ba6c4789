//! Human-readable text for the terminal: adapter listings and result tables.

use std::fmt::Write;

use crate::gpu::AdapterSummary;
use crate::kernels::{KernelRecord, RoofKind};
use crate::results::{ResultsFile, WarningRecord};
use crate::roofs::MeasuredCeilings;
use crate::suite::Point;
use crate::timer::TimerKind;

/// Binary size: 1536 -> "1.5 KiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Decimal SI quantity: (1.5e9, "B/s") -> "1.50 GB/s".
pub fn si(v: f64, unit: &str) -> String {
    const PREFIXES: [(f64, &str); 5] =
        [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, p) in PREFIXES {
        if v.abs() >= scale {
            return format!("{:.2} {p}{unit}", v / scale);
        }
    }
    format!("{v:.2} {unit}")
}

/// Seconds with a readable unit: 0.00123 -> "1.230 ms".
pub fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.3} us", s * 1e6)
    }
}

/// Render rows as left-aligned columns separated by two spaces.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let text: Vec<String> = cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    line(
        width
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(|s| s.as_str())
            .collect(),
        &mut out,
    );
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    out
}

/// The table `devices` prints.
pub fn devices_table(adapters: &[AdapterSummary]) -> String {
    let mut out = String::new();
    for a in adapters {
        let _ = writeln!(
            out,
            "[{}] {} ({}, {})",
            a.index, a.name, a.backend, a.device_type
        );
        let driver = [a.driver.trim(), a.driver_info.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(out, "    driver:        {driver}");
        let yes = |f: &str| {
            if a.features.iter().any(|x| x == f) {
                "yes"
            } else {
                "no"
            }
        };
        let _ = writeln!(out, "    f16:           {}", yes("SHADER_F16"));
        let _ = writeln!(
            out,
            "    timestamps:    {} (inside encoders: {}, inside passes: {})",
            yes("TIMESTAMP_QUERY"),
            yes("TIMESTAMP_QUERY_INSIDE_ENCODERS"),
            yes("TIMESTAMP_QUERY_INSIDE_PASSES")
        );
        let sub = if yes("SUBGROUP") == "yes" {
            format!(
                "yes, sizes {}..{}",
                a.subgroup_min_size, a.subgroup_max_size
            )
        } else {
            "no".to_string()
        };
        let _ = writeln!(out, "    subgroups:     {sub}");
        let coop = if a.cooperative_matrix.is_empty() {
            yes("EXPERIMENTAL_COOPERATIVE_MATRIX").to_string()
        } else {
            a.cooperative_matrix
                .iter()
                .map(|c| format!("{}x{}x{} {}->{}", c.m, c.n, c.k, c.ab_type, c.cr_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "    coop matrix:   {coop}");
        let l = &a.limits;
        let _ = writeln!(
            out,
            "    limits:        storage binding {}, buffer {}, workgroup storage {}, {} invocations/workgroup, {} workgroups/dim",
            bytes(l.max_storage_buffer_binding_size),
            bytes(l.max_buffer_size),
            bytes(l.max_compute_workgroup_storage_size as u64),
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension
        );
    }
    out
}

fn kernel_row(k: &KernelRecord) -> Vec<String> {
    let s = &k.timing.summary;
    let (work, rate) = match k.roof {
        RoofKind::Memory => (bytes(k.bytes_per_dispatch), si(k.bytes_per_s, "B/s")),
        RoofKind::Compute => (
            si(k.flops_per_dispatch as f64, "FLOP"),
            si(k.flops_per_s, "FLOP/s"),
        ),
    };
    vec![
        k.name.clone(),
        k.dtype.name().to_string(),
        work,
        k.timing.dispatches_per_sample.to_string(),
        seconds(s.median),
        rate,
        format!("{:.1}%", s.cv * 100.0),
        format!("{}..{}", seconds(s.min), seconds(s.max)),
        if k.verified {
            "yes".into()
        } else {
            format!("NO ({} bad)", k.verification.mismatches)
        },
    ]
}

/// The table `roofs` prints: one row per kernel, then the roofs.
pub fn roofs_table(r: &ResultsFile) -> String {
    let rows: Vec<_> = r.kernels.iter().map(kernel_row).collect();
    let mut out = format!(
        "{} ({}, {}), timer: {}\n\n",
        r.adapter.name,
        r.adapter.backend,
        r.adapter.driver_info,
        match r.timer.kind {
            crate::timer::TimerKind::GpuTimestamp => "GPU timestamps",
            crate::timer::TimerKind::WallClock => "wall clock",
        }
    );
    out.push_str(&columns(
        &[
            "kernel",
            "dtype",
            "work/dispatch",
            "n",
            "median",
            "rate",
            "cv",
            "min..max",
            "verified",
        ],
        &rows,
    ));
    let m = &r.ceilings.measured;
    out.push('\n');
    match (m.memory_bytes_per_s, &m.memory_kernel) {
        (Some(bw), Some(k)) => {
            let _ = writeln!(out, "memory roof:  {} ({k})", si(bw, "B/s"));
        }
        _ => out.push_str("memory roof:  none (no verified streaming kernel)\n"),
    }
    for (dtype, f) in &m.compute_flops_per_s {
        let kernel = m.compute_kernels.get(dtype).map_or("", String::as_str);
        let _ = writeln!(
            out,
            "compute roof: {} {} ({kernel})",
            si(*f, "FLOP/s"),
            dtype.name()
        );
    }
    for w in warnings(r) {
        let _ = writeln!(out, "{w}");
    }
    out
}

/// Something about a measurement its reader should know, with what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// The adapter is a CPU running a software driver.
    SoftwareAdapter {
        /// Adapter name.
        adapter: String,
    },
    /// Samples came out zero or negative after the empty pass and were dropped.
    DiscardedSamples {
        /// Kernel or op.
        name: String,
        /// How many were dropped.
        discarded: usize,
        /// Of how many batches.
        total: usize,
    },
    /// The samples spread more than [`Warning::CV_LIMIT`] around their mean.
    HighVariation {
        /// Kernel or op.
        name: String,
        /// Coefficient of variation.
        cv: f64,
    },
    /// GPU timestamps and the host's wall clock around the same batches
    /// disagree: the GPU time exceeds the wall time (impossible with a right
    /// timestamp period), or is under half of it on batches long enough for
    /// submission overhead not to matter.
    TimerDisagrees {
        /// Kernel or op.
        name: String,
        /// Median GPU-timestamp seconds per dispatch.
        gpu_s: f64,
        /// Median wall-clock seconds per dispatch.
        wall_s: f64,
    },
    /// A sample's batch lasts less than ten times the empty pass subtracted
    /// from it, or less than a thousand ticks of the clock: the timer's
    /// resolution and overhead, not the kernel, dominate.
    TooShort {
        /// Kernel or op.
        name: String,
        /// Median seconds per sampled batch.
        batch_s: f64,
        /// Seconds of the empty pass subtracted from every batch.
        overhead_s: f64,
    },
    /// Samples further from the median than 15 median absolute deviations
    /// and 2% of the median (a modified z-score above 10, hyperfine's rule,
    /// ignoring jitter too small to matter).
    Outliers {
        /// Kernel or op.
        name: String,
        /// How many.
        count: usize,
    },
}

impl Warning {
    /// Coefficient of variation above which a measurement is flagged.
    pub const CV_LIMIT: f64 = 0.10;

    /// Short machine-readable name of the kind of warning.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SoftwareAdapter { .. } => "software_adapter",
            Self::DiscardedSamples { .. } => "discarded_samples",
            Self::HighVariation { .. } => "high_variation",
            Self::TimerDisagrees { .. } => "timer_disagrees",
            Self::TooShort { .. } => "too_short",
            Self::Outliers { .. } => "outliers",
        }
    }

    /// The kernel or op it is about (none for adapter-wide warnings).
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::SoftwareAdapter { .. } => None,
            Self::DiscardedSamples { name, .. }
            | Self::HighVariation { name, .. }
            | Self::TimerDisagrees { name, .. }
            | Self::TooShort { name, .. }
            | Self::Outliers { name, .. } => Some(name),
        }
    }

    /// The form a results file stores.
    pub fn record(&self) -> WarningRecord {
        let text = self.to_string();
        WarningRecord {
            kind: self.kind().to_string(),
            subject: self.subject().map(str::to_string),
            message: text.strip_prefix("warning: ").unwrap_or(&text).to_string(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SoftwareAdapter { adapter } => write!(
                f,
                "warning: {adapter} is a CPU adapter (a software driver): the roofs and points \
                 describe the host CPU through the driver, not a GPU"
            ),
            Self::DiscardedSamples {
                name,
                discarded,
                total,
            } => write!(
                f,
                "warning: {name}: {discarded} of {total} samples were zero or negative after \
                 subtracting the empty pass and were discarded; raise --min-batch-ms"
            ),
            Self::HighVariation { name, cv } => write!(
                f,
                "warning: {name}: the samples vary by {:.0}% (coefficient of variation); \
                 close other work or raise --repeats and --min-batch-ms",
                cv * 100.0
            ),
            Self::TimerDisagrees {
                name,
                gpu_s,
                wall_s,
            } => write!(
                f,
                "warning: {name}: GPU timestamps give {} per dispatch but the wall clock {}; \
                 the driver's timestamp period may be wrong: compare with --timer wall",
                seconds(*gpu_s),
                seconds(*wall_s)
            ),
            Self::TooShort {
                name,
                batch_s,
                overhead_s,
            } => write!(
                f,
                "warning: {name}: a sampled batch lasts {} against {} of timer overhead and \
                 resolution; the kernel is too short for the timer: raise --min-batch-ms",
                seconds(*batch_s),
                seconds(*overhead_s)
            ),
            Self::Outliers { name, count } => write!(
                f,
                "warning: {name}: {count} sample(s) lie far from the median (over 15 \
                 median absolute deviations); something else ran meanwhile, the median is reported"
            ),
        }
    }
}

/// The warnings a results file deserves, in kernel then point order.
pub fn warnings(r: &ResultsFile) -> Vec<Warning> {
    let mut out = Vec::new();
    if r.adapter.device_type == "cpu" {
        out.push(Warning::SoftwareAdapter {
            adapter: r.adapter.name.clone(),
        });
    }
    let kernels = r.kernels.iter().map(|k| (k.name.clone(), &k.timing));
    let points = r.points.iter().map(|p| (p.op.label(), &p.timing));
    for (name, t) in kernels.chain(points) {
        if t.discarded > 0 {
            out.push(Warning::DiscardedSamples {
                name: name.clone(),
                discarded: t.discarded,
                total: t.discarded + t.samples_s.len(),
            });
        }
        if t.summary.cv > Warning::CV_LIMIT {
            out.push(Warning::HighVariation {
                name: name.clone(),
                cv: t.summary.cv,
            });
        }
        let median = t.summary.median;
        let batch_s = median * t.dispatches_per_sample as f64;
        let tick = r.timer.timestamp_period_ns.map_or(1e-6, |ns| ns * 1e-9);
        let overhead_s = r.timer.empty_pass_s.max(tick);
        if batch_s < 10.0 * r.timer.empty_pass_s || batch_s < 1000.0 * tick {
            out.push(Warning::TooShort {
                name: name.clone(),
                batch_s,
                overhead_s,
            });
        }
        if t.timer == TimerKind::GpuTimestamp && !t.wall_samples_s.is_empty() {
            let wall = crate::stats::Summary::of(&t.wall_samples_s).map_or(0.0, |s| s.median);
            let batch_s = wall * t.dispatches_per_sample as f64;
            if median > 1.05 * wall || (batch_s >= 0.01 && median < 0.5 * wall) {
                out.push(Warning::TimerDisagrees {
                    name: name.clone(),
                    gpu_s: median,
                    wall_s: wall,
                });
            }
        }
        let mut dev: Vec<f64> = t.samples_s.iter().map(|s| (s - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mad = if dev.is_empty() {
            0.0
        } else {
            dev[dev.len() / 2]
        };
        let far = (15.0 * mad).max(0.02 * median);
        let count = t
            .samples_s
            .iter()
            .filter(|s| (*s - median).abs() > far)
            .count();
        if count > 0 {
            out.push(Warning::Outliers { name, count });
        }
    }
    out
}

/// Attainable FLOP/s at the point's intensity under the measured roofs:
/// `min(compute roof, intensity * memory roof)`, with the compute roof of
/// the precision the kernel computes in (its `accumulate` dtype: f16 inputs
/// are multiplied and added in f32).
pub fn attainable(m: &MeasuredCeilings, p: &Point) -> Option<f64> {
    let compute = *m.compute_flops_per_s.get(&p.accumulate)?;
    let memory = m.memory_bytes_per_s?;
    Some(compute.min(p.intensity * memory))
}

/// GEMM-equivalent shape of a point: `m x n x k`, prefixed by `batch *`
/// for batched products (attention: one product per sequence and KV head).
pub fn shape(p: &Point) -> String {
    let mnk = format!("{}x{}x{}", p.op.m, p.op.n, p.op.k);
    if p.op.batch > 1 {
        format!("{}*{mnk}", p.op.batch)
    } else {
        mnk
    }
}

/// One line per point, as printed live during `run`.
pub fn point_line(p: &Point, m: &MeasuredCeilings) -> String {
    let eff = attainable(m, p)
        .map(|a| format!("{:>5.1}% of roof", 100.0 * p.flops_per_s / a))
        .unwrap_or_default();
    format!(
        "{:<28} I={:<8.1} {:>16} {:>12}  {eff}  [{}]{}",
        p.op.label(),
        p.intensity,
        si(p.flops_per_s, "FLOP/s"),
        si(p.bytes_per_s, "B/s"),
        p.kernel,
        if p.verified {
            ""
        } else {
            "  FAILED VERIFICATION"
        }
    )
}

/// The table `run` prints at the end: one row per point.
pub fn points_table(r: &ResultsFile) -> String {
    let m = &r.ceilings.measured;
    let rows = r
        .points
        .iter()
        .map(|p| {
            let mut row = shape_cells(p);
            row.extend([
                Cell::Num(p.intensity, 1),
                Cell::Text(seconds(p.median_s)),
                Cell::Si(p.flops_per_s, "FLOP/s"),
                Cell::Si(p.bytes_per_s, "B/s"),
                attainable(m, p).map_or(Cell::Missing, |a| Cell::Percent(p.flops_per_s / a)),
            ]);
            row.extend(kernel_cells(p));
            row
        })
        .collect();
    let header = SHAPE_HEADER
        .iter()
        .chain(&[
            "FLOP/B",
            "median",
            "perf",
            "bandwidth",
            "of roof",
            "kernel",
            "verified",
        ])
        .map(|h| h.to_string())
        .collect();
    Table { header, rows }.render(Format::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(128 << 20), "128.0 MiB");
        assert_eq!(si(768e9, "B/s"), "768.00 GB/s");
        assert_eq!(si(181e12, "FLOP/s"), "181.00 TFLOP/s");
        assert_eq!(si(12.0, "B"), "12.00 B");
        assert_eq!(seconds(0.0012), "1.200 ms");
        assert_eq!(seconds(2.5), "2.500 s");
        assert_eq!(seconds(4e-6), "4.000 us");
    }

    #[test]
    fn cpu_adapters_and_discarded_samples_are_reported() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut r = ResultsFile::read(&path).unwrap();
        let before = warnings(&r);
        assert!(
            matches!(before[0], Warning::SoftwareAdapter { .. }),
            "{before:?}"
        );
        r.kernels[0].timing.discarded = 2;
        let w: Vec<String> = warnings(&r).iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), before.len() + 1);
        assert!(
            w.iter()
                .any(|l| l.starts_with("warning: stream.copy: 2 of 7 samples")),
            "{w:?}"
        );
    }

    #[test]
    fn variation_and_outliers_are_flagged() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut r = ResultsFile::read(&path).unwrap();
        r.adapter.device_type = "discrete_gpu".into();
        let t = &mut r.kernels[0].timing;
        // Five samples, one far off: median 1.01, MAD 0.01, so 3.0 is an
        // outlier, and the coefficient of variation is about 0.7.
        t.samples_s = vec![1.0, 1.01, 0.99, 1.02, 3.0];
        t.summary = crate::stats::Summary::of(&t.samples_s).unwrap();
        let w = warnings(&r);
        let outliers = Warning::Outliers {
            name: "stream.copy".into(),
            count: 1,
        };
        assert!(w.contains(&outliers), "{w:?}");
        assert!(
            w.iter().any(|x| matches!(x, Warning::HighVariation { name, cv } if name == "stream.copy" && *cv > 0.5)),
            "{w:?}"
        );
        assert!(!w
            .iter()
            .any(|x| matches!(x, Warning::SoftwareAdapter { .. })));
    }

    #[test]
    fn batches_too_short_for_the_timer_are_flagged_and_stored() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut r = ResultsFile::read(&path).unwrap();
        let short = |w: &[Warning]| {
            w.iter()
                .filter(|x| matches!(x, Warning::TooShort { .. }))
                .count()
        };
        assert_eq!(short(&warnings(&r)), 0, "the fixture's batches are long");
        // 5 us batches against a 20 us empty pass: the overhead dominates.
        r.timer.empty_pass_s = 20e-6;
        let t = &mut r.kernels[0].timing;
        t.dispatches_per_sample = 1;
        t.samples_s = vec![5e-6; 5];
        t.wall_samples_s = vec![25e-6; 5];
        t.summary = crate::stats::Summary::of(&t.samples_s).unwrap();
        let w = warnings(&r);
        assert_eq!(short(&w), 1, "{w:?}");
        let record = w
            .iter()
            .find(|x| matches!(x, Warning::TooShort { .. }))
            .unwrap()
            .record();
        assert_eq!(record.kind, "too_short");
        assert_eq!(record.subject.as_deref(), Some("stream.copy"));
        assert!(
            record
                .message
                .starts_with("stream.copy: a sampled batch lasts 5.000 us")
                && record.message.contains("raise --min-batch-ms"),
            "{}",
            record.message
        );
    }

    #[test]
    fn timestamps_that_disagree_with_the_wall_clock_are_flagged() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        let mut r = ResultsFile::read(&path).unwrap();
        let disagree = |w: &[Warning]| {
            w.iter()
                .find(|x| matches!(x, Warning::TimerDisagrees { .. }))
                .map(|x| x.to_string())
        };
        // The fixture's own timestamps agree with its wall clock within 2%.
        assert_eq!(disagree(&warnings(&r)), None);
        // A timestamp period off by 10x: GPU time ten times the wall time.
        let t = &mut r.points[0].timing;
        t.samples_s.iter_mut().for_each(|s| *s *= 10.0);
        t.summary = crate::stats::Summary::of(&t.samples_s).unwrap();
        let hit = disagree(&warnings(&r)).expect("flagged");
        assert!(hit.contains("timestamp period"), "{hit}");
    }

    #[test]
    fn columns_align() {
        let t = columns(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxxx  y\n");
    }
}

/// Output formats of the tables of `compare` and `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for the terminal.
    Text,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// Comma-separated values with a header row.
    Csv,
}

/// One cell: text, or a number that people read with units and other
/// tools read raw (CSV gets the plain number).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text as it is.
    Text(String),
    /// A quantity with an SI unit, e.g. (3.1e10, "FLOP/s").
    Si(f64, &'static str),
    /// A fraction shown as a percentage (CSV: the fraction).
    Percent(f64),
    /// A plain number with `decimals` digits (CSV: full precision).
    Num(f64, usize),
    /// Nothing to show.
    Missing,
}

impl Cell {
    fn human(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Si(v, unit) => si(*v, unit),
            Self::Percent(f) => format!("{:.1}%", 100.0 * f),
            Self::Num(v, d) => format!("{v:.d$}"),
            Self::Missing => "-".into(),
        }
    }

    fn raw(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Si(v, _) | Self::Percent(v) | Self::Num(v, _) => format!("{v}"),
            Self::Missing => String::new(),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

/// A table with a header, rendered in any [`Format`].
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Render in `format`.
    pub fn render(&self, format: Format) -> String {
        let human: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::human).collect())
            .collect();
        match format {
            Format::Text => {
                let h: Vec<&str> = self.header.iter().map(String::as_str).collect();
                columns(&h, &human)
            }
            Format::Markdown => {
                let line = |cells: &[String]| {
                    let escaped: Vec<String> =
                        cells.iter().map(|c| c.replace('|', "\\|")).collect();
                    format!("| {} |\n", escaped.join(" | "))
                };
                let mut out = line(&self.header);
                out.push_str(&format!("|{}\n", " --- |".repeat(self.header.len())));
                for r in &human {
                    out.push_str(&line(r));
                }
                out
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(&self.header).expect("in-memory write");
                for r in &self.rows {
                    w.write_record(r.iter().map(Cell::raw))
                        .expect("in-memory write");
                }
                String::from_utf8(w.into_inner().expect("in-memory flush")).expect("UTF-8 cells")
            }
        }
    }
}

/// The identity of a point across runs: op, dtype and shape.
fn point_key(p: &Point) -> (String, String, String, String, u64, u64, u64, u64, u64) {
    (
        p.op.series.name().to_string(),
        p.op.phase.name().to_string(),
        p.op.op.clone(),
        p.op.dtype.name().to_string(),
        p.op.seqs,
        p.op.seq_len,
        p.op.m,
        p.op.n,
        p.op.k,
    )
}

/// Column names of [`shape_cells`].
const SHAPE_HEADER: [&str; 6] = ["series", "op", "dtype", "B", "S/L", "m x n x k"];

/// The chosen configuration and the verification verdict of a point.
fn kernel_cells(p: &Point) -> [Cell; 2] {
    [
        Cell::Text(p.kernel.to_string()),
        Cell::Text(if p.verified { "yes" } else { "NO" }.into()),
    ]
}

/// The cells that name a point: series and phase, op, dtype, B, S or L, shape.
fn shape_cells(p: &Point) -> Vec<Cell> {
    vec![
        Cell::Text(format!("{} {}", p.op.series.name(), p.op.phase.name())),
        Cell::Text(p.op.op.clone()),
        Cell::Text(p.op.dtype.name().to_string()),
        Cell::Num(p.op.seqs as f64, 0),
        Cell::Num(p.op.seq_len as f64, 0),
        Cell::Text(shape(p)),
    ]
}

/// Short name of a run: adapter and backend.
pub fn run_label(r: &ResultsFile) -> String {
    format!("{} / {}", r.adapter.name, r.adapter.backend)
}

/// `compare`: one row per op and shape of the first run, the achieved
/// FLOP/s in every run and its ratio to the first. Unverified points show as
/// `unverified`, missing ones as `-`.
pub fn compare_table(runs: &[ResultsFile]) -> Table {
    let mut header: Vec<String> = SHAPE_HEADER.map(String::from).to_vec();
    for (i, r) in runs.iter().enumerate() {
        header.push(format!("[{}] {}", i + 1, run_label(r)));
        if i > 0 {
            header.push(format!("[{}]/[1]", i + 1));
        }
    }
    let mut rows = Vec::new();
    let Some(first) = runs.first() else {
        return Table { header, rows };
    };
    for p in &first.points {
        let key = point_key(p);
        let mut row = shape_cells(p);
        let base = p.verified.then_some(p.flops_per_s);
        for (i, r) in runs.iter().enumerate() {
            let q = r.points.iter().find(|q| point_key(q) == key);
            let v = q.and_then(|q| q.verified.then_some(q.flops_per_s));
            row.push(match (q, v) {
                (None, _) => Cell::Missing,
                (Some(_), None) => Cell::Text("unverified".into()),
                (Some(_), Some(f)) => Cell::Si(f, "FLOP/s"),
            });
            if i > 0 {
                row.push(match (base, v) {
                    (Some(b), Some(f)) => Cell::Num(f / b, 2),
                    _ => Cell::Missing,
                });
            }
        }
        rows.push(row);
    }
    Table { header, rows }
}

/// `report`: every point of one run with its efficiency, i.e. achieved
/// performance over the attainable performance at its intensity, against
/// the spec roof (`spec` = (bytes/s, FLOP/s)) and against the measured roof.
pub fn report_table(r: &ResultsFile, spec: Option<(f64, f64)>) -> Table {
    let header = SHAPE_HEADER
        .iter()
        .chain(&[
            "FLOP/B",
            "FLOP/s",
            "bytes/s",
            "of spec roof",
            "of measured roof",
            "kernel",
            "verified",
        ])
        .map(|h| h.to_string())
        .collect();
    let m = &r.ceilings.measured;
    let rows = r
        .points
        .iter()
        .map(|p| {
            let spec_eff = spec.map(|(bw, f)| p.flops_per_s / f.min(p.intensity * bw));
            let meas_eff = attainable(m, p).map(|a| p.flops_per_s / a);
            let pct = |e: Option<f64>| e.map_or(Cell::Missing, Cell::Percent);
            let mut row = shape_cells(p);
            row.extend([
                Cell::Num(p.intensity, 2),
                Cell::Si(p.flops_per_s, "FLOP/s"),
                Cell::Si(p.bytes_per_s, "B/s"),
                pct(spec_eff),
                pct(meas_eff),
            ]);
            row.extend(kernel_cells(p));
            row
        })
        .collect();
    Table { header, rows }
}
