//! iogate: storage I/O measured across container runtimes, as `cargo test` cells and regression gates.
//!
//! The data path: [`matrix`] → cells → [`fio::job`] → fixture → raw output → merged result → gate → report.

pub mod error;
pub mod fio;
pub mod matrix;

pub use error::{Error, Result};
