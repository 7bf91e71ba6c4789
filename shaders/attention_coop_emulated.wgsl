// The fragment operations of flash_prefill_coop (attention_coop.wgsl)
// written out for adapters without cooperative matrices (the software
// ones), so that the kernel's staging, masks, softmax, rescaling and
// output run and are verified there; the layouts and strides are those of
// the cooperative operations in attention_coop_frags.wgsl. Slow, and not
// measured: a check of the kernel around the fragments.
//
// A fragment is spread over its subgroup as a cooperative matrix is:
// element e (row-major, (r, c) at r * 16 + c; a B fragment's (k, n) at k *
// 16 + n) is held by lane e % EMU_SG, at e / EMU_SG. The subgroup size must
// divide 16 (the host replaces EMU_SG with the adapter's one size), so the
// rows of a lane's elements are the same for every lane and a product
// reads B from its own lane and A by one subgroupShuffle a term.

const EMU_SG: u32 = 8u;
const EMU_PER: u32 = 256u / EMU_SG;

struct FragA {
    e: array<f32, EMU_PER>,
}

struct FragB {
    e: array<f32, EMU_PER>,
}

struct FragC {
    e: array<f32, EMU_PER>,
}

var<private> emu_lane: u32;

// The invocation's lane, which the fragment operations below need.
fn frag_begin(lane: u32) {
    emu_lane = lane;
}

// EMU_PER, as a bound the compiler cannot see through (keys come in fewer
// than 2^31), so that lavapipe, which inlines every call, does not also
// unroll every copy of these loops. The test's tilings took 85-113 s to
// compile with it and 130 s without, each with a cold shader cache (d = 64
// alone: 43 s with it, 26 s without).
fn emu_per() -> u32 {
    return EMU_PER + (p.n >> 31u);
}

fn frag_zero() -> FragC {
    return FragC();
}

fn frag_mma(a: FragA, b: FragB, c: FragC) -> FragC {
    var r = c;
    for (var j = 0u; j < emu_per(); j++) {
        // This lane's element j: row i (the same in every lane), column n.
        let e = emu_lane + j * EMU_SG;
        let i = e / 16u;
        let n = e % 16u;
        var s = r.e[j];
        for (var k = 0u; k < emu_per() / EMU_PER * 16u; k++) {
            let x = subgroupShuffle(a.e[(i * 16u + k) / EMU_SG], k % EMU_SG);
            s += x * b.e[(k * 16u + n) / EMU_SG];
        }
        r.e[j] = s;
    }
    return r;
}

// Row and column of this lane's element j.
fn emu_at(j: u32) -> vec2<u32> {
    let e = emu_lane + j * EMU_SG;
    return vec2<u32>(e / 16u, e % 16u);
}

// This lane's elements of a 16 x 16 block of halves from vector `at` of kv,
// or of ps, rows `stride` vectors apart: element (r, c) is half c of row r,
// or, `by_columns`, half r of row c.
fn emu_halves(at: u32, stride: u32, by_columns: bool, from_ps: bool) -> array<f32, EMU_PER> {
    var x: array<f32, EMU_PER>;
    for (var j = 0u; j < emu_per(); j++) {
        var rc = emu_at(j);
        if by_columns {
            rc = rc.yx;
        }
        let h = at * 4u + rc.x * stride * 4u + rc.y;
        if from_ps {
            x[j] = f32(ps[h / 4u][h % 4u]);
        } else {
            x[j] = f32(kv[h / 4u][h % 4u]);
        }
    }
    return x;
}

fn frag_a_kv(at: u32, stride: u32) -> FragA {
    return FragA(emu_halves(at, stride, false, false));
}

fn frag_a_ps(at: u32, stride: u32) -> FragA {
    return FragA(emu_halves(at, stride, false, true));
}

// Column-major: (k, n) is half k of row n.
fn frag_b_col(at: u32, stride: u32) -> FragB {
    return FragB(emu_halves(at, stride, true, false));
}

// Row-major: (k, n) is half n of row k.
fn frag_b_row(at: u32, stride: u32) -> FragB {
    return FragB(emu_halves(at, stride, false, false));
}

fn frag_store(f: FragC, at: u32, stride: u32) {
    for (var j = 0u; j < emu_per(); j++) {
        let rc = emu_at(j);
        ss[at + rc.x * stride + rc.y] = f.e[j];
    }
}

fn frag_load_c(at: u32, stride: u32) -> FragC {
    var f: FragC;
    for (var j = 0u; j < emu_per(); j++) {
        let rc = emu_at(j);
        f.e[j] = ss[at + rc.x * stride + rc.y];
    }
    return f;
}
