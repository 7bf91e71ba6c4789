//! How the runner reports progress, in the style of criterion's `Report`:
//! the command line implements it with a progress bar and the live table,
//! tests with a recorder. Every method has a default that does nothing.

use crate::results::{KernelRecord, Point};
use crate::roofline::MeasuredCeilings;
use crate::stats::TimerKind;

/// What is about to be measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// What runs, e.g. `llama-7b (66 ops)` or `roofs`.
    pub what: String,
    /// Adapter name.
    pub adapter: String,
    /// Its backend.
    pub backend: String,
    /// The clock the run uses.
    pub timer: TimerKind,
    /// Kernels and ops to measure (each reported by `step` and then `roof`
    /// or `point`).
    pub steps: usize,
}

/// Receives the runner's progress.
pub trait Observer {
    /// Measuring begins.
    fn started(&mut self, _start: &Start) {}
    /// Something the user should know that is not an error (a dtype or op
    /// skipped, and why).
    fn note(&mut self, _message: &str) {}
    /// A roof kernel or op starts.
    fn step(&mut self, _label: &str) {}
    /// A roof kernel was measured and verified.
    fn roof(&mut self, _kernel: &KernelRecord) {}
    /// An op was measured and verified (again, in a later pass), under the
    /// run's measured roofs.
    fn point(&mut self, _point: &Point, _roofs: &MeasuredCeilings) {}
    /// Measuring ended, finished or stopped.
    fn finished(&mut self) {}
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {}
