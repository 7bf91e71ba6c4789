//! Command-line interface: argument definitions and the subcommands.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use wgpu_roofline::gpu::{self, AdapterFilter, AdapterSummary, BackendChoice, GpuContext};
use wgpu_roofline::kernels::peak::PeakParams;
use wgpu_roofline::kernels::{DType, RoofKind};
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Sweep};
use wgpu_roofline::plot::{self, PlotOptions, Preset};
use wgpu_roofline::report::Format;
use wgpu_roofline::results::{self, ResultsFile, Skipped, Workload};
use wgpu_roofline::roofs::{self, RoofsConfig};
use wgpu_roofline::suite::{self, SuiteConfig};
use wgpu_roofline::timer::{Timer, TimerKind, TimerPreference, TimingConfig};
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
    /// Measure the roofs, then every matrix product of a model, prefill and decode, into DIR/results.json.
    ///
    /// Example: wgpu-roofline run --quick --out llama-run
    Run(RunArgs),
    /// Draw a roofline chart (PNG or SVG) from one or more results files.
    ///
    /// Example: wgpu-roofline plot run/results.json -o roofline.svg --preset a6000
    Plot(PlotArgs),
    /// Compare the achieved FLOP/s of several runs, op by op, with ratios to the first.
    ///
    /// Example: wgpu-roofline compare vulkan/results.json gl/results.json --format md
    Compare(CompareArgs),
    /// Every point of a run with its efficiency against the spec and the measured roofs.
    ///
    /// Example: wgpu-roofline report run/results.json --format csv
    Report(ReportArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Aligned columns.
    Text,
    /// Markdown table.
    Md,
    /// Comma-separated values.
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Md => Format::Markdown,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// Results files; the first is the baseline of the ratios.
    #[arg(required = true, num_args = 2.., value_name = "RESULTS.json")]
    results: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// A results file written by `run`.
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
    #[command(flatten)]
    spec: SpecArgs,
}

/// Which spec ceilings to draw: shared by `plot` and `run`.
#[derive(Debug, Args)]
struct SpecArgs {
    /// Spec ceilings of a known GPU (a6000, a100, h100, rtx4090) or `none`.
    #[arg(long, default_value = "a6000")]
    preset: String,
    /// Custom spec compute ceiling in FLOP/s (with --peak-bw), e.g. 181e12.
    #[arg(long, requires = "peak_bw")]
    peak_flops: Option<f64>,
    /// Custom spec memory ceiling in bytes/s (with --peak-flops), e.g. 768e9.
    #[arg(long, requires = "peak_flops")]
    peak_bw: Option<f64>,
}

impl SpecArgs {
    fn options(&self) -> Result<PlotOptions> {
        let spec = match (self.peak_flops, self.peak_bw) {
            (Some(f), Some(b)) => {
                if !(f.is_finite() && f > 0.0 && b.is_finite() && b > 0.0) {
                    bail!("--peak-flops and --peak-bw must be positive numbers");
                }
                Some(Preset {
                    name: "custom",
                    label: "spec",
                    bytes_per_s: b,
                    flops_per_s: f,
                })
            }
            _ => Preset::by_name(&self.preset)?,
        };
        Ok(PlotOptions {
            spec,
            ..PlotOptions::default()
        })
    }
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// Results files written by `run` or `roofs`.
    #[arg(required = true, value_name = "RESULTS.json")]
    results: Vec<PathBuf>,
    /// Output image; the extension (.png or .svg) picks the format.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    spec: SpecArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
enum BackendArg {
    Auto,
    Vulkan,
    Gl,
    Metal,
    Dx12,
    /// Every backend with an adapter, one after the other (`run` only).
    All,
}

impl BackendArg {
    /// The single backend choice; `all` is only meaningful to `run`.
    fn choice(self) -> Result<BackendChoice> {
        Ok(match self {
            Self::Auto => BackendChoice::Auto,
            Self::Vulkan => BackendChoice::Vulkan,
            Self::Gl => BackendChoice::Gl,
            Self::Metal => BackendChoice::Metal,
            Self::Dx12 => BackendChoice::Dx12,
            Self::All => bail!("--backend all is only for `run`; pick one backend here"),
        })
    }

