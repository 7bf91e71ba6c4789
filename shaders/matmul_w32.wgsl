// A block of 32 consecutive weights of a row of W, as every weight storage
// hands it to the kernels that walk k by blocks (matmul_rows.wgsl, the
// block GEMV of matmul_gemv.wgsl): weight j is
// d * (q[j / 4][j % 4] + off). Float storages give d = 1 and off = 0;
// q4_0 gives its nibbles with off = -8, so the kernel can add the offset
// once per block (off * sum(x)) instead of once per weight.
struct W32 {
    d: f32,
    off: f32,
    q: array<vec4<f32>, 8>,
}

// The activations' block from octet `o` (elements 8o .. 8o + 32; load_a8
// is the activation storage's).
fn load_a32(o: u32) -> array<vec4<f32>, 8> {
    var x: array<vec4<f32>, 8>;
    for (var h = 0u; h < 4u; h++) {
        let x8 = load_a8(o + h);
        x[2u * h] = x8[0];
        x[2u * h + 1u] = x8[1];
    }
    return x;
}

// The sum of a block of activations, which the weights' offset multiplies.
fn sum32(x: array<vec4<f32>, 8>) -> f32 {
    var t = vec4<f32>(0.0);
    for (var j = 0u; j < 8u; j++) {
        t += x[j];
    }
    return dot(t, vec4<f32>(1.0));
}

// A block's share of a row's dot product, d * (x . q + off * sum(x)), with
// sx = sum32(x): the offset costs one multiply-add per block.
fn dot32(x: array<vec4<f32>, 8>, sx: f32, w: W32) -> f32 {
    var t = vec4<f32>(0.0);
    for (var j = 0u; j < 8u; j++) {
        t = fma(x[j], w.q[j], t);
    }
    return w.d * (dot(t, vec4<f32>(1.0)) + w.off * sx);
}
