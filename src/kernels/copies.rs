//! An operand in several identical copies, the unit of rotation: run r of
//! a kernel reads and writes copy r mod count, so a cache smaller than all
//! the copies together never serves a run from the previous ones. Copies
//! sit at aligned offsets of as few buffers as the buffer limit allows, and
//! are filled on the GPU with the hashed values the host regenerates
//! (`shaders/fill.wgsl`), so multi-GiB operands never cross the bus.

use std::num::NonZeroU64;

use super::data::FILL_SHADER;
use super::DType;
use crate::error::Result;
use crate::gpu::{Binding, GpuContext};

/// Most copies of one operand: beyond this, tiny operands rotate through
/// fewer bytes than the footprint (their points say so).
pub const MAX_COPIES: u32 = 4096;

/// What the fill kernel writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// [`super::initial`] values of an operand of `dtype`.
    Operand(DType),
    /// [`super::stream_initial`] values (f32).
    Stream,
}

impl Fill {
    fn element_bytes(self) -> u64 {
        match self {
            Self::Operand(d) => d.size(),
            Self::Stream => 4,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FillParams {
    first: u32,
    words: u32,
    which: u32,
    kind: u32,
    period: u32,
    _pad: [u32; 3],
}

/// `count` copies of an operand of `bytes` bytes.
#[derive(Debug)]
pub struct Copies {
    buffers: Vec<wgpu::Buffer>,
    /// Bytes from one copy to the next (`bytes` rounded up to the offset
    /// alignment).
    stride: u64,
    per_buffer: u32,
    count: u32,
    bytes: u64,
}

impl Copies {
    /// Allocate `count` copies of `bytes` each (uninitialised): checked
    /// against `max_buffer_size` first.
    pub fn new(ctx: &GpuContext, label: &str, bytes: u64, count: u32) -> Result<Self> {
        ctx.check_buffer(label, bytes)?;
        let l = &ctx.caps.limits;
        let align = (l.min_storage_buffer_offset_alignment as u64).max(4);
        let stride = bytes.max(1).div_ceil(align) * align;
        let count = count.clamp(1, MAX_COPIES);
        let per_buffer = (l.max_buffer_size / stride).clamp(1, count as u64) as u32;
        let buffers = (0..count.div_ceil(per_buffer))
            .map(|b| {
                let here = per_buffer.min(count - b * per_buffer) as u64;
                // The last copy needs only its own bytes, in whole words.
                let size = (here - 1) * stride + bytes.div_ceil(4) * 4;
                ctx.operand_buffer(label, size.max(4))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            buffers,
            stride,
            per_buffer,
            count,
            bytes,
        })
    }

    /// How many copies.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes of one copy.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The buffer holding copy `copy` and the copy's byte offset in it.
    pub fn locate(&self, copy: usize) -> (&wgpu::Buffer, u64) {
        let c = copy as u64 % self.count as u64;
        let b = c / self.per_buffer as u64;
        (
            &self.buffers[b as usize],
            (c % self.per_buffer as u64) * self.stride,
        )
    }

    /// Bytes `first .. first + len` of copy `copy`, as a binding.
    pub fn binding(&self, copy: usize, first: u64, len: u64) -> wgpu::BindingResource<'_> {
        let (buffer, at) = self.locate(copy);
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer,
            offset: at + first,
            size: NonZeroU64::new(len),
        })
    }

    /// All of copy `copy`, as a binding.
    pub fn whole(&self, copy: usize) -> wgpu::BindingResource<'_> {
        self.binding(copy, 0, self.bytes.div_ceil(4) * 4)
    }

    /// Zero every copy.
    pub fn clear(&self, ctx: &GpuContext) {
        for b in &self.buffers {
            ctx.clear(b);
        }
    }

    /// Write `data` (one copy's bytes) from the host into a staging buffer,
    /// then copy it on the GPU into every copy: for operands the host
    /// builds (quantized weights), crossing the bus once.
    pub fn upload(&self, ctx: &GpuContext, data: &[u8]) -> Result<()> {
        // Whole words: the buffers are, and copies are word-sized.
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(4) * 4, 0);
        let size = padded.len() as u64;
        let staging = ctx.scoped("upload staging buffer", || {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("upload"),
                size,
                usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        for (i, chunk) in padded.chunks(64 << 20).enumerate() {
            ctx.queue
                .write_buffer(&staging, (i as u64) * (64 << 20), chunk);
        }
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        for copy in 0..self.count as usize {
            let (buf, at) = self.locate(copy);
            enc.copy_buffer_to_buffer(&staging, 0, buf, at, size);
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait()
    }

    /// Fill every copy with operand `which`'s values on the GPU, in ranges
    /// no larger than a binding. Indices are 32-bit: a copy holds at most
    /// 2^32 elements.
    pub fn fill(&self, ctx: &GpuContext, which: u32, what: Fill) -> Result<()> {
        let (kind, per_word) = match what {
            Fill::Operand(DType::F32) => (0, 1),
            Fill::Operand(DType::F16) => (1, 2),
            Fill::Stream => (2, 1),
        };
        let pipe = ctx.pipeline(
            "fill",
            FILL_SHADER,
            "fill",
            &[Binding::Uniform, Binding::ReadWrite],
            &[],
        )?;
        let l = &ctx.caps.limits;
        let align = (l.min_storage_buffer_offset_alignment as u64).max(4);
        let max_words = (l.max_storage_buffer_binding_size / align * align / 4).max(1);
        let period = (self.stride / what.element_bytes()) as u32;
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        let mut keep = Vec::new();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipe);
            for buf in &self.buffers {
                let words = buf.size() / 4;
                let mut at = 0;
                while at < words {
                    let n = max_words.min(words - at);
                    let params = FillParams {
                        first: (at * per_word) as u32,
                        words: n as u32,
                        which,
                        kind,
                        period,
                        _pad: [0; 3],
                    };
                    let uniform = ctx.uniform_buffer("fill params", bytemuck::bytes_of(&params));
                    let range = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: buf,
                        offset: at * 4,
                        size: NonZeroU64::new(n * 4),
                    });
                    let bg = ctx.bind_group(&pipe, &[uniform.as_entire_binding(), range])?;
                    pass.set_bind_group(0, &bg, &[]);
                    pass.dispatch_workgroups(ctx.workgroups(n, 256 * 16), 1, 1);
                    keep.push(uniform);
                    at += n;
                }
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait()
    }
}
