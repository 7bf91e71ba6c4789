//! The kernels at subgroup sizes other than lavapipe's 8. GPUs run
//! subgroups of 4 to 64 lanes (Mali 4 to 16, Intel 8 to 32, NVIDIA and
//! Apple 32, AMD 32 or 64), and a kernel that assumed a size would
//! still pass every other test here. llvmpipe's vector width sets
//! lavapipe's: `LP_NATIVE_VECTOR_WIDTH=128` gives subgroups of 4 and `512`
//! of 16, on any x86 host (LLVM splits the wide vectors where AVX-512 is
//! missing).
//!
//! Wider settings are no use: Mesa 25.0's lavapipe then reports 32 or 64
//! lanes (`subgroup_size`) but runs subgroups of 16 (`subgroup_invocation_id`
//! stops at 15 and `subgroupAdd` sums 16 lanes), so correct kernels fail.
//!
//! The variable is read when Vulkan starts, so the kernel tests run again
//! in child processes of this binary, on the Vulkan adapter alone (GL has
//! no subgroups in wgpu); `common::contexts` checks the size they run.

use std::process::Command;

use wgpu_roofline::gpu::{self, BackendChoice};

use crate::common::{skip, LANES};

/// The tests that run kernels with subgroup operations, every
/// configuration each lists: all run at 4 lanes.
const KERNEL_TESTS: [&str; 11] = [
    "matmul::every_configuration_matches_the_host",
    "matmul::batched_products_match_the_host",
    "matmul::quantized_weights_match_the_host",
    "matmul::staged_gemv_serves_every_weight_format_up_to_16_rows",
    "matmul::resident_gemv_serves_every_weight_format_and_batches",
    "attention::softmax_matches_the_host",
    "attention::fused_attention_matches_the_host",
    "attention::decode_with_every_lane_count_a_gpu_tries_matches_the_host",
    "attention::prefill_by_register_tiles_matches_the_host",
    "attention::prefill_by_subgroups_matches_the_host_with_either_sum",
    "attention::prefill_on_emulated_cooperative_fragments_matches_the_host",
];

/// Those run at 16 lanes: the kernels whose sums and layouts follow the
/// subgroup size (decode at up to 16 lanes a key, which 8 lanes cannot
/// run; the few-row GEMVs' per-subgroup slots; the subgroup softmax). With
/// a cold shader cache llvmpipe took 130 s to compile and run these at
/// 512 bits, and over 340 s for all 11 (`every_configuration` alone over
/// 300 s); at 128 bits all 11 took 127 s.
const WIDE_TESTS: [&str; 4] = [
    "matmul::staged_gemv_serves_every_weight_format_up_to_16_rows",
    "matmul::resident_gemv_serves_every_weight_format_and_batches",
    "attention::softmax_matches_the_host",
    "attention::decode_with_every_lane_count_a_gpu_tries_matches_the_host",
];

/// The kernel tests above pass with subgroups of 4 and of 16 lanes.
#[test]
fn kernels_match_the_host_with_subgroups_of_4_and_16() {
    const TEST: &str = "kernels_match_the_host_with_subgroups_of_4_and_16";
    let lavapipe = gpu::enumerate(BackendChoice::Vulkan)
        .iter()
        .any(|a| a.get_info().name.contains("llvmpipe"));
    if !lavapipe {
        return skip(TEST, "no lavapipe (Mesa's Vulkan on the CPU)");
    }
    for (bits, lanes, tests) in [(128, 4, &KERNEL_TESTS[..]), (512, 16, &WIDE_TESTS[..])] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(tests)
            .arg("--exact")
            .env("LP_NATIVE_VECTOR_WIDTH", bits.to_string())
            .env(LANES, lanes.to_string())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{TEST}: subgroups of {lanes} ({}):\n{said}\n{why}",
            out.status
        );
        let passed = format!("{} passed", tests.len());
        assert!(
            said.contains(&passed),
            "{TEST}: subgroups of {lanes}: not every test ran:\n{said}"
        );
        eprintln!("{TEST}: {passed} with subgroups of {lanes}");
    }
}
