//! The product: cells, gates and baselines of matrices run as one, for `cargo test --test
//! io_matrix` ([`trials::main`]) and `iogate run` (the same [`Runner`] and [`Decision`]s).

pub mod decision;
pub mod runner;
pub mod trials;

pub use decision::Decision;
pub use runner::{Measured, Runner};
pub use trials::main;
