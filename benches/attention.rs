//! `cargo bench --bench attention`: Llama-7B attention on every adapter and
//! dtype, against the roofs and against itself, all measured in one run:
//! - decode (B = 1, L = 2048): achieved bytes/s of the unfused qk and pv
//!   products and of fused split-KV attention, as fractions of the measured
//!   memory roof (target >= 0.7);
//! - prefill (S = 1024; S = 2048 with `ROOFLINE_BENCH_LONG=1`): fused
//!   attention's time against unfused qk + softmax + pv (target: fused
//!   faster), with both sides' FLOP/s.

use wgpu_roofline::gpu;
use wgpu_roofline::kernels::DType;
use wgpu_roofline::model::ModelConfig;
use wgpu_roofline::plan::{self, Phase, Sweep};
use wgpu_roofline::report::{seconds, si};
use wgpu_roofline::roofs::{self, MeasuredCeilings, RoofsConfig};
use wgpu_roofline::suite::{self, SuiteConfig};
use wgpu_roofline::timer::{Timer, TimerPreference};

fn main() {
    let s = if std::env::var_os("ROOFLINE_BENCH_LONG").is_some() {
        2048
    } else {
        1024
    };
    let model = ModelConfig::preset("llama-7b").expect("preset");
    let mut summary = Vec::new();
    for ctx in gpu::open_every() {
        let Ok(ctx) = ctx else {
            continue;
        };
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        println!("\n== {} ({})", ctx.adapter.name, ctx.adapter.backend);
        let records = roofs::measure(
            &ctx,
            &timer,
            &RoofsConfig::quick(&ctx),
            &mut |_| {},
            &mut |_| {},
        )
        .expect("roofs");
        let m = MeasuredCeilings::from_records(&records);
        let mem = m.memory_bytes_per_s.expect("memory roof");
        println!("  memory roof {}", si(mem, "B/s"));
        for dtype in [DType::F32, DType::F16] {
            if !dtype.supported(&ctx) {
                continue;
            }
            let sweep = Sweep {
                seq_lens: vec![s],
                prefill_batch: 1,
                batches: vec![1],
                context: 2048,
                contexts: vec![],
                dtypes: vec![dtype],
            };
            let cfg = SuiteConfig::default();
            let (mut unfused_s, mut unfused_flops, mut fused) = (0.0, 0u64, None);
            for op in plan::plan(&model, &sweep).expect("plan") {
                if !op.series.is_attention() {
                    continue;
                }
                if suite::check_op(&ctx, &op).is_err() {
                    println!(
                        "  {:<28} skipped (exceeds this adapter's limits)",
                        op.label()
                    );
                    continue;
                }
                let p = suite::measure_op(&ctx, &timer, &cfg, &op).expect("op");
                assert!(p.verified, "{}: {:?}", op.label(), p.verification);
                let mut line = format!(
                    "  {:<28} {:>10} {:>15} {:>12}",
                    op.label(),
                    seconds(p.median_s),
                    si(p.flops_per_s, "FLOP/s"),
                    si(p.bytes_per_s, "B/s"),
                );
                if op.phase == Phase::Ar && op.op != "softmax" {
                    let frac = p.bytes_per_s / mem;
                    line += &format!("  {frac:.2} of memory roof");
                    summary.push(format!(
                        "{} {} decode {}: {frac:.2} of memory roof",
                        ctx.adapter.backend,
                        dtype.name(),
                        op.op
                    ));
                }
                println!("{line}  [{}]", p.kernel);
                if op.phase == Phase::Init {
                    if op.op == "attn" {
                        fused = Some((p.median_s, p.flops));
                    } else {
                        unfused_s += p.median_s;
                        if op.op != "softmax" {
                            unfused_flops += p.flops;
                        }
                    }
                }
            }
            if let Some((fused_s, fused_flops)) = fused {
                let line = format!(
                        "{} {} prefill S={s}: fused {} vs unfused qk+softmax+pv {} ({:.2}x; {} of products vs {})",
                        ctx.adapter.backend,
                        dtype.name(),
                        seconds(fused_s),
                        seconds(unfused_s),
                        unfused_s / fused_s,
                        si(fused_flops as f64, "FLOP"),
                        si(unfused_flops as f64, "FLOP"),
                    );
                println!("  {line}");
                summary.push(line);
            }
        }
    }
    println!("\n== summary");
    for line in summary {
        println!("  {line}");
    }
}
