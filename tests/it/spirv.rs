//! The path to a GPU's driver, checked without a GPU. The configurations a
//! GPU tries that the software adapters cannot run (subgroups of 32, 48 KiB
//! of workgroup memory, cooperative matrices) have their overrides resolved
//! as the host sets them and are written as SPIR-V by naga with the options
//! wgpu gives an NVIDIA GPU, and SPIRV-Tools' `spirv-val` checks that SPIR-V.
//!
//! naga validates its IR, not the SPIR-V it writes, and naga 30 writes
//! invalid SPIR-V for some valid WGSL (a value of an aliased array type
//! returned where the unaliased type is declared, wgpu#7240's kind). A
//! driver may reject such a module or miscompile it, and no software
//! adapter runs these configurations to say so.

use std::io::Write;
use std::process::Command;

use wgpu_roofline::dtype::{Format, Quant};
use wgpu_roofline::gpu::{Capabilities, CoopMatrixShape, TimestampTier};
use wgpu_roofline::kernels::{attention, matmul, peak_coop, DType};

use crate::common::in_ci;
use crate::shaders::validate;

/// An NVIDIA data-centre GPU as the suite opens it on Vulkan: subgroups of
/// 32, 48 KiB of workgroup memory, 16x16x16 f16 cooperative matrices.
fn gpu_caps() -> Capabilities {
    let shape = |acc: &str| CoopMatrixShape {
        m: 16,
        n: 16,
        k: 16,
        ab_type: "f16".into(),
        cr_type: acc.into(),
    };
    Capabilities {
        f16: true,
        subgroups: true,
        subgroup_sizes: (32, 32),
        timestamps: TimestampTier::InsidePasses,
        coop: vec![shape("f16"), shape("f32")],
        cpu: false,
        limits: wgpu::Limits {
            max_compute_workgroup_storage_size: 49152,
            max_compute_invocations_per_workgroup: 1024,
            max_compute_workgroup_size_x: 1024,
            ..wgpu::Limits::default()
        },
    }
}

/// SPIR-V written as wgpu writes it for an NVIDIA GPU, each module checked
/// by `spirv-val` where it is installed (under CI it must be).
struct Spirv {
    test: &'static str,
    /// Whether `spirv-val` runs here.
    checker: bool,
    /// Modules `spirv-val` passed.
    valid: usize,
    /// Modules declaring a capability this `spirv-val` predates (Debian
    /// 12's 2023.1 has no cooperative matrices): naga's checks alone.
    unknown: Vec<String>,
}

impl Spirv {
    fn new(test: &'static str) -> Self {
        let checker = Command::new("spirv-val")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !checker {
            let why = "no spirv-val on PATH (Debian: apt-get install spirv-tools)";
            assert!(!in_ci(), "{test}: {why}, and CI is set");
            eprintln!("\n*** {test}: {why}: SPIR-V written, not checked ***\n");
        }
        Spirv {
            test,
            checker,
            valid: 0,
            unknown: Vec::new(),
        }
    }

