//! wgpu-roofline: measured rooflines of LLM kernels on any GPU and backend.
//!
//! The data flows one way, one module per stage, none knowing the stages
//! after it:
//!
//! command line (the binary) → [`plan`] (a [`model`] and a sweep become ops
//! with typed shapes, FLOPs and bytes) → [`measure`] (the runner: on a
//! [`gpu`] device, the [`kernels`] timed, tuned and verified, progress to an
//! observer) → [`results`] (the JSON file) → [`report`] and [`plot`] (tables
//! and charts for people).
//!
//! Beside them: [`settings`] (how things are measured, stored with every
//! result), [`stats`] (sample statistics and warnings), [`roofline`]
//! (presets, measured roofs, attainable performance), [`dtype`] and
//! [`units`], and the typed [`error`]s.

pub mod dtype;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod measure;
pub mod model;
pub mod plan;
pub mod plot;
pub mod report;
pub mod results;
pub mod roofline;
pub mod settings;
pub mod stats;
pub mod units;

pub use error::{Error, Result};
