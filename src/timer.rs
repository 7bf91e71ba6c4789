//! Timing GPU kernels: GPU timestamps when the device has them, wall clock
//! around submit + wait otherwise.
//!
//! A *sample* is one batch of `n` back-to-back dispatches recorded inside a
//! single compute pass. With `TIMESTAMP_QUERY` the pass carries begin/end
//! timestamp writes and the batch time is `(end - begin) * period`; without it
//! the batch time is the host's wall clock from `submit` to the end of the
//! wait. Either way the cost of an *empty* pass, measured the same way when
//! the timer is created, is subtracted, and the remainder divided by `n` gives
//! the time per dispatch. `n` is calibrated per kernel so that one batch lasts
//! at least `min_batch_s`, which dwarfs the timer's resolution and the empty
//! pass. Samples that come out zero or negative are discarded and counted.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::stats::Summary;

/// Which clock produced a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Begin/end-of-pass GPU timestamps (`TIMESTAMP_QUERY`).
    GpuTimestamp,
    /// Host wall clock around submit + wait.
    WallClock,
}

/// The user's choice of clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimerPreference {
    /// GPU timestamps when available, else wall clock.
    #[default]
    Auto,
    /// Insist on GPU timestamps (error when missing).
    Gpu,
    /// Always use wall clock.
    Wall,
}

/// How a kernel is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimingConfig {
    /// Batches run and thrown away before sampling.
    pub warmup: u32,
    /// Batches sampled.
    pub repeats: u32,
    /// Shortest duration one batch should last, in seconds.
    pub min_batch_s: f64,
    /// Upper bound on dispatches per batch.
    pub max_dispatches: u32,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            warmup: 2,
            repeats: 10,
            min_batch_s: 0.02,
            max_dispatches: 1000,
        }
    }
}

/// What the results file records about the timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    /// The clock used for every measurement of the run.
    pub kind: TimerKind,
    /// Nanoseconds per timestamp tick (GPU timestamps only).
    pub timestamp_period_ns: Option<f64>,
    /// Median cost of an empty pass in seconds, subtracted from every batch.
    pub empty_pass_s: f64,
    /// How many empty passes that median is taken over.
    pub empty_pass_samples: usize,
}

/// One kernel's timing: every sample kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The clock used.
    pub timer: TimerKind,
    /// Dispatches per batch (per sample).
    pub dispatches_per_sample: u32,
    /// Seconds per dispatch, one value per valid batch.
    pub samples_s: Vec<f64>,
    /// Host wall-clock seconds per dispatch for the same batches (overhead
    /// included), kept as a cross-check of the GPU clock.
    pub wall_samples_s: Vec<f64>,
    /// Batches discarded because their time was zero or negative.
    pub discarded: usize,
    /// Statistics over `samples_s`.
    pub summary: Summary,
}

struct Timestamps {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
}

/// A clock bound to one device.
pub struct Timer {
    info: TimerInfo,
    timestamps: Option<Timestamps>,
}

/// Records the dispatches of one batch; called with the pass and the
/// dispatch's index within the batch.
pub type Recorder<'r> = dyn FnMut(&mut wgpu::ComputePass<'_>, u32) + 'r;

