// GPU-grade matrix product C = A . W^T (A m x k, W n x k, both row-major
// with k contiguous, as a Linear layer stores them): one workgroup per block
// of BM x BN outputs, each invocation TM x TN of them (TM, TN in {4, 8}).
//
// - The k loop walks steps of BK (8 or 16): the step's A and W tiles are staged
//   k-major in workgroup memory (As[kk][m], Ws[kk][n], rows padded by 4 so
//   the transposing stores hit distinct banks), converted to f32 once.
// - Double buffering: while the step's tiles are multiplied, the next
//   step's octets are already loaded into registers (16-byte loads), then
//   stored to the other buffer; one barrier per step.
// - Outer products: per kk, an invocation reads TM + TN values (vec4s:
//   0.25 shared reads per FMA at 8 x 8) and does TM x TN FMAs.
// - An invocation's rows are TM/4 groups of 4 at a stride of BM / (TM/4),
//   its columns likewise. Invocations are laid out in warp tiles of
//   WX x WY (8 along n, 4 along m, per 32 invocations) where the block
//   allows: a subgroup of 32 then reads 8 contiguous 16-byte W vectors and
//   4 A vectors per k and group (128 and 64 bytes: a shared-memory
//   wavefront each, where 16 x 2 read 256 bytes of W) and stores 128-byte
//   runs of C rows. Any subgroup size computes the same result; only the
//   speed depends on it.
// - Staging loads walk the octets of a row fastest, so neighbouring
//   invocations read neighbouring 32-byte pieces of one row (BK = 16: two
//   invocations a row) instead of one row each, rows 4k bytes apart.
// - Split-k: SPLIT workgroups share a block, each over its part of k,
//   writing f32 partials that gemm_reduce sums into C (for small m, where
//   the blocks alone would not fill the GPU).
//
// The parameters (matmul_params.wgsl) and the element storage (bindings a,
// w, c and load_a8, load_w8, store_c4; matmul_act_*.wgsl and
// matmul_w_*.wgsl) are prepended by the host, the partials and their
// reduce pass (matmul_split.wgsl) appended. k must be a multiple of 8
// (octets), n of 4.

override BM: u32 = 128u;
override BN: u32 = 128u;
override TM: u32 = 8u;
override TN: u32 = 8u;
override SPLIT: u32 = 1u;
override THREADS: u32 = (BM / TM) * (BN / TN);
// k per step (8 or 16), and octets per row per step.
override BK: u32 = 16u;
override OCT: u32 = BK / 8u;
const PAD: u32 = 4u;
// Largest TM, TN: accumulators are sized for them.
const MAX_T: u32 = 8u;
// Octets an invocation stages per operand and step, at most, and exactly
// (set by the host, so no slot of Staged is carried unused).
const MAX_STAGE: u32 = 2u;
override STAGES: u32 = 1u;

override AS_ROW: u32 = (BM + PAD) / 4u; // vec4s per kk row of As
override WS_ROW: u32 = (BN + PAD) / 4u;
var<workgroup> as_: array<vec4<f32>, 2u * BK * AS_ROW>;
var<workgroup> ws_: array<vec4<f32>, 2u * BK * WS_ROW>;

// Store the 8 values of octet `oct` (of the OCT of the step) of row `r` of a
// tile transposed: tile[kk][r] for kk = 8 * oct .. + 8.
fn stage_a(buf: u32, r: u32, oct: u32, v: array<vec4<f32>, 2>) {
    let base = buf * BK * AS_ROW + r / 4u;
    for (var j = 0u; j < 8u; j++) {
        as_[base + (8u * oct + j) * AS_ROW][r % 4u] = v[j / 4u][j % 4u];
    }
}

fn stage_w(buf: u32, r: u32, oct: u32, v: array<vec4<f32>, 2>) {
    let base = buf * BK * WS_ROW + r / 4u;
    for (var j = 0u; j < 8u; j++) {
        ws_[base + (8u * oct + j) * WS_ROW][r % 4u] = v[j / 4u][j % 4u];
    }
}

const ZERO8 = array<vec4<f32>, 2>(vec4<f32>(0.0), vec4<f32>(0.0));

// The step's octets an invocation stages (zeros past the edges of A, W or
// its part of k): invocation tid stages octets tid, tid + THREADS, ... of
// the step's OCT * BM (A) and OCT * BN (W), octet fastest, so neighbours
// load neighbouring pieces of a row (and store to banks at most 2-way
// apart at OCT = 2).
struct Staged {
    a: array<array<vec4<f32>, 2>, MAX_STAGE>,
    w: array<array<vec4<f32>, 2>, MAX_STAGE>,
}

