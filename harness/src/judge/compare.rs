//! `iogate compare A B`: two runs cell by cell (matched by name), each metric as the ratio B/A on
//! a log scale, judged like a gate.
//!
//! Per cell and metric, the interval of `ln(B/A)` comes from [`relative_interval`] over both
//! sides' repetitions (paired t when both have the same k, else Welch), with the gates' noise
//! prior pooled in. B is acceptable when its bandwidth (or IOPS) is at least `A / (1 + threshold)`
//! and its latency at most `A · (1 + threshold)`; [`verdict`] turns the interval and that bound
//! into pass, fail or inconclusive. An improvement is never a failure. A cell's verdict is the
//! worst of its metrics'; a cell without repetitions on a side is skipped, with the reason.
//!
//! Separately, the point estimate is classified as better, same or worse (same: within the
//! threshold either way) for people reading the table.

use std::collections::BTreeMap;

use crate::judge::verdict::{Verdict, metric_of, verdict};
use crate::run::{CellRecord, Status, Summary};
use crate::spec::gate::DEFAULT_CONFIDENCE;
use crate::spec::{Direction, Metric, Pattern};
use crate::stats::{LogInterval, NoisePrior, geometric_mean, relative_interval};

/// The default practical threshold: B may be 10 % worse than A before it fails.
pub const DEFAULT_THRESHOLD: f64 = 0.10;

/// The metrics compared unless told otherwise.
pub(crate) const DEFAULT_METRICS: [Metric; 3] = [Metric::Bw, Metric::P50, Metric::P99];

/// How two runs are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Relative change B may show on the worse side of A and still pass (0.10: bandwidth down to
    /// A / 1.1, latency up to A × 1.1).
    pub threshold: f64,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Noise assumed per repetition, pooled with the repetitions' own.
    pub noise_prior: NoisePrior,
    /// The metrics compared, in table order.
    pub metrics: Vec<Metric>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            threshold: DEFAULT_THRESHOLD,
            confidence: DEFAULT_CONFIDENCE,
            noise_prior: NoisePrior::default(),
            metrics: DEFAULT_METRICS.to_vec(),
        }
    }
}

impl CompareOptions {
    /// Which side of the bound passes for `metric`: more bandwidth and IOPS, less latency.
    pub fn direction(metric: Metric) -> Direction {
        match metric {
            Metric::Bw | Metric::Iops => Direction::AtLeast,
            Metric::P50 | Metric::P90 | Metric::P99 | Metric::P99_9 => Direction::AtMost,
        }
    }

    /// The bound on B/A for `metric`: `1 / (1 + threshold)` for bandwidth and IOPS,
    /// `1 + threshold` for latency.
    pub fn bound(&self, metric: Metric) -> f64 {
        match Self::direction(metric) {
            Direction::AtLeast => 1.0 / (1.0 + self.threshold),
            Direction::AtMost => 1.0 + self.threshold,
        }
    }
}

/// The point estimate of B/A as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Within the threshold either way.
    Same,
    /// Higher bandwidth or lower latency in B, beyond the threshold.
    Better,
    /// Lower bandwidth or higher latency in B, beyond the threshold.
    Worse,
    /// A cell with some metrics better and some worse.
    Mixed,
}

impl Change {
    /// The word the tables print.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Better => "better",
            Change::Worse => "worse",
            Change::Mixed => "mixed",
        }
    }
}

/// One metric of one cell on both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricComparison {
    /// The metric.
    pub metric: Metric,
    /// Geometric mean of A's repetitions (bytes/s, IOPS or ns).
    pub a: f64,
    /// Geometric mean of B's repetitions.
    pub b: f64,
    /// Repetitions of A and of B.
    pub k: (usize, usize),
    /// Interval of `ln(B/A)`.
    pub interval: LogInterval,
    /// The bound on B/A it was judged against.
    pub bound: f64,
    /// The point estimate, classified.
    pub change: Change,
    /// The interval against the bound.
    pub verdict: Verdict,
}

impl MetricComparison {
    /// B/A: the ratio of the geometric means.
    pub fn ratio(&self) -> f64 {
        self.interval.center()
    }
}

/// One cell compared.
#[derive(Debug, Clone, PartialEq)]
pub struct CellComparison {
    /// Cell name.
    pub name: String,
    /// The metrics that could be compared, in the options' order (empty when the cell is missing
    /// or has no repetitions on a side).
    pub metrics: Vec<MetricComparison>,
    /// The worst verdict of its metrics; skipped when none could be compared.
    pub verdict: Verdict,
    /// Why the cell or some metric could not be compared.
    pub note: Option<String>,
}

impl CellComparison {
    /// The comparison of `metric`, when it could be made.
    pub fn metric(&self, metric: Metric) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric == metric)
    }

    /// Better, worse, mixed or same over its metrics' point estimates; `None` when nothing was
    /// compared.
    pub fn change(&self) -> Option<Change> {
        if self.metrics.is_empty() {
            return None;
        }
        let has = |c: Change| self.metrics.iter().any(|m| m.change == c);
        Some(match (has(Change::Better), has(Change::Worse)) {
            (true, true) => Change::Mixed,
            (true, false) => Change::Better,
            (false, true) => Change::Worse,
            (false, false) => Change::Same,
        })
    }
}

