//! The chart's ceilings: the preset's spec roofs (dashed, in the seed
//! chart's colours) and each run's measured roofs (in the run's colour).
//! Measured compute roofs of nearly equal height are common (an H200's
//! SIMT f32 and f16 peaks differ by 1.5%, its two tensor-core peaks by
//! 0.2%), so each kind has its own stroke and each measured roof carries
//! its name and value at its right end, where no point lies; the labels are
//! stacked so that none covers another.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, Scale, FAMILY};
use crate::error::Result;
use crate::kernels::{DType, Engine};
use crate::roofline::{ComputeRoof, MeasuredCeilings, Preset};
use crate::units::tick_label;

/// The chart's coordinates: log-log, intensity by FLOP/s.
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

/// How a line is stroked: its width, and its dash and gap in pixels when
/// it is dashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stroke {
    pub width: u32,
    pub dash: Option<(u32, u32)>,
}

impl Stroke {
    const fn solid(width: u32) -> Self {
        Self { width, dash: None }
    }

    const fn dashed(width: u32, dash: u32, gap: u32) -> Self {
        Self {
            width,
            dash: Some((dash, gap)),
        }
    }
}

/// The spec roofs' stroke, and the spec ridge's.
pub(crate) const SPEC: Stroke = Stroke::dashed(2, 10, 6);
pub(crate) const SPEC_RIDGE: Stroke = Stroke::dashed(1, 10, 6);
/// The measured memory roof's stroke.
pub(crate) const MEMORY: Stroke = Stroke::solid(2);

pub(crate) const SPEC_MEMORY_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub(crate) const SPEC_COMPUTE_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub(crate) const SPEC_RIDGE_COLOR: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);

/// Stroke and name of a measured compute roof. The engine sets the width
/// (cooperative matrices thicker than SIMT) and the narrower type a short
/// dash (SIMT f16 against f32, a tensor-core f16 accumulator against f32),
/// so twins of nearly equal height stay apart.
fn roof_style(engine: Engine, input: DType, accumulate: DType) -> (Stroke, String) {
    match engine {
        Engine::Coop => {
            let stroke = match accumulate {
                DType::F32 => Stroke::solid(3),
                DType::F16 => Stroke::dashed(3, 5, 4),
            };
            let name = format!("coop-matrix {}->{}", input.name(), accumulate.name());
            (stroke, name)
        }
        Engine::Simt => {
            let stroke = match input {
                DType::F32 => Stroke::solid(2),
                DType::F16 => Stroke::dashed(2, 5, 4),
            };
            (stroke, format!("SIMT {}", input.name()))
        }
    }
}

/// Where a memory slope of `bw` bytes/s enters a chart whose axes start at
/// `x0` and `y0`: the left edge, or the x axis where the slope is below
/// `y0` there. Lines must start inside the chart, since the backend moves a
/// point outside it onto the edge and would bend the slope.
fn entry(bw: f64, x0: f64, y0: f64) -> f64 {
    x0.max(y0 / bw)
}

/// The name and value of a memory roof of `bw` bytes/s, in the legend and
/// on the chart.
pub(crate) fn memory_text(bw: f64) -> String {
    format!("memory {}B/s", tick_label(bw))
}

/// Stroke, and name and value, of a measured compute roof, in the legend
/// and on the chart.
pub(crate) fn compute_roof(roof: &ComputeRoof) -> (Stroke, String) {
    let (stroke, name) = roof_style(roof.key.engine, roof.key.input, roof.key.accumulate);
    (
        stroke,
        format!("{name} {}FLOP/s", tick_label(roof.flops_per_s)),
    )
}

/// A straight line from `a` to `b` (data coordinates) in `stroke`.
fn line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    a: (f64, f64),
    b: (f64, f64),
    color: RGBColor,
    stroke: Stroke,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = color.stroke_width(stroke.width);
    match stroke.dash {
        None => chart.draw_series(LineSeries::new([a, b], style)),
        Some((dash, gap)) => chart.draw_series(DashedLineSeries::new([a, b], dash, gap, style)),
    }
    .map(drop)
    .map_err(plot_err)
}

