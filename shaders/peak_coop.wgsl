// Peak cooperative-matrix arithmetic (tensor cores, simdgroup matrices): the
// measured cooperative compute roof, for f16 inputs and an ACC accumulator.
// The host prepends the enable directives and `alias ACC` (f32 or f16).
//
// Every subgroup loads three 16x16 fragments once: A, B and -B, with entries
// of +-1 (exact in f16), and CHAINS accumulators C_j (distinct integer
// matrices, so no two chains compute the same thing and a compiler cannot
// merge them). Each iteration applies C_j += A.B, then C_j += A.(-B), to
// every chain: the accumulators return to C_j after every pair, so any
// number of iterations stays bounded, and every partial sum is a small
// integer, exact in f16 and f32. A last C_j += A.B makes the result differ
// from the start: each subgroup stores C_j + A.B for every chain, and the
// host checks all of them for equality. A kernel that skipped the loop,
// a chain or a subgroup cannot pass.
//
// Every subgroup runs the same code (cooperative operations need uniform
// control flow); the host runs it only where the subgroup size is fixed, so
// it knows how many subgroups a workgroup holds.
//
// FLOPs per subgroup: 2 * 16 * 16 * 16 * CHAINS * (2 * iterations + 1).

struct Params {
    iterations: u32, // pairs of multiply-adds per chain
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// A, B and -B: three 16 x 16 row-major f16 matrices.
@group(0) @binding(1) var<storage, read> frags: array<f16>;
// The start of every chain: CHAINS 16 x 16 row-major matrices.
@group(0) @binding(2) var<storage, read> init: array<ACC>;
// Per subgroup of the grid, CHAINS 16 x 16 row-major results.
@group(0) @binding(3) var<storage, read_write> out: array<ACC>;

override WG: u32 = 128u;
// Accumulators per subgroup, 1 ..= MAX_COOP_CHAINS.
override CHAINS: u32 = 4u;
const MAX_COOP_CHAINS: u32 = 8u;
// Elements of one 16 x 16 fragment.
const FRAG: u32 = 256u;

@compute @workgroup_size(WG)
fn peak_coop(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sid: u32,
    @builtin(num_subgroups) nsg: u32,
) {
    let a = coopLoadT<coop_mat16x16<f16, A>>(&frags[0], 16u);
    let b = coopLoadT<coop_mat16x16<f16, B>>(&frags[FRAG], 16u);
    let nb = coopLoadT<coop_mat16x16<f16, B>>(&frags[2u * FRAG], 16u);
    // Separate variables, not an array: CHAINS is an override, so the
    // unused ones fold away.
    var c0 = coopLoadT<coop_mat16x16<ACC, C>>(&init[0u], 16u);
    var c1 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(1u, CHAINS - 1u) * FRAG], 16u);
    var c2 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(2u, CHAINS - 1u) * FRAG], 16u);
    var c3 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(3u, CHAINS - 1u) * FRAG], 16u);
    var c4 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(4u, CHAINS - 1u) * FRAG], 16u);
    var c5 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(5u, CHAINS - 1u) * FRAG], 16u);
    var c6 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(6u, CHAINS - 1u) * FRAG], 16u);
    var c7 = coopLoadT<coop_mat16x16<ACC, C>>(&init[min(7u, CHAINS - 1u) * FRAG], 16u);
    for (var i = 0u; i < params.iterations; i++) {
        c0 = coopMultiplyAdd(a, b, c0);
        if CHAINS > 1u { c1 = coopMultiplyAdd(a, b, c1); }
        if CHAINS > 2u { c2 = coopMultiplyAdd(a, b, c2); }
        if CHAINS > 3u { c3 = coopMultiplyAdd(a, b, c3); }
        if CHAINS > 4u { c4 = coopMultiplyAdd(a, b, c4); }
        if CHAINS > 5u { c5 = coopMultiplyAdd(a, b, c5); }
        if CHAINS > 6u { c6 = coopMultiplyAdd(a, b, c6); }
        if CHAINS > 7u { c7 = coopMultiplyAdd(a, b, c7); }
        c0 = coopMultiplyAdd(a, nb, c0);
        if CHAINS > 1u { c1 = coopMultiplyAdd(a, nb, c1); }
        if CHAINS > 2u { c2 = coopMultiplyAdd(a, nb, c2); }
        if CHAINS > 3u { c3 = coopMultiplyAdd(a, nb, c3); }
        if CHAINS > 4u { c4 = coopMultiplyAdd(a, nb, c4); }
        if CHAINS > 5u { c5 = coopMultiplyAdd(a, nb, c5); }
        if CHAINS > 6u { c6 = coopMultiplyAdd(a, nb, c6); }
        if CHAINS > 7u { c7 = coopMultiplyAdd(a, nb, c7); }
    }
    let base = (wg.x * nsg + sid) * CHAINS * FRAG;
    coopStoreT(coopMultiplyAdd(a, b, c0), &out[base], 16u);
    if CHAINS > 1u { coopStoreT(coopMultiplyAdd(a, b, c1), &out[base + FRAG], 16u); }
    if CHAINS > 2u { coopStoreT(coopMultiplyAdd(a, b, c2), &out[base + 2u * FRAG], 16u); }
    if CHAINS > 3u { coopStoreT(coopMultiplyAdd(a, b, c3), &out[base + 3u * FRAG], 16u); }
    if CHAINS > 4u { coopStoreT(coopMultiplyAdd(a, b, c4), &out[base + 4u * FRAG], 16u); }
    if CHAINS > 5u { coopStoreT(coopMultiplyAdd(a, b, c5), &out[base + 5u * FRAG], 16u); }
    if CHAINS > 6u { coopStoreT(coopMultiplyAdd(a, b, c6), &out[base + 6u * FRAG], 16u); }
    if CHAINS > 7u { coopStoreT(coopMultiplyAdd(a, b, c7), &out[base + 7u * FRAG], 16u); }
}
