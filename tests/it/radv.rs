//! The GPU-only configurations built by a GPU's compiler, without a GPU.
//! Mesa's RADV (AMD) opens a "null" device when `RADV_FORCE_FAMILY` names a
//! chip, and builds pipelines for it with its ACO compiler, cooperative
//! matrices included on RDNA3. It cannot run them (it has no fences, so
//! wgpu cannot open it either), so the pipelines are built through Vulkan
//! itself, from the SPIR-V naga writes as wgpu would (`spirv.rs`).
//!
//! The null device is listed only where the variable is set when Vulkan
//! starts, and every GPU test would then see it as one more adapter, so
//! the test runs itself again in a child process with the variable set.

use std::ffi::{CStr, CString};
use std::process::Command;

use ash::vk;
use wgpu_roofline::gpu::{self, AdapterSummary, BackendChoice, Capabilities};

use crate::common::skip;
use crate::spirv::{
    attention_pipelines, coop_gemm_pipelines, few_row_pipelines, gpu_caps, roof_pipelines,
    simt_gemm_pipelines, softmax_pipelines, Pipeline,
};

/// The chip RADV compiles for: Navi 31 (RDNA3, the RX 7900 series), which
/// has 16x16x16 f16 cooperative matrices and subgroups of 32 and 64.
const FAMILY: &str = "navi31";

/// Set in the child process that builds the pipelines.
const CHILD: &str = "ROOFLINE_RADV_CHILD";

/// A pipeline's register use as the compiler reports it
/// (`VK_KHR_pipeline_executable_properties`).
#[derive(Debug, Default)]
struct Stats {
    subgroup: u32,
    vgprs: u64,
    spilled: u64,
    scratch: u64,
}

/// A Vulkan device on RADV's null hardware.
struct NullDevice {
    instance: ash::Instance,
    device: ash::Device,
    /// Present where the driver reports its compiler's statistics.
    stats: Option<ash::khr::pipeline_executable_properties::Device>,
    /// The loaded Vulkan library: the functions above point into it, so it
    /// is dropped last.
    _entry: ash::Entry,
}

impl NullDevice {
    /// The null device with every feature it offers enabled, or why not.
    fn open() -> Result<Self, String> {
        // SAFETY: plain Vulkan calls on objects created here, in order.
        unsafe {
            let entry = ash::Entry::load().map_err(|e| format!("no Vulkan loader: {e}"))?;
            let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
            let instance = entry
                .create_instance(
                    &vk::InstanceCreateInfo::default().application_info(&app),
                    None,
                )
                .map_err(|e| format!("vkCreateInstance: {e}"))?;
            let found = instance
                .enumerate_physical_devices()
                .unwrap_or_default()
                .into_iter()
                .find(|&pd| {
                    let props = instance.get_physical_device_properties(pd);
                    let name = CStr::from_ptr(props.device_name.as_ptr()).to_string_lossy();
                    name.contains("RADV")
                });
            let Some(pd) = found else {
                instance.destroy_instance(None);
                return Err(format!(
                    "no RADV null device for {FAMILY} (Mesa's Vulkan drivers, as .ci/install-drivers.sh installs them)"
                ));
            };
            let offered: Vec<CString> = instance
                .enumerate_device_extension_properties(pd)
                .unwrap_or_default()
                .iter()
                .map(|e| CStr::from_ptr(e.extension_name.as_ptr()).to_owned())
                .collect();
            let has = |name: &CStr| offered.iter().any(|e| e.as_c_str() == name);
            let wanted = [
                ash::khr::cooperative_matrix::NAME,
                ash::khr::pipeline_executable_properties::NAME,
            ];
            let extensions: Vec<_> = wanted
                .iter()
                .filter(|n| has(n))
                .map(|n| n.as_ptr())
                .collect();
            let mut v11 = vk::PhysicalDeviceVulkan11Features::default();
            let mut v12 = vk::PhysicalDeviceVulkan12Features::default();
            let mut v13 = vk::PhysicalDeviceVulkan13Features::default();
            let mut coop = vk::PhysicalDeviceCooperativeMatrixFeaturesKHR::default();
            let mut exec = vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default();
            let mut all = vk::PhysicalDeviceFeatures2::default()
                .push_next(&mut v11)
                .push_next(&mut v12)
                .push_next(&mut v13);
            if has(ash::khr::cooperative_matrix::NAME) {
                all = all.push_next(&mut coop);
            }
            if has(ash::khr::pipeline_executable_properties::NAME) {
                all = all.push_next(&mut exec);
            }
            instance.get_physical_device_features2(pd, &mut all);
            // The queried chain, handed back as the features to enable.
            let priorities = [1.0];
            let queues = [vk::DeviceQueueCreateInfo::default()
                .queue_family_index(0)
                .queue_priorities(&priorities)];
            let info = vk::DeviceCreateInfo::default()
                .queue_create_infos(&queues)
                .enabled_extension_names(&extensions)
                .push_next(&mut all);
            let device = instance
                .create_device(pd, &info, None)
                .map_err(|e| format!("vkCreateDevice: {e}"))?;
            let stats = (exec.pipeline_executable_info == vk::TRUE)
                .then(|| ash::khr::pipeline_executable_properties::Device::new(&instance, &device));
            Ok(Self {
                instance,
                device,
                stats,
                _entry: entry,
            })
        }
    }

