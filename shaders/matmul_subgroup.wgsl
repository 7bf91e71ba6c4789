// Matrix-product kernels that use subgroup operations (need SUBGROUP).
//
// Not a module on its own: the host appends this file to matmul.wgsl, whose
// element alias, parameters, bindings, batch offsets and tunables
// (TILE_M, TILE_N, WG_N, SPLIT, MAX_TILE) these kernels use; the f16 variant
// comes from the same alias replacement. gemv_subgroup is gemv_splitk reducing
// each output with subgroupAdd and one workgroup-memory slot per subgroup
// instead of a log2(SPLIT)-step tree.

// One slot per subgroup; subgroups are at least 4 invocations wide.
var<workgroup> sg_partial: array<f32, SPLIT / 4u>;

@compute @workgroup_size(SPLIT)
fn gemv_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) sgs: u32,
) {
    select_product(wg.z);
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    var acc = splitk_partials(row0, col0, li);
    for (var i = 0u; i < TILE_M; i++) {
        for (var j = 0u; j < TILE_N; j++) {
            let s = subgroupAdd(acc[i * MAX_TILE + j]);
            if lane == 0u {
                sg_partial[sg] = s;
            }
            workgroupBarrier();
            if li == 0u {
                var total = 0.0;
                for (var q = 0u; q < sgs; q++) {
                    total += sg_partial[q];
                }
                let row = row0 + i;
                let col = col0 + j;
                if row < p.m && col < p.n {
                    c[zc + row * p.ldc + p.c_col + col] = T(total);
                }
            }
            workgroupBarrier();
        }
    }
}

// gemm_subgroup: a one-dimensional workgroup of WG_N invocations computes
// TILE_M rows (shared by the whole workgroup) x TILE_N * WG_N columns. The
// rows of A are loaded once per subgroup, one vec4 per invocation, and
// handed to every invocation with subgroupShuffle, so each invocation loads
// only its own weights: TILE_N vec4 loads per TILE_M * TILE_N dot products.
// Workgroup x walks the row blocks and y the column blocks, so consecutive
// workgroups reuse the same slice of W while it is in cache.
//
// AHEAD (the host sets it for f32): each block's activations are loaded one
// block ahead, and the inner loop counts k itself rather than steps from
// the block's start. A SIMD driver loads per lane, a long chain of
// dependent steps that otherwise stalls the start of every block: on
// lavapipe (Mesa 25.0, AVX2) the two together take 10-12% off an f32
// decode GEMV and 5-10% off the f32 prefill blocks, and neither alone
// changes it; with f16 operands they make the 8x4 blocks 9% slower.
override AHEAD: bool = true;

// Element k (clamped to the row) of rows row0 .. row0 + TILE_M of A.
fn held_block(row0: u32, k: u32) -> array<vec4<f32>, MAX_TILE> {
    var held: array<vec4<f32>, MAX_TILE>;
    let kk = min(k, p.k4 - 1u);
    for (var i = 0u; i < TILE_M; i++) {
        held[i] = vec4<f32>(a[za + min(row0 + i, p.m - 1u) * p.k4 + kk]);
    }
    return held;
}

@compute @workgroup_size(WG_N)
fn gemm_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    select_product(wg.z);
    let row0 = wg.x * TILE_M;
    let col0 = wg.y * WG_N * TILE_N + li;
    // Where each of this invocation's rows of W starts.
    var wrow: array<u32, MAX_TILE>;
    for (var j = 0u; j < TILE_N; j++) {
        wrow[j] = zw + min(col0 + j * WG_N, p.n - 1u) * p.k4;
    }
    var acc: array<f32, 64>; // MAX_TILE * MAX_TILE
    // Invocation `lane` holds A[row][k0 + lane] for every row of the tile.
    // The two loops do the same steps; only how they walk k differs (a
    // shared step function made the f16 blocks 2-3% slower).
    if AHEAD {
        var next = held_block(row0, lane);
        for (var k0 = 0u; k0 < p.k4; k0 += sg) {
            let held = next;
            next = held_block(row0, k0 + sg + lane);
            let end = min(k0 + sg, p.k4);
            for (var kk = k0; kk < end; kk++) {
                var wv: array<vec4<f32>, MAX_TILE>;
                for (var j = 0u; j < TILE_N; j++) {
                    wv[j] = vec4<f32>(w[wrow[j] + kk]);
                }
                for (var i = 0u; i < TILE_M; i++) {
                    let av = subgroupShuffle(held[i], kk - k0);
                    for (var j = 0u; j < TILE_N; j++) {
                        acc[i * MAX_TILE + j] += dot(av, wv[j]);
                    }
                }
            }
        }
    } else {
        for (var k0 = 0u; k0 < p.k4; k0 += sg) {
            let held = held_block(row0, k0 + lane);
            let steps = min(sg, p.k4 - k0);
            for (var s = 0u; s < steps; s++) {
                var wv: array<vec4<f32>, MAX_TILE>;
                for (var j = 0u; j < TILE_N; j++) {
                    wv[j] = vec4<f32>(w[wrow[j] + k0 + s]);
                }
                for (var i = 0u; i < TILE_M; i++) {
                    let av = subgroupShuffle(held[i], s);
                    for (var j = 0u; j < TILE_N; j++) {
                        acc[i * MAX_TILE + j] += dot(av, wv[j]);
                    }
                }
            }
        }
    }
    for (var i = 0u; i < TILE_M; i++) {
        for (var j = 0u; j < TILE_N; j++) {
            let row = row0 + i;
            let col = col0 + j * WG_N;
            if row < p.m && col < p.n {
                c[zc + row * p.ldc + p.c_col + col] = T(acc[i * MAX_TILE + j]);
            }
        }
    }
}

