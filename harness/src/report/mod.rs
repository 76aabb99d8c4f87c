//! Human-readable views of a run: the study's latency table and the bandwidth table (markdown),
//! its figures (SVG), one self-contained HTML page, run-to-run comparison, and live progress.
//!
//! [`write`] puts `report.md`, `report.html`, `bandwidth.svg` and `latency-cdf.svg` next to a run's
//! `summary.json`. A cell that failed or was skipped never shows a number: its table cells read
//! `FAILED` or `skipped` with a footnote, and the reason is listed below the table.

pub mod compare;
pub mod html;
pub mod markdown;
pub mod progress;
mod sections;
pub mod svg;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fio::histogram::Histogram;
use crate::matrix::{Matrix, MatrixFile, Pattern};
use crate::result::{CellRecord, Status, Summary};

pub use markdown::{bandwidth_table, latency_table};

/// File names [`write`] creates in the run directory.
pub const REPORT_MD: &str = "report.md";
/// The self-contained HTML report.
pub const REPORT_HTML: &str = "report.html";
/// The bandwidth figure.
pub const BANDWIDTH_SVG: &str = "bandwidth.svg";
/// The commit-latency CDF figure.
pub const LATENCY_CDF_SVG: &str = "latency-cdf.svg";

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

/// A run directory as the report reads it: `summary.json` (required), and whichever of
/// `environment.json`, `gates.json`, `matrix.yaml` and the cells' `histogram.json` exist.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Summary,
    /// `environment.json` when present: its JSON, or why it could not be read.
    pub environment: Option<std::result::Result<serde_json::Value, String>>,
    /// `gates.json` when present: its JSON, or why it could not be read.
    pub gates: Option<std::result::Result<serde_json::Value, String>>,
    /// The matrix as copied into the run (`matrix.yaml`), when it still parses.
    pub matrix: Option<Matrix>,
    /// Merged latency histograms by cell name (passed cells whose `histogram.json` is readable).
    pub histograms: BTreeMap<String, Histogram>,
}

impl Run {
    /// Reads a run directory. `dir` may also be a matrix's results directory with a `latest` link.
    pub fn load(dir: &Path) -> Result<Run> {
        let dir = resolve(dir);
        let summary = Summary::load(&dir.join("summary.json"))?;
        let matrix = MatrixFile::load(dir.join("matrix.yaml"))
            .ok()
            .map(|m| m.matrix);
        let mut histograms = BTreeMap::new();
        for cell in &summary.cells {
            let Some(rel) = cell.histogram.as_deref() else {
                continue;
            };
            if cell.status != Status::Passed {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join(rel)) else {
                continue;
            };
            if let Ok(h) = serde_json::from_str::<Histogram>(&text) {
                histograms.insert(cell.name.clone(), h);
            }
        }
        Ok(Run {
            environment: optional_json(&dir.join("environment.json")),
            gates: optional_json(&dir.join("gates.json")),
            dir,
            summary,
            matrix,
            histograms,
        })
    }

    /// The tables' view of this run.
    pub fn view(&self) -> View<'_> {
        View::new(&self.summary, self.matrix.as_ref())
    }
}

/// `dir` itself if it holds a `summary.json`, else `dir/latest` if that does.
fn resolve(dir: &Path) -> PathBuf {
    if !dir.join("summary.json").exists() && dir.join("latest").join("summary.json").exists() {
        return dir.join("latest");
    }
    dir.to_owned()
}

/// `None` when the file does not exist; otherwise its JSON or why it is unreadable.
fn optional_json(path: &Path) -> Option<std::result::Result<serde_json::Value, String>> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(format!("{}: {e}", path.display()))),
        Ok(text) => {
            Some(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())))
        }
    }
}

/// The files [`write`] created.
#[derive(Debug, Clone)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `bandwidth.svg` and `latency-cdf.svg`.
    pub figures: Vec<PathBuf>,
}

/// Reads the run in `dir` and writes its report next to `summary.json`.
pub fn write(dir: &Path) -> Result<Written> {
    let run = Run::load(dir)?;
    let out = run.dir.clone();
    write_to(&run, &out)
}

/// Writes `report.md`, `report.html` and the two SVG figures of `run` into `out`.
pub fn write_to(run: &Run, out: &Path) -> Result<Written> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let put = |name: &str, text: &str| -> Result<PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    };
    let view = run.view();
    let bandwidth = put(BANDWIDTH_SVG, &svg::bandwidth(&view))?;
    let cdf = put(LATENCY_CDF_SVG, &svg::latency_cdf(&view, &run.histograms))?;
    let markdown = put(REPORT_MD, &markdown::render(run, true))?;
    let html = put(REPORT_HTML, &html::render(run))?;
    Ok(Written {
        markdown,
        html,
        figures: vec![bandwidth, cdf],
    })
}

/// Appends `markdown` to the file named by `$GITHUB_STEP_SUMMARY`, if that is set.
/// Returns whether it wrote.
pub fn append_step_summary(markdown: &str) -> Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let path = PathBuf::from(path);
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    writeln!(file, "{markdown}").map_err(|e| Error::io(&path, e))?;
    Ok(true)
}

/// Latency in µs as the tables print it: one decimal below 10 µs, whole µs above.
pub fn fmt_us(ns: u64) -> String {
    if ns < 10_000 {
        format!("{:.1}", ns as f64 / 1000.0)
    } else {
        format!("{}", (ns + 500) / 1000)
    }
}

/// Bandwidth in MiB/s with one decimal.
pub fn fmt_mib(bytes_per_s: f64) -> String {
    format!("{:.1}", bytes_per_s / MIB)
}

/// Bytes in a MiB.
pub const MIB: f64 = 1024.0 * 1024.0;

/// A byte count as people read it (`32 MiB`, `1.5 GiB`).
pub fn fmt_bytes(bytes: u64) -> String {
    let units = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in units {
        if bytes >= size {
            let v = bytes as f64 / size as f64;
            return if v.fract() == 0.0 {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

/// The first line of a reason, for table notes; the full text follows it where there is room.
pub(crate) fn first_line(reason: &str) -> &str {
    reason
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// A cell status as the tables print it.
pub(crate) fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Skipped => "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_us(5_120), "5.1");
        assert_eq!(fmt_us(296_960), "297");
        assert_eq!(fmt_mib(3.0 * MIB), "3.0");
        assert_eq!(fmt_bytes(32 << 20), "32 MiB");
        assert_eq!(fmt_bytes(3 << 29), "1.5 GiB");
        assert_eq!(fmt_bytes(512), "512 B");
    }
}
