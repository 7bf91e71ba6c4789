//! The autotuner: every candidate configuration of a kernel is probed on
//! the kernel's probe slice, its output verified, and the fastest verified
//! one is measured on the whole op and verified again.

use super::timer::Timer;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::{run_and_verify, Extent, Kernel, KernelConfig, Prepared, Verification};
use crate::results::Trial;
use crate::settings::{Method, SuiteConfig};
use crate::stats::{Measurement, Summary};

/// The tuner's choice among the candidates.
pub struct Choice<C> {
    /// The chosen verified configuration (the fastest, or tied with it).
    pub config: C,
    /// Its probe's time per run, scaled to the whole op.
    pub estimate_s: f64,
    /// The record of the search, kept in the point.
    pub search: Search,
}

/// What a search leaves in the points it decided (empty where a point
/// reuses a configuration without searching).
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Every candidate tried, in order.
    pub trials: Vec<Trial>,
    /// The fraction of the least median probe ratio (each probe over its
    /// round's fastest) within which the chosen configuration was held tied
    /// with the fastest (the first listed of those tied is chosen).
    pub tie: Option<f64>,
}

/// Candidates whose first probe is within this fraction of the fastest
/// (three times its time) are probed again: one slow probe must not
/// decide. On a busy CPU adapter single probes have read 2-2.5x their
/// candidate's time (lavapipe, 2 cores: 15.9 ms, then 6.5, 6.4, 6.1); on
/// a GPU the candidates this admits are few and their probes take
/// milliseconds.
const RECHECK_WITHIN: f64 = 2.0;
/// Further probes of each such contender, in interleaved rounds; its
/// figure is the median of all: robust to one probe slowed by the host,
/// or one caught in a quiet moment the others missed.
const RECHECKS: usize = 2;
/// Where the probes of a contender or of the fastest scatter more than the
/// method's tie floor (within which they are always tied and the first
/// listed wins: noise must not flip the choice from one run to the next),
/// their tie widens to that spread, up to this.
const TIE_MAX: f64 = 0.15;
const _: () = assert!(TIE_MAX <= RECHECK_WITHIN, "only contenders tie");

