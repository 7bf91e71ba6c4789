// Weight storage of the block GEMM and GEMV kernels, f16: W as vec4<u32>,
// 8 halves in one 16-byte load, unpacked to f32 (uses unpack8 from
// matmul_act_f16.wgsl, which f16 weights always come with).

@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;

// Octet `o` of row `row` of W: elements 8o .. 8o + 8 of the row.
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    return unpack8(w[row * p.k8 + o]);
}
