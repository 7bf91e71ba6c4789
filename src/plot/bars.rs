//! `compare --chart`: the achieved FLOP/s of every op in runs 2, 3, ... as
//! a ratio to run 1, one horizontal bar per op and run, ops grouped by
//! series (in plan order), a line at 1.0, the runs named as in the roofline
//! legend. Ratios are plotted on a log scale, so 2x faster and 2x slower are
//! the same length. SVG bars carry a tooltip.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::tooltips::Hotspot;
use super::{
    add_tooltips, kind, plot_err, register_font, run_name, Kind, Scale, FAMILY, RUN_COLORS,
};
use crate::error::{Error, Result};
use crate::report;
use crate::results::ResultsFile;

/// One op's bars: its label, and the ratio of each later run to the first
/// (`None` where the op is missing or unverified in either).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Series and phase, op, dtype and shape.
    pub label: String,
    /// Whether a new series (and phase) starts here.
    pub group: Option<String>,
    /// Ratios of runs 2.. to run 1.
    pub ratios: Vec<Option<f64>>,
}

/// The rows of the chart: every verified point of the first run that a
/// later run also has, in plan order, with the ratio of each later run's
/// verified point to it; and how many of the first run's verified points no
/// later run has (those are left out: GL has no f16, for example).
pub fn rows(runs: &[ResultsFile]) -> (Vec<Row>, usize) {
    let Some(first) = runs.first() else {
        return (Vec::new(), 0);
    };
    let mut out = Vec::new();
    let mut unmatched = 0;
    let mut last_group = String::new();
    for p in first.points.iter().filter(|p| p.verified) {
        let ratios: Vec<Option<f64>> = runs[1..]
            .iter()
            .map(|r| {
                r.point(&p.op)
                    .filter(|q| q.verified)
                    .map(|q| q.flops_per_s / p.flops_per_s)
            })
            .collect();
        if ratios.iter().all(Option::is_none) {
            unmatched += 1;
            continue;
        }
        let group = format!("{} {}", p.op.series.name(), p.op.phase.name());
        out.push(Row {
            label: format!(
                "{} {} {} S/L={} B={}",
                p.op.op,
                p.op.format().name(),
                report::shape(p),
                p.op.seq_len,
                p.op.seqs
            ),
            group: (group != last_group).then(|| group.clone()),
            ratios,
        });
        last_group = group;
    }
    (out, unmatched)
}

/// Draw the ratios of `runs` (at least two) into `path` (.png or .svg).
pub fn draw(runs: &[ResultsFile], size: (u32, u32), path: &Path) -> Result<()> {
    if runs.len() < 2 {
        return Err(Error::Invalid(
            "a comparison chart needs at least two runs".into(),
        ));
    }
    let (rows, unmatched) = rows(runs);
    if rows.is_empty() {
        return Err(Error::Invalid(
            "no verified point of the first run is in a later run: nothing to compare".into(),
        ));
    }
    register_font();
    // Tall enough for every bar to be read.
    let per_row = 6 + 8 * (runs.len() as u32 - 1);
    let groups = rows.iter().filter(|r| r.group.is_some()).count() as u32;
    let height = size.1.max(120 + per_row * rows.len() as u32 + 20 * groups);
    let size = (size.0, height);
    match kind(path)? {
        Kind::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            chart(&root, runs, &rows, unmatched, size)?;
            root.present().map_err(plot_err)
        }
        Kind::Svg => {
            let spots = {
                let root = SVGBackend::new(path, size).into_drawing_area();
                let spots = chart(&root, runs, &rows, unmatched, size)?;
                root.present().map_err(plot_err)?;
                spots
            };
            add_tooltips(path, &spots)
        }
    }
}