/// Probe every candidate of `kernel` on its probe slice (each probe's
/// output cleared first and verified) and choose the fastest verified one.
/// Contenders close to the fastest are probed again, in rounds, and judged
/// by the median of their probes relative to each round's fastest;
/// near-ties (within `method`'s tie floor, or the probes' own scatter) go
/// to the first listed candidate.
pub fn tune<K>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    method: &Method,
    label: &str,
    kernel: &K,
) -> Result<Choice<K::Config>>
where
    K: Kernel,
    K::Config: Into<KernelConfig>,
{
    let mut trials = Vec::new();
    let mut verified: Vec<Verified<K::Config>> = Vec::new();
    let mut candidates = kernel.candidates(&ctx.caps);
    // Those the run excludes are listed, not built.
    candidates.retain(|&config| {
        let config: KernelConfig = config.into();
        let Some(pattern) = cfg.excluded_by(&config) else {
            return true;
        };
        trials.push(Trial {
            config,
            probe_s: None,
            probes_s: Vec::new(),
            verified: false,
            note: Some(format!("left out by --exclude `{pattern}`")),
        });
        false
    });
    if cfg.timing.settle_s > 0.0 {
        // Every candidate's pipelines first, then one settling wait, so no
        // probe runs a pipeline the driver has not finished with (those
        // that fail say why in the loop below).
        super::build_pipelines(ctx, kernel, &candidates)?;
        timer.settle(ctx, cfg.timing.settle_s)?;
    }
    for config in candidates {
        let mut rejected = |note: String| {
            trials.push(Trial {
                config: config.into(),
                probe_s: None,
                probes_s: Vec::new(),
                verified: false,
                note: Some(note),
            })
        };
        let p = match kernel.prepare(ctx, config, Extent::Probe) {
            Ok(p) => p,
            // Nothing else can run on a lost device.
            Err(e @ Error::DeviceLost { .. }) => return Err(e),
            Err(e) => {
                rejected(e.to_string());
                continue;
            }
        };
        // The probe's own output is verified: the output is cleared first,
        // so a kernel that writes nothing cannot pass on an earlier result.
        kernel.clear_output(ctx);
        // Between probes the GPU mostly waits for the host: topped up to
        // the method's duty cycle so its clocks hold.
        timer.keep_busy(ctx, method.keep_busy)?;
        // Drivers may compile a pipeline at its first dispatch (lavapipe
        // does): the first probe warms it up, the second is compared.
        timer.probe(ctx, &p.dispatches)?;
        let t = timer.probe(ctx, &p.dispatches)? / p.fraction;
        let v = run_and_verify(ctx, kernel, &p, cfg.samples.min(16))?;
        if !v.passed() {
            let note = format!("{} of {} sampled outputs wrong", v.mismatches, v.checked);
            rejected(note);
            continue;
        }
        trials.push(Trial {
            config: config.into(),
            probe_s: Some(t),
            probes_s: vec![t],
            verified: true,
            note: None,
        });
        verified.push(Verified {
            trial: trials.len() - 1,
            probe_s: t,
            work: Some(p),
        });
        // Those no longer close to the fastest will not be probed again:
        // free their bindings and scratch (split-k partials can be large).
        let close = within(&probe_times(&verified), RECHECK_WITHIN);
        for (i, v) in verified.iter_mut().enumerate() {
            if !close.contains(&i) {
                v.work = None;
            }
        }
    }
    let close = within(&probe_times(&verified), RECHECK_WITHIN);
    if close.len() > 1 {
        for _ in 0..RECHECKS {
            for &i in &close {
                let v = &mut verified[i];
                let p = v.work.as_ref().expect("close candidates keep their work");
                timer.keep_busy(ctx, method.keep_busy)?;
                let t = timer.probe(ctx, &p.dispatches)? / p.fraction;
                let trial = &mut trials[v.trial];
                trial.probes_s.push(t);
                v.probe_s = Summary::of(&trial.probes_s).map_or(t, |s| s.median);
                trial.probe_s = Some(v.probe_s);
            }
        }
    }
    // The choice is among the contenders, those that kept their work: a
    // candidate left out after its first probe stays out, even where the
    // contenders' medians rose above it. They are compared round by round.
    let probes: Vec<&[f64]> = close
        .iter()
        .map(|&i| &trials[verified[i].trial].probes_s[..])
        .collect();
    let picked = pick(&probes, method.tie_floor);
    let chosen = picked.map(|(j, _)| close[j]);
    let Some((config, estimate_s)) = chosen.map(|i| {
        let v = &verified[i];
        let work = v.work.as_ref().expect("contenders keep their work");
        (work.config, v.probe_s)
    }) else {
        let why: Vec<String> = trials.iter().filter_map(|t| t.note.clone()).collect();
        return Err(Error::Invalid(format!(
            "{label}: no kernel configuration ran and verified ({})",
            why.join("; ")
        )));
    };
    Ok(Choice {
        config,
        estimate_s,
        search: Search {
            trials,
            tie: picked.map(|(_, tie)| tie),
        },
    })
}

/// Each contender's probes over the fastest probe of the same round: round
/// 0 holds every candidate's first probe, rounds 1.. the interleaved
/// rechecks. A host whose speed moves between rounds (a CPU adapter's
/// memory switching between regimes within seconds) slows every probe of
/// a round alike, so the ratio within a round cancels it and leaves how the
/// candidates compare at one moment.
fn relative(probes: &[&[f64]]) -> Vec<Vec<f64>> {
    let rounds = probes.iter().map(|p| p.len()).min().unwrap_or(0);
    let mut out = vec![Vec::with_capacity(rounds); probes.len()];
    for r in 0..rounds {
        let least = probes.iter().map(|p| p[r]).fold(f64::INFINITY, f64::min);
        for (o, p) in out.iter_mut().zip(probes) {
            o.push(p[r] / least);
        }
    }
    out
}

/// The contender (index into `probes`, each one's probes in rounds) chosen
/// by its probes relative to each round's fastest, and its tie (at least
/// `floor`).
fn pick(probes: &[&[f64]], floor: f64) -> Option<(usize, f64)> {
    let relative = relative(probes);
    let contenders: Vec<(f64, &[f64])> = relative
        .iter()
        .map(|r| (Summary::of(r).map_or(1.0, |s| s.median), &r[..]))
        .collect();
    choose(&contenders, floor)
}

/// The first listed of `contenders` (each its median and the figures it is
/// the median of: in [`pick`], probe ratios) tied with the fastest, and
/// that tie: a contender ties with the fastest where its median is within
/// [`tie`] of the fastest's.
fn choose(contenders: &[(f64, &[f64])], floor: f64) -> Option<(usize, f64)> {
    let &(least, fastest) = contenders.iter().min_by(|a, b| a.0.total_cmp(&b.0))?;
    contenders
        .iter()
        .enumerate()
        .find_map(|(j, &(median, probes))| {
            let tie = tie(fastest, probes, floor);
            (median <= least * (1.0 + tie)).then_some((j, tie))
        })
}

