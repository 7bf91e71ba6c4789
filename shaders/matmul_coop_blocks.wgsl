// The cooperative GEMM's staging for W in a block format (appended to
// matmul_coop.wgsl): A by octets, W by blocks of 32 weights (load_w32h:
// the scale and 4.5 or 8.5 words read once a block, where staging octets
// through the storage's load_w8 re-read the scale and 2-3 words for every
// 8 weights; on an H200 this took q4_0 from 38.9 to 18.6 us at B = 16 and
// from 208.6 to 117.4 at S = 512).
// The octet staging stays with f16 weights: this form, with its two loops
// and 4 slots per block, ran the f16 GEMMs 1.4-2x slower there.

// The step's octets that invocation `tid` stages: octet i = tid + t * WG
// of A's tile is row i / OCT, octet i % OCT; block i of W's is row i /
// WPR, octets 4 (i % WPR) on, in slots 4t to 4t + 3 (zeros past the edges
// of A, W or this part's k, which ends at octet k_end: a whole block, as
// the host rounds each part to whole steps).
fn fetch(tid: u32, za: u32, zwr: u32, row0: u32, col0: u32, o0: u32, k_end: u32) -> Staged {
    var s: Staged;
    for (var t = 0u; t < ASTAGE; t++) {
        let i = tid + t * WG;
        let r = i / OCT;
        let o = o0 + i % OCT;
        s.a[t] = vec4<u32>(0u);
        if r < BM && row0 + r < p.m && o < k_end {
            s.a[t] = a[za + (row0 + r) * p.k8 + o];
        }
    }
    for (var t = 0u; t < WSTAGE; t++) {
        let i = tid + t * WG;
        let r = i / WPR;
        let o = o0 + (i % WPR) * 4u;
        var q = array<vec4<u32>, 4>();
        if r < BN && col0 + r < p.n && o < k_end {
            q = load_w32h(zwr + col0 + r, o / 4u);
        }
        for (var j = 0u; j < 4u; j++) {
            s.w[t * 4u + j] = q[j];
        }
    }
    return s;
}

fn put(buf: u32, tid: u32, s: Staged) {
    for (var t = 0u; t < ASTAGE; t++) {
        let i = tid + t * WG;
        let r = i / OCT;
        if r < BM {
            stage_a(buf, r, i % OCT, s.a[t]);
        }
    }
    for (var t = 0u; t < WSTAGE; t++) {
        let i = tid + t * WG;
        let r = i / WPR;
        if r < BN {
            for (var j = 0u; j < 4u; j++) {
                stage_w(buf, r, (i % WPR) * 4u + j, s.w[t * 4u + j]);
            }
        }
    }
}
