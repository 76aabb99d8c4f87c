//! `iogate compare A B`: two runs cell by cell (matched by name), as ratios B/A of bandwidth, p50
//! and p99, with a verdict per metric and per cell.
//!
//! A metric is "same" when its ratio is within the tolerance (±10 % by default) of 1, widened to
//! the repetitions' relative spread (`(max − min) / mean`) when a side has two or more: a difference
//! smaller than the run-to-run noise is no verdict. Otherwise higher bandwidth and lower latency
//! are "better". A cell is "worse" if any metric is worse and none better, "better" the other way
//! round, "mixed" when both, and "same" when all are.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::table::{Cell, Kind, Table, html_escape as esc};
use crate::report::view::{View, status_word};
use crate::run::{CellRecord, Status, Summary};
use crate::units::{fmt_mib, fmt_us};

/// The default tolerance: ±10 %.
pub const DEFAULT_TOLERANCE: f64 = 0.10;

/// A verdict on one metric or one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Within the tolerance (or the repetitions' spread).
    Same,
    /// Higher bandwidth or lower latency in B.
    Better,
    /// Lower bandwidth or higher latency in B.
    Worse,
    /// Some metrics better, some worse.
    Mixed,
    /// Not comparable: the cell is missing or has no numbers on one side.
    NotComparable,
}

impl Verdict {
    /// The word the tables print.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Mixed => "mixed",
            Verdict::NotComparable => "n/a",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Verdict::Better => Kind::Good,
            Verdict::Worse => Kind::Bad,
            Verdict::Mixed => Kind::Bad,
            Verdict::NotComparable => Kind::Skipped,
            Verdict::Same => Kind::Text,
        }
    }
}

/// One metric of one cell on both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Value in A (bytes/s or ns).
    pub a: f64,
    /// Value in B.
    pub b: f64,
    /// B / A.
    pub ratio: f64,
    /// The relative band within which the ratio counts as "same".
    pub band: f64,
    /// The verdict.
    pub verdict: Verdict,
}

impl Metric {
    /// Compares `a` with `b` (each with its repetitions' values); `higher_is_better` for bandwidth.
    pub fn new(
        a: f64,
        a_reps: &[f64],
        b: f64,
        b_reps: &[f64],
        tolerance: f64,
        higher_is_better: bool,
    ) -> Metric {
        let ratio = if a == b {
            1.0
        } else if a == 0.0 {
            f64::INFINITY
        } else {
            b / a
        };
        let band = tolerance.max(spread(a_reps)).max(spread(b_reps));
        let verdict = if (ratio - 1.0).abs() <= band {
            Verdict::Same
        } else if (ratio > 1.0) == higher_is_better {
            Verdict::Better
        } else {
            Verdict::Worse
        };
        Metric {
            a,
            b,
            ratio,
            band,
            verdict,
        }
    }
}

/// Relative spread `(max − min) / mean` of two or more repetitions; 0 otherwise.
fn spread(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    if mean > 0.0 { (max - min) / mean } else { 0.0 }
}

/// One cell compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Cell name.
    pub name: String,
    /// Aggregate bandwidth (higher is better).
    pub bw: Option<Metric>,
    /// Median completion latency (lower is better).
    pub p50: Option<Metric>,
    /// 99th percentile completion latency (lower is better).
    pub p99: Option<Metric>,
    /// The cell's verdict.
    pub verdict: Verdict,
    /// Why the cell is not comparable.
    pub note: Option<String>,
}

/// Two runs compared cell by cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Label of run A (`matrix/run-id`).
    pub a: String,
    /// Label of run B.
    pub b: String,
    /// The tolerance used.
    pub tolerance: f64,
    /// One row per cell name found in either run: A's order first, then cells only in B.
    pub rows: Vec<Row>,
}

fn side(cell: Option<&CellRecord>, which: &str) -> Option<String> {
    match cell {
        None => Some(format!("not in {which}")),
        Some(c) if c.status != Status::Passed => {
            Some(format!("{} in {which}", status_word(c.status)))
        }
        Some(c) if c.bw_bytes.is_none() || c.lat_ns.is_none() => {
            Some(format!("no numbers in {which}"))
        }
        Some(_) => None,
    }
}

