// ------------------------------------------------ prefill, cooperative matrices
//
// flash_prefill_coop: FlashAttention-2 on 16 x 16 x 16 fragments, f16
// operands and f32 accumulators (the tensor cores where the adapter has
// cooperative matrices). Appended by the host to attention.wgsl (f16) and
// to one of two fragment files that define FragA, FragB, FragC and the
// frag_* operations used below: attention_coop_frags.wgsl (cooperative
// matrices) or attention_coop_emulated.wgsl (the same operations written
// out per lane, so that the software adapters, which have no cooperative
// matrices, run and verify this kernel's every other step).
//
// - A workgroup is CS blocks of 16 query rows, one subgroup each (CS
//   times the largest subgroup size; where the driver runs smaller
//   subgroups the extra ones recompute block sid % CS into their own
//   scratch and write nothing: cooperative operations need uniform control
//   flow, so every subgroup runs them).
// - The block's Q rows are staged once and held as HEAD_DIM / 16 A
//   fragments (q0 .. q7: separate variables, not an array, so the unused
//   ones fold away).
// - Keys go by tiles of CK (16 or 32): K and V rows staged as f16 in
//   workgroup memory (read as 16-byte octets), rows padded by 8 halves so neighbouring rows'
//   fragment loads fall in different banks. S = Q.K^T: K rows are the
//   columns of the B operand (column-major loads from the row-major tile,
//   as the cooperative GEMM reads W); S leaves through the subgroup's
//   scratch.
// - The softmax step runs on the subgroup's lanes, LPR lanes a row, each
//   taking every LPR-th key (reads across the padded rows of the scores
//   fall in distinct banks; maxima and sums by butterflies of
//   subgroupShuffleXor; P stored a half at a time), in base 2: t = s * scale * log2(e). Each row
//   keeps a reference maximum and changes it only when a tile's maximum
//   passes it by more than CTAU: P = exp2(t - reference) <= 2^CTAU, exact
//   enough as f16 and far from its range. The output fragments, which no
//   lane can scale row by row, are rescaled only then, through the
//   scratch (a workgroup-uniform flag; with real data the first tile's
//   maximum rarely moves by 2^8). A row's first visible keys set the
//   reference with nothing to rescale.
// - O += P.V: P (f16, written by the lanes) as A fragments, V rows as
//   row-major B fragments, into HEAD_DIM / 16 f32 accumulators.
// - At the end each output fragment leaves through the scratch, divided
//   by its row's sum and stored as f16.
// Needs HEAD_DIM a multiple of 16 up to 128, CS * 16 <= 2 * CK (Q is
// staged where the K and V tiles go) and f16.

// Query blocks (subgroups) per workgroup and keys per tile.
override CS: u32 = 4u;
override CK: u32 = 32u;
// The largest subgroup size, and subgroups per workgroup at the smallest.
override CSG: u32 = 32u;
override CSUB: u32 = 4u;
override CWG: u32 = CS * CSG;
// Floats per row of a subgroup's scores (padded by 4, so that the softmax
// step's lanes, 16 rows by keys, fall in different banks) and vec4<f16>
// per row of P.
override CSSTR: u32 = CK + 4u;
override CPSTR: u32 = CK / 4u + 2u;
// vec4<f16> per staged row of Q, K and V: HEAD_DIM halves and 8 of padding.
const CSTR: u32 = D4 + 2u;
const D16: u32 = HEAD_DIM / 16u;
// How far (in log2 units) a tile's maximum may pass a row's reference
// before the output is rescaled.
const CTAU: f32 = 8.0;
const LOG2E: f32 = 1.4426950408889634;

// Q, K and V as 16-byte octets of 8 halves, for the staging: the
// cooperative GEMM's staging ran at half the speed with 8-byte vec4<f16>
// loads on the H200. The same bindings as q, k and v, which this entry
// point does not use.
@group(0) @binding(1) var<storage, read> q_oct: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> k_oct: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v_oct: array<vec4<u32>>;
const D8: u32 = HEAD_DIM / 8u;

