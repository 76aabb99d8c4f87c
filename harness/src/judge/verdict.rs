//! The one verdict vocabulary of gates, baselines and run comparisons, and how an interval and a
//! bound make a verdict.

use serde::{Deserialize, Serialize};

use crate::run::Repetition;
use crate::spec::{Direction, Metric};
use crate::stats::LogInterval;

/// The three verdicts (plus skipped, for gates whose cells could not run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Shown not worse than the bound: a gate or baseline row whose "worse" was rejected
    /// one-sided (docs/gates.md), or a comparison whose whole interval is on the passing side.
    Pass,
    /// Not measured: an optional runtime is missing.
    Skipped,
    /// Neither shown: too noisy to decide within the blocks and budget (a warning, not a pass).
    Inconclusive,
    /// Shown worse than the bound by more than the threshold (Holm over the run's family), the
    /// whole interval of a comparison on the failing side, or a needed cell failed.
    Fail,
}

impl Verdict {
    /// `pass`, `fail`, `inconclusive`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Skipped => "skipped",
        }
    }
}

/// The verdict of `interval` against `bound` (a ratio or a value, not a log): the whole interval
/// on the passing side → pass, on the failing side → fail, straddling it → inconclusive.
pub fn verdict(interval: &LogInterval, direction: Direction, bound: f64) -> Verdict {
    let b = bound.ln();
    match direction {
        Direction::AtLeast if interval.lo >= b => Verdict::Pass,
        Direction::AtLeast if interval.hi < b => Verdict::Fail,
        Direction::AtMost if interval.hi <= b => Verdict::Pass,
        Direction::AtMost if interval.lo > b => Verdict::Fail,
        _ => Verdict::Inconclusive,
    }
}

/// `metric` in one repetition (bytes/s, IOPS or nanoseconds).
pub(crate) fn metric_of(metric: Metric, rep: &Repetition) -> f64 {
    match metric {
        Metric::Bw => rep.bw_bytes,
        Metric::Iops => rep.iops,
        Metric::P50 => rep.lat_ns.p50 as f64,
        Metric::P90 => rep.lat_ns.p90 as f64,
        Metric::P99 => rep.lat_ns.p99 as f64,
        Metric::P99_9 => rep.lat_ns.p99_9 as f64,
    }
}
