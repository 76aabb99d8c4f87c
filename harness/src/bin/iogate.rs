//! `iogate`: plan, run and clean up I/O matrices from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iogate::harness::trials::nominal_duration;
use iogate::harness::{Decision, Runner};
use iogate::judge::Verdict;
use iogate::judge::baseline::Store;
use iogate::judge::compare::{CompareOptions, DEFAULT_THRESHOLD, compare};
use iogate::report::events::Console;
use iogate::report::progress::Progress;
use iogate::report::{self, Run};
use iogate::spec::MatrixFile;
use iogate::sys::interrupt;

/// Storage I/O across container runtimes, as a regression gate.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the cells of a matrix, one per line (lab cells marked).
    Plan {
        /// Matrix file.
        matrix: PathBuf,
    },
    /// Run a matrix's cells (all, or those whose name contains FILTER), its gates and baselines;
    /// print the study's table and each verdict; exit non-zero when a cell, gate or baseline fails.
    Run {
        /// Matrix file.
        matrix: PathBuf,
        /// Only cells whose name contains this.
        filter: Option<String>,
        /// Also run lab cells.
        #[arg(long)]
        lab: bool,
        /// Baseline snapshots to compare the cells with (skipped when the directory is missing).
        #[arg(long, default_value = "snapshots")]
        snapshots: PathBuf,
    },
    /// Write report.md, report.html and the SVG figures next to a run's summary.json.
    Report {
        /// Run directory (or a matrix's results directory: its `latest` run).
        dir: PathBuf,
    },
    /// Compare two runs cell by cell: ratios B/A of bandwidth, p50 and p99 with their intervals
    /// (log scale, like gates), judged against a practical threshold.
    Compare {
        /// Run directory A (the baseline).
        a: PathBuf,
        /// Run directory B.
        b: PathBuf,
        /// Also write the comparison as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// How much worse B may be and still pass (0.10: bandwidth down to A / 1.1, latency up to
        /// A × 1.1).
        #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
        threshold: f64,
        /// Exit with failure when any cell's verdict is fail.
        #[arg(long)]
        fail_on_worse: bool,
    },
    /// The results history: runs and their cells in a database (IOGATE_HISTORY, a SQLite file
    /// path or a postgres:// URL; default target/iogate/history.sqlite).
    History {
        /// The store, instead of IOGATE_HISTORY.
        #[arg(long, global = true)]
        store: Option<String>,
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Baselines: per testbed and cell, statistics of the last runs in the results history.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Print the JSON Schema of the matrix format.
    Schema,
    /// Print, as YAML documents, every Kubernetes object a cell creates (namespace, NetworkPolicy,
    /// job files, server pods, client Job) for review or `kubectl apply --dry-run=server -f -`.
    Manifests {
        /// Matrix file.
        matrix: PathBuf,
        /// The cell's name, e.g. seed/kata/c64/read.
        cell: String,
    },
    /// Build the fio image from the host's fio (what the Docker runtimes run) and tag it for a
    /// Kubernetes lab, then print how to load it into kind, k3d or a containerd node.
    Image {
        /// The name the lab's pods use (the matrix's `image`, default iogate-fio:latest).
        #[arg(long, default_value = "iogate-fio:latest")]
        tag: String,
    },
    /// Remove leftovers of runs that are no longer running (crashed, killed, interrupted twice):
    /// network namespaces and their fio servers, labelled containers, microVMs; live runs keep
    /// theirs. Also every iogate Kubernetes namespace (with a kubeconfig): do not run it beside a
    /// live lab run.
    Clean,
}

