//! A gate's report for people: the verdict table and, for noisy rows, what to do about them.

use std::fmt::Write as _;

use crate::judge::{GateReport, RowResult, Verdict};
use crate::units::sig3;

/// The table: one row per pattern × clients (× runtime): measured, reference, ratio (or
/// value) with its interval, bound, k, spread, verdict. Markdown.
pub fn gate_table(report: &GateReport) -> String {
    let g = &report.gate;
    let pct = format!("{}", (g.confidence * 100.0 * 10.0).round() / 10.0);
    let mut out = String::new();
    let what = if g.is_relative() { "ratio" } else { "value" };
    let _ = writeln!(
        out,
        "| pattern | clients | runtime | measured | reference | {what} [{pct} % CI] | bound | k | spread | verdict |"
    );
    out.push_str("|---|---:|---|---:|---:|---|---|---:|---:|---|\n");
    for row in &report.rows {
        let reference_name = row.reference_runtime.as_deref().unwrap_or("–");
        match &row.result {
            RowResult::Measured {
                measured,
                reference,
                k,
                interval,
                verdict,
            } => {
                let (lo, hi) = interval.range();
                let (estimate, range, bound) = if g.is_relative() {
                    (
                        format!("{}×", sig3(interval.center())),
                        format!("[{}, {}]", sig3(lo), sig3(hi)),
                        format!("{} {}×", g.direction.symbol(), sig3(g.bound.value())),
                    )
                } else {
                    (
                        g.metric.format(interval.center()),
                        format!("[{}, {}]", g.metric.format(lo), g.metric.format(hi)),
                        format!(
                            "{} {}",
                            g.direction.symbol(),
                            g.metric.format(g.bound.value())
                        ),
                    )
                };
                let reference = match reference {
                    Some(r) => format!("{} ({reference_name})", g.metric.format(*r)),
                    None => "–".into(),
                };
                let k = match k {
                    (a, Some(b)) if *b != *a => format!("{a}/{b}"),
                    (a, _) => a.to_string(),
                };
                let prior = if interval.observed == 0.0 && interval.k < 2 {
                    " (prior)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {reference} | {estimate} {range} | {bound} | {k} | ±{}{prior} | {} |",
                    row.pattern,
                    row.clients,
                    row.runtime,
                    g.metric.format(*measured),
                    pct_spread(interval.spread),
                    verdict.as_str()
                );
            }
            RowResult::Missing { reason, skipped } => {
                let verdict = if *skipped { "skipped" } else { "FAIL" };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | – | – | – | {} {} | – | – | {verdict}: {} |",
                    row.pattern,
                    row.clients,
                    row.runtime,
                    g.direction.symbol(),
                    g.bound,
                    reason.replace('|', "/").lines().next().unwrap_or_default()
                );
            }
        }
    }
    out
}

/// "too noisy to decide: k = 3, spread ±14 %; add repetitions or lengthen the runtime", for
/// the noisiest inconclusive row; `None` when no row is inconclusive.
pub fn noise_advice(report: &GateReport) -> Option<String> {
    let worst = report
        .rows
        .iter()
        .filter_map(|r| match &r.result {
            RowResult::Measured {
                interval,
                verdict: Verdict::Inconclusive,
                ..
            } => Some(interval),
            _ => None,
        })
        .max_by(|a, b| (a.hi - a.lo).total_cmp(&(b.hi - b.lo)))?;
    let prior = if worst.k < 2 {
        format!(
            " (one repetition: the spread is the prior σ = {})",
            report.gate.noise_prior.sigma
        )
    } else {
        String::new()
    };
    Some(format!(
        "too noisy to decide: k = {}, spread ±{}{prior}, {} % interval ×/÷ {}; add repetitions \
         (workload.repetitions) or lengthen the runtime",
        worst.k,
        pct_spread(worst.spread),
        (report.gate.confidence * 100.0).round(),
        sig3(((worst.hi - worst.lo) / 2.0).exp())
    ))
}

/// `exp(σ) − 1` as a percentage: the typical factor one repetition is off by.
fn pct_spread(sigma: f64) -> String {
    format!("{}%", sig3((sigma.exp() - 1.0) * 100.0))
}