    /// The backends `all` stands for, or `None` for a single choice.
    fn all(self) -> Option<[BackendChoice; 4]> {
        (self == Self::All).then_some([
            BackendChoice::Vulkan,
            BackendChoice::Gl,
            BackendChoice::Metal,
            BackendChoice::Dx12,
        ])
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
        self.open_on(self.backend.choice()?)
    }

    /// Open a device on `choice` with these arguments' filter and deadline.
    fn open_on(&self, choice: BackendChoice) -> Result<GpuContext> {
        self.open_with(choice, self.adapter.as_ref())
    }

    /// Open a device on `choice` matching `filter`, with this deadline and
    /// its watchdog.
    fn open_with(
        &self,
        choice: BackendChoice,
        filter: Option<&AdapterFilter>,
    ) -> Result<GpuContext> {
        let deadline = self.deadline()?;
        let mut ctx = GpuContext::open(choice, filter)?;
        ctx.deadline = deadline;
        watch(&ctx);
        Ok(ctx)
    }

    /// `--deadline`, checked.
    fn deadline(&self) -> Result<Duration> {
        if !(self.deadline.is_finite() && self.deadline > 0.0) {
            bail!("--deadline must be a positive number of seconds");
        }
        Ok(Duration::from_secs_f64(self.deadline))
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

/// How kernels are sampled: shared by every measuring command.
#[derive(Debug, Args)]
struct TimingArgs {
    /// Sampled batches per kernel [default: 10 for roofs, 5 for run].
    #[arg(long)]
    repeats: Option<u32>,
    /// Discarded warm-up batches per kernel [default: 2 for roofs, 1 for run].
    #[arg(long)]
    warmup: Option<u32>,
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

impl TimingArgs {
    fn check(&self) -> Result<()> {
        if self.repeats == Some(0) {
            bail!("--repeats must be at least 1");
        }
        if !(self.min_batch_ms.is_finite() && self.min_batch_ms >= 0.0) {
            bail!("--min-batch-ms must be a non-negative number");
        }
        Ok(())
    }

    fn apply(&self, t: &mut TimingConfig) {
        t.repeats = self.repeats.unwrap_or(t.repeats);
        t.warmup = self.warmup.unwrap_or(t.warmup);
        t.min_batch_s = self.min_batch_ms / 1e3;
    }

    fn timer(&self, ctx: &GpuContext) -> Result<Timer> {
        Ok(Timer::new(
            ctx,
            match self.timer {
                TimerArg::Auto => TimerPreference::Auto,
                TimerArg::Gpu => TimerPreference::Gpu,
                TimerArg::Wall => TimerPreference::Wall,
            },
        )?)
    }
}

#[derive(Debug, Args)]
struct RoofsArgs {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    timing: TimingArgs,
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
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    timing: TimingArgs,
    /// Model: a built-in name (llama-7b, llama-13b, llama-2-70b, llama-3-8b, mistral-7b) or a config.json file.
    #[arg(long, default_value = "llama-7b")]
    model: String,
    /// Reduced sweep (S = 128; decode B = 1, 16 at L = 2048) and lighter roofs: about four minutes on a 2-core software adapter.
    #[arg(long)]
    quick: bool,
    /// Data types (`all` skips f16 with a note when the adapter lacks SHADER_F16).
    #[arg(long, value_enum, default_value = "all")]
    dtype: DTypeArg,
    /// Prefill sequence lengths, comma-separated [default: 128,256,512,1024,2048,4096].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    seq_lens: Option<Vec<u64>>,
    /// Decode batch sizes, comma-separated [default: 1,2,4,8,16,32,64].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    batches: Option<Vec<u64>>,
    /// KV context length of the decode points.
    #[arg(long, default_value_t = 2048, value_parser = parse_count)]
    context: u64,
    /// Further context lengths of decode attention at B = 1, comma-separated [default: 128,...,4096; none with --quick].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    contexts: Option<Vec<u64>>,
    /// Output directory [default: a new folder named after the date, model and adapter].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Output elements checked against the host per op.
    #[arg(long, default_value_t = 64)]
    samples: u64,
    /// Sampling passes over the whole plan: each further pass samples every op again after all the others, so a point's spread covers the machine's drift over the run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    passes: u32,
    /// Continue the stopped run in DIR (interrupted, or ended by an error):
    /// same adapter, model, sweep and settings; finished points are kept.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["model", "quick", "dtype", "seq_lens", "batches", "contexts", "out"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    spec: SpecArgs,
}

/// A positive count.
fn parse_count(s: &str) -> std::result::Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be greater than zero".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
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
        Command::Run(a) => run_cmd(a),
        Command::Plot(a) => plot_cmd(a),
        Command::Compare(a) => compare_cmd(a),
        Command::Report(a) => report_cmd(a),
    }
}

fn devices(args: DevicesArgs) -> Result<()> {
    let choice = args.backend.choice()?;
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
    a.timing.check()?;
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
    a.timing.apply(&mut cfg.timing);
    cfg.shader_checks = a.timing.checked;
    cfg.peaks.clear();
    for d in dtypes(a.dtype, &ctx)? {
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
    let timer = a.timing.timer(&ctx)?;
    announce(&ctx, &timer, "roofs");
    let progress = Progress::new(cfg.kernel_count());
    let records = measure_roofs(&ctx, &timer, &cfg, &progress);
    progress.close();
    let records = records?;
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
    fail_if_unverified(&file)
}
fn fail_if_unverified(file: &ResultsFile) -> Result<()> {
    let bad = file.unverified();
    if !bad.is_empty() {
        bail!(
            "{} kernel(s) or point(s) failed verification: {}",
            bad.len(),
            bad.join(", ")
        );
    }
    Ok(())
}

/// The dtypes asked for that the adapter can run; `all` skips f16 with a note.
fn dtypes(arg: DTypeArg, ctx: &GpuContext) -> Result<Vec<DType>> {
    let wanted = match arg {
        DTypeArg::F32 => vec![DType::F32],
        DTypeArg::F16 => vec![DType::F16],
        DTypeArg::All => vec![DType::F32, DType::F16],
    };
    let mut out = Vec::new();
    for d in wanted {
        if d.supported(ctx) {
            out.push(d);
        } else if arg == DTypeArg::All {
            eprintln!("skipping f16: {} lacks SHADER_F16", ctx.adapter.name);
        } else {
            return Err(Error::Unsupported {
                dtype: d.name().into(),
                adapter: ctx.adapter.name.clone(),
                feature: "SHADER_F16",
            }
            .into());
        }
    }
    Ok(out)
}

fn announce(ctx: &GpuContext, timer: &Timer, what: &str) {
    eprintln!(
        "measuring {what} on {} ({}), {} timer",
        ctx.adapter.name,
        ctx.adapter.backend,
        match timer.info().kind {
            TimerKind::GpuTimestamp => "GPU timestamp",
            TimerKind::WallClock => "wall-clock",
        }
    );
}

/// The roofs, with a progress line per kernel.
fn measure_roofs(
    ctx: &GpuContext,
    timer: &Timer,
    cfg: &RoofsConfig,
    progress: &Progress,
) -> Result<Vec<wgpu_roofline::kernels::KernelRecord>> {
    roofs::measure(
        ctx,
        timer,
        cfg,
        &mut |name| progress.start(name),
        &mut |r| {
            let rate = match r.roof {
                RoofKind::Memory => report::si(r.bytes_per_s, "B/s"),
                RoofKind::Compute => report::si(r.flops_per_s, "FLOP/s"),
            };
            let ok = if r.verified {
                "verified"
            } else {
                "FAILED VERIFICATION"
            };
            progress.finish_one(&format!("{:<14} {rate:>16}  {ok}", r.name));
        },
    )
    .context("measuring the roofs")
}

/// File-system-friendly slug: lowercase letters, digits and dashes.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(40).collect()
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultsFile>> {
    Ok(paths
        .iter()
        .map(|p| ResultsFile::read(p))
        .collect::<wgpu_roofline::Result<Vec<_>>>()?)
}

fn compare_cmd(a: CompareArgs) -> Result<()> {
    let runs = read_all(&a.results)?;
    print!("{}", report::compare_table(&runs).render(a.format.into()));
    Ok(())
}

fn report_cmd(a: ReportArgs) -> Result<()> {
    let spec = a
        .spec
        .options()?
        .spec
        .map(|s| (s.bytes_per_s, s.flops_per_s));
    let run = ResultsFile::read(&a.results)?;
    print!(
        "{}",
        report::report_table(&run, spec).render(a.format.into())
    );
    Ok(())
}

fn plot_cmd(a: PlotArgs) -> Result<()> {
    let opts = a.spec.options()?;
    let runs = read_all(&a.results)?;
    draw_atomic(&runs, &opts, &a.output)?;
    println!("wrote {}", a.output.display());
    Ok(())
}

/// Draw into a temporary file beside `path`, then rename: never half an image.
fn draw_atomic(runs: &[ResultsFile], opts: &PlotOptions, path: &std::path::Path) -> Result<()> {
    results::check_writable(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    plot::draw(runs, opts, tmp.path())?;
    results::persist(tmp, path)?;
    Ok(())
}

fn run_cmd(a: RunArgs) -> Result<()> {
    a.timing.check()?;
    let plot_opts = a.spec.options()?;
    if a.samples == 0 {
        bail!("--samples must be at least 1");
    }
    install_interrupt_handler();
    if let Some(dir) = &a.resume {
        let file = resume(&a, dir, &plot_opts)?;
        return fail_if_unverified(&file);
    }
    let model = ModelConfig::load(&a.model)?;
    let mut sweep = if a.quick {
        Sweep::quick(vec![])
    } else {
        Sweep::full(vec![])
    };
    if let Some(s) = &a.seq_lens {
        sweep.seq_lens = s.clone();
    }
    if let Some(b) = &a.batches {
        sweep.batches = b.clone();
    }
    sweep.context = a.context;
    if let Some(c) = &a.contexts {
        sweep.contexts = c.clone();
    }
    if let Some(out) = &a.out {
        if out.exists() && !out.is_dir() {
            bail!("--out {} exists and is not a directory", out.display());
        }
    }
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();

    let Some(choices) = a.device.backend.all() else {
        let ctx = a.device.open()?;
        let dir = a.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "roofline-{stamp}-{}-{}-{}",
                slug(&model.name),
                slug(&ctx.adapter.name),
                ctx.adapter.backend
            ))
        });
        let file = run_on(&ctx, &a, model, sweep, &dir, &plot_opts)?;
        return fail_if_unverified(&file);
    };

