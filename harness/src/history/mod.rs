//! The results history: every run's cells in a database (a SQLite file by default, PostgreSQL
//! for teams sharing results), the testbed each number belongs to, series per cell and metric,
//! and their change points.

pub mod import;
pub mod recorder;
pub mod store;
pub mod testbed;
pub mod trend;

pub use import::import_run;
pub use recorder::{default_location, record_finished_cell, testbed_name};
pub use store::{Block, History, Location, Observation, RunEntry, RunListing};
pub use testbed::{RuntimeFingerprint, Testbed};
pub(crate) use trend::ratio;
pub use trend::{DETECTED, Filter, Metric, Series, Shift, detect, observed, series};
