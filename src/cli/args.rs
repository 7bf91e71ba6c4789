//! Argument definitions, and their translation into the library's
//! settings: which device, how to sample, which spec roof, which sweep.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use wgpu_roofline::dtype::Format as WeightFormat;
use wgpu_roofline::gpu::{AdapterFilter, BackendChoice, GpuContext};
use wgpu_roofline::kernels::DType;
use wgpu_roofline::measure::TimerPreference;
use wgpu_roofline::plot::PlotOptions;
use wgpu_roofline::report::Format;
use wgpu_roofline::roofline::Preset;
use wgpu_roofline::settings::{DTypeChoice, TimingOverrides};

/// Measured rooflines of LLM kernels on any GPU and backend, through WGSL
/// compute shaders and wgpu.
#[derive(Debug, Parser)]
#[command(name = "wgpu-roofline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every adapter on every backend with the features and limits that matter here.
    ///
    /// Example: wgpu-roofline devices --json
    Devices(DevicesArgs),
    /// Measure the memory roof (streaming kernels) and the compute roofs (peak FMA kernels, and cooperative-matrix kernels where the device has them).
    ///
    /// Example: wgpu-roofline roofs --backend vulkan --json roofs.json
    Roofs(RoofsArgs),
    /// Measure the roofs, then every matrix product of a model, prefill and decode, into DIR/results.json.
    ///
    /// Example: wgpu-roofline run --quick --out llama-run
    Run(Box<RunArgs>),
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
pub enum FormatArg {
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
pub struct CompareArgs {
    /// Results files; the first is the baseline of the ratios.
    #[arg(required = true, num_args = 2.., value_name = "RESULTS.json")]
    pub results: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Also draw the ratios to the first run as a bar chart (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results file written by `run`.
    #[arg(value_name = "RESULTS.json")]
    pub results: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// Which spec ceilings to draw: shared by `plot` and `run`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Spec ceilings of a known GPU (a6000, a100, h100, h200, rtx4090) or `none`.
    #[arg(long, default_value = "a6000")]
    pub preset: String,
    /// Custom spec compute ceiling in FLOP/s (with --peak-bw), e.g. 181e12.
    #[arg(long, requires = "peak_bw")]
    pub peak_flops: Option<f64>,
    /// Custom spec memory ceiling in bytes/s (with --peak-flops), e.g. 768e9.
    #[arg(long, requires = "peak_flops")]
    pub peak_bw: Option<f64>,
}

/// How the chart is drawn (`plot` and `run`).
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// Name each point of the chart (op and shape) beside its marker.
    #[arg(long)]
    pub labels: bool,
    /// Chart size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x800", value_parser = parse_image_size)]
    pub size: (u32, u32),
}

/// `WIDTHxHEIGHT`, each 200..=8000 pixels.
fn parse_image_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT, e.g. 1200x800"))?;
    let px = |v: &str| -> std::result::Result<u32, String> {
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("`{v}` is not a number of pixels"))?;
        if (200..=8000).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} pixels is outside 200..=8000"))
        }
    };
    Ok((px(w)?, px(h)?))
}

impl ChartArgs {
    /// `spec` with these arguments' labels and size.
    pub fn apply(&self, spec: PlotOptions) -> PlotOptions {
        PlotOptions {
            labels: self.labels,
            size: self.size,
            ..spec
        }
    }
}

impl SpecArgs {
    /// The chart options these arguments ask for.
    pub fn options(&self) -> Result<PlotOptions> {
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
pub struct PlotArgs {
    /// Results files written by `run` or `roofs`.
    #[arg(required = true, value_name = "RESULTS.json")]
    pub results: Vec<PathBuf>,
    /// Output image; the extension (.png or .svg) picks the format.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub chart: ChartArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum BackendArg {
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
    pub fn choice(self) -> Result<BackendChoice> {
        Ok(match self {
            Self::Auto => BackendChoice::Auto,
            Self::Vulkan => BackendChoice::Vulkan,
            Self::Gl => BackendChoice::Gl,
            Self::Metal => BackendChoice::Metal,
            Self::Dx12 => BackendChoice::Dx12,
            Self::All => bail!("--backend all is only for `run`; pick one backend here"),
        })
    }

    /// Whether `all` was asked for.
    pub fn is_all(self) -> bool {
        self == Self::All
    }
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Backends to list.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Table format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
}

/// Where to measure: shared by every measuring command.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Graphics API; `auto` prefers a discrete GPU, then integrated, then a CPU adapter.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Adapter by index (as `devices --backend B` lists them) or name substring.
    #[arg(long, value_name = "NAME_SUBSTRING|INDEX")]
    pub adapter: Option<AdapterFilter>,
    /// Seconds any single wait on the GPU may take before the run fails.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub deadline: f64,
}

impl DeviceArgs {
    /// Open the device these arguments name, with `checked` shader runtime
    /// checks.
    pub fn open(&self, checked: bool) -> Result<GpuContext> {
        self.open_on(self.backend.choice()?, checked)
    }