    // --backend all: one run per backend found, then the overlay and the comparison.
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("roofline-{stamp}-{}-all", slug(&model.name))));
    let mut files = Vec::new();
    for choice in choices {
        let ctx = match a.device.open_on(choice) {
            Ok(ctx) => ctx,
            Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::NoAdapter { .. })) => {
                continue
            }
            Err(e) => return Err(e),
        };
        let sub = dir.join(&ctx.adapter.backend);
        files.push(run_on(
            &ctx,
            &a,
            model.clone(),
            sweep.clone(),
            &sub,
            &plot_opts,
        )?);
    }
    if files.is_empty() {
        return Err(Error::NoAdapter {
            tried: BackendChoice::Auto.describe(),
        }
        .into());
    }
    for name in ["roofline.png", "roofline.svg"] {
        draw_atomic(&files, &plot_opts, &dir.join(name))?;
    }
    let table = report::compare_table(&files);
    results::write_atomic(&dir.join("compare.md"), &table.render(Format::Markdown))?;
    println!();
    print!("{}", table.render(Format::Text));
    println!(
        "\nwrote {} runs, the overlay roofline.png/.svg and compare.md into {}",
        files.len(),
        dir.display()
    );
    files.iter().try_for_each(fail_if_unverified)
}

/// Measure the roofs and every op of `sweep` on `ctx` into `dir`: the
/// results file (rewritten after every op) and the two charts.
fn run_on(
    ctx: &GpuContext,
    a: &RunArgs,
    model: ModelConfig,
    mut sweep: Sweep,
    dir: &std::path::Path,
    plot_opts: &PlotOptions,
) -> Result<ResultsFile> {
    sweep.dtypes = dtypes(a.dtype, ctx)?;
    // Sizes are checked before anything runs: a linear layer that cannot run
    // is an error; attention beyond this adapter's buffers is skipped, said.
    let mut ops = Vec::new();
    let mut skipped = Vec::new();
    for op in plan::plan(&model, &sweep)? {
        match suite::check_op(ctx, &op) {
            Ok(()) => ops.push(op),
            Err(e) if op.series.is_attention() => {
                eprintln!("skipping {e}");
                skipped.push(Skipped {
                    op: op.label(),
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut roofs_cfg = if a.quick {
        RoofsConfig::quick(ctx)
    } else {
        RoofsConfig::for_device(ctx)
    };
    roofs_cfg.peaks.retain(|p| sweep.dtypes.contains(&p.dtype));
    a.timing.apply(&mut roofs_cfg.timing);
    roofs_cfg.shader_checks = a.timing.checked;
    roofs_cfg.validate(ctx)?;
    let mut suite_cfg = SuiteConfig {
        samples: a.samples,
        passes: a.passes,
        shader_checks: a.timing.checked,
        ..SuiteConfig::default()
    };
    a.timing.apply(&mut suite_cfg.timing);

    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create --out {}", dir.display()))?;
    let path = dir.join("results.json");
    results::check_writable(&path)?;

    let timer = a.timing.timer(ctx)?;
    announce(ctx, &timer, &format!("{} ({} ops)", model.name, ops.len()));
    let started = std::time::Instant::now();
    let progress = Progress::new(roofs_cfg.kernel_count() + ops.len() * a.passes as usize);
    let records = measure_roofs(ctx, &timer, &roofs_cfg, &progress);
    let mut file = match records {
        Ok(r) => ResultsFile::new(ctx, timer.info().clone(), roofs_cfg, r),
        Err(e) => {
            progress.close();
            return Err(e);
        }
    };
    file.workload = Some(Workload {
        model,
        sweep,
        suite: suite_cfg,
    });
    file.skipped = skipped;
    measure_ops(ctx, &timer, &ops, &mut file, dir, plot_opts, &progress)?;
    finish_run(&file, dir, plot_opts, started)?;
    Ok(file)
}

/// Bound every GPU wait, including a submission that blocks inside the
/// driver: past the deadline without progress, say so and exit (results
/// files are rewritten atomically, so what was kept stays valid).
fn watch(ctx: &GpuContext) {
    ctx.watchdog(|deadline| {
        eprintln!(
            "error: {}; results written so far are kept",
            Error::Timeout {
                seconds: deadline.as_secs_f64()
            }
        );
        std::process::exit(1);
    });
}

/// What a results file says while its run is unfinished.
const UNFINISHED: &str = "the run stopped before its last op";

/// Set by the first Ctrl-C: `run` stops after the op in progress.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C once: finish the current op, save, plot, stop. Twice: stop at
/// once (the results file, rewritten atomically after every op, stays valid).
fn install_interrupt_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                eprintln!("\ninterrupted again: stopping now");
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: stopping after the current op (Ctrl-C again to stop at once)"
            );
        });
    });
}

