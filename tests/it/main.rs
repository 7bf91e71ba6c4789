//! The integration tests, in one binary (one link instead of a dozen).
//! GPU tests run on every software adapter found (lavapipe, llvmpipe),
//! skip loudly without one, and fail instead of skipping when `CI` is set.

mod common;

mod attention;
mod bad_input;
mod cli;
mod faults;
mod fuzz;
mod kernels;
mod lanes;
mod limits;
mod matmul;
mod plot;
mod radv;
mod report;
mod runner;
mod shaders;
mod spirv;
