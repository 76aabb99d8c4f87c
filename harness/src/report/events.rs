//! Typed events from the runner to whoever shows them (nextest's reporter events): the runner
//! never formats; a [`Sink`] turns events into progress lines, verdict lines or files.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::judge::{GateReport, Verdict};
use crate::report::progress::Progress;
use crate::run::{CellRecord, Status};
use crate::units::first_line;

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A cell starts measuring.
    CellStarted {
        /// The cell's name.
        name: &'a str,
    },
    /// A cell is finished and on disk.
    CellFinished {
        /// Its record.
        record: &'a CellRecord,
        /// How long it took.
        took: Duration,
    },
    /// A gate was decided.
    GateDecided {
        /// The gate's test name.
        trial: &'a str,
        /// Its report.
        report: &'a GateReport,
    },
    /// Gate rows are unclear: their cells get another block.
    BlockAdded {
        /// Unclear rows.
        unclear: usize,
        /// Cells getting the block.
        cells: usize,
        /// The block's number (the most any of those cells will have).
        block: usize,
        /// Measuring time used so far and the run's budget, seconds.
        used_s: f64,
        /// The run's measuring budget, seconds.
        budget_s: f64,
    },
    /// A cell was compared with its baseline.
    BaselineChecked {
        /// The check's test name.
        trial: &'a str,
        /// The check's verdict.
        verdict: Verdict,
        /// What it found, first line.
        summary: &'a str,
    },
}

/// Receives a run's events; every method has a default that ignores them.
pub trait Sink: Send {
    /// One event.
    fn event(&mut self, event: &Event<'_>) {
        let _ = event;
    }
}

/// Ignores every event.
#[derive(Debug, Default)]
pub struct Silent;

impl Sink for Silent {}

/// Progress and verdict lines on stderr. A skipped runtime's reason is printed in full once;
/// each later cell of that runtime gets one line.
#[derive(Debug)]
pub struct Console {
    progress: Progress,
    explained: BTreeSet<String>,
}

impl Console {
    /// A console over `progress`.
    pub fn new(progress: Progress) -> Console {
        Console {
            progress,
            explained: BTreeSet::new(),
        }
    }

    /// The line an event prints, if any (what [`Sink::event`] writes to stderr).
    pub fn line(&mut self, event: &Event<'_>) -> Option<String> {
        match event {
            Event::CellStarted { name } => Some(self.progress.start(name)),
            Event::CellFinished { record, took } => {
                self.progress.finish(*took);
                let reason = record.reason.as_deref().unwrap_or_default();
                match record.status {
                    Status::Passed => None,
                    Status::Failed => Some(format!("  FAILED: {}", first_line(reason))),
                    Status::Interrupted => Some(format!("  INTERRUPTED: {}", first_line(reason))),
                    Status::Skipped if self.explained.insert(record.runtime.clone()) => {
                        Some(format!("  skipped: {}", reason.trim_end()))
                    }
                    Status::Skipped => Some(format!(
                        "  skipped: runtime `{}` unavailable (reason above)",
                        record.runtime
                    )),
                }
            }
            Event::BlockAdded {
                unclear,
                cells,
                block,
                used_s,
                budget_s,
            } => Some(format!(
                "{unclear} gate row(s) unclear: block {block} for their {cells} cell(s) \
                 ({used_s:.0} s of the {budget_s:.0} s measuring budget used)"
            )),
            Event::GateDecided { trial, report } => {
                Some(format!("{trial}: {}", report.verdict.as_str()))
            }
            Event::BaselineChecked {
                trial,
                verdict,
                summary,
            } => Some(format!("{trial}: {} — {summary}", verdict.as_str())),
        }
    }
}

impl Sink for Console {
    fn event(&mut self, event: &Event<'_>) {
        if let Some(line) = self.line(event) {
            eprintln!("{line}");
        }
    }
}
