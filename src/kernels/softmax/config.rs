//! The softmax kernel's configurations.

use serde::{Deserialize, Serialize};

/// A configuration of the softmax kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum SoftmaxConfig {
    /// One workgroup of `wg` invocations (a power of two) per row.
    SoftmaxRows {
        /// Invocations per row.
        wg: u32,
    },
    /// One invocation per row (no barriers), `wg` rows per workgroup.
    SoftmaxLanes {
        /// Rows (invocations) per workgroup.
        wg: u32,
    },
}

impl std::fmt::Display for SoftmaxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SoftmaxRows { wg } => write!(f, "softmax wg {wg}"),
            Self::SoftmaxLanes { wg } => write!(f, "softmax row/lane wg {wg}"),
        }
    }
}

impl SoftmaxConfig {
    /// The configurations the autotuner tries.
    pub fn candidates() -> Vec<Self> {
        let rows = [32, 64, 128, 256].map(|wg| Self::SoftmaxRows { wg });
        let lanes = [8, 32, 64].map(|wg| Self::SoftmaxLanes { wg });
        rows.into_iter().chain(lanes).collect()
    }

    /// The entry point in the shader.
    pub fn entry(&self) -> &'static str {
        match self {
            Self::SoftmaxRows { .. } => "softmax_rows",
            Self::SoftmaxLanes { .. } => "softmax_lanes",
        }
    }

    /// Invocations per workgroup.
    pub fn workgroup_size(&self) -> u32 {
        match *self {
            Self::SoftmaxRows { wg } | Self::SoftmaxLanes { wg } => wg,
        }
    }

    /// Rows one workgroup covers.
    pub fn rows_per_workgroup(&self) -> u64 {
        match *self {
            Self::SoftmaxRows { .. } => 1,
            Self::SoftmaxLanes { wg } => wg as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelConfig;

    #[test]
    fn config_names_and_json() {
        let c = SoftmaxConfig::SoftmaxRows { wg: 128 };
        assert_eq!(c.to_string(), "softmax wg 128");
        let json = serde_json::to_string(&KernelConfig::from(c)).unwrap();
        assert_eq!(json, r#"{"kernel":"softmax_rows","wg":128}"#);
        let back: KernelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, KernelConfig::Softmax(c));
    }
}