// Load the octets of the step starting at octet `o0` of k (ending before
// `k_end`) for invocation `tid`.
fn fetch(tid: u32, za: u32, zwr: u32, row0: u32, col0: u32, o0: u32, k_end: u32) -> Staged {
    var st: Staged;
    for (var s = 0u; s < STAGES; s++) {
        let i = tid + s * THREADS;
        st.a[s] = ZERO8;
        st.w[s] = ZERO8;
        if i < OCT * BM {
            let r = i / OCT;
            let o = o0 + i % OCT;
            if row0 + r < p.m && o < k_end {
                st.a[s] = load_a8(za + (row0 + r) * p.k8 + o);
            }
        }
        if i < OCT * BN {
            let r = i / OCT;
            let o = o0 + i % OCT;
            if col0 + r < p.n && o < k_end {
                st.w[s] = load_w8(zwr + col0 + r, o);
            }
        }
    }
    return st;
}

// Invocations per warp tile along n and m (WX * WY = 32).
const WX: u32 = 8u;
const WY: u32 = 4u;

// The column and row (in TN and TM units) of invocation `tid`: warp
// tiles of WX x WY, laid row-major over the block, where the block's
// NX x NY invocations divide into them; else row-major.
fn thread_xy(tid: u32) -> vec2<u32> {
    let nx = BN / TN;
    let ny = BM / TM;
    if nx % WX != 0u || ny % WY != 0u {
        return vec2<u32>(tid % nx, tid / nx);
    }
    let warp = tid / (WX * WY);
    let lane = tid % (WX * WY);
    let tiles_x = nx / WX;
    return vec2<u32>((warp % tiles_x) * WX + lane % WX, (warp / tiles_x) * WY + lane / WX);
}

// Store fetched octets into buffer `buf` of the tiles.
fn put(buf: u32, tid: u32, st: Staged) {
    for (var s = 0u; s < STAGES; s++) {
        let i = tid + s * THREADS;
        if i < OCT * BM {
            stage_a(buf, i / OCT, i % OCT, st.a[s]);
        }
        if i < OCT * BN {
            stage_w(buf, i / OCT, i % OCT, st.w[s]);
        }
    }
}

@compute @workgroup_size(THREADS)
fn gemm_block(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let product = wg.z / SPLIT;
    let piece = wg.z % SPLIT;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    let zc = product * p.c_bstride;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let ks = part_octets(piece);
    let k_begin = ks.x;
    let k_end = ks.y;
    let steps = (k_end - k_begin + OCT - 1u) / OCT;
    let xy = thread_xy(tid);
    let tx = xy.x;
    let ty = xy.y;

    put(0u, tid, fetch(tid, za, zwr, row0, col0, k_begin, k_end));
    workgroupBarrier();

    var acc: array<vec4<f32>, MAX_T * MAX_T / 4u>;
    let gm_stride = BM / (TM / 4u);
    let gn_stride = BN / (TN / 4u);
    for (var t = 0u; t < steps; t++) {
        let cur = t % 2u;
        let more = t + 1u < steps;
        // The next step's octets, in flight while this step multiplies.
        var next: Staged;
        if more {
            next = fetch(tid, za, zwr, row0, col0, k_begin + OCT * (t + 1u), k_end);
        }
        let abase = cur * BK * AS_ROW;
        let wbase = cur * BK * WS_ROW;
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<vec4<f32>, 2>;
            var wv: array<vec4<f32>, 2>;
            for (var g = 0u; g < TM / 4u; g++) {
                av[g] = as_[abase + kk * AS_ROW + (g * gm_stride + ty * 4u) / 4u];
            }
            for (var g = 0u; g < TN / 4u; g++) {
                wv[g] = ws_[wbase + kk * WS_ROW + (g * gn_stride + tx * 4u) / 4u];
            }
            for (var i = 0u; i < TM; i++) {
                let x = vec4<f32>(av[i / 4u][i % 4u]);
                for (var g = 0u; g < TN / 4u; g++) {
                    acc[i * 2u + g] = fma(x, wv[g], acc[i * 2u + g]);
                }
            }
        }
        if more {
            put(1u - cur, tid, next);
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let row = row0 + (i / 4u) * gm_stride + ty * 4u + i % 4u;
        if row >= p.m {
            continue;
        }
        for (var g = 0u; g < TN / 4u; g++) {
            let col = col0 + g * gn_stride + tx * 4u;
            if col < p.n {
                let v = acc[i * 2u + g];
                if SPLIT == 1u {
                    store_c4((zc + row * p.ldc + p.c_col + col) / 4u, v);
                } else {
                    part[((piece * p.m + row) * p.n + col) / 4u] = v;
                }
            }
        }
    }
}
