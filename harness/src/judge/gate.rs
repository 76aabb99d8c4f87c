//! A gate decided over a run's records: one row per pattern × clients (× runtime), each a one-sided
//! test of "worse than the bound by more than the practical threshold" (see `docs/gates.md`).
//!
//! A row's data are its blocks: the log of the metric (absolute) or of the ratio to the reference
//! measured in the same block (relative). The noise is what this run's blocks and the testbed's
//! earlier runs show ([`run_estimate`]: within-run and between-run scatter). A row *passes* when
//! the data show it is not worse than its bound by more than the threshold ("worse" rejected
//! one-sided at the gate's confidence), *fails* only when the run-wide Holm correction over
//! every gate row and baseline, at each row's group-sequential boundary for its blocks, rejects
//! "not worse" ([`crate::judge::family::rejections`], then [`GateReport::settle`]), and is
//! *inconclusive* otherwise (or when nothing estimates the noise): it earns more blocks.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::judge::verdict::{Verdict, metric_of};
use crate::run::{CellRecord, Repetition, Status};
use crate::spec::{Direction, GateSpec, Matrix, Metric, Pattern};
use crate::stats::sequential::{self, Spending};
use crate::stats::{Estimate, LogInterval, Method, geometric_mean, run_estimate};

/// Earlier runs of the matrix on this testbed: each run's repetitions (its blocks) of each cell,
/// by cell name, most recent run first.
#[derive(Debug, Clone, Default)]
pub struct Past {
    /// One map per run.
    pub runs: Vec<BTreeMap<String, Vec<Repetition>>>,
}

/// One row of a gate's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Access pattern.
    pub pattern: Pattern,
    /// Number of clients.
    pub clients: u32,
    /// Runtime under test.
    pub runtime: String,
    /// Reference runtime (relative gates).
    pub reference_runtime: Option<String>,
    /// The numbers, or why there are none.
    pub result: RowResult,
}

/// A row's numbers, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowResult {
    /// Both sides measured.
    Measured {
        /// Geometric mean of the runtime's repetitions.
        measured: f64,
        /// Geometric mean of the reference's repetitions (relative gates).
        reference: Option<f64>,
        /// Repetitions of the runtime and (relative gates) of the reference.
        k: (usize, Option<usize>),
        /// The interval of the ratio (relative) or of the value (absolute), log scale.
        interval: LogInterval,
        /// One-sided p-value of "not worse than the bound by more than the threshold" (1 when
        /// nothing estimates the noise).
        #[serde(default = "one")]
        p_worse: f64,
        /// Earlier runs on this testbed whose blocks went into the noise estimate.
        #[serde(default)]
        history_runs: usize,
        /// Its verdict.
        verdict: Verdict,
    },
    /// A needed cell has no numbers.
    Missing {
        /// Why (the cell's reason, or that it has not run).
        reason: String,
        /// The cell was skipped (optional runtime missing) rather than failed.
        skipped: bool,
    },
}

impl Row {
    /// This row's verdict.
    pub fn verdict(&self) -> Verdict {
        match &self.result {
            RowResult::Measured { verdict, .. } => *verdict,
            RowResult::Missing { skipped: true, .. } => Verdict::Skipped,
            RowResult::Missing { skipped: false, .. } => Verdict::Fail,
        }
    }
}

fn one() -> f64 {
    1.0
}

/// A gate's outcome over one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// The gate.
    pub gate: GateSpec,
    /// Its rows, pattern-major.
    pub rows: Vec<Row>,
    /// The overall verdict: fail if any row fails, else inconclusive if any is, else pass (or
    /// skipped when no row was measured).
    pub verdict: Verdict,
}

fn logs(reps: &[Repetition], metric: Metric) -> Option<Vec<f64>> {
    reps.iter()
        .map(|r| {
            let v = metric_of(metric, r);
            (v.is_finite() && v > 0.0).then(|| v.ln())
        })
        .collect()
}

/// A row's blocks: log values (absolute) or log ratios of the blocks both sides have.
fn blocks(
    subject: &[Repetition],
    reference: Option<&[Repetition]>,
    metric: Metric,
) -> Option<Vec<f64>> {
    let a = logs(subject, metric)?;
    match reference {
        None => Some(a),
        Some(reference) => {
            let b = logs(reference, metric)?;
            Some(a.iter().zip(&b).map(|(x, y)| x - y).collect())
        }
    }
}

