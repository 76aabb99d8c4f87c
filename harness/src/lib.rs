//! iogate: storage I/O measured across container runtimes, as `cargo test` cells and regression gates.
//!
//! The data path, one way: [`spec`] (what to measure) → [`fio`] job files → [`fixture`] (servers
//! under a runtime) → raw output → [`run`] (merged, persisted records) → [`judge`] (gates,
//! baselines, comparisons) → [`report`]. Each layer imports only the layers before it
//! (`harness/tests/architecture.rs` checks it).

pub mod error;
pub mod fio;
pub mod fixture;
pub mod harness;
pub mod history;
pub mod judge;
pub mod report;
pub mod run;
pub mod settings;
pub mod spec;
pub mod stats;
pub mod sys;
pub mod units;

pub use error::{Error, Result};
pub use harness::{Decision, Runner};
pub use run::{CellRecord, Session, Status};
pub use spec::{Cell, CellId, GateSpec, Matrix, MatrixFile, Pattern, Runtime, Workload};
