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

// Partial softmax statistics (max, sum of exp(s - max)) per invocation.
var<workgroup> red: array<vec2<f32>, WG>;

// Statistics of two sets of scores together, each sum rescaled to the
// larger max. An empty set is (NEG, 0).
fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Keys row `row` sees: up to its position, by the causal mask.
fn visible_keys(row: u32) -> u32 {
    return min(row % p.q_len + p.n - p.q_len + 1u, p.n);
}

// Statistics of the scaled scores first, first + stride, ... of the row
// at `base`, below `visible`, in one online pass.
fn row_stats(base: u32, visible: u32, first: u32, stride: u32) -> vec2<f32> {
    var st = vec2<f32>(NEG, 0.0);
    for (var t = first; t < visible; t += stride) {
        st = merge(st, vec2<f32>(p.scale * f32(x[base + t]), 1.0));
    }
    return st;
}

// Write probabilities first, first + stride, ... of the row at `base`
// given its statistics: exp(s - max) / sum, zero past `visible`.
fn write_row(base: u32, visible: u32, st: vec2<f32>, first: u32, stride: u32) {
    let inv = 1.0 / st.y;
    for (var t = first; t < p.n; t += stride) {
        var v = 0.0;
        if t < visible {
            v = exp(p.scale * f32(x[base + t]) - st.x) * inv;
        }
        y[base + t] = T(v);
    }
}

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
    let visible = visible_keys(row);
    red[li] = row_stats(base, visible, li, WG);
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step >>= 1u) {
        if li < step {
            red[li] = merge(red[li], red[li + step]);
        }
        workgroupBarrier();
    }
    write_row(base, visible, red[0], li, WG);
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
    let visible = visible_keys(row);
    write_row(base, visible, row_stats(base, visible, 0u, 1u), 0u, 1u);
}
