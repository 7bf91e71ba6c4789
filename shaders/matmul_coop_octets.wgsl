// The cooperative GEMM's staging for W stored as f16 (appended to
// matmul_coop.wgsl): every load an octet, of A or of W (load_w8h).

// The step's octets of both operands that invocation `tid` stages: octet
// i = tid + s * WG of a tile is row i / OCT, octet i % OCT (zeros past the
// edges of A, W or this part's k, which ends at octet k_end).
fn fetch(tid: u32, za: u32, zwr: u32, row0: u32, col0: u32, o0: u32, k_end: u32) -> Staged {
    var s: Staged;
    for (var t = 0u; t < STAGE; t++) {
        let i = tid + t * WG;
        let r = i / OCT;
        let o = o0 + i % OCT;
        s.a[t] = vec4<u32>(0u);
        s.w[t] = vec4<u32>(0u);
        if r < BM && row0 + r < p.m && o < k_end {
            s.a[t] = a[za + (row0 + r) * p.k8 + o];
        }
        if r < BN && col0 + r < p.n && o < k_end {
            s.w[t] = load_w8h(zwr + col0 + r, o);
        }
    }
    return s;
}

fn put(buf: u32, tid: u32, s: Staged) {
    for (var t = 0u; t < STAGE; t++) {
        let i = tid + t * WG;
        let r = i / OCT;
        if r < BM {
            stage_a(buf, r, i % OCT, s.a[t]);
        }
        if r < BN {
            stage_w(buf, r, i % OCT, s.w[t]);
        }
    }
}
