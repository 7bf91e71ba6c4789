//! Every WGSL file in `shaders/` parses and validates with naga, without any
//! GPU, exposes the entry points and overrides the host side relies on, and
//! agrees with the host on every constant the two mirror.

use std::path::Path;

use wgpu_roofline::dtype::{Format, Quant};
use wgpu_roofline::kernels::{
    attention, matmul, peak, peak_coop, softmax, source, stream, DType, FILL_SHADER,
};
use wgpu_roofline::measure::timer;

pub(crate) fn validate(name: &str, src: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    module
}

/// Every module the host builds from the files, by name, in its f32 form.
fn modules() -> Vec<(&'static str, String)> {
    vec![
        ("fill.wgsl", FILL_SHADER.to_string()),
        ("timer.wgsl", timer::SHADER.to_string()),
        ("stream.wgsl", stream::SHADER.to_string()),
        ("peak.wgsl", peak::SHADER.to_string()),
        ("matmul.wgsl", matmul::SHADER.to_string()),
        ("matmul + matmul_subgroup", matmul::subgroup_module()),
        (
            "matmul_block (f32)",
            matmul::module_source(matmul::Family::Block, DType::F32),
        ),
        (
            "matmul_block (f16)",
            matmul::module_source(matmul::Family::Block, DType::F16),
        ),
        (
            "matmul_gemv (f32)",
            matmul::module_source(matmul::Family::Gemv { subgroups: true }, DType::F32),
        ),
        (
            "matmul_gemv (f16)",
            matmul::module_source(matmul::Family::Gemv { subgroups: false }, DType::F16),
        ),
        (
            "matmul_gemv q8_0 (f16 act)",
            matmul::module_with(
                matmul::Family::Gemv { subgroups: true },
                DType::F16,
                Format::Quant(Quant::Q8_0),
            ),
        ),
        (
            "matmul_block q4_0 (f32 act)",
            matmul::module_with(
                matmul::Family::Block,
                DType::F32,
                Format::Quant(Quant::Q4_0),
            ),
        ),
        (
            "matmul_rows q4_0 (f16 act, subgroups)",
            matmul::module_with(
                matmul::Family::Rows { subgroups: true },
                DType::F16,
                Format::Quant(Quant::Q4_0),
            ),
        ),
        (
            "matmul_rows q8_0 (f32 act)",
            matmul::module_with(
                matmul::Family::Rows { subgroups: false },
                DType::F32,
                Format::Quant(Quant::Q8_0),
            ),
        ),
        (
            "matmul_rows (f16)",
            matmul::module_source(matmul::Family::Rows { subgroups: true }, DType::F16),
        ),
        (
            "matmul_rows (f32)",
            matmul::module_source(matmul::Family::Rows { subgroups: false }, DType::F32),
        ),
        (
            "matmul_coop (f32 acc)",
            matmul::module_source(
                matmul::Family::Coop {
                    accumulate: DType::F32,
                },
                DType::F16,
            ),
        ),
        (
            "matmul_coop (f16 acc)",
            matmul::module_source(
                matmul::Family::Coop {
                    accumulate: DType::F16,
                },
                DType::F16,
            ),
        ),
        (
            "matmul_coop q4_0 (f32 acc)",
            matmul::module_with(
                matmul::Family::Coop {
                    accumulate: DType::F32,
                },
                DType::F16,
                Format::Quant(Quant::Q4_0),
            ),
        ),
        (
            "matmul_coop q8_0 (f16 acc)",
            matmul::module_with(
                matmul::Family::Coop {
                    accumulate: DType::F16,
                },
                DType::F16,
                Format::Quant(Quant::Q8_0),
            ),
        ),
        (
            "peak_coop (f32 acc)",
            matmul::coop_source(peak_coop::SHADER, DType::F32),
        ),
        (
            "peak_coop (f16 acc)",
            matmul::coop_source(peak_coop::SHADER, DType::F16),
        ),
        ("softmax.wgsl", softmax::SHADER.to_string()),
        (
            "softmax_subgroup.wgsl",
            softmax::SHADER_SUBGROUP.to_string(),
        ),
        (
            "attention.wgsl",
            attention::module_source(DType::F32, 128, false),
        ),
        (
            "attention + attention_subgroup",
            attention::module_source(DType::F32, 128, true),
        ),
        (
            "attention_coop (cooperative matrices)",
            attention::coop_module_source(128, None),
        ),
        (
            "attention_coop (emulated fragments)",
            attention::coop_module_source(128, Some(8)),
        ),
    ]
}