/// The spec's memory slope up to its ridge, its compute roof from the ridge
/// to the right edge, and the ridge down to the x axis.
pub(crate) fn draw_spec<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    spec: &Preset,
    (x0, x1): (f64, f64),
    y0: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ridge = spec.ridge();
    let peak = spec.flops_per_s;
    let start = entry(spec.bytes_per_s, x0, y0);
    line(
        chart,
        (start, start * spec.bytes_per_s),
        (ridge, peak),
        SPEC_MEMORY_COLOR,
        SPEC,
    )?;
    line(chart, (ridge, peak), (x1, peak), SPEC_COMPUTE_COLOR, SPEC)?;
    line(
        chart,
        (ridge, y0),
        (ridge, peak),
        SPEC_RIDGE_COLOR,
        SPEC_RIDGE,
    )
}

/// A measured roof's name and value, in its run's colour.
pub(crate) struct Label {
    pub text: String,
    pub color: RGBColor,
}

/// A compute roof's label and the right end of its line, in pixels (the
/// memory slopes' labels share one anchor, [`slope_anchor`]).
pub(crate) struct RoofLabel {
    pub at: (i32, i32),
    pub label: Label,
}

/// One run's measured roofs: the memory slope up to the highest compute
/// roof, and each compute roof from where it meets the slope to the right
/// edge. Returns the labels of the compute roofs and of the memory slope.
pub(crate) fn draw_measured<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    m: &MeasuredCeilings,
    color: RGBColor,
    (x0, x1): (f64, f64),
    y0: f64,
) -> Result<(Vec<RoofLabel>, Option<Label>)>
where
    DB::ErrorType: 'static,
{
    let mut memory = None;
    if let Some(bw) = m.memory_bytes_per_s {
        let top = m.top().unwrap_or(0.0).max(y0);
        let start = entry(bw, x0, y0);
        line(chart, (start, start * bw), (top / bw, top), color, MEMORY)?;
        memory = Some(Label {
            text: memory_text(bw),
            color,
        });
    }
    let mut compute = Vec::new();
    for roof in &m.compute {
        let f = roof.flops_per_s;
        let start = m.memory_bytes_per_s.map_or(x0, |bw| (f / bw).max(x0));
        let (stroke, text) = compute_roof(roof);
        line(chart, (start, f), (x1, f), color, stroke)?;
        compute.push(RoofLabel {
            at: chart.backend_coord(&(x1, f)),
            label: Label { text, color },
        });
    }
    Ok((compute, memory))
}

/// Where the memory slopes' labels go, in pixels: on the uppermost of the
/// memory lines near the fastest measured slope (every run's, and the
/// spec's `spec_bw` when it is within 2x), halfway along the fastest
/// slope's visible part (from the chart's edge, `x0` or `y0`, to the
/// highest compute roof `top`). The labels sit above and left of it, on
/// the slopes' empty side, so no memory line crosses them.
pub(crate) fn slope_anchor<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    measured_bw: &[f64],
    spec_bw: Option<f64>,
    (x0, y0): (f64, f64),
    top: f64,
) -> Option<(i32, i32)> {
    let fastest = measured_bw.iter().copied().reduce(f64::max)?;
    let upper = spec_bw
        .filter(|s| *s <= 2.0 * fastest)
        .map_or(fastest, |s| s.max(fastest));
    let start = entry(fastest, x0, y0);
    let end = (top.max(y0) / fastest).max(start);
    let x = (start * end).sqrt();
    Some(chart.backend_coord(&(x, x * upper)))
}

