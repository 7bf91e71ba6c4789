//! The one table every listing goes through: text for the terminal,
//! Markdown for documents, CSV (raw numbers) for other tools.

use std::fmt::Write;

use crate::units::si;

/// Output formats of every table.
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
    /// A quantity shown as `human`, written raw as `raw` (e.g. bytes shown
    /// as "1.5 KiB", written as 1536).
    Shown {
        /// What people read.
        human: String,
        /// What tools read.
        raw: String,
    },
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
            Self::Shown { human, .. } => human.clone(),
            Self::Missing => "-".into(),
        }
    }

    fn raw(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Si(v, _) | Self::Percent(v) | Self::Num(v, _) => format!("{v}"),
            Self::Shown { raw, .. } => raw.clone(),
            Self::Missing => String::new(),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
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
    /// A table with these column names and no rows yet.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

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

/// Render rows as left-aligned columns separated by two spaces.
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
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
    let rules: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(rules.iter().map(String::as_str).collect(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = columns(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxxx  y\n");
    }

    #[test]
    fn every_format_renders_the_same_cells() {
        let mut t = Table::new(&["name", "rate", "share"]);
        t.rows.push(vec![
            "a|b".into(),
            Cell::Si(1.5e9, "B/s"),
            Cell::Percent(0.25),
        ]);
        assert_eq!(
            t.render(Format::Text),
            "name  rate       share\n----  ---------  -----\na|b   1.50 GB/s  25.0%\n"
        );
        assert!(t
            .render(Format::Markdown)
            .contains("| a\\|b | 1.50 GB/s | 25.0% |"));
        assert_eq!(
            t.render(Format::Csv),
            "name,rate,share\na|b,1500000000,0.25\n"
        );
    }
}
