// Peak f16 arithmetic for the measured compute roof (needs SHADER_F16).
//
// The same scheme as peak_f32.wgsl at half precision: CHAINS independent
// vec4<f16> accumulators, x = fma(x, a, b) per iteration (iterations a
// multiple of UNROLL) with a = 1 and
// b = 2^-10 from a uniform, lanes starting at 1 + k * 2^-10 with k < 64.
// With iterations <= 384 every value stays in [1, 1.5) where multiples of
// 2^-10 are exact in f16, so the host checks every invocation exactly:
// out[g] = sum over lanes of (x - 1), summed in f32, exact.
//
// FLOPs per invocation: 2 * 4 * CHAINS * iterations (the final sum is not counted).

enable f16;

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

// Start offset (in units of 2^-10) of one lane; the host mirrors this hash.
fn start_offset(invocation: u32, lane: u32) -> u32 {
    var h = invocation * 2654435761u + lane * 2246822519u;
    h ^= h >> 15u;
    h *= 2246822519u;
    h ^= h >> 13u;
    return h & 0x3fu;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn peak(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    var acc: array<vec4<f16>, MAX_CHAINS>;
    for (var c = 0u; c < CHAINS; c++) {
        let k = vec4<f16>(
            f16(start_offset(g, 4u * c)),
            f16(start_offset(g, 4u * c + 1u)),
            f16(start_offset(g, 4u * c + 2u)),
            f16(start_offset(g, 4u * c + 3u)),
        );
        acc[c] = 1.0h + k * (1.0h / 1024.0h);
    }
    let va = vec4<f16>(f16(params.a));
    let vb = vec4<f16>(f16(params.b));
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
        let d = vec4<f32>(acc[c] - 1.0h);
        sum += d.x + d.y + d.z + d.w;
    }
    out[g] = sum;
}
