// Weight storage of the block GEMM and GEMV kernels, f32: W as vec4<f32>
// (see matmul_act_f32.wgsl for how modules are built).

@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;

// Octet `i` of W: elements 8i .. 8i + 8 (two 16-byte loads).
fn load_w8(i: u32) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(w[2u * i], w[2u * i + 1u]);
}
