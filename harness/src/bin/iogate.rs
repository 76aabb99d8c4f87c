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
    /// Print the JSON Schema of the matrix format.
    Schema,
    /// Remove leftovers of crashed runs: network namespaces, labelled containers, microVMs.
    Clean,
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
        Command::Schema => print!("{}", iogate::spec::json_schema()),
        Command::Clean => {
            iogate::fixture::host::sweep_namespaces()?;
            println!("removed leftover iogate network namespaces");
            match iogate::fixture::docker::sweep_all() {
                Ok(n) => println!("removed {n} labelled containers and stray gVisor processes"),
                Err(e) => println!("containers not swept: {e}"),
            }
            iogate::fixture::microvm::vm::sweep()?;
            println!("removed microVMs and virtiofsd left by exited iogate processes");
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
    let mut failures = Vec::new();
    let mut decide = |name: &str, decision: Decision| match decision {
        Decision::Pass(text) => println!("{text}"),
        Decision::Ignore(reason) => println!("{name}: ignored — {reason}"),
        Decision::Fail(text) => {
            println!("{name}: FAIL\n{text}");
            failures.push(name.to_owned());
        }
    };
    for cell in &cells {
        if let Decision::Fail(text) = runner.cell_decision(&file, cell) {
            decide(&cell.name, Decision::Fail(text));
        }
    }
    let selected = |c: &iogate::spec::Cell| cells.iter().any(|s| s.name == c.name);
    for gate in &file.matrix.gates {
        for clients in gate.client_counts(&file.matrix) {
            let needs = gate.cells(&file.matrix, Some(clients));
            if needs.is_empty() || !needs.iter().all(selected) {
                continue;
            }
            let name = gate.trial_name(&file.matrix, clients);
            decide(&name, runner.gate_decision(&file, gate, clients));
        }
    }
    if snapshots.is_dir() {
        let store = Store::new(
            snapshots
                .canonicalize()
                .map_err(|e| iogate::Error::io(snapshots, e))?,
        )
        .map_err(iogate::Error::Settings)?;
        for cell in &cells {
            decide(
                &cell.id.baseline_trial(),
                runner.baseline_decision(&file, cell, &store),
            );
        }
    } else {
        eprintln!(
            "baselines: {} does not exist; cells not compared with baselines",
            snapshots.display()
        );
    }
    runner.finish();
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} failed: {}", failures.len(), failures.join(", "));
        Ok(ExitCode::FAILURE)
    }
}
