//! Roofline charts: log-log FLOP/s against FLOP/byte, with spec ceilings
//! from a hardware preset, the measured roofs of each run, and one marker per
//! verified point. PNG or SVG by the output's extension; the font is bundled,
//! so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::kernels::{DType, Engine};
use crate::plan::{Phase, Series};
use crate::results::ResultsFile;
use crate::roofline::Preset;
use crate::units::tick_label;

/// DejaVu Sans, under the Bitstream Vera license (`assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// What to draw besides the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Spec ceilings, if any.
    pub spec: Option<Preset>,
    /// Image size in pixels.
    pub size: (u32, u32),
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            spec: Preset::by_name("a6000").expect("built in"),
            size: (1200, 800),
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
const RUN_COLORS: [RGBColor; 4] = [
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Short name of a run for the legend: adapter and backend.
fn run_name(r: &ResultsFile) -> String {
    format!("{} / {}", r.adapter.name, r.adapter.backend)
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
    let y0 = decade_floor(min(&ys, f64::INFINITY) / 2.0).min(1e9);
    let y1 = decade_ceil(max(&ys, 1e9) * 2.0);
    ((x0, x1), (y0, y1))
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("drawing the chart: {e}"))
}

/// Draw `runs` into `path` (`.png` or `.svg`).
pub fn draw(runs: &[ResultsFile], opts: &PlotOptions, path: &Path) -> Result<()> {
    if runs.is_empty() {
        return Err(Error::Invalid("no results to plot".into()));
    }
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bundled font is tested to parse; a failure would show as
        // missing text, not a crash.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(path, opts.size).into_drawing_area();
            chart(&root, runs, opts)?;
            root.present().map_err(plot_err)
        }
        Some("svg") => {
            let root = SVGBackend::new(path, opts.size).into_drawing_area();
            chart(&root, runs, opts)?;
            root.present().map_err(plot_err)
        }
        _ => Err(Error::Invalid(format!(
            "{}: the plot file must end in .png or .svg",
            path.display()
        ))),
    }
}