#[test]
fn every_shader_file_is_used_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let modules = modules();
    let joined: String = modules.iter().map(|(_, s)| s.as_str()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Each file is (part of) a module the host builds, verbatim
            // (attention's HEAD_DIM line aside).
            let first = text.lines().nth(2).unwrap_or_default();
            assert!(joined.contains(first), "{} is not used", path.display());
        }
    }
    for (name, src) in &modules {
        validate(name, src);
    }
}

fn entry_points(m: &naga::Module) -> Vec<String> {
    m.entry_points.iter().map(|e| e.name.clone()).collect()
}

fn overrides(m: &naga::Module) -> Vec<String> {
    m.overrides
        .iter()
        .filter_map(|(_, o)| o.name.clone())
        .collect()
}

/// The value of the module-scope `const NAME: u32` (evaluated by naga).
fn constant(m: &naga::Module, name: &str) -> u64 {
    let (_, c) = m
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no const {name}"));
    match m.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => v as u64,
        ref other => panic!("const {name} is {other:?}"),
    }
}

#[test]
fn shaders_expose_what_the_host_dispatches() {
    let m = |name: &str| {
        let (n, src) = modules().into_iter().find(|(n, _)| *n == name).unwrap();
        validate(n, &src)
    };
    let stream = m("stream.wgsl");
    assert_eq!(
        entry_points(&stream),
        [
            "copy",
            "scale",
            "add",
            "triad",
            "dot",
            "read",
            "read_blocks"
        ]
    );
    assert_eq!(overrides(&stream), ["WORKGROUP_SIZE"]);
    let mm = m("matmul.wgsl");
    assert_eq!(
        entry_points(&mm),
        ["gemm_tiled", "gemm_direct", "gemv_splitk"]
    );
    for o in ["TILE_M", "TILE_N", "WG_M", "WG_N", "BK", "SPLIT"] {
        assert!(
            overrides(&mm).iter().any(|x| x == o),
            "matmul.wgsl lacks {o}"
        );
    }
    let sg = m("matmul + matmul_subgroup");
    assert_eq!(
        entry_points(&sg),
        [
            "gemm_tiled",
            "gemm_direct",
            "gemv_splitk",
            "gemv_subgroup",
            "gemm_subgroup",
            "gemv_lanes"
        ]
    );
    for o in ["LANE_ROWS", "AHEAD"] {
        assert!(
            overrides(&sg).iter().any(|x| x == o),
            "matmul_subgroup.wgsl lacks {o}"
        );
    }
    let sm = m("softmax.wgsl");
    assert_eq!(entry_points(&sm), ["softmax_rows", "softmax_lanes"]);
    assert_eq!(overrides(&sm), ["WG"]);
    assert_eq!(entry_points(&m("softmax_subgroup.wgsl")), ["softmax_sg"]);
    let block = m("matmul_block (f16)");
    assert_eq!(entry_points(&block), ["gemm_block", "gemm_reduce"]);
    for o in ["BM", "BN", "TM", "TN", "BK", "SPLIT"] {
        assert!(overrides(&block).iter().any(|x| x == o), "block lacks {o}");
    }
    let gemv = m("matmul_gemv (f32)");
    assert_eq!(
        entry_points(&gemv),
        ["gemv", "gemv_staged", "gemv_subgroup", "gemv_resident"]
    );
    // Without subgroups the module has no subgroup operation at all.
    let plain = m("matmul_gemv (f16)");
    assert_eq!(entry_points(&plain), ["gemv", "gemv_staged"]);
    for o in ["WG", "R", "M", "U", "UNIT", "MP", "XO", "PER"] {
        assert!(overrides(&gemv).iter().any(|x| x == o), "gemv lacks {o}");
    }
    let rows = m("matmul_rows q4_0 (f16 act, subgroups)");
    assert_eq!(entry_points(&rows), ["gemv_rows", "gemv_rows_subgroup"]);
    assert_eq!(entry_points(&m("matmul_rows (f32)")), ["gemv_rows"]);
    assert_eq!(overrides(&rows), ["WG", "R", "M"]);
    let sg = m("attention + attention_subgroup");
    assert_eq!(
        entry_points(&sg),
        [
            "flash_prefill",
            "flash_prefill_block",
            "flash_decode_partial",
            "flash_decode_reduce",
            "flash_prefill_sg",
            "flash_decode_sg",
            "flash_prefill_tile",
            "flash_decode_lanes"
        ]
    );
    let at = m("attention.wgsl");
    assert_eq!(
        entry_points(&at),
        [
            "flash_prefill",
            "flash_prefill_block",
            "flash_decode_partial",
            "flash_decode_reduce"
        ]
    );
    assert_eq!(
        overrides(&at),
        ["BR", "RPI", "BC", "XR", "XC", "XTY", "XK", "XPROW", "WG", "CHUNK", "GROUP"]
    );
    let pk = m("peak.wgsl");
    assert_eq!(entry_points(&pk), ["peak"]);
    assert_eq!(overrides(&pk), ["WORKGROUP_SIZE", "CHAINS"]);
    let coop = m("matmul_coop (f16 acc)");
    assert_eq!(entry_points(&coop), ["gemm_coop", "gemm_reduce"]);
    for o in ["BM", "BN", "FM", "FN", "BK", "BUFS", "SGS", "SPLIT"] {
        assert!(overrides(&coop).iter().any(|x| x == o), "coop lacks {o}");
    }
    let pc = m("peak_coop (f32 acc)");
    assert_eq!(entry_points(&pc), ["peak_coop"]);
    assert_eq!(overrides(&pc), ["WG", "CHAINS"]);
    assert_eq!(entry_points(&m("fill.wgsl")), ["fill"]);
    assert_eq!(entry_points(&m("timer.wgsl")), ["touch", "warm"]);
}

