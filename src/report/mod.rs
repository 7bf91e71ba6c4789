//! What people read: the tables of adapters, roof kernels and points, the
//! live line per point, and the comparisons of runs ([`compare`]). Every
//! table is a [`Table`], rendered as text, Markdown or CSV.

pub mod compare;
mod table;

use std::fmt::Write;

pub use compare::{compare_table, report_table, run_label};
pub use table::{Cell, Format, Table};

use crate::dtype::Format as WeightFormat;
use crate::gpu::AdapterSummary;
use crate::kernels::{Engine, RoofKind};
use crate::results::{KernelRecord, Point, ResultsFile};
use crate::roofline::MeasuredCeilings;
use crate::stats::TimerKind;
use crate::units::{bytes, seconds, si};

/// `devices`: one row per adapter with what decides what it can run.
pub fn devices_table(adapters: &[AdapterSummary]) -> Table {
    let mut t = Table::new(&[
        "#",
        "adapter",
        "backend",
        "type",
        "driver",
        "f16",
        "timestamps",
        "subgroups",
        "coop matrix",
        "storage binding",
        "buffer",
        "workgroup memory",
        "invocations/wg",
        "workgroups/dim",
    ]);
    for a in adapters {
        let driver = [a.driver.trim(), a.driver_info.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let yes = |f: &str| if a.offers(f) { "yes" } else { "no" };
        let timestamps = if a.offers("TIMESTAMP_QUERY_INSIDE_PASSES") {
            "inside passes"
        } else if a.offers("TIMESTAMP_QUERY") {
            "passes"
        } else {
            "no"
        };
        let subgroups = if a.offers("SUBGROUP") {
            format!("{}..{}", a.subgroup_min_size, a.subgroup_max_size)
        } else {
            "no".into()
        };
        let coop = if a.cooperative_matrix.is_empty() {
            yes("EXPERIMENTAL_COOPERATIVE_MATRIX").to_string()
        } else {
            a.cooperative_matrix
                .iter()
                .map(|c| format!("{}x{}x{} {}->{}", c.m, c.n, c.k, c.ab_type, c.cr_type))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let l = &a.limits;
        let size = |n: u64| Cell::Shown {
            human: bytes(n),
            raw: n.to_string(),
        };
        t.rows.push(vec![
            Cell::Num(a.index as f64, 0),
            a.name.as_str().into(),
            a.backend.as_str().into(),
            a.device_type.as_str().into(),
            driver.into(),
            yes("SHADER_F16").into(),
            timestamps.into(),
            subgroups.into(),
            coop.into(),
            size(l.max_storage_buffer_binding_size),
            size(l.max_buffer_size),
            size(l.max_compute_workgroup_storage_size as u64),
            Cell::Num(l.max_compute_invocations_per_workgroup as f64, 0),
            Cell::Num(l.max_compute_workgroups_per_dimension as f64, 0),
        ]);
    }
    t
}

/// `roofs`: one row per roof kernel.
pub fn roofs_table(r: &ResultsFile) -> Table {
    let mut t = Table::new(&[
        "kernel",
        "dtype",
        "work/dispatch",
        "n",
        "median",
        "rate",
        "cv",
        "min..max",
        "verified",
    ]);
    t.rows = r.kernels.iter().map(kernel_row).collect();
    for u in &r.unavailable_roofs {
        let mut row = vec![Cell::Missing; 9];
        row[0] = u.op.as_str().into();
        row[8] = "not available".into();
        t.rows.push(row);
    }
    t
}

fn kernel_row(k: &KernelRecord) -> Vec<Cell> {
    let s = &k.timing.summary;
    let (work, rate) = match k.roof {
        RoofKind::Memory => (
            Cell::Shown {
                human: bytes(k.bytes_per_dispatch),
                raw: k.bytes_per_dispatch.to_string(),
            },
            Cell::Si(k.bytes_per_s, "B/s"),
        ),
        RoofKind::Compute => (
            Cell::Si(k.flops_per_dispatch as f64, "FLOP"),
            Cell::Si(k.flops_per_s, "FLOP/s"),
        ),
    };
    let types = match k.engine {
        Engine::Simt => k.dtype.name().to_string(),
        Engine::Coop => format!("{}->{}", k.dtype.name(), k.accumulate.name()),
    };
    vec![
        k.name.as_str().into(),
        types.into(),
        work,
        Cell::Num(k.timing.dispatches_per_sample as f64, 0),
        Cell::Shown {
            human: seconds(s.median),
            raw: s.median.to_string(),
        },
        rate,
        Cell::Percent(s.cv),
        Cell::Text(format!("{}..{}", seconds(s.min), seconds(s.max))),
        if k.verified {
            "yes".into()
        } else {
            format!("NO ({} bad)", k.verification.mismatches).into()
        },
    ]
}

/// The line above the roofs table: adapter, backend, driver, clock and
/// the dispatch gap taken off every dispatch.
pub fn roofs_heading(r: &ResultsFile) -> String {
    let gap = r
        .timer
        .dispatch_gap_s
        .map(|g| format!(", dispatch gap {} (taken off each dispatch)", seconds(g)))
        .unwrap_or_default();
    format!(
        "{} ({}, {}), timer: {}{gap}",
        r.adapter.name,
        r.adapter.backend,
        r.adapter.driver_info,
        match r.timer.kind {
            TimerKind::GpuTimestamp => "GPU timestamps",
            TimerKind::WallClock => "wall clock",
        }
    )
}

/// The lines under the roofs table: the roofs, then the warnings.
pub fn roofs_summary(r: &ResultsFile) -> String {
    let m = &r.ceilings.measured;
    let mut out = String::new();
    match (m.memory_bytes_per_s, &m.memory_kernel) {
        (Some(bw), Some(k)) => {
            let _ = writeln!(out, "memory roof:  {} ({k})", si(bw, "B/s"));
        }
        _ => out.push_str("memory roof:  none (no verified streaming kernel)\n"),
    }
    for roof in &m.compute {
        let _ = writeln!(
            out,
            "compute roof: {} {} ({})",
            si(roof.flops_per_s, "FLOP/s"),
            roof.key,
            roof.kernel
        );
    }
    for u in &r.unavailable_roofs {
        let _ = writeln!(out, "not measured: {} ({})", u.op, u.reason);
    }
    for w in r.warnings() {
        let _ = writeln!(out, "{w}");
    }
    out
}

/// GEMM-equivalent shape of a point: `m x n x k`, prefixed by `batch *`
/// for batched products (attention: one product per sequence and KV head).
pub fn shape(p: &Point) -> String {
    let (batch, m, n, k) = p.op.dims();
    let mnk = format!("{m}x{n}x{k}");
    if batch > 1 {
        format!("{batch}*{mnk}")
    } else {
        mnk
    }
}

/// One line per point, as printed live during `run`.
pub fn point_line(p: &Point, m: &MeasuredCeilings) -> String {
    let eff = p
        .attainable(m)
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

/// Column names of [`shape_cells`].
const SHAPE_HEADER: [&str; 6] = ["series", "op", "dtype", "B", "S/L", "m x n x k"];

/// The cells that name a point: series and phase, op, dtype (the weight
/// format, with the activations' type after a slash when quantized: `q4_0/f16`),
/// B, S or L, shape.
fn shape_cells(p: &Point) -> Vec<Cell> {
    let dtype = match p.op.format() {
        WeightFormat::Float(d) => d.name().to_string(),
        WeightFormat::Quant(q) => format!("{}/{}", q.name(), p.op.dtype.name()),
    };
    vec![
        Cell::Text(format!("{} {}", p.op.series.name(), p.op.phase.name())),
        Cell::Text(p.op.op.clone()),
        Cell::Text(dtype),
        Cell::Num(p.op.seqs as f64, 0),
        Cell::Num(p.op.seq_len as f64, 0),
        Cell::Text(shape(p)),
    ]
}

/// The chosen configuration and the verification verdict of a point.
fn kernel_cells(p: &Point) -> [Cell; 2] {
    [
        Cell::Text(p.kernel.to_string()),
        Cell::Text(if p.verified { "yes" } else { "NO" }.into()),
    ]
}

/// The table `run` prints at the end: one row per point.
pub fn points_table(r: &ResultsFile) -> Table {
    let m = &r.ceilings.measured;
    let header: Vec<&str> = SHAPE_HEADER
        .iter()
        .copied()
        .chain([
            "FLOP/B",
            "median",
            "perf",
            "bandwidth",
            "of roof",
            "kernel",
            "verified",
        ])
        .collect();
    let mut t = Table::new(&header);
    t.rows = r
        .points
        .iter()
        .map(|p| {
            let mut row = shape_cells(p);
            row.extend([
                Cell::Num(p.intensity, 1),
                Cell::Shown {
                    human: seconds(p.median_s),
                    raw: p.median_s.to_string(),
                },
                Cell::Si(p.flops_per_s, "FLOP/s"),
                Cell::Si(p.bytes_per_s, "B/s"),
                p.attainable(m)
                    .map_or(Cell::Missing, |a| Cell::Percent(p.flops_per_s / a)),
            ]);
            row.extend(kernel_cells(p));
            row
        })
        .collect();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> ResultsFile {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-small.json");
        ResultsFile::read(&path).unwrap()
    }

    #[test]
    fn cpu_adapters_and_discarded_samples_are_reported() {
        let mut r = fixture();
        let before = r.warnings();
        assert_eq!(before[0].kind(), "software_adapter", "{before:?}");
        r.kernels[0].timing.discarded = 2;
        let w: Vec<String> = r.warnings().iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), before.len() + 1);
        assert!(
            w.iter()
                .any(|l| l.starts_with("warning: stream.copy: 2 of 7 samples")),
            "{w:?}"
        );
    }

    #[test]
    fn roofs_summary_names_the_roofs_and_warns() {
        let r = fixture();
        let s = roofs_summary(&r);
        assert!(s.starts_with("memory roof:  "), "{s}");
        assert!(s.contains("compute roof: "), "{s}");
        assert!(s.contains("is a CPU adapter"), "{s}");
        let t = roofs_table(&r).render(Format::Csv);
        assert!(t.starts_with("kernel,dtype,work/dispatch,n,median,rate,cv,min..max,verified\n"));
        assert_eq!(t.lines().count(), r.kernels.len() + 1);
    }
}
