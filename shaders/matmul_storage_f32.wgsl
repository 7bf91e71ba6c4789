// Element storage of the block GEMM and GEMV kernels, f32: A and W as
// vec4<f32>, C as vec4<f32>. The host prepends this file (or its f16 twin,
// matmul_storage_f16.wgsl) to matmul_block.wgsl or matmul_gemv.wgsl; the
// kernels see only these bindings and functions, in units of octets (8
// consecutive k-values of a row: 32 bytes here, two 16-byte loads) and
// quads (4 consecutive columns of C).

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// Octet `i` of A (or W): elements 8i .. 8i + 8.
fn load_a8(i: u32) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(a[2u * i], a[2u * i + 1u]);
}

fn load_w8(i: u32) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(w[2u * i], w[2u * i + 1u]);
}

// Quad `i` of C: elements 4i .. 4i + 4.
fn store_c4(i: u32, v: vec4<f32>) {
    c[i] = v;
}
