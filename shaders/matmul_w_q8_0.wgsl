// Weight storage of the block GEMM and few-row kernels, llama.cpp's q8_0: W's
// rows are k / 32 blocks of 34 bytes (an f16 scale d, then 32 int8 q),
// byte for byte as llama.cpp stores them, bound as u32 words. load_w8
// dequantizes one octet (8 weights, q * d) and load_w32 hands over a
// block, in registers, so the kernels run unchanged (see
// matmul_act_f32.wgsl for how modules are built).
//
// The byte access (w, w_u16, w_bytes8, w_block_words) is matmul_w_blocks.wgsl, prepended.

// Octet `o` of row `row` of W: dequantized (its words and scale as
// load_w8_packed reads them).
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    return unpack_w8(load_w8_packed(row, o));
}

// Block `b` of row `row`: 32 int8 and the scale (see matmul_w32.wgsl).
fn load_w32(row: u32, b: u32) -> W32 {
    let words = w_block_words((row * (p.k8 / 4u) + b) * 34u, 8u);
    var q: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
        q[j] = vec4<f32>(unpack4xI8(words[j]));
    }
    return W32(unpack2x16float(words[8]).x, 0.0, q);
}

// An octet as a kernel keeps it in registers between loading and using it
// (the resident GEMV's next block, the GEMV's step): as loaded, its two
// words of int8 and its block's scale bits, 3 registers where the
// dequantized octet takes 8; dequantized when used.
alias WPacked = vec3<u32>;

fn load_w8_packed(row: u32, o: u32) -> WPacked {
    let start = row * (p.k8 / 4u) * 34u + (o / 4u) * 34u;
    let q = w_bytes8(start + 2u + 8u * (o % 4u));
    return vec3<u32>(q, w_u16(start));
}

fn unpack_w8(v: WPacked) -> array<vec4<f32>, 2> {
    let d = unpack2x16float(v.z).x;
    return array<vec4<f32>, 2>(
        vec4<f32>(unpack4xI8(v.x)) * d,
        vec4<f32>(unpack4xI8(v.y)) * d,
    );
}
