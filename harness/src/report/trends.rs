//! Trends: each cell of the run over its testbed's last runs in the results history (bandwidth,
//! p99, and bandwidth relative to the runtime's gate reference), with the change points found in
//! those runs. Read only when a history exists.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::history::{Filter, History, Location, Metric, Observation, Shift, detect, series};
use crate::report::table::html_escape as esc;
use crate::spec::CellId;
use crate::stats::changepoint::Options;
use crate::units::{MIB, fmt_us};

/// Runs a trend covers by default.
pub const DEFAULT_LAST: usize = 20;

/// The metrics a trend follows.
const METRICS: [Metric; 2] = [Metric::Bw, Metric::P99];

/// One metric of one cell over the last runs, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The metric.
    pub metric: Metric,
    /// The runtime the metric is divided by (the cell's gate reference), for a relative line.
    pub relative_to: Option<String>,
    /// (run id, value) per run where the cell passed.
    pub points: Vec<(String, f64)>,
    /// Indices into `points` of the first run after each change point.
    pub changes: Vec<usize>,
}

/// A cell of the run with its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct CellTrend {
    /// Cell name.
    pub cell: String,
    /// Bandwidth, p99, then bandwidth relative to the runtime's gate reference when it has one.
    pub lines: Vec<Line>,
}

/// What the history says about the run's cells.
#[derive(Debug, Clone, PartialEq)]
pub enum Trends {
    /// No history to read, or why it could not be read (one line).
    Unavailable(String),
    /// The run's cells over the testbed's last runs.
    Found {
        /// The testbed's name.
        testbed: String,
        /// Runs looked at per cell, at most.
        last: usize,
        /// The run the report is about.
        run_id: String,
        /// One per cell of the run that the history holds.
        cells: Vec<CellTrend>,
        /// Change points in those runs, by cell then metric.
        shifts: Vec<Shift>,
    },
}

/// The trends of run `run_id` of `matrix` from the history at `location`, over `last` runs;
/// `references` maps a runtime to its gate reference (its cells get a relative line). A SQLite
/// file that does not exist is not created.
pub fn load(
    location: &Location,
    matrix: &str,
    run_id: &str,
    last: usize,
    references: &BTreeMap<String, String>,
) -> Trends {
    if let Location::Sqlite(path) = location
        && !path.exists()
    {
        return Trends::Unavailable("No results history: no trends.".into());
    }
    let read = History::open(location).and_then(|h| Ok((h.runs()?, h.observations()?)));
    match read {
        Err(e) => Trends::Unavailable(format!("The results history could not be read: {e}")),
        Ok((runs, observations)) => {
            match runs
                .iter()
                .find(|r| r.run_id == run_id && r.matrix == matrix)
            {
                None => Trends::Unavailable(
                    "The results history does not hold this run: no trends.".into(),
                ),
                Some(run) => of(
                    &observations,
                    &run.testbed,
                    matrix,
                    run_id,
                    last,
                    references,
                ),
            }
        }
    }
}

/// The trends of run `run_id` of `matrix` on `testbed` from `observations` (in run order);
/// `references` maps a runtime to its gate reference.
pub fn of(
    observations: &[Observation],
    testbed: &str,
    matrix: &str,
    run_id: &str,
    last: usize,
    references: &BTreeMap<String, String>,
) -> Trends {
    let mut cells: Vec<String> = observations
        .iter()
        .filter(|o| o.run_id == run_id && o.matrix == matrix)
        .map(|o| o.cell.clone())
        .collect();
    cells.sort();
    cells.dedup();
    // Runs up to this one: a report of an older run shows what was known then.
    let end = observations
        .iter()
        .rposition(|o| o.run_id == run_id && o.matrix == matrix)
        .map_or(0, |k| k + 1);
    let known = &observations[..end];
    let mut trends = Vec::new();
    let mut shifts = Vec::new();
    for cell in &cells {
        let filter = Filter {
            matrix: Some(matrix.to_owned()),
            cell: None,
            testbed: Some(testbed.to_owned()),
        };
        let mut runs: Vec<&str> = known
            .iter()
            .filter(|o| o.cell == *cell && filter.matches(o))
            .map(|o| o.run_id.as_str())
            .collect();
        runs.dedup();
        let first = runs.len().saturating_sub(last);
        let id = CellId::parse(cell);
        let reference = id.as_ref().and_then(|id| references.get(&id.runtime));
        let reference_cell = id
            .as_ref()
            .zip(reference)
            .map(|(id, runtime)| CellId::new(&id.matrix, runtime, id.clients, id.pattern).name());
        // The cell in those runs, and the reference's cell its relative line divides by.
        let window: Vec<Observation> = known
            .iter()
            .filter(|o| o.cell == *cell || reference_cell.as_ref() == Some(&o.cell))
            .filter(|o| filter.matches(o) && runs[first..].contains(&o.run_id.as_str()))
            .cloned()
            .collect();
        let only = Filter {
            cell: Some(cell.clone()),
            ..filter
        };
        let wanted = METRICS
            .iter()
            .map(|&m| (m, None))
            .chain(reference.map(|r| (Metric::Bw, Some(r.as_str()))));
        let mut lines = Vec::new();
        for (metric, relative_to) in wanted {
            let found = detect(&window, &only, &[metric], relative_to, &Options::default());
            let points: Vec<(String, f64)> = series(&window, &only, metric, relative_to)
                .into_iter()
                .filter(|s| s.cell == *cell)
                .flat_map(|s| s.points)
                .map(|p| (p.run_id, p.value))
                .collect();
            let found: Vec<Shift> = found.into_iter().filter(|s| s.cell == *cell).collect();
            lines.push(Line {
                metric,
                relative_to: relative_to.map(str::to_owned),
                points,
                changes: found.iter().map(|s| s.index).collect(),
            });
            shifts.extend(found);
        }
        trends.push(CellTrend {
            cell: cell.clone(),
            lines,
        });
    }
    Trends::Found {
        testbed: testbed.to_owned(),
        last,
        run_id: run_id.to_owned(),
        cells: trends,
        shifts,
    }
}

