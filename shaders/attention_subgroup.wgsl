// Fused causal attention with subgroup operations (needs SUBGROUP).
//
// Not a module on its own: the host appends this file to attention.wgsl,
// whose element alias, HEAD_DIM, parameters, bindings and position() it
// uses. flash_prefill is limited by every invocation holding a whole query
// row and reading K and V tiles lane by lane from workgroup memory; here a
// subgroup shares TR query rows instead:
//   - each lane holds CH vec4 columns (i = lane + c * sg) of every row's q
//     and of its output accumulator;
//   - scores for a block of KB keys: each lane reads its columns of each K
//     row straight from memory (one load serves TR rows) and dots them with
//     its q columns; a sum over the subgroup completes every dot product
//     in every lane;
//   - online softmax per row, computed alike in every lane;
//   - P.V: each lane adds the probabilities times its own V columns.
// Subgroups work independently (no workgroup memory, no barriers); the
// subgroups of a workgroup take its row groups in turn, so the result does
// not depend on the subgroup size, only the speed does. All control flow
// around subgroup operations is uniform within a subgroup.

// Query rows per subgroup pass (at most MAX_TR).
override TR: u32 = 2u;
// vec4 columns per lane: ceil(HEAD_DIM / 4 / smallest subgroup size).
override CH: u32 = 4u;
// Row groups (of TR rows) per workgroup.
override RGW: u32 = 4u;
// Invocations per workgroup (at least the largest subgroup size).
override SGW: u32 = 32u;
const MAX_TR: u32 = 8u;
// The subgroup size where the adapter runs only one (the host sets it), 0
// where sizes vary: with a size known when the pipeline is built, the scores
// are summed by butterfly_sum, whose steps then unroll (lavapipe: 6% off
// prefill at S = 1024; with the size read at run time the loop stays a loop
// and prefill took 1.6x as long), and otherwise by subgroupAdd.
override SUM_LANES: u32 = 0u;
// Keys per block between softmax updates.
const KB: u32 = 8u;
const MAX_CH: u32 = 8u;

// The sum of x over each aligned group of `lanes` lanes of a subgroup (a
// power of two, every lane active), in every lane of the group: a
// butterfly of subgroupShuffleXor. On a SIMD driver each step is one
// permutation of a vector register, where lavapipe's subgroupAdd walks the
// lanes one by one (a branch and a scalar add a lane). Both lanes of a pair
// add the same two values, so every lane ends with the same sum. `lanes`
// must be known when the pipeline is built (an override), so that the
// steps unroll.
fn butterfly_sum(x: f32, lanes: u32) -> f32 {
    var s = x;
    for (var d = lanes / 2u; d > 0u; d >>= 1u) {
        s += subgroupShuffleXor(s, d);
    }
    return s;
}

