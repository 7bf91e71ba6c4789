// Activation storage of the block GEMM and GEMV kernels, f32: A as
// vec4<f32>, C as vec4<f32>. The host builds a module from an activation
// storage (this file or matmul_act_f16.wgsl), a weight storage
// (matmul_w_*.wgsl) and a kernel (matmul_block.wgsl or matmul_gemv.wgsl);
// the kernels see only these bindings and functions, in units of octets
// (8 consecutive k-values of a row) and quads (4 consecutive columns of C).

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// Octet `i` of A: elements 8i .. 8i + 8 (two 16-byte loads).
fn load_a8(i: u32) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(a[2u * i], a[2u * i + 1u]);
}

// Quad `i` of C: elements 4i .. 4i + 4.
fn store_c4(i: u32, v: vec4<f32>) {
    c[i] = v;
}
