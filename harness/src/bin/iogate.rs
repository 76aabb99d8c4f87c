//! `iogate`: plan, run and clean up I/O matrices from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iogate::matrix::MatrixFile;
use iogate::result::Status;

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
    /// Print the JSON Schema of the matrix format.
    Schema,
    /// Remove leftovers of crashed runs: network namespaces and labelled containers.
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
        Command::Run { matrix, filter, lab } => {
            let file = MatrixFile::load(&matrix)?;
            let cells: Vec<_> = file
                .cells()
                .into_iter()
                .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
                .filter(|c| lab || !c.lab)
                .collect();
            let mut session = iogate::run::Session::open(file)?;
            let mut failed = 0;
            for (i, cell) in cells.iter().enumerate() {
                eprintln!("[{}/{}] {}", i + 1, cells.len(), cell.name);
                let record = session.run_cell(cell)?;
                match record.status {
                    Status::Passed => {}
                    Status::Skipped => eprintln!("  skipped: {}", record.reason.unwrap_or_default()),
                    Status::Failed => {
                        failed += 1;
                        eprintln!("  FAILED: {}", record.reason.unwrap_or_default());
                    }
                }
            }
            let summary = iogate::result::Summary::load(&session.dir().join("summary.json"))?;
            println!("{}", iogate::report::latency_table(&summary));
            println!("{}", iogate::report::bandwidth_table(&summary));
            println!("results: {}", session.dir().display());
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Schema => print!("{}", iogate::matrix::json_schema()),
        Command::Clean => {
            iogate::fixture::host::sweep_namespaces()?;
            println!("removed leftover iogate network namespaces");
        }
    }
    Ok(ExitCode::SUCCESS)
}
