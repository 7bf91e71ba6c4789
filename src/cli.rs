//! Command-line interface: argument definitions and the subcommands.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use wgpu_roofline::gpu::{self, AdapterFilter, AdapterSummary, BackendChoice, GpuContext};
use wgpu_roofline::kernels::peak::PeakParams;
use wgpu_roofline::kernels::DType;
use wgpu_roofline::results::{self, ResultsFile};
use wgpu_roofline::roofs::{self, RoofsConfig};
use wgpu_roofline::timer::{Timer, TimerPreference};
use wgpu_roofline::{report, Error};

/// Measured rooflines of LLM kernels on any GPU and backend, through WGSL
/// compute shaders and wgpu.
#[derive(Debug, Parser)]
#[command(name = "wgpu-roofline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every adapter on every backend with the features and limits that matter here.
    ///
    /// Example: wgpu-roofline devices --json
    Devices(DevicesArgs),
    /// Measure the memory roof (streaming kernels) and compute roof (peak FMA kernels).
    ///
    /// Example: wgpu-roofline roofs --backend vulkan --json roofs.json
    Roofs(RoofsArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BackendArg {
    Auto,
    Vulkan,
    Gl,
    Metal,
    Dx12,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Auto => Self::Auto,
            BackendArg::Vulkan => Self::Vulkan,
            BackendArg::Gl => Self::Gl,
            BackendArg::Metal => Self::Metal,
            BackendArg::Dx12 => Self::Dx12,
        }
    }
}

#[derive(Debug, Args)]
struct DevicesArgs {
    /// Backends to list.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Where to measure: shared by every measuring command.
#[derive(Debug, Args)]
struct DeviceArgs {
    /// Graphics API; `auto` prefers a discrete GPU, then integrated, then a CPU adapter.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendArg,
    /// Adapter by index (as `devices --backend B` lists them) or name substring.
    #[arg(long, value_name = "NAME_SUBSTRING|INDEX")]
    adapter: Option<AdapterFilter>,
    /// Seconds any single wait on the GPU may take before the run fails.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    deadline: f64,
}

impl DeviceArgs {
    fn open(&self) -> Result<GpuContext> {
        if !(self.deadline.is_finite() && self.deadline > 0.0) {
            bail!("--deadline must be a positive number of seconds");
        }
        let mut ctx = GpuContext::open(self.backend.into(), self.adapter.as_ref())?;
        ctx.deadline = Duration::from_secs_f64(self.deadline);
        Ok(ctx)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TimerArg {
    /// GPU timestamps when the adapter has them, else wall clock.
    Auto,
    /// GPU timestamps; fail without TIMESTAMP_QUERY.
    Gpu,
    /// Host wall clock around submit + wait.
    Wall,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
enum DTypeArg {
    F32,
    F16,
    All,
}

#[derive(Debug, Args)]
struct RoofsArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// Write the results file here (`-` for stdout; the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Bytes per streaming array, e.g. 64MiB [default: the adapter's largest storage binding, at most 256MiB].
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Array triples the streaming dispatches rotate through [default: enough for 1 GiB with the default size, else 1].
    #[arg(long)]
    sets: Option<u32>,
    /// Invocations per workgroup of the streaming kernels.
    #[arg(long, default_value_t = 256)]
    workgroup_size: u32,
    /// vec4 elements per invocation of the streaming kernels.
    #[arg(long, default_value_t = 4)]
    vec4_per_invocation: u32,
    /// Data types of the peak kernel (f16 needs SHADER_F16; `all` skips it when missing).
    #[arg(long, value_enum, default_value = "all")]
    dtype: DTypeArg,
    /// Workgroups of the peak kernel (256 invocations each).
    #[arg(long)]
    peak_workgroups: Option<u32>,
    /// FMA steps per accumulator in the peak kernel: a multiple of 8, f32 at most 262144, f16 at most 384.
    #[arg(long)]
    peak_iterations: Option<u32>,
    /// Independent vec4 accumulators per invocation of the peak kernel (1..=8) [default: try 2, 3, 4 and 8, keep the best].
    #[arg(long)]
    peak_chains: Option<u32>,
    /// Sampled batches per kernel.
    #[arg(long, default_value_t = 10)]
    repeats: u32,
    /// Discarded warm-up batches per kernel.
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    /// Shortest batch, in milliseconds; sets dispatches per batch.
    #[arg(long, default_value_t = 20.0)]
    min_batch_ms: f64,
    /// Clock to time with.
    #[arg(long, value_enum, default_value = "auto")]
    timer: TimerArg,
    /// Keep wgpu's shader runtime checks (bounds checks, loop bounding) on.
    #[arg(long)]
    checked: bool,
}

/// Parse a byte size: a number with an optional unit (B, KiB, MiB, GiB, KB, MB, GB; K, M, G are binary).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try 4096, 64MiB or 1GiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Run the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices(a) => devices(a),
        Command::Roofs(a) => roofs_cmd(a),
    }
}

fn devices(args: DevicesArgs) -> Result<()> {
    let choice: BackendChoice = args.backend.into();
    let list: Vec<AdapterSummary> = gpu::enumerate(choice)
        .iter()
        .enumerate()
        .map(|(i, a)| AdapterSummary::of(i, a))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        return Err(Error::NoAdapter {
            tried: choice.describe(),
        }
        .into());
    } else {
        print!("{}", report::devices_table(&list));
    }
    Ok(())
}

