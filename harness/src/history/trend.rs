//! Series of one metric per (testbed, cell), oldest run first, and their change points.

use serde::Serialize;

use crate::history::store::Observation;
use crate::stats::changepoint::{self, Options};

pub use crate::spec::Metric;

/// The metrics `detect` looks at by default.
pub const DETECTED: [Metric; 4] = [Metric::Bw, Metric::Iops, Metric::P50, Metric::P99];

/// `metric` in an observation of a cell (`None` when the cell has no numbers).
pub fn observed(metric: Metric, o: &Observation) -> Option<f64> {
    let ns = |v: Option<i64>| v.map(|v| v as f64);
    match metric {
        Metric::Bw => o.bw_bytes,
        Metric::Iops => o.iops,
        Metric::P50 => ns(o.p50_ns),
        Metric::P90 => ns(o.p90_ns),
        Metric::P99 => ns(o.p99_ns),
        Metric::P99_9 => ns(o.p999_ns),
    }
}

/// Which observations a command looks at.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this matrix.
    pub matrix: Option<String>,
    /// Only cells whose name matches this glob (`*` any text, `?` one character).
    pub cell: Option<String>,
    /// Only this testbed.
    pub testbed: Option<String>,
}

impl Filter {
    /// Whether `o` passes every given condition.
    pub fn matches(&self, o: &Observation) -> bool {
        self.matrix.as_ref().is_none_or(|m| *m == o.matrix)
            && self.testbed.as_ref().is_none_or(|t| *t == o.testbed)
            && self.cell.as_ref().is_none_or(|g| glob_matches(g, &o.cell))
    }
}

/// Whether `text` matches `pattern` (`*` any text, `?` one character, the rest literally).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Run id.
    pub run_id: String,
    /// When the run started.
    pub started_at: String,
    /// The metric's value.
    pub value: f64,
}

/// A metric of one cell on one testbed, run after run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The testbed's name.
    pub testbed: String,
    /// Cell name.
    pub cell: String,
    /// The metric.
    #[serde(serialize_with = "metric_name")]
    pub metric: Metric,
    /// Passed runs of the cell, oldest first.
    pub points: Vec<Point>,
}

fn metric_name<S: serde::Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

/// The series of `metric` for every (testbed, cell) `filter` lets through, from `observations`
/// in run order (failed and skipped cells leave no point).
pub fn series(observations: &[Observation], filter: &Filter, metric: Metric) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for o in observations.iter().filter(|o| filter.matches(o)) {
        let Some(value) = observed(metric, o).filter(|_| o.status == "passed") else {
            continue;
        };
        let point = Point {
            run_id: o.run_id.clone(),
            started_at: o.started_at.clone(),
            value,
        };
        match all
            .iter_mut()
            .find(|s| s.testbed == o.testbed && s.cell == o.cell)
        {
            Some(s) => s.points.push(point),
            None => all.push(Series {
                testbed: o.testbed.clone(),
                cell: o.cell.clone(),
                metric,
                points: vec![point],
            }),
        }
    }
    all.sort_by(|a, b| (&a.testbed, &a.cell).cmp(&(&b.testbed, &b.cell)));
    all
}

/// A change point of a series, in the terms of its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    /// The testbed's name.
    pub testbed: String,
    /// Cell name.
    pub cell: String,
    /// The metric.
    #[serde(serialize_with = "metric_name")]
    pub metric: Metric,
    /// Index in the series (0-based) of the first run after the change.
    pub index: usize,
    /// That run.
    pub run_id: String,
    /// When it started.
    pub started_at: String,
    /// Mean before the change (back to the previous change point).
    pub mean_before: f64,
    /// Mean after it (up to the next one).
    pub mean_after: f64,
    /// `mean_after / mean_before − 1`.
    pub change: f64,
    /// Student-t p-value of the two segments, corrected for the choice of the split.
    pub pvalue: f64,
}

/// Change points of every series of every metric in `metrics` that `filter` lets through.
pub fn detect(
    observations: &[Observation],
    filter: &Filter,
    metrics: &[Metric],
    options: &Options,
) -> Vec<Shift> {
    let mut shifts = Vec::new();
    for &metric in metrics {
        for s in series(observations, filter, metric) {
            let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
            for cp in changepoint::change_points(&values, options) {
                let at = &s.points[cp.index];
                shifts.push(Shift {
                    testbed: s.testbed.clone(),
                    cell: s.cell.clone(),
                    metric,
                    index: cp.index,
                    run_id: at.run_id.clone(),
                    started_at: at.started_at.clone(),
                    mean_before: cp.comparison.mean_before,
                    mean_after: cp.comparison.mean_after,
                    change: cp.comparison.forward_change(),
                    pvalue: cp.pvalue,
                });
            }
        }
    }
    shifts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("smoke/*/c8/*", "smoke/host/c8/randread"));
        assert!(glob_matches("*read", "smoke/host/c8/randread"));
        assert!(glob_matches("smoke/host/c?/read", "smoke/host/c8/read"));
        assert!(!glob_matches("smoke/*/c16/*", "smoke/host/c8/randread"));
        assert!(glob_matches("*", ""));
    }
}
