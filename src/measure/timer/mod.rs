//! Timing GPU work: GPU timestamps when the device has them, the host's
//! wall clock around submit + wait otherwise, or when timestamps prove
//! unusable.
//!
//! A *sample* is one batch of `n` back-to-back runs of a kernel recorded in
//! one compute pass. With `TIMESTAMP_QUERY` the pass carries begin and end
//! timestamps, and nothing else: the batch time net of an *empty pass*
//! (measured when the timer is made), divided by `n`, is the *pipelined*
//! time per run, launch gaps and the barrier before every dispatch that
//! writes included. The *dispatch gap* is the same figure for a one-
//! invocation dispatch (launch, barrier and the least a kernel takes); the
//! reported time of a run is the pipelined time less one dispatch gap per
//! dispatch of the run: the kernel's time net of its launch, never less
//! than half the pipelined time. Runs are not bracketed by timestamps of
//! their own: on NVIDIA's Vulkan driver each bracket adds 6-8 µs to the
//! run it brackets (`bracketed_dispatch_s` records what it reads for the
//! one-invocation dispatch). `n` is calibrated so a batch lasts at least
//! `min_batch_s`.
//!
//! Run r of a kernel uses its operand copy r mod copies, counting across
//! batches, so no run rereads what the previous one left in cache.
//!
//! GPU timestamps that come back zero or implausible against the wall clock
//! of the same batch switch the timer to the wall clock for the rest of the
//! run, and the results say why. Counters narrower than 64 bits that wrap
//! inside a batch are unwrapped.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::{Binding, GpuContext, TimestampTier};
use crate::kernels::Dispatches;
use crate::settings::TimingConfig;
use crate::stats::{Measurement, Summary, TimerInfo, TimerKind};

mod clock;
mod warm;

use clock::PerRun;
pub use clock::{implausible, net_of_gaps, ticks};
use warm::Busy;

/// The timer's own kernels (`shaders/timer.wgsl`).
pub const SHADER: &str = include_str!("../../../shaders/timer.wgsl");

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

/// Back-to-back one-invocation dispatches per calibration batch, the only
/// batches whose runs may be bracketed by timestamps of their own (two
/// queries each, plus the pass's two).
const GAP_RUNS: u32 = 256;

/// Shortest batch a probe times: long enough to dwarf launch and timer noise.
pub const MIN_PROBE_S: f64 = 1e-3;

/// Most runs in a probe's batch, and in the clock check's.
const MAX_PROBE_RUNS: u32 = 4096;

struct Timestamps {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
    /// Whether runs can be bracketed too (`TIMESTAMP_QUERY_INSIDE_PASSES`).
    inside: bool,
}

/// One batch's times, raw (overhead included).
#[derive(Debug, Clone, Copy)]
struct Batch {
    /// The pass, by the timer's clock.
    pass_s: f64,
    /// The runs' bracketed time, summed (bracketed batches on devices with
    /// timestamps inside passes only).
    own_s: Option<f64>,
    /// The host's wall clock from submit to the end of the wait.
    wall_s: f64,
}

/// The timer's small kernels, built on first use.
struct Helpers {
    touch: Dispatches,
    warm: Dispatches,
}

/// A clock bound to one device.
pub struct Timer {
    info: RefCell<TimerInfo>,
    timestamps: Option<Timestamps>,
    /// Runs recorded so far (operand rotation counts across batches).
    runs: Cell<u64>,
    /// How busy the GPU has been, batch by batch.
    busy: RefCell<Busy>,
    /// Dispatches in the next warm-up batch (see [`Timer::warm`]).
    warm_runs: Cell<u32>,
    helpers: Helpers,
}

