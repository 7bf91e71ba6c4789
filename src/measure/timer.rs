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

use std::cell::Cell;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::Dispatches;
use crate::settings::TimingConfig;
use crate::stats::{Measurement, Summary, TimerInfo, TimerKind};

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
    /// Runs recorded so far: run r of any kernel uses its operand copy
    /// r mod copies, counting across batches, so consecutive runs (and
    /// batches) never reread the copy the previous run touched.
    runs: Cell<u64>,
}

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
            runs: Cell::new(0),
        };
        let mut empty: Vec<f64> = Vec::new();
        for i in 0..18 {
            let (t, _) = timer.batch(ctx, 0, None)?;
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

    /// Run one batch of `n` runs of `work`; returns (timer seconds, wall
    /// seconds), both raw, overhead included.
    fn batch(&self, ctx: &GpuContext, n: u32, work: Option<&Dispatches>) -> Result<(f64, f64)> {
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
            if let Some(d) = work {
                for _ in 0..n {
                    let run = self.runs.get();
                    d.record(&mut pass, run);
                    self.runs.set(run + 1);
                }
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

    /// Time one batch of one run, net of the empty pass: a quick probe
    /// for comparing configurations, not a measurement to report.
    pub fn probe(&self, ctx: &GpuContext, work: &Dispatches) -> Result<f64> {
        let (t, _) = self.batch(ctx, 1, Some(work))?;
        Ok((t - self.info.empty_pass_s).max(t * 1e-3))
    }

    /// Time runs of `work`: calibrate the batch size, warm up, then sample
    /// `cfg.repeats` batches.
    pub fn measure(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        work: &Dispatches,
    ) -> Result<Measurement> {
        self.measure_with_estimate(ctx, cfg, kernel, work, None)
    }

    /// As [`Self::measure`], with an estimate of the time per dispatch (from
    /// an earlier probe): when one dispatch alone already lasts `min_batch_s`
    /// the calibration is skipped, since it could only choose one dispatch.
    pub fn measure_with_estimate(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        work: &Dispatches,
        estimate_s: Option<f64>,
    ) -> Result<Measurement> {
        let overhead = self.info.empty_pass_s;
        let n = match estimate_s {
            Some(e) if e >= cfg.min_batch_s => 1,
            _ => {
                // Calibrate on a single dispatch, after one warm-up dispatch.
                self.batch(ctx, 1, Some(work))?;
                let (t1, _) = self.batch(ctx, 1, Some(work))?;
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
            self.batch(ctx, n, Some(work))?;
        }
        let mut samples = Vec::with_capacity(cfg.repeats as usize);
        let mut wall_samples = Vec::with_capacity(cfg.repeats as usize);
        let mut discarded = 0;
        for _ in 0..cfg.repeats.max(1) {
            let (t, wall) = self.batch(ctx, n, Some(work))?;
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