fn chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[ResultsFile],
    rows: &[Row],
    unmatched: usize,
    size: (u32, u32),
) -> Result<Vec<Hotspot>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let sc = Scale::of((size.0, 800));
    let ratios = rows.iter().flat_map(|r| r.ratios.iter().flatten().copied());
    let (lo, hi) = ratios.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.min(0.5) / 1.2, hi.max(2.0) * 1.2);
    // Slots from the top: a group heading takes one, each op one.
    let mut slots = Vec::new();
    for r in rows {
        if let Some(g) = &r.group {
            slots.push((Some(g.clone()), None));
        }
        slots.push((None, Some(r)));
    }
    let n = slots.len() as f64;
    let label_w = (size.0 as f64 * 0.38) as u32;
    let names: Vec<String> = runs.iter().map(run_name).collect();
    let caption = format!("Achieved FLOP/s relative to [1] {}", names[0]);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FAMILY, sc.title))
        .margin(sc.text)
        .x_label_area_size(sc.text * 3)
        .y_label_area_size(label_w)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc(if unmatched == 0 {
            "ratio to run [1] (log scale; right of 1 is faster)".to_string()
        } else {
            format!(
                "ratio to run [1] (log scale; right of 1 is faster); {unmatched} ops of [1] no later run has are left out"
            )
        })
        .x_label_formatter(&|v| format!("{v:.2}"))
        .label_style((FAMILY, sc.small))
        .axis_desc_style((FAMILY, sc.text))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(plot_err)?;
    let font = |bold: bool| {
        let f = (FAMILY, sc.small).into_font();
        if bold {
            f.style(FontStyle::Bold)
        } else {
            f
        }
    };
    let later = runs.len() - 1;
    let mut spots = Vec::new();
    for (i, (heading, row)) in slots.iter().enumerate() {
        // Slot i spans [n - i - 1, n - i) on the y axis, from the top.
        let top = n - i as f64;
        let (_, y) = chart.backend_coord(&(lo, top - 0.5));
        if let Some(g) = heading {
            root.draw(&Text::new(
                g.clone(),
                (8, y - sc.small as i32 / 2),
                font(true),
            ))
            .map_err(plot_err)?;
            continue;
        }
        let Some(row) = row else { continue };
        root.draw(&Text::new(
            row.label.clone(),
            (20, y - sc.small as i32 / 2),
            font(false),
        ))
        .map_err(plot_err)?;
        for (j, ratio) in row.ratios.iter().enumerate() {
            let Some(v) = *ratio else { continue };
            let h = 0.8 / later as f64;
            let y1 = top - 0.1 - h * j as f64;
            let y0 = y1 - h;
            let color = RUN_COLORS[(j + 1) % RUN_COLORS.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(1.0, y0), (v, y1)],
                    color.filled(),
                )))
                .map_err(plot_err)?;
            let (bx, by) = chart.backend_coord(&(v, (y0 + y1) / 2.0));
            spots.push(Hotspot {
                x: bx,
                y: by,
                r: 6,
                title: format!(
                    "{}\n[{}] {} / [1] {}: {v:.2}",
                    row.label,
                    j + 2,
                    names[j + 1],
                    names[0]
                ),
            });
        }
    }
    chart
        .draw_series(LineSeries::new(
            vec![(1.0, 0.0), (1.0, n)],
            BLACK.stroke_width(2),
        ))
        .map_err(plot_err)?;
    // The runs, as in the roofline legend.
    let (w, _) = root.dim_in_pixel();
    for (j, name) in names.iter().enumerate().skip(1) {
        let y = sc.title as i32 + 12 + (j as i32 - 1) * (sc.small as i32 + 6);
        let color = RUN_COLORS[j % RUN_COLORS.len()];
        let x = w as i32 - 360;
        root.draw(&Rectangle::new(
            [(x, y), (x + 18, y + sc.small as i32)],
            color.filled(),
        ))
        .map_err(plot_err)?;
        root.draw(&Text::new(
            format!("[{}] {name}", j + 1),
            (x + 24, y),
            font(false),
        ))
        .map_err(plot_err)?;
    }
    Ok(spots)
}
