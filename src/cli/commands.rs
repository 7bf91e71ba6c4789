//! The subcommands: each translates its arguments into the library's
//! settings, calls the library, and prints or writes what it returns.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::args::{
    Cli, Command, CompareArgs, DevicesArgs, PlotArgs, ReportArgs, RoofsArgs, RunArgs,
};
use super::interrupt::{self, STOP};
use super::progress::Progress;
use wgpu_roofline::gpu::{self, AdapterSummary, BackendChoice};
use wgpu_roofline::kernels::peak::PeakParams;
use wgpu_roofline::measure::runner::{self, Outcome, RunSettings};
use wgpu_roofline::measure::Timer;
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::Sweep;
use wgpu_roofline::plot::{self, PlotOptions};
use wgpu_roofline::report::{self, Format};
use wgpu_roofline::results::{self, ResultsFile};
use wgpu_roofline::settings::RoofsConfig;
use wgpu_roofline::Error;

/// Run the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices(a) => devices(a),
        Command::Roofs(a) => roofs(a),
        Command::Run(a) => run_cmd(*a),
        Command::Plot(a) => plot_cmd(a),
        Command::Compare(a) => compare(a),
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
        print!(
            "{}",
            report::devices_table(&list).render(args.format.into())
        );
    }
    Ok(())
}

fn roofs(a: RoofsArgs) -> Result<()> {
    let to_stdout = a.json.as_deref() == Some(Path::new("-"));
    if let Some(path) = a.json.as_deref().filter(|_| !to_stdout) {
        results::check_writable(path)?;
    }
    a.timing.check()?;
    let ctx = a.device.open(a.timing.checked)?;
    let mut cfg = RoofsConfig::for_device(&ctx.caps);
    if let Some(size) = a.size {
        cfg.stream.array_bytes = size;
        cfg.stream.sets = 1;
    }
    if let Some(sets) = a.sets {
        cfg.stream.sets = sets;
    }
    cfg.stream.workgroup_size = a.workgroup_size;
    cfg.stream.vec4_per_invocation = a.vec4_per_invocation;
    a.timing.overrides().apply(&mut cfg.timing);
    cfg.shader_checks = a.timing.checked;
    let (dtypes, notes) = a.dtype.choice().resolve(&ctx.caps, &ctx.adapter.name)?;
    notes.iter().for_each(|n| eprintln!("{n}"));
    cfg.peaks = dtypes
        .into_iter()
        .map(|d| {
            let mut p = PeakParams::default_for(d, &ctx.caps);
            p.workgroups = a.peak_workgroups.unwrap_or(p.workgroups);
            p
        })
        .collect();
    if let Some(c) = a.peak_chains {
        cfg.peak_chains = vec![c];
    }
    cfg.peak_iterations = a.peak_iterations;

    let timer = Timer::new(&ctx, a.timing.timer())?;
    let file = runner::measure_roofs(&ctx, &timer, &cfg, &mut Progress::default())
        .context("measuring the roofs")?;
    let format: Format = a.format.into();
    let mut table = report::roofs_table(&file).render(format);
    if format == Format::Text {
        table = format!(
            "{}\n\n{table}\n{}",
            report::roofs_heading(&file),
            report::roofs_summary(&file)
        );
    }
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

/// The settings of `run` from its arguments.
fn settings(a: &RunArgs) -> Result<RunSettings> {
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
    if let Some(o) = &a.ops {
        sweep.ops = o.clone();
    }
    Ok(RunSettings {
        model,
        sweep,
        dtypes: a.dtype.choice(),
        weights: a.weights.clone(),
        quick: a.quick,
        timing: a.timing.overrides(),
        samples: a.samples,
        passes: a.passes,
        timer: a.timing.timer(),
        footprint_bytes: a.footprint,
        warm_s: a.warm_ms.map(|ms| ms / 1e3),
        exclude: a.exclude.clone(),
    })
}

fn run_cmd(a: RunArgs) -> Result<()> {
    a.timing.check()?;
    let plot_opts = a.chart.apply(a.spec.options()?);
    // Charts to draw beside each results file, unless --no-charts.
    let charts = (!a.no_charts).then_some(&plot_opts);
    if a.samples == 0 {
        bail!("--samples must be at least 1");
    }
    if a.footprint == Some(0) {
        bail!("--footprint must be greater than zero");
    }
    if a.warm_ms.is_some_and(|w| !(w.is_finite() && w >= 0.0)) {
        bail!("--warm-ms must be a non-negative number");
    }
    if a.exclude.iter().any(|p| p.trim().is_empty()) {
        bail!("--exclude takes parts of kernel names (as `run` prints them), and an empty one would leave out every kernel");
    }
    interrupt::install();
    let mut progress = Progress::default();
    if let Some(dir) = &a.resume {
        let file = ResultsFile::read(&dir.join("results.json"))?;
        let (choice, filter) = runner::resume_target(&file, dir)?;
        a.device.deadline()?;
        let ctx = a
            .device
            .open_with(choice, Some(&filter), a.timing.checked)
            .with_context(|| {
                format!(
                    "the run in {} measured {} ({}), which is not available here",
                    dir.display(),
                    file.adapter.name,
                    file.adapter.backend
                )
            })?;
        let outcome = runner::resume(&ctx, dir, &a.exclude, &STOP, &mut progress)?;
        return finish(outcome, charts);
    }
    let settings = settings(&a)?;
    if let Some(out) = &a.out {
        if out.exists() && !out.is_dir() {
            bail!("--out {} exists and is not a directory", out.display());
        }
    }
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    if !a.device.backend.is_all() {
        let ctx = a.device.open(a.timing.checked)?;
        let dir = a.out.clone().unwrap_or_else(|| {
            runner::default_dir(
                &stamp,
                &settings.model.name,
                &ctx.adapter.name,
                &ctx.adapter.backend,
            )
        });
        let outcome = runner::run(&ctx, &settings, &dir, &STOP, &mut progress)?;
        return finish(outcome, charts);
    }

    // --backend all: one run per backend found, then the overlay and the comparison.
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| runner::default_dir_all(&stamp, &settings.model.name));
    let open = |choice: BackendChoice| match a.device.open_on(choice, a.timing.checked) {
        Ok(ctx) => Ok(Some(ctx)),
        Err(e) => match e.downcast::<Error>() {
            Ok(Error::NoAdapter { .. }) => Ok(None),
            Ok(other) => Err(other),
            Err(e) => Err(Error::Invalid(format!("{e:#}"))),
        },
    };
    let outcomes = runner::run_each(open, &settings, &dir, &STOP, &mut progress)?;
    let mut files = Vec::new();
    for o in outcomes {
        files.push(finish_one(o, charts)?);
    }
    if let Some(opts) = charts {
        for name in ["roofline.png", "roofline.svg"] {
            draw_atomic(&files, opts, &dir.join(name))?;
        }
    }
    let table = report::compare_table(&files);
    results::write_atomic(&dir.join("compare.md"), &table.render(Format::Markdown))?;
    println!();
    print!("{}", table.render(Format::Text));
    println!(
        "\nwrote {} runs, {}compare.md into {}",
        files.len(),
        if charts.is_some() {
            "the overlay roofline.png/.svg and "
        } else {
            ""
        },
        dir.display()
    );
    files.iter().try_for_each(fail_if_unverified)
}