#[test]
fn constants_mirrored_between_host_and_shaders_agree() {
    let m = |name: &str| {
        let (n, src) = modules().into_iter().find(|(n, _)| *n == name).unwrap();
        validate(n, &src)
    };
    let mm = m("matmul.wgsl");
    assert_eq!(constant(&mm, "MAX_TILE"), matmul::MAX_TILE as u64);
    assert_eq!(constant(&m("stream.wgsl"), "TEAM"), stream::TEAM);
    let gemv = m("matmul_gemv (f32)");
    assert_eq!(constant(&gemv, "MAX_M"), matmul::GEMV_MAX_M);
    assert_eq!(constant(&gemv, "MAX_ACC"), matmul::GEMV_MAX_ACC);
    assert_eq!(constant(&gemv, "MAX_U"), matmul::GEMV_MAX_UNROLL as u64);
    assert_eq!(constant(&gemv, "MAX_XM"), matmul::GEMV_MAX_BLOCK_M);
    assert_eq!(constant(&gemv, "MAX_SO"), matmul::GEMV_MAX_STAGED);
    assert_eq!(constant(&gemv, "MAX_XO"), matmul::RESIDENT_MAX_X);
    assert_eq!(constant(&gemv, "MAX_PF"), matmul::RESIDENT_MAX_W);
    let rows = m("matmul_rows (f32)");
    assert_eq!(constant(&rows, "MAX_ACC"), matmul::GEMV_MAX_ACC);
    let block = m("matmul_block (f32)");
    assert_eq!(constant(&block, "MAX_T"), matmul::MAX_TILE as u64);
    assert_eq!(
        constant(&block, "MAX_STAGE"),
        matmul::BLOCK_MAX_STAGE as u64
    );
    let coop = m("matmul_coop (f32 acc)");
    assert_eq!(constant(&coop, "MAX_STAGE"), matmul::COOP_MAX_STAGE as u64);
    assert_eq!(constant(&coop, "GROUP"), matmul::COOP_GROUP as u64);
    let pc = m("peak_coop (f32 acc)");
    assert_eq!(
        constant(&pc, "MAX_COOP_CHAINS"),
        peak_coop::MAX_COOP_CHAINS as u64
    );
    assert_eq!(constant(&pc, "FRAG"), peak_coop::reference::FRAG as u64);
    let pk = m("peak.wgsl");
    assert_eq!(constant(&pk, "MAX_CHAINS"), peak::MAX_CHAINS as u64);
    assert_eq!(constant(&pk, "UNROLL"), peak::UNROLL as u64);
    let at = m("attention + attention_subgroup");
    assert_eq!(constant(&at, "MAX_BC"), attention::MAX_TILE_KEYS as u64);
    assert_eq!(
        constant(&at, "MAX_RPI"),
        attention::MAX_ROWS_PER_INVOCATION as u64
    );
    assert_eq!(constant(&at, "MAX_GROUP"), attention::MAX_GROUP);
    assert_eq!(constant(&at, "MAX_TR"), attention::MAX_SUBGROUP_ROWS as u64);
    assert_eq!(constant(&at, "MAX_CH"), attention::MAX_LANE_COLUMNS);
    assert_eq!(constant(&at, "MAX_LV"), attention::MAX_LANE_COLUMNS);
    assert_eq!(
        constant(&at, "MAX_KU"),
        attention::MAX_KEYS_PER_ROUND as u64
    );
    assert_eq!(constant(&at, "MAX_RPL"), attention::MAX_TILE_ROWS as u64);
    assert_eq!(constant(&at, "MAX_XK"), attention::MAX_BLOCK_KEYS as u64);
    assert_eq!(constant(&at, "MAX_HELD"), attention::MAX_HELD_SCORES as u64);
    assert_eq!(constant(&at, "MAX_CV"), attention::MAX_TILE_COLUMNS);
    assert_eq!(
        constant(&at, "HEAD_DIM"),
        128,
        "the default the host replaces"
    );
}

