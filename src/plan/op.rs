//! What an op is: its series, phase, sizes and typed shape, and the key
//! that identifies it within and across runs.

use serde::{Deserialize, Serialize};

use super::shape::{OpShape, OpWire};
use crate::dtype::Format;
use crate::kernels::DType;

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

/// One op of the model at one point of the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "OpWire", try_from = "OpWire")]
pub struct Op {
    /// Chart series.
    pub series: Series,
    /// Phase.
    pub phase: Phase,
    /// Which op: q, k, v, o, gate, up, down, qk, softmax, pv, attn.
    pub op: String,
    /// Element type.
    pub dtype: DType,
    /// Sequences in flight (B).
    pub seqs: u64,
    /// Prompt length (prefill) or KV context length (decode).
    pub seq_len: u64,
    /// What it computes, and its shape.
    pub shape: OpShape,
}

impl Op {
    /// The op `name` of `series` in `phase` for `seqs` sequences at
    /// `seq_len`, computing `shape` in `dtype`.
    pub fn new(
        series: Series,
        phase: Phase,
        name: &str,
        dtype: DType,
        seqs: u64,
        seq_len: u64,
        shape: OpShape,
    ) -> Self {
        Self {
            series,
            phase,
            op: name.to_string(),
            dtype,
            seqs,
            seq_len,
            shape,
        }
    }

    /// FLOPs (each kernel's accounting; see the module docs).
    pub fn flops(&self) -> u64 {
        self.shape.flops()
    }

    /// Minimal bytes (each kernel's accounting; see the module docs).
    pub fn bytes(&self) -> u64 {
        self.shape.bytes(self.dtype)
    }

    /// FLOPs per byte.
    pub fn intensity(&self) -> f64 {
        self.flops() as f64 / self.bytes() as f64
    }

    /// GEMM-equivalent `(batch, m, n, k)` ([`OpShape::dims`]).
    pub fn dims(&self) -> (u64, u64, u64, u64) {
        self.shape.dims()
    }

    /// The weights' format of a linear layer (its dtype for every float op).
    pub fn format(&self) -> Format {
        match self.shape {
            OpShape::Quantized(q) => Format::Quant(q.weights),
            OpShape::Product(_) | OpShape::Softmax(_) | OpShape::Attention(_) => {
                Format::Float(self.dtype)
            }
        }
    }

    /// Short label, e.g. `init q B=1 S=128 f16` (the weight format for a
    /// quantized op: `ar up B=1 L=2048 q4_0`).
    pub fn label(&self) -> String {
        let size = match self.phase {
            Phase::Init => format!("B={} S={}", self.seqs, self.seq_len),
            Phase::Ar => format!("B={} L={}", self.seqs, self.seq_len),
        };
        format!(
            "{} {} {size} {}",
            self.phase.name(),
            self.op,
            self.format().name()
        )
    }

    /// What identifies an op within a run and across runs: its series,
    /// its label (phase, op, sizes and dtype) and its dimensions.
    pub fn key(&self) -> OpKey {
        OpKey {
            series: self.series,
            label: self.label(),
            dims: self.dims(),
        }
    }
}

/// The identity of an op ([`Op::key`]): resume, passes and `compare` match
/// points by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpKey {
    /// Chart series.
    pub series: Series,
    /// Phase, op, sizes and dtype.
    pub label: String,
    /// GEMM-equivalent dimensions.
    pub dims: (u64, u64, u64, u64),
}

/// The names of the ops of one transformer block, in plan order.
pub const OP_NAMES: [&str; 11] = [
    "q", "k", "v", "o", "gate", "up", "down", "qk", "softmax", "pv", "attn",
];
