//! Keeping the GPU's clocks up: how busy the GPU has been (its current busy
//! streak and its duty cycle over the last second, both by the host's clock
//! around each batch), and the timer's loops of its warm-up kernel that
//! bring either where a measurement needs it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Timer;
use crate::error::Result;
use crate::gpu::GpuContext;

/// Idle time after which the GPU's busy streak starts over. An H200 held
/// its SM clock for about 1.5 s of idling before lowering it (`nvidia-smi`
/// every 50 ms), so a gap this long leaves the clocks where they were, and
/// the host work between an op's tuning and its sampling (well under it)
/// does not cost a second warm-up where the tuning kept the GPU busy.
const IDLE_GAP: Duration = Duration::from_millis(250);

/// The span over which the duty cycle is reckoned: an H200's SM clock fell
/// from 1980 to about 700 MHz within 1.5 s of tuning probes that kept it
/// 4-7% busy (`nvidia-smi`), with no idle gap long enough to end a busy
/// streak.
const DUTY_WINDOW: Duration = Duration::from_secs(1);

/// Host time each batch of the warm-up kernel aims at. A warm-up dispatch
/// lasts about 10 us on an H200, so a batch of a few of them is mostly
/// submitting and waiting, and the GPU idles through most of the time the
/// host counts as busy; batches this long keep it loaded, and are still
/// short enough to top a duty cycle up finely.
const WARM_BATCH_S: f64 = 2e-3;

/// Most dispatches in one warm-up batch.
const MAX_WARM_RUNS: u32 = 1024;

/// The batches the GPU ran, as the host saw them (submit to the end of the
/// wait): enough to tell the current busy streak and the duty cycle.
pub(super) struct Busy {
    /// When the current streak began.
    streak: Instant,
    /// When the last batch ended.
    last: Instant,
    /// Each batch of the last [`DUTY_WINDOW`]: when it began and ended.
    recent: VecDeque<(Instant, Instant)>,
}

impl Busy {
    /// Nothing run yet, as of `now`.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            streak: now,
            last: now,
            recent: VecDeque::new(),
        }
    }

    /// A batch ran from `start` to `end`: it continues the streak unless an
    /// idle gap of more than [`IDLE_GAP`] came before it.
    pub(super) fn record(&mut self, start: Instant, end: Instant) {
        if start.saturating_duration_since(self.last) > IDLE_GAP {
            self.streak = start;
        }
        self.last = end;
        self.recent.push_back((start, end));
        while self
            .recent
            .front()
            .is_some_and(|&(_, e)| end.saturating_duration_since(e) > DUTY_WINDOW)
        {
            self.recent.pop_front();
        }
    }

    /// Seconds of the streak as of `now`: 0 once an idle gap of more than
    /// [`IDLE_GAP`] has begun.
    fn streak_s(&self, now: Instant) -> f64 {
        if now.saturating_duration_since(self.last) > IDLE_GAP {
            return 0.0;
        }
        self.last.duration_since(self.streak).as_secs_f64()
    }

    /// The fraction of the [`DUTY_WINDOW`] before `now` spent on batches.
    fn duty(&self, now: Instant) -> f64 {
        let from = now.checked_sub(DUTY_WINDOW).unwrap_or(now);
        let busy: Duration = self
            .recent
            .iter()
            .map(|&(s, e)| e.saturating_duration_since(s.max(from)))
            .sum();
        busy.as_secs_f64() / DUTY_WINDOW.as_secs_f64()
    }
}

impl Timer {
    /// Keep the GPU busy until it has worked for `seconds` without an idle
    /// gap of more than 250 ms (a streak already that long costs nothing).
    pub fn warm(&self, ctx: &GpuContext, seconds: f64) -> Result<()> {
        if seconds <= 0.0 {
            return Ok(());
        }
        while self.busy_s() < seconds {
            self.warm_batch(ctx)?;
        }
        Ok(())
    }

