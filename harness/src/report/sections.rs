//! The content of a report, independent of its format: tables, gate verdicts, environment and
//! notes, as [`Table`]s and plain text that `markdown` and `html` render.

use serde_json::Value;

use crate::report::load::Run;
use crate::report::table::{Cell, Kind, Table};
use crate::report::view::{View, status_word};
use crate::run::Status;
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

/// `environment.json` as two tables: the machine and tools, and one row per runtime (in `order`,
/// then any others by name).
pub(crate) fn environment(value: &Value, order: &[String]) -> (Table, Table) {
    let mut facts = Table {
        head: vec!["".into(), "".into()],
        right: vec![false, false],
        ..Table::default()
    };
    const ORDER: [(&str, &str); 10] = [
        ("matrix", "Matrix"),
        ("matrix_path", "Matrix file"),
        ("matrix_hash", "Matrix SHA-256"),
        ("run_id", "Run"),
        ("started_at", "Started"),
        ("hostname", "Host"),
        ("kernel", "Kernel"),
        ("cpus", "CPUs"),
        ("fio", "fio"),
        ("iogate", "iogate"),
    ];
    let obj = value.as_object();
    for (key, label) in ORDER {
        if let Some(v) = obj.and_then(|o| o.get(key)) {
            facts
                .rows
                .push(vec![Cell::text(label), Cell::text(scalar(v))]);
        }
    }
    if let Some(o) = obj {
        let mut rest: Vec<(&String, &Value)> = o
            .iter()
            .filter(|(k, _)| k.as_str() != "runtimes" && !ORDER.iter().any(|(o, _)| o == k))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in rest {
            facts
                .rows
                .push(vec![Cell::text(k.clone()), Cell::text(scalar(v))]);
        }
    }
    facts.head = vec!["Item".into(), "Value".into()];

    let mut runtimes = Table {
        head: ["Runtime", "Kind", "Handler", "Version", "Where", "Notes"]
            .map(String::from)
            .to_vec(),
        right: vec![false; 6],
        ..Table::default()
    };
    if let Some(map) = obj
        .and_then(|o| o.get("runtimes"))
        .and_then(Value::as_object)
    {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries
            .sort_by_key(|(name, _)| order.iter().position(|o| o == *name).unwrap_or(usize::MAX));
        for (name, info) in entries {
            let get = |k: &str| info.get(k).map(scalar).unwrap_or_default();
            if let Some(why) = info.get("unavailable") {
                runtimes.rows.push(vec![
                    Cell::text(name.clone()),
                    Cell::with("unavailable", Kind::Skipped),
                    Cell::text(""),
                    Cell::text(""),
                    Cell::text(""),
                    Cell::text(scalar(why)),
                ]);
            } else {
                runtimes.rows.push(vec![
                    Cell::text(name.clone()),
                    Cell::text(get("kind")),
                    Cell::text(get("handler")),
                    Cell::text(get("version")),
                    Cell::text(get("hosts")),
                    Cell::text(get("notes")),
                ]);
            }
        }
    }
    (facts, runtimes)
}

