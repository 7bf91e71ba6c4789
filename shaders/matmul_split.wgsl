// Split-k for the block and cooperative GEMMs (appended to their modules,
// which declare SPLIT and take store_c4 from their activation storage):
// SPLIT workgroups share a block of C, each over its part of k, and write
// f32 partials here; gemm_reduce sums them into C.

// Split-k partials: [part][row][column] of this dispatch, f32.
@group(0) @binding(4) var<storage, read_write> part: array<vec4<f32>>;

// The octets of k part `piece` walks, [x, y): kper of them from piece *
// kper, cut at the end of k (the last parts may be short or empty).
fn part_octets(piece: u32) -> vec2<u32> {
    let begin = min(piece * p.kper, p.k8);
    return vec2<u32>(begin, min(begin + p.kper, p.k8));
}

// Sums the SPLIT partials of every quad of this dispatch's C (one
// invocation per quad, grid-stride) and stores it.
@compute @workgroup_size(256)
fn gemm_reduce(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let quads = p.m * p.n / 4u;
    for (var q = gid.x; q < quads; q += groups.x * 256u) {
        var sum = vec4<f32>(0.0);
        for (var s = 0u; s < SPLIT; s++) {
            sum += part[s * quads + q];
        }
        let row = q / (p.n / 4u);
        let col = (q % (p.n / 4u)) * 4u;
        store_c4((row * p.ldc + p.c_col + col) / 4u, sum);
    }
}