    /// Build `p` as wgpu would (varying subgroup sizes allowed), or with
    /// subgroups of `subgroup` lanes where given, and read back its
    /// register use.
    fn build(&self, p: &Pipeline, subgroup: Option<u32>) -> Result<Stats, String> {
        let (module, words) = p.spirv();
        let bindings: Vec<_> = module
            .global_variables
            .iter()
            .filter_map(|(_, g)| {
                let b = g.binding.as_ref()?;
                let ty = match g.space {
                    naga::AddressSpace::Uniform => vk::DescriptorType::UNIFORM_BUFFER,
                    _ => vk::DescriptorType::STORAGE_BUFFER,
                };
                Some(
                    vk::DescriptorSetLayoutBinding::default()
                        .binding(b.binding)
                        .descriptor_type(ty)
                        .descriptor_count(1)
                        .stage_flags(vk::ShaderStageFlags::COMPUTE),
                )
            })
            .collect();
        let d = &self.device;
        // SAFETY: every object is created from valid create infos here and
        // destroyed before returning; nothing is submitted.
        unsafe {
            let shader = d
                .create_shader_module(&vk::ShaderModuleCreateInfo::default().code(&words), None)
                .map_err(|e| format!("vkCreateShaderModule: {e}"))?;
            let set = d
                .create_descriptor_set_layout(
                    &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
                    None,
                )
                .unwrap();
            let sets = [set];
            let layout = d
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default().set_layouts(&sets),
                    None,
                )
                .unwrap();
            let entry = CString::new(p.entry).unwrap();
            let mut required = vk::PipelineShaderStageRequiredSubgroupSizeCreateInfo::default()
                .required_subgroup_size(subgroup.unwrap_or(0));
            let mut stage = vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::COMPUTE)
                .module(shader)
                .name(&entry);
            stage = match subgroup {
                Some(_) => stage.push_next(&mut required),
                None => {
                    stage.flags(vk::PipelineShaderStageCreateFlags::ALLOW_VARYING_SUBGROUP_SIZE)
                }
            };
            let flags = match self.stats {
                Some(_) => vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR,
                None => vk::PipelineCreateFlags::empty(),
            };
            let info = [vk::ComputePipelineCreateInfo::default()
                .stage(stage)
                .layout(layout)
                .flags(flags)];
            let built = d.create_compute_pipelines(vk::PipelineCache::null(), &info, None);
            let result = match built {
                Ok(pipelines) => {
                    let stats = self.stats(pipelines[0]);
                    d.destroy_pipeline(pipelines[0], None);
                    Ok(stats)
                }
                Err((_, e)) => Err(format!("vkCreateComputePipelines: {e}")),
            };
            d.destroy_pipeline_layout(layout, None);
            d.destroy_descriptor_set_layout(set, None);
            d.destroy_shader_module(shader, None);
            result
        }
    }

    /// What the compiler reports of `pipeline`'s one executable.
    ///
    /// # Safety
    /// `pipeline` was built on this device with statistics captured.
    unsafe fn stats(&self, pipeline: vk::Pipeline) -> Stats {
        let Some(ext) = &self.stats else {
            return Stats::default();
        };
        let info = vk::PipelineInfoKHR::default().pipeline(pipeline);
        let Ok(executables) = ext.get_pipeline_executable_properties(&info) else {
            return Stats::default();
        };
        let mut out = Stats {
            subgroup: executables.first().map_or(0, |e| e.subgroup_size),
            ..Stats::default()
        };
        let which = vk::PipelineExecutableInfoKHR::default().pipeline(pipeline);
        for s in ext
            .get_pipeline_executable_statistics(&which)
            .unwrap_or_default()
        {
            let name = CStr::from_ptr(s.name.as_ptr()).to_string_lossy();
            let value = match s.format {
                vk::PipelineExecutableStatisticFormatKHR::UINT64 => s.value.u64,
                vk::PipelineExecutableStatisticFormatKHR::INT64 => s.value.i64.max(0) as u64,
                _ => continue,
            };
            match name.as_ref() {
                "VGPRs" => out.vgprs = value,
                "Spilled VGPRs" | "Spilled SGPRs" => out.spilled += value,
                "Scratch size" => out.scratch = value,
                _ => {}
            }
        }
        out
    }
}

