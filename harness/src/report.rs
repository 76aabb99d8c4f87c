//! Human-readable views of a run: the study's latency table and the bandwidth table.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::matrix::Pattern;
use crate::result::{CellRecord, Status, Summary};

/// Distinct values in first-seen order.
fn ordered<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn find<'a>(s: &'a Summary, pattern: Pattern, runtime: &str, clients: u32) -> Option<&'a CellRecord> {
    s.cells
        .iter()
        .find(|c| c.pattern == pattern && c.runtime == runtime && c.clients == clients)
}

/// What a table cell shows for a record that has no number: why not.
fn missing(cell: Option<&CellRecord>) -> String {
    match cell.map(|c| c.status) {
        None => "–".into(),
        Some(Status::Skipped) => "skipped".into(),
        Some(Status::Failed) => "FAILED".into(),
        Some(Status::Passed) => "?".into(),
    }
}

/// The study's table: rows pattern × runtime, columns clients × {p50, p99}, in µs (markdown).
pub fn latency_table(s: &Summary) -> String {
    let patterns: BTreeSet<Pattern> = s.cells.iter().map(|c| c.pattern).collect();
    let runtimes = ordered(s.cells.iter().map(|c| c.runtime.clone()));
    let mut clients = ordered(s.cells.iter().map(|c| c.clients));
    clients.sort_unstable();
    let mut out = String::from("| Mode | Runtime |");
    for c in &clients {
        let _ = write!(out, " c{c} p50 | c{c} p99 |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|---:|".repeat(clients.len()));
    out.push('\n');
    for p in &patterns {
        for r in &runtimes {
            let _ = write!(out, "| {} | {r} |", p.label());
            for c in &clients {
                let cell = find(s, *p, r, *c);
                match cell.and_then(|c| c.lat_ns) {
                    Some(l) => {
                        let _ = write!(out, " {} | {} |", l.p50 / 1000, l.p99 / 1000);
                    }
                    None => {
                        let m = missing(cell);
                        let _ = write!(out, " {m} | {m} |");
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Aggregate bandwidth in MiB/s: rows pattern × runtime, columns clients (markdown).
pub fn bandwidth_table(s: &Summary) -> String {
    let patterns: BTreeSet<Pattern> = s.cells.iter().map(|c| c.pattern).collect();
    let runtimes = ordered(s.cells.iter().map(|c| c.runtime.clone()));
    let mut clients = ordered(s.cells.iter().map(|c| c.clients));
    clients.sort_unstable();
    let mut out = String::from("| Mode | Runtime |");
    for c in &clients {
        let _ = write!(out, " c{c} MiB/s |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|".repeat(clients.len()));
    out.push('\n');
    for p in &patterns {
        for r in &runtimes {
            let _ = write!(out, "| {} | {r} |", p.label());
            for c in &clients {
                let cell = find(s, *p, r, *c);
                match cell.and_then(|c| c.bw_bytes) {
                    Some(bw) => {
                        let _ = write!(out, " {:.1} |", bw / (1024.0 * 1024.0));
                    }
                    None => {
                        let _ = write!(out, " {} |", missing(cell));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}