@compute @workgroup_size(SGW)
fn flash_prefill_sg(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let z = wg.z;
    let kb = z * p.n * D4;
    let subgroups = max(SGW / sg, 1u);
    for (var rg = li / sg; rg < RGW; rg += subgroups) {
        let row0 = (wg.x * RGW + rg) * TR;
        if row0 >= p.rows {
            break;
        }
        let hi = keys_seen(row0, TR);
        var qh: array<vec4<f32>, 64>; // MAX_TR * MAX_CH
        var acc: array<vec4<f32>, 64>;
        var m: array<f32, MAX_TR>;
        var l: array<f32, MAX_TR>;
        var pos: array<u32, MAX_TR>;
        for (var r = 0u; r < TR; r++) {
            let row = min(row0 + r, p.rows - 1u);
            pos[r] = position(row);
            m[r] = NEG;
            l[r] = 0.0;
            for (var c = 0u; c < CH; c++) {
                let i = min(lane + c * sg, D4 - 1u);
                qh[r * MAX_CH + c] = vec4<f32>(q[(z * p.rows + row) * D4 + i]) * p.scale;
                acc[r * MAX_CH + c] = vec4<f32>(0.0);
            }
        }
        for (var t0 = 0u; t0 < hi; t0 += KB) {
            // Scores of KB keys: each lane dots its columns, a sum over the
            // subgroup completes the dot product in every lane.
            var sc: array<f32, 64>; // MAX_TR * KB
            let keys = min(KB, p.n - t0);
            for (var j = 0u; j < KB; j++) {
                let krow = kb + min(t0 + j, p.n - 1u) * D4;
                var kv: array<vec4<f32>, MAX_CH>;
                for (var c = 0u; c < CH; c++) {
                    kv[c] = vec4<f32>(k[krow + min(lane + c * sg, D4 - 1u)]);
                }
                for (var r = 0u; r < TR; r++) {
                    var part_dot = 0.0;
                    for (var c = 0u; c < CH; c++) {
                        if lane + c * sg < D4 {
                            part_dot += dot(qh[r * MAX_CH + c], kv[c]);
                        }
                    }
                    if SUM_LANES > 0u {
                        sc[r * KB + j] = butterfly_sum(part_dot, SUM_LANES);
                    } else {
                        sc[r * KB + j] = subgroupAdd(part_dot);
                    }
                }
            }
            // Online softmax, every lane holding every score.
            for (var r = 0u; r < TR; r++) {
                var mn = m[r];
                for (var j = 0u; j < keys; j++) {
                    if t0 + j <= pos[r] {
                        mn = max(mn, sc[r * KB + j]);
                    }
                }
                let corr = exp(m[r] - mn);
                var sum = 0.0;
                for (var j = 0u; j < KB; j++) {
                    var e = 0.0;
                    if j < keys && t0 + j <= pos[r] {
                        e = exp(sc[r * KB + j] - mn);
                    }
                    sc[r * KB + j] = e;
                    sum += e;
                }
                l[r] = l[r] * corr + sum;
                m[r] = mn;
                for (var c = 0u; c < CH; c++) {
                    acc[r * MAX_CH + c] *= corr;
                }
            }
            for (var j = 0u; j < keys; j++) {
                let vrow = kb + (t0 + j) * D4;
                var vv: array<vec4<f32>, MAX_CH>;
                for (var c = 0u; c < CH; c++) {
                    vv[c] = vec4<f32>(v[vrow + min(lane + c * sg, D4 - 1u)]);
                }
                for (var r = 0u; r < TR; r++) {
                    let pj = sc[r * KB + j];
                    for (var c = 0u; c < CH; c++) {
                        acc[r * MAX_CH + c] += pj * vv[c];
                    }
                }
            }
        }
        for (var r = 0u; r < TR; r++) {
            let row = row0 + r;
            let inv = 1.0 / l[r];
            for (var c = 0u; c < CH; c++) {
                let i = lane + c * sg;
                if row < p.rows && i < D4 {
                    o[(z * p.rows + row) * D4 + i] = vec4<T>(acc[r * MAX_CH + c] * inv);
                }
            }
        }
    }
}

// ------------------------------------------------------------ decode, sg

// flash_decode_sg: split-KV decode with coalesced K and V reads. A workgroup
// takes CHUNK keys of one product (sequence and KV head) and writes the
// same partials as flash_decode_partial, so flash_decode_reduce finishes.
//   - LPK lanes (a power of two, at most the smallest subgroup size) share
//     one key: lane l of the group reads vec4 columns l, l + LPK, ... of the
//     K and V rows (LV of them), so neighbouring lanes read neighbouring
//     16-byte (f32) or 8-byte (f16) pieces of a row: coalesced;
//   - the group's partial dot products are completed by butterfly_sum
//     within the group, every lane ending with the score;
//   - each group runs an online softmax over its keys (running max, sum and
//     its lanes' columns of the output), for every query row of the GQA
//     group at once (one K load serves GROUP rows);
//   - a subgroup of sg lanes holds sg / LPK groups, whatever sg is (the
//     workgroup at least one subgroup wide); the groups then merge their
//     (max, sum, output): by shuffles within a subgroup, then across the
//     subgroups in workgroup memory;
//   - each round a group loads KU keys' K and V columns before using any,
//     then folds the KU scores into its softmax at once (one rescale): the
//     rounds of a chunk are sequential memory round trips, and at B = 1 a
//     chunk is only a few of them, so KU multiplies the bytes in flight
//     and divides the round trips.

// Lanes per key (a power of two, at most the smallest subgroup size).
override LPK: u32 = 32u;
// vec4 columns per lane: ceil(D4 / LPK).
override LV: u32 = 1u;
const MAX_LV: u32 = 8u;
// Keys per group and round (KU * LV at most MAX_LV: the host checks it).
override KU: u32 = 1u;
const MAX_KU: u32 = 4u;

// Per key group: (max, sum) per row, and the unnormalised output columns.
var<workgroup> dec_stats: array<vec2<f32>, (WG / LPK) * GROUP>;
var<workgroup> dec_acc: array<vec4<f32>, (WG / LPK) * GROUP * D4>;

