//! The path to a GPU's driver, checked without a GPU. The configurations a
//! GPU tries that the software adapters cannot run (subgroups of 32, 48 KiB
//! of workgroup memory, cooperative matrices) have their overrides resolved
//! as the host sets them and are written as SPIR-V by naga with the options
//! wgpu gives a Vulkan 1.3 driver, and SPIRV-Tools' `spirv-val` checks that
//! SPIR-V (`radv.rs` also has a GPU compiler build it).
//!
//! naga validates its IR, not the SPIR-V it writes, and naga 30 writes
//! invalid SPIR-V for some valid WGSL (a value of an aliased array type
//! returned where the unaliased type is declared, wgpu#7240's kind). A
//! driver may reject such a module or miscompile it, and no software
//! adapter runs these configurations to say so.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use wgpu_roofline::dtype::{Format, Quant};
use wgpu_roofline::gpu::{Capabilities, CoopMatrixShape, TimestampTier};
use wgpu_roofline::kernels::{self, attention, matmul, peak, peak_coop, softmax, stream, DType};
use wgpu_roofline::settings::RoofsConfig;

use crate::common::in_ci;
use crate::shaders::validate;

/// An NVIDIA data-centre GPU as the suite opens it on Vulkan: subgroups of
/// 32, 48 KiB of workgroup memory, 16x16x16 f16 cooperative matrices.
pub(crate) fn gpu_caps() -> Capabilities {
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

/// One pipeline as the host would build it: a module, the entry point and
/// the override constants.
pub(crate) struct Pipeline {
    /// The configuration and problem, for messages.
    pub name: String,
    pub source: String,
    pub entry: &'static str,
    pub constants: Vec<(&'static str, f64)>,
}

/// `source` parsed and validated by naga (errors named after `name`, the
/// first pipeline built from it), once per source: the tests
/// build thousands of pipelines from a few dozen modules, and parsing is
/// most of the work in a debug build.
fn parsed(name: &str, source: &str) -> Arc<(naga::Module, naga::valid::ModuleInfo)> {
    static PARSED: Mutex<BTreeMap<String, Arc<(naga::Module, naga::valid::ModuleInfo)>>> =
        Mutex::new(BTreeMap::new());
    if let Some(p) = PARSED.lock().unwrap().get(source) {
        return p.clone();
    }
    let module = validate(name, source);
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap();
    let p = Arc::new((module, info));
    PARSED.lock().unwrap().insert(source.to_string(), p.clone());
    p
}

impl Pipeline {
    /// The module with this pipeline's overrides resolved for its entry
    /// point alone, as wgpu does (naga cannot resolve a whole module whose
    /// workgroup sizes are override expressions: they become unnamed
    /// overrides), and that module as SPIR-V as wgpu writes it for a
    /// Vulkan 1.3 driver: SPIR-V 1.6, the runner's unchecked modules (no
    /// bounds checks, no loop bounding), workgroup memory not zeroed.
    pub fn spirv(&self) -> (naga::Module, Vec<u32>) {
        let name = &self.name;
        let parsed = parsed(name, &self.source);
        let (module, info) = &*parsed;
        let constants = self
            .constants
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let stage = Some((naga::ShaderStage::Compute, self.entry));
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(module, info, stage, &constants)
                .unwrap_or_else(|e| panic!("{name} {constants:?}: {e:?}"));
        let options = naga::back::spv::Options {
            lang_version: (1, 6),
            force_loop_bounding: false,
            zero_initialize_workgroup_memory:
                naga::back::spv::ZeroInitializeWorkgroupMemoryMode::None,
            ..Default::default()
        };
        let pipeline = naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: self.entry.to_string(),
        };
        let words = naga::back::spv::write_vec(&module, &info, &options, Some(&pipeline))
            .unwrap_or_else(|e| panic!("{name} {constants:?}: {e:?}"));
        assert!(!words.is_empty(), "{name}");
        (module.into_owned(), words)
    }
}

/// The pipelines the host builds for `config`, listed as runnable on
/// `caps` for `shape` with activations of `dtype`, from `source`: one per
/// entry point it dispatches, with its constants.
fn product_pipelines(
    config: matmul::MatmulConfig,
    shape: matmul::ProductShape,
    dtype: DType,
    source: &str,
    name: String,
    caps: &Capabilities,
) -> Vec<Pipeline> {
    let (m, k) = (shape.m, shape.k);
    let why = config.unsupported(caps, dtype, (m, shape.n, k));
    assert_eq!(why, None, "{config}");
    let constants = config.constants((m, k), dtype, caps);
    config
        .entries()
        .into_iter()
        .map(|entry| Pipeline {
            name: name.clone(),
            source: source.to_string(),
            entry,
            constants: constants.clone(),
        })
        .collect()
}

/// The cooperative GEMM's pipelines the tuner lists on `caps`, with the
/// rows each was listed for: a long and a short prompt, and decode batches
/// of 16 and 64 rows (the skinny blocks, split over k), with f16 and
/// quantized weights and both accumulators.
pub(crate) fn coop_gemm_pipelines(
    caps: &Capabilities,
) -> Vec<(u64, matmul::MatmulConfig, Pipeline)> {
    let formats = [
        Format::Float(DType::F16),
        Format::Quant(Quant::Q8_0),
        Format::Quant(Quant::Q4_0),
    ];
    let mut out = Vec::new();
    for (acc, weights) in [DType::F32, DType::F16]
        .into_iter()
        .flat_map(|acc| formats.map(|w| (acc, w)))
    {
        let family = matmul::Family::Coop { accumulate: acc };
        let gemm = matmul::module_with(family, DType::F16, weights);
        for m in [2048, 128, 16, 64] {
            let shape = matmul::ProductShape {
                batch: 1,
                m,
                n: 4096,
                k: 4096,
            };
            for mut config in matmul::MatmulConfig::candidates(shape, DType::F16, caps) {
                // Each listed tiling with both accumulators: a GPU whose
                // fragments accumulate only in f16 is listed the same
                // tilings with f16.
                match &mut config {
                    matmul::MatmulConfig::Coop { accumulate, .. } => *accumulate = acc,
                    _ => continue,
                }
                let name = format!("{config} {weights} m = {m}");
                for p in product_pipelines(config, shape, DType::F16, &gemm, name, caps) {
                    out.push((m, config, p));
                }
            }
        }
    }
    out
}

/// The SIMT GEMMs' pipelines `caps` lists (the block, row and classic
/// kernels: neither cooperative nor few-row): a long and a short prompt
/// and a decode batch of 16, with f32 and f16 activations and weights of
/// their type, q8_0 and q4_0 (for the kernels that take any weights).
pub(crate) fn simt_gemm_pipelines(caps: &Capabilities) -> Vec<Pipeline> {
    let mut out = Vec::new();
    for (dtype, weights) in [
        (DType::F32, Format::Float(DType::F32)),
        (DType::F32, Format::Quant(Quant::Q8_0)),
        (DType::F16, Format::Float(DType::F16)),
        (DType::F16, Format::Quant(Quant::Q4_0)),
    ] {
        for m in [2048, 128, 16] {
            let shape = matmul::ProductShape {
                batch: 1,
                m,
                n: 4096,
                k: 4096,
            };
            for config in matmul::MatmulConfig::candidates(shape, dtype, caps) {
                let family = config.family();
                let simt = match family {
                    matmul::Family::Coop { .. } | matmul::Family::Gemv { .. } => false,
                    matmul::Family::Block
                    | matmul::Family::Rows { .. }
                    | matmul::Family::Classic
                    | matmul::Family::ClassicSubgroup => true,
                };
                if !simt || (matches!(weights, Format::Quant(_)) && !family.any_weights()) {
                    continue;
                }
                let source = matmul::module_with(family, dtype, weights);
                let name = format!("{config} {} {weights} m = {m}", dtype.name());
                out.extend(product_pipelines(config, shape, dtype, &source, name, caps));
            }
        }
    }
    out
}

/// The roofs' pipelines as the host builds them for `caps` by default:
/// every stream op, the SIMT peak in each dtype `caps` supports and the
/// cooperative peak with each accumulator, where it runs there, at every
/// default chain count.
pub(crate) fn roof_pipelines(caps: &Capabilities) -> Vec<Pipeline> {
    let roofs = RoofsConfig::for_device(caps);
    let mut out: Vec<_> = stream::StreamOp::ALL
        .iter()
        .map(|op| Pipeline {
            name: format!("stream {}", op.name()),
            source: stream::SHADER.to_string(),
            entry: op.name(),
            constants: roofs.stream.constants(),
        })
        .collect();
    for params in &roofs.peaks {
        let source = kernels::source(peak::SHADER, params.dtype);
        for &chains in &roofs.peak_chains {
            let config = peak::PeakConfig {
                chains,
                iterations: peak::BASE_ITERATIONS,
            };
            out.push(Pipeline {
                name: format!("peak {} chains {chains}", params.dtype.name()),
                source: source.clone(),
                entry: "peak",
                constants: params.constants(config),
            });
        }
    }
    for params in roofs
        .coop_peaks
        .iter()
        .filter(|p| p.unsupported(caps).is_none())
    {
        let acc = params.accumulate;
        let source = matmul::coop_source(peak_coop::SHADER, acc);
        for &chains in &roofs.coop_chains {
            let config = peak_coop::CoopPeakConfig {
                chains,
                iterations: peak::BASE_ITERATIONS,
            };
            out.push(Pipeline {
                name: format!("peak_coop {} chains {chains}", acc.name()),
                source: source.clone(),
                entry: "peak_coop",
                constants: params.constants(caps, config),
            });
        }
    }
    out
}

/// Every softmax configuration `caps` lists for rows of 2048 keys, in both
/// dtypes.
pub(crate) fn softmax_pipelines(caps: &Capabilities) -> Vec<(softmax::SoftmaxConfig, Pipeline)> {
    let keys = 2048;
    let mut out = Vec::new();
    for dtype in [DType::F32, DType::F16] {
        for config in softmax::SoftmaxConfig::candidates(caps, keys) {
            let (source, constants) = softmax::pipeline_source(config, dtype, keys, caps)
                .unwrap_or_else(|e| panic!("{config}: {e}"));
            let p = Pipeline {
                name: format!("{config} {}", dtype.name()),
                source,
                entry: config.entry(),
                constants,
            };
            out.push((config, p));
        }
    }
    out
}

/// Every attention pipeline `caps` lists at d = 128: Llama's prefill at
/// S = 512 and decode of 32 sequences at L = 2048, in both dtypes, entry
/// point by entry point.
pub(crate) fn attention_pipelines(
    caps: &Capabilities,
) -> Vec<(attention::AttentionConfig, Pipeline)> {
    let mut out = Vec::new();
    for dtype in [DType::F32, DType::F16] {
        for (batch, rows, keys, q_len) in [(1, 512, 512, 512), (32, 1, 2048, 1)] {
            let problem = attention::Problem {
                shape: attention::AttentionShape::new(batch, rows, keys, q_len, 128),
                dtype,
            };
            for config in problem.configs(caps) {
                let layout = problem
                    .layout(caps, config)
                    .unwrap_or_else(|e| panic!("{config}: {e}"));
                for &entry in &layout.entries {
                    let p = Pipeline {
                        name: format!("{config} {} L = {keys}", dtype.name()),
                        source: layout.source.clone(),
                        entry,
                        constants: layout.constants.clone(),
                    };
                    out.push((config, p));
                }
            }
        }
    }
    out
}

/// Every few-row product `caps` lists for Llama-7B's decode (`q` and `up`
/// at k = 4096, `down` at k = 11008; one, two and four rows; f32 and f16
/// activations, with weights of their type, q8_0 and q4_0), with subgroups.
pub(crate) fn few_row_pipelines(
    caps: &Capabilities,
) -> Vec<(matmul::ProductShape, matmul::MatmulConfig, Pipeline)> {
    let formats = |dtype| {
        [
            Format::Float(dtype),
            Format::Quant(Quant::Q8_0),
            Format::Quant(Quant::Q4_0),
        ]
    };
    let mut out = Vec::new();
    for (dtype, weights) in [DType::F32, DType::F16]
        .into_iter()
        .flat_map(|d| formats(d).map(|w| (d, w)))
    {
        let source = matmul::module_with(matmul::Family::Gemv { subgroups: true }, dtype, weights);
        for (n, k) in [(4096, 4096), (11008, 4096), (4096, 11008)] {
            for m in [1, 2, 4] {
                let shape = matmul::ProductShape { batch: 1, m, n, k };
                for config in matmul::MatmulConfig::candidates(shape, dtype, caps) {
                    if !matches!(config.family(), matmul::Family::Gemv { .. }) {
                        continue;
                    }
                    let name = format!("{config} {} {weights} {m}x{n}x{k}", dtype.name());
                    for p in product_pipelines(config, shape, dtype, &source, name, caps) {
                        out.push((shape, config, p));
                    }
                }
            }
        }
    }
    out
}

/// `spirv-val` where it is installed (under CI it must be), and what it
/// made of the modules it was given.
struct SpirvVal {
    test: &'static str,
    /// Whether `spirv-val` runs here.
    found: bool,
    /// Modules `spirv-val` passed.
    valid: usize,
    /// Modules declaring a capability this `spirv-val` predates (Debian
    /// 12's 2023.1 has no cooperative matrices): naga's checks alone.
    unknown: Vec<String>,
}

impl SpirvVal {
    fn new(test: &'static str) -> Self {
        let found = Command::new("spirv-val")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            let why = "no spirv-val on PATH (Debian: apt-get install spirv-tools)";
            assert!(!in_ci(), "{test}: {why}, and CI is set");
            eprintln!("\n*** {test}: {why}: SPIR-V written, not checked ***\n");
        }
        SpirvVal {
            test,
            found,
            valid: 0,
            unknown: Vec::new(),
        }
    }

    /// Write `p` as SPIR-V and check it with Vulkan 1.3's rules. One rule
    /// is waived: naga decorates every array type with its stride, also
    /// arrays in workgroup and function memory, which newer validators
    /// refuse (VUID-StandaloneSpirv-None-10684) and drivers accept. Such a
    /// module is checked again under SPIR-V's universal rules alone.
    fn check(&mut self, p: &Pipeline) {
        let (_, words) = p.spirv();
        if !self.found {
            return;
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytemuck::cast_slice(&words)).unwrap();
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
            self.unknown.push(format!("{} {}", p.name, p.entry));
        } else {
            panic!(
                "{}: {} {}: spirv-val refuses naga's SPIR-V:\n{said}",
                self.test, p.name, p.entry
            );
        }
    }

    /// Say what was checked.
    fn report(&self) {
        if !self.found {
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
/// path to the driver is checked here: every configuration the tuner lists
/// on an NVIDIA GPU, with its overrides, as SPIR-V.
#[test]
fn cooperative_shaders_compile_to_spirv() {
    let mut val = SpirvVal::new("cooperative_shaders_compile_to_spirv");
    let listed = coop_gemm_pipelines(&gpu_caps());
    for m in [2048, 128, 16, 64] {
        let tried: Vec<_> = listed.iter().filter(|l| l.0 == m).map(|l| l.1).collect();
        assert!(tried.len() >= 3, "m = {m}: {tried:?}");
        if m <= 128 {
            assert!(tried.iter().any(|c| c.split() > 1), "m = {m}: {tried:?}");
        }
    }
    for (_, _, p) in &listed {
        val.check(p);
    }
    val.report();
}

/// The SIMT GEMMs a GPU tries (blocks of up to 128 x 128 outputs, split
/// over k for short products) take the same path to the driver.
#[test]
fn gpu_gemm_configurations_compile_to_spirv() {
    let mut val = SpirvVal::new("gpu_gemm_configurations_compile_to_spirv");
    let listed = simt_gemm_pipelines(&gpu_caps());
    assert!(listed.iter().any(|p| p.name.starts_with("block 128x128")));
    for p in &listed {
        val.check(p);
    }
    val.report();
}

/// The attention configurations a GPU tries that the software adapters
/// cannot run (subgroups of 32, 48 KiB of workgroup memory: 16 lanes a key
/// and 4 keys a round, 32 keys a tile of the register-tiled prefill at d =
/// 128; the tensor-core prefill on cooperative matrices) take the same path
/// to the driver.
#[test]
fn gpu_attention_configurations_compile_to_spirv() {
    let mut val = SpirvVal::new("gpu_attention_configurations_compile_to_spirv");
    let listed = attention_pipelines(&gpu_caps());
    for (_, p) in &listed {
        val.check(p);
    }
    let seen = |want: fn(&attention::AttentionConfig) -> bool| listed.iter().any(|l| want(&l.0));
    assert!(seen(|c| matches!(
        c,
        attention::AttentionConfig::FlashDecodeSubgroup {
            lanes: 16,
            unroll: 4,
            ..
        }
    )));
    assert!(seen(|c| matches!(
        c,
        attention::AttentionConfig::FlashPrefillBlock { keys: 32, .. }
    )));
    assert!(seen(|c| matches!(
        c,
        attention::AttentionConfig::FlashPrefillCoop {
            blocks: 4,
            keys: 32
        }
    )));
    val.report();
}

/// The few-row products a GPU tries for Llama-7B's decode take the same
/// path to the driver with NVIDIA's subgroups of 32. The resident GEMV is
/// listed where its registers hold k: every shape at k = 4096, and at k =
/// 11008 only with workgroups of 256 and 4 rows a block for one activation
/// row.
#[test]
fn gpu_few_row_configurations_compile_to_spirv() {
    let mut val = SpirvVal::new("gpu_few_row_configurations_compile_to_spirv");
    let listed = few_row_pipelines(&gpu_caps());
    for (_, _, p) in &listed {
        val.check(p);
    }
    let at = |k, m| -> Vec<_> {
        let mut v: Vec<_> = listed
            .iter()
            .filter_map(|(s, c, _)| match *c {
                matmul::MatmulConfig::Resident { rows, wg, .. } if s.k == k && s.m == m => {
                    Some((rows, wg))
                }
                _ => None,
            })
            .collect();
        v.sort();
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
    val.report();
}

/// The roofs (stream, SIMT peak, cooperative peak) and the softmax a GPU
/// runs take the same path to the driver: workgroups of 256 for the peaks
/// and streams, the cooperative peak in workgroups of 4 subgroups of 32,
/// and the subgroup-per-row softmax at 32 lanes, which the software
/// adapters never list.
#[test]
fn gpu_roof_and_softmax_configurations_compile_to_spirv() {
    let mut val = SpirvVal::new("gpu_roof_and_softmax_configurations_compile_to_spirv");
    let caps = gpu_caps();
    let roofs = roof_pipelines(&caps);
    let has = |prefix: &str| roofs.iter().filter(|p| p.name.starts_with(prefix)).count();
    assert_eq!(has("stream "), stream::StreamOp::ALL.len());
    assert_eq!(has("peak f32 "), peak::DEFAULT_CHAINS.len());
    assert_eq!(has("peak f16 "), peak::DEFAULT_CHAINS.len());
    assert_eq!(has("peak_coop "), 2 * peak_coop::DEFAULT_CHAINS.len());
    assert!(roofs
        .iter()
        .filter(|p| p.entry == "peak_coop")
        .all(|p| p.constants.contains(&("WG", 128.0))));
    let softmax = softmax_pipelines(&caps);
    assert!(softmax.iter().any(|(c, p)| matches!(
        c,
        softmax::SoftmaxConfig::SoftmaxSubgroup { wg: 256 }
    ) && p.constants.contains(&("RB", 8.0))));
    for p in roofs.iter().chain(softmax.iter().map(|l| &l.1)) {
        val.check(p);
    }
    val.report();
}
