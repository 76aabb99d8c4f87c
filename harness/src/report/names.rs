//! The files a report writes into the run directory.

/// File names [`write`] creates in the run directory.
pub const REPORT_MD: &str = "report.md";
/// The self-contained HTML report.
pub const REPORT_HTML: &str = "report.html";
/// The bandwidth figure.
pub const BANDWIDTH_SVG: &str = "bandwidth.svg";
/// The commit-latency CDF figure.
pub const LATENCY_CDF_SVG: &str = "latency-cdf.svg";
