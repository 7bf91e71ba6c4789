//! SVG tooltips: each point of a chart gets an invisible hotspot carrying a
//! `<title>`, which browsers show on hover: series, op, shape, dtype, kernel
//! configuration, median time, FLOP/s, bytes/s and % of the attainable
//! roof. The backend cannot write titles, so they are added to the file
//! after it is drawn.

use crate::report;
use crate::results::Point;
use crate::roofline::MeasuredCeilings;
use crate::units::{seconds, si};

/// Where a point was drawn, in pixels, and what its tooltip says.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspot {
    /// Centre, pixels from the left.
    pub x: i32,
    /// Centre, pixels from the top.
    pub y: i32,
    /// Radius of the hover area.
    pub r: i32,
    /// The tooltip, one fact per line.
    pub title: String,
}

/// The tooltip of a point measured under `roofs`, `run` naming its run in
/// an overlay.
pub fn title(p: &Point, roofs: &MeasuredCeilings, run: Option<&str>) -> String {
    let mut lines = Vec::new();
    if let Some(run) = run {
        lines.push(run.to_string());
    }
    lines.push(format!(
        "{} {}: {} {}",
        p.op.series.name(),
        p.op.phase.name(),
        p.op.op,
        report::shape(p)
    ));
    let dtype = match p.op.format() {
        crate::dtype::Format::Float(d) => d.name().to_string(),
        crate::dtype::Format::Quant(q) => {
            format!("{} weights, {} activations", q.name(), p.op.dtype.name())
        }
    };
    lines.push(format!(
        "{dtype}, B={} {}={}",
        p.op.seqs,
        match p.op.phase {
            crate::plan::Phase::Init => "S",
            crate::plan::Phase::Ar => "L",
        },
        p.op.seq_len
    ));
    lines.push(format!("kernel: {} ({})", p.kernel, p.engine.name()));
    lines.push(format!(
        "median {}: {}, {}",
        seconds(p.median_s),
        si(p.flops_per_s, "FLOP/s"),
        si(p.bytes_per_s, "B/s")
    ));
    lines.push(match p.attainable(roofs) {
        Some(a) => format!(
            "{:.1}% of the attainable {} at {:.2} FLOP/B",
            100.0 * p.flops_per_s / a,
            si(a, "FLOP/s"),
            p.intensity
        ),
        None => format!(
            "{:.2} FLOP/B (no measured roof for its engine)",
            p.intensity
        ),
    });
    lines.join("\n")
}

/// XML text: `&`, `<`, `>` and quotes escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `svg` with a transparent circle per hotspot, holding its `<title>`,
/// added last (on top, so it receives the pointer).
pub fn insert(svg: &str, spots: &[Hotspot]) -> String {
    let Some(end) = svg.rfind("</svg>") else {
        return svg.to_string();
    };
    let mut out = String::with_capacity(svg.len() + spots.len() * 200);
    out.push_str(&svg[..end]);
    out.push_str("<g class=\"tooltips\">\n");
    for s in spots {
        out.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#000000\" fill-opacity=\"0\"><title>{}</title></circle>\n",
            s.x,
            s.y,
            s.r,
            escape(&s.title)
        ));
    }
    out.push_str("</g>\n");
    out.push_str(&svg[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotspots_go_before_the_end_escaped() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n";
        let spots = [Hotspot {
            x: 3,
            y: 4,
            r: 7,
            title: "qk/pv ar: 4 < 5 & \"x\"".into(),
        }];
        let out = insert(svg, &spots);
        assert!(out.starts_with("<svg xmlns"));
        assert!(out.trim_end().ends_with("</svg>"));
        assert!(out.contains(
            "<circle cx=\"3\" cy=\"4\" r=\"7\" fill=\"#000000\" fill-opacity=\"0\"><title>qk/pv ar: 4 &lt; 5 &amp; &quot;x&quot;</title></circle>"
        ));
    }
}
