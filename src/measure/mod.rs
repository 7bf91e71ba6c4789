//! Measuring on a device: the timer, the roofs, the autotuner, one op, and
//! the runner that drives them over a plan and reports to an observer.

pub mod observer;
pub mod ops;
pub mod roofs;
pub mod runner;
pub mod timer;
pub mod tuner;

pub use observer::{Observer, Silent, Start};
pub use runner::{Outcome, RunSettings};
pub use timer::{Timer, TimerPreference};
