// Decode products with few rows (m <= 16: a GEMV at batch 1): one workgroup
// per R rows of W (R output columns), all WG invocations walking k
// together: invocation t loads octets t, t + WG, ... of each of the R rows
// (consecutive invocations read consecutive 16-byte vectors: coalesced),
// and for each of the M activation rows (read once per octet, shared by the
// R weight rows) accumulates M x R dot products in f32. So W is read once
// for every m <= 16, and n / R workgroups fill the GPU. Each step issues
// the loads of U octets of every row before using any, so U * R 16-byte
// loads per invocation are in flight: a small matrix is a single wave on a
// large GPU, and its time is then the number of memory round trips. With
// UNIT = 32 an invocation takes a block of 32 weights of each row instead
// (partials32, for the block storages; k a multiple of 32, M <= 4).
//
// Short rows (attention's scores over a head of 128: 16 octets) would
// leave most of a workgroup idle, so the WG invocations can be cut into G
// groups of LG = WG / G lanes, each group walking k for its own R rows
// (R x G rows per workgroup): invocation t is lane t % LG of group t / LG
// (t counted in subgroup order by gemv_subgroup, whose groups then sum by
// a butterfly of subgroupShuffleXor within LG lanes, LG at most the
// subgroup size).
//
// For 4 < m <= 16, gemv_staged (at the end of this file) stages W in
// workgroup memory instead, so that each invocation holds one accumulator
// per row of W rather than m of them.
//
// The partial sums are then reduced across the workgroup: by a
// workgroup-memory tree (gemv, here), or by subgroupAdd and one
// workgroup-memory slot per subgroup (gemv_subgroup, in
// matmul_gemv_subgroup.wgsl, appended where the device has subgroups).
//
// The parameters (matmul_params.wgsl) and the element storage (bindings
// a, w, c; load_a8, load_w8, load_w32, store_c4) are prepended by the
// host. k must be a multiple of 8, R of 4.

override WG: u32 = 128u;  // invocations per workgroup (a power of two)
override R: u32 = 4u;     // rows of W per workgroup (4 or 8)
override M: u32 = 1u;     // activation rows held (1 ..= 16)
override U: u32 = 1u;     // octets per row loaded per step (1 ..= MAX_U)
override G: u32 = 1u;     // row groups per workgroup (a power of two)
override LG: u32 = WG / G; // lanes per group
const MAX_R: u32 = 8u;
const MAX_U: u32 = 4u;
const MAX_M: u32 = 16u;
// M * R accumulators per invocation, at most.
const MAX_ACC: u32 = 64u;
// Weights of each row an invocation takes per step: 8 (an octet,
// partials) or 32 (a block, partials32).
override UNIT: u32 = 8u;
// Activation rows partials32 holds (its M, at most).
const MAX_XM: u32 = 4u;

// Activation rows rounded up to a power of two (gemv_staged; the host sets
// it to WG for the other entry points, so `wst` is tiny there).
override MP: u32 = 16u;
// gemv_resident's (matmul_gemv_resident.wgsl): octets of k per invocation,
// ceil(k8 / WG), and blocks of R rows per workgroup. Declared here because
// naga 30 drops a named override declared after an array sized by an
// override (`red`) when it resolves a module's overrides for one entry
// point.
override XO: u32 = 4u;
override PER: u32 = 4u;

// The reduction's workgroup memory: one slot per (subgroup or invocation,
// accumulator) of the accumulators being reduced.
var<workgroup> red: array<f32, WG * 4u>;
// gemv_staged's W octets of two steps (double-buffered), dequantized: 2
// vec4 per octet.
var<workgroup> wst: array<vec4<f32>, 4u * R * U * (WG / MP)>;
// Octets of a step each invocation of gemv_staged stages, at most (R * U /
// MP: the host checks it).
const MAX_SO: u32 = 4u;

// The first of the R rows of W (output columns) of group `group`.
fn first_row(wg: vec3<u32>, group: u32) -> u32 {
    return (wg.x * G + group) * R;
}

