//! Every WGSL file in `shaders/` parses and validates with naga, without any
//! GPU, and exposes the entry points and overrides the host side relies on.

use std::path::Path;

use wgpu_roofline::kernels::matmul::subgroup_module;

fn module(path: &Path) -> naga::Module {
    validate(
        &path.display().to_string(),
        &std::fs::read_to_string(path).unwrap(),
    )
}

fn validate(name: &str, src: &str) -> naga::Module {
    let path = Path::new(name);
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    module
}

#[test]
fn every_shader_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            if path.ends_with("matmul_subgroup.wgsl") {
                // Appended to matmul.wgsl by the host: validated as that module.
                validate("matmul + matmul_subgroup", &subgroup_module());
            } else if path.ends_with("attention_subgroup.wgsl") {
                let src = wgpu_roofline::kernels::attention::module_source(
                    wgpu_roofline::kernels::DType::F32,
                    128,
                    true,
                );
                validate("attention + attention_subgroup", &src);
            } else {
                module(&path);
            }
            n += 1;
        }
    }
    assert!(n >= 3, "expected the stream and peak shaders, found {n}");
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

#[test]
fn shaders_expose_what_the_host_dispatches() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let stream = module(&dir.join("stream.wgsl"));
    assert_eq!(
        entry_points(&stream),
        ["copy", "scale", "add", "triad", "dot"]
    );
    assert_eq!(overrides(&stream), ["WORKGROUP_SIZE"]);
    let mm = module(&dir.join("matmul.wgsl"));
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
    let sg = validate("matmul + matmul_subgroup", &subgroup_module());
    assert_eq!(
        entry_points(&sg),
        [
            "gemm_tiled",
            "gemm_direct",
            "gemv_splitk",
            "gemv_subgroup",
            "gemm_subgroup"
        ]
    );
    let sm = module(&dir.join("softmax.wgsl"));
    assert_eq!(entry_points(&sm), ["softmax_rows", "softmax_lanes"]);
    assert_eq!(overrides(&sm), ["WG"]);
    let at = module(&dir.join("attention.wgsl"));
    assert_eq!(
        entry_points(&at),
        [
            "flash_prefill",
            "flash_decode_partial",
            "flash_decode_reduce"
        ]
    );
    assert_eq!(overrides(&at), ["BR", "BC", "WG", "CHUNK", "GROUP"]);
    for f in ["peak_f32.wgsl", "peak_f16.wgsl"] {
        let m = module(&dir.join(f));
        assert_eq!(entry_points(&m), ["peak"], "{f}");
        assert_eq!(overrides(&m), ["WORKGROUP_SIZE", "CHAINS"], "{f}");
    }
}

#[test]
fn generated_f16_variants_validate() {
    use wgpu_roofline::kernels::matmul::{source, SHADER};
    use wgpu_roofline::kernels::DType;
    let subgroup = subgroup_module();
    for (name, base) in [
        ("matmul.wgsl", SHADER),
        ("matmul + matmul_subgroup", subgroup.as_str()),
    ] {
        let f16 = source(base, DType::F16);
        assert!(f16.contains("alias T = f16;"), "{name}");
        validate(&format!("{name} (f16)"), &f16);
    }
    let f16 = source(wgpu_roofline::kernels::softmax::SHADER, DType::F16);
    validate("softmax.wgsl (f16)", &f16);
    // Fused attention at every head dimension the run may ask for.
    use wgpu_roofline::kernels::attention::module_source;
    for d in [4, 16, 64, 80, 128, 256] {
        for (dtype, subgroup) in [
            (DType::F32, false),
            (DType::F16, false),
            (DType::F32, true),
            (DType::F16, true),
        ] {
            let src = module_source(dtype, d, subgroup);
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
    assert_eq!(wgpu_roofline::kernels::stream::SHADER, read("stream.wgsl"));
    assert_eq!(
        wgpu_roofline::kernels::peak::SHADER_F32,
        read("peak_f32.wgsl")
    );
    assert_eq!(
        wgpu_roofline::kernels::peak::SHADER_F16,
        read("peak_f16.wgsl")
    );
    assert_eq!(wgpu_roofline::kernels::matmul::SHADER, read("matmul.wgsl"));
    assert_eq!(
        wgpu_roofline::kernels::softmax::SHADER,
        read("softmax.wgsl")
    );
    assert_eq!(
        wgpu_roofline::kernels::attention::SHADER,
        read("attention.wgsl")
    );
    assert_eq!(
        wgpu_roofline::kernels::attention::SHADER_SUBGROUP,
        read("attention_subgroup.wgsl")
    );
    assert_eq!(
        wgpu_roofline::kernels::matmul::SHADER_SUBGROUP,
        read("matmul_subgroup.wgsl")
    );
}
