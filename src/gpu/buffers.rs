//! Buffers and the checks before them: storage, operand and uniform
//! buffers, clearing, reading back, and workgroup sizes and counts checked
//! against the limits before anything is recorded.

use std::num::NonZeroU64;

use super::GpuContext;
use crate::dtype::DType;
use crate::error::{Error, Result};

impl GpuContext {
    /// A storage buffer that can be written from the host and copied out,
    /// checked against the binding limits first.
    pub fn storage_buffer(&self, label: &str, size: u64) -> Result<wgpu::Buffer> {
        self.check_binding(label, size)?;
        self.raw_buffer(label, size)
    }

    /// A buffer of `bytes` for a kernel's operand, checked against
    /// `max_buffer_size` first (it may be bound in ranges, so the binding
    /// limit is checked per range by the caller).
    /// The size is rounded up to whole 4-byte words, so the fill kernel and
    /// copies can treat it as words.
    pub fn operand_buffer(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.check_buffer(label, bytes)?;
        self.raw_buffer(label, bytes.div_ceil(4) * 4)
    }

    fn raw_buffer(&self, label: &str, size: u64) -> Result<wgpu::Buffer> {
        self.scoped(&format!("buffer `{label}` ({size} bytes)"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_DST
                    | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        })
    }

    /// A small uniform buffer holding `data`.
    pub fn uniform_buffer(&self, label: &str, data: &[u8]) -> wgpu::Buffer {
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: data.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buf, 0, data);
        buf
    }

    /// Zero `buf`, so a kernel that writes nothing cannot pass verification
    /// on an earlier kernel's output.
    pub fn clear(&self, buf: &wgpu::Buffer) {
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.clear_buffer(buf, 0, None);
        self.queue.submit([enc.finish()]);
    }

    /// Read back a whole f32 storage buffer.
    pub fn read_f32(&self, buf: &wgpu::Buffer) -> Result<Vec<f32>> {
        let bytes = self.read_buffer(buf, 0, buf.size())?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Read `ranges` (first element, element count) of a `dtype` storage
    /// buffer back as f32, in one copy per range and one mapping.
    pub fn read_ranges(
        &self,
        buf: &wgpu::Buffer,
        dtype: DType,
        ranges: &[(u64, u64)],
    ) -> Result<Vec<Vec<f32>>> {
        let s = dtype.size();
        // Copies need 4-byte aligned offsets and sizes: widen each range.
        let spans: Vec<(u64, u64)> = ranges
            .iter()
            .map(|&(first, count)| {
                let start = first * s / 4 * 4;
                let end = ((first + count) * s).div_ceil(4) * 4;
                (start, end - start)
            })
            .collect();
        let total: u64 = spans.iter().map(|s| s.1).sum();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sampled readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        let mut at = 0;
        for &(start, len) in &spans {
            enc.copy_buffer_to_buffer(buf, start, &staging, at, len);
            at += len;
        }
        self.queue.submit([enc.finish()]);
        let bytes = self.read_mapped(&staging)?;
        let mut at = 0usize;
        let mut out = Vec::with_capacity(ranges.len());
        for (&(first, count), &(start, len)) in ranges.iter().zip(&spans) {
            let skip = (first * s - start) as usize;
            let raw = &bytes[at + skip..at + skip + (count * s) as usize];
            out.push(dtype.decode(raw));
            at += len as usize;
        }
        Ok(out)
    }

    /// Check a one-dimensional workgroup size against the device's limits.
    pub fn check_workgroup_size(&self, what: &str, size: u32) -> Result<()> {
        let l = &self.caps.limits;
        let limit = l
            .max_compute_invocations_per_workgroup
            .min(l.max_compute_workgroup_size_x);
        if size > limit {
            return Err(Error::ExceedsLimit {
                what: what.to_string(),
                requested: size as u64,
                limit_name: "max_compute_invocations_per_workgroup",
                limit: limit as u64,
            });
        }
        Ok(())
    }

    /// Check a dispatch of `size` workgroups against the per-dimension limit
    /// before it is recorded (wgpu would only report it as a validation
    /// error inside the pass).
    pub fn check_workgroups(&self, what: &str, size: [u64; 3]) -> Result<[u32; 3]> {
        let limit = self.caps.limits.max_compute_workgroups_per_dimension as u64;
        if let Some(&over) = size.iter().find(|&&n| n > limit) {
            return Err(Error::ExceedsLimit {
                what: format!("workgroups of {what}"),
                requested: over,
                limit_name: "max_compute_workgroups_per_dimension",
                limit,
            });
        }
        Ok(size.map(|n| n as u32))
    }

    /// Workgroups for `items` work items at `per_workgroup` each, capped at
    /// the per-dimension limit (kernels that may be capped walk with a grid
    /// stride).
    pub fn workgroups(&self, items: u64, per_workgroup: u64) -> u32 {
        let wanted = items.div_ceil(per_workgroup.max(1)).max(1);
        wanted.min(self.caps.limits.max_compute_workgroups_per_dimension as u64) as u32
    }
}

/// Elements `first .. first + count` of a buffer of `elem_bytes`-byte
/// elements, as a binding.
pub fn range(
    buf: &wgpu::Buffer,
    first: u64,
    count: u64,
    elem_bytes: u64,
) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: buf,
        offset: first * elem_bytes,
        size: NonZeroU64::new(count * elem_bytes),
    })
}
