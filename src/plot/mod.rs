//! Roofline charts: log-log FLOP/s against FLOP/byte, with spec ceilings
//! from a hardware preset, the measured roofs of each run (memory, SIMT and
//! cooperative-matrix compute), and one marker per verified point: a shape
//! per series and phase ([`markers`]), a fill per number format, a colour
//! per series (one run) or per run (an overlay). The legend sits beside the
//! data, never over it. SVG charts carry a tooltip per point
//! ([`tooltips`]). PNG or SVG by the output's extension; the font is
//! bundled, so no system font is needed. `compare --chart` draws the
//! ratios of runs as bars ([`bars`]).

pub mod bars;
mod ceilings;
pub mod markers;
pub mod tooltips;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::plan::{Phase, Series};
use crate::report;
use crate::results::ResultsFile;
use crate::roofline::Preset;
use crate::units::tick_label;
use ceilings::{Label, RoofLabel, Stroke};
use markers::{Fill, Shape};
use tooltips::Hotspot;

/// DejaVu Sans, under the Bitstream Vera license (`assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

/// What to draw besides the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Spec ceilings, if any.
    pub spec: Option<Preset>,
    /// Image size in pixels.
    pub size: (u32, u32),
    /// Name each point (op and shape) beside its marker.
    pub labels: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            spec: Preset::by_name("a6000").expect("built in"),
            size: (1200, 800),
            labels: false,
        }
    }
}

/// The chart's legend name of a series and phase.
pub fn legend_name(series: Series, phase: Phase) -> String {
    format!("{} {}", series.name(), phase.name())
}

/// matplotlib's default cycle, in the seed chart's order.
fn series_color(series: Series, phase: Phase) -> RGBColor {
    match (series, phase) {
        (Series::QkvMlp, Phase::Init) => RGBColor(0x1f, 0x77, 0xb4),
        (Series::QkvMlp, Phase::Ar) => RGBColor(0xff, 0x7f, 0x0e),
        (Series::UpGateDown, Phase::Init) => RGBColor(0x2c, 0xa0, 0x2c),
        (Series::UpGateDown, Phase::Ar) => RGBColor(0xd6, 0x27, 0x28),
        (Series::QkPv, Phase::Init) => RGBColor(0x94, 0x67, 0xbd),
        (Series::QkPv, Phase::Ar) => RGBColor(0x8c, 0x56, 0x4b),
        // Beyond the seed chart: the cycle's next colours.
        (Series::Softmax, Phase::Init) => RGBColor(0xe3, 0x77, 0xc2),
        (Series::Softmax, Phase::Ar) => RGBColor(0x7f, 0x7f, 0x7f),
        (Series::Attention, Phase::Init) => RGBColor(0xbc, 0xbd, 0x22),
        (Series::Attention, Phase::Ar) => RGBColor(0x17, 0xbe, 0xcf),
    }
}

/// Colours of the measured roofs of the first, second, ... run.
pub(crate) const RUN_COLORS: [RGBColor; 4] = [
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Short name of a run for the legend: adapter and backend.
pub(crate) fn run_name(r: &ResultsFile) -> String {
    report::run_label(r)
}

/// The chart title: `Roofline Model (<model>, <adapter> / <backend>)`.
pub fn title(runs: &[ResultsFile]) -> String {
    let model = runs
        .iter()
        .find_map(|r| r.workload.as_ref().map(|w| w.model.name.clone()))
        .unwrap_or_else(|| "roofs".into());
    let who = if runs.len() == 1 {
        run_name(&runs[0])
    } else {
        format!("{} runs", runs.len())
    };
    format!("Roofline Model ({model}, {who})")
}

fn decade_floor(v: f64) -> f64 {
    10f64.powf(v.log10().floor())
}

fn decade_ceil(v: f64) -> f64 {
    10f64.powf(v.log10().ceil())
}

/// Axis ranges that fit every valid point, every measured roof and the spec
/// roof, rounded out to whole decades.
fn ranges(runs: &[ResultsFile], opts: &PlotOptions) -> ((f64, f64), (f64, f64)) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for r in runs {
        for p in r.points.iter().filter(|p| p.verified) {
            xs.push(p.intensity);
            ys.push(p.flops_per_s);
        }
        let m = &r.ceilings.measured;
        for f in m.compute.iter().map(|r| r.flops_per_s) {
            ys.push(f);
            if let Some(bw) = m.memory_bytes_per_s {
                xs.push(f / bw);
            }
        }
    }
    if let Some(s) = &opts.spec {
        xs.push(s.ridge());
        ys.push(s.flops_per_s);
    }
    let min = |v: &[f64], d: f64| {
        v.iter()
            .copied()
            .filter(|x| *x > 0.0)
            .fold(f64::INFINITY, f64::min)
            .min(d)
    };
    let max = |v: &[f64], d: f64| v.iter().copied().fold(0.0, f64::max).max(d);
    let x0 = decade_floor(min(&xs, 1.0) / 2.0);
    let x1 = decade_ceil(max(&xs, 10.0) * 10.0);
    let y0 = decade_floor(min(&ys, f64::INFINITY) / 2.0);
    let y1 = decade_ceil(max(&ys, 1e9) * 2.0);
    ((x0, x1), (y0, y1))
}

