//! Statistics over timing samples and what they warn about: the summary of
//! a kernel's samples, the records a measurement keeps, and the warnings a
//! reader of the numbers should see. No GPU here: everything works on
//! numbers the timer produced.

mod sample;
mod summary;
mod warnings;

pub use sample::{Measurement, TimerInfo, TimerKind, MAX_GAP_SHARE};
pub use summary::Summary;
pub use warnings::{check, Warning, WarningRecord};
