//! The FLOPs and minimal bytes of a (batched) matrix product C = A . W^T:
//! `batch` independent products of an m x k A and an n x k W.

use serde::{Deserialize, Serialize};

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
}