/// Why a row has no numbers: the reason, and whether its cell was skipped (not failed).
type Missing = (String, bool);

fn lookup<'a>(
    records: &'a [CellRecord],
    name: &str,
) -> std::result::Result<&'a CellRecord, Missing> {
    match records.iter().rev().find(|r| r.name == name) {
        None => Err((format!("cell {name} has not run"), false)),
        Some(r) if r.status == Status::Passed && !r.repetitions.is_empty() => Ok(r),
        Some(r) => Err((
            format!(
                "cell {name} {}: {}",
                match r.status {
                    Status::Skipped => "was skipped",
                    _ => "failed",
                },
                r.reason.as_deref().unwrap_or("no repetitions")
            ),
            r.status == Status::Skipped,
        )),
    }
}

/// The log limit beyond which a row counts as worse: the bound moved by the threshold.
fn worse_limit(direction: Direction, bound: f64, threshold: f64) -> f64 {
    let tau = -(1.0 - threshold).ln();
    match direction {
        Direction::AtLeast => bound.ln() - tau,
        Direction::AtMost => bound.ln() + tau,
    }
}

/// A row's provisional verdict (before the family's correction decides failures) and its
/// p-value: pass when the data show it is not worse, unclear otherwise. "Worse" is rejected
/// one-sided at `1 − confidence` spent over the looks the row gets (one after each of its
/// `blocks`, planned from `first` to `last`; Pocock type, so a clearly unchanged row passes
/// early): a row looked at after every block would otherwise pass a regression at its limit far
/// more often than `1 − confidence` says (22 % instead of 5 % over 15 looks, measured).
fn provisional(
    estimate: Option<&Estimate>,
    direction: Direction,
    limit: f64,
    confidence: f64,
    (blocks, first, last): (usize, usize, usize),
) -> (f64, Verdict) {
    let Some(e) = estimate else {
        return (1.0, Verdict::Inconclusive);
    };
    let p = match direction {
        Direction::AtLeast => e.p_below(limit),
        Direction::AtMost => e.p_above(limit),
    };
    let miss = sequential::threshold(Spending::Pocock, 1.0 - confidence, first, last, blocks);
    let verdict = if miss > 0.0 && 1.0 - p <= miss {
        Verdict::Pass
    } else {
        Verdict::Inconclusive
    };
    (p, verdict)
}

fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Evaluates `gate` over a run's `records` (cell records, e.g. `summary.cells`), at one client
/// count or at every count it covers, with the noise of `past` runs and the practical
/// `threshold` (a fraction). Failures are left to [`GateReport::settle`].
pub fn evaluate(
    gate: &GateSpec,
    matrix: &Matrix,
    clients: Option<u32>,
    records: &[CellRecord],
    past: &Past,
    threshold: f64,
) -> GateReport {
    let mut rows = Vec::new();
    for planned in gate.plan(matrix, clients) {
        let result = (|| {
            let subject = lookup(records, &planned.subject)?;
            let reference = match &planned.reference {
                Some(name) => Some(lookup(records, name)?),
                None => None,
            };
            let missing = || {
                (
                    format!("{} is zero or missing in a repetition", gate.metric),
                    false,
                )
            };
            let now = blocks(
                &subject.repetitions,
                reference.map(|r| r.repetitions.as_slice()),
                gate.metric,
            )
            .ok_or_else(missing)?;
            let history: Vec<Vec<f64>> = past
                .runs
                .iter()
                .filter_map(|run| {
                    let s = run.get(&planned.subject)?;
                    let r = match &planned.reference {
                        Some(name) => Some(run.get(name)?.as_slice()),
                        None => None,
                    };
                    blocks(s, r, gate.metric).filter(|b| !b.is_empty())
                })
                .collect();
            let estimate = run_estimate(&now, &history);
            let limit = worse_limit(gate.direction, gate.bound.value(), threshold);
            let (p_worse, verdict) = provisional(
                estimate.as_ref(),
                gate.direction,
                limit,
                gate.confidence,
                (
                    now.len(),
                    matrix.workload.repetitions as usize,
                    matrix.judge.max_blocks as usize,
                ),
            );
            let (lo, hi) = estimate.map_or((f64::NEG_INFINITY, f64::INFINITY), |e| {
                e.interval(gate.confidence)
            });
            let k = now.len();
            let center = now.iter().sum::<f64>() / k as f64;
            let interval = LogInterval {
                estimate: center,
                lo,
                hi,
                spread: estimate.map_or(f64::INFINITY, |e| e.se * (k as f64).sqrt()),
                observed: sd(&now),
                k,
                df: estimate.map_or(0.0, |e| e.df),
                method: if reference.is_some() {
                    Method::PairedT
                } else {
                    Method::OneSampleT
                },
            };
            let a: Vec<f64> = subject
                .repetitions
                .iter()
                .map(|r| metric_of(gate.metric, r))
                .collect();
            let b: Option<Vec<f64>> = reference.map(|r| {
                r.repetitions
                    .iter()
                    .map(|x| metric_of(gate.metric, x))
                    .collect()
            });
            Ok(RowResult::Measured {
                measured: geometric_mean(&a).unwrap_or(f64::NAN),
                reference: b.as_deref().and_then(geometric_mean),
                k: (a.len(), b.as_ref().map(Vec::len)),
                interval,
                p_worse,
                history_runs: history.len(),
                verdict,
            })
        })()
        .unwrap_or_else(|(reason, skipped)| RowResult::Missing { reason, skipped });
        rows.push(Row {
            pattern: planned.pattern,
            clients: planned.clients,
            runtime: planned.runtime,
            reference_runtime: planned.reference_runtime,
            result,
        });
    }
    let mut report = GateReport {
        gate: gate.clone(),
        rows,
        verdict: Verdict::Skipped,
    };
    report.verdict = report.overall();
    report
}