/// A JSON value as one line of text: strings bare, arrays joined with "; ", objects compact.
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() != 0.0 => {
                let s = format!("{f:.4}");
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            _ => n.to_string(),
        },
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(scalar).collect::<Vec<_>>().join("; ")
        }
        other => {
            let s = other.to_string();
            if s.chars().count() > 160 {
                format!("{}…", s.chars().take(160).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// Gate verdicts from `gates.json`, whatever its exact shape: scalar facts, and a table of the
/// gates (the first array of objects, or an object of objects keyed by gate name).
#[derive(Debug, Clone, Default)]
pub(crate) struct Gates {
    /// Top-level scalar fields (`passed: false`, `threshold: 0.1`, ...).
    pub facts: Vec<(String, Cell)>,
    /// One row per gate.
    pub table: Option<Table>,
    /// Rows with a failing verdict.
    pub failed: usize,
    /// Rows in all.
    pub total: usize,
}

/// Columns whose words are verdicts.
fn is_verdict_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "verdict", "status", "result", "pass", "ok", "outcome", "state", "fail", "regress",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// A value as a verdict cell: good or bad words get their colour.
fn verdict_cell(key: &str, v: &Value) -> Cell {
    let text = scalar(v);
    if !is_verdict_key(key) {
        let kind = if v.is_number() {
            Kind::Number
        } else {
            Kind::Text
        };
        return Cell::with(text, kind);
    }
    if v.is_number() {
        return Cell::with(text, Kind::Number);
    }
    let lower = text.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    // `failed: true` or `regressed: true` is bad news; `passed: true` is good news.
    let inverted = key.contains("fail") || key.contains("regress");
    let good = [
        "pass", "passed", "ok", "true", "same", "better", "within", "green", "success",
    ];
    let bad = [
        "fail",
        "failed",
        "false",
        "worse",
        "regression",
        "regressed",
        "error",
        "red",
        "failure",
    ];
    let kind = match lower.as_str() {
        "true" if inverted => Kind::Bad,
        "false" if inverted => Kind::Good,
        w if bad.contains(&w) => Kind::Bad,
        w if good.contains(&w) => Kind::Good,
        _ => Kind::Text,
    };
    Cell::with(text, kind)
}

/// Reads gate verdicts out of `gates.json`.
pub(crate) fn gates(value: &Value) -> Gates {
    let mut g = Gates::default();
    let rows: Vec<(Option<String>, &Value)> = match value {
        Value::Array(items) => items.iter().map(|i| (None, i)).collect(),
        Value::Object(map) => {
            for (k, v) in map {
                if !v.is_array() && !v.is_object() {
                    g.facts.push((k.clone(), verdict_cell(k, v)));
                }
            }
            let preferred = ["gates", "verdicts", "results", "checks"];
            let list = preferred
                .iter()
                .filter_map(|k| map.get(*k))
                .chain(map.values())
                .find(|v| {
                    v.as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object))
                });
            match list {
                Some(Value::Array(items)) => items.iter().map(|i| (None, i)).collect(),
                _ => {
                    let objects: Vec<(Option<String>, &Value)> = map
                        .iter()
                        .filter(|(_, v)| v.is_object())
                        .map(|(k, v)| (Some(k.clone()), v))
                        .collect();
                    objects
                }
            }
        }
        _ => Vec::new(),
    };
    if rows.is_empty() {
        return g;
    }
    let keyed = rows.iter().any(|(k, _)| k.is_some());
    let mut columns: Vec<String> = Vec::new();
    for (_, row) in &rows {
        if let Value::Object(o) = row {
            for k in o.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    // JSON objects come back with sorted keys: put naming columns first and verdicts last.
    const FIRST: [&str; 9] = [
        "name", "gate", "id", "cell", "metric", "runtime", "pattern", "clients", "kind",
    ];
    let rank = |k: &String| match FIRST.iter().position(|f| f == k) {
        Some(i) => i,
        None if is_verdict_key(k) => FIRST.len() + 1,
        None => FIRST.len(),
    };
    columns.sort_by_key(|k| rank(k));
    let mut t = Table::default();
    if keyed {
        t.head.push("gate".into());
        t.right.push(false);
    }
    if columns.is_empty() {
        t.head.push("value".into());
        t.right.push(false);
    }
    for c in &columns {
        t.head.push(c.clone());
        t.right.push(false);
    }
    for (key, row) in &rows {
        let mut cells = Vec::new();
        if keyed {
            cells.push(Cell::text(key.clone().unwrap_or_default()));
        }
        match row {
            Value::Object(o) => {
                for c in &columns {
                    cells.push(
                        o.get(c)
                            .map(|v| verdict_cell(c, v))
                            .unwrap_or_else(|| Cell::text("")),
                    );
                }
            }
            other => cells.push(Cell::text(scalar(other))),
        }
        if cells.iter().any(|c| c.kind == Kind::Bad) {
            g.failed += 1;
        }
        t.rows.push(cells);
    }
    for (i, _) in t.head.iter().enumerate() {
        let numeric = t.rows.iter().all(|r| {
            r.get(i)
                .is_none_or(|c| c.kind == Kind::Number || c.text.is_empty())
        });
        t.right[i] = numeric && !t.rows.is_empty();
    }
    g.total = t.rows.len();
    g.table = Some(t);
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gates_from_an_array_of_objects() {
        let g = gates(&json!({
            "passed": false,
            "gates": [
                {"name": "bw", "cell": "smoke/runc/c1/read", "verdict": "pass", "ratio": 0.98},
                {"name": "p99", "cell": "smoke/runc/c1/read", "verdict": "fail", "ratio": 1.52}
            ]
        }));
        assert_eq!((g.failed, g.total), (1, 2));
        assert_eq!(g.facts[0].1.kind, Kind::Bad);
        let md = g.table.unwrap().markdown();
        assert!(
            md.contains("| p99 | smoke/runc/c1/read | 1.52 | **fail** |"),
            "{md}"
        );
    }

    #[test]
    fn gates_keyed_by_name() {
        let g = gates(&json!({"runc-vs-host": {"ok": true}, "gvisor-vs-host": {"ok": false}}));
        assert_eq!((g.failed, g.total), (1, 2));
        let md = g.table.unwrap().markdown();
        assert!(md.contains("| gvisor-vs-host | **false** |"), "{md}");
    }

    #[test]
    fn inverted_verdict_keys() {
        assert_eq!(verdict_cell("failed", &json!(false)).kind, Kind::Good);
        assert_eq!(verdict_cell("failed", &json!(true)).kind, Kind::Bad);
        assert_eq!(verdict_cell("regressed", &json!(true)).kind, Kind::Bad);
        assert_eq!(verdict_cell("passed", &json!(true)).kind, Kind::Good);
        assert_eq!(verdict_cell("passed", &json!(false)).kind, Kind::Bad);
        assert_eq!(verdict_cell("verdict", &json!("worse")).kind, Kind::Bad);
        assert_eq!(verdict_cell("ratio", &json!(1.5)).kind, Kind::Number);
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
