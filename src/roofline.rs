//! The roofline model itself: spec ceilings of known GPUs (presets), the
//! roofs a run measured, the ridge point, and the performance attainable at
//! an intensity, `min(compute roof, intensity x memory roof)`. The charts
//! and the reports both read it from here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::{DType, RoofKind};

/// Published ceilings of a GPU: the "spec roof".
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Name on the command line.
    pub name: &'static str,
    /// Display name.
    pub label: &'static str,
    /// Memory bandwidth, bytes/s.
    pub bytes_per_s: f64,
    /// Peak arithmetic, FLOP/s.
    pub flops_per_s: f64,
}

impl Preset {
    /// The presets; sources are listed in the README.
    pub const ALL: [Preset; 4] = [
        Preset {
            name: "a6000",
            label: "RTX A6000",
            bytes_per_s: 768e9,
            flops_per_s: 181e12,
        },
        Preset {
            name: "a100",
            label: "A100 SXM 80GB",
            bytes_per_s: 2039e9,
            flops_per_s: 312e12,
        },
        Preset {
            name: "h100",
            label: "H100 SXM",
            bytes_per_s: 3350e9,
            flops_per_s: 989e12,
        },
        Preset {
            name: "rtx4090",
            label: "RTX 4090",
            bytes_per_s: 1008e9,
            flops_per_s: 165.2e12,
        },
    ];

    /// A preset by name; `none` gives no spec roof.
    pub fn by_name(name: &str) -> Result<Option<Self>> {
        if name == "none" {
            return Ok(None);
        }
        Self::ALL
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.name).collect();
                Error::Invalid(format!(
                    "unknown preset `{name}`; known: {}, none",
                    names.join(", ")
                ))
            })
    }

    /// Intensity where the memory and compute roofs meet: flops / bandwidth.
    pub fn ridge(&self) -> f64 {
        self.flops_per_s / self.bytes_per_s
    }

    /// Attainable FLOP/s at `intensity` under these ceilings.
    pub fn attainable(&self, intensity: f64) -> f64 {
        self.flops_per_s.min(intensity * self.bytes_per_s)
    }
}

/// The roofs a run measured; only verified kernels count.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MeasuredCeilings {
    /// Best sustained bandwidth, bytes/s.
    pub memory_bytes_per_s: Option<f64>,
    /// The kernel that achieved it.
    pub memory_kernel: Option<String>,
    /// Best arithmetic throughput per dtype, FLOP/s.
    pub compute_flops_per_s: BTreeMap<DType, f64>,
    /// The kernel that achieved it, per dtype.
    pub compute_kernels: BTreeMap<DType, String>,
}

impl MeasuredCeilings {
    /// Take a verified roof kernel's rate into account: the best of each
    /// kind (and dtype, for compute) is the roof.
    pub fn offer(&mut self, roof: RoofKind, dtype: DType, rate: f64, kernel: &str) {
        match roof {
            RoofKind::Memory => {
                if self.memory_bytes_per_s.is_none_or(|m| rate > m) {
                    self.memory_bytes_per_s = Some(rate);
                    self.memory_kernel = Some(kernel.to_string());
                }
            }
            RoofKind::Compute => {
                if self
                    .compute_flops_per_s
                    .get(&dtype)
                    .is_none_or(|f| rate > *f)
                {
                    self.compute_flops_per_s.insert(dtype, rate);
                    self.compute_kernels.insert(dtype, kernel.to_string());
                }
            }
        }
    }

    /// Attainable FLOP/s at `intensity` under the measured roofs, with the
    /// compute roof of the precision the kernel computes in (`accumulate`:
    /// f16 inputs are multiplied and added in f32).
    pub fn attainable(&self, intensity: f64, accumulate: DType) -> Option<f64> {
        let compute = *self.compute_flops_per_s.get(&accumulate)?;
        let memory = self.memory_bytes_per_s?;
        Some(compute.min(intensity * memory))
    }

    /// The highest compute roof, any dtype.
    pub fn top(&self) -> Option<f64> {
        self.compute_flops_per_s.values().copied().reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a6000_ridge_by_hand() {
        let a = Preset::by_name("a6000").unwrap().unwrap();
        // 181e12 / 768e9 = 235.677...
        assert!((a.ridge() - 235.677_083).abs() < 1e-5, "{}", a.ridge());
        // Below the ridge the memory roof bounds: 10 FLOP/B * 768 GB/s.
        assert_eq!(a.attainable(10.0), 7.68e12);
        assert_eq!(a.attainable(1000.0), 181e12);
        assert!(Preset::by_name("none").unwrap().is_none());
        assert!(Preset::by_name("voodoo2")
            .unwrap_err()
            .to_string()
            .contains("unknown preset"));
    }

    #[test]
    fn the_best_verified_rate_is_the_roof() {
        let mut m = MeasuredCeilings::default();
        m.offer(RoofKind::Memory, DType::F32, 10.0, "stream.copy");
        m.offer(RoofKind::Memory, DType::F32, 12.0, "stream.add");
        m.offer(RoofKind::Memory, DType::F32, 11.0, "stream.dot");
        m.offer(RoofKind::Compute, DType::F32, 100.0, "peak.f32.c2");
        m.offer(RoofKind::Compute, DType::F16, 300.0, "peak.f16.c2");
        assert_eq!(m.memory_bytes_per_s, Some(12.0));
        assert_eq!(m.memory_kernel.as_deref(), Some("stream.add"));
        // At 2 FLOP/B: min(100, 2 * 12) = 24; f16 accumulation is judged
        // against the f16 roof.
        assert_eq!(m.attainable(2.0, DType::F32), Some(24.0));
        assert_eq!(m.attainable(100.0, DType::F16), Some(300.0));
        assert_eq!(m.top(), Some(300.0));
    }
}