pub(crate) fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("drawing the chart: {e}"))
}

/// Register the bundled font once.
pub(crate) fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled font is tested to parse; a failure would show as
        // missing text, not a crash.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// The output kind of `path`, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Png,
    Svg,
}

pub(crate) fn kind(path: &Path) -> Result<Kind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(Kind::Png),
        Some("svg") => Ok(Kind::Svg),
        _ => Err(Error::Invalid(format!(
            "{}: the chart file must end in .png or .svg",
            path.display()
        ))),
    }
}

/// Check that `path` names a chart format (.png or .svg) before any work.
pub fn check_extension(path: &Path) -> Result<()> {
    kind(path).map(drop)
}

/// Add `spots` to the SVG at `path`.
pub(crate) fn add_tooltips(path: &Path, spots: &[Hotspot]) -> Result<()> {
    let io = |reason| Error::Io {
        action: "cannot add tooltips to",
        path: path.to_path_buf(),
        reason,
    };
    let svg = std::fs::read_to_string(path).map_err(io)?;
    std::fs::write(path, tooltips::insert(&svg, spots)).map_err(io)
}

/// Draw `runs` into `path` (`.png` or `.svg`; SVG with a tooltip per point).
pub fn draw(runs: &[ResultsFile], opts: &PlotOptions, path: &Path) -> Result<()> {
    if runs.is_empty() {
        return Err(Error::Invalid("no results to plot".into()));
    }
    register_font();
    match kind(path)? {
        Kind::Png => {
            let root = BitMapBackend::new(path, opts.size).into_drawing_area();
            chart(&root, runs, opts)?;
            root.present().map_err(plot_err)
        }
        Kind::Svg => {
            let spots = {
                let root = SVGBackend::new(path, opts.size).into_drawing_area();
                let spots = chart(&root, runs, opts)?;
                root.present().map_err(plot_err)?;
                spots
            };
            add_tooltips(path, &spots)
        }
    }
}

/// Font sizes and marker radius for an image of `size`: the chart reads at
/// 1200 x 800 and at half that.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub title: u32,
    pub text: u32,
    pub small: u32,
    pub marker: i32,
}

impl Scale {
    pub(crate) fn of((w, h): (u32, u32)) -> Self {
        let s = (w as f64 / 1200.0).min(h as f64 / 800.0).clamp(0.45, 2.0);
        let px = |v: f64, min: f64| (v * s).max(min).round() as u32;
        Self {
            title: px(24.0, 12.0),
            text: px(15.0, 10.0),
            small: px(12.0, 9.0),
            marker: (6.0 * s).max(3.0).round() as i32,
        }
    }
}

/// One line of the legend panel.
enum Entry {
    /// A heading.
    Heading(String),
    /// A line sample: colour and stroke.
    Line(RGBColor, Stroke, String),
    /// A marker sample.
    Marker(Shape, Fill, RGBColor, String),
}