/// Progress on stderr: a bar on a terminal, one line per kernel otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: std::cell::Cell<usize>,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {msg}")
                    .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self {
            bar,
            total,
            done: std::cell::Cell::new(0),
        }
    }

    fn start(&self, name: &str) {
        match &self.bar {
            Some(b) => b.set_message(name.to_string()),
            None => eprintln!("[{}/{}] {name} ...", self.done.get() + 1, self.total),
        }
    }

    fn finish_one(&self, line: &str) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => eprintln!("      {line}"),
        }
    }

    fn close(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn roofs_cmd(a: RoofsArgs) -> Result<()> {
    let to_stdout = a.json.as_deref() == Some(std::path::Path::new("-"));
    if let Some(path) = a.json.as_deref().filter(|_| !to_stdout) {
        results::check_writable(path)?;
    }
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if !(a.min_batch_ms.is_finite() && a.min_batch_ms >= 0.0) {
        bail!("--min-batch-ms must be a non-negative number");
    }
    let ctx = a.device.open()?;
    let mut cfg = RoofsConfig::for_device(&ctx);
    if let Some(size) = a.size {
        cfg.stream.array_bytes = size;
        cfg.stream.sets = 1;
    }
    if let Some(sets) = a.sets {
        cfg.stream.sets = sets;
    }
    cfg.stream.workgroup_size = a.workgroup_size;
    cfg.stream.vec4_per_invocation = a.vec4_per_invocation;
    cfg.timing.repeats = a.repeats;
    cfg.timing.warmup = a.warmup;
    cfg.timing.min_batch_s = a.min_batch_ms / 1e3;
    cfg.shader_checks = a.checked;
    let wanted = match a.dtype {
        DTypeArg::F32 => vec![DType::F32],
        DTypeArg::F16 => vec![DType::F16],
        DTypeArg::All => vec![DType::F32, DType::F16],
    };
    cfg.peaks.clear();
    for d in wanted {
        if !d.supported(&ctx) {
            if a.dtype == DTypeArg::All {
                eprintln!("skipping f16: {} lacks SHADER_F16", ctx.adapter.name);
                continue;
            }
            return Err(Error::Unsupported {
                dtype: d.name().into(),
                adapter: ctx.adapter.name.clone(),
                feature: "SHADER_F16",
            }
            .into());
        }
        let chains = match a.peak_chains {
            Some(c) => vec![c],
            None => PeakParams::DEFAULT_CHAINS.to_vec(),
        };
        for c in chains {
            let mut p = PeakParams::default_for(d);
            p.workgroups = a.peak_workgroups.unwrap_or(p.workgroups);
            p.iterations = a.peak_iterations.unwrap_or(p.iterations);
            p.chains = c;
            cfg.peaks.push(p);
        }
    }

    cfg.validate(&ctx)?;
    let timer = Timer::new(
        &ctx,
        match a.timer {
            TimerArg::Auto => TimerPreference::Auto,
            TimerArg::Gpu => TimerPreference::Gpu,
            TimerArg::Wall => TimerPreference::Wall,
        },
    )?;
    eprintln!(
        "measuring roofs on {} ({}), {} timer",
        ctx.adapter.name,
        ctx.adapter.backend,
        match timer.info().kind {
            wgpu_roofline::timer::TimerKind::GpuTimestamp => "GPU timestamp",
            wgpu_roofline::timer::TimerKind::WallClock => "wall-clock",
        }
    );
    let progress = Progress::new(cfg.kernel_count());
    let records = roofs::measure(
        &ctx,
        &timer,
        &cfg,
        &mut |name| progress.start(name),
        &mut |r| {
            let rate = match r.roof {
                wgpu_roofline::kernels::RoofKind::Memory => report::si(r.bytes_per_s, "B/s"),
                wgpu_roofline::kernels::RoofKind::Compute => report::si(r.flops_per_s, "FLOP/s"),
            };
            let ok = if r.verified {
                "verified"
            } else {
                "FAILED VERIFICATION"
            };
            progress.finish_one(&format!("{:<14} {rate:>16}  {ok}", r.name));
        },
    );
    progress.close();
    let records = records.context("measuring the roofs")?;
    let file = ResultsFile::new(&ctx, timer.info().clone(), cfg, records);
    let table = report::roofs_table(&file);
    match &a.json {
        Some(_) if to_stdout => {
            eprint!("{table}");
            println!("{}", file.to_json());
        }
        Some(path) => {
            print!("{table}");
            results::write_atomic(path, &file.to_json())?;
            println!("\nwrote {}", path.display());
        }
        None => print!("{table}"),
    }
    let bad: Vec<_> = file.unverified().map(|k| k.name.as_str()).collect();
    if !bad.is_empty() {
        bail!(
            "{} kernel(s) failed verification: {}",
            bad.len(),
            bad.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2 KiB"), Ok(2048));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
