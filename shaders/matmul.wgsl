// Matrix products C = A . W^T of a transformer's linear layers.
//
//   A: m x k activations, row-major (k contiguous)
//   W: n x k weights, row-major (k contiguous), the layout of a Linear layer
//   C: m x n outputs, row-major with row stride `ldc`, columns from `c_col`
//
// A and W are read as vec4<T>, so k must be a multiple of 4. Products are
// accumulated in f32 whatever T is. The host generates the f16 variant of
// this file by replacing the `alias T` line (and enabling f16).
//
// Three kernels, each with its tunables as override constants:
//   gemm_tiled  : workgroup tiles of A and W staged in workgroup memory,
//                 each invocation computing TILE_M x TILE_N outputs
//   gemm_direct : the same register blocking, reading A and W straight from
//                 memory (no workgroup memory, no barriers)
//   gemv_splitk : for decode (small m): a workgroup shares the k loop of
//                 ROWS x COLS outputs and reduces in workgroup memory

alias T = f32;

struct Params {
    m: u32,      // rows of A and C in this dispatch
    n: u32,      // rows of W (columns of C) in this dispatch
    k4: u32,     // k / 4
    ldc: u32,    // row stride of C, in elements
    c_col: u32,  // first column of C this dispatch writes
    a_bstride: u32, // vec4s between consecutive products' A (batched products)
    w_bstride: u32, // vec4s between consecutive products' W
    c_bstride: u32, // elements between consecutive products' C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> c: array<T>;

// Offsets of this invocation's product within a batch of products, one per
// workgroup z (set by `select_product` at the top of every kernel).
var<private> za: u32;
var<private> zw: u32;
var<private> zc: u32;

fn select_product(z: u32) {
    za = z * p.a_bstride;
    zw = z * p.w_bstride;
    zc = z * p.c_bstride;
}

// Register blocking: outputs per invocation along m and n (each <= MAX_TILE).
override TILE_M: u32 = 4u;
override TILE_N: u32 = 4u;
// Workgroup shape: invocations along m and n.
override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
// k-tile of gemm_tiled, in vec4s.
override BK: u32 = 4u;
const MAX_TILE: u32 = 8u;

var<workgroup> a_tile: array<vec4<T>, WG_M * TILE_M * BK>;
var<workgroup> w_tile: array<vec4<T>, WG_N * TILE_N * BK>;

fn store(row: u32, col: u32, v: f32) {
    if row < p.m && col < p.n {
        c[zc + row * p.ldc + p.c_col + col] = T(v);
    }
}

@compute @workgroup_size(WG_N, WG_M)
fn gemm_tiled(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    select_product(wg.z);
    let bm = WG_M * TILE_M;
    let bn = WG_N * TILE_N;
    let row0 = wg.y * bm;
    let col0 = wg.x * bn;
    let threads = WG_M * WG_N;
    var acc: array<f32, 64>; // MAX_TILE * MAX_TILE
    for (var t = 0u; t < p.k4; t += BK) {
        // Stage the tiles: row r of the A tile holds A[row0 + r][t .. t + BK].
        for (var idx = li; idx < bm * BK; idx += threads) {
            let row = row0 + idx / BK;
            let kk = t + idx % BK;
            var v = vec4<T>(0.0);
            if row < p.m && kk < p.k4 {
                v = a[za + row * p.k4 + kk];
            }
            a_tile[idx] = v;
        }
        for (var idx = li; idx < bn * BK; idx += threads) {
            let col = col0 + idx / BK;
            let kk = t + idx % BK;
            var v = vec4<T>(0.0);
            if col < p.n && kk < p.k4 {
                v = w[zw + col * p.k4 + kk];
            }
            w_tile[idx] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<vec4<f32>, MAX_TILE>;
            var wv: array<vec4<f32>, MAX_TILE>;
            for (var i = 0u; i < TILE_M; i++) {
                av[i] = vec4<f32>(a_tile[(i * WG_M + lid.y) * BK + kk]);
            }
            for (var j = 0u; j < TILE_N; j++) {
                wv[j] = vec4<f32>(w_tile[(j * WG_N + lid.x) * BK + kk]);
            }
            for (var i = 0u; i < TILE_M; i++) {
                for (var j = 0u; j < TILE_N; j++) {
                    acc[i * MAX_TILE + j] += dot(av[i], wv[j]);
                }
            }
        }
        workgroupBarrier();
    }
    // Rows and columns interleave across invocations so stores coalesce.
    for (var i = 0u; i < TILE_M; i++) {
        for (var j = 0u; j < TILE_N; j++) {
            store(row0 + i * WG_M + lid.y, col0 + j * WG_N + lid.x, acc[i * MAX_TILE + j]);
        }
    }
}

@compute @workgroup_size(WG_N, WG_M)
fn gemm_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    select_product(gid.z);
    let row0 = gid.y * TILE_M;
    let col0 = gid.x * TILE_N;
    // Out-of-range rows and columns read the last valid one (no branch in
    // the k loop) and are not stored.
    var arow: array<u32, MAX_TILE>;
    var wrow: array<u32, MAX_TILE>;
    for (var i = 0u; i < TILE_M; i++) {
        arow[i] = min(row0 + i, p.m - 1u) * p.k4;
    }
    for (var j = 0u; j < TILE_N; j++) {
        wrow[j] = min(col0 + j, p.n - 1u) * p.k4;
    }
    var acc: array<f32, 64>; // MAX_TILE * MAX_TILE
    for (var kk = 0u; kk < p.k4; kk++) {
        var av: array<vec4<f32>, MAX_TILE>;
        var wv: array<vec4<f32>, MAX_TILE>;
        for (var i = 0u; i < TILE_M; i++) {
            av[i] = vec4<f32>(a[za + arow[i] + kk]);
        }
        for (var j = 0u; j < TILE_N; j++) {
            wv[j] = vec4<f32>(w[zw + wrow[j] + kk]);
        }
        for (var i = 0u; i < TILE_M; i++) {
            for (var j = 0u; j < TILE_N; j++) {
                acc[i * MAX_TILE + j] += dot(av[i], wv[j]);
            }
        }
    }
    for (var i = 0u; i < TILE_M; i++) {
        for (var j = 0u; j < TILE_N; j++) {
            store(row0 + i, col0 + j, acc[i * MAX_TILE + j]);
        }
    }
}

