//! The FLOPs and minimal bytes of a (batched) matrix product C = A . W^T:
//! `batch` independent products of an m x k A and an n x k W, with W in
//! the activations' float type or block-quantized.

use serde::{Deserialize, Serialize};

use crate::dtype::Quant;
use crate::kernels::DType;

/// The shape of a batch of matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductShape {
    /// Independent products (1 for the shared-weight projections).
    pub batch: u64,
    /// Rows of A and C.
    pub m: u64,
    /// Rows of W, columns of C.
    pub n: u64,
    /// Inner dimension.
    pub k: u64,
}

impl ProductShape {
    /// `2 * batch * m * n * k`: one multiply and one add per term.
    pub fn flops(&self) -> u64 {
        2 * self.batch * self.m * self.n * self.k
    }

    /// `size * batch * (m*k + k*n + m*n)`: each input read once, the
    /// output written once.
    pub fn bytes(&self, dtype: DType) -> u64 {
        dtype.size() * self.batch * (self.m * self.k + self.k * self.n + self.m * self.n)
    }

    /// With W quantized in `q` and activations (A, C) in `act`:
    /// `batch * (m*k*a + n*(k/32)*B + m*n*a)`, a the activation size and B
    /// the block size. Dequantization is not counted in the FLOPs.
    pub fn bytes_quant(&self, act: DType, q: Quant) -> u64 {
        let a = act.size();
        let blocks = self.k / Quant::BLOCK;
        self.batch * (self.m * self.k * a + self.n * blocks * q.block_bytes() + self.m * self.n * a)
    }
}

/// A product whose W is block-quantized: what a quantized op computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuantShape {
    /// The product (one: the shared weights of a linear layer).
    pub shape: ProductShape,
    /// W's format.
    pub weights: Quant,
}

impl QuantShape {
    /// As the float product: dequantization is not counted.
    pub fn flops(&self) -> u64 {
        self.shape.flops()
    }

    /// [`ProductShape::bytes_quant`] with activations in `act`.
    pub fn bytes(&self, act: DType) -> u64 {
        self.shape.bytes_quant(act, self.weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_7b_prefill_q_by_hand() {
        let q = ProductShape {
            batch: 1,
            m: 2048,
            n: 4096,
            k: 4096,
        };
        // 2 * 2048 * 4096 * 4096
        assert_eq!(q.flops(), 68_719_476_736);
        // 2 * (2048*4096 + 4096*4096 + 2048*4096) = 2 * 33_554_432
        assert_eq!(q.bytes(DType::F16), 67_108_864);
        // f32: twice the bytes
        assert_eq!(q.bytes(DType::F32), 134_217_728);
    }

    #[test]
    fn llama_7b_decode_quantized_by_hand() {
        let up = ProductShape {
            batch: 1,
            m: 1,
            n: 11008,
            k: 4096,
        };
        // 4096 / 32 = 128 blocks per row of W.
        // q4_0, f16 activations: 4096*2 + 11008*128*18 + 11008*2
        assert_eq!(
            up.bytes_quant(DType::F16, Quant::Q4_0),
            8_192 + 25_362_432 + 22_016
        );
        // q8_0, f32 activations: 4096*4 + 11008*128*34 + 11008*4
        assert_eq!(
            up.bytes_quant(DType::F32, Quant::Q8_0),
            16_384 + 47_906_816 + 44_032
        );
        // FLOPs do not count the dequantization: 2 * 11008 * 4096.
        assert_eq!(up.flops(), 90_177_536);
        // 4.5 bits per weight against 16: the decode intensity rises ~3.5x.
        let ratio = up.bytes(DType::F16) as f64 / up.bytes_quant(DType::F16, Quant::Q4_0) as f64;
        assert!((3.5..3.6).contains(&ratio), "{ratio}");
    }
}
