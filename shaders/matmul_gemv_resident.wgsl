// The few-row product with resident activations (needs SUBGROUP): appended
// by the host after matmul_gemv.wgsl and matmul_gemv_subgroup.wgsl, whose
// WG, R, M, `red` and store_col it uses.
//
// The plain GEMV gives each workgroup one block of R rows of W, so every
// workgroup loads its share of the activations again (for f16 weights half
// as many bytes again as its weights, from L2) and a GPU runs it as one
// burst of loads and then one reduction per workgroup. Here a workgroup
// walks PER blocks of R rows in turn: invocation t holds octets t, t + WG,
// ... (XO of them) of each of the M activation rows in registers, loaded
// once, so only W streams through the loop; and it issues the loads of the
// next block's weights (XO x R 16-byte octets per invocation, neighbouring
// invocations on neighbouring octets) before it sums the block it has, so
// the sums and the barrier overlap those loads.
//
// A block is summed by subgroupAdd and one slot per subgroup and
// accumulator in `red`, alternating between its two halves, so one
// barrier a block suffices: a half is written again two blocks later,
// after every reader of it has passed the barrier between. The host checks
// that a half holds the slots (M x R for each subgroup of the smallest
// size the device may run), and that k needs at most XO octets a lane.

// (Its overrides XO and PER are declared with the others in
// matmul_gemv.wgsl.)

// Activation octets an invocation holds (M x XO), at most.
const MAX_XO: u32 = 8u;
// Weight octets an invocation has in flight (R x XO), at most.
const MAX_PF: u32 = 32u;

// This invocation's octets of rows row0 .. row0 + R of W (zeros past k),
// as the storage keeps them (`WPacked`: f16 weights stay 4 words an octet
// and q8_0 and q4_0 ones 3, two of weights and the scale's bits, until they
// are used, so the next block's loads hold half the registers or less and
// nothing waits on them before the sums; a zero `WPacked` is zeros).
fn resident_fetch(zwr: u32, row0: u32, tid: u32) -> array<WPacked, MAX_PF> {
    var wv: array<WPacked, MAX_PF>;
    for (var j = 0u; j < XO; j++) {
        let o = tid + j * WG;
        for (var r = 0u; r < R; r++) {
            var v = WPacked();
            if o < p.k8 {
                v = load_w8_packed(zwr + min(row0 + r, p.n - 1u), o);
            }
            wv[j * R + r] = v;
        }
    }
    return wv;
}

@compute @workgroup_size(WG)
fn gemv_resident(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) sgs: u32,
) {
    let product = wg.z;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    var x: array<array<vec4<f32>, 2>, MAX_XO>;
    for (var i = 0u; i < M; i++) {
        for (var j = 0u; j < XO; j++) {
            let o = tid + j * WG;
            var v = array<vec4<f32>, 2>(vec4<f32>(0.0), vec4<f32>(0.0));
            if o < p.k8 {
                v = load_a8(za + min(i, p.m - 1u) * p.k8 + o);
            }
            x[i * XO + j] = v;
        }
    }
    let first = wg.x * PER;
    let last = min(first + PER, (p.n + R - 1u) / R);
    let slots = M * R;
    var wv = resident_fetch(zwr, first * R, tid);
    for (var b = first; b < last; b++) {
        var acc: array<f32, MAX_ACC>;
        for (var j = 0u; j < XO; j++) {
            for (var r = 0u; r < R; r++) {
                let w = unpack_w8(wv[j * R + r]);
                for (var i = 0u; i < M; i++) {
                    let xv = x[i * XO + j];
                    acc[i * R + r] += dot(xv[0], w[0]) + dot(xv[1], w[1]);
                }
            }
        }
        if b + 1u < last {
            wv = resident_fetch(zwr, (b + 1u) * R, tid);
        }
        let half = ((b - first) % 2u) * (2u * WG);
        for (var q = 0u; q < slots; q++) {
            let s = subgroupAdd(acc[q]);
            if lane == 0u {
                red[half + sg * slots + q] = s;
            }
        }
        workgroupBarrier();
        // One invocation per quad of accumulators: row i, rows r0 .. r0 + 4.
        if tid < slots / 4u {
            let q = 4u * tid;
            var v = vec4<f32>(0.0);
            for (var g = 0u; g < sgs; g++) {
                let at = half + g * slots + q;
                v += vec4<f32>(red[at], red[at + 1u], red[at + 2u], red[at + 3u]);
            }
            store_col(product, b * R + q % R, q / R, v);
        }
    }
}