/// Two runs compared cell by cell.
#[derive(Debug, Clone, PartialEq)]
pub struct RunComparison {
    /// Label of run A (`matrix/run-id`).
    pub a: String,
    /// Label of run B.
    pub b: String,
    /// The options used.
    pub options: CompareOptions,
    /// One row per cell name found in either run, pattern-major, then runtime (first seen), then
    /// clients.
    pub cells: Vec<CellComparison>,
}

impl RunComparison {
    /// How many cells got verdict `v`.
    pub fn count(&self, v: Verdict) -> usize {
        self.cells.iter().filter(|c| c.verdict == v).count()
    }

    /// How many cells' point estimates are `c`.
    pub fn count_change(&self, c: Change) -> usize {
        self.cells.iter().filter(|r| r.change() == Some(c)).count()
    }

    /// The worst cell verdict (pass for no cells).
    pub fn verdict(&self) -> Verdict {
        self.cells
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
}

/// Why a side's record cannot be compared, if it cannot.
fn unusable(cell: Option<&CellRecord>, side: &str) -> Option<String> {
    match cell {
        None => Some(format!("not in {side}")),
        Some(c) if c.status == Status::Failed => Some(format!("failed in {side}")),
        Some(c) if c.status == Status::Skipped => Some(format!("skipped in {side}")),
        Some(c) if c.repetitions.is_empty() => Some(format!("no repetitions in {side}")),
        Some(_) => None,
    }
}

fn compare_metric(
    metric: Metric,
    a: &CellRecord,
    b: &CellRecord,
    options: &CompareOptions,
) -> Option<MetricComparison> {
    let values = |c: &CellRecord| -> Vec<f64> {
        c.repetitions.iter().map(|r| metric_of(metric, r)).collect()
    };
    let (va, vb) = (values(a), values(b));
    let interval = relative_interval(&vb, &va, options.confidence, options.noise_prior)?;
    let direction = CompareOptions::direction(metric);
    let bound = options.bound(metric);
    let ratio = interval.center();
    let (worse, better) = match direction {
        Direction::AtLeast => (ratio < bound, ratio > 1.0 / bound),
        Direction::AtMost => (ratio > bound, ratio < 1.0 / bound),
    };
    Some(MetricComparison {
        metric,
        a: geometric_mean(&va)?,
        b: geometric_mean(&vb)?,
        k: (va.len(), vb.len()),
        interval,
        bound,
        change: if worse {
            Change::Worse
        } else if better {
            Change::Better
        } else {
            Change::Same
        },
        verdict: verdict(&interval, direction, bound),
    })
}

fn compare_cell(
    name: String,
    a: Option<&CellRecord>,
    b: Option<&CellRecord>,
    options: &CompareOptions,
) -> CellComparison {
    let missing: Vec<String> = [unusable(a, "A"), unusable(b, "B")]
        .into_iter()
        .flatten()
        .collect();
    let (Some(a), Some(b)) = (a, b) else {
        return skipped(name, missing);
    };
    if !missing.is_empty() {
        return skipped(name, missing);
    }
    let mut metrics = Vec::new();
    let mut uncompared = Vec::new();
    for metric in &options.metrics {
        match compare_metric(*metric, a, b, options) {
            Some(m) => metrics.push(m),
            None => uncompared.push(metric.as_str()),
        }
    }
    if metrics.is_empty() {
        return skipped(
            name,
            vec!["no metric is positive in every repetition".into()],
        );
    }
    let mut verdict = metrics
        .iter()
        .map(|m| m.verdict)
        .max()
        .unwrap_or(Verdict::Skipped);
    let note = if uncompared.is_empty() {
        None
    } else {
        verdict = verdict.max(Verdict::Inconclusive);
        Some(format!(
            "{} zero or missing in a repetition",
            uncompared.join(", ")
        ))
    };
    CellComparison {
        name,
        metrics,
        verdict,
        note,
    }
}

fn skipped(name: String, reasons: Vec<String>) -> CellComparison {
    CellComparison {
        name,
        metrics: Vec::new(),
        verdict: Verdict::Skipped,
        note: Some(reasons.join(", ")),
    }
}

/// Compares run `b` against run `a`.
pub fn compare(a: &Summary, b: &Summary, options: CompareOptions) -> RunComparison {
    // The last record of a name wins, as in the report.
    let by_name = |s: &Summary| -> BTreeMap<String, CellRecord> {
        s.cells
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect()
    };
    let (cells_a, cells_b) = (by_name(a), by_name(b));
    let mut runtimes: Vec<&str> = Vec::new();
    let mut order: BTreeMap<&str, (Pattern, usize, u32)> = BTreeMap::new();
    for cell in a.cells.iter().chain(&b.cells) {
        let runtime = match runtimes.iter().position(|r| *r == cell.runtime) {
            Some(i) => i,
            None => {
                runtimes.push(&cell.runtime);
                runtimes.len() - 1
            }
        };
        order
            .entry(&cell.name)
            .or_insert((cell.pattern, runtime, cell.clients));
    }
    let mut names: Vec<&str> = order.keys().copied().collect();
    names.sort_by_key(|n| order[n]);
    let cells = names
        .into_iter()
        .map(|name| {
            compare_cell(
                name.to_owned(),
                cells_a.get(name),
                cells_b.get(name),
                &options,
            )
        })
        .collect();
    RunComparison {
        a: format!("{}/{}", a.matrix, a.run_id),
        b: format!("{}/{}", b.matrix, b.run_id),
        options,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Latency, Provenance, Repetition};

    fn rep(bw: f64, p50: u64, p99: u64) -> Repetition {
        Repetition {
            bw_bytes: bw,
            iops: bw / 4096.0,
            lat_ns: Latency {
                p50,
                p90: p99,
                p99,
                p99_9: p99,
            },
            raw: String::new(),
            ends_apart_s: None,
        }
    }

    fn record(reps: Vec<Repetition>) -> CellRecord {
        CellRecord {
            name: "m/host/c1/read".into(),
            runtime: "host".into(),
            kind: "host".into(),
            clients: 1,
            nodes: 1,
            placement: vec![1],
            pattern: Pattern::Read,
            status: Status::Passed,
            reason: None,
            bw_bytes: None,
            iops: None,
            lat_ns: None,
            ios: None,
            repetitions: reps,
            raw: Vec::new(),
            logs: Vec::new(),
            histogram: None,
            provenance: Provenance::default(),
            started_at: String::new(),
            duration_s: 0.0,
        }
    }

    fn one(a: Vec<Repetition>, b: Vec<Repetition>) -> CellComparison {
        compare_cell(
            "m/host/c1/read".into(),
            Some(&record(a)),
            Some(&record(b)),
            &CompareOptions::default(),
        )
    }

    #[test]
    fn bounds_follow_the_direction() {
        let o = CompareOptions::default();
        assert!((o.bound(Metric::Bw) - 1.0 / 1.1).abs() < 1e-12);
        assert!((o.bound(Metric::P99) - 1.1).abs() < 1e-12);
    }

    #[test]
    fn identical_runs_pass_with_enough_repetitions_and_are_inconclusive_with_one() {
        let reps = vec![rep(100e6, 50_000, 200_000); 10];
        let c = one(reps.clone(), reps);
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(c.change(), Some(Change::Same));

        // One repetition a side: the prior alone (σ = 0.11) spans far more than ±10 %.
        let c = one(
            vec![rep(100e6, 50_000, 200_000)],
            vec![rep(100e6, 50_000, 200_000)],
        );
        assert_eq!(c.verdict, Verdict::Inconclusive);
        assert_eq!(c.change(), Some(Change::Same));
    }

    #[test]
    fn half_the_bandwidth_fails_even_with_one_repetition() {
        let c = one(
            vec![rep(100e6, 50_000, 200_000)],
            vec![rep(50e6, 50_000, 200_000)],
        );
        let bw = c.metric(Metric::Bw).unwrap();
        assert!((bw.ratio() - 0.5).abs() < 1e-12);
        assert_eq!((bw.verdict, bw.change), (Verdict::Fail, Change::Worse));
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.change(), Some(Change::Worse));
    }

