//! The content of a report, independent of its format: tables, environment and notes, as [`Table`]s and plain text that `markdown` and `html` render.

use crate::fixture::RuntimeInfo;
use crate::report::load::Run;
use crate::report::table::{Cell, Kind, Table};
use crate::report::view::{View, status_word};
use crate::run::{Environment, Status};
use crate::units::{first_line, fmt_bytes, fmt_mib, fmt_us};

fn clients_label(c: u32) -> String {
    if c == 1 {
        "1 client".into()
    } else {
        format!("{c} clients")
    }
}

/// What a table cell shows for a record without numbers.
fn no_number(view: &View<'_>, cell: Option<&crate::run::CellRecord>) -> Cell {
    match cell {
        None => Cell::with("–", Kind::Absent),
        Some(c) => {
            let (text, kind) = match c.status {
                Status::Failed => ("FAILED", Kind::Failed),
                Status::Skipped => ("skipped", Kind::Skipped),
                Status::Interrupted => ("INTERRUPTED", Kind::Failed),
                Status::Passed => ("no data", Kind::Failed),
            };
            Cell {
                text: text.into(),
                kind,
                note: view.note(c),
            }
        }
    }
}

/// The study's table: rows pattern × runtime, columns clients × {p50, p99}, µs.
pub(crate) fn latency(view: &View<'_>) -> Table {
    let l = &view.layout;
    let mut t = Table {
        groups: vec![(String::new(), 2)],
        head: vec!["Mode".into(), "Runtime".into()],
        html_head: vec!["Mode".into(), "Runtime".into()],
        right: vec![false, false],
        rows: Vec::new(),
    };
    for c in &l.clients {
        t.groups.push((clients_label(*c), 2));
        t.head.push(format!("c{c} p50"));
        t.head.push(format!("c{c} p99"));
        t.html_head.push("p50".into());
        t.html_head.push("p99".into());
        t.right.extend([true, true]);
    }
    for p in &l.patterns {
        for r in &l.runtimes {
            let mut row = vec![Cell::text(p.label()), Cell::text(r.clone())];
            for c in &l.clients {
                let cell = view.cell(*p, r, *c);
                match cell
                    .filter(|c| c.status == Status::Passed)
                    .and_then(|c| c.lat_ns)
                {
                    Some(lat) => {
                        row.push(Cell::number(fmt_us(lat.p50)));
                        row.push(Cell::number(fmt_us(lat.p99)));
                    }
                    None => {
                        let m = no_number(view, cell);
                        row.push(m.clone());
                        row.push(m);
                    }
                }
            }
            t.rows.push(row);
        }
    }
    t
}

/// Aggregate bandwidth, MiB/s: rows pattern × runtime, columns clients.
pub(crate) fn bandwidth(view: &View<'_>) -> Table {
    let l = &view.layout;
    let mut t = Table {
        head: vec!["Mode".into(), "Runtime".into()],
        right: vec![false, false],
        ..Table::default()
    };
    for c in &l.clients {
        t.head.push(format!("{} MiB/s", clients_label(*c)));
        t.right.push(true);
    }
    for p in &l.patterns {
        for r in &l.runtimes {
            let mut row = vec![Cell::text(p.label()), Cell::text(r.clone())];
            for c in &l.clients {
                let cell = view.cell(*p, r, *c);
                match cell
                    .filter(|c| c.status == Status::Passed)
                    .and_then(|c| c.bw_bytes)
                {
                    Some(bw) => row.push(Cell::number(fmt_mib(bw))),
                    None => row.push(no_number(view, cell)),
                }
            }
            t.rows.push(row);
        }
    }
    t
}

/// A footnote of the tables: the cells without numbers that share one status and reason.
pub(crate) struct Note {
    /// Footnote number.
    pub note: usize,
    /// The cells' names, in table order.
    pub cells: Vec<String>,
    /// `FAILED`, `skipped` or `no data`.
    pub word: &'static str,
    /// The full reason.
    pub reason: String,
}

/// The tables' footnotes, in order.
pub(crate) fn missing_notes(view: &View<'_>) -> Vec<Note> {
    let mut notes: Vec<Note> = Vec::new();
    for m in &view.missing {
        if let Some(n) = notes.iter_mut().find(|n| n.note == m.note) {
            n.cells.push(m.cell.name.clone());
            continue;
        }
        let word = if m.cell.status == Status::Passed {
            "no data"
        } else {
            status_word(m.cell.status)
        };
        notes.push(Note {
            note: m.note,
            cells: vec![m.cell.name.clone()],
            word,
            reason: m
                .cell
                .reason
                .clone()
                .unwrap_or_else(|| "no reason recorded".into()),
        });
    }
    notes
}