impl Timer {
    /// Choose the clock, measure the empty pass and the dispatch gap, and
    /// check the GPU clock against the wall clock on a 10 ms batch.
    pub fn new(ctx: &GpuContext, pref: TimerPreference) -> Result<Self> {
        let has_ts = ctx.caps.timestamps != TimestampTier::None;
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
        let timestamps = use_ts.then(|| {
            let count = 2 + 2 * GAP_RUNS;
            let size = 8 * count as u64;
            Timestamps {
                query_set: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("batch timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count,
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
                inside: ctx.caps.timestamps == TimestampTier::InsidePasses,
            }
        });
        let now = Instant::now();
        let timer = Self {
            info: RefCell::new(TimerInfo {
                kind: if use_ts {
                    TimerKind::GpuTimestamp
                } else {
                    TimerKind::WallClock
                },
                timestamp_period_ns: timestamps.as_ref().map(|t| t.period_ns),
                empty_pass_s: 0.0,
                empty_pass_samples: 0,
                dispatch_gap_s: None,
                bracketed_dispatch_s: None,
                fallback: None,
            }),
            timestamps,
            runs: Cell::new(0),
            busy: RefCell::new(Busy::new(now)),
            warm_runs: Cell::new(4),
            helpers: helpers(ctx)?,
        };
        timer.calibrate(ctx)?;
        Ok(timer)
    }

    /// The empty pass, the clock check and the dispatch gap (and where runs
    /// can be bracketed, what a bracket reads for the same dispatch).
    fn calibrate(&self, ctx: &GpuContext) -> Result<()> {
        let mut empty: Vec<f64> = Vec::new();
        for i in 0..18 {
            let b = self.batch(ctx, 0, None, false)?;
            if i >= 2 {
                empty.push(b.pass_s);
            }
        }
        let s = Summary::of(&empty).expect("non-empty");
        {
            let mut info = self.info.borrow_mut();
            info.empty_pass_s = s.median.max(0.0);
            info.empty_pass_samples = s.n;
        }
        // The clock check: a batch of at least 10 ms by the wall clock.
        if self.kind() == TimerKind::GpuTimestamp {
            let mut n = 1;
            loop {
                let b = self.batch(ctx, n, Some(&self.helpers.warm), false)?;
                if b.wall_s >= 0.01 || n >= MAX_PROBE_RUNS {
                    break;
                }
                n = (n * 4).min(MAX_PROBE_RUNS);
            }
        }
        // The dispatch gap: back-to-back minimal dispatches that write.
        let touch = &self.helpers.touch;
        self.batch(ctx, GAP_RUNS, Some(touch), false)?;
        let empty_pass = self.info.borrow().empty_pass_s;
        let mut gaps = Vec::new();
        let mut brackets = Vec::new();
        for _ in 0..5 {
            let b = self.batch(ctx, GAP_RUNS, Some(touch), false)?;
            gaps.push((b.pass_s - empty_pass).max(0.0) / GAP_RUNS as f64);
            if self.timestamps.as_ref().is_some_and(|t| t.inside) {
                let b = self.batch(ctx, GAP_RUNS, Some(touch), true)?;
                if let Some(own) = b.own_s {
                    brackets.push(own / GAP_RUNS as f64);
                }
            }
        }
        let mut info = self.info.borrow_mut();
        info.dispatch_gap_s = Summary::of(&gaps).map(|s| s.median);
        info.bracketed_dispatch_s = Summary::of(&brackets).map(|s| s.median);
        Ok(())
    }

    /// What the results file records about this timer.
    pub fn info(&self) -> TimerInfo {
        self.info.borrow().clone()
    }

    /// Take the empty pass to cost `s` seconds, for tests that need a
    /// kernel's batches to come out no longer than it.
    #[doc(hidden)]
    pub fn assume_empty_pass_s(&self, s: f64) {
        self.info.borrow_mut().empty_pass_s = s;
    }

    fn kind(&self) -> TimerKind {
        self.info.borrow().kind
    }

    /// Switch to the wall clock for good, saying why.
    fn fall_back(&self, why: String) {
        let mut info = self.info.borrow_mut();
        info.kind = TimerKind::WallClock;
        info.fallback = Some(why);
    }

    /// Record, submit and wait for `n` runs of `work` in one pass; with
    /// `bracket`, every run between timestamps of its own where the device
    /// can write them inside passes.
    fn batch(
        &self,
        ctx: &GpuContext,
        n: u32,
        work: Option<&Dispatches>,
        bracket: bool,
    ) -> Result<Batch> {
        let ts = self
            .timestamps
            .as_ref()
            .filter(|_| self.kind() == TimerKind::GpuTimestamp);
        let inside = bracket && ts.is_some_and(|t| t.inside) && n <= GAP_RUNS;
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("timed batch"),
            });
        {
            let timestamp_writes = ts.map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.query_set,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("timed batch"),
                timestamp_writes,
            });
            if let Some(d) = work {
                for i in 0..n {
                    let run = self.runs.get();
                    if let (true, Some(t)) = (inside, ts) {
                        pass.write_timestamp(&t.query_set, 2 + 2 * i);
                    }
                    d.record(&mut pass, run);
                    if let (true, Some(t)) = (inside, ts) {
                        pass.write_timestamp(&t.query_set, 3 + 2 * i);
                    }
                    self.runs.set(run + 1);
                }
            }
        }
        let queries = if inside { 2 + 2 * n } else { 2 };
        if let Some(t) = ts {
            enc.resolve_query_set(&t.query_set, 0..queries, &t.resolve, 0);
            enc.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, 8 * queries as u64);
        }
        let cmd = enc.finish();
        let start = Instant::now();
        ctx.queue.submit([cmd]);
        ctx.wait()?;
        let end = Instant::now();
        self.busy.borrow_mut().record(start, end);
        let wall_s = end.duration_since(start).as_secs_f64();
        let Some(t) = ts else {
            return Ok(Batch {
                pass_s: wall_s,
                own_s: None,
                wall_s,
            });
        };
        let bytes = ctx.read_mapped(&t.readback)?;
        let raw: &[u64] = &bytemuck::cast_slice(&bytes)[..queries as usize];
        let sec = |b: u64, e: u64| ticks(b, e) as f64 * t.period_ns * 1e-9;
        let pass_s = sec(raw[0], raw[1]);
        if work.is_some() && n > 0 {
            if let Some(why) = implausible(raw, pass_s, wall_s) {
                self.fall_back(why);
                return Ok(Batch {
                    pass_s: wall_s,
                    own_s: None,
                    wall_s,
                });
            }
        }
        let own_s = inside.then(|| raw[2..].chunks_exact(2).map(|p| sec(p[0], p[1])).sum());
        Ok(Batch {
            pass_s,
            own_s,
            wall_s,
        })
    }

    /// Time `work` on a batch of at least [`MIN_PROBE_S`]: seconds per run
    /// net of the empty pass and the dispatch gaps, for comparing
    /// configurations, not a measurement to report.
    pub fn probe(&self, ctx: &GpuContext, work: &Dispatches) -> Result<f64> {
        let n = self.runs_to_last(ctx, work, MIN_PROBE_S)?;
        self.time_runs(ctx, work, n)
    }

    /// Runs of `work` a batch needs to last at least `min_s`, from one run
    /// timed alone.
    pub fn runs_to_last(&self, ctx: &GpuContext, work: &Dispatches, min_s: f64) -> Result<u32> {
        let one = self.per_run(ctx, 1, work)?.net;
        Ok(if one >= min_s {
            1
        } else {
            ((min_s / one.max(1e-9)).ceil() as u32).clamp(1, MAX_PROBE_RUNS)
        })
    }

    /// One batch of `n` runs of `work`: seconds per run net of the empty
    /// pass and the dispatch gaps.
    pub fn time_runs(&self, ctx: &GpuContext, work: &Dispatches, n: u32) -> Result<f64> {
        Ok(self.per_run(ctx, n, work)?.net)
    }

    /// Seconds the dispatch gaps account for in one run of `work` (one gap
    /// per dispatch).
    fn gaps(&self, work: &Dispatches) -> f64 {
        self.info.borrow().dispatch_gap_s.unwrap_or(0.0) * work.per_run() as f64
    }

    /// One batch of `n` runs, per run.
    fn per_run(&self, ctx: &GpuContext, n: u32, work: &Dispatches) -> Result<PerRun> {
        let b = self.batch(ctx, n, Some(work), false)?;
        let overhead = self.info.borrow().empty_pass_s;
        let pipelined = (b.pass_s - overhead).max(b.pass_s * 1e-3) / n as f64;
        Ok(PerRun::of(pipelined, self.gaps(work), b.wall_s / n as f64))
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

    /// As [`Self::measure`], with an estimate of the time per run (from an
    /// earlier probe): when one run alone already lasts `min_batch_s` the
    /// calibration is skipped, since it could only choose one run.
    pub fn measure_with_estimate(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        work: &Dispatches,
        estimate_s: Option<f64>,
    ) -> Result<Measurement> {
        let kind = self.kind();
        let m = self.sample(ctx, cfg, kernel, work, estimate_s)?;
        if m.timer != kind || self.kind() != kind {
            // The clock fell back mid-measurement: measure again on the wall clock.
            return self.sample(ctx, cfg, kernel, work, estimate_s);
        }
        Ok(m)
    }

    fn sample(
        &self,
        ctx: &GpuContext,
        cfg: &TimingConfig,
        kernel: &str,
        work: &Dispatches,
        estimate_s: Option<f64>,
    ) -> Result<Measurement> {
        self.settle(ctx, cfg.settle_s)?;
        let kind = self.kind();
        let max = cfg.max_dispatches.max(1);
        let mut n = match estimate_s {
            Some(e) if e >= cfg.min_batch_s => 1,
            _ => {
                // Calibrate on a single run, after one warm-up run.
                self.batch(ctx, 1, Some(work), false)?;
                let per = self.per_run(ctx, 1, work)?.pipelined;
                ((cfg.min_batch_s / per.max(1e-9)).ceil() as u64).clamp(1, max as u64) as u32
            }
        };
        for _ in 0..cfg.warmup {
            self.batch(ctx, n, Some(work), false)?;
        }
        let busy_s = self.busy_s();
        let mut samples = Vec::with_capacity(cfg.repeats as usize);
        let mut pipelined = Vec::with_capacity(cfg.repeats as usize);
        let mut wall_samples = Vec::with_capacity(cfg.repeats as usize);
        let mut discarded = 0;
        let overhead = self.info.borrow().empty_pass_s;
        let gaps = self.gaps(work);
        loop {
            for _ in 0..cfg.repeats.max(1) {
                let b = self.batch(ctx, n, Some(work), false)?;
                let net = b.pass_s - overhead;
                if b.pass_s <= 0.0 || net <= 0.0 {
                    discarded += 1;
                    continue;
                }
                let r = PerRun::of(net / n as f64, gaps, b.wall_s / n as f64);
                samples.push(r.net);
                pipelined.push(r.pipelined);
                wall_samples.push(r.wall);
            }
            // Every batch came out no longer than the empty pass (a busy
            // host, or a kernel shorter than the timer's own noise): more
            // runs per batch, past `max_dispatches`, which bounds a batch's
            // length and these are shorter than an empty pass.
            if !samples.is_empty() || n >= MAX_PROBE_RUNS {
                break;
            }
            n = n.saturating_mul(8).min(MAX_PROBE_RUNS);
        }
        let summary = Summary::of(&samples).ok_or_else(|| Error::NoValidSamples {
            kernel: kernel.to_string(),
        })?;
        Ok(Measurement {
            timer: if self.kind() == kind {
                kind
            } else {
                self.kind()
            },
            dispatches_per_sample: n,
            samples_s: samples,
            pipelined_s: pipelined,
            gap_per_run_s: gaps,
            wall_samples_s: wall_samples,
            discarded,
            summary,
            busy_s: Some(busy_s),
        })
    }
}

/// The touch and warm kernels and their buffers.
fn helpers(ctx: &GpuContext) -> Result<Helpers> {
    let bindings = [Binding::Uniform, Binding::ReadWrite];
    let make = |entry: &str, iterations: u32, out_bytes: u64, groups: u32| -> Result<Dispatches> {
        let pipe = ctx.pipeline("timer", SHADER, entry, &bindings, &[])?;
        // Padded to 16 bytes, the smallest uniform binding every backend takes.
        let params = [iterations, 0, 0, 0];
        let uniform = ctx.uniform_buffer("timer params", bytemuck::cast_slice(&params));
        let out = ctx.storage_buffer("timer output", out_bytes)?;
        let bind_group = ctx.bind_group(
            &pipe,
            &[uniform.as_entire_binding(), out.as_entire_binding()],
        )?;
        Ok(Dispatches {
            pipelines: vec![pipe],
            copies: vec![vec![crate::kernels::Step {
                pipeline: 0,
                bind_group,
                workgroups: [groups, 1, 1],
            }]],
            keep: vec![uniform, out],
        })
    };
    Ok(Helpers {
        touch: make("touch", 0, 16, 1)?,
        warm: make("warm", 4096, 1 << 16, 256)?,
    })
}
