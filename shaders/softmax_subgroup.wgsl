// Row softmax with a subgroup per row and vector loads (needs SUBGROUP): the
// same result as softmax.wgsl (causal mask, masked scores never read, zeros
// written past the mask), for rows whose length is a multiple of 4.
//
// A workgroup takes RB rows; its subgroups take them in turn, so any
// subgroup size works (RB is sized for the smallest). In a row, lane l reads
// vec4s l, l + sg, ...: neighbouring lanes read neighbouring 16-byte (f32)
// or 8-byte (f16) pieces. Each lane keeps an online (max, sum); subgroupMax
// and subgroupAdd combine them; the lanes then write the row the same way.
// Arithmetic is f32 whatever T is; the host generates the f16 variant.

alias T = f32;

struct Params {
    rows: u32,   // query rows per product
    n: u32,      // keys (row length), a multiple of 4
    q_len: u32,  // query positions per query head
    scale: f32,  // 1 / sqrt(head_dim)
    nx: u32,     // workgroups along x (row blocks walk x, then y)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<T>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<T>>;

// Invocations per workgroup, and rows per workgroup (WG / smallest subgroup).
override WG: u32 = 128u;
override RB: u32 = 4u;

const NEG: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn softmax_sg(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let subgroups = max(WG / sg, 1u);
    let n4 = p.n / 4u;
    for (var r = li / sg; r < RB; r += subgroups) {
        let row = (wg.y * p.nx + wg.x) * RB + r;
        if row >= p.rows {
            break;
        }
        let base = (wg.z * p.rows + row) * n4;
        let visible = min(row % p.q_len + p.n - p.q_len + 1u, p.n);
        let v4 = (visible + 3u) / 4u;
        // Online (max, sum of exp(s - max)) of this lane's visible scores.
        var m = NEG;
        var s = 0.0;
        for (var t = lane; t < v4; t += sg) {
            let v = p.scale * vec4<f32>(x[base + t]);
            let e = 4u * t;
            let live = vec4<bool>(e < visible, e + 1u < visible, e + 2u < visible, e + 3u < visible);
            let vm = select(vec4<f32>(NEG), v, live);
            let bm = max(max(vm.x, vm.y), max(vm.z, vm.w));
            let nm = max(m, bm);
            let ex = select(vec4<f32>(0.0), exp(vm - nm), live);
            s = s * exp(m - nm) + ex.x + ex.y + ex.z + ex.w;
            m = nm;
        }
        let mx = subgroupMax(m);
        let sum = subgroupAdd(s * exp(m - mx));
        let inv = 1.0 / sum;
        for (var t = lane; t < n4; t += sg) {
            let e = 4u * t;
            let live = vec4<bool>(e < visible, e + 1u < visible, e + 2u < visible, e + 3u < visible);
            var out = vec4<f32>(0.0);
            if t < v4 {
                out = select(vec4<f32>(0.0), exp(p.scale * vec4<f32>(x[base + t]) - mx) * inv, live);
            }
            y[base + t] = vec4<T>(out);
        }
    }
}
