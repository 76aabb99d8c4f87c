//! A run of a matrix: the results directory, one fixture per runtime, cells measured one at a time
//! and persisted as soon as each ends, and the records they leave.

pub mod environment;
pub mod event;
pub mod record;
pub mod session;

pub use environment::Environment;
pub use event::CellEvent;
pub use record::{CellRecord, Latency, Measurement, Provenance, Repetition, Status, Summary};
pub use session::{Session, write_atomically};