/// Compares run `b` against run `a`.
pub fn compare(a: &Summary, b: &Summary, tolerance: f64) -> Comparison {
    let by_name = |s: &Summary| -> BTreeMap<String, CellRecord> {
        s.cells
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect()
    };
    let (cells_a, cells_b) = (by_name(a), by_name(b));
    let mut names: Vec<String> = Vec::new();
    for s in [a, b] {
        let view = View::new(s, None);
        for p in &view.layout.patterns {
            for r in &view.layout.runtimes {
                for c in &view.layout.clients {
                    if let Some(cell) = view.cell(*p, r, *c)
                        && !names.contains(&cell.name)
                    {
                        names.push(cell.name.clone());
                    }
                }
            }
        }
    }
    let rows = names
        .into_iter()
        .map(|name| {
            let (ca, cb) = (cells_a.get(&name), cells_b.get(&name));
            let missing: Vec<String> = [side(ca, "A"), side(cb, "B")]
                .into_iter()
                .flatten()
                .collect();
            if !missing.is_empty() {
                return Row {
                    name,
                    bw: None,
                    p50: None,
                    p99: None,
                    verdict: Verdict::NotComparable,
                    note: Some(missing.join(", ")),
                };
            }
            let (ca, cb) = (ca.expect("checked"), cb.expect("checked"));
            let (la, lb) = (ca.lat_ns.expect("checked"), cb.lat_ns.expect("checked"));
            let reps = |c: &CellRecord, f: &dyn Fn(&crate::run::Repetition) -> f64| -> Vec<f64> {
                c.repetitions.iter().map(f).collect()
            };
            let bw = Metric::new(
                ca.bw_bytes.expect("checked"),
                &reps(ca, &|r| r.bw_bytes),
                cb.bw_bytes.expect("checked"),
                &reps(cb, &|r| r.bw_bytes),
                tolerance,
                true,
            );
            let p50 = Metric::new(
                la.p50 as f64,
                &reps(ca, &|r| r.lat_ns.p50 as f64),
                lb.p50 as f64,
                &reps(cb, &|r| r.lat_ns.p50 as f64),
                tolerance,
                false,
            );
            let p99 = Metric::new(
                la.p99 as f64,
                &reps(ca, &|r| r.lat_ns.p99 as f64),
                lb.p99 as f64,
                &reps(cb, &|r| r.lat_ns.p99 as f64),
                tolerance,
                false,
            );
            let verdicts = [bw.verdict, p50.verdict, p99.verdict];
            let worse = verdicts.contains(&Verdict::Worse);
            let better = verdicts.contains(&Verdict::Better);
            let verdict = match (worse, better) {
                (true, true) => Verdict::Mixed,
                (true, false) => Verdict::Worse,
                (false, true) => Verdict::Better,
                (false, false) => Verdict::Same,
            };
            Row {
                name,
                bw: Some(bw),
                p50: Some(p50),
                p99: Some(p99),
                verdict,
                note: None,
            }
        })
        .collect();
    Comparison {
        a: format!("{}/{}", a.matrix, a.run_id),
        b: format!("{}/{}", b.matrix, b.run_id),
        tolerance,
        rows,
    }
}