    /// Keep the GPU busy for at least `fraction` of the last second: called
    /// between probes, whose host-side work (preparing and verifying each
    /// candidate) otherwise leaves it mostly idle, and a GPU lowers its
    /// clocks on a low duty cycle as it does on an idle gap. Nothing to do
    /// where `fraction` is 0 or the GPU is busy enough already.
    pub fn keep_busy(&self, ctx: &GpuContext, fraction: f64) -> Result<()> {
        while self.duty() < fraction.min(0.95) {
            self.warm_batch(ctx)?;
        }
        Ok(())
    }

    /// Keep the GPU busy until the newest pipeline built on `ctx` is
    /// `seconds` old (see [`TimingConfig::settle_s`]); at once where it
    /// already is.
    ///
    /// [`TimingConfig::settle_s`]: crate::settings::TimingConfig::settle_s
    pub fn settle(&self, ctx: &GpuContext, seconds: f64) -> Result<()> {
        let want = Duration::from_secs_f64(seconds.max(0.0));
        while ctx.newest_pipeline_age().is_some_and(|age| age < want) {
            self.warm_batch(ctx)?;
        }
        Ok(())
    }

    /// The fraction of the last second the GPU spent on batches, as the
    /// host saw them (submit to the end of the wait).
    pub fn duty(&self) -> f64 {
        self.busy.borrow().duty(Instant::now())
    }

    /// Seconds the GPU has worked without an idle gap of more than 250 ms,
    /// as of now: 0 once such a gap has begun.
    pub fn busy_s(&self) -> f64 {
        self.busy.borrow().streak_s(Instant::now())
    }

    /// One batch of the warm-up kernel, the next one resized from how long
    /// this one took to last about [`WARM_BATCH_S`].
    fn warm_batch(&self, ctx: &GpuContext) -> Result<()> {
        let n = self.warm_runs.get();
        let b = self.batch(ctx, n, Some(&self.helpers.warm), false)?;
        let next = n as f64 * WARM_BATCH_S / b.wall_s.max(1e-6);
        self.warm_runs
            .set(next.round().clamp(1.0, MAX_WARM_RUNS as f64) as u32);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_streak_survives_short_gaps_and_ends_at_a_long_one() {
        let t0 = Instant::now();
        let mut b = Busy::new(t0);
        b.record(ms(t0, 0), ms(t0, 100));
        // 200 ms idle, under the gap: one streak of 400 ms.
        b.record(ms(t0, 300), ms(t0, 400));
        assert!((b.streak_s(ms(t0, 400)) - 0.4).abs() < 1e-9);
        // Read 260 ms after the last batch: the gap has begun.
        assert_eq!(b.streak_s(ms(t0, 660)), 0.0);
        // A batch after 300 ms idle starts a new streak.
        b.record(ms(t0, 700), ms(t0, 750));
        assert!((b.streak_s(ms(t0, 750)) - 0.05).abs() < 1e-9);
    }

    #[test]
    fn the_duty_cycle_counts_the_last_second_only() {
        let t0 = Instant::now();
        let mut b = Busy::new(t0);
        assert_eq!(b.duty(ms(t0, 1000)), 0.0);
        // 300 ms busy, then 100 ms, in the second before 1200 ms: the
        // first batch (0..300) is cut at 200 ms.
        b.record(ms(t0, 0), ms(t0, 300));
        b.record(ms(t0, 900), ms(t0, 1000));
        assert!((b.duty(ms(t0, 1000)) - 0.4).abs() < 1e-9);
        assert!((b.duty(ms(t0, 1200)) - 0.2).abs() < 1e-9);
        // Batches that ended over a second before the newest are dropped.
        b.record(ms(t0, 2000), ms(t0, 2500));
        assert_eq!(b.recent.len(), 1);
        assert!((b.duty(ms(t0, 2500)) - 0.5).abs() < 1e-9);
    }
}
