//! iogate: storage I/O measured across container runtimes, as `cargo test` cells and regression gates.
//!
//! The data path: [`matrix`] → cells → [`fio::job`] → fixture → raw output → merged result → gate → report.

pub mod baseline;
pub mod error;
pub mod fio;
pub mod fixture;
pub mod gate;
pub mod matrix;
pub mod report;
pub mod result;
pub mod run;

pub use error::{Error, Result};
