//! Fidelity and fixed overhead of the host fixture.
//!
//! Runs the same randread job alternately as a host cell (fio servers in a network namespace,
//! driven by `fio --client`) and as plain `fio`, and prints the bandwidth ratio per pair and its
//! median (goal ≥ 0.98), then the fixed overhead per cell: the cell's wall time minus the wall
//! time of plain fio running the same job (goal ≤ 1 s), split into what fio's own client/server
//! mode costs (a bare `fio --client` against a waiting loopback server) and what the harness adds.
//!
//! `cargo run --release -p iogate-harness --example host_fidelity [PAIRS]`

use std::path::Path;
use std::time::Instant;

use iogate::run::Session;
use iogate::spec::MatrixFile;

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
    // Lay the files out once, outside the measurement.
    let warm = session.run_cell(&cell).unwrap();
    assert!(warm.bw_bytes.is_some(), "{:?}", warm.reason);

    let job = work.join("plain.fio");
    let text = iogate::fio::job::render(&cell, &cell.client_dir(0).display().to_string()).unwrap();
    std::fs::write(&job, text).unwrap();

    let (mut ratios, mut overheads, mut harness_only) = (Vec::new(), Vec::new(), Vec::new());
    println!(
        "pair  harness MiB/s  plain MiB/s  ratio  cell s  plain fio s  bare client/server s  overhead s"
    );
    for i in 0..pairs {
        let started = Instant::now();
        let record = session.run_cell(&cell).unwrap();
        let wall = started.elapsed().as_secs_f64();
        let harness_bw = record
            .bw_bytes
            .unwrap_or_else(|| panic!("{:?}", record.reason));
        let plain_started = Instant::now();
        let plain_bw = plain_fio(&job, &work.join("plain.json"));
        let plain_wall = plain_started.elapsed().as_secs_f64();
        let cs_wall = bare_client_server(&job, &work.join("cs.json"));
        let ratio = harness_bw / plain_bw;
        ratios.push(ratio);
        overheads.push(wall - plain_wall);
        harness_only.push(wall - cs_wall);
        println!(
            "{i:>4}  {:>13.1}  {:>11.1}  {ratio:>5.3}  {wall:>6.2}  {plain_wall:>11.2}  {cs_wall:>20.2}  {:>10.2}",
            harness_bw / 1048576.0,
            plain_bw / 1048576.0,
            wall - plain_wall
        );
    }
    println!(
        "median bandwidth ratio harness/plain: {:.3} (goal >= 0.98)",
        median(ratios)
    );
    println!(
        "median fixed overhead per cell: {:.2} s (goal <= 1 s; namespace setup, server start, \
         client/server handshake, result persistence)",
        median(overheads)
    );
    println!(
        "  of which the harness (namespaces, servers, persistence): {:.2} s; the rest is fio's client/server mode",
        median(harness_only)
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Wall time of `fio --client` against a loopback `fio --server` that is already listening.
fn bare_client_server(job: &Path, out: &Path) -> f64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("fio")
        .arg(format!("--server=ip:127.0.0.1,{port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = iogate::fio::client::ServerAddr::Ip {
        host: "127.0.0.1".into(),
        port,
    };
    addr.wait_ready(std::time::Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    let status = std::process::Command::new("fio")
        .arg("--output-format=json+")
        .arg(format!("--output={}", out.display()))
        .arg(format!("--client={}", addr.fio_arg()))
        .arg(job)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    assert!(status.success());
    wall
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