impl GateReport {
    /// Each measured row's p-value of "not worse", in row order (`None` for rows without data).
    pub fn p_values(&self) -> Vec<Option<f64>> {
        self.tests().into_iter().map(|t| t.map(|t| t.p)).collect()
    }

    /// Each row's test in the run's family (`None` for a row without numbers), in row order: its
    /// p-value and the blocks behind it.
    pub fn tests(&self) -> Vec<Option<crate::judge::family::Test>> {
        self.rows
            .iter()
            .map(|r| match &r.result {
                RowResult::Measured {
                    p_worse, interval, ..
                } => Some(crate::judge::family::Test {
                    p: *p_worse,
                    blocks: Some(interval.k),
                }),
                RowResult::Missing { .. } => None,
            })
            .collect()
    }

    /// Fails the rows the family's correction rejected (`rejected[i]` for row i) and updates
    /// the overall verdict.
    pub fn settle(&mut self, rejected: &[bool]) {
        for (row, &rejected) in self.rows.iter_mut().zip(rejected) {
            if let RowResult::Measured { verdict, .. } = &mut row.result
                && rejected
            {
                *verdict = Verdict::Fail;
            }
        }
        self.verdict = self.overall();
    }

    /// Settles the gate as a family of its own: Holm over its rows at `false_alarms` (for a gate
    /// decided outside a run's family).
    pub fn settle_alone(&mut self, false_alarms: f64) {
        let p: Vec<f64> = self
            .p_values()
            .into_iter()
            .map(|p| p.unwrap_or(1.0))
            .collect();
        self.settle(&crate::stats::holm(&p, false_alarms));
    }

    /// Fail if any row fails, else inconclusive if any is, else pass (skipped: nothing measured).
    fn overall(&self) -> Verdict {
        let verdicts: Vec<Verdict> = self.rows.iter().map(Row::verdict).collect();
        if verdicts.contains(&Verdict::Fail) {
            Verdict::Fail
        } else if verdicts.contains(&Verdict::Inconclusive) {
            Verdict::Inconclusive
        } else if verdicts.contains(&Verdict::Pass) {
            Verdict::Pass
        } else {
            Verdict::Skipped
        }
    }
}

/// `gates.json` in a run directory: every gate decided in the run, by test name
/// (`smoke/gate/<label>/c8`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatesFile {
    /// The gates' reports, by test name.
    pub gates: std::collections::BTreeMap<String, GateReport>,
}

impl GatesFile {
    /// The file's name in a run directory.
    pub const NAME: &'static str = "gates.json";
}
