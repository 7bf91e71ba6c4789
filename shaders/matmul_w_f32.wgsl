// Weight storage of the block GEMM and few-row kernels, f32: W as vec4<f32>
// (see matmul_act_f32.wgsl for how modules are built).

@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;

// Octet `o` of row `row` of W: elements 8o .. 8o + 8 of the row (two
// 16-byte loads).
fn load_w8(row: u32, o: u32) -> array<vec4<f32>, 2> {
    let i = row * p.k8 + o;
    return array<vec4<f32>, 2>(w[2u * i], w[2u * i + 1u]);
}

// Block `b` (elements 32b .. 32b + 32) of row `row` of W (see
// matmul_w32.wgsl).
fn load_w32(row: u32, b: u32) -> W32 {
    let i = 2u * (row * p.k8 + 4u * b);
    var q: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
        q[j] = w[i + j];
    }
    return W32(1.0, 0.0, q);
}

// An octet as a kernel keeps it in registers between loading and using it
// (the resident GEMV's next block, the GEMV's step): as loaded: two vec4.
// A struct, not an alias of the array: naga 30 gives an aliased array a
// SPIR-V type of its own, distinct from the unaliased one, and then returns
// one where the other is declared (invalid SPIR-V; spirv-val rejects it).
struct WPacked {
    v: array<vec4<f32>, 2>,
}

fn load_w8_packed(row: u32, o: u32) -> WPacked {
    return WPacked(load_w8(row, o));
}

fn unpack_w8(v: WPacked) -> array<vec4<f32>, 2> {
    return v.v;
}
