//! What an adapter offers and what the device was opened with: the
//! optional features that matter here, the limits that bound the kernels'
//! sizes, and the [`Capabilities`] computed once when a device opens, which
//! candidate lists and checks read instead of asking the device again.

use serde::{Deserialize, Serialize};

use crate::dtype::DType;

/// The optional features this suite uses when the adapter has them.
pub fn wanted_features() -> wgpu::Features {
    wgpu::Features::SHADER_F16
        | wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
        | wgpu::Features::SUBGROUP
        | wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX
}

/// Whether `features` hold one that wgpu gates behind its experimental
/// opt-in ([`wgpu::ExperimentalFeatures`]).
pub fn needs_experimental(features: wgpu::Features) -> bool {
    features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
}

/// Names of the features that matter to this suite, present in `features`.
pub fn feature_names(features: wgpu::Features) -> Vec<String> {
    let known = [
        (wgpu::Features::SHADER_F16, "SHADER_F16"),
        (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
        (
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
            "TIMESTAMP_QUERY_INSIDE_ENCODERS",
        ),
        (
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
            "TIMESTAMP_QUERY_INSIDE_PASSES",
        ),
        (wgpu::Features::SUBGROUP, "SUBGROUP"),
        (wgpu::Features::SUBGROUP_BARRIER, "SUBGROUP_BARRIER"),
        (
            wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX,
            "EXPERIMENTAL_COOPERATIVE_MATRIX",
        ),
    ];
    known
        .iter()
        .filter(|(f, _)| features.contains(*f))
        .map(|(_, n)| n.to_string())
        .collect()
}

/// One cooperative-matrix configuration an adapter supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoopMatrixShape {
    /// Rows of A and C.
    pub m: u32,
    /// Columns of B and C.
    pub n: u32,
    /// Inner dimension.
    pub k: u32,
    /// Element type of A and B.
    pub ab_type: String,
    /// Element type of the accumulator.
    pub cr_type: String,
}

/// The limits that decide what this suite can run, in a stable, documented form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Largest storage buffer binding in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer in bytes.
    pub max_buffer_size: u64,
    /// Workgroup (shared) memory in bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations per workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroup size in x.
    pub max_compute_workgroup_size_x: u32,
    /// Workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers per shader stage.
    pub max_storage_buffers_per_shader_stage: u32,
}

impl From<&wgpu::Limits> for KeyLimits {
    fn from(l: &wgpu::Limits) -> Self {
        Self {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
        }
    }
}

/// Everything `devices` reports about one adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterSummary {
    /// Position among the adapters of the enumerated backends.
    pub index: usize,
    /// Adapter name.
    pub name: String,
    /// Backend (vulkan, gl, metal, dx12).
    pub backend: String,
    /// discrete_gpu, integrated_gpu, virtual_gpu, cpu or other.
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version information.
    pub driver_info: String,
    /// Optional features relevant here that the adapter has.
    pub features: Vec<String>,
    /// Smallest subgroup size (meaningful with SUBGROUP).
    pub subgroup_min_size: u32,
    /// Largest subgroup size (meaningful with SUBGROUP).
    pub subgroup_max_size: u32,
    /// Supported cooperative-matrix shapes (empty without the feature).
    pub cooperative_matrix: Vec<CoopMatrixShape>,
    /// The limits that bound the kernels' sizes.
    pub limits: KeyLimits,
}