// Q (at the start), then the K tile and the V tile of each step.
var<workgroup> kv: array<vec4<f16>, 2u * CK * CSTR>;
// Per subgroup: the scores of its block (16 x CK, row-major, rows CSSTR
// apart), or one 16 x 16 output fragment.
var<workgroup> ss: array<f32, CSUB * 16u * CSSTR>;
// Per block: P, 16 x CK halves, row-major, padded.
var<workgroup> ps: array<vec4<f16>, CS * 16u * CPSTR>;
// Per row: the reference maximum (log2 units), the running sum, and the
// factor the output takes at this tile.
var<workgroup> cmax: array<f32, CS * 16u>;
var<workgroup> csum: array<f32, CS * 16u>;
var<workgroup> cscale: array<f32, CS * 16u>;
// Set when a row of this tile moved its reference.
var<workgroup> crescale: atomic<u32>;

// Octet `o` of a staged row at `row` (vectors from the start of kv),
// unpacked through f32 (exact both ways; naga 30 takes no bitcast from
// u32 to halves).
fn coop_put(row: u32, o: u32, w: vec4<u32>) {
    kv[row + 2u * o] = vec4<f16>(vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)));
    kv[row + 2u * o + 1u] = vec4<f16>(vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w)));
}

// Stage rows `first` .. of K (or V) at `at` in kv, CK rows, zeros past
// the last key; `kb` is the product's first octet.
fn coop_stage(li: u32, kb: u32, first: u32, at: u32, from_k: bool) {
    for (var idx = li; idx < CK * D8; idx += CWG) {
        let key = first + idx / D8;
        var w = vec4<u32>(0u);
        if key < p.n {
            let src = kb + key * D8 + idx % D8;
            if from_k {
                w = k_oct[src];
            } else {
                w = v_oct[src];
            }
        }
        coop_put(at + (idx / D8) * CSTR, idx % D8, w);
    }
}

// The online-softmax step of block `blk` for the tile of keys from `t0`,
// on its subgroup's lanes: the scores from the scratch at `own`, P into
// the block's rows of ps, the rows' statistics, and the rescale flag.
fn coop_softmax(blk: u32, t0: u32, row0: u32, own: u32, lane: u32, sg: u32) {
    let lpr = clamp(sg / 16u, 1u, CK);
    let per = CK / lpr;
    let rows_per_pass = max(sg / lpr, 1u);
    let passes = (16u + rows_per_pass - 1u) / rows_per_pass;
    let part = lane % lpr;
    let c2 = p.scale * LOG2E;
    for (var round = 0u; round < passes; round++) {
        let r = round * rows_per_pass + lane / lpr;
        let live = r < 16u;
        let rr = min(r, 15u);
        let at = blk * 16u + rr;
        let pos = position(min(row0 + at, p.rows - 1u));
        let base = own + rr * CSSTR;
        var mt = NEG;
        for (var u = 0u; u < per; u++) {
            let j = part + u * lpr;
            if t0 + j <= pos && t0 + j < p.n {
                mt = max(mt, ss[base + j] * c2);
            }
        }
        for (var m = 1u; m < lpr; m <<= 1u) {
            mt = max(mt, subgroupShuffleXor(mt, m));
        }
        let mref = cmax[at];
        var mnew = mref;
        var alpha = 1.0;
        if mt > NEG {
            if mref == NEG {
                mnew = mt;
            } else if mt > mref + CTAU {
                mnew = mt;
                alpha = exp2(mref - mt);
            }
        }
        var sum = 0.0;
        for (var u = 0u; u < per; u++) {
            let j = part + u * lpr;
            var e = 0.0;
            if t0 + j <= pos && t0 + j < p.n {
                e = exp2(ss[base + j] * c2 - mnew);
            }
            // The sum of what the product takes.
            let h = f16(e);
            sum += f32(h);
            if live {
                ps[at * CPSTR + j / 4u][j % 4u] = h;
            }
        }
        for (var m = 1u; m < lpr; m <<= 1u) {
            sum += subgroupShuffleXor(sum, m);
        }
        if live && part == 0u {
            cmax[at] = mnew;
            csum[at] = csum[at] * alpha + sum;
            cscale[at] = alpha;
            if alpha != 1.0 {
                atomicOr(&crescale, 1u);
            }
        }
    }
}

