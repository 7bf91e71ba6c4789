// Row softmax of attention scores: the middle step of unfused attention,
// between the score product Q.K^T and the value product P.V.
//
//   y[r][t] = exp(scale * (x[r][t] - max_r)) / sum_r   for t <= pos(r)
//   y[r][t] = 0                                        for t >  pos(r)
//
// where pos(r) = r % q_len + n - q_len is the position of query row r among
// the n keys: the causal mask. Rows are query heads stacked over positions
// (q_len rows each); in decode q_len = 1 and every key is visible. Masked
// scores are never read. Max and sum are computed in one online pass (each
// invocation keeps a running max and a sum rescaled to it), reduced across
// the workgroup, then the row is written in a second pass. Arithmetic is f32
// whatever T is; the host generates the f16 variant by replacing the alias.

alias T = f32;

struct Params {
    rows: u32,   // query rows per product
    n: u32,      // keys (row length)
    q_len: u32,  // query positions per query head
    scale: f32,  // 1 / sqrt(head_dim)
    nx: u32,     // workgroups along x (rows walk x, then y)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

// Invocations per row (softmax_rows) or rows per workgroup (softmax_lanes);
// a power of two.
override WG: u32 = 128u;

const NEG: f32 = -3.0e38;

var<workgroup> red_max: array<f32, WG>;
var<workgroup> red_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn softmax_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.y * p.nx + wg.x;
    if row >= p.rows {
        return;
    }
    let base = (wg.z * p.rows + row) * p.n;
    let visible = min(row % p.q_len + p.n - p.q_len + 1u, p.n);

    var mx = NEG;
    var sum = 0.0;
    for (var t = li; t < visible; t += WG) {
        let s = p.scale * f32(x[base + t]);
        let m = max(mx, s);
        sum = sum * exp(mx - m) + exp(s - m);
        mx = m;
    }
    red_max[li] = mx;
    red_sum[li] = sum;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step >>= 1u) {
        if li < step {
            let m = max(red_max[li], red_max[li + step]);
            red_sum[li] = red_sum[li] * exp(red_max[li] - m)
                + red_sum[li + step] * exp(red_max[li + step] - m);
            red_max[li] = m;
        }
        workgroupBarrier();
    }
    let m = red_max[0];
    let inv = 1.0 / red_sum[0];
    for (var t = li; t < p.n; t += WG) {
        var v = 0.0;
        if t < visible {
            v = exp(p.scale * f32(x[base + t]) - m) * inv;
        }
        y[base + t] = T(v);
    }
}

// One invocation per row, no workgroup memory and no barriers: the whole
// row is walked by one invocation (online max and sum, then the write). Rows
// of a workgroup are consecutive: WG rows per workgroup along x, then y.
@compute @workgroup_size(WG)
fn softmax_lanes(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = (wg.y * p.nx + wg.x) * WG + li;
    if row >= p.rows {
        return;
    }
    let base = (wg.z * p.rows + row) * p.n;
    let visible = min(row % p.q_len + p.n - p.q_len + 1u, p.n);
    var mx = NEG;
    var sum = 0.0;
    for (var t = 0u; t < visible; t++) {
        let s = p.scale * f32(x[base + t]);
        let m = max(mx, s);
        sum = sum * exp(mx - m) + exp(s - m);
        mx = m;
    }
    let inv = 1.0 / sum;
    for (var t = 0u; t < p.n; t++) {
        var v = 0.0;
        if t < visible {
            v = exp(p.scale * f32(x[base + t]) - mx) * inv;
        }
        y[base + t] = T(v);
    }
}
