// Cooperative-matrix (tensor core) GEMM, C = A . W^T with f16 A (m x k) and
// W (n x k, f16 or a llama.cpp block format dequantized to f16 as it is
// staged), both row-major with k contiguous, C f16, accumulated in ACC
// (f32 or f16: the host prepends the enable directives and `alias ACC`).
// Needs EXPERIMENTAL_COOPERATIVE_MATRIX with 16x16x16 f16 fragments,
// SHADER_F16 and SUBGROUP.
//
// - One workgroup per BM x BN block of C. Its subgroups each own a block of
//   FM x FN fragments of 16 x 16 (FM and FN each 1, 2 or 4; separate
//   accumulators, not an array, so the unused ones fold away):
//   BLOCKS = (BM / 16 FM) * (BN / 16 FN). A block of 64 x 64 (4 x 4) loads
//   half a fragment per multiply-add from workgroup memory, 4 x 2 three
//   quarters.
// - The k loop walks steps of BK (32 or 64). The step's A and W tiles are
//   staged in workgroup memory as f16, row-major with k contiguous, rows
//   padded by 8 halves (16 bytes) so the fragment loads of neighbouring rows
//   fall in different banks. A fragments load row-major (coopLoadT); W's rows are
//   the columns of the B operand, so B loads column-major (coopLoad) from
//   the same layout: no transpose anywhere.
// - The tiles are arrays of vec4<f16>, so an octet is staged with two
//   8-byte stores rather than eight 2-byte ones; cooperative loads take a
//   pointer to the vector and count the stride in vectors (STR4). (Tiles of
//   u32 words, loaded as f16 fragments, were rejected by NVIDIA's compiler
//   in 580.159: the component type must be f16.)
// - A and W are read as 16-byte octets of 8 halves (vec4<u32>; the block
//   formats' load_w32h dequantizes a block of 32 weights into 4 such
//   octets, see matmul_coop_blocks.wgsl) and converted
//   to f16 on the way to the tiles (through f32: exact). Reading them as
//   pairs of vec4<f16> instead, with no conversion, ran at half the speed
//   on the H200.
// - The next step's octets are loaded into registers while the current
//   step multiplies. With BUFS = 2 they are then stored to the other
//   buffer, one barrier per step; with BUFS = 1 (deeper steps in the same
//   memory) a barrier first lets the step's last reads finish.
// - Blocks are walked in bands of GROUP block rows: consecutive
//   workgroups take the band's rows first, then its next column, so the
//   blocks in flight share a few rows of A and columns of W in L2 rather
//   than all of W (90 MB for up/gate, more than an H200's 60 MB of L2).
// - The accumulators leave through a 16 x 16 staging fragment per subgroup
//   in workgroup memory, where the lanes convert them to f16 and store
//   rows of 4 halves, guarded at the edges of C.
// - Split-k: SPLIT workgroups share a block, each over its part of k
//   (kper octets), and leave f32 partials through the staging fragment;
//   gemm_reduce sums them into C. A decode batch (m = 16) has one block
//   row, so n / BN blocks alone would leave most of the GPU idle; split,
//   every part still streams its own slice of W once.
// - Cooperative operations need uniform control flow, so every subgroup
//   runs the same code: the workgroup has BLOCKS times the largest subgroup
//   size, and where a driver runs smaller subgroups the extra ones compute
//   a block again (subgroup_id modulo BLOCKS) and store the same values.
//
// The host prepends, after the enable directives, the parameters
// (matmul_params.wgsl), the f16 activation storage (matmul_act_f16.wgsl:
// bindings a and c, read and written here as words, and store_c4) and a
// weight storage (binding w, and load_w8h for f16 or load_w32h for the
// block formats), and appends the staging of the operands for that format
// (fetch and put: matmul_coop_octets.wgsl or
// matmul_coop_blocks.wgsl) and the partials with their reduce pass
// (matmul_split.wgsl); the bindings are those of matmul_block.wgsl. k must
// be a multiple of 8 and n of 4.

