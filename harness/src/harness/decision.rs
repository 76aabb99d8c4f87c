//! What a test (or `iogate run`) makes of a verdict: pass, fail with the evidence, or ignored
//! with a reason. Skipped and inconclusive are never a pass.

use std::fmt::Write as _;

use crate::judge::baseline::{Kind, Outcome};
use crate::judge::{GateReport, RowResult, Verdict};
use crate::report::gates::{gate_table, noise_advice};
use crate::run::{CellRecord, Status};
use crate::spec::Inconclusive;
use crate::units::short_reason;

/// A test's outcome, with the text it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The test passes; the text is a short summary.
    Pass(String),
    /// The test fails; the text explains why, with the evidence.
    Fail(String),
    /// The test is reported as ignored (skipped cells, or a tolerated inconclusive verdict).
    Ignore(String),
}

/// A gate's decision: pass, fail (with the table), or ignored with a reason. An inconclusive
/// verdict is a warning (ignored with why) unless the gate says `inconclusive: fail`, and is
/// never a pass.
pub(crate) fn of_gate(report: &GateReport) -> Decision {
    let head = format!("gate `{}`", report.gate.describe());
    match report.verdict {
        Verdict::Pass => Decision::Pass(format!("{head}: pass\n{}", gate_table(report))),
        Verdict::Fail => {
            let mut text = format!("{head}: FAIL\n\n{}", gate_table(report));
            if let Some(advice) = noise_advice(report) {
                let _ = write!(text, "\nother rows are inconclusive — {advice}\n");
            }
            Decision::Fail(text)
        }
        Verdict::Inconclusive => {
            let advice = noise_advice(report).unwrap_or_default();
            match report.gate.inconclusive {
                Inconclusive::Fail => Decision::Fail(format!(
                    "{head}: inconclusive, which fails the gate (`inconclusive: fail`) — \
                     {advice}\n\n{}",
                    gate_table(report)
                )),
                Inconclusive::Warn => {
                    println!("{head}: INCONCLUSIVE (warning)\n\n{}", gate_table(report));
                    Decision::Ignore(format!("WARNING inconclusive — {advice}"))
                }
            }
        }
        Verdict::Skipped => {
            let reason = report
                .rows
                .iter()
                .find_map(|r| match &r.result {
                    RowResult::Missing { reason, .. } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "no cell of this gate is in the run".into());
            Decision::Ignore(short_reason(&reason))
        }
    }
}

/// A cell's decision: measured → pass with its numbers, skipped → ignored with the first line of
/// its reason, failed → fail with the reason and where its results are.
pub(crate) fn of_cell(record: &CellRecord, results: &std::path::Path) -> Decision {
    let reason = record.reason.clone().unwrap_or_default();
    match record.status {
        Status::Passed => {
            let Some(lat) = record.lat_ns else {
                return Decision::Fail(format!("{} passed without latencies", record.name));
            };
            Decision::Pass(format!(
                "{}: {:.1} MiB/s, {:.0} IOPS, p50 {} µs, p99 {} µs",
                record.name,
                record.bw_bytes.unwrap_or_default() / 1048576.0,
                record.iops.unwrap_or_default(),
                lat.p50 / 1000,
                lat.p99 / 1000
            ))
        }
        Status::Skipped => Decision::Ignore(short_reason(&reason)),
        Status::Failed => Decision::Fail(format!("{reason}\n(results: {})", results.display())),
    }
}

/// A baseline check's decision: no baseline for the testbed → ignored with the reason and the
/// command that records one (never passed, never failed); checked → fail when a row shows the
/// cell worse than its baseline by more than the threshold, else pass with the table.
///
/// Interim: rows are corrected within the cell only (Bonferroni at 1 % over its rows). The
/// run-wide Holm family over every gate row and baseline row replaces this.
pub fn of_baseline(outcome: Result<Outcome, String>) -> Decision {
    const ALPHA: f64 = 0.01;
    match outcome {
        Ok(Outcome::Checked(check)) => {
            let m = check.rows.len().max(1) as f64;
            let worse: Vec<String> = check
                .rows
                .iter()
                .filter(|r| r.p_worse < ALPHA / m)
                .map(|r| match &r.kind {
                    Kind::Absolute => r.metric.to_string(),
                    Kind::RatioTo(to) => format!("{} ÷ {to}", r.metric),
                })
                .collect();
            let text = format!(
                "{} against its baseline on testbed `{}`\n\n{}",
                check.cell,
                check.testbed,
                check.table()
            );
            if worse.is_empty() {
                Decision::Pass(text)
            } else {
                Decision::Fail(format!(
                    "worse than its baseline: {}\n{text}",
                    worse.join(", ")
                ))
            }
        }
        Ok(Outcome::Missing { reason }) => Decision::Ignore(reason),
        Err(why) => Decision::Fail(why),
    }
}
