//! The workload plan: a model and a sweep become a list of ops, each with
//! its typed shape ([`OpShape`]), FLOPs and minimal bytes. The accounting
//! lives with each kernel (`kernels/<name>/accounting.rs`, no GPU needed);
//! for products:
//! - `flops = 2 * batch * m * n * k` (one multiply and one add per term);
//! - `bytes = dtype_size * batch * (m*k + k*n + m*n)`: the minimal traffic,
//!   each input read once and the output written once;
//! - `intensity = flops / bytes`.
//!
//! Projections and MLP products share their weights across the tokens of a
//! step, so their m is the number of tokens (B * S in prefill, B in decode)
//! and batch is 1.
//!
//! Attention (`qk/pv`, unfused) is one product per sequence and KV head:
//! batch = B * kv_heads. The g = heads / kv_heads query heads that share a KV
//! head are stacked into m (m = g * S in prefill, m = g in decode), so K and
//! V are read once per KV head, as grouped-query attention does. qk is
//! Q (m x d) . K^T with K (S or L) x d: n = S or L, k = d. pv is P (m x S|L)
//! . V with V stored transposed per head (d x S|L): n = d, k = S or L. In
//! decode this gives qk FLOPs = 2 * B * heads * L * d whatever the grouping.
//!
//! The unfused path's softmax (`softmax` series) is its own timed op between
//! qk and pv, over the same batch x m x n scores; fused attention
//! (`attention (fused)`) is one op over the same shape with k = d. Their
//! accounting depends on the causal mask (prefill: query row at position i
//! sees keys 0..=i; decode: the new token sees all L keys):
//! - softmax: `5 * visible` FLOPs, `size * (visible + m*n) * batch` bytes
//!   (see [`crate::kernels::softmax::accounting`]);
//! - fused attention: `4 * batch * d * visible` FLOPs (one multiply-add per
//!   visible query-key pair in each product: about half of the full square
//!   in causal prefill), `size * batch * 2 * (m + n) * d` bytes (Q, K, V read
//!   once, O written once; see [`crate::kernels::attention::accounting`]).

mod op;
mod shape;
mod sweep;

pub use op::{Op, OpKey, Phase, Series, OP_NAMES};
pub use shape::{OpShape, OpWire};
pub use sweep::Sweep;

use crate::dtype::{Format, Quant};
use crate::error::{Error, Result};
use crate::kernels::attention::accounting::AttentionShape;
use crate::kernels::matmul::accounting::{ProductShape, QuantShape};
use crate::model::ModelConfig;