override BM: u32 = 128u;
override BN: u32 = 128u;
// Fragments per subgroup block along m and n (1, 2 or 4 each).
override FM: u32 = 4u;
override FN: u32 = 2u;
// k per step (32 or 64) and tile buffers (1 or 2).
override BK: u32 = 32u;
override BUFS: u32 = 2u;
// Parts k is split into (1: no split).
override SPLIT: u32 = 1u;
// The largest subgroup size the adapter reports.
override SGS: u32 = 32u;
override BLOCKS: u32 = (BM / (16u * FM)) * (BN / (16u * FN));
override WG: u32 = BLOCKS * SGS;
override OCT: u32 = BK / 8u;
// vec4<f16> per staged row: BK halves and 8 of padding.
override STR4: u32 = BK / 4u + 2u;
// What each invocation stages per step (the staging, fetch and put, is
// appended by the host for the weight format; overrides are declared here,
// before any function, as naga resolves them in order). f16 weights
// (matmul_coop_octets.wgsl): octets of each operand.
override STAGE: u32 = (OCT * max(BM, BN) + WG - 1u) / WG;
// Block formats (matmul_coop_blocks.wgsl): blocks of W per tile row and
// step, octets of A and blocks of W per invocation.
override WPR: u32 = OCT / 4u;
override ASTAGE: u32 = (OCT * BM + WG - 1u) / WG;
override WSTAGE: u32 = (WPR * BN + WG - 1u) / WG;
// Octets of each operand an invocation holds per step, at most.
const MAX_STAGE: u32 = 8u;
const FRAG: u32 = 256u;
// Block rows per band of the walk over C.
const GROUP: u32 = 8u;

var<workgroup> as_: array<vec4<f16>, BUFS * BM * STR4>;
var<workgroup> ws_: array<vec4<f16>, BUFS * BN * STR4>;
var<workgroup> cs_: array<ACC, BLOCKS * FRAG>;

// The 8 halves of an octet as two vec4<f16> (unpacked through f32: exact
// both ways).
fn halves(v: vec4<u32>) -> array<vec4<f16>, 2> {
    return array<vec4<f16>, 2>(
        vec4<f16>(vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y))),
        vec4<f16>(vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w))),
    );
}

// Store octet `o` (of OCT) of row `r` of a tile.
fn stage_a(buf: u32, r: u32, o: u32, v: vec4<u32>) {
    let at = (buf * BM + r) * STR4 + o * 2u;
    let h = halves(v);
    as_[at] = h[0];
    as_[at + 1u] = h[1];
}

fn stage_w(buf: u32, r: u32, o: u32, v: vec4<u32>) {
    let at = (buf * BN + r) * STR4 + o * 2u;
    let h = halves(v);
    ws_[at] = h[0];
    ws_[at + 1u] = h[1];
}

// The octets of a step an invocation has fetched and will put into the
// tiles, of A and of W (the staging file for the weight format says which
// slots hold what).
struct Staged {
    a: array<vec4<u32>, MAX_STAGE>,
    w: array<vec4<u32>, MAX_STAGE>,
}

// Where fragment (fi, fj) of block `blk` sits in C: its first row, column.
fn origin(blk: u32, fi: u32, fj: u32, row0: u32, col0: u32) -> vec2<u32> {
    let bx = blk % (BN / (16u * FN));
    let by = blk / (BN / (16u * FN));
    return vec2<u32>(row0 + (by * FM + fi) * 16u, col0 + (bx * FN + fj) * 16u);
}

// Store accumulator `f` of block `blk` at `at` (its first row and column of
// C): through the block's staging fragment, rows of 4 values, lanes
// striding; into C converted to f16 without a split, else into part
// `piece`'s partials as f32. Called in uniform control flow.
fn spill(f: coop_mat16x16<ACC, C>, blk: u32, at: vec2<u32>, lane: u32, sg: u32, zc: u32, piece: u32) {
    coopStoreT(f, &cs_[blk * FRAG], 16u);
    workgroupBarrier();
    for (var q = lane; q < FRAG / 4u; q += sg) {
        let row = at.x + q / 4u;
        let col = at.y + (q % 4u) * 4u;
        if row < p.m && col < p.n {
            let s = blk * FRAG + q * 4u;
            let v = vec4<f32>(f32(cs_[s]), f32(cs_[s + 1u]), f32(cs_[s + 2u]), f32(cs_[s + 3u]));
            if SPLIT == 1u {
                store_c4((zc + row * p.ldc + p.c_col + col) / 4u, v);
            } else {
                part[((piece * p.m + row) * p.n + col) / 4u] = v;
            }
        }
    }
    workgroupBarrier();
}