#[test]
fn generated_f16_variants_validate() {
    for (name, base) in modules() {
        if !base.contains("alias T = f32;") {
            continue; // f32 only (stream, fill, timer); attention below
        }
        if name.starts_with("attention") {
            continue;
        }
        let f16 = source(&base, DType::F16);
        assert!(f16.contains("alias T = f16;"), "{name}");
        validate(&format!("{name} (f16)"), &f16);
    }
    // Fused attention at every head dimension the run may ask for.
    for d in [4, 16, 64, 80, 128, 256] {
        for (dtype, subgroup) in [
            (DType::F32, false),
            (DType::F16, false),
            (DType::F32, true),
            (DType::F16, true),
        ] {
            let src = attention::module_source(dtype, d, subgroup);
            assert!(src.contains(&format!("const HEAD_DIM: u32 = {d}u;")));
            validate(
                &format!("attention.wgsl d={d} {} subgroup {subgroup}", dtype.name()),
                &src,
            );
        }
    }
}

#[test]
fn embedded_sources_are_the_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(stream::SHADER, read("stream.wgsl"));
    assert_eq!(FILL_SHADER, read("fill.wgsl"));
    assert_eq!(timer::SHADER, read("timer.wgsl"));
    assert_eq!(peak::SHADER, read("peak.wgsl"));
    assert_eq!(matmul::SHADER, read("matmul.wgsl"));
    assert_eq!(matmul::SHADER_SUBGROUP, read("matmul_subgroup.wgsl"));
    assert_eq!(matmul::SHADER_BLOCK, read("matmul_block.wgsl"));
    assert_eq!(matmul::SHADER_SPLIT, read("matmul_split.wgsl"));
    assert_eq!(matmul::SHADER_COOP_OCTETS, read("matmul_coop_octets.wgsl"));
    assert_eq!(matmul::SHADER_COOP_BLOCKS, read("matmul_coop_blocks.wgsl"));
    assert_eq!(matmul::SHADER_GEMV, read("matmul_gemv.wgsl"));
    assert_eq!(
        matmul::SHADER_GEMV_SUBGROUP,
        read("matmul_gemv_subgroup.wgsl")
    );
    assert_eq!(matmul::ACT_F32, read("matmul_act_f32.wgsl"));
    assert_eq!(matmul::ACT_F16, read("matmul_act_f16.wgsl"));
    assert_eq!(matmul::W_F32, read("matmul_w_f32.wgsl"));
    assert_eq!(matmul::W_F16, read("matmul_w_f16.wgsl"));
    assert_eq!(matmul::W_BLOCKS, read("matmul_w_blocks.wgsl"));
    assert_eq!(matmul::W_Q8_0, read("matmul_w_q8_0.wgsl"));
    assert_eq!(matmul::W_Q4_0, read("matmul_w_q4_0.wgsl"));
    assert_eq!(matmul::SHADER_COOP, read("matmul_coop.wgsl"));
    assert_eq!(peak_coop::SHADER, read("peak_coop.wgsl"));
    assert_eq!(softmax::SHADER_SUBGROUP, read("softmax_subgroup.wgsl"));
    assert_eq!(softmax::SHADER, read("softmax.wgsl"));
    assert_eq!(attention::SHADER, read("attention.wgsl"));
    assert_eq!(attention::SHADER_SUBGROUP, read("attention_subgroup.wgsl"));
    assert_eq!(attention::SHADER_COOP, read("attention_coop.wgsl"));
    assert_eq!(
        attention::SHADER_COOP_FRAGS,
        read("attention_coop_frags.wgsl")
    );
    assert_eq!(
        attention::SHADER_COOP_EMULATED,
        read("attention_coop_emulated.wgsl")
    );
}