/// Refresh the stored warnings and rewrite the results file atomically.
fn save(file: &mut ResultsFile, path: &std::path::Path) -> Result<()> {
    file.warnings = report::warnings(file).iter().map(|w| w.record()).collect();
    Ok(results::write_atomic(path, &file.to_json())?)
}

/// Measure `ops` into `file`, rewriting `dir`/results.json after each. On
/// Ctrl-C or an error the file is marked unfinished, saved, plotted, and the
/// error says how to continue.
fn measure_ops(
    ctx: &GpuContext,
    timer: &Timer,
    ops: &[plan::Op],
    file: &mut ResultsFile,
    dir: &std::path::Path,
    plot_opts: &PlotOptions,
    progress: &Progress,
) -> Result<()> {
    let path = dir.join("results.json");
    let suite_cfg = file.workload.as_ref().map(|w| w.suite).unwrap_or_default();
    file.incomplete = Some(UNFINISHED.into());
    save(file, &path)?;
    let mut stopped = None;
    // Pass 1 tunes and measures every op; further passes sample the points
    // of this session again with the configuration chosen.
    'passes: for pass in 1..=suite_cfg.passes.max(1) {
        for op in ops {
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                stopped = Some(anyhow!("interrupted"));
                break 'passes;
            }
            let label = op.label();
            let result = if pass == 1 {
                progress.start(&label);
                suite::measure_op(ctx, timer, &suite_cfg, op).map(|p| {
                    file.points.push(p);
                    file.points.len() - 1
                })
            } else {
                let Some(i) = file
                    .points
                    .iter()
                    .position(|p| p.op.series == op.series && p.op.label() == label)
                else {
                    continue;
                };
                progress.start(&format!("{label} (pass {pass})"));
                suite::resample(ctx, timer, &suite_cfg, &mut file.points[i]).map(|()| i)
            };
            match result {
                Ok(i) => {
                    let line = report::point_line(&file.points[i], &file.ceilings.measured);
                    progress.finish_one(&line);
                    // Rewritten after every op: an interrupted run keeps what it measured.
                    save(file, &path)?;
                }
                Err(e) => {
                    stopped = Some(anyhow::Error::new(e).context(format!("measuring {label}")));
                    break 'passes;
                }
            }
        }
    }
    progress.close();
    let Some(e) = stopped else {
        file.incomplete = None;
        return save(file, &path);
    };
    file.incomplete = Some(format!("{e:#}"));
    save(file, &path)?;
    for name in ["roofline.png", "roofline.svg"] {
        draw_atomic(std::slice::from_ref(file), plot_opts, &dir.join(name))?;
    }
    Err(anyhow!(
        "{e:#}; {} points kept in {} and plotted; continue with `wgpu-roofline run --resume {}`",
        file.points.len(),
        path.display(),
        dir.display()
    ))
}