/// Draw (with `charts`) and print one finished run; a stopped run is
/// drawn and becomes an error that says how to go on.
fn finish_one(o: Outcome, charts: Option<&PlotOptions>) -> Result<ResultsFile> {
    if let Some(opts) = charts {
        for name in ["roofline.png", "roofline.svg"] {
            draw_atomic(std::slice::from_ref(&o.file), opts, &o.dir.join(name))?;
        }
    }
    let path = o.dir.join("results.json");
    if let Some(e) = o.stopped {
        return Err(anyhow!(
            "{e}; {} points kept in {}{}; continue with `wgpu-roofline run --resume {}`",
            o.file.points.len(),
            path.display(),
            if charts.is_some() { " and plotted" } else { "" },
            o.dir.display()
        ));
    }
    println!(
        "{}\n\n{}\n{}",
        report::roofs_heading(&o.file),
        report::roofs_table(&o.file).render(Format::Text),
        report::roofs_summary(&o.file)
    );
    print!("{}", report::points_table(&o.file).render(Format::Text));
    println!(
        "\n{} points in {:.1} s; wrote {}{}",
        o.file.points.len(),
        o.elapsed_s,
        path.display(),
        if charts.is_some() {
            ", roofline.png and roofline.svg"
        } else {
            ""
        },
    );
    Ok(o.file)
}

fn finish(o: Outcome, charts: Option<&PlotOptions>) -> Result<()> {
    let file = finish_one(o, charts)?;
    fail_if_unverified(&file)
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultsFile>> {
    Ok(paths
        .iter()
        .map(|p| ResultsFile::read(p))
        .collect::<wgpu_roofline::Result<Vec<_>>>()?)
}

fn compare(a: CompareArgs) -> Result<()> {
    let runs = read_all(&a.results)?;
    if let Some(path) = &a.chart {
        plot::check_extension(path)?;
    }
    print!("{}", report::compare_table(&runs).render(a.format.into()));
    if let Some(path) = &a.chart {
        atomic(path, |tmp| plot::bars::draw(&runs, (1200, 800), tmp))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn report_cmd(a: ReportArgs) -> Result<()> {
    let spec = a.spec.options()?.spec;
    let run = ResultsFile::read(&a.results)?;
    print!(
        "{}",
        report::report_table(&run, spec.as_ref()).render(a.format.into())
    );
    // What the run warned about, derived from the file again: on stderr, so
    // the table on stdout stays one format for other tools.
    for w in run.warnings() {
        eprintln!("{w}");
    }
    Ok(())
}

fn plot_cmd(a: PlotArgs) -> Result<()> {
    let opts = a.chart.apply(a.spec.options()?);
    let runs = read_all(&a.results)?;
    draw_atomic(&runs, &opts, &a.output)?;
    println!("wrote {}", a.output.display());
    Ok(())
}

/// Draw into a temporary file beside `path`, then rename: never half an image.
fn draw_atomic(runs: &[ResultsFile], opts: &PlotOptions, path: &Path) -> Result<()> {
    atomic(path, |tmp| plot::draw(runs, opts, tmp))
}

/// Write `path` through `draw` into a temporary file beside it, then
/// rename: never half an image.
fn atomic(path: &Path, draw: impl FnOnce(&Path) -> wgpu_roofline::Result<()>) -> Result<()> {
    results::check_writable(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    draw(tmp.path())?;
    results::persist(tmp, path)?;
    Ok(())
}
