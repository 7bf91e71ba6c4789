// Few-row products (m <= 16) shaped for CPU adapters: SIMD drivers such as
// lavapipe and llvmpipe run the invocations of a workgroup in the lanes of
// one core. Here each invocation owns R rows of W (R output columns) and
// walks the whole of k, 32 weights at a time, for all M activation rows.
// Each lane loads only its own rows' words (4.5 per 32 q4_0 weights), with
// no workgroup memory, barriers or reductions, and W is read once for
// every m <= 16.
//
// Such a driver loads per lane for every load inside a loop, even where
// all lanes read one address (Mesa 25's lavapipe: about ten instructions
// per lane and word). The activations are the same for every lane, so
// gemv_rows_subgroup (matmul_rows_subgroup.wgsl) loads them once per
// subgroup and shares them; gemv_rows, here, loads them in every lane, for
// devices without subgroups.
//
// On a GPU the lanes' reads of W would lie a row apart (uncoalesced): the
// GPU's few-row product is matmul_gemv.wgsl, and only CPU adapters try
// this one.
//
// The weights come from the storage's load_w32 as d * (q + off): a row's
// block adds d * (x . q + off * sum(x)), so an offset (q4_0's -8) costs a
// multiply-add per block, and sum(x) is shared by the R rows.
//
// The element storage (bindings a, w, c; load_a8, load_w32, store_c4) is
// prepended by the host, after matmul_w32.wgsl. k must be a multiple of
// 32 and n of 4.

struct Params {
    m: u32,         // activation rows (<= M)
    n: u32,         // rows of W (columns of C) in this dispatch
    k8: u32,        // octets per row (k / 8)
    ldc: u32,       // row stride of C, in elements
    c_col: u32,     // first column of C this dispatch writes
    a_bstride: u32, // octets between consecutive products' A
    w_bstride: u32, // octets between consecutive products' W
    c_bstride: u32, // elements between consecutive products' C
}

@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 64u; // invocations per workgroup (a power of two, >= 4)
override R: u32 = 4u;   // rows of W per invocation (4 or 8)
override M: u32 = 1u;   // activation rows held (1 ..= 16)
const MAX_ACC: u32 = 64u; // M * R, at most

// Adds block `b` of rows n0 .. n0 + R of W (clamped to the last) times
// the activations `x` (block b of each of the M rows) to `acc`.
fn block(
    acc: ptr<function, array<f32, MAX_ACC>>,
    x: ptr<function, array<array<vec4<f32>, 8>, 16>>,
    zwr: u32,
    n0: u32,
    b: u32,
) {
    // sum(x) per activation row, for the weights' offset.
    var sx: array<f32, 16>;
    for (var i = 0u; i < M; i++) {
        var t = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            t += (*x)[i][j];
        }
        sx[i] = dot(t, vec4<f32>(1.0));
    }
    for (var r = 0u; r < R; r++) {
        let wr = load_w32(zwr + min(n0 + r, p.n - 1u), b);
        for (var i = 0u; i < M; i++) {
            var t = vec4<f32>(0.0);
            for (var j = 0u; j < 8u; j++) {
                t = fma((*x)[i][j], wr.q[j], t);
            }
            let v = dot(t, vec4<f32>(1.0)) + wr.off * sx[i];
            (*acc)[i * R + r] = fma(wr.d, v, (*acc)[i * R + r]);
        }
    }
}

// Stores the M x R outputs of rows n0 .. n0 + R of W that exist.
fn store(acc: ptr<function, array<f32, MAX_ACC>>, product: u32, n0: u32) {
    for (var i = 0u; i < M; i++) {
        let row = product * p.c_bstride + i * p.ldc + p.c_col + n0;
        for (var r = 0u; r < R; r += 4u) {
            if i < p.m && n0 + r < p.n {
                let q = i * R + r;
                store_c4((row + r) / 4u, vec4<f32>((*acc)[q], (*acc)[q + 1u], (*acc)[q + 2u], (*acc)[q + 3u]));
            }
        }
    }
}

@compute @workgroup_size(WG)
fn gemv_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let product = wg.z;
    let za = product * p.a_bstride;
    // This product's first row of W (load_w32 takes rows and blocks).
    let zwr = product * (p.w_bstride / p.k8);
    let n0 = (wg.x * WG + tid) * R;
    var acc: array<f32, MAX_ACC>;
    for (var b = 0u; b < p.k8 / 4u; b++) {
        var x: array<array<vec4<f32>, 8>, 16>;
        for (var i = 0u; i < M; i++) {
            let o = za + min(i, p.m - 1u) * p.k8 + 4u * b;
            for (var h = 0u; h < 4u; h++) {
                let x8 = load_a8(o + h);
                x[i][2u * h] = x8[0];
                x[i][2u * h + 1u] = x8[1];
            }
        }
        block(&acc, &x, zwr, n0, b);
    }
    store(&acc, product, n0);
}