/// Draw the charts and print the tables of a finished run.
fn finish_run(
    file: &ResultsFile,
    dir: &std::path::Path,
    plot_opts: &PlotOptions,
    started: std::time::Instant,
) -> Result<()> {
    for name in ["roofline.png", "roofline.svg"] {
        draw_atomic(std::slice::from_ref(file), plot_opts, &dir.join(name))?;
    }
    print!("{}", report::roofs_table(file));
    println!();
    print!("{}", report::points_table(file));
    println!(
        "\n{} points in {:.1} s; wrote {}, roofline.png and roofline.svg",
        file.points.len(),
        started.elapsed().as_secs_f64(),
        dir.join("results.json").display()
    );
    Ok(())
}

/// `run --resume DIR`: reopen the adapter the run measured, and measure the
/// ops of its plan that have no point and were not skipped, with the run's
/// own roofs, timer and settings.
fn resume(a: &RunArgs, dir: &std::path::Path, plot_opts: &PlotOptions) -> Result<ResultsFile> {
    let path = dir.join("results.json");
    let mut file = ResultsFile::read(&path)?;
    let Some(w) = file.workload.clone() else {
        bail!(
            "{} holds roofs only, not a `run`: there is nothing to resume",
            path.display()
        );
    };
    let choice = match file.adapter.backend.as_str() {
        "vulkan" => BackendChoice::Vulkan,
        "gl" => BackendChoice::Gl,
        "metal" => BackendChoice::Metal,
        "dx12" => BackendChoice::Dx12,
        other => bail!("{}: unknown backend `{other}`", path.display()),
    };
    a.device.deadline()?;
    let ctx = a
        .device
        .open_with(
            choice,
            Some(&AdapterFilter::Name(file.adapter.name.clone())),
        )
        .with_context(|| {
            format!(
                "the run in {} measured {} ({}), which is not available here",
                dir.display(),
                file.adapter.name,
                file.adapter.backend
            )
        })?;
    let done = |op: &plan::Op| {
        let label = op.label();
        file.points
            .iter()
            .any(|p| p.op.series == op.series && p.op.label() == label)
            || file.skipped.iter().any(|s| s.op == label)
    };
    let planned = plan::plan(&w.model, &w.sweep)?;
    let ops: Vec<_> = planned.iter().filter(|op| !done(op)).cloned().collect();
    if ops.is_empty() && file.incomplete.is_none() {
        bail!(
            "nothing to resume: the run in {} is complete",
            dir.display()
        );
    }
    for op in &ops {
        suite::check_op(&ctx, op)?;
    }
    let timer = Timer::new(
        &ctx,
        match file.timer.kind {
            TimerKind::GpuTimestamp => TimerPreference::Gpu,
            TimerKind::WallClock => TimerPreference::Wall,
        },
    )?;
    announce(
        &ctx,
        &timer,
        &format!(
            "{}: resuming with {} of {} points done, {} to go",
            w.model.name,
            file.points.len(),
            file.points.len() + ops.len(),
            ops.len()
        ),
    );
    let started = std::time::Instant::now();
    let passes = w.suite.passes.max(1) as usize;
    let progress = Progress::new(ops.len() * passes);
    measure_ops(&ctx, &timer, &ops, &mut file, dir, plot_opts, &progress)?;
    // Points in plan order, as an uninterrupted run writes them.
    file.points.sort_by_key(|p| {
        let label = p.op.label();
        planned
            .iter()
            .position(|op| op.series == p.op.series && op.label() == label)
            .unwrap_or(usize::MAX)
    });
    save(&mut file, &path)?;
    finish_run(&file, dir, plot_opts, started)?;
    Ok(file)
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