    /// `src` with `constants` resolved as the host sets them, written as
    /// SPIR-V as wgpu writes it for a Vulkan 1.3 NVIDIA driver (SPIR-V 1.6;
    /// the runner's default unchecked modules: no bounds checks, no loop
    /// bounding, workgroup memory not zeroed), then checked. Of `entry`
    /// alone where named, as wgpu does (naga cannot resolve a whole module
    /// whose workgroup sizes are override expressions: they become unnamed
    /// overrides).
    fn compile(
        &mut self,
        name: &str,
        src: &str,
        constants: &[(&str, f64)],
        entry: Option<&str>,
    ) -> Vec<u32> {
        let module = validate(name, src);
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap();
        let constants = constants.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let stage = entry.map(|e| (naga::ShaderStage::Compute, e));
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(&module, &info, stage, &constants)
                .unwrap_or_else(|e| panic!("{name} {constants:?}: {e:?}"));
        let options = naga::back::spv::Options {
            lang_version: (1, 6),
            force_loop_bounding: false,
            zero_initialize_workgroup_memory:
                naga::back::spv::ZeroInitializeWorkgroupMemoryMode::None,
            ..Default::default()
        };
        let pipeline = entry.map(|e| naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: e.to_string(),
        });
        let words = naga::back::spv::write_vec(&module, &info, &options, pipeline.as_ref())
            .unwrap_or_else(|e| panic!("{name} {constants:?}: {e:?}"));
        self.check(name, &words);
        words
    }

    /// `spirv-val` on `words` with Vulkan 1.3's rules. One rule is waived:
    /// naga decorates every array type with its stride, also arrays in
    /// workgroup and function memory, which newer validators refuse
    /// (VUID-StandaloneSpirv-None-10684) and drivers accept. Such a module
    /// is checked again under SPIR-V's universal rules alone.
    fn check(&mut self, name: &str, words: &[u32]) {
        if !self.checker {
            return;
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytemuck::cast_slice(words)).unwrap();
        let run = |env: &str| {
            let out = Command::new("spirv-val")
                .args(["--target-env", env])
                .arg(file.path())
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            (out.status.success(), said)
        };
        let (mut ok, mut said) = run("vulkan1.3");
        if !ok && said.contains("VUID-StandaloneSpirv-None-10684") {
            (ok, said) = run("spv1.6");
        }
        if ok {
            self.valid += 1;
        } else if said.contains("Invalid capability operand") {
            self.unknown.push(name.to_string());
        } else {
            panic!(
                "{}: {name}: spirv-val refuses naga's SPIR-V:\n{said}",
                self.test
            );
        }
    }

    /// Say what was checked.
    fn report(&self) {
        if !self.checker {
            return;
        }
        eprintln!("{}: spirv-val passed {} modules", self.test, self.valid);
        if let Some(first) = self.unknown.first() {
            eprintln!(
                "{}: {} modules (e.g. {first}) declare a capability this spirv-val \
                 predates; naga alone checked them",
                self.test,
                self.unknown.len()
            );
        }
    }
}

/// The cooperative kernels cannot run on the software adapters, so their
/// path to the driver is checked here: overrides resolved as the host sets
/// them, then SPIR-V.
#[test]
fn cooperative_shaders_compile_to_spirv() {
    let caps = gpu_caps();
    let mut spirv = Spirv::new("cooperative_shaders_compile_to_spirv");
    let formats = [
        Format::Float(DType::F16),
        Format::Quant(Quant::Q8_0),
        Format::Quant(Quant::Q4_0),
    ];
    for (acc, weights) in [DType::F32, DType::F16]
        .into_iter()
        .flat_map(|acc| formats.map(|w| (acc, w)))
    {
        let gemm = matmul::module_with(
            matmul::Family::Coop { accumulate: acc },
            DType::F16,
            weights,
        );
        // The tunings the tuner tries, with NVIDIA's subgroup size: a long
        // and a short prompt, and decode batches of 16 and 64 rows (the
        // skinny blocks, split over k).
        for m in [2048, 128, 16, 64] {
            let shape = matmul::ProductShape {
                batch: 1,
                m,
                n: 4096,
                k: 4096,
            };
            let tried: Vec<_> = matmul::MatmulConfig::candidates(shape, DType::F16, &caps)
                .into_iter()
                .filter(|c| matches!(c, matmul::MatmulConfig::Coop { .. }))
                .collect();
            assert!(tried.len() >= 3, "m = {m}: {tried:?}");
            if m <= 128 {
                assert!(tried.iter().any(|c| c.split() > 1), "m = {m}: {tried:?}");
            }
            for config in tried {
                let why = config.unsupported(&caps, DType::F16, (m, 4096, 4096));
                assert_eq!(why, None, "{config}");
                let c = config.constants((m, 4096), DType::F16, &caps);
                assert!(
                    !spirv.compile("matmul_coop", &gemm, &c, None).is_empty(),
                    "{config} {weights}"
                );
            }
        }
    }
    for acc in [DType::F32, DType::F16] {
        let peak = matmul::coop_source(peak_coop::SHADER, acc);
        for chains in [1, 4, 8] {
            let c = [("WG", 128.0), ("CHAINS", chains as f64)];
            assert!(!spirv.compile("peak_coop", &peak, &c, None).is_empty());
        }
    }
    spirv.report();
}

