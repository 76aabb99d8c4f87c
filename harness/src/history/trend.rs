//! Series of one metric per (testbed, cell), oldest run first, and their change points.

use std::collections::HashMap;

use serde::Serialize;

use crate::history::store::{Block, Observation};
use crate::spec::CellId;
use crate::stats::changepoint::{self, Options};
use crate::stats::paired_log_ratio;

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

/// `metric` in one block of a cell.
fn in_block(metric: Metric, b: &Block) -> f64 {
    match metric {
        Metric::Bw => b.bw_bytes,
        Metric::Iops => b.iops,
        Metric::P50 => b.p50_ns as f64,
        Metric::P90 => b.p90_ns as f64,
        Metric::P99 => b.p99_ns as f64,
        Metric::P99_9 => b.p999_ns as f64,
    }
}

/// `metric` of `o` over `reference`'s, both measured in the same run: the geometric mean of the
/// ratios of the blocks both have (block k of each was measured side by side), or the ratio of
/// the cells' aggregates when either has no blocks. Pairing matters: the runner stops measuring
/// a cell once its gates are decided, so two cells' aggregates can cover different stretches of
/// the run (here an unchanged copy over 3 blocks against its reference over 16 came out 0.66×
/// by aggregates and 1.01× block by block).
pub(crate) fn ratio(metric: Metric, o: &Observation, reference: &Observation) -> Option<f64> {
    if o.blocks.is_empty() || reference.blocks.is_empty() {
        let divisor = observed(metric, reference).filter(|v| *v > 0.0)?;
        return Some(observed(metric, o)? / divisor);
    }
    let values =
        |blocks: &[Block]| -> Vec<f64> { blocks.iter().map(|b| in_block(metric, b)).collect() };
    paired_log_ratio(&values(&o.blocks), &values(&reference.blocks)).map(f64::exp)
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
    /// The runtime each value is divided by, when the series is relative.
    pub relative_to: Option<String>,
    /// Passed runs of the cell, oldest first.
    pub points: Vec<Point>,
}

fn metric_name<S: serde::Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

