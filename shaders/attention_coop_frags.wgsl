// The fragment operations of flash_prefill_coop (attention_coop.wgsl) as
// cooperative matrices: 16 x 16 fragments, f16 operands, f32
// accumulators. Tiles are arrays of vec4<f16>, strides counted in vectors,
// as in the cooperative GEMM; row-major loads and stores are the `T`
// forms.

alias FragA = coop_mat16x16<f16, A>;
alias FragB = coop_mat16x16<f16, B>;
alias FragC = coop_mat16x16<f32, C>;

// Nothing to set up: a cooperative matrix knows its lanes.
fn frag_begin(lane: u32) {}

fn frag_zero() -> FragC {
    return FragC();
}

fn frag_mma(a: FragA, b: FragB, c: FragC) -> FragC {
    return coopMultiplyAdd(a, b, c);
}

// A, row-major: element (r, c) is half c of row r, rows `stride` vectors
// apart from vector `at` of kv (Q) or of ps (P).
fn frag_a_kv(at: u32, stride: u32) -> FragA {
    return coopLoadT<FragA>(&kv[at], stride);
}

fn frag_a_ps(at: u32, stride: u32) -> FragA {
    return coopLoadT<FragA>(&ps[at], stride);
}

// B from the rows of kv: column-major (element (k, n) is half k of row n:
// K rows as the columns of K^T) or row-major (half n of row k: V).
fn frag_b_col(at: u32, stride: u32) -> FragB {
    return coopLoad<FragB>(&kv[at], stride);
}

fn frag_b_row(at: u32, stride: u32) -> FragB {
    return coopLoadT<FragB>(&kv[at], stride);
}

// An accumulator to or from the scratch ss, row-major, rows `stride`
// floats apart.
fn frag_store(f: FragC, at: u32, stride: u32) {
    coopStoreT(f, &ss[at], stride);
}

fn frag_load_c(at: u32, stride: u32) -> FragC {
    return coopLoadT<FragC>(&ss[at], stride);
}
