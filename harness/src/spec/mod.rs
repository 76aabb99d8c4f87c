//! What to measure: a matrix of runtimes × clients × patterns × workload, its gates, and the cells
//! it expands into. Reads a file; imports nothing above the units.

pub mod cell;
pub mod file;
pub mod gate;
mod locate;
pub mod matrix;
pub mod options;
pub mod plan;
pub mod values;

pub use cell::{Cell, CellId, cells_of, spread};
pub use file::{MatrixFile, json_schema};
pub use gate::{Bound, BoundKind, Direction, GateSpec, Inconclusive, Metric};
pub use matrix::*;
pub use options::{
    ALLOWED_OPTIONS, FioOptions, IoEngine, JobName, MAX_VALUE_LEN, check_option, check_value,
};
pub use plan::PlannedRow;
pub use values::{ClientCount, NodeCount, Pattern, RuntimeName, TargetDir, Threads};