// Each invocation's M x R partial dot products over its octets: invocation
// t is lane t % LG of group t / LG.
fn partials(wg: vec3<u32>, t: u32) -> array<f32, MAX_ACC> {
    let product = wg.z;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    let n0 = first_row(wg, t / LG);
    var acc: array<f32, MAX_ACC>;
    for (var o0 = t % LG; o0 < p.k8; o0 += LG * U) {
        // Every load of the step first (zeros past k), then the products.
        // The octets are held as the storage keeps them (f16 in 4 words,
        // q8_0 and q4_0 in 3, where dequantized they take 8 registers) and
        // unpacked where used: dequantized at the load, q4_0's 16 octets
        // at 4 an unroll went to scratch memory in RADV's compiler, and its
        // unrolled GEMVs ran 1.7-2.9x slower than one octet a step on the
        // H200.
        var wv: array<WPacked, 32>; // MAX_U * MAX_R
        for (var u = 0u; u < U; u++) {
            let o = o0 + u * LG;
            for (var r = 0u; r < R; r++) {
                var v = WPacked();
                if o < p.k8 {
                    v = load_w8_packed(zwr + min(n0 + r, p.n - 1u), o);
                }
                wv[u * MAX_R + r] = v;
            }
        }
        for (var i = 0u; i < M; i++) {
            for (var u = 0u; u < U; u++) {
                let o = min(o0 + u * LG, p.k8 - 1u);
                let x = load_a8(za + min(i, p.m - 1u) * p.k8 + o);
                for (var r = 0u; r < R; r++) {
                    let w = unpack_w8(wv[u * MAX_R + r]);
                    acc[i * R + r] += dot(x[0], w[0]) + dot(x[1], w[1]);
                }
            }
        }
    }
    return acc;
}

// As partials, a block of 32 weights of each row per step (the storage's
// load_w32): for the llama.cpp block storages, whose octets are smaller
// than a load and straddle words, a block is one scale and 4.5 words per
// lane (q4_0) where octets cost a scale and two or three words per 8
// weights. Invocation t takes blocks t, t + WG, ... (neighbouring lanes,
// neighbouring blocks); the M <= MAX_XM activation blocks are loaded once
// and each row's block is used as soon as it is loaded.
fn partials32(wg: vec3<u32>, t: u32) -> array<f32, MAX_ACC> {
    let product = wg.z;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    let n0 = first_row(wg, t / LG);
    var acc: array<f32, MAX_ACC>;
    for (var b = t % LG; b < p.k8 / 4u; b += LG) {
        var x: array<array<vec4<f32>, 8>, MAX_XM>;
        var sx: array<f32, MAX_XM>;
        for (var i = 0u; i < M; i++) {
            x[i] = load_a32(za + min(i, p.m - 1u) * p.k8 + 4u * b);
            sx[i] = sum32(x[i]);
        }
        for (var r = 0u; r < R; r++) {
            let wr = load_w32(zwr + min(n0 + r, p.n - 1u), b);
            for (var i = 0u; i < M; i++) {
                acc[i * R + r] += dot32(x[i], sx[i], wr);
            }
        }
    }
    return acc;
}

// This invocation's partial sums, by octets or by blocks (UNIT).
fn lane_partials(wg: vec3<u32>, t: u32) -> array<f32, MAX_ACC> {
    if UNIT == 32u {
        return partials32(wg, t);
    }
    return partials(wg, t);
}

// Stores row i's sums for rows r0 .. r0 + 4 of group `group`'s rows of W.
fn store(wg: vec3<u32>, group: u32, i: u32, r0: u32, v: vec4<f32>) {
    store_col(wg.z, first_row(wg, group) + r0, i, v);
}

// Stores row i's sums for rows col .. col + 4 of W of product z.
fn store_col(z: u32, col: u32, i: u32, v: vec4<f32>) {
    if i < p.m && col < p.n {
        store_c4((z * p.c_bstride + i * p.ldc + p.c_col + col) / 4u, v);
    }
}

@compute @workgroup_size(WG)
fn gemv(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let acc = lane_partials(wg, tid);
    // Four accumulators at a time through a log2(LG)-step tree per group.
    let lane = tid % LG;
    for (var q = 0u; q < M * R; q += 4u) {
        for (var j = 0u; j < 4u; j++) {
            red[j * WG + tid] = acc[q + j];
        }
        workgroupBarrier();
        for (var s = LG / 2u; s > 0u; s >>= 1u) {
            if lane < s {
                for (var j = 0u; j < 4u; j++) {
                    red[j * WG + tid] += red[j * WG + tid + s];
                }
            }
            workgroupBarrier();
        }
        if lane == 0u {
            let v = vec4<f32>(red[tid], red[WG + tid], red[2u * WG + tid], red[3u * WG + tid]);
            store(wg, tid / LG, q / R, q % R, v);
        }
        workgroupBarrier();
    }
}

