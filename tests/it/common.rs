//! Helpers shared by the GPU tests: every adapter found, loudly skipped when
//! there is none, and a hard failure instead of a skip when `CI` is set.
#![allow(dead_code)]

use wgpu_roofline::gpu::{self, BackendChoice, GpuContext};
use wgpu_roofline::kernels::DType;

/// The backends a machine without a GPU has through Mesa.
pub const SOFTWARE: [(&str, BackendChoice); 2] =
    [("vulkan", BackendChoice::Vulkan), ("gl", BackendChoice::Gl)];

/// Set in a child process of `lanes.rs` to the subgroup size its Vulkan
/// adapters run.
pub const LANES: &str = "ROOFLINE_SUBGROUP_LANES";

/// Whether the tests run under CI, where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Skip loudly, or fail under CI.
pub fn skip(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: {why}, and CI is set: GPU tests may not be skipped in CI");
    }
    eprintln!(
        "\n*** SKIPPED {test}: {why} ***\n*** install Mesa's lavapipe (see README) to run it ***\n"
    );
}

/// A context on every adapter of the Vulkan and GL backends (the ones a
/// machine without a GPU has through Mesa), skipping loudly when none exists.
pub fn contexts(test: &str) -> Vec<GpuContext> {
    contexts_with(test, |a| a.limits())
}

/// The first of [`contexts`]: for tests that need one adapter, not every one.
pub fn first(test: &str) -> Option<GpuContext> {
    contexts(test).into_iter().next()
}

/// As [`contexts`], each opened with the limits `limits` gives for its
/// adapter (tests reach the edges of bindings and dispatches with small
/// limits and small buffers).
///
/// In a child process of `lanes.rs` (with [`LANES`] set), only the Vulkan
/// adapters, whose subgroups must then be that many lanes.
pub fn contexts_with(
    test: &str,
    limits: impl Fn(&wgpu::Adapter) -> wgpu::Limits,
) -> Vec<GpuContext> {
    let lanes: Option<u32> = std::env::var(LANES).ok().map(|v| v.parse().unwrap());
    let mut out = Vec::new();
    for (_, choice) in SOFTWARE {
        if lanes.is_some() && choice != BackendChoice::Vulkan {
            continue;
        }
        for (i, a) in gpu::enumerate(choice).iter().enumerate() {
            let ctx = GpuContext::with_limits(i, a, limits(a)).expect("open device");
            if let Some(lanes) = lanes {
                assert_eq!(
                    ctx.caps.subgroup_sizes,
                    (lanes, lanes),
                    "{test}: {} was to run subgroups of {lanes}",
                    label(&ctx)
                );
            }
            out.push(ctx);
        }
    }
    if out.is_empty() {
        skip(test, "no Vulkan or GL adapter");
    }
    out
}

/// Label for assertion messages.
pub fn label(ctx: &GpuContext) -> String {
    format!("{} ({})", ctx.adapter.name, ctx.adapter.backend)
}

/// The dtypes `ctx` runs.
pub fn dtypes(ctx: &GpuContext) -> Vec<DType> {
    [DType::F32, DType::F16]
        .into_iter()
        .filter(|d| ctx.caps.supports(*d))
        .collect()
}

/// Backend names (`vulkan`, `gl`) with at least one adapter here, skipping
/// loudly when there is none.
pub fn backends(test: &str) -> Vec<&'static str> {
    let found: Vec<_> = SOFTWARE
        .into_iter()
        .filter(|(_, c)| !gpu::enumerate(*c).is_empty())
        .map(|(n, _)| n)
        .collect();
    if found.is_empty() {
        skip(test, "no Vulkan or GL adapter");
    }
    found
}

/// Path of a file under `tests/fixtures`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The arguments after `run --quick --backend B --model M` that make a run
/// small enough for a test (the tiny model's sizes, light sampling).
pub const SMALL_RUN: &[&str] = &[
    "--footprint",
    "4MiB",
    "--seq-lens",
    "40,64",
    "--batches",
    "3",
    "--context",
    "64",
    "--repeats",
    "2",
    "--warmup",
    "0",
    "--min-batch-ms",
    "1",
];
