//! The workload plan: a model and a sweep become a list of ops, each a
//! (batched) matrix product with its shape, FLOPs and minimal bytes.
//!
//! Accounting, per op with GEMM-equivalent dimensions batch, m, n, k:
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
//!   (see [`crate::kernels::softmax`]);
//! - fused attention: `4 * batch * d * visible` FLOPs (one multiply-add per
//!   visible query-key pair in each product: about half of the full square
//!   in causal prefill), `size * batch * 2 * (m + n) * d` bytes (Q, K, V read
//!   once, O written once; see [`crate::kernels::attention`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::{attention, softmax, DType};
use crate::model::ModelConfig;

/// The chart's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Series {
    /// q, k, v and o projections.
    #[serde(rename = "qkv mlp")]
    QkvMlp,
    /// The MLP's up, gate and down products.
    #[serde(rename = "up/gate/down")]
    UpGateDown,
    /// Attention's score (Q.K^T) and value (P.V) products, unfused.
    #[serde(rename = "qk/pv")]
    QkPv,
    /// The unfused attention's softmax over the scores.
    #[serde(rename = "softmax")]
    Softmax,
    /// Fused (flash) attention: scores, softmax and P.V in one kernel.
    #[serde(rename = "attention (fused)")]
    Attention,
}

impl Series {
    /// Name as in the chart's legend.
    pub fn name(self) -> &'static str {
        match self {
            Self::QkvMlp => "qkv mlp",
            Self::UpGateDown => "up/gate/down",
            Self::QkPv => "qk/pv",
            Self::Softmax => "softmax",
            Self::Attention => "attention (fused)",
        }
    }

    /// Every series, in legend order.
    pub const ALL: [Series; 5] = [
        Self::QkvMlp,
        Self::UpGateDown,
        Self::QkPv,
        Self::Softmax,
        Self::Attention,
    ];

    /// Whether the series is attention (unfused, softmax or fused): its ops
    /// grow with the context and are skipped, not fatal, where they exceed an
    /// adapter's buffers.
    pub fn is_attention(self) -> bool {
        matches!(self, Self::QkPv | Self::Softmax | Self::Attention)
    }
}

/// Prefill ("init") or autoregressive decode ("ar").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Prefill over a whole prompt.
    Init,
    /// One decode step.
    Ar,
}

impl Phase {
    /// Name as in the chart's legend.
    pub fn name(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Ar => "ar",
        }
    }
}

/// One matrix product of the model at one point of the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Chart series.
    pub series: Series,
    /// Phase.
    pub phase: Phase,
    /// Which product: q, k, v, o, gate, up, down.
    pub op: String,
    /// Element type.
    pub dtype: DType,
    /// Sequences in flight (B).
    pub seqs: u64,
    /// Prompt length (prefill) or KV context length (decode).
    pub seq_len: u64,
    /// Independent products (1 for the shared-weight projections).
    pub batch: u64,
    /// Rows of A and C.
    pub m: u64,
    /// Columns of C (rows of the weight).
    pub n: u64,
    /// Inner dimension.
    pub k: u64,
}

impl Op {
    /// Query positions per query head of an attention op: S in prefill, 1
    /// in decode (`m` is that times the query heads per KV head).
    pub fn q_len(&self) -> u64 {
        match self.phase {
            Phase::Init => self.seq_len,
            Phase::Ar => 1,
        }
    }

    /// FLOPs: `2 * batch * m * n * k` for products; softmax and fused
    /// attention count what the causal mask leaves (see the module docs).
    pub fn flops(&self) -> u64 {
        match self.series {
            Series::Softmax => softmax::flops(self.batch, self.m, self.n, self.q_len()),
            Series::Attention => attention::flops(self.batch, self.m, self.n, self.q_len(), self.k),
            _ => 2 * self.batch * self.m * self.n * self.k,
        }
    }

    /// Minimal bytes: `dtype_size * batch * (m*k + k*n + m*n)` for products;
    /// softmax and fused attention as in the module docs.
    pub fn bytes(&self) -> u64 {
        match self.series {
            Series::Softmax => softmax::bytes(self.batch, self.m, self.n, self.q_len(), self.dtype),
            Series::Attention => attention::bytes(self.batch, self.m, self.n, self.k, self.dtype),
            _ => {
                self.dtype.size()
                    * self.batch
                    * (self.m * self.k + self.k * self.n + self.m * self.n)
            }
        }
    }

    /// FLOPs per byte.
    pub fn intensity(&self) -> f64 {
        self.flops() as f64 / self.bytes() as f64
    }

