// The timer's own kernels.
//
//   touch: the smallest dispatch with a read_write binding (one invocation
//          adds one to a counter): back to back, it measures what a
//          dispatch costs beyond its work (launch and the barrier wgpu
//          places before every dispatch that writes).
//   warm:  dependent FMA chains for `iterations` steps per invocation, to
//          keep the GPU busy (and its clocks up) before measuring. It
//          writes one value per invocation so nothing is optimised away;
//          nothing checks it, since nothing is measured with it.

struct Params {
    iterations: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(1)
fn touch() {
    out[0] = out[0] + 1.0;
}

@compute @workgroup_size(256)
fn warm(@builtin(global_invocation_id) gid: vec3<u32>) {
    var x = vec4<f32>(f32(gid.x & 7u), 1.0, 2.0, 3.0) * 1e-3;
    var y = x + 0.5;
    for (var i = 0u; i < p.iterations; i++) {
        x = fma(x, vec4<f32>(0.999), vec4<f32>(1e-3));
        y = fma(y, vec4<f32>(0.998), vec4<f32>(2e-3));
    }
    out[gid.x % arrayLength(&out)] = x.x + y.y;
}
