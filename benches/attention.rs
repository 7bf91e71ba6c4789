//! `cargo bench --bench attention`: Llama-7B attention on every adapter and
//! dtype, against the roofs and against itself, all measured in one run:
//! - decode (B = 1, L = 2048): achieved bytes/s of the unfused qk and pv
//!   products and of fused split-KV attention, as fractions of the measured
//!   memory roof (target >= 0.7), and the same timed in alternation with
//!   the roof's kernel and the read-only streams (`measure::paired`);
//! - prefill (S = 1024; S = 2048 with `ROOFLINE_BENCH_LONG=1`): fused
//!   attention's time against unfused qk + softmax + pv (target: fused
//!   faster), with both sides' FLOP/s.
//!
//! Every op is sampled in three passes over the plan, so each median spans
//! the whole bench: on a shared host one side of the comparison sampled in
//! a busy minute and the other in a quiet one flipped it (fused 0.89x, then
//! 1.65x, in two runs back to back with one pass).
//!
//! It drives the library's runner, as `run --ops qk,softmax,pv,attn` does.

#[path = "common.rs"]
mod common;

use wgpu_roofline::kernels::DType;
use wgpu_roofline::measure::{Timer, TimerPreference};
use wgpu_roofline::plan::{Phase, Sweep};
use wgpu_roofline::units::{seconds, si};

/// Sampling passes over the plan (see the module's doc).
const PASSES: u32 = 3;

fn main() {
    let s = if std::env::var_os("ROOFLINE_BENCH_LONG").is_some() {
        2048
    } else {
        1024
    };
    let mut summary = Vec::new();
    for ctx in common::adapters() {
        println!("\n== {} ({})", ctx.adapter.name, ctx.adapter.backend);
        let sweep = Sweep {
            seq_lens: vec![s],
            batches: vec![1],
            ops: ["qk", "softmax", "pv", "attn"].map(String::from).to_vec(),
            ..Sweep::quick(vec![])
        };
        let file = common::run(&ctx, &common::settings(sweep, PASSES));
        let timer = Timer::new(&ctx, TimerPreference::Auto).expect("timer");
        let mem = file
            .ceilings
            .measured
            .memory_bytes_per_s
            .expect("memory roof");
        println!("  memory roof {}", si(mem, "B/s"));
        for skipped in &file.skipped {
            println!("  {:<28} skipped ({})", skipped.op, skipped.reason);
        }
        for dtype in [DType::F32, DType::F16] {
            let (mut unfused_s, mut unfused_flops, mut fused) = (0.0, 0u64, None);
            for p in file.points.iter().filter(|p| p.op.dtype == dtype) {
                let op = &p.op;
                let mut line = format!(
                    "  {:<28} {:>10} {:>15} {:>12}",
                    op.label(),
                    seconds(p.median_s),
                    si(p.flops_per_s, "FLOP/s"),
                    si(p.bytes_per_s, "B/s"),
                );
                if op.phase == Phase::Ar && op.op != "softmax" {
                    let frac = p.bytes_per_s / mem;
                    let paired = common::paired_share(&ctx, &timer, &file, p);
                    line += &format!("  {frac:.2} of memory roof, {paired}");
                    summary.push(format!(
                        "{} {} decode {}: {frac:.2} of memory roof, {paired}",
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
