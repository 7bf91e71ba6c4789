// Weight storage of the block GEMM and few-row kernels, f16: W as vec4<u32>,
// 8 halves in one 16-byte load, unpacked to f32 (uses unpack8 from
// matmul_act_f16.wgsl, which f16 weights always come with).

@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;

// Octet `o` of row `row` of W: elements 8o .. 8o + 8 of the row.
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    return unpack8(w[row * p.k8 + o]);
}

// Octet `o` of row `row` as 4 words of f16 pairs, as stored (the
// cooperative GEMM stages them as f16).
fn load_w8h(row: u32, o: u32) -> vec4<u32> {
    return w[row * p.k8 + o];
}

// Block `b` (elements 32b .. 32b + 32) of row `row` of W (see
// matmul_w32.wgsl).
fn load_w32(row: u32, b: u32) -> W32 {
    let i = row * p.k8 + 4u * b;
    var q: array<vec4<f32>, 8>;
    for (var h = 0u; h < 4u; h++) {
        let e = unpack8(w[i + h]);
        q[2u * h] = e[0];
        q[2u * h + 1u] = e[1];
    }
    return W32(1.0, 0.0, q);
}

// An octet as a kernel keeps it in registers between loading and using it
// (the resident GEMV's next block, the GEMV's step): its 8 halves in 4
// words.
alias WPacked = vec4<u32>;

fn load_w8_packed(row: u32, o: u32) -> WPacked {
    return load_w8h(row, o);
}

fn unpack_w8(v: WPacked) -> array<vec4<f32>, 2> {
    return unpack8(v);
}