@compute @workgroup_size(WG)
fn flash_decode_sg(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let z = wg.z;
    let c = wg.x;
    let t0 = c * CHUNK;
    let cnt = min(CHUNK, p.n - t0);
    let kb = (z * p.n + t0) * D4;
    let sub = lane % LPK;
    // Key groups of the workgroup: those of subgroup li / sg first.
    let groups = WG / LPK;
    let group = (li / sg) * (sg / LPK) + lane / LPK;

    var qv: array<vec4<f32>, 64>; // MAX_GROUP * MAX_LV
    var acc: array<vec4<f32>, 64>;
    var m: array<f32, MAX_GROUP>;
    var l: array<f32, MAX_GROUP>;
    for (var r = 0u; r < GROUP; r++) {
        m[r] = NEG;
        l[r] = 0.0;
        for (var x = 0u; x < LV; x++) {
            let col = sub + x * LPK;
            var qq = vec4<f32>(0.0);
            if col < D4 {
                qq = vec4<f32>(q[(z * GROUP + r) * D4 + col]) * p.scale;
            }
            qv[r * MAX_LV + x] = qq;
            acc[r * MAX_LV + x] = vec4<f32>(0.0);
        }
    }
    // Every lane of a subgroup loops the same number of times (uniform
    // control flow around the shuffles); keys past the chunk are masked.
    // Key u of round t is t * KU + u of the group's keys, the groups of a
    // subgroup on neighbouring keys.
    let rounds = (cnt + groups * KU - 1u) / (groups * KU);
    for (var t = 0u; t < rounds; t++) {
        // Every load of the round first: KU keys' columns, KU * LV of each.
        var kv: array<vec4<f32>, MAX_LV>;
        var vv: array<vec4<f32>, MAX_LV>;
        var live: array<bool, MAX_KU>;
        for (var u = 0u; u < KU; u++) {
            let j = (t * KU + u) * groups + group;
            live[u] = j < cnt;
            let row = kb + min(j, cnt - 1u) * D4;
            for (var x = 0u; x < LV; x++) {
                let col = sub + x * LPK;
                if col < D4 {
                    kv[u * LV + x] = vec4<f32>(k[row + col]);
                    vv[u * LV + x] = vec4<f32>(v[row + col]);
                } else {
                    kv[u * LV + x] = vec4<f32>(0.0);
                    vv[u * LV + x] = vec4<f32>(0.0);
                }
            }
        }
        for (var r = 0u; r < GROUP; r++) {
            // The KU scores (independent butterflies), then one online
            // softmax step over them; a masked key weighs exactly 0.
            var sc: array<f32, MAX_KU>;
            var mx = m[r];
            for (var u = 0u; u < KU; u++) {
                var s = 0.0;
                for (var x = 0u; x < LV; x++) {
                    s += dot(qv[r * MAX_LV + x], kv[u * LV + x]);
                }
                sc[u] = butterfly_sum(s, LPK);
                if live[u] {
                    mx = max(mx, sc[u]);
                }
            }
            let corr = exp(m[r] - mx);
            m[r] = mx;
            l[r] *= corr;
            for (var x = 0u; x < LV; x++) {
                acc[r * MAX_LV + x] *= corr;
            }
            for (var u = 0u; u < KU; u++) {
                let e = select(0.0, exp(sc[u] - mx), live[u]);
                l[r] += e;
                for (var x = 0u; x < LV; x++) {
                    acc[r * MAX_LV + x] += e * vv[u * LV + x];
                }
            }
        }
    }
    // Merge the key groups without any invocation walking them all (a
    // walk of 32-64 groups, one workgroup-memory read and exp each, was
    // the slowest part of a chunk on an H200): every group rescales its
    // state to the workgroup's running max in registers; a butterfly of
    // shuffles across lanes LPK, 2 LPK, ... apart sums the groups of a
    // subgroup; then the subgroups' sums, WG / sg of them, in workgroup
    // memory. Control flow stays uniform around the subgroup operations.
    let subgroups = WG / sg;
    let si = li / sg;
    for (var r = 0u; r < GROUP; r++) {
        let mx = subgroupMax(m[r]);
        if lane == 0u {
            dec_stats[si * GROUP + r] = vec2<f32>(mx, 0.0);
        }
    }
    workgroupBarrier();
    var mw: array<f32, MAX_GROUP>;
    var lw: array<f32, MAX_GROUP>;
    for (var r = 0u; r < GROUP; r++) {
        mw[r] = NEG;
        for (var s = 0u; s < subgroups; s++) {
            mw[r] = max(mw[r], dec_stats[s * GROUP + r].x);
        }
        // A group that saw no key has m = NEG, so f = 0.
        let f = exp(m[r] - mw[r]);
        lw[r] = l[r] * f;
        for (var x = 0u; x < LV; x++) {
            acc[r * MAX_LV + x] *= f;
        }
        for (var mask = LPK; mask < sg; mask <<= 1u) {
            lw[r] += subgroupShuffleXor(lw[r], mask);
            for (var x = 0u; x < LV; x++) {
                acc[r * MAX_LV + x] += subgroupShuffleXor(acc[r * MAX_LV + x], mask);
            }
        }
    }
    workgroupBarrier();
    for (var r = 0u; r < GROUP; r++) {
        if lane == 0u {
            dec_stats[si * GROUP + r] = vec2<f32>(mw[r], lw[r]);
        }
        for (var x = 0u; x < LV; x++) {
            let col = sub + x * LPK;
            if lane < LPK && col < D4 {
                dec_acc[(si * GROUP + r) * D4 + col] = acc[r * MAX_LV + x];
            }
        }
    }
    workgroupBarrier();
    let out = z * p.part_stride + c * GROUP * (D4 + 1u);
    for (var idx = li; idx < GROUP * (D4 + 1u); idx += WG) {
        let r = idx / (D4 + 1u);
        let col = idx % (D4 + 1u);
        var sum = 0.0;
        var o = vec4<f32>(0.0);
        for (var s = 0u; s < subgroups; s++) {
            sum += dec_stats[s * GROUP + r].y;
            if col < D4 {
                o += dec_acc[(s * GROUP + r) * D4 + col];
            }
        }
        if col == D4 {
            part[out + r * (D4 + 1u) + D4] = vec4<f32>(dec_stats[r].x, sum, 0.0, 0.0);
        } else {
            part[out + r * (D4 + 1u) + col] = o;
        }
    }
}