// ------------------------------------------------------------- staged
// The octets of the step starting at octet `o0` of k that invocation `tid`
// stages: octet j of the step for row r is element r * per_row + j, and
// invocation tid takes elements tid, tid + WG, ... (zeros past k, so the
// activations there do not count).
fn staged_fetch(zwr: u32, n0: u32, per_row: u32, tid: u32, o0: u32) -> array<array<vec4<f32>, 2>, MAX_SO> {
    var st: array<array<vec4<f32>, 2>, MAX_SO>;
    for (var n = 0u; n < MAX_SO; n++) {
        let e = tid + n * WG;
        let o = o0 + e % per_row;
        st[n] = array<vec4<f32>, 2>(vec4<f32>(0.0), vec4<f32>(0.0));
        if e < R * per_row && o < p.k8 {
            st[n] = load_w8(zwr + min(n0 + e / per_row, p.n - 1u), o);
        }
    }
    return st;
}

// gemv_staged: 4 < m <= 16 (decode at small batches) with one accumulator
// per row of W per invocation instead of one per (activation row, row of
// W), which m = 16 would make 64-128 and spill. Invocation t is activation
// row i = t % MP of k-slice s = t / MP (KS = WG / MP slices). Each step
// covers U * KS octets of k: the workgroup loads and dequantizes them for
// its R rows of W into one of two workgroup-memory buffers (neighbouring
// invocations, neighbouring octets of a row: coalesced; the next step's
// octets are loaded while this one multiplies), then invocation (s, i) dots
// row i's octets of its slice, loaded once, with every staged row: the MP
// invocations of a slice read the same staged octet (a broadcast), so W is
// read from memory once and dequantized once for all m rows. The slices'
// sums meet through `red`, four rows of W at a time.
@compute @workgroup_size(WG)
fn gemv_staged(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let product = wg.z;
    let zwr = w_first_row(product);
    let n0 = wg.x * R;
    let slices = WG / MP;
    let i = tid % MP;
    let slice = tid / MP;
    let xrow = product * p.a_bstride + min(i, p.m - 1u) * p.k8;
    let per_row = U * slices;
    let step = R * per_row; // octets a step stages, 2 vec4 each
    var acc: array<f32, MAX_R>;
    // Loaded into registers one step ahead, so the next step's loads are in
    // flight while this one multiplies.
    var next = staged_fetch(zwr, n0, per_row, tid, 0u);
    var buf = 0u;
    for (var o0 = 0u; o0 < p.k8; o0 += per_row) {
        let base = buf * step;
        for (var n = 0u; n < MAX_SO; n++) {
            let e = tid + n * WG;
            if e < step {
                wst[2u * (base + e)] = next[n][0];
                wst[2u * (base + e) + 1u] = next[n][1];
            }
        }
        // One barrier a step: the buffer written next was last read
        // before this barrier.
        workgroupBarrier();
        next = staged_fetch(zwr, n0, per_row, tid, o0 + per_row);
        for (var u = 0u; u < U; u++) {
            let j = u * slices + slice;
            let x = load_a8(xrow + min(o0 + j, p.k8 - 1u));
            for (var r = 0u; r < R; r++) {
                let e = base + r * per_row + j;
                acc[r] += dot(x[0], wst[2u * e]) + dot(x[1], wst[2u * e + 1u]);
            }
        }
        buf = 1u - buf;
    }
    for (var q = 0u; q < R; q += 4u) {
        for (var j = 0u; j < 4u; j++) {
            red[j * WG + tid] = acc[q + j];
        }
        workgroupBarrier();
        if tid < MP {
            var v = vec4<f32>(0.0);
            for (var s = 0u; s < slices; s++) {
                let l = s * MP + tid;
                v += vec4<f32>(red[l], red[WG + l], red[2u * WG + l], red[3u * WG + l]);
            }
            store(wg, 0u, tid, q, v);
        }
        workgroupBarrier();
    }
}
