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
// block adds dot32 (matmul_w32.wgsl), so an offset (q4_0's -8) costs a
// multiply-add per block, and sum(x) is shared by the R rows.
//
// The parameters (matmul_params.wgsl) and the element storage (bindings
// a, w, c; load_a8, load_w32, store_c4) are prepended by the host, after
// matmul_w32.wgsl. k must be a multiple of 32 and n of 4.

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
    // sum(x) per activation row, shared by the R rows.
    var sx: array<f32, 16>;
    for (var i = 0u; i < M; i++) {
        sx[i] = sum32((*x)[i]);
    }
    for (var r = 0u; r < R; r++) {
        let wr = load_w32(zwr + min(n0 + r, p.n - 1u), b);
        for (var i = 0u; i < M; i++) {
            (*acc)[i * R + r] += dot32((*x)[i], sx[i], wr);
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
    let zwr = w_first_row(product);
    let n0 = (wg.x * WG + tid) * R;
    var acc: array<f32, MAX_ACC>;
    for (var b = 0u; b < p.k8 / 4u; b++) {
        var x: array<array<vec4<f32>, 8>, 16>;
        for (var i = 0u; i < M; i++) {
            x[i] = load_a32(za + min(i, p.m - 1u) * p.k8 + 4u * b);
        }
        block(&acc, &x, zwr, n0, b);
    }
    store(&acc, product, n0);
}