impl Timer {
    /// Choose the clock and measure the empty-pass cost.
    pub fn new(ctx: &GpuContext, pref: TimerPreference) -> Result<Self> {
        let has_ts = ctx.has(wgpu::Features::TIMESTAMP_QUERY);
        let use_ts = match pref {
            TimerPreference::Auto => has_ts,
            TimerPreference::Wall => false,
            TimerPreference::Gpu if has_ts => true,
            TimerPreference::Gpu => {
                return Err(Error::Unsupported {
                    dtype: "the GPU timer".into(),
                    adapter: ctx.adapter.name.clone(),
                    feature: "TIMESTAMP_QUERY",
                })
            }
        };
        let timestamps = if use_ts {
            let size = 2 * std::mem::size_of::<u64>() as u64;
            Some(Timestamps {
                query_set: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("batch timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                }),
                resolve: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp resolve"),
                    size,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                readback: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp readback"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                period_ns: ctx.queue.get_timestamp_period() as f64,
            })
        } else {
            None
        };
        let mut timer = Self {
            info: TimerInfo {
                kind: if use_ts {
                    TimerKind::GpuTimestamp
                } else {
                    TimerKind::WallClock
                },
                timestamp_period_ns: timestamps.as_ref().map(|t| t.period_ns),
                empty_pass_s: 0.0,
                empty_pass_samples: 0,
            },
            timestamps,
        };
        let mut empty: Vec<f64> = Vec::new();
        for i in 0..18 {
            let (t, _) = timer.batch(ctx, 0, &mut |_, _| {})?;
            if i >= 2 {
                empty.push(t);
            }
        }
        let s = Summary::of(&empty).expect("non-empty");
        timer.info.empty_pass_s = s.median.max(0.0);
        timer.info.empty_pass_samples = s.n;
        Ok(timer)
    }

    /// What the results file records about this timer.
    pub fn info(&self) -> &TimerInfo {
        &self.info
    }

    /// Run one batch of `n` dispatches; returns (timer seconds, wall seconds),
    /// both raw, overhead included.
    fn batch(&self, ctx: &GpuContext, n: u32, record: &mut Recorder<'_>) -> Result<(f64, f64)> {
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("timed batch"),
            });
        {
            let timestamp_writes =
                self.timestamps
                    .as_ref()
                    .map(|t| wgpu::ComputePassTimestampWrites {
                        query_set: &t.query_set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("timed batch"),
                timestamp_writes,
            });
            for i in 0..n {
                record(&mut pass, i);
            }
        }
        if let Some(t) = &self.timestamps {
            enc.resolve_query_set(&t.query_set, 0..2, &t.resolve, 0);
            enc.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, t.resolve.size());
        }
        let cmd = enc.finish();
        let start = Instant::now();
        ctx.queue.submit([cmd]);
        ctx.wait()?;
        let wall = start.elapsed().as_secs_f64();
        match &self.timestamps {
            None => Ok((wall, wall)),
            Some(t) => {
                let bytes = ctx.read_mapped(&t.readback)?;
                let ticks: &[u64] = bytemuck::cast_slice(&bytes);
                let delta = ticks[1] as i128 - ticks[0] as i128;
                Ok((delta as f64 * t.period_ns * 1e-9, wall))
            }
        }
    }

    /// Time one batch of one dispatch, net of the empty pass: a quick probe
    /// for comparing configurations, not a measurement to report.
    pub fn probe(&self, ctx: &GpuContext, record: &mut Recorder<'_>) -> Result<f64> {
        let (t, _) = self.batch(ctx, 1, record)?;
        Ok((t - self.info.empty_pass_s).max(t * 1e-3))
    }

    /// Time the dispatches that `record` encodes: calibrate the batch size,
    /// warm up, then sample `cfg.repeats` batches.
    pub fn measure(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        record: &mut Recorder<'_>,
    ) -> Result<Measurement> {
        self.measure_with_estimate(ctx, cfg, kernel, record, None)
    }

    /// As [`Self::measure`], with an estimate of the time per dispatch (from
    /// an earlier probe): when one dispatch alone already lasts `min_batch_s`
    /// the calibration is skipped, since it could only choose one dispatch.
    pub fn measure_with_estimate(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        record: &mut Recorder<'_>,
        estimate_s: Option<f64>,
    ) -> Result<Measurement> {
        let overhead = self.info.empty_pass_s;
        let n = match estimate_s {
            Some(e) if e >= cfg.min_batch_s => 1,
            _ => {
                // Calibrate on a single dispatch, after one warm-up dispatch.
                self.batch(ctx, 1, record)?;
                let (t1, _) = self.batch(ctx, 1, record)?;
                let per = if t1 - overhead > 0.0 {
                    t1 - overhead
                } else {
                    t1.max(1e-9)
                };
                ((cfg.min_batch_s / per).ceil() as u64).clamp(1, cfg.max_dispatches.max(1) as u64)
                    as u32
            }
        };
        for _ in 0..cfg.warmup {
            self.batch(ctx, n, record)?;
        }
        let mut samples = Vec::with_capacity(cfg.repeats as usize);
        let mut wall_samples = Vec::with_capacity(cfg.repeats as usize);
        let mut discarded = 0;
        for _ in 0..cfg.repeats.max(1) {
            let (t, wall) = self.batch(ctx, n, record)?;
            let net = t - overhead;
            if t <= 0.0 || net <= 0.0 {
                discarded += 1;
                continue;
            }
            samples.push(net / n as f64);
            wall_samples.push(wall / n as f64);
        }
        let summary = Summary::of(&samples).ok_or_else(|| Error::NoValidSamples {
            kernel: kernel.to_string(),
        })?;
        Ok(Measurement {
            timer: self.info.kind,
            dispatches_per_sample: n,
            samples_s: samples,
            wall_samples_s: wall_samples,
            discarded,
            summary,
        })
    }
}
