// Streaming kernels for the measured memory roof, after BabelStream's set:
//   copy:  c = a            (reads 1 array, writes 1)
//   scale: b = s * c        (reads 1, writes 1)
//   add:   c = a + b        (reads 2, writes 1)
//   triad: a = b + s * c    (reads 2, writes 1)
//   dot:   partial sums of a . b per invocation (reads 2, writes 1 vec4 per invocation)
//   read:  partial sums of a per invocation (reads 1, writes 1 vec4 per
//          invocation): a read-only stream shaped like a GEMV's weight loads
//   read_blocks: as read, each team of TEAM neighbouring invocations
//          streaming its own contiguous block (see below)
// Arrays hold vec4<f32> so each invocation moves 16 bytes per access.
// Invocations walk the arrays with a grid stride: invocation g touches
// g, g + stride, g + 2 * stride, ... where stride = invocations dispatched,
// so neighbouring invocations touch neighbouring vectors on every step.

struct Params {
    n: u32,       // array length in vec4s
    stride: u32,  // total invocations dispatched
    scalar: f32,  // s
    block: u32,   // vec4s per team (read_blocks)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

override WORKGROUP_SIZE: u32 = 256u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < params.n; i += params.stride) {
        c[i] = a[i];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
    let s = params.scalar;
    for (var i = gid.x; i < params.n; i += params.stride) {
        b[i] = s * c[i];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn add(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < params.n; i += params.stride) {
        c[i] = a[i] + b[i];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn triad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let s = params.scalar;
    for (var i = gid.x; i < params.n; i += params.stride) {
        a[i] = b[i] + s * c[i];
    }
}

// dot: c[g] = sum over this invocation's elements of a[i] * b[i] (all four
// lanes), for g < stride. Reads 2 arrays and writes one vec4 per invocation
// (the partial sum in .x), so it measures load bandwidth where the others
// also need stores.
@compute @workgroup_size(WORKGROUP_SIZE)
fn dot(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    for (var i = gid.x; i < params.n; i += params.stride) {
        acc = fma(a[i], b[i], acc);
    }
    if gid.x < params.stride {
        c[gid.x] = vec4<f32>(acc.x + acc.y + acc.z + acc.w, 0.0, 0.0, 0.0);
    }
}

// read: c[g] = sum over this invocation's elements of a[i] (all four lanes),
// for g < stride. Nearly all of its traffic is loads, like a decode GEMV's,
// so the memory roof covers kernels that mostly read.
@compute @workgroup_size(WORKGROUP_SIZE)
fn read(@builtin(global_invocation_id) gid: vec3<u32>) {
    var acc = vec4<f32>(0.0);
    for (var i = gid.x; i < params.n; i += params.stride) {
        acc += a[i];
    }
    if gid.x < params.stride {
        c[gid.x] = vec4<f32>(acc.x + acc.y + acc.z + acc.w, 0.0, 0.0, 0.0);
    }
}

// read_blocks: read's partial sums with the invocations in teams of TEAM
// neighbours, team t streaming the contiguous block of params.block vec4s
// from t * params.block, four loads per step: member l reads l, l + TEAM,
// l + 2 TEAM and l + 3 TEAM of every 4 TEAM vec4s. On a GPU each load of a
// team is one whole 128-byte segment, as coalesced as the grid stride. On
// a CPU adapter, whose SIMD lanes run neighbouring invocations and whose
// cores take whole workgroups, each core then reads one sequential stream
// where the grid stride has it hop a whole grid apart on every step
// (lavapipe on a quiet host: 11-12.6 GB/s median against 7-9.8 for read;
// when other tenants load the memory the grid-stride streams can lead).
const TEAM: u32 = 8u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn read_blocks(@builtin(global_invocation_id) gid: vec3<u32>) {
    let team = gid.x / TEAM;
    let start = team * params.block;
    if start >= params.n {
        return;
    }
    let end = min(start + params.block, params.n);
    var acc = vec4<f32>(0.0);
    // Four loads a step while all four lie in the block, then one at a
    // time (only a short last block has any left).
    var i = start + gid.x % TEAM;
    for (; i + 3u * TEAM < end; i += 4u * TEAM) {
        acc += a[i] + a[i + TEAM] + a[i + 2u * TEAM] + a[i + 3u * TEAM];
    }
    for (; i < end; i += TEAM) {
        acc += a[i];
    }
    c[gid.x] = vec4<f32>(acc.x + acc.y + acc.z + acc.w, 0.0, 0.0, 0.0);
}
