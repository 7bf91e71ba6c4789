//! Element types the kernels compute in. No GPU here: the accounting of
//! every kernel uses it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