impl AdapterSummary {
    /// Describe `adapter`, found at `index` of its enumeration.
    pub fn of(index: usize, adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let features = adapter.features();
        let cooperative_matrix =
            if features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX) {
                adapter
                    .cooperative_matrix_properties()
                    .iter()
                    .map(|p| CoopMatrixShape {
                        m: p.m_size,
                        n: p.n_size,
                        k: p.k_size,
                        ab_type: format!("{:?}", p.ab_type).to_lowercase(),
                        cr_type: format!("{:?}", p.cr_type).to_lowercase(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
        Self {
            index,
            name: info.name.clone(),
            backend: super::backend_name(info.backend).to_string(),
            device_type: super::device_type_name(info.device_type).to_string(),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            features: feature_names(features),
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            cooperative_matrix,
            limits: KeyLimits::from(&adapter.limits()),
        }
    }

    /// Whether the adapter offers `name` (one of [`feature_names`]).
    pub fn offers(&self, name: &str) -> bool {
        self.features.iter().any(|f| f == name)
    }
}

/// How precisely GPU timestamps can bracket work, in wgpu-profiler's tiers:
/// none, around passes, or also between the commands inside a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampTier {
    /// No GPU timestamps: time with the host's wall clock.
    None,
    /// Timestamps at the beginning and end of passes (`TIMESTAMP_QUERY`).
    Passes,
    /// Also inside passes, between dispatches (`TIMESTAMP_QUERY_INSIDE_PASSES`).
    InsidePasses,
}

/// What the open device can do, computed once when it opens: every
/// candidate list, size check and test helper reads this.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// `SHADER_F16` was requested and granted.
    pub f16: bool,
    /// Subgroup operations (`SUBGROUP`) were granted.
    pub subgroups: bool,
    /// Smallest and largest subgroup size the adapter reports (0 without
    /// subgroups); a kernel sizes its work by the size it actually runs with.
    pub subgroup_sizes: (u32, u32),
    /// How finely GPU timestamps can bracket work.
    pub timestamps: TimestampTier,
    /// Cooperative-matrix shapes the device was opened with (empty unless
    /// `EXPERIMENTAL_COOPERATIVE_MATRIX` was granted).
    pub coop: Vec<CoopMatrixShape>,
    /// Whether the device is a CPU running a software driver.
    pub cpu: bool,
    /// The device's limits (the adapter's own, as requested).
    pub limits: wgpu::Limits,
}

impl Capabilities {
    /// The capabilities of a device opened with `features` and `limits` on
    /// the adapter `summary` describes.
    pub fn new(summary: &AdapterSummary, features: wgpu::Features, limits: wgpu::Limits) -> Self {
        let subgroups = features.contains(wgpu::Features::SUBGROUP);
        let timestamps = if !features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            TimestampTier::None
        } else if features.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
            TimestampTier::InsidePasses
        } else {
            TimestampTier::Passes
        };
        Self {
            f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups,
            subgroup_sizes: if subgroups {
                (summary.subgroup_min_size, summary.subgroup_max_size)
            } else {
                (0, 0)
            },
            timestamps,
            coop: if features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX) {
                summary.cooperative_matrix.clone()
            } else {
                Vec::new()
            },
            cpu: summary.device_type == "cpu",
            limits,
        }
    }

    /// A device for unit tests: f16, subgroups of `subgroup_sizes` (none
    /// for (0, 0)), timestamps inside passes, no cooperative matrices,
    /// wgpu's default limits; a CPU adapter where `cpu`.
    #[cfg(test)]
    pub(crate) fn for_tests(cpu: bool, subgroup_sizes: (u32, u32)) -> Self {
        Self {
            f16: true,
            subgroups: subgroup_sizes.0 > 0,
            subgroup_sizes,
            timestamps: TimestampTier::InsidePasses,
            coop: Vec::new(),
            cpu,
            limits: wgpu::Limits::default(),
        }
    }

    /// Whether the device multiplies `size` x `size` x `size` fragments of
    /// `ab` accumulated in `acc` with cooperative matrices.
    pub fn has_coop(&self, size: u32, ab: DType, acc: DType) -> bool {
        self.coop.iter().any(|c| {
            (c.m, c.n, c.k) == (size, size, size)
                && c.ab_type == ab.name()
                && c.cr_type == acc.name()
        })
    }

    /// Whether kernels of `dtype` can run.
    pub fn supports(&self, dtype: DType) -> bool {
        match dtype {
            DType::F32 => true,
            DType::F16 => self.f16,
        }
    }
}
