// Fused attention: O = softmax(scale * Q.K^T, causal mask) . V, without
// writing the scores.
//
//   Q, O: rows x HEAD_DIM per product (query heads stacked over positions,
//         q_len rows each), K, V: n x HEAD_DIM per product (one KV head of
//         one sequence). Row r sits at position pos(r) = r % q_len + n - q_len
//         and sees keys 0 ..= pos(r): the causal mask (in decode q_len = 1).
//
// Four entry points, tunables as override constants:
//   flash_prefill        : RPI query rows per invocation, BR rows per
//                          workgroup; K and V tiles of BC keys staged in
//                          workgroup memory; online softmax (running max and
//                          sum, accumulator rescaled per tile); key tiles past
//                          the workgroup's last visible key are never loaded.
//   flash_prefill_block  : the same as two register-tiled products per
//                          tile (S = Q.K^T, then O += P.V), 4 rows by a few
//                          keys or columns per invocation (GPUs).
//   flash_decode_partial : split-KV for decode: one workgroup per CHUNK keys
//                          of a product writes, per query row, the unnormalised
//                          partial output and its (max, sum).
//   flash_decode_reduce  : combines the chunks' partials into O.
// Arithmetic is f32 whatever T is; the host generates the f16 variant by
// replacing the alias, and the head dimension by replacing HEAD_DIM.

alias T = f32;
const HEAD_DIM: u32 = 128u;
const D4: u32 = HEAD_DIM / 4u;

