// The few-row product's subgroup reduction (needs SUBGROUP): appended by
// the host to matmul_gemv.wgsl, whose partials(), store() and workgroup
// memory it uses. Each accumulator is summed within subgroups by
// subgroupAdd, then across them through one workgroup-memory slot per
// subgroup: sized by the subgroup size the kernel actually runs with.
// With row groups (G > 1: LG lanes each, LG at most the subgroup size,
// which the host checks) a group's lanes are consecutive invocations of
// one subgroup, counted in subgroup order, and sum by a butterfly of
// subgroupShuffleXor: no workgroup memory and no barrier.

@compute @workgroup_size(WG)
fn gemv_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) sgs: u32,
    @builtin(subgroup_size) sg_size: u32,
) {
    if G > 1u {
        let t = sg * sg_size + lane;
        let acc = lane_partials(wg, t);
        for (var q = 0u; q < M * R; q += 4u) {
            var v: vec4<f32>;
            for (var j = 0u; j < 4u; j++) {
                var s = acc[q + j];
                for (var d = LG / 2u; d > 0u; d >>= 1u) {
                    s += subgroupShuffleXor(s, d);
                }
                v[j] = s;
            }
            if t % LG == 0u {
                store(wg, t / LG, q / R, q % R, v);
            }
        }
        return;
    }
    let acc = lane_partials(wg, tid);
    // Four accumulators at a time: subgroupAdd, then one slot per subgroup.
    for (var q = 0u; q < M * R; q += 4u) {
        for (var j = 0u; j < 4u; j++) {
            let s = subgroupAdd(acc[q + j]);
            if lane == 0u {
                red[sg * 4u + j] = s;
            }
        }
        workgroupBarrier();
        if tid == 0u {
            var v = vec4<f32>(0.0);
            for (var g = 0u; g < sgs; g++) {
                v += vec4<f32>(red[g * 4u], red[g * 4u + 1u], red[g * 4u + 2u], red[g * 4u + 3u]);
            }
            store(wg, 0u, q / R, q % R, v);
        }
        workgroupBarrier();
    }
}
