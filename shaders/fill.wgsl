// Fills operand buffers on the GPU with the hashed values the host
// regenerates for verification (kernels/data.rs mirrors every line), so
// multi-GiB operands never cross the bus and the GPU stays busy while they
// are made.
//
//   value(which, i) = hash(which, i) & 2047, as (v - 1024) / 1024: a
//                     multiple of 2^-10 in [-1, 1), exact in f16 and f32
//                     (matmul, softmax and attention operands);
//   stream(which, i) = 1 + (hash(which, i) & 0x7FFFFF) * 2^-23: a float in
//                     [1, 2) with 23 hashed mantissa bits (the streaming
//                     kernels' arrays).
//
// `out` is the bound range of the buffer as words; word j covers element
// `first + j` (f32) or elements `first + 2j` and `first + 2j + 1` (f16, the
// pair packed as two halves: core WGSL, no SHADER_F16 needed). A buffer
// holding several copies of an operand, one every `period` elements (an
// even number), gets the same values in each: element e holds the value of
// index e % period.

struct Params {
    first: u32,  // element index of the range's first element
    words: u32,  // words in the range
    which: u32,  // operand index
    kind: u32,   // 0: value, f32; 1: value, f16 pairs; 2: stream, f32
    period: u32, // elements per copy
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

const KIND_F32: u32 = 0u;
const KIND_F16: u32 = 1u;
const KIND_STREAM: u32 = 2u;

// lowbias32 (a well-mixing 32-bit finaliser).
fn mix(x: u32) -> u32 {
    var h = x;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

fn hash(which: u32, i: u32) -> u32 {
    return mix(i ^ mix(which + 0x9e3779b9u));
}

fn value(which: u32, i: u32) -> f32 {
    return (f32(hash(which, i) & 2047u) - 1024.0) / 1024.0;
}

@compute @workgroup_size(256)
fn fill(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * 256u;
    for (var j = gid.x; j < p.words; j += stride) {
        switch p.kind {
            case KIND_F16: {
                let i = (p.first + 2u * j) % p.period;
                out[j] = pack2x16float(vec2<f32>(value(p.which, i), value(p.which, i + 1u)));
            }
            case KIND_STREAM: {
                out[j] = 0x3F800000u | (hash(p.which, (p.first + j) % p.period) & 0x7FFFFFu);
            }
            default: {
                out[j] = bitcast<u32>(value(p.which, (p.first + j) % p.period));
            }
        }
    }
}