impl Drop for NullDevice {
    fn drop(&mut self) {
        // SAFETY: the device's objects are all destroyed by `build`.
        unsafe {
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}

/// The capabilities the suite lists configurations by on the null device:
/// those of the wgpu adapter it is (wgpu lists it, though it cannot open it).
fn radv_caps() -> Option<Capabilities> {
    let adapters = gpu::enumerate(BackendChoice::Vulkan);
    let (index, adapter) = adapters
        .iter()
        .enumerate()
        .find(|(_, a)| a.get_info().name.contains("RADV"))?;
    let summary = AdapterSummary::of(index, adapter);
    let features = adapter.features() & gpu::wanted_features();
    Some(Capabilities::new(&summary, features, adapter.limits()))
}

/// Every pipeline of the GEMMs (cooperative and SIMT), the roofs,
/// attention, the softmax and the few-row products that `caps` lists.
fn pipelines(caps: &Capabilities) -> Vec<Pipeline> {
    let mut out: Vec<Pipeline> = coop_gemm_pipelines(caps).into_iter().map(|l| l.2).collect();
    out.extend(simt_gemm_pipelines(caps));
    out.extend(roof_pipelines(caps));
    out.extend(attention_pipelines(caps).into_iter().map(|l| l.1));
    out.extend(softmax_pipelines(caps).into_iter().map(|l| l.1));
    out.extend(few_row_pipelines(caps).into_iter().map(|l| l.2));
    out
}

/// Build every pipeline of `list`, failing on any the compiler refuses,
/// say what they use, and return those that use scratch memory (spilled
/// registers, or private arrays the compiler could not keep in registers:
/// memory traffic a kernel was not written to make).
fn build_all<'a>(
    device: &NullDevice,
    what: &str,
    list: &'a [Pipeline],
    subgroup: Option<u32>,
) -> Vec<&'a Pipeline> {
    let mut refused = Vec::new();
    let mut built = Vec::new();
    for p in list {
        match device.build(p, subgroup) {
            Ok(stats) => built.push((p, stats)),
            Err(e) => refused.push(format!("{} {}: {e}", p.name, p.entry)),
        }
    }
    assert!(
        refused.is_empty(),
        "{what}: RADV refused {} of {} pipelines:\n{}",
        refused.len(),
        list.len(),
        refused.join("\n")
    );
    let coop = list.iter().filter(|p| cooperative(p)).count();
    eprintln!(
        "{what}: RADV ({FAMILY}) built all {} pipelines, {coop} on cooperative matrices",
        list.len()
    );
    if let Some((p, s)) = built.iter().max_by_key(|(_, s)| s.vgprs) {
        eprintln!(
            "  most VGPRs: {} at {} lanes ({} {})",
            s.vgprs, s.subgroup, p.name, p.entry
        );
    }
    let scratch: Vec<_> = built
        .iter()
        .filter(|(_, s)| s.scratch > 0 || s.spilled > 0)
        .collect();
    eprintln!("  {} use scratch memory", scratch.len());
    for (p, s) in scratch.iter().take(8) {
        eprintln!(
            "    {} {}: {} VGPRs, {} spilled, scratch {}",
            p.name, p.entry, s.vgprs, s.spilled, s.scratch
        );
    }
    scratch.into_iter().map(|(p, _)| *p).collect()
}

