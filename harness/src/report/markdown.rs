//! `report.md`: the study's latency table, the bandwidth table, gate verdicts, the environment and
//! what the numbers measure, in GitHub-flavoured markdown (also fit for `$GITHUB_STEP_SUMMARY`).

use std::fmt::Write as _;

use crate::report::load::Run;
use crate::report::names::{BANDWIDTH_SVG, LATENCY_CDF_SVG, REPORT_HTML};
use crate::report::table::md_escape;
use crate::report::view::View;
use crate::report::{gates, sections};
use crate::run::Summary;
use crate::units::first_line;

/// The study's table: rows pattern × runtime, columns clients × {p50, p99}, in µs (markdown).
/// Cells without numbers read `FAILED` or `skipped` with a footnote number; see [`missing_list`].
pub fn latency_table(s: &Summary) -> String {
    sections::latency(&View::new(s, None)).markdown()
}

/// Aggregate bandwidth in MiB/s: rows pattern × runtime, columns clients (markdown).
pub fn bandwidth_table(s: &Summary) -> String {
    sections::bandwidth(&View::new(s, None)).markdown()
}

/// The footnotes of the tables: one item per cell without numbers, with its reason (markdown;
/// empty when every cell has numbers).
pub fn missing_list(view: &View<'_>) -> String {
    let notes = sections::missing_notes(view);
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::from("Cells without numbers:\n\n");
    for n in notes {
        let cells: Vec<String> = n.cells.iter().map(|c| format!("`{c}`")).collect();
        let count = if n.cells.len() == 1 {
            String::new()
        } else {
            format!("{} cells: ", n.cells.len())
        };
        let _ = writeln!(
            out,
            "- [{}] **{}** ({count}{}): {}",
            n.note,
            n.word,
            cells.join(", "),
            md_escape(first_line(&n.reason))
        );
        let detail = sections::reason_detail(&n.reason, 12);
        if !detail.is_empty() {
            out.push_str("\n  ```text\n");
            for line in detail {
                let _ = writeln!(out, "  {}", line.replace("```", "'''"));
            }
            out.push_str("  ```\n");
        }
    }
    out
}

/// The whole report. With `figures`, it links the SVG figures and the HTML page next to it
/// (`report.md` in the run directory); without, it stands alone (`$GITHUB_STEP_SUMMARY`).
pub fn render(run: &Run, figures: bool) -> String {
    let view = run.view();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# iogate report: `{}`, run `{}`\n",
        run.summary.matrix, run.summary.run_id
    );
    let _ = writeln!(out, "{}\n", md_escape(&sections::headline(run)));
    if figures {
        let _ = writeln!(
            out,
            "Full report with figures: [{REPORT_HTML}]({REPORT_HTML}).\n\n\
             ![Aggregate bandwidth]({BANDWIDTH_SVG})\n\n\
             ![Commit latency CDF]({LATENCY_CDF_SVG})\n"
        );
    }

    if let Some(gates_file) = &run.gates {
        out.push_str("## Gates\n\n");
        match gates_file {
            Err(e) => {
                let _ = writeln!(out, "**gates.json could not be read**: {}\n", md_escape(e));
            }
            Ok(file) => out.push_str(&gates::gates_markdown(file)),
        }
    }

    out.push_str("## Aggregate bandwidth (MiB/s, all clients)\n\n");
    out.push_str(&sections::bandwidth(&view).markdown());
    out.push_str("\n## Commit latency (µs, completion latency percentiles)\n\n");
    out.push_str(&sections::latency(&view).markdown());
    out.push('\n');
    let missing = missing_list(&view);
    if !missing.is_empty() {
        out.push_str(&missing);
        out.push('\n');
    }

    out.push_str(&super::trends::markdown(&run.trends));
    out.push('\n');

    out.push_str("## What these numbers measure\n\n");
    let _ = writeln!(out, "{}\n", sections::page_cache_note(run));
    if let Some(note) = sections::concurrency_note(run) {
        let _ = writeln!(out, "{note}\n");
    }
    out.push_str(
        "Bandwidth is the sum over every thread of every client; percentiles come from the merged \
         completion-latency histogram of all clients (never averaged).\n\n",
    );

    out.push_str("## Environment\n\n");
    match &run.environment {
        None => out.push_str("No `environment.json` in the run directory.\n"),
        Some(Err(e)) => {
            let _ = writeln!(
                out,
                "`environment.json` could not be read: {}",
                md_escape(e)
            );
        }
        Some(Ok(env)) => {
            let (facts, runtimes) = sections::environment(env, &view.layout.runtimes);
            out.push_str(&facts.markdown());
            if !runtimes.rows.is_empty() {
                out.push('\n');
                out.push_str(&runtimes.markdown());
            }
        }
    }
    out
}
