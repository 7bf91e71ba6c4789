//! wgpu-roofline: measured rooflines of LLM kernels on any GPU and backend.
//!
//! The data flows one way, one module per stage:
//! command line (the binary) → [`gpu`] (adapter and device) → [`timer`] and
//! [`kernels`] (what runs on the GPU, with CPU references and accounting) →
//! [`roofs`] (the measured ceilings) → [`results`] (the JSON file) →
//! [`report`] (text for people). No stage knows the ones after it.

pub mod error;
pub mod gpu;
pub mod kernels;
pub mod model;
pub mod plan;
pub mod plot;
pub mod report;
pub mod results;
pub mod roofs;
pub mod stats;
pub mod suite;
pub mod timer;

pub use error::{Error, Result};