/// The legend entries of the spec ceilings, each run's measured roofs, the
/// series drawn and the number formats drawn.
fn legend(runs: &[ResultsFile], opts: &PlotOptions) -> Vec<Entry> {
    let mut out = Vec::new();
    if let Some(s) = &opts.spec {
        out.push(Entry::Heading(format!("spec: {}", s.label)));
        out.push(Entry::Line(
            ceilings::SPEC_MEMORY_COLOR,
            ceilings::SPEC,
            ceilings::memory_text(s.bytes_per_s),
        ));
        out.push(Entry::Line(
            ceilings::SPEC_COMPUTE_COLOR,
            ceilings::SPEC,
            format!("compute {}FLOP/s", tick_label(s.flops_per_s)),
        ));
        out.push(Entry::Line(
            ceilings::SPEC_RIDGE_COLOR,
            ceilings::SPEC_RIDGE,
            format!("ridge {:.1} FLOP/B", s.ridge()),
        ));
    }
    for (i, r) in runs.iter().enumerate() {
        let color = RUN_COLORS[i % RUN_COLORS.len()];
        out.push(Entry::Heading(if runs.len() > 1 {
            format!("measured: {}", run_name(r))
        } else {
            "measured".to_string()
        }));
        let m = &r.ceilings.measured;
        if let Some(bw) = m.memory_bytes_per_s {
            out.push(Entry::Line(
                color,
                ceilings::MEMORY,
                ceilings::memory_text(bw),
            ));
        }
        for roof in &m.compute {
            let (stroke, text) = ceilings::compute_roof(roof);
            out.push(Entry::Line(color, stroke, text));
        }
    }
    let drawn = |f: &dyn Fn(&crate::results::Point) -> bool| {
        runs.iter()
            .flat_map(|r| &r.points)
            .any(|p| p.verified && f(p))
    };
    let series: Vec<(Series, Phase)> = Series::ALL
        .into_iter()
        .flat_map(|s| [(s, Phase::Init), (s, Phase::Ar)])
        .filter(|&(s, ph)| drawn(&|p| p.op.series == s && p.op.phase == ph))
        .collect();
    if !series.is_empty() {
        out.push(Entry::Heading("series (shape)".into()));
        for (s, ph) in series {
            let color = if runs.len() == 1 {
                series_color(s, ph)
            } else {
                INK
            };
            out.push(Entry::Marker(
                markers::shape(s, ph),
                Fill::Solid,
                color,
                legend_name(s, ph),
            ));
        }
    }
    let formats: Vec<crate::dtype::Format> = crate::dtype::Format::ALL
        .into_iter()
        .filter(|&f| drawn(&|p| p.op.format() == f))
        .collect();
    if !formats.is_empty() {
        out.push(Entry::Heading("weights (fill)".into()));
        for f in formats {
            let fill = Fill::of(f);
            out.push(Entry::Marker(
                Shape::Circle,
                fill,
                INK,
                format!("{} ({})", f.name(), fill.describe()),
            ));
        }
    }
    out
}

const INK: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// Draw the legend panel into `area`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    sc: Scale,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let line = (sc.small as i32 * 3) / 2 + 2;
    let needed = entries.len() as i32 * line + 8;
    // Too many entries for the height: a smaller font and line.
    let (font, line) = if needed > h as i32 {
        let f = ((sc.small as i32 * h as i32) / needed).max(7);
        (f as u32, (f * 3) / 2 + 1)
    } else {
        (sc.small, line)
    };
    let text = |s: &str, x: i32, y: i32, bold: bool| {
        let style = (FAMILY, font).into_font();
        let style = if bold {
            style.style(FontStyle::Bold)
        } else {
            style
        };
        area.draw(&Text::new(s.to_string(), (x, y), style.color(&BLACK)))
            .map_err(plot_err)
    };
    let mut y = 8;
    let sample = 26;
    for e in entries {
        let mid = y + font as i32 / 2;
        match e {
            Entry::Heading(t) => text(t, 4, y, true)?,
            Entry::Line(c, stroke, t) => {
                let style = c.stroke_width(stroke.width);
                // The sample in the line's own dash and gap.
                let (dash, gap) = stroke.dash.unwrap_or((sample as u32, 0));
                let step = (dash + gap).max(1) as usize;
                for x in (8..8 + sample).step_by(step) {
                    let end = (x + dash as i32).min(8 + sample);
                    area.draw(&PathElement::new(vec![(x, mid), (end, mid)], style))
                        .map_err(plot_err)?;
                }
                text(t, 14 + sample, y, false)?;
            }
            Entry::Marker(shape, fill, c, t) => {
                let r = (font as i32 / 2).max(3);
                area.draw(&markers::marker(
                    (8 + sample / 2, mid),
                    *shape,
                    *fill,
                    *c,
                    r,
                ))
                .map_err(plot_err)?;
                text(t, 14 + sample, y, false)?;
            }
        }
        y += line;
        if y > h as i32 || w < 40 {
            break;
        }
    }
    Ok(())
}

