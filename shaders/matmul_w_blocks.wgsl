// Byte access to W for the llama.cpp block storages (matmul_w_q8_0.wgsl,
// matmul_w_q4_0.wgsl), which the host prepends this file to: W bound as u32
// words, its blocks 2-byte aligned, so a scale is half of a word and the 8
// bytes of an octet are two words, or three shifted by 16 bits.

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

// The `words` words of a block's weights that start at even byte `b` + 2
// (after its 2-byte scale), and the scale: loads `words` + 1 words from
// b's word and shifts by half a word where b is not word-aligned, without
// a branch (lanes of a SIMD driver may hold blocks of either alignment).
// Returns the scale's 16 bits in element `words`.
fn w_block_words(b: u32, words: u32) -> array<u32, 9> {
    let i = b / 4u;
    let odd = (b & 2u) != 0u;
    var out: array<u32, 9>;
    var lo = w[i];
    out[words] = select(lo & 0xFFFFu, lo >> 16u, odd);
    for (var j = 0u; j < words; j++) {
        let hi = w[i + 1u + j];
        out[j] = select((lo >> 16u) | (hi << 16u), hi, odd);
        lo = hi;
    }
    return out;
}

// Block `b` of row `row`, dequantized by the storage's load_w32 and rounded
// to 4 octets of f16 pairs, 4 words each (the cooperative GEMM stages them
// as f16: each weight d * (q + off) within 2^-11 of its value).
fn load_w32h(row: u32, b: u32) -> array<vec4<u32>, 4> {
    let x = load_w32(row, b);
    var out: array<vec4<u32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let lo = (x.q[2u * j] + x.off) * x.d;
        let hi = (x.q[2u * j + 1u] + x.off) * x.d;
        out[j] = vec4<u32>(
            pack2x16float(lo.xy),
            pack2x16float(lo.zw),
            pack2x16float(hi.xy),
            pack2x16float(hi.zw),
        );
    }
    return out;
}