    /// Short label, e.g. `init q S=128 f16`.
    pub fn label(&self) -> String {
        let size = match self.phase {
            Phase::Init => format!("B={} S={}", self.seqs, self.seq_len),
            Phase::Ar => format!("B={} L={}", self.seqs, self.seq_len),
        };
        format!(
            "{} {} {size} {}",
            self.phase.name(),
            self.op,
            self.dtype.name()
        )
    }
}

/// The sweep to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sweep {
    /// Prompt lengths of the prefill points (batch `prefill_batch`).
    pub seq_lens: Vec<u64>,
    /// Sequences per prefill point.
    pub prefill_batch: u64,
    /// Decode batch sizes.
    pub batches: Vec<u64>,
    /// Context length of the decode points.
    pub context: u64,
    /// Extra context lengths of decode attention at B = 1.
    #[serde(default)]
    pub contexts: Vec<u64>,
    /// Element types.
    pub dtypes: Vec<DType>,
}

impl Sweep {
    /// The full sweep: S in 128..4096 at B = 1, B in 1..64 at L = 2048, and
    /// decode attention at B = 1 for L in 128..4096.
    pub fn full(dtypes: Vec<DType>) -> Self {
        Self {
            seq_lens: vec![128, 256, 512, 1024, 2048, 4096],
            prefill_batch: 1,
            batches: vec![1, 2, 4, 8, 16, 32, 64],
            context: 2048,
            contexts: vec![128, 256, 512, 1024, 2048, 4096],
            dtypes,
        }
    }

    /// The `--quick` sweep: a minute on a software adapter.
    pub fn quick(dtypes: Vec<DType>) -> Self {
        Self {
            seq_lens: vec![128],
            prefill_batch: 1,
            batches: vec![1, 16],
            context: 2048,
            contexts: vec![],
            dtypes,
        }
    }

    /// Largest sequence length, context or batch a sweep may ask for (2^24).
    pub const MAX_SIZE: u64 = 1 << 24;

