//! Typed op shapes: a product, a softmax or a fused attention, each with its
//! own fields, so every match over kinds is exhaustive and no field means
//! two things. Results files keep the flat `batch, m, n, k` fields they
//! always had (GEMM-equivalent dimensions, documented per kind), through
//! [`OpWire`].

use serde::{Deserialize, Serialize};

use super::{Op, Phase, Series};
use crate::dtype::Format;
use crate::kernels::attention::AttentionShape;
use crate::kernels::matmul::{ProductShape, QuantShape};
use crate::kernels::{softmax, DType};

/// What an op computes, with the shape its kernel needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpShape {
    /// A (batched) matrix product: linear layers, unfused attention products.
    Product(ProductShape),
    /// A linear layer's product with block-quantized weights (the op's
    /// dtype is its activations').
    Quantized(QuantShape),
    /// The unfused attention's softmax over the scores.
    Softmax(AttentionShape),
    /// Fused attention.
    Attention(AttentionShape),
}

impl OpShape {
    /// FLOPs of the op (each kernel's accounting).
    pub fn flops(&self) -> u64 {
        match self {
            Self::Product(s) => s.flops(),
            Self::Quantized(s) => s.flops(),
            Self::Softmax(s) => softmax::accounting::flops(s),
            Self::Attention(s) => s.flops(),
        }
    }

    /// Minimal bytes of the op in `dtype` (the activations' type for a
    /// quantized product; each kernel's accounting).
    pub fn bytes(&self, dtype: DType) -> u64 {
        match self {
            Self::Product(s) => s.bytes(dtype),
            Self::Quantized(s) => s.bytes(dtype),
            Self::Softmax(s) => softmax::accounting::bytes(s, dtype),
            Self::Attention(s) => s.bytes(dtype),
        }
    }

    /// GEMM-equivalent `(batch, m, n, k)`, as tables and results files
    /// show them: products as they are; softmax and attention as
    /// (batch, query rows, keys, head dimension).
    pub fn dims(&self) -> (u64, u64, u64, u64) {
        match *self {
            Self::Product(s) | Self::Quantized(QuantShape { shape: s, .. }) => {
                (s.batch, s.m, s.n, s.k)
            }
            Self::Softmax(s) | Self::Attention(s) => (s.batch, s.rows, s.keys, s.head_dim),
        }
    }
}

/// An op as results files store it: flat fields, `batch, m, n, k` in the
/// GEMM-equivalent form of [`OpShape::dims`]; `dtype` is the weight format
/// (`q4_0`, ...) of a quantized product, whose activations' type is
/// `activation_dtype`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpWire {
    series: Series,
    phase: Phase,
    op: String,
    dtype: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation_dtype: Option<DType>,
    seqs: u64,
    seq_len: u64,
    batch: u64,
    m: u64,
    n: u64,
    k: u64,
}

impl From<Op> for OpWire {
    fn from(o: Op) -> Self {
        let (batch, m, n, k) = o.shape.dims();
        let (dtype, activation_dtype) = match o.shape {
            OpShape::Quantized(q) => (Format::Quant(q.weights), Some(o.dtype)),
            OpShape::Product(_) | OpShape::Softmax(_) | OpShape::Attention(_) => {
                (Format::Float(o.dtype), None)
            }
        };
        Self {
            series: o.series,
            phase: o.phase,
            op: o.op,
            dtype,
            activation_dtype,
            seqs: o.seqs,
            seq_len: o.seq_len,
            batch,
            m,
            n,
            k,
        }
    }
}

impl TryFrom<OpWire> for Op {
    type Error = String;

    fn try_from(w: OpWire) -> Result<Self, String> {
        let q_len = match w.phase {
            Phase::Init => w.seq_len,
            Phase::Ar => 1,
        };
        let attention = AttentionShape {
            batch: w.batch,
            rows: w.m,
            keys: w.n,
            q_len,
            head_dim: w.k,
        };
        let product = ProductShape {
            batch: w.batch,
            m: w.m,
            n: w.n,
            k: w.k,
        };
        let linear = matches!(w.series, Series::QkvMlp | Series::UpGateDown);
        let (shape, dtype) = match (w.dtype, w.series) {
            (Format::Quant(q), _) if linear => {
                let act = w
                    .activation_dtype
                    .ok_or_else(|| format!("{} op `{}`: no activation_dtype", q.name(), w.op))?;
                let quant = QuantShape {
                    shape: product,
                    weights: q,
                };
                (OpShape::Quantized(quant), act)
            }
            (Format::Quant(q), series) => {
                return Err(format!(
                    "{} op `{}`: only linear layers have {} weights",
                    series.name(),
                    w.op,
                    q.name()
                ))
            }
            (Format::Float(d), Series::QkvMlp | Series::UpGateDown | Series::QkPv) => {
                (OpShape::Product(product), d)
            }
            (Format::Float(d), Series::Softmax) => (OpShape::Softmax(attention), d),
            (Format::Float(d), Series::Attention) => (OpShape::Attention(attention), d),
        };
        if let OpShape::Softmax(s) | OpShape::Attention(s) = shape {
            if s.q_len == 0 || s.q_len > s.keys || !s.rows.is_multiple_of(s.q_len) {
                return Err(format!(
                    "{} op `{}`: {} rows are not whole query heads of {} positions over {} keys",
                    w.series.name(),
                    w.op,
                    s.rows,
                    s.q_len,
                    s.keys
                ));
            }
        }
        Ok(Op {
            series: w.series,
            phase: w.phase,
            op: w.op,
            dtype,
            seqs: w.seqs,
            seq_len: w.seq_len,
            shape,
        })
    }
}