// ----------------------------------------------------------- prefill, tile

// flash_prefill_tile: FlashAttention-2-style causal prefill. A workgroup of
// TWG invocations takes (TWG / LPR) * RPL query rows:
//   - LPR lanes (a power of two, at most the smallest subgroup size) share
//     RPL rows: lane l holds vec4 columns l, l + LPR, ... (CV of them) of
//     each row's scaled q and of its output accumulator, in registers;
//   - K and V tiles of BCK keys are staged in workgroup memory (f32) by the
//     whole workgroup, once per tile, for all its rows;
//   - per block of KB keys: each lane's partial dot products for its RPL
//     rows (one K read serves RPL rows), completed by a butterfly of
//     subgroupShuffleXor within the LPR lanes; the causal mask; an online
//     softmax step per row (one rescale per block); P.V on the lane's
//     columns of V (again one read for RPL rows);
//   - key tiles past the workgroup's last visible key are never loaded.

// Lanes per row (a power of two, at most the smallest subgroup size).
override LPR: u32 = 4u;
// Rows per lane group (1 or 2).
override RPL: u32 = 2u;
// vec4 columns per lane: ceil(D4 / LPR).
override CV: u32 = 8u;
// Keys per staged tile (a multiple of TKB).
override BCK: u32 = 32u;
// Invocations per workgroup.
override TWG: u32 = 128u;
const MAX_RPL: u32 = 2u;
const MAX_CV: u32 = 16u;
// Keys per softmax block.
const TKB: u32 = 8u;

var<workgroup> kt: array<vec4<f32>, BCK * D4>;
var<workgroup> vt: array<vec4<f32>, BCK * D4>;

