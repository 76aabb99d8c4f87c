//! `iogate compare A B` rendered: the judge's [`RunComparison`] as a markdown table, an HTML page
//! and a one-line tally.

use std::fmt::Write as _;

use crate::judge::Verdict;
use crate::judge::compare::{CellComparison, Change, MetricComparison, RunComparison};
use crate::report::gates::verdict_kind;
use crate::report::table::{Cell, Kind, Table, html_escape as esc};
use crate::spec::Metric;
use crate::units::{fmt_mib, fmt_us, sig3};

/// One line: how many cells pass, fail, are inconclusive or skipped, and how their point
/// estimates moved.
pub fn tally(c: &RunComparison) -> String {
    let verdicts: Vec<String> = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Inconclusive,
        Verdict::Skipped,
    ]
    .iter()
    .map(|v| format!("{} {}", c.count(*v), v.as_str().to_lowercase()))
    .collect();
    let changes: Vec<String> = [Change::Same, Change::Better, Change::Worse, Change::Mixed]
        .iter()
        .map(|ch| format!("{} {}", c.count_change(*ch), ch.as_str()))
        .collect();
    format!(
        "{} cells: {}; {}.",
        c.cells.len(),
        verdicts.join(", "),
        changes.join(", ")
    )
}

/// A metric's heading (HTML group), its markdown column prefix, and how its values print.
fn heading(metric: Metric) -> (String, String, fn(f64) -> String) {
    match metric {
        Metric::Bw => ("bandwidth, MiB/s".into(), "MiB/s".into(), fmt_mib),
        Metric::Iops => ("IOPS".into(), "IOPS".into(), sig3),
        latency => (format!("{latency}, µs"), format!("{latency} µs"), |ns| {
            fmt_us(ns.round() as u64)
        }),
    }
}

fn change_kind(change: Change) -> Kind {
    match change {
        Change::Better => Kind::Good,
        Change::Worse | Change::Mixed => Kind::Bad,
        Change::Same => Kind::Number,
    }
}

fn metric_cells(m: Option<&MetricComparison>, format: fn(f64) -> String) -> Vec<Cell> {
    let Some(m) = m else {
        return vec![Cell::with("–", Kind::Absent); 3];
    };
    let (lo, hi) = m.interval.range();
    vec![
        Cell::number(format(m.a)),
        Cell::number(format(m.b)),
        Cell::with(
            format!("{:.2} [{:.2}, {:.2}]", m.ratio(), lo, hi),
            change_kind(m.change),
        ),
    ]
}

fn verdict_cell(cell: &CellComparison) -> Cell {
    let mut text = cell.verdict.as_str().to_owned();
    if let Some(change) = cell.change() {
        let _ = write!(text, ", {}", change.as_str());
    }
    if let Some(note) = &cell.note {
        let _ = write!(text, " ({note})");
    }
    Cell::with(text, verdict_kind(cell.verdict))
}

fn table(c: &RunComparison) -> Table {
    let pct = (c.options.confidence * 100.0).round();
    let mut t = Table {
        groups: vec![(String::new(), 1)],
        head: vec!["Cell".into()],
        html_head: vec!["Cell".into()],
        right: vec![false],
        rows: Vec::new(),
    };
    for metric in &c.options.metrics {
        let (label, prefix, _) = heading(*metric);
        t.groups.push((label, 3));
        t.head.extend([
            format!("{prefix} A"),
            format!("{prefix} B"),
            format!("B/A [{pct} %]"),
        ]);
        t.html_head
            .extend(["A".into(), "B".into(), format!("B/A [{pct} %]")]);
        t.right.extend([true, true, true]);
    }
    t.groups.push((String::new(), 1));
    t.head.push("Verdict".into());
    t.html_head.push("Verdict".into());
    t.right.push(false);
    for cell in &c.cells {
        let mut row = vec![Cell::text(cell.name.clone())];
        for metric in &c.options.metrics {
            row.extend(metric_cells(cell.metric(*metric), heading(*metric).2));
        }
        row.push(verdict_cell(cell));
        t.rows.push(row);
    }
    t
}

fn explanation(c: &RunComparison) -> String {
    let t = c.options.threshold;
    format!(
        "Ratios are B / A of the repetitions' geometric means, with their {:.0} % interval on a log \
         scale (the repetitions' own noise pooled with a prior σ = {} of ln(metric)). A cell passes when \
         the whole interval shows bandwidth at least A / {} and latency at most A × {} (a {}% \
         threshold), fails when the whole interval is beyond that, and is inconclusive otherwise. \
         better / same / worse classify the ratio itself against the same threshold; an \
         improvement never fails.",
        c.options.confidence * 100.0,
        c.options.noise_prior.sigma,
        sig3(1.0 + t),
        sig3(1.0 + t),
        sig3(t * 100.0),
    )
}

/// The comparison as markdown.
pub fn markdown(c: &RunComparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# iogate compare: A `{}` → B `{}`\n", c.a, c.b);
    let _ = writeln!(out, "{}\n\n{}\n", tally(c), explanation(c));
    out.push_str(&table(c).markdown());
    out
}

/// The comparison as a self-contained HTML page.
pub fn html(c: &RunComparison) -> String {
    let title = format!("iogate compare: {} → {}", c.a, c.b);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>\nbody {{ font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", \
         Arial, sans-serif; margin: 24px; color: #222; }}\n\
         table {{ border-collapse: collapse; font-size: 14px; }}\n\
         th, td {{ border: 1px solid #d8d8d8; padding: 4px 8px; }}\nthead th {{ background: #f3f5f7; }}\n\
         .num {{ text-align: right; font-variant-numeric: tabular-nums; }}\n\
         td.bad {{ color: #b00020; font-weight: 600; }} td.good {{ color: #1b7f3b; font-weight: 600; }}\n\
         td.warn {{ color: #8a5a00; background: #fff8e1; font-weight: 600; }}\n\
         td.skipped, td.absent {{ color: #777; font-style: italic; }}\n</style>\n</head>\n<body>\n\
         <h1>{t}</h1>\n<p>{}</p>\n<p>{}</p>\n{}</body>\n</html>\n",
        esc(&tally(c)),
        esc(&explanation(c)),
        table(c).html("compare"),
        t = esc(&title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_carry_the_unit() {
        assert_eq!(heading(Metric::Bw).0, "bandwidth, MiB/s");
        assert_eq!(heading(Metric::P99).0, "p99, µs");
        assert_eq!(heading(Metric::P99).1, "p99 µs");
        assert_eq!((heading(Metric::P50).2)(89_400.0), "89");
    }
}
