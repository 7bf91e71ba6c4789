//! The roofline model itself: spec ceilings of known GPUs (presets), the
//! roofs a run measured, the ridge point, and the performance attainable at
//! an intensity, `min(compute roof, intensity x memory roof)`. The charts
//! and the reports both read it from here.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::{DType, Engine};

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
    pub const ALL: [Preset; 5] = [
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
            name: "h200",
            label: "H200 SXM",
            bytes_per_s: 4800e9,
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

/// What a compute roof is the roof of: the arithmetic units, the operand
/// type they multiply and the type they accumulate in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ComputeKey {
    /// SIMT lanes or cooperative matrices.
    pub engine: Engine,
    /// The operands' type as the units multiply them.
    pub input: DType,
    /// The accumulators' type.
    pub accumulate: DType,
}

impl ComputeKey {
    /// SIMT FMAs in `dtype` (operands and accumulators alike).
    pub fn simt(dtype: DType) -> Self {
        Self {
            engine: Engine::Simt,
            input: dtype,
            accumulate: dtype,
        }
    }

    /// Cooperative matrices of f16 operands accumulated in `accumulate`.
    pub fn coop(accumulate: DType) -> Self {
        Self {
            engine: Engine::Coop,
            input: DType::F16,
            accumulate,
        }
    }
}

impl std::fmt::Display for ComputeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.engine {
            Engine::Simt => write!(f, "simt {}", self.input.name()),
            Engine::Coop => write!(f, "coop {}->{}", self.input.name(), self.accumulate.name()),
        }
    }
}

/// One measured compute roof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeRoof {
    /// Which units and types.
    #[serde(flatten)]
    pub key: ComputeKey,
    /// Best sustained arithmetic, FLOP/s.
    pub flops_per_s: f64,
    /// The kernel that achieved it.
    pub kernel: String,
}

/// The roofs a run measured; only verified kernels count.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MeasuredCeilings {
    /// Best sustained bandwidth, bytes/s.
    pub memory_bytes_per_s: Option<f64>,
    /// The kernel that achieved it.
    pub memory_kernel: Option<String>,
    /// The compute roofs, one per (engine, input, accumulator), in key order.
    pub compute: Vec<ComputeRoof>,
}

impl MeasuredCeilings {
    /// Take a verified memory roof kernel's rate into account: the best is
    /// the roof.
    pub fn offer_memory(&mut self, rate: f64, kernel: &str) {
        if self.memory_bytes_per_s.is_none_or(|m| rate > m) {
            self.memory_bytes_per_s = Some(rate);
            self.memory_kernel = Some(kernel.to_string());
        }
    }

    /// Take a verified compute roof kernel's rate into account: the best
    /// per key is that key's roof.
    pub fn offer_compute(&mut self, key: ComputeKey, rate: f64, kernel: &str) {
        match self.compute.iter_mut().find(|r| r.key == key) {
            Some(r) if rate > r.flops_per_s => {
                r.flops_per_s = rate;
                r.kernel = kernel.to_string();
            }
            Some(_) => {}
            None => {
                self.compute.push(ComputeRoof {
                    key,
                    flops_per_s: rate,
                    kernel: kernel.to_string(),
                });
                self.compute.sort_by_key(|r| r.key);
            }
        }
    }

    /// The compute roof of `key`, if measured.
    pub fn compute_roof(&self, key: ComputeKey) -> Option<f64> {
        self.compute
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.flops_per_s)
    }

    /// Attainable FLOP/s at `intensity` for a kernel computing on `key`'s
    /// units: `min(that compute roof, intensity x memory roof)`.
    pub fn attainable(&self, intensity: f64, key: ComputeKey) -> Option<f64> {
        let compute = self.compute_roof(key)?;
        let memory = self.memory_bytes_per_s?;
        Some(compute.min(intensity * memory))
    }

    /// The roofs of one engine.
    pub fn of_engine(&self, engine: Engine) -> impl Iterator<Item = &ComputeRoof> {
        self.compute.iter().filter(move |r| r.key.engine == engine)
    }

    /// The highest compute roof, any engine and type.
    pub fn top(&self) -> Option<f64> {
        self.compute.iter().map(|r| r.flops_per_s).reduce(f64::max)
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
        m.offer_memory(10.0, "stream.copy");
        m.offer_memory(12.0, "stream.add");
        m.offer_memory(11.0, "stream.dot");
        m.offer_compute(ComputeKey::simt(DType::F32), 100.0, "peak.f32.c2");
        m.offer_compute(ComputeKey::simt(DType::F32), 90.0, "peak.f32.c4");
        m.offer_compute(ComputeKey::simt(DType::F16), 300.0, "peak.f16.c2");
        m.offer_compute(ComputeKey::coop(DType::F32), 2000.0, "peak.coop.f16.f32.c4");
        assert_eq!(m.memory_bytes_per_s, Some(12.0));
        assert_eq!(m.memory_kernel.as_deref(), Some("stream.add"));
        // At 2 FLOP/B: min(100, 2 * 12) = 24; each engine and type is judged
        // against its own roof.
        assert_eq!(m.attainable(2.0, ComputeKey::simt(DType::F32)), Some(24.0));
        assert_eq!(
            m.attainable(100.0, ComputeKey::simt(DType::F16)),
            Some(300.0)
        );
        assert_eq!(
            m.attainable(1e3, ComputeKey::coop(DType::F32)),
            Some(2000.0)
        );
        assert_eq!(m.attainable(1e3, ComputeKey::coop(DType::F16)), None);
        assert_eq!(m.compute.len(), 3);
        assert_eq!(m.compute[0].kernel, "peak.f32.c2");
        assert_eq!(m.of_engine(Engine::Coop).count(), 1);
        assert_eq!(m.top(), Some(2000.0));
        assert_eq!(ComputeKey::coop(DType::F32).to_string(), "coop f16->f32");
        assert_eq!(ComputeKey::simt(DType::F16).to_string(), "simt f16");
    }
}
