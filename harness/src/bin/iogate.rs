//! `iogate`: plan, run and clean up I/O matrices from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iogate::report::compare::{Verdict, compare};
use iogate::report::progress::Progress;
use iogate::report::{self, Run};
use iogate::run::Status;
use iogate::spec::Cell;
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
    /// Run a matrix's cells (all, or those whose name contains FILTER) and print the study's table.
    Run {
        /// Matrix file.
        matrix: PathBuf,
        /// Only cells whose name contains this.
        filter: Option<String>,
        /// Also run lab cells.
        #[arg(long)]
        lab: bool,
    },
    /// Write report.md, report.html and the SVG figures next to a run's summary.json.
    Report {
        /// Run directory (or a matrix's results directory: its `latest` run).
        dir: PathBuf,
    },
    /// Compare two runs cell by cell: ratios B/A of bandwidth, p50 and p99, with verdicts.
    Compare {
        /// Run directory A (the baseline).
        a: PathBuf,
        /// Run directory B.
        b: PathBuf,
        /// Also write the comparison as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Relative difference still counted as "same" (0.10 = ±10 %).
        #[arg(long, default_value_t = iogate::report::compare::DEFAULT_TOLERANCE)]
        tolerance: f64,
        /// Exit with failure when any cell is worse (or mixed).
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
        } => {
            let file = MatrixFile::load(&matrix)?;
            let cells: Vec<_> = file
                .cells()
                .into_iter()
                .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
                .filter(|c| lab || !c.lab)
                .collect();
            let nominal: Option<std::time::Duration> = cells.iter().map(nominal_duration).sum();
            let mut progress = Progress::new(cells.len());
            if let Some(n) = nominal {
                progress = progress.with_nominal(n);
            }
            let mut session = iogate::run::Session::open(file)?;
            let mut failed = 0;
            for cell in &cells {
                eprintln!("{}", progress.start(&cell.name));
                let started = std::time::Instant::now();
                let record = session.run_cell(cell)?;
                progress.finish(started.elapsed());
                match record.status {
                    Status::Passed => {}
                    Status::Skipped => {
                        eprintln!("  skipped: {}", record.reason.unwrap_or_default())
                    }
                    Status::Failed => {
                        failed += 1;
                        eprintln!(
                            "  FAILED: {}",
                            first_line(&record.reason.unwrap_or_default())
                        );
                    }
                }
            }
            let run = Run::load(session.dir())?;
            // Footnotes numbered like these tables (ordered without the matrix).
            let view = report::View::new(&run.summary, None);
            println!("{}", report::latency_table(&run.summary));
            println!("{}", report::bandwidth_table(&run.summary));
            print!("{}", report::markdown::missing_list(&view));
            let written = report::write_to(&run, session.dir())?;
            report::append_step_summary(&report::markdown::render(&run, false))?;
            println!("results: {}", session.dir().display());
            println!("report: {}", written.html.display());
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
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
            tolerance,
            fail_on_worse,
        } => {
            if !(tolerance.is_finite() && tolerance >= 0.0) {
                eprintln!("iogate: --tolerance must be a non-negative number, got {tolerance}");
                return Ok(ExitCode::from(2));
            }
            let (a, b) = (Run::load(&a)?, Run::load(&b)?);
            let comparison = compare(&a.summary, &b.summary, tolerance);
            print!("{}", comparison.markdown());
            if let Some(path) = html {
                std::fs::write(&path, comparison.html())
                    .map_err(|e| iogate::Error::io(&path, e))?;
                eprintln!("wrote {}", path.display());
            }
            let bad = comparison.count(Verdict::Worse) + comparison.count(Verdict::Mixed);
            if fail_on_worse && bad > 0 {
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

/// What a cell should take by its workload (ramp + runtime per repetition), if it is time-based.
fn nominal_duration(cell: &Cell) -> Option<std::time::Duration> {
    let w = &cell.workload;
    let one = w.runtime?.get() + w.ramp.map(|r| r.get()).unwrap_or_default();
    Some(one * w.repetitions)
}

/// The first non-empty line of a reason.
fn first_line(reason: &str) -> &str {
    reason
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
