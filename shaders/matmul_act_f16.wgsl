// Activation storage of the block GEMM and GEMV kernels, f16 (see
// matmul_act_f32.wgsl): A as vec4<u32>, 8 halves in one 16-byte load, C as
// vec2<u32>, 4 halves. Unpacked to f32 with unpack2x16float and packed with
// pack2x16float (round to nearest): core WGSL, so f16 operands run where
// SHADER_F16 is missing too, computed in f32.

@group(0) @binding(1) var<storage, read> a: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec2<u32>>;

// 8 halves as f32.
fn unpack8(u: vec4<u32>) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(
        vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)),
        vec4<f32>(unpack2x16float(u.z), unpack2x16float(u.w)),
    );
}

// Octet `i` of A: elements 8i .. 8i + 8.
fn load_a8(i: u32) -> array<vec4<f32>, 2> {
    return unpack8(a[i]);
}

// Quad `i` of C: elements 4i .. 4i + 4.
fn store_c4(i: u32, v: vec4<f32>) {
    c[i] = vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));
}
