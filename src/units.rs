//! Units and number formatting, in one place: binary sizes, decimal SI
//! rates, seconds, and the chart's tick labels.

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

/// "1", "10", "1k", "10G", ...: the seed chart's tick labels.
pub fn tick_label(v: f64) -> String {
    const UNITS: [(f64, &str); 5] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, unit) in UNITS {
        if v >= scale {
            return format!("{}{unit}", trim(v / scale));
        }
    }
    trim(v)
}

/// Two decimals at most, trailing zeros dropped.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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
    fn tick_labels_match_the_seed_chart() {
        let got: Vec<_> = [1.0, 10.0, 100.0, 1e3, 1e4, 1e10, 1e11, 1e12, 1e13, 1e14]
            .iter()
            .map(|v| tick_label(*v))
            .collect();
        assert_eq!(
            got,
            ["1", "10", "100", "1k", "10k", "10G", "100G", "1T", "10T", "100T"]
        );
        assert_eq!(tick_label(768e9), "768G");
        assert_eq!(tick_label(0.5), "0.5");
    }
}
