// Peak arithmetic for the measured compute roofs, f32 or f16 (the host
// generates the f16 variant by redefining the alias T and enabling f16).
//
// Each invocation keeps CHAINS independent vec4<T> accumulators (4 * CHAINS
// independent FMA chains, enough to hide the latency; vec4<f16> compiles to
// packed half2 FMAs where the GPU has them) and applies x = fma(x, a, b) to
// each, `iterations` times (a multiple of UNROLL). a and b come from a
// uniform, so the compiler can fold nothing: a = 1 and b = +unit for
// HALF steps, then -unit for HALF steps, and so on: every lane walks a
// triangle wave of period 2 * HALF units around its start, so any number
// of iterations stays exact. Lanes start at 1 + k * unit with k < mask + 1;
// the host picks unit and mask per type (f32: 2^-20 and 2^18 - 1, f16: 2^-10
// and 63, with HALF at most 2^18 and 384) so every value stays in [1, 1.5),
// where multiples of the unit are exact.
//
// The lanes are summed as integers: each x in [1, 2) is read back from its
// bits as (x - 1) in units (the mantissa shifted right by SHIFT: 3 for f32,
// 13 for f16). Drivers may reassociate float sums (one GPU computed the sum
// of (x - 1) as (sum of x) - lanes, losing the low bits once the sum passed
// 16); integer sums are exact in any order. The host then checks every
// invocation bit for bit: out[g] = sum over lanes of (x - 1) / unit.
//
// The accumulators are separate variables, not an array: CHAINS is an
// override, so the unused ones fold away, and nothing is indexed
// dynamically (register arrays indexed in loops are what compilers spill).
//
// FLOPs per invocation: 2 * 4 * CHAINS * iterations (the final sum is not counted).

alias T = f32;

struct Params {
    iterations: u32, // FMA steps per accumulator, a multiple of UNROLL
    half: u32,       // steps per half period of the triangle wave, a multiple of UNROLL
    unit: f32,       // one unit in the last place at 1.0 (b's magnitude)
    mask: u32,       // start offsets are hashes & mask, in units
    a: f32,          // the multiplier: 1, unknown to the compiler
    shift: u32,      // mantissa bits below the unit: 23 - log2(1 / unit)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

override WORKGROUP_SIZE: u32 = 256u;
// vec4 accumulators per invocation, 1 ..= MAX_CHAINS.
override CHAINS: u32 = 4u;
const MAX_CHAINS: u32 = 8u;
// FMA steps per block; `iterations` and `half` must be multiples of it.
const UNROLL: u32 = 8u;

// Start offset (in units) of one lane; the host mirrors this hash.
fn start_offset(invocation: u32, lane: u32) -> u32 {
    var h = invocation * 2654435761u + lane * 2246822519u;
    h ^= h >> 15u;
    h *= 2246822519u;
    h ^= h >> 13u;
    return h & params.mask;
}

fn start(g: u32, c: u32) -> vec4<T> {
    let k = vec4<f32>(
        f32(start_offset(g, 4u * c)),
        f32(start_offset(g, 4u * c + 1u)),
        f32(start_offset(g, 4u * c + 2u)),
        f32(start_offset(g, 4u * c + 3u)),
    );
    return vec4<T>(1.0 + k * params.unit);
}

// (x - 1) / unit of each lane, from the bits of x in [1, 2), summed.
fn lanes(x: vec4<T>) -> u32 {
    let bits = bitcast<vec4<u32>>(vec4<f32>(x)) - vec4<u32>(0x3F800000u);
    let units = bits >> vec4<u32>(params.shift);
    return units.x + units.y + units.z + units.w;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn peak(@builtin(global_invocation_id) gid: vec3<u32>) {
    let g = gid.x;
    var x0 = start(g, 0u);
    var x1 = start(g, 1u);
    var x2 = start(g, 2u);
    var x3 = start(g, 3u);
    var x4 = start(g, 4u);
    var x5 = start(g, 5u);
    var x6 = start(g, 6u);
    var x7 = start(g, 7u);
    let va = vec4<T>(T(params.a));
    let up = vec4<T>(T(params.unit));
    var done = 0u;
    var rising = true;
    while done < params.iterations {
        let steps = min(params.half, params.iterations - done);
        let vb = select(-up, up, rising);
        // Blocks of UNROLL steps: the constant inner loop unrolls into
        // straight code, so loop bookkeeping is paid once per UNROLL steps.
        for (var i = 0u; i < steps; i += UNROLL) {
            for (var u = 0u; u < UNROLL; u++) {
                x0 = fma(x0, va, vb);
                if CHAINS > 1u { x1 = fma(x1, va, vb); }
                if CHAINS > 2u { x2 = fma(x2, va, vb); }
                if CHAINS > 3u { x3 = fma(x3, va, vb); }
                if CHAINS > 4u { x4 = fma(x4, va, vb); }
                if CHAINS > 5u { x5 = fma(x5, va, vb); }
                if CHAINS > 6u { x6 = fma(x6, va, vb); }
                if CHAINS > 7u { x7 = fma(x7, va, vb); }
            }
        }
        done += steps;
        rising = !rising;
    }
    var sum = lanes(x0);
    if CHAINS > 1u { sum += lanes(x1); }
    if CHAINS > 2u { sum += lanes(x2); }
    if CHAINS > 3u { sum += lanes(x3); }
    if CHAINS > 4u { sum += lanes(x4); }
    if CHAINS > 5u { sum += lanes(x5); }
    if CHAINS > 6u { sum += lanes(x6); }
    if CHAINS > 7u { sum += lanes(x7); }
    out[g] = sum;
}
