//! `cargo bench --bench matmul`: Llama-7B's matrix products on every adapter
//! as fractions of the roofs measured in the same run:
//! - prefill GEMM (S = 512, and S = 128 with `ROOFLINE_BENCH_QUICK=1`):
//!   achieved FLOP/s / measured compute roof of the accumulation precision
//!   (f32: f16 inputs are multiplied and added in f32);
//! - decode GEMV (B = 1): achieved bytes/s / measured memory roof.
//!
//! It also prints which configuration the autotuner chose on each backend,
//! so the Vulkan and GL choices can be compared.

use wgpu_roofline::gpu;
use wgpu_roofline::kernels::DType;
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Phase, Sweep};
use wgpu_roofline::report::si;
use wgpu_roofline::roofs::{self, MeasuredCeilings, RoofsConfig};
use wgpu_roofline::suite::{self, SuiteConfig};
use wgpu_roofline::timer::{Timer, TimerPreference};

fn main() {
    let quick = std::env::var_os("ROOFLINE_BENCH_QUICK").is_some();
    let model = ModelConfig::preset("llama-7b").expect("preset");
    let mut choices = Vec::new();
    for ctx in gpu::open_every() {
        let Ok(ctx) = ctx else {
            continue;
        };
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        println!("\n== {} ({})", ctx.adapter.name, ctx.adapter.backend);
        let roofs_cfg = RoofsConfig::quick(&ctx);
        let records =
            roofs::measure(&ctx, &timer, &roofs_cfg, &mut |_| {}, &mut |_| {}).expect("roofs");
        let m = MeasuredCeilings::from_records(&records);
        let mem = m.memory_bytes_per_s.expect("memory roof");
        println!(
            "  roofs: memory {} ({}), compute {}",
            si(mem, "B/s"),
            m.memory_kernel.as_deref().unwrap_or(""),
            m.compute_flops_per_s
                .iter()
                .map(|(d, f)| format!("{} {}", d.name(), si(*f, "FLOP/s")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let dtypes: Vec<_> = [DType::F32, DType::F16]
            .into_iter()
            .filter(|d| d.supported(&ctx))
            .collect();
        let sweep = Sweep {
            seq_lens: vec![if quick { 128 } else { 512 }],
            prefill_batch: 1,
            batches: vec![1],
            context: 2048,
            contexts: vec![],
            dtypes,
        };
        let cfg = SuiteConfig::default();
        for op in plan::plan(&model, &sweep).expect("plan") {
            if !matches!(op.op.as_str(), "q" | "up") {
                continue;
            }
            let p = suite::measure_op(&ctx, &timer, &cfg, &op).expect("op");
            let compute = m.compute_flops_per_s[&p.accumulate];
            let (frac, of) = match op.phase {
                Phase::Init => (p.flops_per_s / compute, "compute roof"),
                Phase::Ar => (p.bytes_per_s / mem, "memory roof"),
            };
            println!(
                "  {:<26} {:>15} {:>12}  {:.2} of {of}  [{}] verified {}",
                op.label(),
                si(p.flops_per_s, "FLOP/s"),
                si(p.bytes_per_s, "B/s"),
                frac,
                p.kernel,
                p.verified
            );
            choices.push((
                ctx.adapter.backend.clone(),
                op.label(),
                p.kernel.to_string(),
            ));
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