@compute @workgroup_size(TWG)
fn flash_prefill_tile(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let z = wg.z;
    let per_wg = (TWG / LPR) * RPL;
    let row0 = wg.x * per_wg;
    let hi = keys_seen(row0, per_wg);
    let sub = li % LPR;
    let first = row0 + (li / LPR) * RPL;
    let kb = z * p.n * D4;

    var qv: array<vec4<f32>, 32>; // MAX_RPL * MAX_CV
    var acc: array<vec4<f32>, 32>;
    var m: array<f32, MAX_RPL>;
    var l: array<f32, MAX_RPL>;
    var pos: array<u32, MAX_RPL>;
    for (var i = 0u; i < RPL; i++) {
        let row = min(first + i, p.rows - 1u);
        pos[i] = position(row);
        m[i] = NEG;
        l[i] = 0.0;
        for (var x = 0u; x < CV; x++) {
            let col = sub + x * LPR;
            var qq = vec4<f32>(0.0);
            if col < D4 {
                qq = vec4<f32>(q[(z * p.rows + row) * D4 + col]) * p.scale;
            }
            qv[i * MAX_CV + x] = qq;
            acc[i * MAX_CV + x] = vec4<f32>(0.0);
        }
    }

    for (var t0 = 0u; t0 < hi; t0 += BCK) {
        for (var idx = li; idx < BCK * D4; idx += TWG) {
            let key = t0 + idx / D4;
            var kk = vec4<f32>(0.0);
            var vv = vec4<f32>(0.0);
            if key < p.n {
                kk = vec4<f32>(k[kb + key * D4 + idx % D4]);
                vv = vec4<f32>(v[kb + key * D4 + idx % D4]);
            }
            kt[idx] = kk;
            vt[idx] = vv;
        }
        workgroupBarrier();
        for (var jb = 0u; jb < BCK; jb += TKB) {
            var s: array<f32, 16>; // MAX_RPL * TKB
            for (var j = 0u; j < TKB; j++) {
                let at = (jb + j) * D4;
                for (var i = 0u; i < RPL; i++) {
                    var d = 0.0;
                    for (var x = 0u; x < CV; x++) {
                        let col = sub + x * LPR;
                        if col < D4 {
                            d += dot(qv[i * MAX_CV + x], kt[at + col]);
                        }
                    }
                    s[i * TKB + j] = d;
                }
            }
            for (var mask = LPR / 2u; mask > 0u; mask >>= 1u) {
                for (var x = 0u; x < RPL * TKB; x++) {
                    s[x] += subgroupShuffleXor(s[x], mask);
                }
            }
            for (var i = 0u; i < RPL; i++) {
                var mx = m[i];
                for (var j = 0u; j < TKB; j++) {
                    let key = t0 + jb + j;
                    if key > pos[i] || key >= p.n {
                        s[i * TKB + j] = NEG;
                    }
                    mx = max(mx, s[i * TKB + j]);
                }
                let corr = exp(m[i] - mx);
                l[i] *= corr;
                for (var x = 0u; x < CV; x++) {
                    acc[i * MAX_CV + x] *= corr;
                }
                for (var j = 0u; j < TKB; j++) {
                    let e = select(exp(s[i * TKB + j] - mx), 0.0, s[i * TKB + j] == NEG);
                    l[i] += e;
                    let at = (jb + j) * D4;
                    for (var x = 0u; x < CV; x++) {
                        let col = sub + x * LPR;
                        if col < D4 {
                            acc[i * MAX_CV + x] += e * vt[at + col];
                        }
                    }
                }
                m[i] = mx;
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < RPL; i++) {
        let row = first + i;
        if row < p.rows {
            for (var x = 0u; x < CV; x++) {
                let col = sub + x * LPR;
                if col < D4 {
                    o[(z * p.rows + row) * D4 + col] = vec4<T>(acc[i * MAX_CV + x] / l[i]);
                }
            }
        }
    }
}

// ---------------------------------------------------------- decode, lanes
// flash_decode_lanes: split-KV decode shaped for SIMD drivers (lavapipe),
// which load every element per lane inside a loop, so the kernel keeps q
// and the output in plain variables. A workgroup is one subgroup of
// WG = D4 / 4 lanes and takes CHUNK keys of one product for one query row
// (x = chunk * GROUP + row: the rows of a GQA group re-read the chunk,
// from neighbouring workgroups). Lane l holds vec4 columns l, l + WG,
// l + 2 WG and l + 3 WG of the scaled q and of the output, in four
// variables each. Two passes over the chunk, a softmax step between:
//   - the scores: the subgroup reads each K row whole, keys in order, and
//     butterfly_sum completes a score in every lane; lane u keeps key u's
//     score of every WG keys in its own array `held`, one store per WG keys;
//   - one softmax step for the chunk: its max (each lane's max of the
//     scores it holds, then a butterfly of maxima: the same in every lane);
//   - the output: each V row read whole the same way; at every WG keys each
//     lane turns its held score into an exponential (one a key, spread over
//     the lanes), which subgroupShuffle hands to every lane key by key.
// The two passes keep the score's reduction and exponential out of the
// loop that streams V, and q and the output out of each other's loop.
// The scores stay in each lane's own array, so no lane reads another's
// memory and no barrier is needed. A barrier would cost: lavapipe splits a
// shader into coroutines at barriers before promoting its variables to
// registers, so every loop after a barrier keeps its state in memory.
// Llama-7B's decode at L = 2048 on lavapipe: 5.1 ms, against 5.85 with a
// running max of every score, 6.05-6.1 with subgroupAdd for the scores as
// well, 6.7 with the scores in workgroup memory behind a barrier, 6.4 with
// blocks of 64 keys held in plain variables, and 7.0 for one pass with a
// softmax step per key.
// It writes the partials of flash_decode_partial; flash_decode_reduce
// finishes.

// Most scores a lane holds: the largest chunk over the narrowest subgroup
// (4 lanes, so d = 64).
const MAX_HELD: u32 = 128u;

// Lane l's share of the score of the K row whose column l starts at `at`.
fn lane_score(at: u32, q0: vec4<f32>, q1: vec4<f32>, q2: vec4<f32>, q3: vec4<f32>) -> f32 {
    return dot(q0, vec4<f32>(k[at])) + dot(q1, vec4<f32>(k[at + WG]))
        + dot(q2, vec4<f32>(k[at + 2u * WG])) + dot(q3, vec4<f32>(k[at + 3u * WG]));
}

@compute @workgroup_size(WG)
fn flash_decode_lanes(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let z = wg.z;
    let c = wg.x / GROUP;
    let r = wg.x % GROUP;
    let t0 = c * CHUNK;
    let cnt = min(CHUNK, p.n - t0);
    let kb = (z * p.n + t0) * D4 + li;
    let qb = (z * GROUP + r) * D4 + li;
    let q0 = vec4<f32>(q[qb]) * p.scale;
    let q1 = vec4<f32>(q[qb + WG]) * p.scale;
    let q2 = vec4<f32>(q[qb + 2u * WG]) * p.scale;
    let q3 = vec4<f32>(q[qb + 3u * WG]) * p.scale;
    // Scores. Each lane's share of the next key is taken before this key's
    // sum, so the reduction does not wait on the next key's per-lane loads
    // (as in gemv_lanes).
    var held: array<f32, MAX_HELD>;
    var lmx = NEG;
    var mine = NEG;
    var next = lane_score(kb, q0, q1, q2, q3);
    for (var t = 0u; t < cnt; t++) {
        let part = next;
        next = lane_score(kb + min(t + 1u, cnt - 1u) * D4, q0, q1, q2, q3);
        let s = butterfly_sum(part, WG);
        let u = t % WG;
        mine = select(mine, s, li == u);
        if u == WG - 1u || t + 1u == cnt {
            // Lanes past the last key keep NEG: an exponential of 0.
            held[t / WG] = mine;
            lmx = max(lmx, mine);
            mine = NEG;
        }
    }
    // The chunk's max: each lane's max of the scores it holds, taken once
    // per WG keys rather than a running max of every score (lavapipe: 13%
    // off the kernel), then a butterfly of maxima, the same in every lane.
    // (Taken from the array in a loop after this one instead, the kernel
    // ran 35% slower in 2 of 6 processes.)
    var mx = lmx;
    for (var d = WG / 2u; d > 0u; d >>= 1u) {
        mx = max(mx, subgroupShuffleXor(mx, d));
    }
    // Output: key t's weight is lane t % WG's held score t / WG.
    var o0 = vec4<f32>(0.0);
    var o1 = vec4<f32>(0.0);
    var o2 = vec4<f32>(0.0);
    var o3 = vec4<f32>(0.0);
    var sum = 0.0;
    var w = 0.0;
    for (var t = 0u; t < cnt; t++) {
        let u = t % WG;
        if u == 0u {
            w = exp(held[t / WG] - mx);
            sum += w;
        }
        let e = vec4<f32>(subgroupShuffle(w, u));
        let a = kb + t * D4;
        o0 = fma(e, vec4<f32>(v[a]), o0);
        o1 = fma(e, vec4<f32>(v[a + WG]), o1);
        o2 = fma(e, vec4<f32>(v[a + 2u * WG]), o2);
        o3 = fma(e, vec4<f32>(v[a + 3u * WG]), o3);
    }
    // Each lane summed its own keys' exponentials.
    sum = subgroupAdd(sum);
    let out = z * p.part_stride + (c * GROUP + r) * (D4 + 1u) + li;
    part[out] = o0;
    part[out + WG] = o1;
    part[out + 2u * WG] = o2;
    part[out + 3u * WG] = o3;
    if li == 0u {
        part[out + D4] = vec4<f32>(mx, sum, 0.0, 0.0);
    }
}