fn chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[ResultsFile],
    opts: &PlotOptions,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    let ((x0, x1), (y0, y1)) = ranges(runs, opts);
    let mut chart = ChartBuilder::on(root)
        .caption(title(runs), (FAMILY, 26))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("Operational Intensity (FLOP/Byte)")
        .y_desc("Performance (FLOP/s)")
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .bold_line_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
        .map_err(plot_err)?;

    if let Some(s) = &opts.spec {
        let ridge = s.ridge();
        let blue = RGBColor(0x1f, 0x77, 0xb4).stroke_width(2);
        let red = RGBColor(0xd6, 0x27, 0x28).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, x0 * s.bytes_per_s), (ridge, s.flops_per_s)],
                10,
                6,
                blue,
            ))
            .map_err(plot_err)?
            .label(format!(
                "{} {}B/s (spec)",
                s.label,
                tick_label(s.bytes_per_s)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue));
        chart
            .draw_series(DashedLineSeries::new(
                vec![(ridge, s.flops_per_s), (x1, s.flops_per_s)],
                10,
                6,
                red,
            ))
            .map_err(plot_err)?
            .label(format!(
                "{} {}FLOP/s (spec)",
                s.label,
                tick_label(s.flops_per_s)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red));
        let green = RGBColor(0x2c, 0xa0, 0x2c).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(ridge, y0), (ridge, s.flops_per_s)],
                4,
                4,
                green,
            ))
            .map_err(plot_err)?
            .label(format!("ridge {ridge:.1} FLOP/B (spec)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], green));
    }

    for (i, r) in runs.iter().enumerate() {
        let color = RUN_COLORS[i % RUN_COLORS.len()];
        let m = &r.ceilings.measured;
        let name = if runs.len() > 1 {
            format!(" [{}]", run_name(r))
        } else {
            String::new()
        };
        if let Some(bw) = m.memory_bytes_per_s {
            let top = m.top().unwrap_or(0.0).max(y0);
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(vec![(x0, x0 * bw), (top / bw, top)], style))
                .map_err(plot_err)?
                .label(format!("measured {}B/s{name}", tick_label(bw)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        // The measured compute roofs: SIMT (f32 thick, f16 thin) and
        // cooperative matrices (thickest), each from its ridge on.
        for roof in &m.compute {
            let f = roof.flops_per_s;
            let start = m.memory_bytes_per_s.map_or(x0, |bw| f / bw);
            let width = match (roof.key.engine, roof.key.input) {
                (Engine::Coop, _) => 3,
                (Engine::Simt, DType::F32) => 2,
                (Engine::Simt, DType::F16) => 1,
            };
            let style = color.stroke_width(width);
            let kind = match roof.key.engine {
                Engine::Simt => format!("SIMT {}", roof.key.input.name()),
                Engine::Coop => format!(
                    "coop-matrix {}->{}",
                    roof.key.input.name(),
                    roof.key.accumulate.name()
                ),
            };
            chart
                .draw_series(LineSeries::new(vec![(start, f), (x1, f)], style))
                .map_err(plot_err)?
                .label(format!("measured {} {}FLOP/s{name}", kind, tick_label(f)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        for series in Series::ALL {
            for phase in [Phase::Init, Phase::Ar] {
                let pts: Vec<(f64, f64)> = r
                    .points
                    .iter()
                    .filter(|p| p.verified && p.op.series == series && p.op.phase == phase)
                    .map(|p| (p.intensity, p.flops_per_s))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                if runs.len() == 1 {
                    // One run: the seed chart's crosses, a colour per series;
                    // the softmax steps as rings and fused attention as dots,
                    // so the series beyond the seed chart stand out.
                    let c = series_color(series, phase);
                    let drawn = match series {
                        Series::Softmax => chart
                            .draw_series(
                                pts.into_iter()
                                    .map(move |p| Circle::new(p, 5, c.stroke_width(2))),
                            )
                            .map_err(plot_err)?
                            .legend(move |(x, y)| Circle::new((x + 10, y), 5, c.stroke_width(2))),
                        Series::Attention => chart
                            .draw_series(
                                pts.into_iter().map(move |p| Circle::new(p, 6, c.filled())),
                            )
                            .map_err(plot_err)?
                            .legend(move |(x, y)| Circle::new((x + 10, y), 6, c.filled())),
                        _ => chart
                            .draw_series(
                                pts.into_iter()
                                    .map(move |p| Cross::new(p, 5, c.stroke_width(2))),
                            )
                            .map_err(plot_err)?
                            .legend(move |(x, y)| Cross::new((x + 10, y), 5, c.stroke_width(2))),
                    };
                    drawn.label(legend_name(series, phase));
                } else {
                    // Several runs: a marker shape per series in the run's
                    // colour; the legend shows each shape once, in grey.
                    let ink = RGBColor(0x55, 0x55, 0x55);
                    let label = (i == 0).then(|| legend_name(series, phase));
                    macro_rules! markers {
                        ($shape:expr) => {{
                            let shape = $shape;
                            let drawn = chart
                                .draw_series(
                                    pts.iter().map(|&p| EmptyElement::at(p) + shape(color)),
                                )
                                .map_err(plot_err)?;
                            if let Some(label) = label {
                                drawn.label(label).legend(move |(x, y)| {
                                    EmptyElement::at((x + 10, y)) + shape(ink)
                                });
                            }
                        }};
                    }
                    match (series, phase) {
                        (Series::QkvMlp, Phase::Init) => {
                            markers!(|c: RGBColor| Cross::new((0, 0), 5, c.stroke_width(2)))
                        }
                        (Series::QkvMlp, Phase::Ar) => {
                            markers!(|c: RGBColor| Circle::new((0, 0), 5, c.stroke_width(2)))
                        }
                        (Series::UpGateDown, Phase::Init) => {
                            markers!(|c: RGBColor| TriangleMarker::new(
                                (0, 0),
                                6,
                                c.stroke_width(2)
                            ))
                        }
                        (Series::UpGateDown, Phase::Ar) => markers!(|c: RGBColor| {
                            Rectangle::new([(-4, -4), (4, 4)], c.stroke_width(2))
                        }),
                        (Series::QkPv, Phase::Init) => {
                            markers!(|c: RGBColor| Circle::new((0, 0), 4, c.filled()))
                        }
                        (Series::QkPv, Phase::Ar) => {
                            markers!(|c: RGBColor| TriangleMarker::new((0, 0), 6, c.filled()))
                        }
                        (Series::Softmax, Phase::Init) => markers!(|c: RGBColor| {
                            Rectangle::new([(-4, -4), (4, 4)], c.filled())
                        }),
                        (Series::Softmax, Phase::Ar) => {
                            markers!(|c: RGBColor| Circle::new((0, 0), 3, c.stroke_width(1)))
                        }
                        (Series::Attention, Phase::Init) => {
                            markers!(|c: RGBColor| Circle::new((0, 0), 7, c.filled()))
                        }
                        (Series::Attention, Phase::Ar) => {
                            markers!(|c: RGBColor| TriangleMarker::new(
                                (0, 0),
                                8,
                                c.stroke_width(1)
                            ))
                        }
                    }
                }
            }
        }
    }
    chart
        .configure_series_labels()
        .position(if runs.len() == 1 {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperLeft
        })
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xbb, 0xbb, 0xbb))
        .draw()
        .map_err(plot_err)?;
    Ok(())
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