struct Params {
    rows: u32,        // query rows per product
    n: u32,           // keys per product
    q_len: u32,       // query positions per query head
    scale: f32,       // 1 / sqrt(HEAD_DIM)
    chunks: u32,      // key chunks per product (decode)
    part_stride: u32, // vec4s of partials per product (decode)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<T>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<T>>;
// Decode partials, f32: per product, chunk and query row, D4 vec4s of
// unnormalised output followed by one vec4 (max, sum, 0, 0).
@group(0) @binding(5) var<storage, read_write> part: array<vec4<f32>>;

const NEG: f32 = -3.0e38;

fn position(row: u32) -> u32 {
    return row % p.q_len + p.n - p.q_len;
}

// Keys any of rows row0 .. row0 + count sees: up to the last row's
// position, or all of them when the rows span two query heads.
fn keys_seen(row0: u32, count: u32) -> u32 {
    let last = min(row0 + count, p.rows) - 1u;
    if row0 / p.q_len == last / p.q_len {
        return position(last) + 1u;
    }
    return p.n;
}

// ---------------------------------------------------------------- prefill

// Query rows per workgroup.
override BR: u32 = 64u;
// Query rows per invocation (1 ..= MAX_RPI, dividing BR): each K and V
// element read from the tiles serves RPI rows. On a CPU adapter every read
// of workgroup memory is a load per lane, so sharing it pays; on a GPU the
// registers of RPI rows would not fit, and RPI stays 1.
override RPI: u32 = 1u;
const MAX_RPI: u32 = 4u;
// Keys per staged tile (at most MAX_BC).
override BC: u32 = 16u;
const MAX_BC: u32 = 32u;

var<workgroup> k_tile: array<vec4<T>, BC * D4>;
var<workgroup> v_tile: array<vec4<T>, BC * D4>;

@compute @workgroup_size(BR / RPI)
fn flash_prefill(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.x * BR;
    let hi = keys_seen(row0, BR);
    let kb = wg.z * p.n * D4;
    // This invocation's rows: row0 + li * RPI + t.
    var qv: array<array<vec4<f32>, D4>, MAX_RPI>;
    var acc: array<array<vec4<f32>, D4>, MAX_RPI>;
    var pos: array<u32, MAX_RPI>;
    var m: array<f32, MAX_RPI>;
    var l: array<f32, MAX_RPI>;
    for (var t = 0u; t < RPI; t++) {
        let row = row0 + li * RPI + t;
        let live = row < p.rows;
        let qb = (wg.z * p.rows + row) * D4;
        for (var i = 0u; i < D4; i++) {
            acc[t][i] = vec4<f32>(0.0);
            qv[t][i] = vec4<f32>(0.0);
            if live {
                qv[t][i] = vec4<f32>(q[qb + i]) * p.scale;
            }
        }
        // A row past the end sees no key (pos stays below every tile).
        pos[t] = 0u;
        if live {
            pos[t] = position(row) + 1u;
        }
        m[t] = NEG;
        l[t] = 0.0;
    }
    var s: array<array<f32, MAX_BC>, MAX_RPI>;
    for (var t0 = 0u; t0 < hi; t0 += BC) {
        for (var i = li; i < BC * D4; i += BR / RPI) {
            let key = t0 + i / D4;
            if key < p.n {
                k_tile[i] = k[kb + key * D4 + i % D4];
                v_tile[i] = v[kb + key * D4 + i % D4];
            }
        }
        workgroupBarrier();
        // Keys of this tile each row sees: a prefix, by the causal mask.
        var vis: array<u32, MAX_RPI>;
        var most = 0u;
        for (var t = 0u; t < RPI; t++) {
            vis[t] = 0u;
            if pos[t] > t0 {
                vis[t] = min(BC, min(pos[t], p.n) - t0);
            }
            most = max(most, vis[t]);
        }
        var tmax: array<f32, MAX_RPI>;
        for (var t = 0u; t < RPI; t++) {
            tmax[t] = m[t];
        }
        for (var j = 0u; j < most; j++) {
            var d: array<f32, MAX_RPI>;
            for (var i = 0u; i < D4; i++) {
                let kv = vec4<f32>(k_tile[j * D4 + i]);
                for (var t = 0u; t < RPI; t++) {
                    d[t] += dot(qv[t][i], kv);
                }
            }
            for (var t = 0u; t < RPI; t++) {
                s[t][j] = d[t];
                if j < vis[t] {
                    tmax[t] = max(tmax[t], d[t]);
                }
            }
        }
        for (var t = 0u; t < RPI; t++) {
            let corr = exp(m[t] - tmax[t]);
            l[t] *= corr;
            for (var i = 0u; i < D4; i++) {
                acc[t][i] *= corr;
            }
            m[t] = tmax[t];
        }
        for (var j = 0u; j < most; j++) {
            var pj: array<f32, MAX_RPI>;
            for (var t = 0u; t < RPI; t++) {
                pj[t] = select(0.0, exp(s[t][j] - tmax[t]), j < vis[t]);
                l[t] += pj[t];
            }
            for (var i = 0u; i < D4; i++) {
                let vv = vec4<f32>(v_tile[j * D4 + i]);
                for (var t = 0u; t < RPI; t++) {
                    acc[t][i] += pj[t] * vv;
                }
            }
        }
        workgroupBarrier();
    }
    for (var t = 0u; t < RPI; t++) {
        let row = row0 + li * RPI + t;
        if row < p.rows {
            let qb = (wg.z * p.rows + row) * D4;
            let inv = 1.0 / l[t];
            for (var i = 0u; i < D4; i++) {
                o[qb + i] = vec4<T>(acc[t][i] * inv);
            }
        }
    }
}

// ---------------------------------------------------------- prefill, block

// flash_prefill_block: FlashAttention-2 as two register-tiled products, no
// subgroup operations. A workgroup takes XR query rows (q staged once,
// scaled, in workgroup memory) and walks the keys in tiles of XC:
//   - S = Q . K^T for the tile: invocation (ty, tx) holds rows ty + i * XTY
//     (i < 4) by keys tx + j * XTX (j < XC / XTX), reading q and K rows from
//     workgroup memory as vec4s along the head dimension (4 + XC / XTX
//     reads per 16 * XC / XTX FMAs, no reduction across lanes);
//   - the causal mask; each row's tile max from the XTX invocations that
//     share it, through workgroup memory; one online-softmax step per row
//     and tile: the output rows rescaled, P = exp(S - max) written to
//     workgroup memory, each invocation summing its own keys' P (the sums
//     meet once, at the end);
//   - O += P . V: the same invocation holds rows ty + i * XTY by vec4
//     columns tx + c * XTX (c < 4), reading P as vec4s of 4 keys and V rows
//     from workgroup memory (V staged where K was, once S is done).
// XTX = D4 / 4 invocations share a row (8 at d = 128), so a subgroup of 32
// reads 8 neighbouring K keys or V columns and 4 neighbouring q or P rows
// per load (rows padded by one vec4: distinct banks). Needs d a multiple
// of 16; four barriers per tile.

// Query rows per workgroup (a multiple of 4) and keys per tile (a multiple
// of 4 and of XTX, at most MAX_XK per invocation).
override XR: u32 = 32u;
override XC: u32 = 16u;
const XTX: u32 = max(D4 / 4u, 1u);
override XTY: u32 = XR / 4u;
override XK: u32 = XC / XTX;
const MAX_XK: u32 = 8u;
const XROW: u32 = D4 + 1u;
override XPROW: u32 = XC / 4u + 1u;

var<workgroup> xq: array<vec4<f32>, XR * XROW>;
var<workgroup> xkv: array<vec4<f32>, XC * XROW>;
var<workgroup> xp: array<vec4<f32>, XR * XPROW>;
var<workgroup> xred: array<f32, XR * XTX>;

// Stage the tile of XC keys from t0 of K (or V) into xkv, zeros past the
// last key.
fn stage_block(li: u32, kb: u32, t0: u32, from_k: bool) {
    for (var idx = li; idx < XC * D4; idx += XTY * XTX) {
        let key = t0 + idx / D4;
        var x = vec4<f32>(0.0);
        if key < p.n {
            let at = kb + key * D4 + idx % D4;
            // A branch, not select: select would load both.
            if from_k {
                x = vec4<f32>(k[at]);
            } else {
                x = vec4<f32>(v[at]);
            }
        }
        xkv[(idx / D4) * XROW + idx % D4] = x;
    }
}

@compute @workgroup_size(XTY * XTX)
fn flash_prefill_block(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let threads = XTY * XTX;
    let ty = li / XTX;
    let tx = li % XTX;
    let row0 = wg.x * XR;
    let hi = keys_seen(row0, XR);
    let kb = wg.z * p.n * D4;
    let qb = wg.z * p.rows * D4;
    // The scaled q rows (rows past the end repeat the last; never stored).
    for (var idx = li; idx < XR * D4; idx += threads) {
        let row = min(row0 + idx / D4, p.rows - 1u);
        xq[(idx / D4) * XROW + idx % D4] = vec4<f32>(q[qb + row * D4 + idx % D4]) * p.scale;
    }
    var pos: array<u32, 4>;
    var m: array<f32, 4>;
    var l: array<f32, 4>;
    var acc: array<vec4<f32>, 16>; // 4 rows x 4 columns
    for (var i = 0u; i < 4u; i++) {
        pos[i] = position(min(row0 + ty + i * XTY, p.rows - 1u));
        m[i] = NEG;
        l[i] = 0.0;
    }
    for (var t0 = 0u; t0 < hi; t0 += XC) {
        stage_block(li, kb, t0, true);
        workgroupBarrier();
        // The scores of this invocation's rows and keys.
        var s: array<f32, 32>; // 4 x MAX_XK
        for (var d4 = 0u; d4 < D4; d4++) {
            var qv: array<vec4<f32>, 4>;
            for (var i = 0u; i < 4u; i++) {
                qv[i] = xq[(ty + i * XTY) * XROW + d4];
            }
            for (var j = 0u; j < XK; j++) {
                let kv = xkv[(tx + j * XTX) * XROW + d4];
                for (var i = 0u; i < 4u; i++) {
                    s[i * MAX_XK + j] += dot(qv[i], kv);
                }
            }
        }
        for (var i = 0u; i < 4u; i++) {
            var mx = NEG;
            for (var j = 0u; j < XK; j++) {
                let key = t0 + tx + j * XTX;
                if key > pos[i] || key >= p.n {
                    s[i * MAX_XK + j] = NEG;
                }
                mx = max(mx, s[i * MAX_XK + j]);
            }
            xred[(ty + i * XTY) * XTX + tx] = mx;
        }
        workgroupBarrier();
        // One softmax step per row; P to workgroup memory.
        for (var i = 0u; i < 4u; i++) {
            let row = ty + i * XTY;
            var mx = m[i];
            for (var t = 0u; t < XTX; t++) {
                mx = max(mx, xred[row * XTX + t]);
            }
            let corr = exp(m[i] - mx);
            m[i] = mx;
            l[i] *= corr;
            for (var c = 0u; c < 4u; c++) {
                acc[i * 4u + c] *= corr;
            }
            for (var j = 0u; j < XK; j++) {
                let sc = s[i * MAX_XK + j];
                let e = select(exp(sc - mx), 0.0, sc == NEG);
                l[i] += e;
                let key = tx + j * XTX;
                xp[row * XPROW + key / 4u][key % 4u] = e;
            }
        }
        // V where K was: every invocation is past the scores.
        stage_block(li, kb, t0, false);
        workgroupBarrier();
        for (var k4 = 0u; k4 < XC / 4u; k4++) {
            var pv: array<vec4<f32>, 4>;
            for (var i = 0u; i < 4u; i++) {
                pv[i] = xp[(ty + i * XTY) * XPROW + k4];
            }
            for (var u = 0u; u < 4u; u++) {
                for (var c = 0u; c < 4u; c++) {
                    let vv = xkv[(k4 * 4u + u) * XROW + tx + c * XTX];
                    for (var i = 0u; i < 4u; i++) {
                        acc[i * 4u + c] += pv[i][u] * vv;
                    }
                }
            }
        }
        workgroupBarrier();
    }
    // The rows' sums: each invocation's share, added across the XTX.
    for (var i = 0u; i < 4u; i++) {
        xred[(ty + i * XTY) * XTX + tx] = l[i];
    }
    workgroupBarrier();
    for (var i = 0u; i < 4u; i++) {
        let row = ty + i * XTY;
        var sum = 0.0;
        for (var t = 0u; t < XTX; t++) {
            sum += xred[row * XTX + t];
        }
        if row0 + row < p.rows {
            let ob = qb + (row0 + row) * D4;
            for (var c = 0u; c < 4u; c++) {
                o[ob + tx + c * XTX] = vec4<T>(acc[i * 4u + c] / sum);
            }
        }
    }
}

// ----------------------------------------------------------------- decode

// Invocations per workgroup (a power of two).
override WG: u32 = 64u;
// Keys per workgroup.
override CHUNK: u32 = 256u;
// Query rows per product (query heads per KV head, at most MAX_GROUP).
override GROUP: u32 = 1u;
const MAX_GROUP: u32 = 8u;
// Keys per invocation in the score loop (the components of a vec4).
const KPI: u32 = 4u;
// vec4 columns per invocation in the P.V loop.
const CPI: u32 = select(1u, 4u, D4 % 4u == 0u);

var<workgroup> q_sh: array<vec4<f32>, GROUP * D4>;
var<workgroup> scores: array<f32, GROUP * CHUNK>;
var<workgroup> red: array<vec4<f32>, WG * CPI>;

// Workgroup-wide max (all == false) or sum of `x`, via `red`.
fn reduce(li: u32, x: f32, is_max: bool) -> f32 {
    red[li].x = x;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step >>= 1u) {
        if li < step {
            if is_max {
                red[li].x = max(red[li].x, red[li + step].x);
            } else {
                red[li].x += red[li + step].x;
            }
        }
        workgroupBarrier();
    }
    let r = red[0].x;
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(WG)
fn flash_decode_partial(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let z = wg.z;
    let c = wg.x;
    let t0 = c * CHUNK;
    let cnt = min(CHUNK, p.n - t0);
    let kb = (z * p.n + t0) * D4;
    for (var i = li; i < GROUP * D4; i += WG) {
        q_sh[i] = vec4<f32>(q[z * GROUP * D4 + i]) * p.scale;
    }
    workgroupBarrier();

    // Scores: KPI = 4 keys per invocation (strided by WG), a key per
    // component of each row's accumulator; every K element is loaded once
    // for all the query rows of the group, each q element serves 4 keys.
    for (var j0 = li; j0 < cnt; j0 += KPI * WG) {
        var d: array<vec4<f32>, MAX_GROUP>;
        for (var r = 0u; r < GROUP; r++) {
            d[r] = vec4<f32>(0.0);
        }
        let r0 = kb + min(j0, cnt - 1u) * D4;
        let r1 = kb + min(j0 + WG, cnt - 1u) * D4;
        let r2 = kb + min(j0 + 2u * WG, cnt - 1u) * D4;
        let r3 = kb + min(j0 + 3u * WG, cnt - 1u) * D4;
        for (var i = 0u; i < D4; i++) {
            let k0 = vec4<f32>(k[r0 + i]);
            let k1 = vec4<f32>(k[r1 + i]);
            let k2 = vec4<f32>(k[r2 + i]);
            let k3 = vec4<f32>(k[r3 + i]);
            for (var r = 0u; r < GROUP; r++) {
                let qv = q_sh[r * D4 + i];
                d[r] += vec4<f32>(dot(qv, k0), dot(qv, k1), dot(qv, k2), dot(qv, k3));
            }
        }
        for (var u = 0u; u < KPI; u++) {
            let j = j0 + u * WG;
            if j < cnt {
                for (var r = 0u; r < GROUP; r++) {
                    scores[r * CHUNK + j] = d[r][u];
                }
            }
        }
    }
    workgroupBarrier();

    // Per row: max, exponentials in place, sum.
    let stats = (z * p.chunks + c) * GROUP;
    for (var r = 0u; r < GROUP; r++) {
        var mx = NEG;
        for (var j = li; j < cnt; j += WG) {
            mx = max(mx, scores[r * CHUNK + j]);
        }
        mx = reduce(li, mx, true);
        var sum = 0.0;
        for (var j = li; j < cnt; j += WG) {
            let e = exp(scores[r * CHUNK + j] - mx);
            scores[r * CHUNK + j] = e;
            sum += e;
        }
        sum = reduce(li, sum, false);
        if li == 0u {
            part[z * p.part_stride + (c * GROUP + r) * (D4 + 1u) + D4] = vec4<f32>(mx, sum, 0.0, 0.0);
        }
    }
    workgroupBarrier();

    // P.V: invocations over (key slice, row, CPI vec4 columns); slices
    // summed in workgroup memory when the workgroup is wider than the lanes.
    let lanes = GROUP * D4 / CPI;
    let slices = max(WG / lanes, 1u);
    let slice = li / lanes;
    for (var lane = li % lanes; lane < lanes; lane += WG) {
        let r = lane / (D4 / CPI);
        let e0 = (lane % (D4 / CPI)) * CPI;
        var sum: array<vec4<f32>, CPI>;
        for (var x = 0u; x < CPI; x++) {
            sum[x] = vec4<f32>(0.0);
        }
        if slice < slices {
            for (var j = slice; j < cnt; j += slices) {
                let pj = scores[r * CHUNK + j];
                for (var x = 0u; x < CPI; x++) {
                    sum[x] += pj * vec4<f32>(v[kb + j * D4 + e0 + x]);
                }
            }
        }
        for (var x = 0u; x < CPI; x++) {
            if slices == 1u {
                part[z * p.part_stride + (c * GROUP + r) * (D4 + 1u) + e0 + x] = sum[x];
            } else {
                red[li * CPI + x] = sum[x];
            }
        }
    }
    if slices > 1u {
        workgroupBarrier();
        for (var idx = li; idx < GROUP * D4; idx += WG) {
            let lane = idx / CPI;
            let x = idx % CPI;
            var sum = red[lane * CPI + x];
            for (var s = 1u; s < slices; s++) {
                sum += red[(lane + s * lanes) * CPI + x];
            }
            let r = lane / (D4 / CPI);
            let e = (lane % (D4 / CPI)) * CPI + x;
            part[z * p.part_stride + (c * GROUP + r) * (D4 + 1u) + e] = sum;
        }
    }
}

// Chunks whose partials flash_decode_reduce loads before merging any.
const REDUCE_UNROLL: u32 = 8u;

// One invocation per (query row, vec4 column) of a product: a running
// (max, sum, output) merged over the chunks in order. At B = 1 there is a
// workgroup per KV head, so each invocation's chain of loads is the cost,
// not their bytes: the loads of REDUCE_UNROLL chunks are issued before
// any is used (a loop of one load per chunk made it a round trip each).
@compute @workgroup_size(WG)
fn flash_decode_reduce(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let lane = wg.x * WG + li;
    if lane >= GROUP * D4 {
        return;
    }
    let z = wg.z;
    let r = lane / D4;
    let e = lane % D4;
    let base = z * p.part_stride;
    var mx = NEG;
    var l = 0.0;
    var sum = vec4<f32>(0.0);
    for (var c0 = 0u; c0 < p.chunks; c0 += REDUCE_UNROLL) {
        var st: array<vec4<f32>, REDUCE_UNROLL>;
        var val: array<vec4<f32>, REDUCE_UNROLL>;
        for (var u = 0u; u < REDUCE_UNROLL; u++) {
            let at = base + (min(c0 + u, p.chunks - 1u) * GROUP + r) * (D4 + 1u);
            st[u] = part[at + D4];
            val[u] = part[at + e];
        }
        for (var u = 0u; u < REDUCE_UNROLL; u++) {
            if c0 + u < p.chunks {
                // Every chunk holds a key, so its sum is positive.
                let nm = max(mx, st[u].x);
                let old = exp(mx - nm);
                let w = exp(st[u].x - nm);
                l = l * old + w * st[u].y;
                sum = sum * old + w * val[u];
                mx = nm;
            }
        }
    }
    o[(z * GROUP + r) * D4 + e] = vec4<T>(sum / l);
}
