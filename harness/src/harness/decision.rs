//! What a test (or `iogate run`) makes of a verdict: pass, fail with the evidence, or ignored
//! with a reason. Skipped and inconclusive are never a pass.

use std::fmt::Write as _;

use crate::judge::baseline::{BaselineCheck, MIN_SESSIONS};
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
/// its reason, failed or interrupted → fail with the reason and where its results are.
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
        Status::Failed | Status::Interrupted => {
            Decision::Fail(format!("{reason}\n(results: {})", results.display()))
        }
    }
}

/// A baseline check's decision once the family's correction ran: fail when any of its rows was
/// rejected (`rejected[i]` for row i: shown worse than the baseline by more than the threshold),
/// pass otherwise, with the table either way. A baseline has no "unclear": its noise is between
/// runs, which more blocks of this run do not shrink. A check whose rows are all advisory (a
/// baseline of one session) decided nothing: it is ignored with the table, never passed.
pub fn of_baseline(check: &BaselineCheck, rejected: &[bool]) -> Decision {
    let worse: Vec<String> = check
        .rows
        .iter()
        .zip(rejected)
        .filter(|(row, r)| **r && row.decisive())
        .map(|(row, _)| row.label())
        .collect();
    let drifted: Vec<String> = check
        .rows
        .iter()
        .filter(|row| !row.decisive() && row.p_worse < ADVISORY_P)
        .map(|row| row.label())
        .collect();
    let mut text = format!(
        "{} against its baseline on testbed `{}`\n\n{}",
        check.cell,
        check.testbed,
        check.table()
    );
    if !drifted.is_empty() {
        text = format!(
            "advisory rows worse than their baseline (p < {ADVISORY_P}, not failing): {}\n{text}",
            drifted.join(", ")
        );
    }
    if !worse.is_empty() {
        Decision::Fail(format!(
            "worse than its baseline: {}\n{text}",
            worse.join(", ")
        ))
    } else if check.rows.iter().any(|r| r.decisive()) {
        Decision::Pass(text)
    } else {
        // Every row advisory: a baseline of one session, or of another kernel or fio (latency
        // rows never decide).
        println!("{text}");
        let worse = if drifted.is_empty() {
            String::new()
        } else {
            format!(" (worse: {})", drifted.join(", "))
        };
        Decision::Ignore(match &check.changed {
            Some(changed) => format!(
                "{}: baseline on testbed `{}` recorded with another kernel or fio ({changed}), \
                 advisory only{worse}; record it again from {MIN_SESSIONS} sessions on this one",
                check.cell, check.testbed
            ),
            None => format!(
                "{}: baseline of one session on testbed `{}`, advisory only{worse}; record it \
                 again once the history spans {MIN_SESSIONS} sessions",
                check.cell, check.testbed
            ),
        })
    }
}

/// A baseline's decision on `fresh` repetitions measured again after its first look failed
/// with `first`: a failure stands only when the fresh repetitions fail too (a regression
/// persists); a pass is a transient of the first stretch, printed with that first look, never
/// hidden.
pub(crate) fn confirmed(decision: Decision, fresh: usize, first: &str) -> Decision {
    match decision {
        Decision::Fail(text) => Decision::Fail(format!(
            "{text}\nconfirmed on {fresh} fresh repetition(s) of the cell and its reference; \
             the first look:\n{first}"
        )),
        Decision::Pass(text) => {
            let text = format!(
                "pass on {fresh} fresh repetition(s) after a first look that failed (a transient, \
                 reported, not failing); the fresh repetitions:\n{text}\nthe first look:\n{first}"
            );
            println!("{text}");
            Decision::Pass(text)
        }
        ignored => ignored,
    }
}

/// Uncorrected one-sided p below which an advisory row is reported as worse.
const ADVISORY_P: f64 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;

    /// Confirmed: a fresh failure fails with both looks; a fresh pass passes, saying the first
    /// look failed and showing it; an ignored check stays ignored.
    #[test]
    fn a_first_look_failure_stands_only_when_the_fresh_look_fails() {
        let failed = confirmed(Decision::Fail("worse: bw".into()), 3, "FIRST");
        let Decision::Fail(text) = failed else {
            panic!("{failed:?}")
        };
        assert!(
            text.starts_with("worse: bw") && text.ends_with("FIRST"),
            "{text}"
        );
        assert!(
            text.contains("confirmed on 3 fresh repetition(s)"),
            "{text}"
        );
        let passed = confirmed(Decision::Pass("table".into()), 2, "FIRST");
        let Decision::Pass(text) = passed else {
            panic!("{passed:?}")
        };
        assert!(
            text.contains("after a first look that failed") && text.contains("FIRST"),
            "{text}"
        );
        assert_eq!(
            confirmed(Decision::Ignore("x".into()), 1, "FIRST"),
            Decision::Ignore("x".into())
        );
    }
}
