// Peak f32 arithmetic for the measured compute roof.
//
// Each invocation keeps CHAINS independent vec4 accumulators and applies
// x = fma(x, a, b) to each of them `iterations` times (a multiple of
// UNROLL): 4 * CHAINS independent FMA chains, enough to hide the latency. a and b come from a uniform so
// the compiler cannot fold the loop. The host sets a = 1 and b = 2^-20 and
// starts every lane at 1 + k * 2^-20 with k < 2^18; with iterations <= 2^18
// every value stays in [1, 1.5) where multiples of 2^-20 are exact in f32, so
// the result is exact and the host can check every invocation bit for bit:
// out[g] = sum over lanes of (x - 1), itself exact.
//
// FLOPs per invocation: 2 * 4 * CHAINS * iterations (the final sum is not counted).

struct Params {
    iterations: u32,
    a: f32,
    b: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override WORKGROUP_SIZE: u32 = 256u;
// vec4 accumulators per invocation, 1 ..= 8.
override CHAINS: u32 = 2u;
const MAX_CHAINS: u32 = 8u;
// FMA steps per block; `iterations` must be a multiple of it.
const UNROLL: u32 = 8u;

// Start offset (in units of 2^-20) of one lane; the host mirrors this hash.
fn start_offset(invocation: u32, lane: u32) -> u32 {
    var h = invocation * 2654435761u + lane * 2246822519u;
    h ^= h >> 15u;
    h *= 2246822519u;
    h ^= h >> 13u;
    return h & 0x3ffffu;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn peak(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    var acc: array<vec4<f32>, MAX_CHAINS>;
    for (var c = 0u; c < CHAINS; c++) {
        let k = vec4<f32>(
            f32(start_offset(g, 4u * c)),
            f32(start_offset(g, 4u * c + 1u)),
            f32(start_offset(g, 4u * c + 2u)),
            f32(start_offset(g, 4u * c + 3u)),
        );
        acc[c] = 1.0 + k * (1.0 / 1048576.0);
    }
    let va = vec4<f32>(params.a);
    let vb = vec4<f32>(params.b);
    // Blocks of UNROLL steps: the constant inner loops unroll into straight
    // code, so loop bookkeeping is paid once per UNROLL * CHAINS FMAs.
    let blocks = params.iterations / UNROLL;
    for (var i = 0u; i < blocks; i++) {
        for (var u = 0u; u < UNROLL; u++) {
            for (var c = 0u; c < CHAINS; c++) {
                acc[c] = fma(acc[c], va, vb);
            }
        }
    }
    var sum = 0.0;
    for (var c = 0u; c < CHAINS; c++) {
        let d = acc[c] - 1.0;
        sum += d.x + d.y + d.z + d.w;
    }
    out[g] = sum;
}