/// The tie between two candidates whose probes were `a` and `b`: the
/// larger relative spread (slowest / fastest - 1) of either's own probes,
/// capped at [`TIE_MAX`], never below `floor`. Two candidates closer than
/// their own figures scatter cannot be told apart, and the listed order
/// decides between them; a third candidate's scatter does not widen it.
fn tie(a: &[f64], b: &[f64], floor: f64) -> f64 {
    let spread = |p: &[f64]| match Summary::of(p) {
        Some(s) if s.n > 1 && s.min > 0.0 => s.max / s.min - 1.0,
        _ => 0.0,
    };
    spread(a).max(spread(b)).min(TIE_MAX).max(floor)
}

/// A candidate that ran and verified.
struct Verified<C> {
    /// Its row in the trials.
    trial: usize,
    /// Its probes' median time per run, scaled to the whole op.
    probe_s: f64,
    /// Its compiled work, kept while it is close enough to be probed again.
    work: Option<Prepared<C>>,
}

fn probe_times<C>(verified: &[Verified<C>]) -> Vec<f64> {
    verified.iter().map(|v| v.probe_s).collect()
}

/// Indices, in order, of the times within `fraction` of the least.
fn within(times: &[f64], fraction: f64) -> Vec<usize> {
    let least = times.iter().copied().fold(f64::INFINITY, f64::min);
    (0..times.len())
        .filter(|&i| times[i] <= least * (1.0 + fraction))
        .collect()
}

/// What measuring one configuration on the whole op gives.
pub struct Measured {
    /// Timing, every sample kept.
    pub timing: Measurement,
    /// The sampled comparison with the host after the timing.
    pub verification: Verification,
    /// Dispatches per run.
    pub dispatches_per_op: usize,
}

/// Measure `config` on the whole op (in one dispatch, or in several where
/// one would run past the longest dispatch `method` allows), on a GPU
/// warmed for `method.warm_s` first, then verify it.
///
/// The warm-up is needed again after tuning, which leaves the GPU idle or
/// nearly so between probes (building and verifying each candidate): an
/// H200's SM clock fell from 1980 to 345 MHz within 2 s of idling, and to
/// about 700 MHz within 1.5 s of probes that kept it 4-7% busy, where one
/// op's decode attention read a third of its first probes' speed. Where the
/// tuning kept the GPU busy (`method.keep_busy`) without a long gap, the
/// streak it left already counts and this costs nothing.
#[allow(clippy::too_many_arguments)]
pub fn measure<K: Kernel>(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &SuiteConfig,
    method: &Method,
    label: &str,
    kernel: &K,
    config: K::Config,
    estimate_s: Option<f64>,
) -> Result<Measured> {
    let whole = whole_op(ctx, kernel, config, estimate_s, method.max_dispatch_s)?;
    timer.warm(ctx, method.warm_s)?;
    let timing =
        timer.measure_with_estimate(ctx, &cfg.timing, label, &whole.dispatches, estimate_s)?;
    let verification = run_and_verify(ctx, kernel, &whole, cfg.samples)?;
    Ok(Measured {
        timing,
        verification,
        dispatches_per_op: whole.dispatches.per_run(),
    })
}

