//! What to measure: a matrix of runtimes × clients × patterns × workload, its gates, and the cells
//! it expands into. Reads a file; imports nothing above the units.

pub mod cell;
pub mod file;
pub mod gate;
pub mod judge;
mod locate;
pub mod matrix;
pub mod options;
pub mod plan;
pub mod values;

pub use cell::{Cell, CellId, spread};
pub use file::{MatrixFile, json_schema};
pub use gate::{Bound, BoundKind, Direction, GateSpec, Inconclusive, Metric};
pub use judge::{JudgeSpec, Percent};
pub use matrix::*;
pub(crate) use options::check_value;
pub use options::{FioOptions, IoEngine, JobName, check_option};
pub use plan::PlannedRow;
pub use values::{ClientCount, NodeCount, Pattern, RuntimeName, TargetDir, Threads};
