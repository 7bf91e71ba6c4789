//! Runs side by side (`compare`) and one run against its roofs (`report`).

use super::table::{Cell, Table};
use super::{kernel_cells, shape_cells, SHAPE_HEADER};
use crate::results::ResultsFile;
use crate::roofline::Preset;

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
        let mut row = shape_cells(p);
        let base = p.verified.then_some(p.flops_per_s);
        for (i, r) in runs.iter().enumerate() {
            let q = r.point(&p.op);
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
/// the spec roof and against the measured roof.
pub fn report_table(r: &ResultsFile, spec: Option<&Preset>) -> Table {
    let header: Vec<&str> = SHAPE_HEADER
        .iter()
        .copied()
        .chain([
            "FLOP/B",
            "FLOP/s",
            "bytes/s",
            "of spec roof",
            "of measured roof",
            "kernel",
            "verified",
        ])
        .collect();
    let mut t = Table::new(&header);
    let m = &r.ceilings.measured;
    t.rows = r
        .points
        .iter()
        .map(|p| {
            let spec_eff = spec.map(|s| p.flops_per_s / s.attainable(p.intensity));
            let meas_eff = p.attainable(m).map(|a| p.flops_per_s / a);
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
    t
}
