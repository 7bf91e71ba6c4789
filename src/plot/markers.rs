//! Point markers: a shape per series and phase (the same in single-run
//! charts and overlays), and a fill per number format, so every series and
//! format can be told apart in the chart and in the legend.

use plotters::element::{Drawable, PointCollection};
use plotters::prelude::DrawingBackend;
use plotters::style::{Color, RGBColor};
use plotters_backend::{BackendCoord, DrawingErrorKind};

use crate::dtype::{DType, Format, Quant};
use crate::plan::{Phase, Series};

/// Marker outlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A circle.
    Circle,
    /// An axis-aligned square.
    Square,
    /// A square on its corner.
    Diamond,
    /// A triangle pointing up.
    TriangleUp,
    /// A triangle pointing down.
    TriangleDown,
    /// A triangle pointing left.
    TriangleLeft,
    /// A triangle pointing right.
    TriangleRight,
    /// A regular pentagon.
    Pentagon,
    /// A regular hexagon.
    Hexagon,
    /// A five-pointed star.
    Star,
}

/// The marker of a series in a phase: ten distinct shapes.
pub fn shape(series: Series, phase: Phase) -> Shape {
    match (series, phase) {
        (Series::QkvMlp, Phase::Init) => Shape::Circle,
        (Series::QkvMlp, Phase::Ar) => Shape::Square,
        (Series::UpGateDown, Phase::Init) => Shape::Diamond,
        (Series::UpGateDown, Phase::Ar) => Shape::TriangleUp,
        (Series::QkPv, Phase::Init) => Shape::TriangleDown,
        (Series::QkPv, Phase::Ar) => Shape::TriangleLeft,
        (Series::Softmax, Phase::Init) => Shape::Pentagon,
        (Series::Softmax, Phase::Ar) => Shape::Hexagon,
        (Series::Attention, Phase::Init) => Shape::Star,
        (Series::Attention, Phase::Ar) => Shape::TriangleRight,
    }
}

/// How a marker is filled: by the number format of the point's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fill {
    /// f32: the outline only.
    Hollow,
    /// f16: filled.
    Solid,
    /// q8_0: the outline with a dot inside.
    Dot,
    /// q4_0: the outline with a cross inside.
    Cross,
}

impl Fill {
    /// The fill of a number format.
    pub fn of(format: Format) -> Self {
        match format {
            Format::Float(DType::F32) => Self::Hollow,
            Format::Float(DType::F16) => Self::Solid,
            Format::Quant(Quant::Q8_0) => Self::Dot,
            Format::Quant(Quant::Q4_0) => Self::Cross,
        }
    }

    /// What the legend says of it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Hollow => "hollow",
            Self::Solid => "filled",
            Self::Dot => "dot",
            Self::Cross => "cross",
        }
    }
}

/// The outline of `shape` with radius `r`, in pixels around (0, 0), y down.
pub fn vertices(shape: Shape, r: i32) -> Vec<(i32, i32)> {
    let rf = r as f64;
    let polygon = |n: usize, start_deg: f64, radius: f64| -> Vec<(i32, i32)> {
        (0..n)
            .map(|i| {
                let a = (start_deg + 360.0 * i as f64 / n as f64).to_radians();
                (
                    (radius * a.cos()).round() as i32,
                    (-radius * a.sin()).round() as i32,
                )
            })
            .collect()
    };
    match shape {
        Shape::Circle => polygon(16, 0.0, rf),
        Shape::Square => {
            let s = (rf * 0.85).round() as i32;
            vec![(-s, -s), (s, -s), (s, s), (-s, s)]
        }
        Shape::Diamond => polygon(4, 90.0, rf * 1.15),
        Shape::TriangleUp => polygon(3, 90.0, rf * 1.15),
        Shape::TriangleDown => polygon(3, 270.0, rf * 1.15),
        Shape::TriangleLeft => polygon(3, 180.0, rf * 1.15),
        Shape::TriangleRight => polygon(3, 0.0, rf * 1.15),
        Shape::Pentagon => polygon(5, 90.0, rf * 1.05),
        Shape::Hexagon => polygon(6, 0.0, rf * 1.05),
        Shape::Star => (0..10)
            .map(|i| {
                let a = (90.0 + 36.0 * i as f64).to_radians();
                let radius = if i % 2 == 0 { rf * 1.3 } else { rf * 0.55 };
                (
                    (radius * a.cos()).round() as i32,
                    (-radius * a.sin()).round() as i32,
                )
            })
            .collect(),
    }
}

/// A marker as one drawable element at a point of the chart: the body
/// (filled for f16, else left open), the outline, and the inner dot (q8_0)
/// or cross (q4_0).
#[derive(Debug, Clone)]
pub struct Marker<C> {
    at: C,
    shape: Shape,
    fill: Fill,
    color: RGBColor,
    r: i32,
}

/// The marker of `shape` and `fill` in `color`, radius `r`, at `at`.
pub fn marker<C>(at: C, shape: Shape, fill: Fill, color: RGBColor, r: i32) -> Marker<C> {
    Marker {
        at,
        shape,
        fill,
        color,
        r,
    }
}

impl<'a, C> PointCollection<'a, C> for &'a Marker<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Marker<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else {
            return Ok(());
        };
        let at = |v: &[(i32, i32)]| {
            v.iter()
                .map(|&(dx, dy)| (x + dx, y + dy))
                .collect::<Vec<_>>()
        };
        let outline = at(&vertices(self.shape, self.r));
        let line = self.color.stroke_width(2);
        if self.fill == Fill::Solid {
            backend.fill_polygon(outline.clone(), &self.color.filled())?;
        }
        let mut closed = outline.clone();
        closed.push(outline[0]);
        backend.draw_path(closed, &line)?;
        match self.fill {
            Fill::Dot => {
                let d = (self.r / 3).max(1);
                backend.fill_polygon(
                    at(&[(-d, -d), (d, -d), (d, d), (-d, d)]),
                    &self.color.filled(),
                )?;
            }
            Fill::Cross => {
                let c = (self.r / 2).max(2);
                backend.draw_path(at(&[(-c, -c), (c, c)]), &line)?;
                backend.draw_path(at(&[(c, -c), (-c, c)]), &line)?;
            }
            Fill::Hollow | Fill::Solid => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_series_and_phase_has_its_own_marker() {
        let mut seen = HashSet::new();
        for series in Series::ALL {
            for phase in [Phase::Init, Phase::Ar] {
                assert!(seen.insert(shape(series, phase)), "{series:?} {phase:?}");
            }
        }
        // The outlines differ too, not just the names.
        let outlines: HashSet<Vec<(i32, i32)>> = seen.iter().map(|&s| vertices(s, 6)).collect();
        assert_eq!(outlines.len(), seen.len());
    }

    #[test]
    fn every_number_format_has_its_own_fill() {
        let fills: HashSet<Fill> = Format::ALL.iter().map(|&f| Fill::of(f)).collect();
        assert_eq!(fills.len(), Format::ALL.len());
    }
}
