//! The sizes a run sweeps: prompt lengths, decode batches and contexts,
//! dtypes, and optionally a subset of the ops.

use serde::{Deserialize, Serialize};

use super::OP_NAMES;
use crate::dtype::{DType, Format};
use crate::error::{Error, Result};

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
    /// Element types (of attention, and of the activations of quantized
    /// linear layers: f16 where the list has it, else f32).
    pub dtypes: Vec<DType>,
    /// Formats of the linear layers' weights: a float format runs with
    /// activations of its type, a quantized one with the activations
    /// `dtypes` give; empty: the float formats of `dtypes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<Format>,
    /// The ops to run, by name (`q`, `up`, `attn`, ...); empty for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<String>,
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
            weights: Vec::new(),
            ops: Vec::new(),
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
            weights: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// The weight formats of the linear layers: `weights`, or the float
    /// formats of `dtypes` where it is empty.
    pub fn linear_formats(&self) -> Vec<Format> {
        if self.weights.is_empty() {
            self.dtypes.iter().map(|&d| Format::Float(d)).collect()
        } else {
            self.weights.clone()
        }
    }

    /// The activations' type of quantized linear layers: f16 where the
    /// sweep runs f16, else f32.
    pub fn quant_activation(&self) -> DType {
        if self.dtypes.contains(&DType::F16) {
            DType::F16
        } else {
            DType::F32
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
        if let Some(bad) = self.ops.iter().find(|o| !OP_NAMES.contains(&o.as_str())) {
            return Err(Error::Invalid(format!(
                "unknown op `{bad}`; the ops are {}",
                OP_NAMES.join(", ")
            )));
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
