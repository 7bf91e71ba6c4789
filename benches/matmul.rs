//! `cargo bench --bench matmul`: Llama-7B's matrix products on every adapter
//! as fractions of the roofs measured in the same run:
//! - prefill GEMM (S = 512, and S = 128 with `ROOFLINE_BENCH_QUICK=1`):
//!   achieved FLOP/s / measured compute roof of the accumulation precision
//!   (f32: f16 inputs are multiplied and added in f32);
//! - decode GEMV (B = 1): achieved bytes/s / measured memory roof, for f32,
//!   f16, q8_0 and q4_0 weights (minimal bytes over time), and how long the
//!   quantized decode takes against the float one; then the same share
//!   timed in alternation with the roof's kernel and the read-only streams
//!   (`measure::paired`), which a host whose bandwidth drifts between the
//!   roofs and the op cannot skew.
//!
//! It also prints which configuration the autotuner chose on each backend,
//! so the Vulkan and GL choices can be compared. It drives the library's
//! runner, as `run --quick --ops q,up` does.

#[path = "common.rs"]
mod common;

use wgpu_roofline::dtype::{DType, Format, Quant};
use wgpu_roofline::measure::{Timer, TimerPreference};
use wgpu_roofline::plan::{Phase, Sweep};
use wgpu_roofline::units::si;

fn main() {
    let quick = std::env::var_os("ROOFLINE_BENCH_QUICK").is_some();
    let mut choices = Vec::new();
    for ctx in common::adapters() {
        println!("\n== {} ({})", ctx.adapter.name, ctx.adapter.backend);
        let sweep = Sweep {
            seq_lens: vec![if quick { 128 } else { 512 }],
            batches: vec![1],
            ops: vec!["q".into(), "up".into()],
            ..Sweep::quick(vec![])
        };
        let mut settings = common::settings(sweep, 1);
        settings.weights = Some(Format::ALL.to_vec());
        let file = common::run(&ctx, &settings);
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        let m = &file.ceilings.measured;
        let mem = m.memory_bytes_per_s.expect("memory roof");
        println!(
            "  roofs: memory {} ({}), compute {}",
            si(mem, "B/s"),
            m.memory_kernel.as_deref().unwrap_or(""),
            m.compute
                .iter()
                .map(|r| format!("{} {}", r.key, si(r.flops_per_s, "FLOP/s")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for p in &file.points {
            let compute = m.compute_roof(p.compute_key()).unwrap_or(f64::NAN);
            let (frac, of) = match p.op.phase {
                Phase::Init => (p.flops_per_s / compute, "compute roof"),
                Phase::Ar => (p.bytes_per_s / mem, "memory roof"),
            };
            println!(
                "  {:<26} {:>15} {:>12}  {:.2} of {of}  [{}]",
                p.op.label(),
                si(p.flops_per_s, "FLOP/s"),
                si(p.bytes_per_s, "B/s"),
                frac,
                p.kernel,
            );
            if p.op.phase == Phase::Ar {
                println!(
                    "  {:<26} {}",
                    "",
                    common::paired_share(&ctx, &timer, &file, p)
                );
            }
            choices.push((
                ctx.adapter.backend.clone(),
                p.op.label(),
                p.kernel.to_string(),
            ));
        }
        // Decode with quantized weights against the float formats, same op.
        let decode = |op: &str, f: Format| {
            file.points
                .iter()
                .find(|p| p.op.phase == Phase::Ar && p.op.op == op && p.op.format() == f)
        };
        for op in ["q", "up"] {
            for q in [Quant::Q8_0, Quant::Q4_0] {
                let Some(qp) = decode(op, Format::Quant(q)) else {
                    continue;
                };
                for d in [DType::F16, DType::F32] {
                    if let Some(fp) = decode(op, Format::Float(d)) {
                        println!(
                            "  decode {op}: {} ({} activations) takes {:.2}x the time of {}",
                            q.name(),
                            qp.op.dtype.name(),
                            qp.median_s / fp.median_s,
                            d.name()
                        );
                    }
                }
            }
        }
    }
    println!("\n== configurations chosen per backend");
    let mut labels: Vec<String> = Vec::new();
    for c in &choices {
        if !labels.contains(&c.1) {
            labels.push(c.1.clone());
        }
    }
    for label in labels {
        let per: Vec<_> = choices
            .iter()
            .filter(|c| c.1 == label)
            .map(|c| format!("{}: {}", c.0, c.2))
            .collect();
        println!("  {label:<26} {}", per.join(" | "));
    }
}