/// The series of `metric` for every (testbed, cell) `filter` lets through, from `observations`
/// in run order (failed and skipped cells leave no point).
///
/// With `relative_to`, each value is the cell's ratio to the cell with that runtime (same
/// matrix, client count and pattern) in the same run, block by block ([`ratio`]). Between runs
/// a machine's speed drifts (the host's read bandwidth here: σ 0.30 in ln over 42 runs), and
/// that drift cancels in the ratio (σ 0.067 for an identical runtime), so a step of 20 % stands
/// out. The reference's own cells, and cells whose run has no passed reference, leave no point.
pub fn series(
    observations: &[Observation],
    filter: &Filter,
    metric: Metric,
    relative_to: Option<&str>,
) -> Vec<Series> {
    let by_cell: HashMap<(&str, &str, &str), &Observation> = observations
        .iter()
        .filter(|_| relative_to.is_some())
        .map(|o| ((o.run_id.as_str(), o.matrix.as_str(), o.cell.as_str()), o))
        .collect();
    // `o`'s point in the series: `None` when it has none.
    let value = |o: &Observation| -> Option<f64> {
        let Some(runtime) = relative_to else {
            return observed(metric, o);
        };
        let id = CellId::parse(&o.cell).filter(|id| id.runtime != runtime)?;
        let name = CellId::new(&id.matrix, runtime, id.clients, id.pattern).name();
        let found = by_cell
            .get(&(o.run_id.as_str(), o.matrix.as_str(), name.as_str()))
            .filter(|r| r.status == "passed")?;
        ratio(metric, o, found)
    };
    let mut all: Vec<Series> = Vec::new();
    for o in observations.iter().filter(|o| filter.matches(o)) {
        let Some(value) = value(o).filter(|_| o.status == "passed") else {
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
                relative_to: relative_to.map(str::to_owned),
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
    /// The runtime the metric is divided by, when the series is relative.
    pub relative_to: Option<String>,
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
    /// Runs of the series from the change on, this one included.
    pub runs_since: usize,
}

impl Shift {
    /// Whether the change is for the worse: less bandwidth or IOPS, more latency.
    pub fn is_worse(&self) -> bool {
        match self.metric {
            Metric::Bw | Metric::Iops => self.change < 0.0,
            Metric::P50 | Metric::P90 | Metric::P99 | Metric::P99_9 => self.change > 0.0,
        }
    }
}

/// Change points of every series of every metric in `metrics` that `filter` lets through,
/// relative to a runtime's cells when `relative_to` names one (see [`series`]).
pub fn detect(
    observations: &[Observation],
    filter: &Filter,
    metrics: &[Metric],
    relative_to: Option<&str>,
    options: &Options,
) -> Vec<Shift> {
    let mut shifts = Vec::new();
    for &metric in metrics {
        for s in series(observations, filter, metric, relative_to) {
            let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
            for cp in changepoint::change_points(&values, options) {
                let at = &s.points[cp.index];
                shifts.push(Shift {
                    testbed: s.testbed.clone(),
                    cell: s.cell.clone(),
                    metric,
                    relative_to: s.relative_to.clone(),
                    index: cp.index,
                    run_id: at.run_id.clone(),
                    started_at: at.started_at.clone(),
                    mean_before: cp.comparison.mean_before,
                    mean_after: cp.comparison.mean_after,
                    change: cp.comparison.forward_change(),
                    pvalue: cp.pvalue,
                    runs_since: s.points.len() - cp.index,
                });
            }
        }
    }
    shifts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1).
    fn noise(seed: u64) -> f64 {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn observation(run: u64, cell: &str, bw: f64, status: &str) -> Observation {
        Observation {
            run_id: format!("run-{run:02}"),
            matrix: "study".into(),
            started_at: format!("2026-01-01T00:{run:02}:00Z"),
            testbed: "lab1".into(),
            git_commit: None,
            cell: cell.into(),
            status: status.into(),
            reason: None,
            bw_bytes: Some(bw),
            iops: Some(bw / 65536.0),
            p50_ns: Some(500_000),
            p90_ns: None,
            p99_ns: Some(2_000_000),
            p999_ns: None,
            ios: Some(1000),
            blocks: [0.99, 1.01].map(|f| block(bw * f)).to_vec(),
        }
    }

    fn block(bw: f64) -> Block {
        Block {
            bw_bytes: bw,
            iops: bw / 65536.0,
            p50_ns: 500_000,
            p90_ns: 900_000,
            p99_ns: 2_000_000,
            p999_ns: 4_000_000,
        }
    }

    #[test]
    fn a_ratio_pairs_the_blocks_both_cells_have() {
        // The copy was decided after 3 blocks; its reference went on for 13 more while the
        // machine sped up threefold: aggregates say 0.38×, the blocks side by side 1×.
        let mut copy = observation(1, "study/copy/c1/read", 1e9, "passed");
        copy.blocks = vec![block(1e9); 3];
        let mut host = observation(
            1,
            "study/host/c1/read",
            1e9 * (3.0 + 13.0 * 3.0) / 16.0,
            "passed",
        );
        host.blocks = [vec![block(1e9); 3], vec![block(3e9); 13]].concat();
        assert!((ratio(Metric::Bw, &copy, &host).unwrap() - 1.0).abs() < 1e-12);
        let by_aggregates = copy.bw_bytes.unwrap() / host.bw_bytes.unwrap();
        assert!((by_aggregates - 0.381).abs() < 0.001, "{by_aggregates}");
        // Without blocks (an import of an older record), the aggregates are all there is.
        copy.blocks.clear();
        assert!((ratio(Metric::Bw, &copy, &host).unwrap() - by_aggregates).abs() < 1e-12);
    }

    /// 40 runs whose machine speed drifts ±30 % from run to run; gVisor loses 20 % of its
    /// bandwidth from run 30 on; in run 5 the host cell failed.
    fn drifting_runs() -> Vec<Observation> {
        (0..40u64)
            .flat_map(|n| {
                let machine = 1.0 + 0.3 * noise(n + 100);
                let step = if n >= 30 { 0.8 } else { 1.0 };
                let host_status = if n == 5 { "failed" } else { "passed" };
                [
                    observation(
                        n,
                        "study/gvisor/c4/randread",
                        0.5e9 * machine * step * (1.0 + 0.01 * noise(n)),
                        "passed",
                    ),
                    observation(
                        n,
                        "study/host/c4/randread",
                        1e9 * machine * (1.0 + 0.01 * noise(n + 50)),
                        host_status,
                    ),
                ]
            })
            .collect()
    }

    #[test]
    fn a_relative_series_divides_by_the_reference_of_the_same_run() {
        let observations = drifting_runs();
        let all = series(&observations, &Filter::default(), Metric::Bw, Some("host"));
        assert_eq!(all.len(), 1, "the reference's own cells leave no series");
        let gvisor = &all[0];
        assert_eq!(gvisor.cell, "study/gvisor/c4/randread");
        assert_eq!(gvisor.relative_to.as_deref(), Some("host"));
        assert_eq!(gvisor.points.len(), 39, "run 5's host failed: no ratio");
        assert!(gvisor.points.iter().all(|p| p.run_id != "run-05"));
        for p in &gvisor.points[..29] {
            assert!((p.value - 0.5).abs() < 0.02, "{p:?}");
        }
        let absolute = series(&observations, &Filter::default(), Metric::Bw, None);
        assert_eq!(absolute.len(), 2);
        assert!(absolute.iter().all(|s| s.relative_to.is_none()));
    }

    #[test]
    fn a_step_hidden_by_machine_drift_shows_relative_to_the_host() {
        let observations = drifting_runs();
        let only_gvisor = Filter {
            cell: Some("*/gvisor/*".into()),
            ..Filter::default()
        };
        let options = Options::default();
        let relative = detect(
            &observations,
            &only_gvisor,
            &[Metric::Bw],
            Some("host"),
            &options,
        );
        assert_eq!(relative.len(), 1, "{relative:#?}");
        // Run 5 left no point, so run 30 is point 29.
        assert_eq!(relative[0].index, 29);
        assert_eq!(relative[0].run_id, "run-30");
        assert!((relative[0].change + 0.2).abs() < 0.02, "{:?}", relative[0]);
        assert_eq!(relative[0].relative_to.as_deref(), Some("host"));
        assert_eq!(relative[0].runs_since, 10);
        assert!(relative[0].is_worse());
        let absolute = detect(&observations, &only_gvisor, &[Metric::Bw], None, &options);
        assert!(absolute.is_empty(), "{absolute:#?}");
    }

    #[test]
    fn globs() {
        assert!(glob_matches("smoke/*/c8/*", "smoke/host/c8/randread"));
        assert!(glob_matches("*read", "smoke/host/c8/randread"));
        assert!(glob_matches("smoke/host/c?/read", "smoke/host/c8/read"));
        assert!(!glob_matches("smoke/*/c16/*", "smoke/host/c8/randread"));
        assert!(glob_matches("*", ""));
    }
}