/// The tensor-core prefill runs on the software adapters only with its
/// fragments emulated, so the two fragment files must offer the same
/// `frag_*` functions with the same parameters (validation catches a call
/// the twin cannot serve; this also catches an operation one file adds
/// that the other lacks), and both modules the kernel's entry point and
/// overrides.
#[test]
fn emulated_fragments_twin_the_cooperative_ones() {
    let coop = validate("coop", &attention::coop_module_source(128, None));
    let emulated = validate("emulated", &attention::coop_module_source(128, Some(8)));
    let frags = |m: &naga::Module| {
        let mut f: Vec<(String, usize)> = m
            .functions
            .iter()
            .filter_map(|(_, f)| {
                let name = f.name.clone()?;
                let arguments = f.arguments.len();
                name.starts_with("frag_").then_some((name, arguments))
            })
            .collect();
        f.sort();
        f
    };
    let names = frags(&coop);
    assert!(names.len() >= 9, "{names:?}");
    assert_eq!(names, frags(&emulated));
    for m in [&coop, &emulated] {
        assert!(entry_points(m).iter().any(|e| e == "flash_prefill_coop"));
        for o in ["CS", "CK", "CSG", "CSUB"] {
            assert!(overrides(m).iter().any(|x| x == o), "{o}");
        }
    }
    // Only the cooperative one asks for cooperative matrices.
    assert!(!attention::coop_module_source(128, Some(8)).contains("wgpu_cooperative_matrix"));
}
