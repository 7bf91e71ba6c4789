// Weight storage of the block GEMM and few-row kernels, llama.cpp's q4_0: W's
// rows are k / 32 blocks of 18 bytes (an f16 scale d, then 16 bytes whose
// low nibbles are weights 0..15 and high nibbles weights 16..31, each
// stored plus 8), byte for byte as llama.cpp stores them, bound as u32
// words. load_w8 dequantizes one octet ((q - 8) * d) and load_w32 hands
// over a block, in registers, so the kernels run unchanged (see
// matmul_act_f32.wgsl for how modules are built).
//
// The byte access (w, w_u16, w_bytes8, w_block_words) is matmul_w_blocks.wgsl, prepended.

// Octet `o` of row `row` of W, dequantized: octets 0 and 1 of a block are
// the low nibbles of its bytes 0..7 and 8..15, octets 2 and 3 their high
// nibbles (as load_w8_packed reads them).
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    return unpack_w8(load_w8_packed(row, o));
}

// Block `b` of row `row`: its nibbles (0..15) with off = -8, and the scale
// (see matmul_w32.wgsl). Word j of the 16 bytes holds weights 4j .. 4j + 4
// in its low nibbles and 16 + 4j .. 16 + 4j + 4 in its high ones.
fn load_w32(row: u32, b: u32) -> W32 {
    let words = w_block_words((row * (p.k8 / 4u) + b) * 18u, 4u);
    var q: array<vec4<f32>, 8>;
    for (var j = 0u; j < 4u; j++) {
        let v = vec4<u32>(words[j]) >> vec4<u32>(0u, 8u, 16u, 24u);
        // Through i32: CPU vector units convert signed integers in one step.
        q[j] = vec4<f32>(vec4<i32>(v & vec4<u32>(15u)));
        q[4u + j] = vec4<f32>(vec4<i32>((v >> vec4<u32>(4u)) & vec4<u32>(15u)));
    }
    return W32(unpack2x16float(words[4]).x, -8.0, q);
}

// An octet as a kernel keeps it in registers between loading and using it
// (the resident GEMV's next block, the GEMV's step): its 8 nibbles as
// loaded and masked (two words of 4 bytes each) and its block's scale bits,
// 3 registers where the dequantized octet takes 8; dequantized when used.
alias WPacked = vec3<u32>;

fn load_w8_packed(row: u32, o: u32) -> WPacked {
    let start = row * (p.k8 / 4u) * 18u + (o / 4u) * 18u;
    let part = o % 4u;
    let q = w_bytes8(start + 2u + 8u * (part % 2u)) >> vec2<u32>(4u * (part / 2u));
    return vec3<u32>(q & vec2<u32>(0x0F0F0F0Fu), w_u16(start));
}

fn unpack_w8(v: WPacked) -> array<vec4<f32>, 2> {
    let d = unpack2x16float(v.z).x;
    return array<vec4<f32>, 2>(
        (vec4<f32>(unpack4xU8(v.x)) - 8.0) * d,
        (vec4<f32>(unpack4xU8(v.y)) - 8.0) * d,
    );
}
