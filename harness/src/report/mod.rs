//! Human-readable views of a run: the study's latency table and the bandwidth table (markdown),
//! its figures (SVG), one self-contained HTML page, run-to-run comparison, and live progress.
//!
//! [`write`] puts `report.md`, `report.html`, `bandwidth.svg` and `latency-cdf.svg` next to a run's
//! `summary.json`. A cell that failed or was skipped never shows a number: its table cells read
//! `FAILED` or `skipped` with a footnote, and the reason is listed below the table.

pub mod compare;
pub mod events;
pub mod gates;
pub mod html;
pub mod load;
pub mod markdown;
pub mod names;
pub mod progress;
mod sections;
pub mod svg;
mod table;
pub mod trends;
pub mod view;
pub mod write;

pub use load::Run;
pub use markdown::{bandwidth_table, latency_table};
pub use view::{Layout, Missing, View};
pub use write::{Written, append_step_summary, write, write_to};