/// The detail lines of a multi-line reason after its first line: blank lines dropped, at most
/// `max` lines (the first ones: fio's complaints come before its empty JSON).
pub(crate) fn reason_detail(reason: &str, max: usize) -> Vec<String> {
    let first = first_line(reason);
    let mut lines: Vec<&str> = reason
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if let Some(i) = lines.iter().position(|l| l.trim() == first) {
        lines.remove(i);
    }
    let more = lines.len().saturating_sub(max);
    let mut out: Vec<String> = lines.into_iter().take(max).map(str::to_owned).collect();
    if more > 0 {
        out.push(format!("… ({more} more lines)"));
    }
    out
}

/// Counts of a run's cells by status.
pub(crate) fn counts(run: &Run) -> (usize, usize, usize) {
    let c = &run.summary.cells;
    let n = |s: Status| c.iter().filter(|x| x.status == s).count();
    (n(Status::Passed), n(Status::Failed), n(Status::Skipped))
}

/// The headline under the title.
pub(crate) fn headline(run: &Run) -> String {
    let (passed, failed, skipped) = counts(run);
    let n = run.summary.cells.len();
    let cells = if n == 1 { "cell" } else { "cells" };
    let mut s = format!("{n} {cells}: {passed} passed, {failed} failed, {skipped} skipped.");
    if let Some(d) = run.matrix.as_ref().and_then(|m| m.description.as_deref()) {
        s = format!("{d}. {s}");
    }
    s
}

/// The note on what the numbers measure (page cache vs disk), from the matrix's workload.
pub(crate) fn page_cache_note(run: &Run) -> String {
    let generic = "When the test files fit in the page cache and I/O is buffered, these numbers \
                   measure each runtime's I/O path (system calls, gVisor's gofer, Kata's shared \
                   file system), not the disk.";
    let Some(m) = run.matrix.as_ref() else {
        return generic.into();
    };
    let w = &m.workload;
    let per_thread = w.size.bytes();
    let threads = u64::from(w.threads.get());
    let max_clients = run
        .summary
        .cells
        .iter()
        .map(|c| c.clients)
        .max()
        .unwrap_or(1);
    let total = per_thread * threads * u64::from(max_clients);
    let io = if w.direct {
        "direct I/O (`direct: true`, O_DIRECT where the runtime's file system honours it)"
    } else {
        "buffered I/O (`direct: false`, as in the study)"
    };
    let judgement = if w.direct {
        "O_DIRECT bypasses the guest's page cache, but a runtime that shares files through its own \
         layer (gVisor's gofer, Kata's virtio-fs/9p) may still cache on the host."
    } else if total <= 16 << 30 {
        "Files this size sit in the page cache, so these numbers measure each runtime's I/O path \
         (system calls, gVisor's gofer, Kata's shared file system), not the disk. To measure the \
         disk, use files larger than the machines' memory or `direct: true`."
    } else {
        "Check these files against the machines' memory: the part that fits in the page cache is \
         served from memory, so such numbers measure each runtime's I/O path, not the disk."
    };
    format!(
        "Each thread's file is {} ({} threads per client, {} in all at {} clients), block size {}, \
         {io}. {judgement}",
        fmt_bytes(per_thread),
        threads,
        fmt_bytes(total),
        max_clients,
        fmt_bytes(w.bs.bytes()),
    )
}

/// Share of fio's `runtime` by which a cell's clients may end apart before the report says so.
const APART_SHARE: f64 = 0.1;

/// Multi-client cells whose clients ended more than [`APART_SHARE`] of `runtime_s` apart in some
/// repetition, with the widest gap, in cell order.
fn apart_cells(cells: &[crate::run::CellRecord], runtime_s: f64) -> Vec<(&str, f64)> {
    cells
        .iter()
        .filter_map(|c| {
            let widest = c
                .repetitions
                .iter()
                .filter_map(|r| r.ends_apart_s)
                .fold(f64::NAN, f64::max);
            (widest > APART_SHARE * runtime_s).then_some((c.name.as_str(), widest))
        })
        .collect()
}

