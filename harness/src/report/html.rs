//! `report.html`: one self-contained page (inline SVG and CSS, no scripts, nothing fetched) with
//! the figures, the tables, gate verdicts, the environment and the notes.

use std::fmt::Write as _;

use crate::report::load::Run;
use crate::report::table::html_escape as esc;
use crate::report::{gates, sections, svg};
use crate::units::first_line;

/// The page's stylesheet.
const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 0 auto; padding: 24px 28px 48px; max-width: 1060px; color: #222; background: #fff;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 20px 0 8px; }
p.lead { color: #444; margin: 4px 0 16px; }
nav a { margin-right: 14px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 90%;
       background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
figure { margin: 12px 0 20px; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid #e4e4e4; border-radius: 4px; }
figcaption { color: #555; font-size: 13px; margin-top: 6px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
th, td { border: 1px solid #d8d8d8; padding: 4px 9px; text-align: left; vertical-align: top; }
thead th { background: #f3f5f7; }
tbody tr:nth-child(even) { background: #fafafa; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed, td.bad { color: #b00020; font-weight: 600; }
td.skipped, td.absent { color: #777; font-style: italic; }
td.good { color: #1b7f3b; font-weight: 600; }
td.warn { color: #8a5a00; background: #fff8e1; font-weight: 600; }
ol.notes li { margin-bottom: 8px; }
ol.notes pre { background: #f7f7f7; border: 1px solid #e4e4e4; padding: 6px 8px; overflow-x: auto;
               font-size: 12px; margin: 4px 0 0; white-space: pre-wrap; }
.callout { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 12px; margin: 10px 0; }
.verdict-bad { color: #b00020; font-weight: 600; }
.verdict-good { color: #1b7f3b; font-weight: 600; }
.verdict-warn { color: #8a5a00; font-weight: 600; }
.verdict-skipped { color: #777; font-style: italic; }
"#;

/// The complete page.
pub fn render(run: &Run) -> String {
    let view = run.view();
    let mut out = String::new();
    let title = format!(
        "iogate report: {}, run {}",
        run.summary.matrix, run.summary.run_id
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = writeln!(
        out,
        "<h1>iogate report: <code>{}</code></h1>\n<p class=\"lead\">Run <code>{}</code>. {}</p>",
        esc(&run.summary.matrix),
        esc(&run.summary.run_id),
        esc(&sections::headline(run))
    );
    out.push_str("<nav>");
    if run.gates.is_some() {
        out.push_str("<a href=\"#gates\">Gates</a>");
    }
    out.push_str(
        "<a href=\"#bandwidth\">Bandwidth</a><a href=\"#latency\">Latency</a>\
         <a href=\"#measures\">What is measured</a><a href=\"#environment\">Environment</a></nav>\n",
    );

    if let Some(gates_file) = &run.gates {
        out.push_str("<section id=\"gates\">\n<h2>Gates</h2>\n");
        match gates_file {
            Err(e) => {
                let _ = writeln!(
                    out,
                    "<p class=\"verdict-bad\">gates.json could not be read: {}</p>",
                    esc(e)
                );
            }
            Ok(file) => out.push_str(&gates::gates_html(file)),
        }
        out.push_str("</section>\n");
    }

    out.push_str("<section id=\"bandwidth\">\n<h2>Aggregate bandwidth</h2>\n<figure>\n");
    out.push_str(&svg::bandwidth(&view));
    out.push_str(
        "<figcaption>Aggregate bandwidth over all clients and threads, MiB/s; one panel per access \
         pattern, each with its own scale. Whiskers span the repetitions when there are several.\
         </figcaption>\n</figure>\n",
    );
    out.push_str(&sections::bandwidth(&view).html("bandwidth"));
    out.push_str("</section>\n");

    out.push_str("<section id=\"latency\">\n<h2>Commit latency</h2>\n<figure>\n");
    out.push_str(&svg::latency_cdf(&view, &run.histograms));
    out.push_str(
        "<figcaption>Cumulative distribution of completion latency (merged histogram of all \
         clients), logarithmic time axis shared by every panel.</figcaption>\n</figure>\n",
    );
    out.push_str("<h3>50th and 99th percentile, µs</h3>\n");
    out.push_str(&sections::latency(&view).html("latency"));
    let notes = sections::missing_notes(&view);
    if !notes.is_empty() {
        out.push_str("<h3>Cells without numbers</h3>\n<ol class=\"notes\">\n");
        for n in notes {
            let cells: Vec<String> = n
                .cells
                .iter()
                .map(|c| format!("<code>{}</code>", esc(c)))
                .collect();
            let count = if n.cells.len() == 1 {
                String::new()
            } else {
                format!("{} cells: ", n.cells.len())
            };
            let _ = write!(
                out,
                "<li value=\"{note}\" id=\"note-{note}\"><strong>{}</strong> ({count}{}): {}",
                esc(n.word),
                cells.join(", "),
                code_spans(first_line(&n.reason)),
                note = n.note,
            );
            let detail = sections::reason_detail(&n.reason, 12);
            if !detail.is_empty() {
                let _ = write!(out, "<pre>{}</pre>", esc(&detail.join("\n")));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");

    out.push_str(&super::trends::html(&run.trends));

    let _ = writeln!(
        out,
        "<section id=\"measures\">\n<h2>What these numbers measure</h2>\n<p class=\"callout\">{}</p>\n\
         <p>Bandwidth is the sum over every thread of every client; percentiles come from the \
         merged completion-latency histogram of all clients (never averaged).</p>\n</section>",
        code_spans(&sections::page_cache_note(run))
    );
    if let Some(note) = sections::concurrency_note(run) {
        let _ = writeln!(
            out,
            "<p class=\"callout\" id=\"concurrency\">{}</p>",
            code_spans(&note)
        );
    }

    out.push_str("<section id=\"environment\">\n<h2>Environment</h2>\n");
    match &run.environment {
        None => out.push_str("<p>No <code>environment.json</code> in the run directory.</p>\n"),
        Some(Err(e)) => {
            let _ = writeln!(
                out,
                "<p><code>environment.json</code> could not be read: {}</p>",
                esc(e)
            );
        }
        Some(Ok(env)) => {
            let (facts, runtimes) = sections::environment(env, &view.layout.runtimes);
            out.push_str(&facts.html("environment"));
            if !runtimes.rows.is_empty() {
                out.push_str("<h3>Runtimes</h3>\n");
                out.push_str(&runtimes.html("runtimes"));
            }
        }
    }
    out.push_str("</section>\n</body>\n</html>\n");
    out
}

/// Escaped text with markdown code spans (`` `x` ``) as `<code>` elements.
fn code_spans(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // An unpaired backtick: leave the text as it is.
        return esc(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", esc(p))
            } else {
                esc(p)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::code_spans;

    #[test]
    fn code_spans_pair_backticks() {
        assert_eq!(code_spans("a `b<c` d"), "a <code>b&lt;c</code> d");
        assert_eq!(code_spans("odd ` tick"), "odd ` tick");
    }
}
