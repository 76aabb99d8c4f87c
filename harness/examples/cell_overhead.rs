//! Wall time per cell of the smoke-sized matrix host c1, runc c8 and gVisor (runsc) c8 over the
//! four patterns, at `runtime: 1s` without ramp, against the done-criterion of pool reuse: the
//! 12 cells within 12 × 1 s + 12 × 2.0 s = 36 s. A first run lays the files out (and builds the
//! fio image); the second run is timed. Prints figures; asserts nothing.
//!
//! `cargo run -p iogate-harness --release --example cell_overhead`

use std::time::{Duration, Instant};

use iogate::run::{Session, Status};
use iogate::spec::{ClientCount, Matrix, MatrixFile, Pattern, Runtime, Workload};

/// fio's time-based run length of every cell.
const FIO_RUNTIME: Duration = Duration::from_secs(1);
/// Overhead allowed per cell on top of [`FIO_RUNTIME`].
const OVERHEAD_BUDGET: Duration = Duration::from_secs(2);

fn with_clients(mut runtime: Runtime, clients: u32) -> Runtime {
    runtime.clients = Some(vec![ClientCount::try_from(clients).expect("a valid count")]);
    runtime
}

fn matrix() -> Result<MatrixFile, Box<dyn std::error::Error>> {
    let mut workload = Workload::new(
        &[
            Pattern::Read,
            Pattern::Randread,
            Pattern::Write,
            Pattern::Randwrite,
        ],
        "64k",
        "32MiB",
    )?
    .timed("1s", None)?;
    workload.options.insert("invalidate", "0")?;
    workload.options.insert("pre_read", "1")?;
    let runtimes = vec![
        with_clients(Runtime::host("host")?, 1),
        with_clients(Runtime::docker("runc", "runc")?, 8),
        with_clients(Runtime::docker("gvisor", "runsc")?, 8),
    ];
    let matrix = Matrix::new(
        "overhead",
        "/var/tmp/iogate/overhead",
        runtimes,
        &[1],
        2,
        workload,
    )?;
    Ok(MatrixFile::from_matrix(&matrix)?)
}

/// A cell's name, status and wall time.
type Timed = (String, Status, Duration);

/// Runs every cell once; returns each cell's name, status and wall time, the time the session
/// took to close (stopping its servers), and the total.
fn run(file: &MatrixFile) -> Result<(Vec<Timed>, Duration, Duration), iogate::Error> {
    let mut session = Session::open(file.clone())?;
    let started = Instant::now();
    let mut cells = Vec::new();
    for cell in file.cells() {
        let t = Instant::now();
        let record = session.run_cell(&cell)?;
        if let Some(reason) = &record.reason {
            eprintln!("{}: {reason}", cell.name);
        }
        cells.push((cell.name.clone(), record.status, t.elapsed()));
    }
    let closing = Instant::now();
    session.close();
    Ok((cells, closing.elapsed(), started.elapsed()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = matrix()?;
    let (_, _, warmup) = run(&file)?;
    println!(
        "warm-up run (lays files out): {:.1} s",
        warmup.as_secs_f64()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (cells, closing, total) = run(&file)?;
    println!("load average before the timed run: {}", load.trim());
    println!(
        "{:<34} {:>8} {:>10} {:>9}",
        "cell", "status", "wall (s)", "over 1 s"
    );
    for (name, status, wall) in &cells {
        println!(
            "{name:<34} {:>8} {:>10.2} {:>9.2}",
            format!("{status:?}"),
            wall.as_secs_f64(),
            wall.as_secs_f64() - FIO_RUNTIME.as_secs_f64()
        );
    }
    let budget = (FIO_RUNTIME + OVERHEAD_BUDGET) * cells.len() as u32;
    let measured = cells
        .iter()
        .filter(|(_, s, _)| *s == Status::Passed)
        .count();
    let verdict = if measured < cells.len() {
        // A cell that did not measure took no time to measure: the total says nothing.
        format!(
            "NOT measured ({} of {} cells failed or were skipped)",
            cells.len() - measured,
            cells.len()
        )
    } else if total <= budget {
        "met".to_owned()
    } else {
        "NOT met".to_owned()
    };
    println!(
        "closing the session (stopping every server): {:.2} s",
        closing.as_secs_f64()
    );
    println!(
        "total {:.1} s for {} cells; budget {:.0} s: {verdict}",
        total.as_secs_f64(),
        cells.len(),
        budget.as_secs_f64(),
    );
    if measured < cells.len() {
        std::process::exit(1);
    }
    Ok(())
}