/// Draw the chart into `root`; returns where each point went (with its
/// tooltip) for SVG output.
fn chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[ResultsFile],
    opts: &PlotOptions,
) -> Result<Vec<Hotspot>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let sc = Scale::of(opts.size);
    let ((x0, x1), (y0, y1)) = ranges(runs, opts);
    // The legend takes a column on the right, outside the data.
    let legend_w = ((opts.size.0 as f64) * 0.27).clamp(150.0, 420.0) as u32;
    let (plot_area, legend_area) = root.split_horizontally(opts.size.0.saturating_sub(legend_w));
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title(runs), (FAMILY, sc.title))
        .margin(sc.text / 2 + 4)
        .x_label_area_size(sc.text * 3)
        .y_label_area_size(sc.text * 4)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("Operational Intensity (FLOP/Byte)")
        .y_desc("Performance (FLOP/s)")
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style((FAMILY, sc.small))
        .axis_desc_style((FAMILY, sc.text))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .bold_line_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
        .map_err(plot_err)?;

    if let Some(s) = &opts.spec {
        ceilings::draw_spec(&mut chart, s, (x0, x1), y0)?;
    }

    let mut spots = Vec::new();
    let (mut roof_labels, mut slope_labels) = (Vec::<RoofLabel>::new(), Vec::<Label>::new());
    for (i, r) in runs.iter().enumerate() {
        let color = RUN_COLORS[i % RUN_COLORS.len()];
        let m = &r.ceilings.measured;
        let (compute, memory) = ceilings::draw_measured(&mut chart, m, color, (x0, x1), y0)?;
        roof_labels.extend(compute);
        slope_labels.extend(memory);
        let run = (runs.len() > 1).then(|| run_name(r));
        for p in r.points.iter().filter(|p| p.verified) {
            let (series, phase) = (p.op.series, p.op.phase);
            let c = if runs.len() == 1 {
                series_color(series, phase)
            } else {
                color
            };
            let at = (p.intensity, p.flops_per_s);
            let shape = markers::shape(series, phase);
            let fill = Fill::of(p.op.format());
            chart
                .draw_series(std::iter::once(markers::marker(
                    at, shape, fill, c, sc.marker,
                )))
                .map_err(plot_err)?;
            if opts.labels {
                let label = format!("{} {}", p.op.op, report::shape(p));
                let font = (FAMILY, sc.small).into_font().color(&INK);
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(at)
                            + Text::new(label, (sc.marker + 3, -(sc.small as i32) / 2), font),
                    ))
                    .map_err(plot_err)?;
            }
            let (x, y) = chart.backend_coord(&at);
            spots.push(Hotspot {
                x,
                y,
                r: sc.marker + 2,
                title: tooltips::title(p, m, run.as_deref()),
            });
        }
    }
    let (xs, _) = chart.plotting_area().get_pixel_range();
    let measured = || runs.iter().map(|r| &r.ceilings.measured);
    let slopes: Vec<f64> = measured().filter_map(|m| m.memory_bytes_per_s).collect();
    let top = measured().filter_map(|m| m.top()).fold(y0, f64::max);
    let spec_bw = opts.spec.as_ref().map(|s| s.bytes_per_s);
    let anchor = ceilings::slope_anchor(&chart, &slopes, spec_bw, (x0, y0), top);
    ceilings::draw_labels(
        &plot_area,
        &roof_labels,
        &slope_labels,
        anchor,
        (xs.start, xs.end),
        sc,
    )?;
    draw_legend(&legend_area, &legend(runs, opts), sc)?;
    Ok(spots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_a_legend_name() {
        for series in Series::ALL {
            assert!(legend_name(series, Phase::Init).ends_with(" init"));
        }
    }
}