    #[test]
    fn an_improvement_is_never_a_failure() {
        let c = one(
            vec![rep(100e6, 50_000, 200_000)],
            vec![rep(300e6, 20_000, 60_000)],
        );
        for m in &c.metrics {
            assert_eq!(
                (m.change, m.verdict),
                (Change::Better, Verdict::Pass),
                "{m:?}"
            );
        }
        assert_eq!(c.change(), Some(Change::Better));
    }

    #[test]
    fn noisy_repetitions_widen_the_interval() {
        // Half the bandwidth on average, but the paired ratios are 1.17 and 0.21: no verdict.
        let a = vec![rep(60e6, 50_000, 200_000), rep(140e6, 50_000, 200_000)];
        let b = vec![rep(70e6, 50_000, 200_000), rep(30e6, 50_000, 200_000)];
        let c = one(a, b);
        let bw = c.metric(Metric::Bw).unwrap();
        assert_eq!(bw.change, Change::Worse);
        assert_eq!(bw.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn missing_sides_are_skipped_with_the_reason() {
        let o = CompareOptions::default();
        let c = compare_cell("x".into(), None, Some(&record(vec![])), &o);
        assert_eq!(c.verdict, Verdict::Skipped);
        assert_eq!(c.note.as_deref(), Some("not in A, no repetitions in B"));
        assert_eq!(c.change(), None);
    }
}