/// The note on clients that did not measure together, when a time-based run had any: fio's
/// client sends every server its RUN at once, but each server sets its job up (file checks,
/// `pre_read`) before measuring, so under contention clients start measuring apart and the
/// aggregate adds up clients that partly ran alone.
pub(crate) fn concurrency_note(run: &Run) -> Option<String> {
    let runtime_s = run.matrix.as_ref()?.workload.runtime?.get().as_secs_f64();
    let apart = apart_cells(&run.summary.cells, runtime_s);
    (!apart.is_empty()).then(|| concurrency_text(&apart, runtime_s))
}

/// The text of [`concurrency_note`] for `apart` (cell, widest gap) at `runtime_s`.
fn concurrency_text(apart: &[(&str, f64)], runtime_s: f64) -> String {
    let list: Vec<String> = apart
        .iter()
        .map(|(name, s)| format!("`{name}` {s:.2} s"))
        .collect();
    format!(
        "Clients that did not measure together: in these cells the clients' results arrived \
         further apart than a tenth of the {runtime_s} s runtime (widest gap per cell): {}. Each \
         server sets its job up (file checks, `pre_read`) after the common start, so its \
         measurement starts about that much later; the clients overlapped for only the runtime \
         less the gap, and the cell's aggregate bandwidth includes clients that partly ran with \
         fewer neighbours than the cell's client count.",
        list.join(", ")
    )
}