fn value(metric: Metric, relative_to: Option<&str>, v: f64) -> String {
    match (relative_to, metric) {
        (Some(_), _) => format!("{v:.3}×"),
        (None, Metric::Bw) => format!("{:.1} MiB/s", v / MIB),
        (None, _) => format!("{} µs", fmt_us(v.round() as u64)),
    }
}

/// A line's or a change's name: `bw`, or `bw ÷ host`.
fn quantity(metric: Metric, relative_to: Option<&str>) -> String {
    match relative_to {
        None => metric.as_str().to_owned(),
        Some(runtime) => format!("{} ÷ {runtime}", metric.as_str()),
    }
}

/// The markdown section: change points in the last runs, or why there are none.
pub fn markdown(trends: &Trends) -> String {
    let mut out = String::from("## Trends\n\n");
    match trends {
        Trends::Unavailable(why) => {
            let _ = writeln!(out, "{why}");
        }
        Trends::Found {
            testbed,
            last,
            cells,
            shifts,
            ..
        } => {
            let runs = cells
                .iter()
                .flat_map(|c| c.lines.iter().map(|l| l.points.len()))
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "Bandwidth and p99 of each cell, and its bandwidth relative to its runtime's gate \
                 reference in the same run (block by block: machine drift cancels), over testbed \
                 `{testbed}`'s last {runs} runs (at most {last}).\n"
            );
            if shifts.is_empty() {
                out.push_str("No change points in these runs.\n");
            } else {
                out.push_str("| Cell | Metric | Change | Before | After | From run | p |\n");
                out.push_str("|---|---|---:|---:|---:|---|---:|\n");
                for s in shifts {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {:+.1} % | {} | {} | `{}` | {:.1e} |",
                        s.cell,
                        quantity(s.metric, s.relative_to.as_deref()),
                        s.change * 100.0,
                        value(s.metric, s.relative_to.as_deref(), s.mean_before),
                        value(s.metric, s.relative_to.as_deref(), s.mean_after),
                        s.run_id,
                        s.pvalue
                    );
                }
            }
        }
    }
    out
}

/// The HTML section: one small chart per cell and metric.
pub fn html(trends: &Trends) -> String {
    let mut out = String::from("<section id=\"trends\">\n<h2>Trends</h2>\n");
    match trends {
        Trends::Unavailable(why) => {
            let _ = writeln!(out, "<p>{}</p>", esc(why));
        }
        Trends::Found {
            testbed,
            last,
            run_id,
            cells,
            ..
        } => {
            let _ = writeln!(
                out,
                "<p>Each cell over testbed <code>{}</code>'s last runs (at most {last}): change \
                 points as dashed lines, this run as the filled dot.</p>\n<table class=\"trends\">\n\
                 <tr><th>Cell</th><th>Bandwidth</th><th>p99</th><th>Bandwidth ÷ gate reference</th></tr>",
                esc(testbed)
            );
            for cell in cells {
                let _ = write!(out, "<tr><td><code>{}</code></td>", esc(&cell.cell));
                for line in &cell.lines {
                    let _ = write!(out, "<td>{}</td>", chart(line, run_id));
                }
                if cell.lines.iter().all(|l| l.relative_to.is_none()) {
                    out.push_str("<td>—</td>");
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
    }
    out.push_str("</section>\n");
    out
}

/// A sparkline of `line` (inline SVG), the point of `run_id` highlighted.
fn chart(line: &Line, run_id: &str) -> String {
    const W: f64 = 220.0;
    const H: f64 = 48.0;
    const PAD: f64 = 5.0;
    if line.points.is_empty() {
        return "—".into();
    }
    let relative_to = line.relative_to.as_deref();
    let (lo, hi) = line
        .points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = line.points.len();
    let x = |k: usize| {
        if n == 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * k as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * (v - lo) / span;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\"><title>{} of the last {n} runs: {} to {}</title>",
        esc(&quantity(line.metric, relative_to)),
        esc(&value(line.metric, relative_to, lo)),
        esc(&value(line.metric, relative_to, hi))
    );
    for &k in &line.changes {
        let cx = (x(k - 1) + x(k)) / 2.0;
        let _ = write!(
            svg,
            "<line x1=\"{cx:.1}\" y1=\"0\" x2=\"{cx:.1}\" y2=\"{H}\" stroke=\"#D55E00\" \
             stroke-dasharray=\"3 2\"/>"
        );
    }
    let path: Vec<String> = line
        .points
        .iter()
        .enumerate()
        .map(|(k, (_, v))| format!("{:.1},{:.1}", x(k), y(*v)))
        .collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\" points=\"{}\"/>",
        path.join(" ")
    );
    for (k, (id, v)) in line.points.iter().enumerate() {
        let current = id == run_id;
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>{}: {}</title></circle>",
            x(k),
            y(*v),
            if current { 3.5 } else { 1.5 },
            if current { "#000" } else { "#0072B2" },
            esc(id),
            esc(&value(line.metric, relative_to, *v))
        );
    }
    svg.push_str("</svg>");
    svg
}