    /// Open a device on `choice` with these arguments' filter and deadline.
    pub fn open_on(&self, choice: BackendChoice, checked: bool) -> Result<GpuContext> {
        self.open_with(choice, self.adapter.as_ref(), checked)
    }

    /// Open a device on `choice` matching `filter`, with this deadline and
    /// its watchdog.
    pub fn open_with(
        &self,
        choice: BackendChoice,
        filter: Option<&AdapterFilter>,
        checked: bool,
    ) -> Result<GpuContext> {
        let deadline = self.deadline()?;
        let mut ctx = GpuContext::open(choice, filter)?;
        ctx.deadline = deadline;
        ctx.shader_checks = checked;
        watch(&ctx);
        Ok(ctx)
    }

    /// `--deadline`, checked.
    pub fn deadline(&self) -> Result<Duration> {
        if !(self.deadline.is_finite() && self.deadline > 0.0) {
            bail!("--deadline must be a positive number of seconds");
        }
        Ok(Duration::from_secs_f64(self.deadline))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimerArg {
    /// GPU timestamps when the adapter has them, else wall clock.
    Auto,
    /// GPU timestamps; fail without TIMESTAMP_QUERY.
    Gpu,
    /// Host wall clock around submit + wait.
    Wall,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum DTypeArg {
    F32,
    F16,
    All,
}

/// How kernels are sampled: shared by every measuring command.
#[derive(Debug, Args)]
pub struct TimingArgs {
    /// Sampled batches per kernel [default: 10 for roofs, 5 for run].
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Discarded warm-up batches per kernel [default: 2 for roofs, 1 for run].
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Shortest batch, in milliseconds; sets dispatches per batch.
    #[arg(long, default_value_t = 20.0)]
    pub min_batch_ms: f64,
    /// Clock to time with.
    #[arg(long, value_enum, default_value = "auto")]
    pub timer: TimerArg,
    /// Keep wgpu's shader runtime checks (bounds checks, loop bounding) on.
    #[arg(long)]
    pub checked: bool,
}

impl TimingArgs {
    /// Reject values no measurement can use.
    pub fn check(&self) -> Result<()> {
        if self.repeats == Some(0) {
            bail!("--repeats must be at least 1");
        }
        if !(self.min_batch_ms.is_finite() && self.min_batch_ms >= 0.0) {
            bail!("--min-batch-ms must be a non-negative number");
        }
        Ok(())
    }

    /// The sampling these arguments override.
    pub fn overrides(&self) -> TimingOverrides {
        TimingOverrides {
            repeats: self.repeats,
            warmup: self.warmup,
            min_batch_s: Some(self.min_batch_ms / 1e3),
        }
    }

    /// The clock asked for.
    pub fn timer(&self) -> TimerPreference {
        match self.timer {
            TimerArg::Auto => TimerPreference::Auto,
            TimerArg::Gpu => TimerPreference::Gpu,
            TimerArg::Wall => TimerPreference::Wall,
        }
    }
}

#[derive(Debug, Args)]
pub struct RoofsArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Write the results file here (`-` for stdout; the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Bytes per streaming array, e.g. 64MiB [default: the adapter's largest storage binding, at most 256MiB].
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// Array triples the streaming dispatches rotate through [default: enough for 1 GiB with the default size, else 1].
    #[arg(long)]
    pub sets: Option<u32>,
    /// Invocations per workgroup of the streaming kernels.
    #[arg(long, default_value_t = 256)]
    pub workgroup_size: u32,
    /// vec4 elements per invocation of the streaming kernels.
    #[arg(long, default_value_t = 4)]
    pub vec4_per_invocation: u32,
    /// Data types of the peak kernel (f16 needs SHADER_F16; `all` skips it when missing).
    #[arg(long, value_enum, default_value = "all")]
    pub dtype: DTypeArg,
    /// Workgroups of the peak kernel (256 invocations each) [default: 4096 on GPUs, 256 on CPU adapters].
    #[arg(long)]
    pub peak_workgroups: Option<u32>,
    /// FMA steps per accumulator in the peak kernel, a multiple of 8 [default: lengthened until a dispatch lasts 1 ms].
    #[arg(long)]
    pub peak_iterations: Option<u32>,
    /// Independent vec4 accumulators per invocation of the peak kernel (1..=8) [default: try 2, 3, 4 and 8, keep the best].
    #[arg(long)]
    pub peak_chains: Option<u32>,
    /// Format of the table on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Model: a built-in name (llama-7b, llama-13b, llama-2-70b, llama-3-8b, mistral-7b) or a config.json file.
    #[arg(long, default_value = "llama-7b")]
    pub model: String,
    /// Reduced sweep (S = 128; decode B = 1, 16 at L = 2048) and lighter roofs: 7-10 minutes on a 2-core software adapter.
    #[arg(long)]
    pub quick: bool,
    /// Data types (without SHADER_F16, f16 products run as packed halves computed in f32, and f16 softmax and attention are skipped with a note).
    #[arg(long, value_enum, default_value = "all")]
    pub dtype: DTypeArg,
    /// Weight formats of the linear layers, comma-separated (f32, f16, q8_0, q4_0); attention keeps --dtype [default: the --dtype formats and q8_0,q4_0; with --quick, q4_0].
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<WeightFormat>>,
    /// Prefill sequence lengths, comma-separated [default: 128,256,512,1024,2048,4096].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    pub seq_lens: Option<Vec<u64>>,
    /// Decode batch sizes, comma-separated [default: 1,2,4,8,16,32,64].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    pub batches: Option<Vec<u64>>,
    /// KV context length of the decode points.
    #[arg(long, default_value_t = 2048, value_parser = parse_count)]
    pub context: u64,
    /// Further context lengths of decode attention at B = 1, comma-separated [default: 128,...,4096; none with --quick].
    #[arg(long, value_delimiter = ',', value_parser = parse_count)]
    pub contexts: Option<Vec<u64>>,
    /// Distinct bytes each op's runs rotate through (copies of its operands), e.g. 2GiB [default: 1GiB, within twice the adapter's largest buffer].
    #[arg(long, value_parser = parse_size)]
    pub footprint: Option<u64>,
    /// Milliseconds of continuous GPU work before the roofs, each roof kernel, and each op's tuning and sampling [default: 1000 on GPUs, 0 on CPU adapters].
    #[arg(long)]
    pub warm_ms: Option<f64>,
    /// Only these ops, comma-separated (q, k, v, o, gate, up, down, qk, softmax, pv, attn) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub ops: Option<Vec<String>>,
    /// Output directory [default: a new folder named after the date, model and adapter].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output elements checked against the host per op.
    #[arg(long, default_value_t = 64)]
    pub samples: u64,
    /// Sampling passes over the whole plan: each further pass samples every op again after all the others, so a point's spread covers the machine's drift over the run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub passes: u32,
    /// Continue the stopped run in DIR (interrupted, or ended by an error):
    /// same adapter, model, sweep and settings; finished points are kept.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["model", "quick", "dtype", "weights", "seq_lens", "batches", "contexts", "ops", "out", "footprint", "warm_ms"])]
    pub resume: Option<PathBuf>,
    /// Write results.json (and with --backend all compare.md) but no charts; `plot` draws them later from the file.
    #[arg(long)]
    pub no_charts: bool,
    /// Leave out the kernel configurations whose name, as the tables print it, contains any of these, or whose kernel is named so in results files, comma-separated (e.g. `flash_prefill_coop` or `flash coop` where a driver rejects the tensor-core prefill); they stay listed in each point's tuning table, marked. With --resume, for the ops still to measure.
    #[arg(long, value_delimiter = ',', value_name = "NAME_SUBSTRING")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub chart: ChartArgs,
}

impl DTypeArg {
    /// The library's choice.
    pub fn choice(self) -> DTypeChoice {
        match self {
            Self::F32 => DTypeChoice::Only(DType::F32),
            Self::F16 => DTypeChoice::Only(DType::F16),
            Self::All => DTypeChoice::All,
        }
    }
}

/// Bound every GPU wait, including a submission that blocks inside the
/// driver: past the deadline without progress, say so and exit (results
/// files are rewritten atomically, so what was kept stays valid).
fn watch(ctx: &GpuContext) {
    ctx.watchdog(|deadline| {
        eprintln!(
            "error: {}; results written so far are kept",
            wgpu_roofline::Error::Timeout {
                seconds: deadline.as_secs_f64()
            }
        );
        super::interrupt::hard_exit(1);
    });
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