/// `config` bound to the whole op: in one dispatch, or where one would run
/// past `max_dispatch_s` (by the estimate), in enough to stay under it.
pub(super) fn whole_op<K: Kernel>(
    ctx: &GpuContext,
    kernel: &K,
    config: K::Config,
    estimate_s: Option<f64>,
    max_dispatch_s: Option<f64>,
) -> Result<Prepared<K::Config>> {
    let whole = kernel.prepare(ctx, config, Extent::Whole)?;
    if let (Some(e), Some(max)) = (estimate_s, max_dispatch_s) {
        if e / whole.dispatches.per_run().max(1) as f64 > max {
            let parts = (e / (0.8 * max)).ceil() as u32;
            return kernel.prepare(ctx, config, Extent::Split(parts));
        }
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{CPU_TIE_FLOOR, GPU_TIE_FLOOR};

    #[test]
    fn contenders_by_hand() {
        // 1.0 is the least; 1.08, 1.008 and 2.9 are probed again (within
        // 3x), 3.5 is not; in listed order.
        let t = [1.08, 1.008, 1.0, 3.5, 2.9];
        assert_eq!(within(&t, RECHECK_WITHIN), [0, 1, 2, 4]);
        assert_eq!(within(&[2.0], RECHECK_WITHIN), [0]);
        assert!(within(&[], RECHECK_WITHIN).is_empty());
    }

    #[test]
    fn ties_widen_with_the_probes_own_spread() {
        let gpu = GPU_TIE_FLOOR;
        // Steady probes (a GPU): the floor.
        assert_eq!(tie(&[1.0, 1.002, 1.001], &[1.05, 1.051, 1.05], gpu), gpu);
        // One of the two scattered 1.0 .. 1.08: 8%.
        assert!((tie(&[1.0, 1.08, 1.03], &[1.05, 1.06], gpu) - 0.08).abs() < 1e-12);
        // Never past the cap, and one probe shows no spread.
        assert_eq!(tie(&[1.0, 2.0], &[3.0], gpu), TIE_MAX);
        assert_eq!(tie(&[2.0], &[3.0], gpu), gpu);
        // A CPU adapter's floor holds steady probes tied; wider scatter
        // still widens the tie.
        assert_eq!(tie(&[1.0, 1.02], &[1.0], CPU_TIE_FLOOR), CPU_TIE_FLOOR);
        assert!((tie(&[1.0, 1.08], &[1.0], CPU_TIE_FLOOR) - 0.08).abs() < 1e-12);
    }

    #[test]
    fn probes_relative_to_each_rounds_fastest() {
        // Round 1 ran twice as slow for both: the ratios do not see it.
        let a: &[f64] = &[1.0, 2.0, 1.0];
        let b: &[f64] = &[1.5, 2.2, 0.8];
        let r = relative(&[a, b]);
        let want = [[1.0, 1.0, 1.25], [1.5, 1.1, 1.0]];
        for (got, want) in r.iter().zip(want) {
            assert_eq!(got.len(), 3);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{r:?}");
            }
        }
        // A lone contender is its own fastest; rounds end with the shortest.
        assert_eq!(relative(&[&[3.0]]), [vec![1.0]]);
        assert_eq!(relative(&[&[2.0, 4.0], &[1.0]]), [vec![2.0], vec![1.0]]);
    }

    #[test]
    fn a_round_slowed_by_the_host_does_not_flip_the_choice() {
        // The probes (ms) of two softmax configurations in two runs of one
        // session on lavapipe; the first listed (workgroups of 8) caught a
        // slow moment in the second run's last round. By medians the runs
        // disagree; round by round both hold the two tied.
        let runs: [[&[f64]; 2]; 2] = [
            [&[1.179, 1.702, 1.089], &[1.079, 1.078, 1.076]],
            [&[1.140, 2.030, 1.645], &[1.123, 2.211, 1.138]],
        ];
        let by_median = |probes: &[&[f64]; 2]| {
            let c: Vec<(f64, &[f64])> = probes
                .iter()
                .map(|&p| (Summary::of(p).unwrap().median, p))
                .collect();
            choose(&c, GPU_TIE_FLOOR).unwrap().0
        };
        let by_round = |probes: &[&[f64]; 2]| pick(probes, GPU_TIE_FLOOR).unwrap().0;
        assert_ne!(by_median(&runs[0]), by_median(&runs[1]));
        assert_eq!(by_round(&runs[0]), 0);
        assert_eq!(by_round(&runs[1]), 0);
    }

    #[test]
    fn the_first_listed_contender_tied_with_the_fastest_is_chosen() {
        // The fastest (1.0) and the first listed (1.07) each scatter 8%:
        // tied, the first listed wins, with that tie.
        let steady: &[f64] = &[1.0, 1.02, 1.0];
        let scattered: &[f64] = &[1.0, 1.08, 1.04];
        let c = [(1.07, scattered), (1.0, scattered)];
        let (j, t) = choose(&c, GPU_TIE_FLOOR).unwrap();
        assert_eq!(j, 0);
        assert!((t - 0.08).abs() < 1e-12);
        // Both steady (2%): 7% apart is a real difference.
        let c = [(1.07, steady), (1.0, steady)];
        let (j, t) = choose(&c, GPU_TIE_FLOOR).unwrap();
        assert_eq!(j, 1);
        assert!((t - 0.02).abs() < 1e-12);
        // A third contender's scatter does not tie the two steady ones.
        let noisy: &[f64] = &[1.5, 3.0, 2.0];
        let c = [(1.07, steady), (1.0, steady), (2.0, noisy)];
        assert_eq!(choose(&c, GPU_TIE_FLOOR).unwrap().0, 1);
        assert!(choose(&[], GPU_TIE_FLOOR).is_none());
        // On a CPU adapter the two steady ones, 7% apart, are tied at 5%
        // no more; 3% apart they are, and the first listed wins.
        let c = [(1.07, steady), (1.0, steady)];
        assert_eq!(choose(&c, CPU_TIE_FLOOR).unwrap().0, 1);
        let c = [(1.03, steady), (1.0, steady)];
        assert_eq!(choose(&c, CPU_TIE_FLOOR).unwrap(), (0, CPU_TIE_FLOOR));
    }
}