/// Whether `p` runs on cooperative matrices.
fn cooperative(p: &Pipeline) -> bool {
    p.source.contains("wgpu_cooperative_matrix")
}

/// Every configuration the suite lists for an RDNA3 GPU (subgroups of 32
/// to 64, 64 KiB of workgroup memory, cooperative matrices) and for an
/// NVIDIA one (subgroups of 32, 48 KiB) is built by a GPU's compiler,
/// the tensor-core GEMM and prefill attention included. The NVIDIA ones
/// are built with subgroups of 32, as NVIDIA runs them. None uses scratch
/// memory, but for the cooperative kernels at 32 lanes (RDNA3's fragment
/// layout, not NVIDIA's).
#[test]
fn gpu_configurations_build_on_radv() {
    const TEST: &str = "gpu_configurations_build_on_radv";
    if std::env::var_os(CHILD).is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "radv::gpu_configurations_build_on_radv"])
            .args(["--nocapture", "--test-threads=1"])
            .env("RADV_FORCE_FAMILY", FAMILY)
            .env(CHILD, "1")
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{TEST}: the child failed ({}):\n{said}",
            out.status
        );
        assert!(
            said.contains("1 passed"),
            "{TEST}: the child ran nothing:\n{said}"
        );
        return;
    }
    let (device, caps) = match (NullDevice::open(), radv_caps()) {
        (Ok(d), Some(c)) => (d, c),
        (Err(why), _) => return skip(TEST, &why),
        (_, None) => return skip(TEST, "wgpu lists no RADV adapter"),
    };
    assert!(!caps.coop.is_empty(), "{FAMILY} has cooperative matrices");
    let names = |list: &[&Pipeline]| -> Vec<String> {
        list.iter()
            .map(|p| format!("{} {}", p.name, p.entry))
            .collect()
    };
    let rdna = pipelines(&caps);
    let scratch = build_all(&device, "RDNA3", &rdna, None);
    let nvidia = pipelines(&gpu_caps());
    let nvidia_scratch = build_all(&device, "NVIDIA's", &nvidia, Some(32));
    if device.stats.is_none() {
        return eprintln!("{TEST}: the driver reports no statistics: scratch unchecked");
    }
    // At the subgroup size RADV picks, nothing uses scratch memory.
    assert!(scratch.is_empty(), "{TEST}: {:#?}", names(&scratch));
    // At 32 lanes RDNA3 holds a 16x16 f16 fragment in twice the registers
    // NVIDIA's layout does, so its cooperative kernels may spill there;
    // the others must not.
    let simt: Vec<_> = nvidia_scratch
        .into_iter()
        .filter(|p| !cooperative(p))
        .collect();
    assert!(simt.is_empty(), "{TEST}: {:#?}", names(&simt));
}
