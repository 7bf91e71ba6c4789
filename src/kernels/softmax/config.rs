//! The softmax kernel's configurations.

use serde::{Deserialize, Serialize};

use crate::gpu::Capabilities;

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
    /// A subgroup per row with vector loads (`softmax_subgroup.wgsl`;
    /// needs SUBGROUP and rows of a multiple of 4 keys), `wg` invocations
    /// per workgroup.
    SoftmaxSubgroup {
        /// Invocations per workgroup.
        wg: u32,
    },
}

impl std::fmt::Display for SoftmaxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SoftmaxRows { wg } => write!(f, "softmax wg {wg}"),
            Self::SoftmaxLanes { wg } => write!(f, "softmax row/lane wg {wg}"),
            Self::SoftmaxSubgroup { wg } => write!(f, "softmax row/subgroup wg {wg}"),
        }
    }
}

impl SoftmaxConfig {
    /// The configurations the autotuner tries on a device with `caps`:
    /// GPUs with subgroups the subgroup-per-row kernel (rows of a multiple
    /// of 4 keys) and a workgroup per row; otherwise the workgroup-per-row
    /// and invocation-per-row kernels, and one subgroup configuration.
    pub fn candidates(caps: &Capabilities, keys: u64) -> Vec<Self> {
        let sg = caps.subgroups && keys.is_multiple_of(4);
        let mut v = Vec::new();
        if sg && !caps.cpu {
            v.extend([64, 128, 256].map(|wg| Self::SoftmaxSubgroup { wg }));
            v.extend([128, 256].map(|wg| Self::SoftmaxRows { wg }));
            return v;
        }
        v.extend([32, 64, 128, 256].map(|wg| Self::SoftmaxRows { wg }));
        v.extend([8, 32, 64].map(|wg| Self::SoftmaxLanes { wg }));
        if sg {
            v.push(Self::SoftmaxSubgroup { wg: 64 });
        }
        v
    }

    /// The entry point in the shader.
    pub fn entry(&self) -> &'static str {
        match self {
            Self::SoftmaxRows { .. } => "softmax_rows",
            Self::SoftmaxLanes { .. } => "softmax_lanes",
            Self::SoftmaxSubgroup { .. } => "softmax_sg",
        }
    }

    /// Invocations per workgroup.
    pub fn workgroup_size(&self) -> u32 {
        match *self {
            Self::SoftmaxRows { wg } | Self::SoftmaxLanes { wg } | Self::SoftmaxSubgroup { wg } => {
                wg
            }
        }
    }

    /// Rows one workgroup covers on a device whose smallest subgroup has
    /// `sg_min` lanes.
    pub fn rows_per_workgroup(&self, sg_min: u32) -> u64 {
        match *self {
            Self::SoftmaxRows { .. } => 1,
            Self::SoftmaxLanes { wg } => wg as u64,
            Self::SoftmaxSubgroup { wg } => (wg / sg_min.max(1)).max(1) as u64,
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
