//! Shader modules and compute pipelines, built once per run: a cache keyed
//! by the module's source, the entry point, the binding layout and the
//! override constants, so the tuner's probes and the measured op share one
//! pipeline, and ops of the same kernel and configuration share it too.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::GpuContext;
use crate::error::Result;

/// How a kernel binds one buffer of group 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `var<uniform>`
    Uniform,
    /// `var<storage, read>`
    ReadOnly,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// What identifies a pipeline: module source, checks, entry, layout and
/// constants (as bits, so equal values hash equally).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    module: u64,
    entry: String,
    bindings: Vec<Binding>,
    constants: Vec<(String, u64)>,
}

/// The cache of one device; also counts what it built, and when it last
/// built one.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<(u64, bool), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    newest: Mutex<Option<Instant>>,
}

impl PipelineCache {
    /// Pipelines built so far (cache misses).
    pub fn built(&self) -> usize {
        self.pipelines.lock().map_or(0, |p| p.len())
    }
}

fn hash_of(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl GpuContext {
    /// The compute pipeline for `entry` of the WGSL `source`, with explicit
    /// layout (`bindings[i]` at binding i of group 0, so entry points that
    /// leave a binding unused still share one bind group layout) and
    /// pipeline-overridable `constants`; built on first use, then cached.
    pub fn pipeline(
        &self,
        label: &str,
        source: &str,
        entry: &str,
        bindings: &[Binding],
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let checked = self.shader_checks;
        let module_key = hash_of(source) ^ u64::from(checked);
        let key = PipelineKey {
            module: module_key,
            entry: entry.to_string(),
            bindings: bindings.to_vec(),
            constants: constants
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_bits()))
                .collect(),
        };
        if let Some(p) = self
            .pipelines
            .pipelines
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(p);
        }
        let module = {
            let cached = self
                .pipelines
                .modules
                .lock()
                .ok()
                .and_then(|m| m.get(&(module_key, checked)).cloned());
            match cached {
                Some(m) => m,
                None => {
                    let m = self.shader(label, source, checked)?;
                    if let Ok(mut c) = self.pipelines.modules.lock() {
                        c.insert((module_key, checked), m.clone());
                    }
                    m
                }
            }
        };
        let pipe = self.build_pipeline(&module, entry, bindings, constants)?;
        if let Ok(mut c) = self.pipelines.pipelines.lock() {
            c.insert(key, pipe.clone());
        }
        if let Ok(mut n) = self.pipelines.newest.lock() {
            *n = Some(Instant::now());
        }
        Ok(pipe)
    }

    fn build_pipeline(
        &self,
        module: &wgpu::ShaderModule,
        entry: &str,
        bindings: &[Binding],
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let entries: Vec<_> = bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                        Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        self.scoped(&format!("pipeline `{entry}` {constants:?}"), || {
            let bgl = self
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(entry),
                    entries: &entries,
                });
            let layout = self
                .device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(entry),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&layout),
                    module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })
    }

    /// Bind `resources` in order to bindings 0.. of group 0 of `pipeline`.
    pub fn bind_group(
        &self,
        pipeline: &wgpu::ComputePipeline,
        resources: &[wgpu::BindingResource<'_>],
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<_> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: r.clone(),
            })
            .collect();
        self.scoped("bind group", || {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        })
    }

    /// Pipelines this device has built (each distinct module, entry point,
    /// layout and constants once).
    pub fn pipelines_built(&self) -> usize {
        self.pipelines.built()
    }

    /// How long ago the newest pipeline was built (`None` before any).
    pub fn newest_pipeline_age(&self) -> Option<Duration> {
        let newest = *self.pipelines.newest.lock().ok()?;
        newest.map(|t| t.elapsed())
    }
}