/// The linear layers of one transformer block: (series, name, n, k).
fn linears(model: &ModelConfig) -> [(Series, &'static str, u64, u64); 7] {
    let h = model.hidden_size;
    let i = model.intermediate_size;
    [
        (Series::QkvMlp, "q", model.q_width(), h),
        (Series::QkvMlp, "k", model.kv_width(), h),
        (Series::QkvMlp, "v", model.kv_width(), h),
        (Series::QkvMlp, "o", h, model.q_width()),
        (Series::UpGateDown, "gate", i, h),
        (Series::UpGateDown, "up", i, h),
        (Series::UpGateDown, "down", h, i),
    ]
}

/// The attention ops of one step, unfused (qk, softmax, pv) then fused:
/// (series, name, shape).
fn attention(
    model: &ModelConfig,
    phase: Phase,
    seqs: u64,
    len: u64,
) -> [(Series, &'static str, OpShape); 4] {
    let kv = model.num_key_value_heads;
    let group = model.num_attention_heads / kv;
    let d = model.head_dim;
    let q_len = match phase {
        Phase::Init => len,
        Phase::Ar => 1,
    };
    let rows = group * q_len;
    let batch = seqs * kv;
    let scores = AttentionShape {
        batch,
        rows,
        keys: len,
        q_len,
        head_dim: d,
    };
    let product = |m, n, k| OpShape::Product(ProductShape { batch, m, n, k });
    [
        (Series::QkPv, "qk", product(rows, len, d)),
        (Series::Softmax, "softmax", OpShape::Softmax(scores)),
        (Series::QkPv, "pv", product(rows, d, len)),
        (Series::Attention, "attn", OpShape::Attention(scores)),
    ]
}

/// Every op of `model` over `sweep`, prefill points first. Fails when an
/// op's FLOPs or bytes could not be counted in 64 bits (every formula is
/// below `16 * batch * m * n * k`).
pub fn plan(model: &ModelConfig, sweep: &Sweep) -> Result<Vec<Op>> {
    let ops = plan_unchecked(model, sweep)?;
    for op in &ops {
        let (batch, m, n, k) = op.dims();
        let bound = 16.0 * batch as f64 * m as f64 * n as f64 * k as f64;
        if bound >= 2f64.powi(63) {
            return Err(Error::Invalid(format!(
                "{}: {batch} x {m}x{n}x{k} is too large to count its FLOPs in 64 bits",
                op.label(),
            )));
        }
    }
    Ok(ops)
}

fn plan_unchecked(model: &ModelConfig, sweep: &Sweep) -> Result<Vec<Op>> {
    sweep.validate()?;
    // Models read from results files did not pass the model parser.
    model
        .validate(true)
        .map_err(|e| Error::Invalid(format!("model {}: {e}", model.name)))?;
    let mut ops = Vec::new();
    let wanted = |name: &str| sweep.ops.is_empty() || sweep.ops.iter().any(|o| o == name);
    let formats = sweep.linear_formats();
    check_blocks(model, &formats)?;
    let phases = || {
        sweep
            .seq_lens
            .iter()
            .map(|&s| (Phase::Init, sweep.prefill_batch, s, sweep.prefill_batch * s))
            .chain(
                sweep
                    .batches
                    .iter()
                    .map(|&b| (Phase::Ar, b, sweep.context, b)),
            )
    };
    // The linear layers of one step with weights in `format`.
    let linear_ops = |format: Format, phase, seqs, seq_len, tokens| {
        linears(model)
            .into_iter()
            .filter(|l| wanted(l.1))
            .map(move |(series, name, n, k)| {
                let product = ProductShape {
                    batch: 1,
                    m: tokens,
                    n,
                    k,
                };
                let (dtype, shape) = match format {
                    Format::Float(d) => (d, OpShape::Product(product)),
                    Format::Quant(q) => (
                        sweep.quant_activation(),
                        OpShape::Quantized(QuantShape {
                            shape: product,
                            weights: q,
                        }),
                    ),
                };
                Op::new(series, phase, name, dtype, seqs, seq_len, shape)
            })
    };
    for &dtype in &sweep.dtypes {
        for (phase, seqs, seq_len, tokens) in phases() {
            if formats.contains(&Format::Float(dtype)) {
                ops.extend(linear_ops(
                    Format::Float(dtype),
                    phase,
                    seqs,
                    seq_len,
                    tokens,
                ));
            }
            for (series, name, shape) in attention(model, phase, seqs, seq_len)
                .into_iter()
                .filter(|a| wanted(a.1))
            {
                ops.push(Op::new(series, phase, name, dtype, seqs, seq_len, shape));
            }
        }
        // Decode attention over further context lengths at B = 1 (the
        // projections do not depend on the context); B = 1 at the main
        // context is already in the batch sweep.
        let done = |l: u64| l == sweep.context && sweep.batches.contains(&1);
        for &len in sweep.contexts.iter().filter(|&&l| !done(l)) {
            for (series, name, shape) in attention(model, Phase::Ar, 1, len)
                .into_iter()
                .filter(|a| wanted(a.1))
            {
                ops.push(Op::new(series, Phase::Ar, name, dtype, 1, len, shape));
            }
        }
    }
    // Linear layers in the other formats: quantized, or floats whose
    // dtype the sweep does not run attention in.
    let other = |f: &Format| match f {
        Format::Float(d) => !sweep.dtypes.contains(d),
        Format::Quant(_) => true,
    };
    for &format in formats.iter().filter(|f| other(f)) {
        for (phase, seqs, seq_len, tokens) in phases() {
            ops.extend(linear_ops(format, phase, seqs, seq_len, tokens));
        }
    }
    Ok(ops)
}

/// The first k of the linear layers (the hidden size, the query width,
/// the MLP's width) that is not a multiple of the quantized formats' block
/// of 32, by its config name, if any.
pub fn block_mismatch(model: &ModelConfig) -> Option<(&'static str, u64)> {
    [
        ("hidden_size", model.hidden_size),
        ("num_attention_heads * head_dim", model.q_width()),
        ("intermediate_size", model.intermediate_size),
    ]
    .into_iter()
    .find(|(_, v)| !v.is_multiple_of(Quant::BLOCK))
}

/// Quantized weights come in blocks of 32 along k: one clear error naming
/// the dimension where a model does not fit them.
fn check_blocks(model: &ModelConfig, formats: &[Format]) -> Result<()> {
    let quant = formats.iter().find_map(|f| match f {
        Format::Quant(q) => Some(*q),
        Format::Float(_) => None,
    });
    match (quant, block_mismatch(model)) {
        (Some(q), Some((name, v))) => Err(Error::Invalid(format!(
            "{} weights need the linear layers' k to be a multiple of {}: model {} has {name} = {v}",
            q.name(),
            Quant::BLOCK,
            model.name
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::DType;
    use approx::assert_relative_eq;

    fn llama() -> ModelConfig {
        ModelConfig::preset("llama-7b").unwrap()
    }

    #[test]
    fn llama_7b_prefill_q_projection_by_hand() {
        let ops = plan(
            &llama(),
            &Sweep {
                seq_lens: vec![2048],
                batches: vec![],
                ..Sweep::full(vec![DType::F16])
            },
        )
        .unwrap();
        let q = ops.iter().find(|o| o.op == "q").unwrap();
        assert_eq!(q.dims(), (1, 2048, 4096, 4096));
        // 2 * 2048 * 4096 * 4096
        assert_eq!(q.flops(), 68_719_476_736);
        // 2 * (2048*4096 + 4096*4096 + 2048*4096) = 2 * 33_554_432 = 67_108_864
        assert_eq!(q.bytes(), 67_108_864);
        assert_relative_eq!(q.intensity(), 1024.0);
    }

    #[test]
    fn llama_7b_decode_up_projection_by_hand() {
        let ops = plan(
            &llama(),
            &Sweep {
                seq_lens: vec![],
                batches: vec![1],
                ..Sweep::full(vec![DType::F16])
            },
        )
        .unwrap();
        let up = ops.iter().find(|o| o.op == "up").unwrap();
        assert_eq!((up.dims(), up.phase), ((1, 1, 11008, 4096), Phase::Ar));
        // 2 * 1 * 11008 * 4096 = 90_177_536
        assert_eq!(up.flops(), 90_177_536);
        // 2 * (4096 + 4096*11008 + 11008) = 2 * 45_103_872 = 90_207_744
        assert_eq!(up.bytes(), 90_207_744);
        assert_relative_eq!(up.intensity(), 90_177_536.0 / 90_207_744.0);
        let down = ops.iter().find(|o| o.op == "down").unwrap();
        assert_eq!(down.dims(), (1, 1, 4096, 11008));
    }

    #[test]
    fn gqa_shrinks_k_and_v() {
        let m = ModelConfig::preset("llama-3-8b").unwrap();
        let ops = plan(&m, &Sweep::quick(vec![DType::F32])).unwrap();
        let k = ops.iter().find(|o| o.op == "k").unwrap();
        assert_eq!(k.dims(), (1, 128, 1024, 4096));
        // f32: 4 bytes per element; S = 128
        assert_eq!(k.bytes(), 4 * (128 * 4096 + 4096 * 1024 + 128 * 1024));
    }

    #[test]
    fn attention_accounting_by_hand() {
        // Llama-7B decode at B = 4, L = 2048, f16: per KV head (32 of them,
        // one query head each), q (1 x 128) . K^T (2048 x 128).
        let sweep = Sweep {
            seq_lens: vec![],
            batches: vec![4],
            contexts: vec![],
            ..Sweep::full(vec![DType::F16])
        };
        let ops = plan(&llama(), &sweep).unwrap();
        let qk = ops.iter().find(|o| o.op == "qk").unwrap();
        assert_eq!((qk.series, qk.dims()), (Series::QkPv, (128, 1, 2048, 128)));
        // 2 * B * heads * L * d = 2 * 4 * 32 * 2048 * 128
        assert_eq!(qk.flops(), 67_108_864);
        // 2 bytes * 128 * (1*128 + 128*2048 + 1*2048) = 67_665_920
        assert_eq!(qk.bytes(), 67_665_920);
        let pv = ops.iter().find(|o| o.op == "pv").unwrap();
        assert_eq!(pv.dims(), (128, 1, 128, 2048));
        assert_eq!(pv.flops(), qk.flops());
        // Prefill S = 512: 32 heads of 512 x 512 scores; qk in f16 does
        // 2*32*512*512*128 = 2_147_483_648 FLOPs over
        // 2*32*(512*128 + 128*512 + 512*512) = 25_165_824 bytes: 85.33 FLOP/B.
        let sweep = Sweep {
            seq_lens: vec![512],
            batches: vec![],
            contexts: vec![],
            ..Sweep::full(vec![DType::F16])
        };
        let qk = plan(&llama(), &sweep)
            .unwrap()
            .into_iter()
            .find(|o| o.op == "qk")
            .unwrap();
        assert_eq!(qk.dims(), (32, 512, 512, 128));
        assert_eq!((qk.flops(), qk.bytes()), (2_147_483_648, 25_165_824));
        assert_relative_eq!(qk.intensity(), 2_147_483_648.0 / 25_165_824.0);
    }

    #[test]
    fn fused_attention_and_softmax_accounting_by_hand() {
        // Llama-7B prefill S = 1024, f16. Causal: 1024 * 1025 / 2 = 524_800
        // visible query-key pairs per head.
        let sweep = Sweep {
            seq_lens: vec![1024],
            batches: vec![1],
            contexts: vec![],
            ..Sweep::full(vec![DType::F16])
        };
        let ops = plan(&llama(), &sweep).unwrap();
        let find = |name: &str, phase| {
            ops.iter()
                .find(|o| o.op == name && o.phase == phase)
                .unwrap()
                .clone()
        };
        let attn = find("attn", Phase::Init);
        assert_eq!(attn.series, Series::Attention);
        assert_eq!(attn.dims(), (32, 1024, 1024, 128));
        // 4 * 32 heads * 128 * 524_800
        assert_eq!(attn.flops(), 8_598_323_200);
        // 2 bytes * 32 * (Q + O: 2 * 1024 * 128, K + V: 2 * 1024 * 128)
        assert_eq!(attn.bytes(), 33_554_432);
        assert_relative_eq!(attn.intensity(), 256.25);
        // The unfused products do the whole square: fused needs about half
        // of qk + pv.
        let unfused = find("qk", Phase::Init).flops() + find("pv", Phase::Init).flops();
        assert_eq!(unfused, 17_179_869_184);
        let sm = find("softmax", Phase::Init);
        assert_eq!(sm.flops(), 5 * 32 * 524_800);
        // 2 bytes * 32 * (524_800 read + 1024 * 1024 written)
        assert_eq!(sm.bytes(), 100_696_064);
        // Decode B = 1, L = 2048: every key visible.
        let attn = find("attn", Phase::Ar);
        assert_eq!(
            attn.shape,
            OpShape::Attention(AttentionShape {
                batch: 32,
                rows: 1,
                keys: 2048,
                q_len: 1,
                head_dim: 128
            })
        );
        assert_eq!(attn.flops(), 4 * 32 * 128 * 2048);
        assert_eq!(attn.bytes(), 2 * 32 * 2 * (1 + 2048) * 128);
        let sm = find("softmax", Phase::Ar);
        assert_eq!(sm.flops(), 5 * 32 * 2048);
        assert_eq!(sm.bytes(), 2 * 32 * 2 * 2048);
    }

    #[test]
    fn gqa_attention_stacks_query_heads_per_kv_head() {
        // Llama-3-8B: 32 query heads over 8 KV heads, 4 per KV head.
        let m = ModelConfig::preset("llama-3-8b").unwrap();
        let sweep = Sweep {
            seq_lens: vec![256],
            batches: vec![2],
            contexts: vec![],
            ..Sweep::full(vec![DType::F32])
        };
        let ops = plan(&m, &sweep).unwrap();
        let init = ops
            .iter()
            .find(|o| o.op == "qk" && o.phase == Phase::Init)
            .unwrap();
        assert_eq!(init.dims(), (8, 4 * 256, 256, 128));
        let ar = ops
            .iter()
            .find(|o| o.op == "qk" && o.phase == Phase::Ar)
            .unwrap();
        assert_eq!(ar.dims(), (2 * 8, 4, 2048, 128));
        // Total decode qk FLOPs are 2 * B * heads * L * d whatever the grouping.
        assert_eq!(ar.flops(), 2 * 2 * 32 * 2048 * 128);
    }

    #[test]
    fn ops_keep_their_flat_json_fields() {
        let ops = plan(&llama(), &Sweep::quick(vec![DType::F16])).unwrap();
        for op in &ops {
            let json = serde_json::to_value(op).unwrap();
            let (batch, m, n, k) = op.dims();
            assert_eq!(json["batch"], batch);
            assert_eq!((json["m"].as_u64(), json["n"].as_u64()), (Some(m), Some(n)));
            assert_eq!(json["k"], k);
            let back: Op = serde_json::from_value(json).unwrap();
            assert_eq!(&back, op);
        }
        // A softmax whose rows are not whole query heads is refused.
        let mut bad =
            serde_json::to_value(ops.iter().find(|o| o.op == "softmax").unwrap()).unwrap();
        bad["m"] = serde_json::json!(129);
        assert!(serde_json::from_value::<Op>(bad).is_err());
    }

    #[test]
    fn sweep_sizes_and_counts() {
        let ops = plan(&llama(), &Sweep::full(vec![DType::F32, DType::F16])).unwrap();
        // ((6 prefill + 7 decode points) * (7 linears + qk + softmax + pv +
        // attn) + 5 further decode contexts * 4 attention ops) * 2 dtypes
        assert_eq!(ops.len(), (13 * 11 + 5 * 4) * 2);
        let some = Sweep {
            ops: vec!["up".into(), "attn".into()],
            ..Sweep::quick(vec![DType::F32])
        };
        let names: Vec<_> = plan(&llama(), &some)
            .unwrap()
            .into_iter()
            .map(|o| o.op)
            .collect();
        assert_eq!(names, ["up", "attn", "up", "attn", "up", "attn"]);
        let typo = Sweep {
            ops: vec!["upp".into()],
            ..Sweep::quick(vec![DType::F32])
        };
        assert!(plan(&llama(), &typo)
            .unwrap_err()
            .to_string()
            .contains("unknown op `upp`"));
        let bad = Sweep {
            seq_lens: vec![0],
            ..Sweep::quick(vec![DType::F32])
        };
        assert!(plan(&llama(), &bad)
            .unwrap_err()
            .to_string()
            .contains("sequence lengths"));
        let bad = Sweep {
            batches: vec![4, 0],
            ..Sweep::quick(vec![DType::F32])
        };
        assert!(plan(&llama(), &bad)
            .unwrap_err()
            .to_string()
            .contains("batch sizes"));
    }
}
