// Weight storage of the block GEMM and GEMV kernels, llama.cpp's q8_0: W's
// rows are k / 32 blocks of 34 bytes (an f16 scale d, then 32 int8 q),
// byte for byte as llama.cpp stores them, bound as u32 words. load_w8
// dequantizes one octet (8 weights, q * d) in registers, so the kernels
// run unchanged (see matmul_act_f32.wgsl for how modules are built).
//
// Blocks are 2-byte aligned: a scale is half of a word, and the 8 bytes of
// an octet are two words, or three shifted by 16 bits.

@group(0) @binding(2) var<storage, read> w: array<u32>;

// The 16 bits at even byte `b`.
fn w_u16(b: u32) -> u32 {
    return (w[b / 4u] >> ((b & 2u) * 8u)) & 0xFFFFu;
}

// The 8 bytes from even byte `b`, as two words.
fn w_bytes8(b: u32) -> vec2<u32> {
    let i = b / 4u;
    let x = w[i];
    let y = w[i + 1u];
    if (b & 2u) == 0u {
        return vec2<u32>(x, y);
    }
    let z = w[i + 2u];
    return vec2<u32>((x >> 16u) | (y << 16u), (y >> 16u) | (z << 16u));
}

// Octet `o` of row `row` of W: dequantized.
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    let start = row * (p.k8 / 4u) * 34u + (o / 4u) * 34u;
    let d = unpack2x16float(w_u16(start)).x;
    let q = w_bytes8(start + 2u + 8u * (o % 4u));
    return array<vec4<f32>, 2>(
        vec4<f32>(unpack4xI8(q.x)) * d,
        vec4<f32>(unpack4xI8(q.y)) * d,
    );
}