/// `environment.json` as two tables: the machine and tools, and one row per runtime (in `order`,
/// then any others by name).
pub(crate) fn environment(env: &Environment, order: &[String]) -> (Table, Table) {
    let facts = Table {
        head: vec!["Item".into(), "Value".into()],
        right: vec![false, false],
        rows: [
            ("Matrix", env.matrix.clone()),
            ("Matrix file", env.matrix_path.clone()),
            ("Matrix SHA-256", env.matrix_hash.clone()),
            ("Run", env.run_id.clone()),
            ("Started", env.started_at.clone()),
            ("Host", env.hostname.clone()),
            ("Kernel", env.kernel.clone()),
            ("CPUs", env.cpus.to_string()),
            ("fio", env.fio.clone()),
            ("iogate", env.iogate.clone()),
        ]
        .into_iter()
        .map(|(label, value)| vec![Cell::text(label), Cell::text(value)])
        .collect(),
        ..Table::default()
    };

    let mut runtimes = Table {
        head: ["Runtime", "Kind", "Handler", "Version", "Where", "Notes"]
            .map(String::from)
            .to_vec(),
        right: vec![false; 6],
        ..Table::default()
    };
    let mut entries: Vec<(&String, &serde_json::Value)> = env.runtimes.iter().collect();
    entries.sort_by_key(|(name, _)| order.iter().position(|o| o == *name).unwrap_or(usize::MAX));
    for (name, value) in entries {
        let mut row = vec![Cell::text(name.clone())];
        match runtime_entry(value) {
            RuntimeEntry::Found(info) => row.extend([
                Cell::text(info.kind),
                Cell::text(info.handler.unwrap_or_default()),
                Cell::text(info.version.unwrap_or_default()),
                Cell::text(info.hosts.join("; ")),
                Cell::text(
                    info.guest
                        .iter()
                        .map(|g| describe_guest(g))
                        .chain(info.notes.iter().cloned())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ]),
            RuntimeEntry::Unavailable(why) => row.extend([
                Cell::with("unavailable", Kind::Skipped),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
                Cell::text(why),
            ]),
            RuntimeEntry::Unreadable(json) => row.extend([
                Cell::with("unreadable", Kind::Skipped),
                Cell::text(""),
                Cell::text(""),
                Cell::text(""),
                Cell::text(json),
            ]),
        }
        runtimes.rows.push(row);
    }
    (facts, runtimes)
}

/// A runtime of `environment.json`: as its fixture found it, or why it is unavailable.
enum RuntimeEntry {
    Found(RuntimeInfo),
    Unavailable(String),
    /// Neither shape: the JSON as written.
    Unreadable(String),
}

fn runtime_entry(value: &serde_json::Value) -> RuntimeEntry {
    if let Some(why) = value.get("unavailable") {
        return RuntimeEntry::Unavailable(
            why.as_str().map_or_else(|| why.to_string(), str::to_owned),
        );
    }
    match serde_json::from_value::<RuntimeInfo>(value.clone()) {
        Ok(info) => RuntimeEntry::Found(info),
        Err(_) => RuntimeEntry::Unreadable(value.to_string()),
    }
}

/// A guest in one line: `guest fio-server-0 on worker-1: kernel 6.1.62, 1 CPU, 1.9 GiB; its
/// directory on virtiofs (rw,relatime)`.
fn describe_guest(guest: &crate::fixture::GuestInfo) -> String {
    let mut parts = Vec::new();
    match (&guest.kernel, &guest.node_kernel) {
        (Some(kernel), Some(node)) if kernel != node => {
            parts.push(format!("kernel {kernel} (the node's {node})"))
        }
        (Some(kernel), _) => parts.push(format!("kernel {kernel}")),
        (None, _) => {}
    }
    if let Some(cpus) = guest.cpus {
        parts.push(format!("{cpus} CPU{}", if cpus == 1 { "" } else { "s" }));
    }
    if let Some(bytes) = guest.memory_bytes {
        parts.push(fmt_bytes(bytes));
    }
    let mut text = format!("guest ({}): {}", guest.seen_by, parts.join(", "));
    if let Some(fs) = &guest.data_fs {
        text.push_str(&format!(
            "; its directory on {fs} ({})",
            guest.data_options.as_deref().unwrap_or("")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_reads_as_one_line() {
        let guest = crate::fixture::GuestInfo {
            seen_by: "fio-server-0 on worker-1".into(),
            kernel: Some("6.1.62".into()),
            node_kernel: Some("6.8.0-1".into()),
            cpus: Some(1),
            memory_bytes: Some(2 << 30),
            data_source: Some("kataShared".into()),
            data_fs: Some("virtiofs".into()),
            data_options: Some("rw,relatime".into()),
        };
        assert_eq!(
            describe_guest(&guest),
            "guest (fio-server-0 on worker-1): kernel 6.1.62 (the node's 6.8.0-1), 1 CPU, 2 GiB; \
             its directory on virtiofs (rw,relatime)"
        );
    }

    fn cell(name: &str, apart: &[Option<f64>]) -> crate::run::CellRecord {
        let reps: Vec<serde_json::Value> = apart
            .iter()
            .map(|a| {
                serde_json::json!({ "bw_bytes": 1.0, "iops": 1.0, "raw": "r.json", "ends_apart_s": a,
                    "lat_ns": { "p50": 1, "p90": 1, "p99": 1, "p99.9": 1 } })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "name": name, "runtime": "r", "kind": "host", "clients": 8, "nodes": 1,
            "placement": [8], "pattern": "read", "status": "passed", "reason": null,
            "bw_bytes": 1.0, "iops": 1.0, "lat_ns": null, "ios": 1, "repetitions": reps,
            "raw": [], "logs": [], "histogram": null,
            "provenance": { "kernel": "", "fio": "", "runtime": { "kind": "host" },
                            "matrix_hash": "", "iogate": "" },
            "started_at": "", "duration_s": 1.0
        }))
        .expect("a cell record")
    }

    #[test]
    fn cells_whose_clients_ended_apart_are_named_with_their_widest_gap() {
        let cells = [
            cell("m/gvisor/c8/read", &[Some(0.1), Some(1.9)]),
            cell("m/runc/c8/read", &[Some(0.19), Some(0.05)]),
            cell("m/host/c1/read", &[None]),
        ];
        assert_eq!(apart_cells(&cells, 2.0), vec![("m/gvisor/c8/read", 1.9)]);
        assert_eq!(apart_cells(&cells, 1.0).len(), 2);
        assert!(apart_cells(&cells, 20.0).is_empty());
        let text = concurrency_text(&apart_cells(&cells, 2.0), 2.0);
        assert!(
            text.contains("tenth of the 2 s runtime")
                && text.contains("`m/gvisor/c8/read` 1.90 s")
                && !text.contains("  "),
            "{text}"
        );
    }

    #[test]
    fn reason_detail_keeps_the_head() {
        let r = "fio failed\n\nline 1\nline 2\nline 3\n";
        assert_eq!(
            reason_detail(r, 2),
            vec!["line 1", "line 2", "… (1 more lines)"]
        );
        assert!(reason_detail("one line", 5).is_empty());
    }
}
