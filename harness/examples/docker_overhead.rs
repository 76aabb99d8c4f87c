//! Fixed overhead of one Docker cell: wall time of `DockerFixture::run` minus fio's own runtime,
//! for runc and runsc with 1 and 8 clients, median of 3 (after one warm-up run that builds the
//! image and lays the files out).
//!
//! For reference it also measures the same drive against fio servers started directly on the
//! host (Unix sockets, no containers): fio's client/server protocol has a cost of its own that
//! every fixture pays.
//!
//! `cargo run -p iogate-harness --example docker_overhead [--release]`

use std::path::Path;
use std::time::{Duration, Instant};

use iogate::fio::client::{self, ClientJob, ServerAddr};
use iogate::fixture::docker::DockerFixture;
use iogate::fixture::{CellDir, Fixture};
use iogate::spec::{Cell, MatrixFile, RuntimeKind};

/// fio's time-based run length in every measured cell.
const FIO_RUNTIME: Duration = Duration::from_secs(1);
/// Where the cells' files live (removed at the end).
const TARGET: &str = "/var/tmp/iogate-docker-overhead";
/// Measured repetitions per configuration.
const REPETITIONS: usize = 3;

fn cell(handler: &str, clients: u32) -> Result<Cell, iogate::Error> {
    let yaml = format!(
        "name: overhead
target: {TARGET}
clients: [{clients}]
runtimes:
  - name: {handler}
    docker: {{ handler: {handler} }}
workload: {{ patterns: [randread], bs: 64k, size: 4m, threads: 1, runtime: {}s }}
",
        FIO_RUNTIME.as_secs()
    );
    Ok(MatrixFile::parse(Path::new("overhead.yaml"), &yaml)?
        .cells()
        .remove(0))
}

/// Median (and the single runs) of `REPETITIONS` measurements, as text.
fn summary(mut runs: Vec<Duration>) -> String {
    let each: Vec<String> = runs
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    runs.sort();
    format!(
        "{:>6.2}s ({} s)",
        runs[REPETITIONS / 2].as_secs_f64(),
        each.join(", ")
    )
}

/// The same cell driven against fio servers on the host: fio's own client/server overhead.
fn host_baseline(cell: &Cell, dir: &CellDir) -> Result<String, Box<dyn std::error::Error>> {
    iogate::fixture::host_driven::create_client_dirs(cell)?;
    let sockets = dir.abs().join("sockets");
    std::fs::create_dir_all(&sockets)?;
    let jobs = iogate::fixture::host_driven::write_job_files(cell, dir, |k| {
        cell.client_dir(k).display().to_string()
    })?;
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for (k, job_file) in jobs.into_iter().enumerate() {
        let socket = sockets.join(format!("h{k}.sock"));
        let _ = std::fs::remove_file(&socket);
        let server = ServerAddr::Unix(socket);
        servers.push(
            duct::cmd!("fio", format!("--server={}", server.fio_arg()))
                .stdout_null()
                .stderr_null()
                .start()?,
        );
        server.wait_ready(Duration::from_secs(10))?;
        clients.push(ClientJob { server, job_file });
    }
    let measure = |rep: usize| -> iogate::Result<Duration> {
        let started = Instant::now();
        client::drive(
            &clients,
            &dir.path(&format!("host{rep}.json")),
            &dir.path(&format!("host{rep}.log")),
            Duration::from_secs(120),
        )?;
        Ok(started.elapsed().saturating_sub(FIO_RUNTIME))
    };
    let result = measure(0).and_then(|_| {
        (1..=REPETITIONS)
            .map(measure)
            .collect::<iogate::Result<Vec<_>>>()
    });
    for s in &servers {
        let _ = s.kill();
    }
    Ok(summary(result?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_dir =
        std::env::temp_dir().join(format!("iogate-docker-overhead-{}", std::process::id()));
    println!(
        "overhead per cell = wall time of a cell minus fio's {FIO_RUNTIME:?} runtime; median of {REPETITIONS} (runs)"
    );
    println!("runtime        clients  preflight  overhead");
    for clients in [1u32, 8] {
        let dir = CellDir {
            run_dir: run_dir.clone(),
            rel: format!("cells/host-c{clients}").into(),
        };
        std::fs::create_dir_all(dir.abs())?;
        let baseline = host_baseline(&cell("host", clients)?, &dir)?;
        println!(
            "{:<14} {clients:>7}  {:>9}  {baseline}",
            "host fio only", "-"
        );
    }
    for handler in ["runc", "runsc"] {
        for clients in [1u32, 8] {
            let cell = cell(handler, clients)?;
            let RuntimeKind::Docker(spec) = &cell.runtime.kind else {
                unreachable!("a Docker runtime")
            };
            let mut fixture = DockerFixture::new(spec.clone());
            let started = Instant::now();
            fixture.preflight()?;
            let preflight = started.elapsed();

            let dir = CellDir {
                run_dir: run_dir.clone(),
                rel: format!("cells/{handler}-c{clients}").into(),
            };
            std::fs::create_dir_all(dir.abs())?;
            fixture.run(&cell, 1, &dir)?; // warm-up: image present, files laid out
            let overheads: Vec<Duration> = (0..REPETITIONS)
                .map(|rep| {
                    let started = Instant::now();
                    fixture.run(&cell, rep as u32 + 2, &dir)?;
                    Ok(started.elapsed().saturating_sub(FIO_RUNTIME))
                })
                .collect::<iogate::Result<_>>()?;
            println!(
                "docker {handler:<7} {clients:>7}  {:>8.2}s  {}",
                preflight.as_secs_f64(),
                summary(overheads)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&run_dir);
    let _ = std::fs::remove_dir_all(TARGET);
    Ok(())
}
