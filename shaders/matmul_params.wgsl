// The parameters of the matmul kernels built on an element storage, which
// count in octets (8 consecutive k-values of a row): the block GEMM and the
// few-row products. The host prepends this file to their modules (the
// weight storages read k8 too) and fills it from one struct, as it does
// the cooperative GEMM's copy of it (matmul_coop.wgsl, whose enable
// directives must come first).

struct Params {
    m: u32,         // rows of A and C in this dispatch
    n: u32,         // rows of W (columns of C) in this dispatch
    k8: u32,        // octets per row of A and W (k / 8)
    ldc: u32,       // row stride of C, in elements
    c_col: u32,     // first column of C this dispatch writes
    a_bstride: u32, // octets between consecutive products' A
    w_bstride: u32, // octets between consecutive products' W
    c_bstride: u32, // elements between consecutive products' C
    kper: u32,      // octets of k per split part (the block GEMM's split-k)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// The first row of W of product `z`: the weight storages address W by row
// and octet (load_w8, load_w32), and a product's W is w_bstride octets on.
fn w_first_row(z: u32) -> u32 {
    return z * (p.w_bstride / p.k8);
}
