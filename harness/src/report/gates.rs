//! Gate reports for people: one table per gate (markdown and HTML), the "too noisy" advice, and
//! the gates section of `report.md` and `report.html` from a run's `gates.json`.

use std::fmt::Write as _;

use crate::judge::gate::{GateReport, GatesFile, RowResult};
use crate::judge::{Row, Verdict};
use crate::report::table::{Cell, Kind, Table, html_escape as esc, md_escape};
use crate::units::{first_line, sig3};

/// How a verdict reads in a table: pass good, fail bad, inconclusive a warning (never good),
/// skipped greyed out.
pub(crate) fn verdict_kind(verdict: Verdict) -> Kind {
    match verdict {
        Verdict::Pass => Kind::Good,
        Verdict::Fail => Kind::Bad,
        Verdict::Inconclusive => Kind::Warn,
        Verdict::Skipped => Kind::Skipped,
    }
}

/// `exp(σ) − 1` as a percentage: the typical factor one repetition is off by.
fn pct_spread(sigma: f64) -> String {
    format!("{}%", sig3((sigma.exp() - 1.0) * 100.0))
}

/// The confidence level as a percentage, one decimal at most: `95`, `99.5`.
fn confidence_pct(confidence: f64) -> String {
    sig3((confidence * 1000.0).round() / 10.0)
}

fn row_cells(report: &GateReport, row: &Row) -> Vec<Cell> {
    let g = &report.gate;
    let mut cells = vec![
        Cell::text(row.pattern.to_string()),
        Cell::number(row.clients.to_string()),
        Cell::text(row.runtime.clone()),
    ];
    let bound = if g.is_relative() {
        format!("{} {}×", g.direction.symbol(), sig3(g.bound.value()))
    } else {
        format!(
            "{} {}",
            g.direction.symbol(),
            g.metric.format(g.bound.value())
        )
    };
    match &row.result {
        RowResult::Measured {
            measured,
            reference,
            k,
            interval,
            p_worse,
            history_runs,
            verdict,
        } => {
            let (lo, hi) = interval.range();
            let estimate = if g.is_relative() {
                format!("{}× [{}, {}]", sig3(interval.center()), sig3(lo), sig3(hi))
            } else {
                format!(
                    "{} [{}, {}]",
                    g.metric.format(interval.center()),
                    g.metric.format(lo),
                    g.metric.format(hi)
                )
            };
            let reference = match (reference, &row.reference_runtime) {
                (Some(r), Some(name)) => format!("{} ({name})", g.metric.format(*r)),
                (Some(r), None) => g.metric.format(*r),
                (None, _) => "–".into(),
            };
            let mut k = match k {
                (a, Some(b)) if b != a => format!("{a}/{b}"),
                (a, _) => a.to_string(),
            };
            if *history_runs > 0 {
                k.push_str(&format!(" + {history_runs} runs"));
            }
            let spread = if interval.df > 0.0 {
                format!("±{}", pct_spread(interval.spread))
            } else {
                "unknown".into()
            };
            cells.extend([
                Cell::number(g.metric.format(*measured)),
                Cell::number(reference),
                Cell::number(estimate),
                Cell::text(bound),
                Cell::number(k),
                Cell::number(spread),
                Cell::number(if *p_worse < 0.001 {
                    format!("{p_worse:.1e}")
                } else {
                    sig3(*p_worse)
                }),
                Cell::with(verdict.as_str(), verdict_kind(*verdict)),
            ]);
        }
        RowResult::Missing { reason, .. } => {
            let verdict = row.verdict();
            cells.extend([
                Cell::with("–", Kind::Absent),
                Cell::with("–", Kind::Absent),
                Cell::with("–", Kind::Absent),
                Cell::text(bound),
                Cell::with("–", Kind::Absent),
                Cell::with("–", Kind::Absent),
                Cell::with("–", Kind::Absent),
                Cell::with(
                    format!("{}: {}", verdict.as_str(), first_line(reason)),
                    verdict_kind(verdict),
                ),
            ]);
        }
    }
    cells
}

