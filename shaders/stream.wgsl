// Streaming kernels for the measured memory roof, after BabelStream's set:
//   copy:  c = a            (reads 1 array, writes 1)
//   scale: b = s * c        (reads 1, writes 1)
//   add:   c = a + b        (reads 2, writes 1)
//   triad: a = b + s * c    (reads 2, writes 1)
//   dot:   partial sums of a . b per invocation (reads 2, writes 1 vec4 per invocation)
//   read:  partial sums of a per invocation (reads 1, writes 1 vec4 per
//          invocation): a read-only stream shaped like a GEMV's weight loads
// Arrays hold vec4<f32> so each invocation moves 16 bytes per access.
// Invocations walk the arrays with a grid stride: invocation g touches
// g, g + stride, g + 2 * stride, ... where stride = invocations dispatched,
// so neighbouring invocations touch neighbouring vectors on every step.

struct Params {
    n: u32,       // array length in vec4s
    stride: u32,  // total invocations dispatched
    scalar: f32,  // s
    _pad: u32,
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