// The (column, row) block that workgroup (x, y) of a grid of `groups`
// computes: workgroups in order of y then x walk bands of GROUP block rows,
// down each column of the band, then across.
fn banded(x: u32, y: u32, groups: vec2<u32>) -> vec2<u32> {
    let i = y * groups.x + x;
    let band = GROUP * groups.x;
    let first = (i / band) * GROUP;
    let rows = min(groups.y - first, GROUP);
    let j = i % band;
    return vec2<u32>(j / rows, first + j % rows);
}

@compute @workgroup_size(WG)
fn gemm_coop(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
    @builtin(subgroup_id) sid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) sg: u32,
) {
    let product = wg.z / SPLIT;
    let piece = wg.z % SPLIT;
    let za = product * p.a_bstride;
    let zwr = w_first_row(product);
    let zc = product * p.c_bstride;
    let at = banded(wg.x, wg.y, groups.xy);
    let row0 = at.y * BM;
    let col0 = at.x * BN;
    let ks = part_octets(piece);
    let k_begin = ks.x;
    let k_end = ks.y;
    let steps = (k_end - k_begin + OCT - 1u) / OCT;
    let blk = sid % BLOCKS;
    let bx = blk % (BN / (16u * FN));
    let by = blk / (BN / (16u * FN));
    // This subgroup's first fragment row (in A's tile) and column (in W's).
    let ar = by * FM * 16u;
    let wr = bx * FN * 16u;

    put(0u, tid, fetch(tid, za, zwr, row0, col0, k_begin, k_end));
    workgroupBarrier();

    var c00 = coop_mat16x16<ACC, C>();
    var c01 = coop_mat16x16<ACC, C>();
    var c02 = coop_mat16x16<ACC, C>();
    var c03 = coop_mat16x16<ACC, C>();
    var c10 = coop_mat16x16<ACC, C>();
    var c11 = coop_mat16x16<ACC, C>();
    var c12 = coop_mat16x16<ACC, C>();
    var c13 = coop_mat16x16<ACC, C>();
    var c20 = coop_mat16x16<ACC, C>();
    var c21 = coop_mat16x16<ACC, C>();
    var c22 = coop_mat16x16<ACC, C>();
    var c23 = coop_mat16x16<ACC, C>();
    var c30 = coop_mat16x16<ACC, C>();
    var c31 = coop_mat16x16<ACC, C>();
    var c32 = coop_mat16x16<ACC, C>();
    var c33 = coop_mat16x16<ACC, C>();
    for (var t = 0u; t < steps; t++) {
        let cur = select(t % 2u, 0u, BUFS == 1u);
        let more = t + 1u < steps;
        var next: Staged;
        if more {
            next = fetch(tid, za, zwr, row0, col0, k_begin + (t + 1u) * OCT, k_end);
        }
        let ab = cur * BM * STR4;
        let wb = cur * BN * STR4;
        for (var kk = 0u; kk < BK / 4u; kk += 4u) {
            // The step's B fragments (W's rows), then one A fragment at a
            // time against all of them.
            let b0 = coopLoad<coop_mat16x16<f16, B>>(&ws_[wb + wr * STR4 + kk], STR4);
            var b1 = b0;
            var b2 = b0;
            var b3 = b0;
            if FN > 1u {
                b1 = coopLoad<coop_mat16x16<f16, B>>(&ws_[wb + (wr + 16u) * STR4 + kk], STR4);
            }
            if FN > 2u {
                b2 = coopLoad<coop_mat16x16<f16, B>>(&ws_[wb + (wr + 32u) * STR4 + kk], STR4);
                b3 = coopLoad<coop_mat16x16<f16, B>>(&ws_[wb + (wr + 48u) * STR4 + kk], STR4);
            }
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&as_[ab + ar * STR4 + kk], STR4);
            c00 = coopMultiplyAdd(a0, b0, c00);
            if FN > 1u { c01 = coopMultiplyAdd(a0, b1, c01); }
            if FN > 2u {
                c02 = coopMultiplyAdd(a0, b2, c02);
                c03 = coopMultiplyAdd(a0, b3, c03);
            }
            if FM > 1u {
                let a1 = coopLoadT<coop_mat16x16<f16, A>>(&as_[ab + (ar + 16u) * STR4 + kk], STR4);
                c10 = coopMultiplyAdd(a1, b0, c10);
                if FN > 1u { c11 = coopMultiplyAdd(a1, b1, c11); }
                if FN > 2u {
                    c12 = coopMultiplyAdd(a1, b2, c12);
                    c13 = coopMultiplyAdd(a1, b3, c13);
                }
            }
            if FM > 2u {
                let a2 = coopLoadT<coop_mat16x16<f16, A>>(&as_[ab + (ar + 32u) * STR4 + kk], STR4);
                c20 = coopMultiplyAdd(a2, b0, c20);
                if FN > 1u { c21 = coopMultiplyAdd(a2, b1, c21); }
                if FN > 2u {
                    c22 = coopMultiplyAdd(a2, b2, c22);
                    c23 = coopMultiplyAdd(a2, b3, c23);
                }
                let a3 = coopLoadT<coop_mat16x16<f16, A>>(&as_[ab + (ar + 48u) * STR4 + kk], STR4);
                c30 = coopMultiplyAdd(a3, b0, c30);
                if FN > 1u { c31 = coopMultiplyAdd(a3, b1, c31); }
                if FN > 2u {
                    c32 = coopMultiplyAdd(a3, b2, c32);
                    c33 = coopMultiplyAdd(a3, b3, c33);
                }
            }
        }
        if more {
            if BUFS == 1u {
                workgroupBarrier();
            }
            put(select(1u - cur, 0u, BUFS == 1u), tid, next);
        }
        workgroupBarrier();
    }

    // Out through the staging fragment, one fragment at a time.
    spill(c00, blk, origin(blk, 0u, 0u, row0, col0), lane, sg, zc, piece);
    if FN > 1u { spill(c01, blk, origin(blk, 0u, 1u, row0, col0), lane, sg, zc, piece); }
    if FN > 2u {
        spill(c02, blk, origin(blk, 0u, 2u, row0, col0), lane, sg, zc, piece);
        spill(c03, blk, origin(blk, 0u, 3u, row0, col0), lane, sg, zc, piece);
    }
    if FM > 1u {
        spill(c10, blk, origin(blk, 1u, 0u, row0, col0), lane, sg, zc, piece);
        if FN > 1u { spill(c11, blk, origin(blk, 1u, 1u, row0, col0), lane, sg, zc, piece); }
        if FN > 2u {
            spill(c12, blk, origin(blk, 1u, 2u, row0, col0), lane, sg, zc, piece);
            spill(c13, blk, origin(blk, 1u, 3u, row0, col0), lane, sg, zc, piece);
        }
    }
    if FM > 2u {
        spill(c20, blk, origin(blk, 2u, 0u, row0, col0), lane, sg, zc, piece);
        if FN > 1u { spill(c21, blk, origin(blk, 2u, 1u, row0, col0), lane, sg, zc, piece); }
        if FN > 2u {
            spill(c22, blk, origin(blk, 2u, 2u, row0, col0), lane, sg, zc, piece);
            spill(c23, blk, origin(blk, 2u, 3u, row0, col0), lane, sg, zc, piece);
        }
        spill(c30, blk, origin(blk, 3u, 0u, row0, col0), lane, sg, zc, piece);
        if FN > 1u { spill(c31, blk, origin(blk, 3u, 1u, row0, col0), lane, sg, zc, piece); }
        if FN > 2u {
            spill(c32, blk, origin(blk, 3u, 2u, row0, col0), lane, sg, zc, piece);
            spill(c33, blk, origin(blk, 3u, 3u, row0, col0), lane, sg, zc, piece);
        }
    }
}