// gemv_splitk: one workgroup of SPLIT invocations (a power of two) computes
// TILE_M rows x TILE_N columns; invocation l handles k4 indices l, l + SPLIT,
// ... so neighbouring invocations read neighbouring vec4s of a weight row.
override SPLIT: u32 = 256u;
var<workgroup> partial: array<f32, SPLIT>;

// The k loop of the split-k kernels (here and in matmul_subgroup.wgsl):
// invocation `li` of SPLIT accumulates its share of the TILE_M x TILE_N dot
// products of the block at (row0, col0).
fn splitk_partials(row0: u32, col0: u32, li: u32) -> array<f32, 64> {
    var acc: array<f32, 64>; // MAX_TILE * MAX_TILE
    for (var kk = li; kk < p.k4; kk += SPLIT) {
        var av: array<vec4<f32>, MAX_TILE>;
        for (var i = 0u; i < TILE_M; i++) {
            av[i] = vec4<f32>(a[za + min(row0 + i, p.m - 1u) * p.k4 + kk]);
        }
        for (var j = 0u; j < TILE_N; j++) {
            let wv = vec4<f32>(w[zw + min(col0 + j, p.n - 1u) * p.k4 + kk]);
            for (var i = 0u; i < TILE_M; i++) {
                acc[i * MAX_TILE + j] += dot(av[i], wv);
            }
        }
    }
    return acc;
}

@compute @workgroup_size(SPLIT)
fn gemv_splitk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    select_product(wg.z);
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    var acc = splitk_partials(row0, col0, li);
    for (var i = 0u; i < TILE_M; i++) {
        for (var j = 0u; j < TILE_N; j++) {
            partial[li] = acc[i * MAX_TILE + j];
            workgroupBarrier();
            for (var s = SPLIT / 2u; s > 0u; s >>= 1u) {
                if li < s {
                    partial[li] += partial[li + s];
                }
                workgroupBarrier();
            }
            if li == 0u {
                store(row0 + i, col0 + j, partial[0]);
            }
            workgroupBarrier();
        }
    }
}
