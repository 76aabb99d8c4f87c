//! fio: job files, output parsing, latency histograms and the client/server driver.

pub mod job;
