//! What the tables and figures show: a run's cells in report order, with footnotes for cells
//! without numbers.

use crate::run::{CellRecord, Status, Summary};
use crate::spec::{Matrix, Pattern};

/// Rows and columns of the study's views: patterns, runtimes and client counts, in report order
/// (the matrix's order when `matrix.yaml` is readable, else first seen; clients ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Access patterns.
    pub patterns: Vec<Pattern>,
    /// Runtime names.
    pub runtimes: Vec<String>,
    /// Client counts, ascending.
    pub clients: Vec<u32>,
}

impl Layout {
    /// The layout of `summary`'s cells, ordered like `matrix` where given.
    pub fn of(summary: &Summary, matrix: Option<&Matrix>) -> Layout {
        let mut patterns: Vec<Pattern> = matrix
            .map(|m| m.workload.patterns.clone())
            .unwrap_or_default();
        let mut extra: Vec<Pattern> = summary
            .cells
            .iter()
            .map(|c| c.pattern)
            .filter(|p| !patterns.contains(p))
            .collect();
        extra.sort();
        extra.dedup();
        patterns.extend(extra);
        patterns.retain(|p| summary.cells.iter().any(|c| c.pattern == *p));

        let mut runtimes: Vec<String> = matrix
            .map(|m| m.runtimes.iter().map(|r| r.name.to_string()).collect())
            .unwrap_or_default();
        for c in &summary.cells {
            if !runtimes.contains(&c.runtime) {
                runtimes.push(c.runtime.clone());
            }
        }
        runtimes.retain(|r| summary.cells.iter().any(|c| &c.runtime == r));

        let mut clients: Vec<u32> = summary.cells.iter().map(|c| c.clients).collect();
        clients.sort_unstable();
        clients.dedup();
        Layout {
            patterns,
            runtimes,
            clients,
        }
    }
}

/// A cell that has no number, with its footnote number in the tables.
#[derive(Debug, Clone, Copy)]
pub struct Missing<'a> {
    /// Footnote number, from 1, in table order; cells with the same status and reason share one.
    pub note: usize,
    /// The record.
    pub cell: &'a CellRecord,
}

/// What the tables and figures show: a summary with its layout and footnotes.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The run's cells.
    pub summary: &'a Summary,
    /// Row and column order.
    pub layout: Layout,
    /// Failed or skipped cells (and passed cells without numbers), in table order.
    pub missing: Vec<Missing<'a>>,
}

impl<'a> View<'a> {
    /// A view of `summary`, ordered like `matrix` where given.
    pub fn new(summary: &'a Summary, matrix: Option<&Matrix>) -> View<'a> {
        let layout = Layout::of(summary, matrix);
        let mut missing: Vec<Missing<'a>> = Vec::new();
        // Cells with the same status and reason share one footnote.
        let mut reasons: Vec<(Status, Option<&str>)> = Vec::new();
        for p in &layout.patterns {
            for r in &layout.runtimes {
                for c in &layout.clients {
                    if let Some(cell) = find(summary, *p, r, *c)
                        && (cell.status != Status::Passed
                            || cell.bw_bytes.is_none()
                            || cell.lat_ns.is_none())
                    {
                        let key = (cell.status, cell.reason.as_deref());
                        let note = match reasons.iter().position(|k| *k == key) {
                            Some(i) => i + 1,
                            None => {
                                reasons.push(key);
                                reasons.len()
                            }
                        };
                        missing.push(Missing { note, cell });
                    }
                }
            }
        }
        View {
            summary,
            layout,
            missing,
        }
    }

    /// The record of one cell, if the run has it.
    pub fn cell(&self, pattern: Pattern, runtime: &str, clients: u32) -> Option<&'a CellRecord> {
        find(self.summary, pattern, runtime, clients)
    }

    /// The footnote number of a cell without numbers.
    pub fn note(&self, cell: &CellRecord) -> Option<usize> {
        self.missing
            .iter()
            .find(|m| m.cell.name == cell.name)
            .map(|m| m.note)
    }
}

/// The record of `(pattern, runtime, clients)`; the last one if a run recorded it twice.
fn find<'a>(
    s: &'a Summary,
    pattern: Pattern,
    runtime: &str,
    clients: u32,
) -> Option<&'a CellRecord> {
    s.cells
        .iter()
        .rev()
        .find(|c| c.pattern == pattern && c.runtime == runtime && c.clients == clients)
}

/// A cell status as the tables print it.
pub(crate) fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Skipped => "skipped",
        Status::Interrupted => "INTERRUPTED",
    }
}
