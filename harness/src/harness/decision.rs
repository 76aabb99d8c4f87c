//! What a test (or `iogate run`) makes of a verdict: pass, fail with the evidence, or ignored
//! with a reason. Skipped and inconclusive are never a pass.

use std::fmt::Write as _;

use crate::judge::baseline::Outcome;
use crate::judge::{GateReport, RowResult, Verdict};
use crate::report::gates::{gate_table, noise_advice};
use crate::run::{CellRecord, Status};
use crate::spec::Inconclusive;
use crate::units::{short_reason, sig3};

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

/// A baseline check's decision: within → pass; rebaselined or recorded → pass with what was
/// written; forced → pass with the warning; outside → fail with the table.
///
/// Until baselines come from the results history (the gate issue), drift is reported (the table
/// is printed, the test shows as ignored with why) but does not fail: single-run snapshots with
/// hand-widened tolerances failed unchanged runs. A missing baseline is ignored with how to
/// record one — never passed, never failed.
pub fn of_baseline(outcome: Result<Outcome, String>) -> Decision {
    match outcome {
        Ok(drift @ Outcome::Drift { .. }) => {
            println!("{drift}");
            let Outcome::Drift { comparison, .. } = &drift else {
                unreachable!("matched above");
            };
            let moved = comparison
                .largest()
                .map_or(String::new(), |(metric, moved, allowed)| {
                    format!(
                        ": {metric} moved ×/÷ {} (×/÷ {} allowed)",
                        sig3(moved),
                        sig3(allowed)
                    )
                });
            Decision::Ignore(format!(
                "baseline DRIFT{moved} — reported, not blocking until history-based baselines (docs/gates.md)"
            ))
        }
        Ok(missing @ Outcome::Missing { .. }) => Decision::Ignore(missing.to_string()),
        Ok(outcome) => Decision::Pass(outcome.to_string()),
        Err(why) => Decision::Fail(why),
    }
}
