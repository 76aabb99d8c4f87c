//! Fidelity and fixed overhead of the host fixture.
//!
//! Runs the same randread job alternately as a host cell (fio servers in a network namespace,
//! driven by `fio --client`) and as plain `fio`, and prints the bandwidth ratio per pair and its
//! median (goal ≥ 0.98), then the fixed overhead per cell: wall time outside fio's own runtime
//! (goal ≤ 1 s).
//!
//! `cargo run --release -p iogate-harness --example host_fidelity [PAIRS]`

use std::path::Path;
use std::time::Instant;

use iogate::matrix::MatrixFile;
use iogate::run::Session;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let pairs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let work = std::env::temp_dir().join(format!("iogate-fidelity-{}", std::process::id()));
    let target = work.join("target");
    let text = format!(
        "name: fidelity
target: {}
clients: [1]
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: [randread]
  bs: 64k
  threads: 4
  size: 128m
  runtime: 3s
  ramp: 1s
",
        target.display()
    );
    std::fs::create_dir_all(&work).unwrap();
    let path = work.join("fidelity.yaml");
    std::fs::write(&path, text).unwrap();
    let file = MatrixFile::load(&path).unwrap();
    let cell = file.cells().remove(0);
    let mut session = Session::open_in(&work.join("results"), "fidelity", file.clone()).unwrap();
    let fio_seconds = 4.0;

    // Lay the files out once, outside the measurement.
    let warm = session.run_cell(&cell).unwrap();
    assert!(warm.bw_bytes.is_some(), "{:?}", warm.reason);

    let job = work.join("plain.fio");
    let text = iogate::fio::job::render(&cell, &cell.client_dir(0).display().to_string()).unwrap();
    std::fs::write(&job, text).unwrap();

    let (mut ratios, mut overheads) = (Vec::new(), Vec::new());
    println!("pair  harness MiB/s  plain MiB/s  ratio  cell overhead s");
    for i in 0..pairs {
        let started = Instant::now();
        let record = session.run_cell(&cell).unwrap();
        let wall = started.elapsed().as_secs_f64();
        let harness_bw = record
            .bw_bytes
            .unwrap_or_else(|| panic!("{:?}", record.reason));
        let plain_bw = plain_fio(&job, &work.join("plain.json"));
        let ratio = harness_bw / plain_bw;
        ratios.push(ratio);
        overheads.push(wall - fio_seconds);
        println!(
            "{i:>4}  {:>13.1}  {:>11.1}  {ratio:>5.3}  {:>15.2}",
            harness_bw / 1048576.0,
            plain_bw / 1048576.0,
            wall - fio_seconds
        );
    }
    println!(
        "median bandwidth ratio harness/plain: {:.3} (goal >= 0.98)",
        median(ratios)
    );
    println!(
        "median fixed overhead per cell: {:.2} s (goal <= 1 s; includes namespace setup, server start, \
         fio's own startup and result persistence)",
        median(overheads)
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Runs plain fio on the job file and returns the summed read bandwidth in bytes/s.
fn plain_fio(job: &Path, out: &Path) -> f64 {
    let status = std::process::Command::new("fio")
        .arg("--output-format=json+")
        .arg(format!("--output={}", out.display()))
        .arg(job)
        .status()
        .unwrap();
    assert!(status.success());
    let parsed = iogate::fio::output::parse_file(out).unwrap();
    parsed.jobs.iter().map(|j| j.read.bw_bytes as f64).sum()
}