/// `iogate history` subcommands.
#[derive(Subcommand)]
enum HistoryCommand {
    /// Add existing run directories (their summary.json); importing one again changes nothing.
    Import {
        /// Run directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Runs, newest first.
    List {
        #[command(flatten)]
        filter: HistoryFilter,
    },
    /// One cell's series of a metric, as a table (oldest first).
    Show {
        /// Cell name or glob (`*`, `?`).
        cell: String,
        /// bw, iops, p50, p90, p99 or p99.9.
        #[arg(long, default_value = "bw")]
        metric: String,
        /// Only the last N runs.
        #[arg(long)]
        last: Option<usize>,
        /// Divide each value by the same cell of this runtime in the same run.
        #[arg(long, value_name = "RUNTIME")]
        relative_to: Option<String>,
        #[command(flatten)]
        filter: HistoryFilter,
    },
    /// Change points of every (testbed, cell, metric) series: E-divisive means, Student t.
    Detect {
        /// Metrics to look at (default: bw, iops, p50, p99).
        #[arg(long, value_delimiter = ',')]
        metric: Vec<String>,
        /// Only cells matching this glob.
        #[arg(long)]
        cell: Option<String>,
        #[command(flatten)]
        filter: HistoryFilter,
        /// Largest p-value reported.
        #[arg(long, default_value_t = iogate::stats::changepoint::DEFAULT_MAX_PVALUE)]
        max_pvalue: f64,
        /// Smallest relative change reported (0.05 = 5 %).
        #[arg(long, default_value_t = iogate::stats::changepoint::DEFAULT_MIN_MAGNITUDE)]
        min_change: f64,
        /// Points per sliding window.
        #[arg(long, default_value_t = iogate::stats::changepoint::DEFAULT_WINDOW)]
        window: usize,
        /// Divide each value by the same cell of this runtime in the same run: machine drift
        /// between runs cancels, so smaller steps stand out.
        #[arg(long, value_name = "RUNTIME")]
        relative_to: Option<String>,
        /// Only change points among each series' last N runs; exit with status 1 when one of
        /// them is for the worse (the nightly check of a regression that stays).
        #[arg(long, value_name = "N")]
        recent: Option<usize>,
    },
    /// Every recorded cell, as CSV or JSON on stdout.
    Export {
        /// csv or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Only cells matching this glob.
        #[arg(long)]
        cell: Option<String>,
        #[command(flatten)]
        filter: HistoryFilter,
    },
}

/// `iogate baseline` subcommands.
#[derive(Subcommand)]
enum BaselineCommand {
    /// Write each cell's baseline on a testbed from the history's last runs on the newest run's
    /// kernel and fio, as pending snapshots for `cargo insta review` (or accepted at once with
    /// --accept). The sessions of the stored baselines that ended before those runs are kept
    /// when those baselines were recorded with that kernel and fio (delete the testbed's
    /// directory to start over).
    Record {
        /// The testbed (as runs record it: IOGATE_TESTBED, else the host name).
        #[arg(long)]
        testbed: String,
        /// Runs per baseline: the newest that have the cell passed.
        #[arg(long, default_value_t = iogate::judge::baseline::DEFAULT_LAST)]
        last: usize,
        /// Matrix file (default: every matrices/*.yaml).
        #[arg(long)]
        matrix: Vec<PathBuf>,
        /// The history, instead of IOGATE_HISTORY (a SQLite file path or a postgres:// URL).
        #[arg(long)]
        history: Option<String>,
        /// The baseline snapshot directory.
        #[arg(long, default_value = "snapshots")]
        snapshots: PathBuf,
        /// Write the snapshots themselves instead of pending `.snap.new` files.
        #[arg(long)]
        accept: bool,
    },
}

/// Which runs a history command looks at.
#[derive(clap::Args)]
struct HistoryFilter {
    /// Only this matrix.
    #[arg(long)]
    matrix: Option<String>,
    /// Only this testbed.
    #[arg(long)]
    testbed: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iogate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> iogate::Result<ExitCode> {
    match cli.command {
        Command::Plan { matrix } => {
            let file = MatrixFile::load(&matrix)?;
            for cell in file.cells() {
                let lab = if cell.lab { "  (lab)" } else { "" };
                println!("{}{lab}", cell.name);
            }
        }
        Command::Run {
            matrix,
            filter,
            lab,
            snapshots,
        } => return run_matrix(&matrix, filter.as_deref(), lab, &snapshots),
        Command::Report { dir } => {
            let run = Run::load(&dir)?;
            let written = report::write_to(&run, &run.dir)?;
            report::append_step_summary(&report::markdown::render(&run, false))?;
            println!("{}", written.markdown.display());
            println!("{}", written.html.display());
            for f in &written.figures {
                println!("{}", f.display());
            }
        }
        Command::Compare {
            a,
            b,
            html,
            threshold,
            fail_on_worse,
        } => {
            if !(threshold.is_finite() && threshold >= 0.0) {
                eprintln!("iogate: --threshold must be a non-negative number, got {threshold}");
                return Ok(ExitCode::from(2));
            }
            let (a, b) = (Run::load(&a)?, Run::load(&b)?);
            let options = CompareOptions {
                threshold,
                ..CompareOptions::default()
            };
            let comparison = compare(&a.summary, &b.summary, options);
            print!("{}", report::compare::markdown(&comparison));
            if let Some(path) = html {
                std::fs::write(&path, report::compare::html(&comparison))
                    .map_err(|e| iogate::Error::io(&path, e))?;
                eprintln!("wrote {}", path.display());
            }
            if fail_on_worse && comparison.count(Verdict::Fail) > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::History { store, command } => return history(store, command),
        Command::Baseline {
            command:
                BaselineCommand::Record {
                    testbed,
                    last,
                    matrix,
                    history,
                    snapshots,
                    accept,
                },
        } => return record_baselines(&testbed, last, matrix, history, &snapshots, accept),
        Command::Schema => print!("{}", iogate::spec::json_schema()),
        Command::Manifests { matrix, cell } => {
            let file = MatrixFile::load(&matrix)?;
            let cells = file.cells();
            let Some(found) = cells.iter().find(|c| c.name == cell) else {
                let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "iogate: no cell {cell} in {}; its cells: {}",
                    matrix.display(),
                    names.join(", ")
                );
                return Ok(ExitCode::from(2));
            };
            print!("{}", iogate::fixture::kubernetes::review_yaml(found)?);
        }
        Command::Image { tag } => {
            let built = iogate::fixture::docker::tag_fio_image(&tag)?;
            println!("{tag}: built from the host's fio ({built})");
            println!("load it into the cluster's nodes:");
            println!("  kind load docker-image {tag}            # kind");
            println!("  k3d image import {tag}                  # k3d");
            println!(
                "  docker save {tag} | ssh NODE sudo ctr -n k8s.io images import -   # each containerd node"
            );
        }
        Command::Clean => {
            // A runtime this machine does not have (no Docker engine) is reported, not an error.
            for (runtime, swept) in iogate::fixture::sweep_all() {
                match swept {
                    Ok(n) => println!("{runtime}: removed {n} leftovers"),
                    Err(e) => println!("{runtime}: not swept: {e}"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `iogate run`: the same cells, gates and baselines as `cargo test --test io_matrix`, through the
/// library's runner.
fn run_matrix(
    path: &Path,
    filter: Option<&str>,
    lab: bool,
    snapshots: &Path,
) -> iogate::Result<ExitCode> {
    iogate::settings::settings().check()?;
    let file = MatrixFile::load(path)?;
    interrupt::install()?;
    let cells: Vec<_> = file
        .cells()
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f) || c.id.baseline_trial().contains(f)))
        .filter(|c| lab || !c.lab)
        .collect();
    let mut progress = Progress::new(cells.len());
    if let Some(n) = cells.iter().map(nominal_duration).sum() {
        progress = progress.with_nominal(n);
    }
    let runner = Runner::new(Box::new(Console::new(progress)));
    let selected = |c: &iogate::spec::Cell| cells.iter().any(|s| s.name == c.name);
    let gates: Vec<_> = file
        .matrix
        .gates
        .iter()
        .flat_map(|g| {
            g.client_counts(&file.matrix)
                .into_iter()
                .map(move |c| (g, c))
        })
        .filter(|(g, clients)| {
            let needs = g.cells(&file.matrix, Some(*clients));
            !needs.is_empty() && needs.iter().all(selected)
        })
        .collect();
    let compared = snapshots.is_dir();
    if compared {
        runner.set_baselines(Store::new(snapshots));
    }
    runner.select(
        cells
            .iter()
            .flat_map(|c| {
                let baseline = compared.then(|| c.id.baseline_trial());
                std::iter::once(c.name.clone()).chain(baseline)
            })
            .chain(gates.iter().map(|(g, c)| g.trial_name(&file.matrix, *c))),
    );
    let mut failures = Vec::new();
    let mut decide = |name: &str, decision: Decision| match decision {
        Decision::Pass(text) => println!("{text}"),
        Decision::Ignore(reason) => println!("{name}: ignored — {reason}"),
        Decision::Fail(text) => {
            println!("{name}: FAIL\n{text}");
            failures.push(name.to_owned());
        }
    };
    // After a signal nothing new is measured or decided: what finished is reported below.
    for cell in &cells {
        if interrupt::received().is_some() {
            break;
        }
        if let Decision::Fail(text) = runner.cell_decision(&file, cell) {
            decide(&cell.name, Decision::Fail(text));
        }
    }
    for (gate, clients) in gates.iter().take_while(|_| interrupt::received().is_none()) {
        let name = gate.trial_name(&file.matrix, *clients);
        decide(&name, runner.gate_decision(&file, gate, *clients));
    }
    if compared {
        let store = Store::new(snapshots);
        for cell in cells.iter().take_while(|_| interrupt::received().is_none()) {
            match runner.baseline_decision(&file, cell, &store) {
                // The runner's event line already gave the reason (no baseline on this testbed).
                Decision::Ignore(_) => {}
                decision => decide(&cell.id.baseline_trial(), decision),
            }
        }
    } else {
        eprintln!(
            "baselines: {} does not exist; cells not compared with baselines",
            snapshots.display()
        );
    }
    runner.finish();
    if let Some(signal) = interrupt::received() {
        eprintln!(
            "iogate: interrupted by {}: the run stopped; finished cells and the interrupted one \
             are in summary.json and the report",
            signal.name()
        );
        return Ok(ExitCode::from(signal.exit_code()));
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} failed: {}", failures.len(), failures.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The history a command reads: `--history`/`--store`, else IOGATE_HISTORY, else the default
/// SQLite file under the results base.
fn history_location(given: Option<String>) -> iogate::history::Location {
    let settings = iogate::settings::settings();
    match given.or_else(|| settings.history.clone()) {
        Some(text) => iogate::history::Location::parse(&text),
        None => iogate::history::Location::Sqlite(settings.results_base().join("history.sqlite")),
    }
}

/// `iogate baseline record`: each matrix's baselines on `testbed`, written under `snapshots`.
fn record_baselines(
    testbed: &str,
    last: usize,
    matrices: Vec<PathBuf>,
    history: Option<String>,
    snapshots: &Path,
    accept: bool,
) -> iogate::Result<ExitCode> {
    use iogate::judge::baseline::{self, Written};
    iogate::settings::settings().check()?;
    if last < baseline::MIN_RUNS {
        eprintln!("iogate: --last must be at least {}", baseline::MIN_RUNS);
        return Ok(ExitCode::from(2));
    }
    let location = history_location(history);
    if let iogate::history::Location::Sqlite(path) = &location
        && !path.exists()
    {
        eprintln!("iogate: no history at {}", path.display());
        return Ok(ExitCode::FAILURE);
    }
    let store = iogate::history::History::open(&location)?;
    let matrices = if matrices.is_empty() {
        iogate::harness::trials::matrix_files(Path::new("."))
    } else {
        matrices
    };
    let snapshots_store = Store::new(snapshots);
    let (mut written, mut pending) = (0, 0);
    for path in &matrices {
        let file = MatrixFile::load(path)?;
        let built = match baseline::build(&store, testbed, &file, last, Some(&snapshots_store)) {
            Ok(built) => built,
            Err(e) => {
                println!("{}: {e}", file.matrix.name);
                continue;
            }
        };
        for b in &built.baselines {
            let ratio = b
                .ratio_to
                .as_ref()
                .map_or(String::new(), |r| format!(", ratio to {}", r.runtime));
            let n = b.metrics.values().map(|s| s.n).max().unwrap_or_default();
            let sessions = b
                .metrics
                .values()
                .map(|s| s.sessions.len())
                .max()
                .unwrap_or_default();
            let what = match snapshots_store.write(b, accept) {
                Err(e) => {
                    eprintln!("iogate: {e}");
                    return Ok(ExitCode::FAILURE);
                }
                Ok(Written::Unchanged(p)) => format!("unchanged {}", p.display()),
                Ok(Written::Pending(p)) => {
                    pending += 1;
                    format!("pending   {}", p.display())
                }
                Ok(Written::Accepted(p)) => format!("wrote     {}", p.display()),
            };
            written += 1;
            println!("{what} ({n} runs in {sessions} session(s){ratio})");
        }
        for (cell, why) in &built.skipped {
            println!("skipped   {cell}: {why}");
        }
    }
    if written == 0 {
        eprintln!("iogate: no baseline recorded for testbed `{testbed}`");
        return Ok(ExitCode::FAILURE);
    }
    if pending > 0 {
        println!("{pending} pending: review with `cargo insta review`, then commit them");
    }
    Ok(ExitCode::SUCCESS)
}

/// `iogate history`: import, list, show, detect, export.
fn history(store: Option<String>, command: HistoryCommand) -> iogate::Result<ExitCode> {
    use iogate::history::{self, Filter, History, Metric};
    iogate::settings::settings().check()?;
    let store = History::open(&history_location(store))?;
    let filter = |f: HistoryFilter, cell: Option<String>| Filter {
        matrix: f.matrix,
        cell,
        testbed: f.testbed,
    };
    let metric = |name: &str| {
        Metric::parse(name).ok_or_else(|| {
            iogate::Error::Settings(format!(
                "unknown metric `{name}`: expected bw, iops, p50, p90, p99 or p99.9"
            ))
        })
    };
    match command {
        HistoryCommand::Import { dirs } => {
            for dir in &dirs {
                let (run, cells) = history::import_run(&store, dir)?;
                println!("{} {}: {cells} cells", run.matrix, run.run_id);
            }
        }
        HistoryCommand::List { filter: f } => {
            println!("run\tmatrix\tstarted\ttestbed\tcells passed/recorded\tcommit");
            for run in store.runs()? {
                if f.matrix.as_ref().is_some_and(|m| *m != run.matrix)
                    || f.testbed.as_ref().is_some_and(|t| *t != run.testbed)
                {
                    continue;
                }
                let commit = run.git_commit.as_deref().unwrap_or("-");
                let interrupted = if run.interrupted > 0 {
                    " (interrupted)"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}/{}{interrupted}\t{}",
                    run.run_id,
                    run.matrix,
                    run.started_at,
                    run.testbed,
                    run.passed,
                    run.cells,
                    &commit[..commit.len().min(12)]
                );
            }
        }
        HistoryCommand::Show {
            cell,
            metric: name,
            last,
            relative_to,
            filter: f,
        } => {
            let m = metric(&name)?;
            let observations = store.observations()?;
            let reference = relative_to.as_deref();
            for series in history::series(&observations, &filter(f, Some(cell)), m, reference) {
                println!(
                    "{} on {} ({}):",
                    series.cell,
                    series.testbed,
                    quantity(m, reference)
                );
                let skip = last.map_or(0, |n| series.points.len().saturating_sub(n));
                for (i, p) in series.points.iter().enumerate().skip(skip) {
                    println!(
                        "{i:>5}  {}  {}  {}",
                        p.started_at,
                        p.run_id,
                        format_value(m, reference, p.value)
                    );
                }
            }
        }
        HistoryCommand::Detect {
            metric: names,
            cell,
            filter: f,
            max_pvalue,
            min_change,
            window,
            relative_to,
            recent,
        } => {
            let metrics = if names.is_empty() {
                history::DETECTED.to_vec()
            } else {
                names
                    .iter()
                    .map(|n| metric(n))
                    .collect::<iogate::Result<_>>()?
            };
            let options = iogate::stats::changepoint::Options {
                window,
                max_pvalue,
                min_magnitude: min_change,
            };
            let reference = relative_to.as_deref();
            let mut shifts = history::detect(
                &store.observations()?,
                &filter(f, cell),
                &metrics,
                reference,
                &options,
            );
            shifts.retain(|s| recent.is_none_or(|n| s.runs_since <= n));
            if shifts.is_empty() {
                match recent {
                    Some(n) => println!("no change points in the last {n} runs"),
                    None => println!("no change points"),
                }
            }
            let worse = shifts.iter().filter(|s| s.is_worse()).count();
            for s in shifts {
                println!(
                    "{} on {}: {} {:+.1} % at run #{} {} ({}): {} → {} (p = {:.2e})",
                    s.cell,
                    s.testbed,
                    quantity(s.metric, reference),
                    s.change * 100.0,
                    s.index,
                    s.run_id,
                    s.started_at,
                    format_value(s.metric, reference, s.mean_before),
                    format_value(s.metric, reference, s.mean_after),
                    s.pvalue
                );
            }
            if let Some(n) = recent
                && worse > 0
            {
                eprintln!("{worse} change(s) for the worse in the last {n} runs");
                return Ok(ExitCode::FAILURE);
            }
        }
        HistoryCommand::Export {
            format,
            cell,
            filter: f,
        } => {
            let f = filter(f, cell);
            let rows: Vec<_> = store
                .observations()?
                .into_iter()
                .filter(|o| f.matches(o))
                .collect();
            match format.as_str() {
                "json" => println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).expect("rows serialize")
                ),
                "csv" => {
                    println!(
                        "run_id,matrix,started_at,testbed,git_commit,cell,status,reason,bw_bytes,iops,p50_ns,p90_ns,p99_ns,p999_ns,ios"
                    );
                    let text = |v: Option<String>| v.map(|s| csv_field(&s)).unwrap_or_default();
                    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                    let int = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
                    for o in rows {
                        println!(
                            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                            csv_field(&o.run_id),
                            csv_field(&o.matrix),
                            csv_field(&o.started_at),
                            csv_field(&o.testbed),
                            text(o.git_commit),
                            csv_field(&o.cell),
                            csv_field(&o.status),
                            text(o.reason),
                            num(o.bw_bytes),
                            num(o.iops),
                            int(o.p50_ns),
                            int(o.p90_ns),
                            int(o.p99_ns),
                            int(o.p999_ns),
                            int(o.ios)
                        );
                    }
                }
                other => {
                    eprintln!("iogate: --format must be csv or json, got {other}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A metric's value with its unit: MiB/s, IOPS, or µs.
fn format_metric(metric: iogate::history::Metric, value: f64) -> String {
    use iogate::history::Metric;
    match metric {
        Metric::Bw => format!("{:.1} MiB/s", value / 1048576.0),
        Metric::Iops => format!("{value:.0} IOPS"),
        _ => format!("{:.1} µs", value / 1000.0),
    }
}

/// A series' name: the metric, or the metric over the reference runtime's.
fn quantity(metric: iogate::history::Metric, relative_to: Option<&str>) -> String {
    match relative_to {
        None => metric.as_str().to_owned(),
        Some(runtime) => format!("{} ÷ {runtime}'s", metric.as_str()),
    }
}

/// A series' value: with its unit, or a ratio.
fn format_value(metric: iogate::history::Metric, relative_to: Option<&str>, value: f64) -> String {
    match relative_to {
        None => format_metric(metric, value),
        Some(_) => format!("{value:.3}×"),
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
