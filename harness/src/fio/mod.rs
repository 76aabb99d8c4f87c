//! fio: job files, output parsing, latency histograms and the client/server driver.

pub(crate) mod addr;
pub mod client;
pub mod histogram;
pub mod job;
pub mod output;
pub(crate) mod relay;
