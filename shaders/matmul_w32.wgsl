// A block of 32 consecutive weights of a row of W, as every weight storage
// hands it to the row-walking product (matmul_rows.wgsl): weight j is
// d * (q[j / 4][j % 4] + off). Float storages give d = 1 and off = 0;
// q4_0 gives its nibbles with off = -8, so the kernel can add the offset
// once per block (off * sum(x)) instead of once per weight.
struct W32 {
    d: f32,
    off: f32,
    q: array<vec4<f32>, 8>,
}

