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
//     its q columns; subgroupAdd completes every dot product in every lane;
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
// Keys per block between softmax updates.
const KB: u32 = 8u;
const MAX_CH: u32 = 8u;

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
        let last = min(row0 + TR, p.rows) - 1u;
        var hi = p.n;
        if row0 / p.q_len == last / p.q_len {
            hi = position(last) + 1u;
        }
        var qh: array<vec4<f32>, 64>; // MAX_TR * MAX_CH
        var acc: array<vec4<f32>, 64>;
        var m: array<f32, MAX_TR>;
        var l: array<f32, MAX_TR>;
        var pos: array<u32, MAX_TR>;
        for (var r = 0u; r < TR; r++) {
            let row = min(row0 + r, last);
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
            // Scores of KB keys: each lane dots its columns, subgroupAdd
            // completes the dot product in every lane.
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
                    sc[r * KB + j] = subgroupAdd(part_dot);
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
