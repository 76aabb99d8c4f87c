//! A gate decided over a run's records: one row per pattern × clients (× runtime), each a log-scale
//! interval compared with the bound (see `docs/gates.md`).
//!
//! * relative, both sides with the same number of repetitions k: paired t interval on the
//!   per-repetition log differences `ln x_i − ln y_i` (repetition i of both sides ran back to back
//!   when the cells were interleaved, so machine drift cancels);
//! * relative, different k: Welch interval on the log values;
//! * absolute: one-sample t interval on the log values.
//!
//! Every variance is pooled with the gate's noise prior, so k = 1 still gets an interval (from the
//! prior alone). The verdict compares the whole interval with the bound: entirely on the right
//! side → pass, entirely on the wrong side → fail, straddling it → inconclusive.

use serde::{Deserialize, Serialize};

use crate::judge::verdict::{Verdict, metric_of, verdict};
use crate::run::{CellRecord, Status};
use crate::spec::{GateSpec, Matrix, Metric, Pattern};
use crate::stats::{LogInterval, absolute_interval, geometric_mean, relative_interval};

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

fn values(record: &CellRecord, metric: Metric) -> Vec<f64> {
    record
        .repetitions
        .iter()
        .map(|r| metric_of(metric, r))
        .collect()
}

fn lookup<'a>(
    records: &'a [CellRecord],
    name: &str,
) -> std::result::Result<&'a CellRecord, RowResult> {
    match records.iter().rev().find(|r| r.name == name) {
        None => Err(RowResult::Missing {
            reason: format!("cell {name} has not run"),
            skipped: false,
        }),
        Some(r) if r.status == Status::Passed && !r.repetitions.is_empty() => Ok(r),
        Some(r) => Err(RowResult::Missing {
            reason: format!(
                "cell {name} {}: {}",
                match r.status {
                    Status::Skipped => "was skipped",
                    _ => "failed",
                },
                r.reason.as_deref().unwrap_or("no repetitions")
            ),
            skipped: r.status == Status::Skipped,
        }),
    }
}

/// Evaluates `gate` over a run's `records` (cell records, e.g. `summary.cells`), at one client
/// count or at every count it covers.
pub fn evaluate(
    gate: &GateSpec,
    matrix: &Matrix,
    clients: Option<u32>,
    records: &[CellRecord],
) -> GateReport {
    let mut rows = Vec::new();
    for planned in gate.plan(matrix, clients) {
        let result = (|| {
            let subject = lookup(records, &planned.subject)?;
            let a = values(subject, gate.metric);
            match &planned.reference {
                Some(reference_name) => {
                    let reference = lookup(records, reference_name)?;
                    let b = values(reference, gate.metric);
                    let Some(interval) =
                        relative_interval(&a, &b, gate.confidence, gate.noise_prior)
                    else {
                        return Err(RowResult::Missing {
                            reason: format!("{} is zero or missing in a repetition", gate.metric),
                            skipped: false,
                        });
                    };
                    Ok(RowResult::Measured {
                        measured: geometric_mean(&a).unwrap_or(f64::NAN),
                        reference: geometric_mean(&b),
                        k: (a.len(), Some(b.len())),
                        verdict: verdict(&interval, gate.direction, gate.bound.value()),
                        interval,
                    })
                }
                None => {
                    let Some(interval) = absolute_interval(&a, gate.confidence, gate.noise_prior)
                    else {
                        return Err(RowResult::Missing {
                            reason: format!("{} is zero or missing in a repetition", gate.metric),
                            skipped: false,
                        });
                    };
                    Ok(RowResult::Measured {
                        measured: interval.center(),
                        reference: None,
                        k: (a.len(), None),
                        verdict: verdict(&interval, gate.direction, gate.bound.value()),
                        interval,
                    })
                }
            }
        })()
        .unwrap_or_else(|missing| missing);
        rows.push(Row {
            pattern: planned.pattern,
            clients: planned.clients,
            runtime: planned.runtime,
            reference_runtime: planned.reference_runtime,
            result,
        });
    }
    let verdicts: Vec<Verdict> = rows.iter().map(Row::verdict).collect();
    let verdict = if verdicts.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else if verdicts.contains(&Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Skipped
    };
    GateReport {
        gate: gate.clone(),
        rows,
        verdict,
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
