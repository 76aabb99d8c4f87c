//! Judging a run: gates (runtime against runtime, or against a bound), baselines (a cell against
//! its recorded past) and run comparisons, all on a log scale with one [`Verdict`] vocabulary.

pub mod baseline;
pub mod compare;
pub mod family;
pub mod gate;
pub mod verdict;

pub use compare::{CompareOptions, RunComparison, compare};
pub use gate::{GateReport, GatesFile, Past, Row, RowResult, evaluate};
pub use verdict::Verdict;
