// The row-walking product with its activations shared through subgroup
// shuffles (needs SUBGROUP): appended by the host to matmul_rows.wgsl,
// whose parameters, overrides and block() it uses. Every load a SIMD
// driver makes inside a loop is a load per lane, even where all lanes read
// the same address; so here each lane loads one octet of the activations
// (a subgroup holds a block per 4 lanes) and hands the
// others theirs by subgroupShuffle, instead of every lane loading them all.

@compute @workgroup_size(WG)
fn gemv_rows_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let product = wg.z;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    let n0 = (wg.x * WG + tid) * R;
    let blocks = p.k8 / 4u;
    var acc: array<f32, MAX_ACC>;
    // The lanes that exist: a workgroup narrower than the device's
    // subgroups is one partial subgroup. At least 4, so a pass holds at
    // least one block.
    let width = min(sg, WG);
    for (var b0 = 0u; b0 < blocks; b0 += width / 4u) {
        // This lane's octet of the pass, for every activation row.
        var held: array<array<vec4<f32>, 2>, 16>;
        let o = min(4u * b0 + lane, p.k8 - 1u);
        for (var i = 0u; i < M; i++) {
            held[i] = load_a8(za + min(i, p.m - 1u) * p.k8 + o);
        }
        let here = min(width / 4u, blocks - b0);
        for (var s = 0u; s < here; s++) {
            var x: array<array<vec4<f32>, 8>, 16>;
            for (var i = 0u; i < M; i++) {
                for (var h = 0u; h < 4u; h++) {
                    x[i][2u * h] = subgroupShuffle(held[i][0], 4u * s + h);
                    x[i][2u * h + 1u] = subgroupShuffle(held[i][1], 4u * s + h);
                }
            }
            block(&acc, &x, zwr, n0, b0 + s);
        }
    }
    store(&acc, product, n0);
}