// `f` with each row multiplied by its block row's factor of this tile,
// through the subgroup's scratch. Called in uniform control flow.
fn coop_rescaled(f: FragC, own: u32, blk: u32, lane: u32, sg: u32) -> FragC {
    frag_store(f, own, 16u);
    workgroupBarrier();
    for (var e = lane; e < 256u; e += sg) {
        ss[own + e] *= cscale[blk * 16u + e / 16u];
    }
    workgroupBarrier();
    let r = frag_load_c(own, 16u);
    workgroupBarrier();
    return r;
}

// O += P.V for output columns from 16 * `t`: P as the A fragments `p0`
// (keys 0-15 of the tile) and `p1` (16-31), V rows as B.
fn coop_pv(f: FragC, p0: FragA, p1: FragA, t: u32) -> FragC {
    let at = CK * CSTR + t * 4u;
    var r = frag_mma(p0, frag_b_row(at, CSTR), f);
    if CK > 16u {
        r = frag_mma(p1, frag_b_row(at + 16u * CSTR, CSTR), r);
    }
    return r;
}

// Output fragment `f` (columns from 16 * `t`) of block `blk`, divided by
// its rows' sums, into O as f16 by the block's own subgroup. Called in
// uniform control flow.
fn coop_emit(f: FragC, t: u32, own: u32, blk: u32, row0: u32, qb: u32, lane: u32, sg: u32, owner: bool) {
    frag_store(f, own, 16u);
    workgroupBarrier();
    if owner {
        for (var e = lane; e < 64u; e += sg) {
            let r = e / 4u;
            let row = row0 + blk * 16u + r;
            if row < p.rows {
                let s = own + r * 16u + (e % 4u) * 4u;
                let x = vec4<f32>(ss[s], ss[s + 1u], ss[s + 2u], ss[s + 3u]) / csum[blk * 16u + r];
                o[qb + row * D4 + t * 4u + e % 4u] = vec4<T>(x);
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(CWG)
fn flash_prefill_coop(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_id) sid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let row0 = wg.x * CS * 16u;
    let hi = keys_seen(row0, CS * 16u);
    let kb = wg.z * p.n * D8;
    let qb = wg.z * p.rows * D4;
    let blk = sid % CS;
    let owner = sid < CS;
    let own = sid * 16u * CSSTR;
    frag_begin(lane);

    // Q, zeros past the last row; the statistics.
    for (var idx = li; idx < CS * 16u * D8; idx += CWG) {
        let row = row0 + idx / D8;
        var w = vec4<u32>(0u);
        if row < p.rows {
            w = q_oct[(wg.z * p.rows + row) * D8 + idx % D8];
        }
        coop_put((idx / D8) * CSTR, idx % D8, w);
    }
    for (var r = li; r < CS * 16u; r += CWG) {
        cmax[r] = NEG;
        csum[r] = 0.0;
        cscale[r] = 1.0;
    }
    if li == 0u {
        atomicStore(&crescale, 0u);
    }
    workgroupBarrier();
    let qa = blk * 16u * CSTR;
    let q0 = frag_a_kv(qa, CSTR);
    var q1 = q0;
    var q2 = q0;
    var q3 = q0;
    var q4 = q0;
    var q5 = q0;
    var q6 = q0;
    var q7 = q0;
    if D16 > 1u { q1 = frag_a_kv(qa + 4u, CSTR); }
    if D16 > 2u { q2 = frag_a_kv(qa + 8u, CSTR); }
    if D16 > 3u { q3 = frag_a_kv(qa + 12u, CSTR); }
    if D16 > 4u { q4 = frag_a_kv(qa + 16u, CSTR); }
    if D16 > 5u { q5 = frag_a_kv(qa + 20u, CSTR); }
    if D16 > 6u { q6 = frag_a_kv(qa + 24u, CSTR); }
    if D16 > 7u { q7 = frag_a_kv(qa + 28u, CSTR); }
    workgroupBarrier();

    var o0 = frag_zero();
    var o1 = frag_zero();
    var o2 = frag_zero();
    var o3 = frag_zero();
    var o4 = frag_zero();
    var o5 = frag_zero();
    var o6 = frag_zero();
    var o7 = frag_zero();
    for (var t0 = 0u; t0 < hi; t0 += CK) {
        coop_stage(li, kb, t0, 0u, true);
        coop_stage(li, kb, t0, CK * CSTR, false);
        workgroupBarrier();
        // S = Q.K^T, 16 keys at a time, into the scratch.
        for (var c = 0u; c < CK / 16u; c++) {
            let kt = c * 16u * CSTR;
            var s = frag_mma(q0, frag_b_col(kt, CSTR), frag_zero());
            if D16 > 1u { s = frag_mma(q1, frag_b_col(kt + 4u, CSTR), s); }
            if D16 > 2u { s = frag_mma(q2, frag_b_col(kt + 8u, CSTR), s); }
            if D16 > 3u { s = frag_mma(q3, frag_b_col(kt + 12u, CSTR), s); }
            if D16 > 4u { s = frag_mma(q4, frag_b_col(kt + 16u, CSTR), s); }
            if D16 > 5u { s = frag_mma(q5, frag_b_col(kt + 20u, CSTR), s); }
            if D16 > 6u { s = frag_mma(q6, frag_b_col(kt + 24u, CSTR), s); }
            if D16 > 7u { s = frag_mma(q7, frag_b_col(kt + 28u, CSTR), s); }
            frag_store(s, own + c * 16u, CSSTR);
        }
        workgroupBarrier();
        if owner {
            coop_softmax(blk, t0, row0, own, lane, sg);
        }
        // Also the barrier before P is read.
        if workgroupUniformLoad(&crescale) != 0u {
            o0 = coop_rescaled(o0, own, blk, lane, sg);
            // Every invocation has read the flag (the barriers above).
            if li == 0u {
                atomicStore(&crescale, 0u);
            }
            if D16 > 1u { o1 = coop_rescaled(o1, own, blk, lane, sg); }
            if D16 > 2u { o2 = coop_rescaled(o2, own, blk, lane, sg); }
            if D16 > 3u { o3 = coop_rescaled(o3, own, blk, lane, sg); }
            if D16 > 4u { o4 = coop_rescaled(o4, own, blk, lane, sg); }
            if D16 > 5u { o5 = coop_rescaled(o5, own, blk, lane, sg); }
            if D16 > 6u { o6 = coop_rescaled(o6, own, blk, lane, sg); }
            if D16 > 7u { o7 = coop_rescaled(o7, own, blk, lane, sg); }
        }
        let pa = blk * 16u * CPSTR;
        let p0 = frag_a_ps(pa, CPSTR);
        var p1 = p0;
        if CK > 16u { p1 = frag_a_ps(pa + 4u, CPSTR); }
        o0 = coop_pv(o0, p0, p1, 0u);
        if D16 > 1u { o1 = coop_pv(o1, p0, p1, 1u); }
        if D16 > 2u { o2 = coop_pv(o2, p0, p1, 2u); }
        if D16 > 3u { o3 = coop_pv(o3, p0, p1, 3u); }
        if D16 > 4u { o4 = coop_pv(o4, p0, p1, 4u); }
        if D16 > 5u { o5 = coop_pv(o5, p0, p1, 5u); }
        if D16 > 6u { o6 = coop_pv(o6, p0, p1, 6u); }
        if D16 > 7u { o7 = coop_pv(o7, p0, p1, 7u); }
        workgroupBarrier();
    }
    coop_emit(o0, 0u, own, blk, row0, qb, lane, sg, owner);
    if D16 > 1u { coop_emit(o1, 1u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 2u { coop_emit(o2, 2u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 3u { coop_emit(o3, 3u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 4u { coop_emit(o4, 4u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 5u { coop_emit(o5, 5u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 6u { coop_emit(o6, 6u, own, blk, row0, qb, lane, sg, owner); }
    if D16 > 7u { coop_emit(o7, 7u, own, blk, row0, qb, lane, sg, owner); }
}