// gemv_lanes: one-row products with short rows (k <= 16 x the subgroup
// size: attention's decode scores over the head dimension) for SIMD
// drivers such as lavapipe, which load every element per lane inside a
// loop and keep indexed private arrays in memory. A workgroup is one
// subgroup of WG_N lanes across k: lane l holds vec4s l, l + WG_N,
// l + 2 WG_N and l + 3 WG_N of the activation row in four variables (zeros
// past k), then walks LANE_ROWS rows of W in order, reading the same
// columns of each (the subgroup reads whole rows: one sequential stream)
// and completing each dot product with butterfly_sum. Workgroup y is the
// activation row, so W is read once per row of A: CPU adapters list it for
// m = 1 only.
override LANE_ROWS: u32 = 64u;

fn lane_x(base: u32, col: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), vec4<f32>(a[base + min(col, p.k4 - 1u)]), col < p.k4);
}

fn lane_w(base: u32, col: u32) -> vec4<f32> {
    return vec4<f32>(w[base + min(col, p.k4 - 1u)]);
}

// This lane's share of row `base` of W times the activations it holds.
fn lane_dot(base: u32, li: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> f32 {
    return dot(x0, lane_w(base, li)) + dot(x1, lane_w(base, li + WG_N))
        + dot(x2, lane_w(base, li + 2u * WG_N)) + dot(x3, lane_w(base, li + 3u * WG_N));
}

// The sum of x over a subgroup of `lanes` lanes (a power of two, every lane
// active), in every lane: a butterfly of subgroupShuffleXor, as in
// attention_subgroup.wgsl. On a SIMD driver each step is one permutation of
// a vector register, where lavapipe's subgroupAdd walks the lanes one by one
// (a branch and a scalar add a lane): 3% off the decode scores. Both lanes
// of a pair add the same two values, so every lane ends with the same sum.
fn butterfly_sum(x: f32, lanes: u32) -> f32 {
    var s = x;
    for (var d = lanes / 2u; d > 0u; d >>= 1u) {
        s += subgroupShuffleXor(s, d);
    }
    return s;
}

@compute @workgroup_size(WG_N)
fn gemv_lanes(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    select_product(wg.z);
    let xa = za + min(wg.y, p.m - 1u) * p.k4;
    let x0 = lane_x(xa, li);
    let x1 = lane_x(xa, li + WG_N);
    let x2 = lane_x(xa, li + 2u * WG_N);
    let x3 = lane_x(xa, li + 3u * WG_N);
    let col0 = wg.x * LANE_ROWS;
    let cols = min(LANE_ROWS, p.n - min(col0, p.n));
    let out = zc + wg.y * p.ldc + p.c_col + col0;
    // Lane u keeps output u of every WG_N and the lanes store them together,
    // once per WG_N rows: a SIMD driver stores from one lane by walking the
    // lanes (lavapipe: 10% off the decode scores against a store per row
    // from lane 0).
    var kept = 0.0;
    // Each lane's share of the next row is taken before this row's sum:
    // a SIMD driver's per-lane loads are long chains of dependent steps,
    // and the reduction would otherwise wait on them every row (lavapipe:
    // 7% off the decode scores). The row past the last is clamped to W.
    var next = lane_dot(zw + min(col0, p.n - 1u) * p.k4, li, x0, x1, x2, x3);
    for (var j = 0u; j < cols; j++) {
        let mine = next;
        next = lane_dot(zw + min(col0 + j + 1u, p.n - 1u) * p.k4, li, x0, x1, x2, x3);
        let s = butterfly_sum(mine, WG_N);
        let u = j % WG_N;
        kept = select(kept, s, li == u);
        if u == WG_N - 1u || j + 1u == cols {
            if li <= u && wg.y < p.m {
                c[out + j - u + li] = T(kept);
            }
        }
    }
}