impl Comparison {
    /// How many cells got verdict `v`.
    pub fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }

    /// One line: how many cells are same, better, worse, mixed, not comparable.
    pub fn tally(&self) -> String {
        let parts: Vec<String> = [
            Verdict::Same,
            Verdict::Better,
            Verdict::Worse,
            Verdict::Mixed,
            Verdict::NotComparable,
        ]
        .iter()
        .map(|v| format!("{} {}", self.count(*v), v.as_str()))
        .collect();
        format!("{} cells: {}.", self.rows.len(), parts.join(", "))
    }

    fn table(&self) -> Table {
        let mut t = Table {
            groups: vec![
                (String::new(), 1),
                ("bandwidth, MiB/s".into(), 3),
                ("p50, µs".into(), 3),
                ("p99, µs".into(), 3),
                (String::new(), 1),
            ],
            head: [
                "Cell", "MiB/s A", "MiB/s B", "B/A", "p50 A", "p50 B", "B/A", "p99 A", "p99 B",
                "B/A", "Verdict",
            ]
            .map(String::from)
            .to_vec(),
            html_head: [
                "Cell", "A", "B", "B/A", "A", "B", "B/A", "A", "B", "B/A", "Verdict",
            ]
            .map(String::from)
            .to_vec(),
            right: vec![
                false, true, true, true, true, true, true, true, true, true, false,
            ],
            rows: Vec::new(),
        };
        for row in &self.rows {
            let mut cells = vec![Cell::text(row.name.clone())];
            let metric = |m: Option<Metric>, fmt: &dyn Fn(f64) -> String| -> Vec<Cell> {
                match m {
                    Some(m) => vec![
                        Cell::number(fmt(m.a)),
                        Cell::number(fmt(m.b)),
                        Cell::with(
                            format!("{:.2}", m.ratio),
                            match m.verdict {
                                Verdict::Better => Kind::Good,
                                Verdict::Worse => Kind::Bad,
                                _ => Kind::Number,
                            },
                        ),
                    ],
                    None => vec![Cell::with("–", Kind::Absent); 3],
                }
            };
            cells.extend(metric(row.bw, &|v| fmt_mib(v)));
            cells.extend(metric(row.p50, &|v| fmt_us(v as u64)));
            cells.extend(metric(row.p99, &|v| fmt_us(v as u64)));
            let text = match &row.note {
                Some(n) => format!("{} ({n})", row.verdict.as_str()),
                None => row.verdict.as_str().to_owned(),
            };
            cells.push(Cell::with(text, row.verdict.kind()));
            t.rows.push(cells);
        }
        t
    }

    fn explanation(&self) -> String {
        format!(
            "Ratios are B / A. A metric is \"same\" within ±{:.0} % (or within the repetitions' \
             spread when a side has several); higher bandwidth and lower latency are \"better\".",
            self.tolerance * 100.0
        )
    }

    /// The comparison as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# iogate compare: A `{}` → B `{}`\n", self.a, self.b);
        let _ = writeln!(out, "{}\n\n{}\n", self.tally(), self.explanation());
        out.push_str(&self.table().markdown());
        out
    }

    /// The comparison as a self-contained HTML page.
    pub fn html(&self) -> String {
        let title = format!("iogate compare: {} → {}", self.a, self.b);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
             <style>\nbody {{ font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", \
             Arial, sans-serif; margin: 24px; color: #222; }}\n\
             table {{ border-collapse: collapse; font-size: 14px; }}\n\
             th, td {{ border: 1px solid #d8d8d8; padding: 4px 8px; }}\nthead th {{ background: #f3f5f7; }}\n\
             .num {{ text-align: right; font-variant-numeric: tabular-nums; }}\n\
             td.bad {{ color: #b00020; font-weight: 600; }} td.good {{ color: #1b7f3b; font-weight: 600; }}\n\
             td.skipped, td.absent {{ color: #777; font-style: italic; }}\n</style>\n</head>\n<body>\n\
             <h1>{t}</h1>\n<p>{}</p>\n<p>{}</p>\n{}</body>\n</html>\n",
            esc(&self.tally()),
            esc(&self.explanation()),
            self.table().html("compare"),
            t = esc(&title),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_verdicts() {
        assert_eq!(
            Metric::new(100.0, &[], 100.0, &[], 0.1, true).verdict,
            Verdict::Same
        );
        assert_eq!(
            Metric::new(100.0, &[], 109.0, &[], 0.1, true).verdict,
            Verdict::Same
        );
        assert_eq!(
            Metric::new(100.0, &[], 120.0, &[], 0.1, true).verdict,
            Verdict::Better
        );
        assert_eq!(
            Metric::new(100.0, &[], 120.0, &[], 0.1, false).verdict,
            Verdict::Worse
        );
        assert_eq!(
            Metric::new(100.0, &[], 80.0, &[], 0.1, false).verdict,
            Verdict::Better
        );
        // 20 % apart, but the repetitions of A spread over 30 %: no verdict.
        let m = Metric::new(100.0, &[85.0, 115.0], 120.0, &[120.0], 0.1, true);
        assert_eq!(m.verdict, Verdict::Same);
        assert!((m.band - 0.3).abs() < 1e-9);
    }

    #[test]
    fn spread_needs_two() {
        assert_eq!(spread(&[5.0]), 0.0);
        assert!((spread(&[90.0, 110.0]) - 0.2).abs() < 1e-12);
    }
}