/// The attention configurations a GPU tries that the software adapters
/// cannot run (subgroups of 32, 48 KiB of workgroup memory: 16 lanes a key
/// and 4 keys a round, 32 keys a tile of the register-tiled prefill at d =
/// 128; the tensor-core prefill on cooperative matrices) take the same path
/// to the driver: every GPU candidate of Llama's
/// prefill at S = 512 and decode at L = 2048, in both dtypes, compiles to
/// SPIR-V with its constants.
#[test]
fn gpu_attention_configurations_compile_to_spirv() {
    let caps = gpu_caps();
    let mut spirv = Spirv::new("gpu_attention_configurations_compile_to_spirv");
    let mut seen = Vec::new();
    for dtype in [DType::F32, DType::F16] {
        for (batch, rows, keys, q_len) in [(1, 512, 512, 512), (32, 1, 2048, 1)] {
            let problem = attention::Problem {
                shape: attention::AttentionShape::new(batch, rows, keys, q_len, 128),
                dtype,
            };
            for config in problem.configs(&caps) {
                let p = problem
                    .layout(&caps, config)
                    .unwrap_or_else(|e| panic!("{config}: {e}"));
                for entry in &p.entries {
                    let name = format!("{config} {} {entry}", dtype.name());
                    assert!(!spirv
                        .compile(&name, &p.source, &p.constants, Some(entry))
                        .is_empty());
                }
                seen.push(config);
            }
        }
    }
    let listed = |want: fn(&attention::AttentionConfig) -> bool| seen.iter().any(want);
    assert!(listed(|c| matches!(
        c,
        attention::AttentionConfig::FlashDecodeSubgroup {
            lanes: 16,
            unroll: 4,
            ..
        }
    )));
    assert!(listed(|c| matches!(
        c,
        attention::AttentionConfig::FlashPrefillBlock { keys: 32, .. }
    )));
    assert!(listed(|c| matches!(
        c,
        attention::AttentionConfig::FlashPrefillCoop {
            blocks: 4,
            keys: 32
        }
    )));
    spirv.report();
}

/// The few-row products a GPU tries for Llama-7B's decode (`q` and `up`
/// at k = 4096, `down` at k = 11008; one, two and four rows; f32 and f16
/// activations, with weights of their type, q8_0 and q4_0) take the same
/// path to the driver with NVIDIA's subgroups of 32: every one compiles to
/// SPIR-V with its constants. The resident GEMV is listed
/// where its registers hold k: every shape at k = 4096, and at k = 11008
/// only with workgroups of 256 and 4 rows a block for one activation row.
#[test]
fn gpu_few_row_configurations_compile_to_spirv() {
    let caps = gpu_caps();
    let mut spirv = Spirv::new("gpu_few_row_configurations_compile_to_spirv");
    let mut resident = Vec::new();
    let formats = |dtype| {
        [
            Format::Float(dtype),
            Format::Quant(Quant::Q8_0),
            Format::Quant(Quant::Q4_0),
        ]
    };
    for (dtype, weights) in [DType::F32, DType::F16]
        .into_iter()
        .flat_map(|d| formats(d).map(|w| (d, w)))
    {
        let src = matmul::module_with(matmul::Family::Gemv { subgroups: true }, dtype, weights);
        for (n, k) in [(4096, 4096), (11008, 4096), (4096, 11008)] {
            for m in [1, 2, 4] {
                let shape = matmul::ProductShape { batch: 1, m, n, k };
                for config in matmul::MatmulConfig::candidates(shape, dtype, &caps) {
                    if !matches!(config.family(), matmul::Family::Gemv { .. }) {
                        continue;
                    }
                    assert_eq!(
                        config.unsupported(&caps, dtype, (m, n, k)),
                        None,
                        "{config}"
                    );
                    let c = config.constants((m, k), dtype, &caps);
                    let name = format!("{config} {} {weights} {m}x{n}x{k}", dtype.name());
                    assert!(!spirv
                        .compile(&name, &src, &c, Some(config.entry()))
                        .is_empty());
                    if let matmul::MatmulConfig::Resident { rows, wg, .. } = config {
                        resident.push((k, m, rows, wg));
                    }
                }
            }
        }
    }
    let at = |k, m| -> Vec<_> {
        let mut v: Vec<_> = resident
            .iter()
            .filter(|r| r.0 == k && r.1 == m)
            .map(|r| (r.2, r.3))
            .collect();
        v.dedup();
        v
    };
    // k = 4096: 4 octets a lane in 128, 2 in 256; two rows fit 128, four
    // only 256.
    assert!(at(4096, 1).contains(&(4, 128)) && at(4096, 1).contains(&(8, 256)));
    assert!(at(4096, 2).contains(&(4, 128)));
    assert!(!at(4096, 4).contains(&(4, 128)) && at(4096, 4).contains(&(4, 256)));
    // k = 11008: 6 octets a lane in 256 (11 in 128); 8 rows would have 48
    // octets in flight, two activation rows 12 held.
    assert!(!at(11008, 1).is_empty());
    assert!(at(11008, 1).iter().all(|&c| c == (4, 256)));
    assert!(at(11008, 2).is_empty());
    spirv.report();
}