    /// Reject empty lists, zero sizes and sizes beyond [`Self::MAX_SIZE`].
    pub fn validate(&self) -> Result<()> {
        if self.seq_lens.contains(&0) {
            return Err(Error::Invalid(
                "sequence lengths must be greater than zero".into(),
            ));
        }
        if self.batches.contains(&0) || self.prefill_batch == 0 {
            return Err(Error::Invalid(
                "batch sizes must be greater than zero".into(),
            ));
        }
        if self.context == 0 || self.contexts.contains(&0) {
            return Err(Error::Invalid(
                "the context length must be greater than zero".into(),
            ));
        }
        if self.dtypes.is_empty() {
            return Err(Error::Invalid("no data type to run".into()));
        }
        let sizes = self
            .seq_lens
            .iter()
            .chain(&self.batches)
            .chain(&self.contexts);
        if let Some(v) = sizes
            .chain([&self.context, &self.prefill_batch])
            .find(|&&v| v > Self::MAX_SIZE)
        {
            return Err(Error::Invalid(format!(
                "sweep size {v} is larger than {}",
                Self::MAX_SIZE
            )));
        }
        Ok(())
    }
}

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
/// (series, name, batch, m, n, k).
fn attention(
    model: &ModelConfig,
    phase: Phase,
    seqs: u64,
    len: u64,
) -> [(Series, &'static str, u64, u64, u64, u64); 4] {
    let kv = model.num_key_value_heads;
    let group = model.num_attention_heads / kv;
    let d = model.head_dim;
    let rows = match phase {
        Phase::Init => group * len,
        Phase::Ar => group,
    };
    [
        (Series::QkPv, "qk", seqs * kv, rows, len, d),
        (Series::Softmax, "softmax", seqs * kv, rows, len, d),
        (Series::QkPv, "pv", seqs * kv, rows, d, len),
        (Series::Attention, "attn", seqs * kv, rows, len, d),
    ]
}

/// Every op of `model` over `sweep`, prefill points first. Fails when an
/// op's FLOPs or bytes could not be counted in 64 bits (every formula is
/// below `16 * batch * m * n * k`).
pub fn plan(model: &ModelConfig, sweep: &Sweep) -> Result<Vec<Op>> {
    let ops = plan_unchecked(model, sweep)?;
    for op in &ops {
        let bound = 16.0 * op.batch as f64 * op.m as f64 * op.n as f64 * op.k as f64;
        if bound >= 2f64.powi(63) {
            return Err(Error::Invalid(format!(
                "{}: {} x {}x{}x{} is too large to count its FLOPs in 64 bits",
                op.label(),
                op.batch,
                op.m,
                op.n,
                op.k
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
    for &dtype in &sweep.dtypes {
        let op = |series, phase, name: &str, seqs, seq_len, (batch, m, n, k)| Op {
            series,
            phase,
            op: name.to_string(),
            dtype,
            seqs,
            seq_len,
            batch,
            m,
            n,
            k,
        };
        let phases = sweep
            .seq_lens
            .iter()
            .map(|&s| (Phase::Init, sweep.prefill_batch, s, sweep.prefill_batch * s))
            .chain(
                sweep
                    .batches
                    .iter()
                    .map(|&b| (Phase::Ar, b, sweep.context, b)),
            );
        for (phase, seqs, seq_len, tokens) in phases {
            for (series, name, n, k) in linears(model) {
                ops.push(op(series, phase, name, seqs, seq_len, (1, tokens, n, k)));
            }
            for (series, name, batch, m, n, k) in attention(model, phase, seqs, seq_len) {
                ops.push(op(series, phase, name, seqs, seq_len, (batch, m, n, k)));
            }
        }
        // Decode attention over further context lengths at B = 1 (the
        // projections do not depend on the context); B = 1 at the main
        // context is already in the batch sweep.
        let done = |l: u64| l == sweep.context && sweep.batches.contains(&1);
        for &len in sweep.contexts.iter().filter(|&&l| !done(l)) {
            for (series, name, batch, m, n, k) in attention(model, Phase::Ar, 1, len) {
                ops.push(op(series, Phase::Ar, name, 1, len, (batch, m, n, k)));
            }
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!((q.m, q.n, q.k), (2048, 4096, 4096));
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
        assert_eq!((up.m, up.n, up.k, up.phase), (1, 11008, 4096, Phase::Ar));
        // 2 * 1 * 11008 * 4096 = 90_177_536
        assert_eq!(up.flops(), 90_177_536);
        // 2 * (4096 + 4096*11008 + 11008) = 2 * 45_103_872 = 90_207_744
        assert_eq!(up.bytes(), 90_207_744);
        assert_relative_eq!(up.intensity(), 90_177_536.0 / 90_207_744.0);
        let down = ops.iter().find(|o| o.op == "down").unwrap();
        assert_eq!((down.n, down.k), (4096, 11008));
    }

    #[test]
    fn gqa_shrinks_k_and_v() {
        let m = ModelConfig::preset("llama-3-8b").unwrap();
        let ops = plan(&m, &Sweep::quick(vec![DType::F32])).unwrap();
        let k = ops.iter().find(|o| o.op == "k").unwrap();
        assert_eq!((k.n, k.k), (1024, 4096));
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
        assert_eq!(
            (qk.series, qk.batch, qk.m, qk.n, qk.k),
            (Series::QkPv, 128, 1, 2048, 128)
        );
        // 2 * B * heads * L * d = 2 * 4 * 32 * 2048 * 128
        assert_eq!(qk.flops(), 67_108_864);
        // 2 bytes * 128 * (1*128 + 128*2048 + 1*2048) = 67_665_920
        assert_eq!(qk.bytes(), 67_665_920);
        let pv = ops.iter().find(|o| o.op == "pv").unwrap();
        assert_eq!((pv.batch, pv.m, pv.n, pv.k), (128, 1, 128, 2048));
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
        assert_eq!((qk.batch, qk.m, qk.n, qk.k), (32, 512, 512, 128));
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
        assert_eq!((attn.batch, attn.m, attn.n, attn.k), (32, 1024, 1024, 128));
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
        assert_eq!((attn.batch, attn.m, attn.n, attn.q_len()), (32, 1, 2048, 1));
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
        assert_eq!((init.batch, init.m, init.n, init.k), (8, 4 * 256, 256, 128));
        let ar = ops
            .iter()
            .find(|o| o.op == "qk" && o.phase == Phase::Ar)
            .unwrap();
        assert_eq!((ar.batch, ar.m, ar.n, ar.k), (2 * 8, 4, 2048, 128));
        // Total decode qk FLOPs are 2 * B * heads * L * d whatever the grouping.
        assert_eq!(ar.flops(), 2 * 2 * 32 * 2048 * 128);
    }

    #[test]
    fn sweep_sizes_and_counts() {
        let ops = plan(&llama(), &Sweep::full(vec![DType::F32, DType::F16])).unwrap();
        // ((6 prefill + 7 decode points) * (7 linears + qk + softmax + pv +
        // attn) + 5 further decode contexts * 4 attention ops) * 2 dtypes
        assert_eq!(ops.len(), (13 * 11 + 5 * 4) * 2);
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