/// A gate's table: one row per pattern × clients (× runtime) with the measured value, the
/// reference, the ratio (relative gates) or value (absolute gates) with its interval, the bound,
/// the blocks k (and earlier runs in the noise estimate), the spread of one block, the one-sided
/// p-value of "not worse than the bound by more than the threshold", and the verdict.
fn table(report: &GateReport) -> Table {
    let what = if report.gate.is_relative() {
        "ratio"
    } else {
        "value"
    };
    let pct = confidence_pct(report.gate.confidence);
    let head: Vec<String> = [
        "pattern",
        "clients",
        "runtime",
        "measured",
        "reference",
        &format!("{what} [{pct} % CI]"),
        "bound",
        "k",
        "spread",
        "p(worse)",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    Table {
        head,
        right: vec![
            false, true, false, true, true, true, false, true, true, true, false,
        ],
        rows: report
            .rows
            .iter()
            .map(|row| row_cells(report, row))
            .collect(),
        ..Table::default()
    }
}

/// A gate's table in markdown (see the columns of the HTML table, [`gate_table_html`]).
pub fn gate_table(report: &GateReport) -> String {
    table(report).markdown()
}

/// A gate's table as an HTML `<table class="gate">`: pattern, clients, runtime, measured,
/// reference, ratio or value with its interval, bound, k, spread and the verdict, coloured.
pub(crate) fn gate_table_html(report: &GateReport) -> String {
    table(report).html("gate")
}

/// "too noisy to decide: k = 3, spread ±14 %, …; add repetitions or lengthen the runtime", for
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
    if worst.df <= 0.0 {
        return Some(format!(
            "nothing estimates the noise yet: k = {} block(s) and no earlier run on this testbed; \
             raise judge.max_blocks or judge.budget, or record runs in the history",
            worst.k
        ));
    }
    Some(format!(
        "unclear when the budget was spent: k = {}, spread ±{}, {} % interval ×/÷ {} (a row \
         fails only when p(worse) is below its boundary for k of judge.max_blocks blocks, which \
         is strict at early blocks); raise judge.budget or judge.max_blocks, lengthen the \
         runtime, or let the history grow",
        worst.k,
        pct_spread(worst.spread),
        confidence_pct(report.gate.confidence),
        sig3(((worst.hi - worst.lo) / 2.0).exp())
    ))
}

/// "3 gates: 1 pass, 1 fail, 1 inconclusive, 0 skipped."
fn tally(file: &GatesFile) -> String {
    let count = |v: Verdict| file.gates.values().filter(|g| g.verdict == v).count();
    let n = file.gates.len();
    format!(
        "{n} {}: {} pass, {} fail, {} inconclusive, {} skipped.",
        if n == 1 { "gate" } else { "gates" },
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        count(Verdict::Skipped),
    )
}

/// The gates section's body in markdown: the tally, then per gate a heading with its verdict,
/// its table and, when inconclusive rows exist, the noise advice.
pub(crate) fn gates_markdown(file: &GatesFile) -> String {
    let mut out = String::new();
    if file.gates.is_empty() {
        out.push_str("`gates.json` lists no gates.\n");
        return out;
    }
    let _ = writeln!(out, "{}\n", tally(file));
    for (name, report) in &file.gates {
        let verdict = Cell::with(report.verdict.as_str(), verdict_kind(report.verdict));
        let _ = writeln!(
            out,
            "### `{name}`: {}\n\n{}\n",
            verdict.markdown(),
            md_escape(&report.gate.describe())
        );
        out.push_str(&gate_table(report));
        if let Some(advice) = noise_advice(report) {
            let _ = writeln!(out, "\n⚠ {}", md_escape(&advice));
        }
        out.push('\n');
    }
    out
}

/// The gates section's body in HTML, like [`gates_markdown`].
pub(crate) fn gates_html(file: &GatesFile) -> String {
    let mut out = String::new();
    if file.gates.is_empty() {
        out.push_str("<p><code>gates.json</code> lists no gates.</p>\n");
        return out;
    }
    let class = |v: Verdict| match verdict_kind(v) {
        Kind::Good => "verdict-good",
        Kind::Bad => "verdict-bad",
        Kind::Warn => "verdict-warn",
        _ => "verdict-skipped",
    };
    let worst = file
        .gates
        .values()
        .map(|g| g.verdict)
        .max()
        .unwrap_or(Verdict::Skipped);
    let _ = writeln!(
        out,
        "<p class=\"{}\">{}</p>",
        class(worst),
        esc(&tally(file))
    );
    for (name, report) in &file.gates {
        let _ = writeln!(
            out,
            "<h3><code>{}</code>: <span class=\"{}\">{}</span></h3>\n<p>{}</p>",
            esc(name),
            class(report.verdict),
            esc(report.verdict.as_str()),
            esc(&report.gate.describe())
        );
        out.push_str(&gate_table_html(report));
        if let Some(advice) = noise_advice(report) {
            let _ = writeln!(out, "<p class=\"callout\">{}</p>", esc(&advice));
        }
    }
    out
}