/// Tops of text boxes `height` pixels tall for lines at pixel rows `ys`
/// (in any order), none overlapping another: each goes just above its line
/// where it fits, else just below it, else right under the box before it.
/// So two lines a pixel apart get one label above both and one below.
pub(crate) fn stack_labels(ys: &[i32], height: i32) -> Vec<i32> {
    const GAP: i32 = 2;
    let mut order: Vec<usize> = (0..ys.len()).collect();
    order.sort_by_key(|&i| ys[i]);
    let mut tops = vec![0; ys.len()];
    let mut free_from = i32::MIN;
    for i in order {
        let above = ys[i] - GAP - height;
        let below = ys[i] + GAP + 1;
        let top = if above >= free_from {
            above
        } else if below >= free_from {
            below
        } else {
            free_from
        };
        tops[i] = top;
        free_from = top + height + 1;
    }
    tops
}

/// Write the compute roofs' labels right-aligned at the right edge of the
/// plotting area `right`, stacked, and the memory slopes' labels above and
/// left of `anchor` (see [`slope_anchor`]), later runs' above earlier ones',
/// kept right of the plotting area's left edge `left`.
pub(crate) fn draw_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    compute: &[RoofLabel],
    memory: &[Label],
    anchor: Option<(i32, i32)>,
    (left, right): (i32, i32),
    sc: Scale,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let font = (FAMILY, sc.small).into_font();
    let height = sc.small as i32 + 2;
    let ys: Vec<i32> = compute.iter().map(|l| l.at.1).collect();
    for (RoofLabel { label, .. }, top) in compute.iter().zip(stack_labels(&ys, height)) {
        let style = font
            .color(&label.color)
            .pos(Pos::new(HPos::Right, VPos::Top));
        area.draw(&Text::new(label.text.clone(), (right - 4, top), style))
            .map_err(plot_err)?;
    }
    let Some((ax, ay)) = anchor else {
        return Ok(());
    };
    let gap = height / 2;
    for (i, label) in memory.iter().enumerate() {
        let (w, _) = area
            .estimate_text_size(&label.text, &font.clone().into())
            .map_err(plot_err)?;
        let x = (ax - gap).max(left + 4 + w as i32);
        let bottom = ay - gap - i as i32 * height;
        let style = font
            .color(&label.color)
            .pos(Pos::new(HPos::Right, VPos::Top));
        area.draw(&Text::new(label.text.clone(), (x, bottom - height), style))
            .map_err(plot_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_lines_far_apart_sit_just_above_them() {
        assert_eq!(stack_labels(&[100, 300], 14), vec![84, 284]);
    }

    #[test]
    fn labels_of_near_twins_go_above_and_below_both() {
        // An H200's SIMT f32 and f16 roofs, a pixel apart.
        assert_eq!(stack_labels(&[201, 200], 14), vec![204, 184]);
    }

    #[test]
    fn a_third_near_twin_goes_under_the_second_label() {
        let tops = stack_labels(&[200, 201, 202], 14);
        assert_eq!(tops, vec![184, 204, 219]);
        // No two boxes overlap.
        let mut sorted = tops.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[1] >= w[0] + 14));
    }

    #[test]
    fn each_kind_of_roof_has_its_own_stroke() {
        let kinds = [
            (Engine::Simt, DType::F32, DType::F32),
            (Engine::Simt, DType::F16, DType::F16),
            (Engine::Coop, DType::F16, DType::F32),
            (Engine::Coop, DType::F16, DType::F16),
        ];
        let strokes: Vec<Stroke> = kinds
            .iter()
            .map(|&(e, i, a)| roof_style(e, i, a).0)
            .collect();
        for (i, a) in strokes.iter().enumerate() {
            for b in &strokes[i + 1..] {
                assert_ne!(a, b);
            }
            assert_ne!(*a, SPEC);
        }
        assert_eq!(
            roof_style(Engine::Coop, DType::F16, DType::F32).1,
            "coop-matrix f16->f32"
        );
    }
}
