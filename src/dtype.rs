//! Element types the kernels compute in, and the weight formats of the
//! linear layers (a float type, or one of llama.cpp's block-quantized
//! formats). No GPU here: the accounting of every kernel uses them.

use serde::{Deserialize, Serialize};

/// Element types the kernels run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (needs SHADER_F16).
    F16,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }

    /// Lowercase name, as in results files.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }

    /// Little-endian bytes of `v` in this type (rounded to nearest for f16).
    pub fn encode(self, v: f32) -> Vec<u8> {
        match self {
            Self::F32 => v.to_le_bytes().to_vec(),
            Self::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
        }
    }

    /// Elements of this type in little-endian `raw`, widened to f32.
    pub fn decode(self, raw: &[u8]) -> Vec<f32> {
        match self {
            Self::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(raw),
            Self::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        }
    }
}

/// llama.cpp's block-quantized weight formats: blocks of 32 weights along
/// k, each an f16 scale followed by the quantized values, byte for byte as
/// llama.cpp stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Quant {
    /// An f16 scale and 32 int8: 34 bytes per block.
    #[serde(rename = "q8_0")]
    Q8_0,
    /// An f16 scale and 32 4-bit values with offset 8, two per byte: 18
    /// bytes per block.
    #[serde(rename = "q4_0")]
    Q4_0,
}

impl Quant {
    /// Weights per block.
    pub const BLOCK: u64 = 32;

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        match self {
            Self::Q8_0 => 34,
            Self::Q4_0 => 18,
        }
    }

    /// Name, as llama.cpp and results files write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
        }
    }
}

/// The format of a linear layer's weights: a float type (the activations'
/// too) or a quantized format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Weights and activations in the same float type.
    Float(DType),
    /// Quantized weights; the activations' type is chosen separately.
    Quant(Quant),
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 4] = [
        Format::Float(DType::F32),
        Format::Float(DType::F16),
        Format::Quant(Quant::Q8_0),
        Format::Quant(Quant::Q4_0),
    ];

    /// Name, as the CLI and results files write it (`f32`, `q4_0`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Float(d) => d.name(),
            Self::Quant(q) => q.name(),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|f| f.name()).collect();
                format!("unknown weight format `{s}`; known: {}", names.join(", "))
            })
    }
}

impl Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
            assert_eq!(serde_json::from_str::<Format>(&json).unwrap(), f);
        }
        let e = "q5_1".parse::<Format>().unwrap_err();
        assert!(
            e.contains("unknown weight format `q5_1`") && e.contains("q4_0"),
            "{e}"
        );
        assert_eq!(Quant::Q8_0.block_bytes(), 2 + 32);
        assert_eq!(Quant::Q4_0.block_bytes(), 2 + 16);
    }

    #[test]
    fn sizes_and_round_trips() {
        assert_eq!(DType::F32.size(), 4);
        assert_eq!(DType::F16.size(), 2);
        for d in [DType::F32, DType::F16] {
            let bytes: Vec<u8> = [0.5f32, -1.25, 3.0]
                .iter()
                .flat_map(|&v| d.encode(v))
                .collect();
            assert_eq!(bytes.len() as u64, 3 * d.size());
            assert_eq!(d.decode(&bytes), vec![0.5, -1.25, 3.0]);
        }
    }
}
