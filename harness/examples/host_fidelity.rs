//! Fidelity and fixed overhead of the host fixture.
//!
//! Each round runs the same page-cache randread job three ways, in an order that rotates every
//! round: (a) as a host cell (fio servers in a network namespace, driven by `fio --client`),
//! (b) as bare fio client/server (a `fio --server` on loopback, started once by this example,
//! and `fio --client` with the job file the harness rendered), (c) as plain `fio`. It prints the
//! three bandwidths per round, then the median and range of harness ÷ bare client/server (goal
//! ≈ 1.00: the harness adds nothing), harness ÷ plain and bare client/server ÷ plain (fio's own
//! client/server mode). Then the fixed overhead per cell: the cell's wall time minus that of
//! plain fio (goal ≤ 1 s), split into fio's client/server mode (the bare client's wall time) and
//! what the harness adds.
//!
//! `cargo run --release -p iogate-harness --example host_fidelity [ROUNDS]`

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iogate::fio::client::ServerAddr;
use iogate::run::Session;
use iogate::spec::MatrixFile;
use iogate::sys::lock::MachineLock;

/// The harness's lock around cells: the two fio runs outside the harness take it too, so
/// concurrent iogate cells disturb all three variants alike.
const CELL_LOCK: &str = "iogate-cells.lock";

/// A `fio --server` on loopback, killed when dropped (also on panic).
struct LoopbackServer {
    child: Child,
    addr: ServerAddr,
}

impl LoopbackServer {
    fn start(log: &Path) -> LoopbackServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = ServerAddr::Ip {
            host: "127.0.0.1".into(),
            port,
        };
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new("fio")
            .arg(format!("--server={}", addr.fio_arg()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = LoopbackServer { child, addr };
        server.addr.wait_ready(Duration::from_secs(5)).unwrap();
        server
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes the example's directory when dropped (also on panic).
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    Harness,
    ClientServer,
    Plain,
}

const VARIANTS: [Variant; 3] = [Variant::Harness, Variant::ClientServer, Variant::Plain];

/// Bandwidth (bytes/s) and wall time (s) of one run.
#[derive(Clone, Copy, Default)]
struct Run {
    bw: f64,
    wall: f64,
}

/// Median and range.
fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn print_ratio(what: &str, ratios: Vec<f64>, goal: &str) {
    let (median, lo, hi) = summary(ratios);
    println!("{what:<36} median {median:.3}  range {lo:.3}–{hi:.3}  {goal}");
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let work =
        WorkDir(std::env::temp_dir().join(format!("iogate-fidelity-{}", std::process::id())));
    let target = work.0.join("target");
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
  options: {{ invalidate: 0, pre_read: 1 }}
",
        target.display()
    );
    std::fs::create_dir_all(&work.0).unwrap();
    let path = work.0.join("fidelity.yaml");
    std::fs::write(&path, text).unwrap();
    let file = MatrixFile::load(&path).unwrap();
    let cell = file.cells().remove(0);
    let mut session = Session::open_in(&work.0.join("results"), "fidelity", file.clone()).unwrap();
    // Lay the files out once, outside the measurement.
    let warm = session.run_cell(&cell).unwrap();
    assert!(warm.bw_bytes.is_some(), "{:?}", warm.reason);

    // The job file the harness ran, from its cell directory.
    let raw = session.dir().join(&warm.raw[0]);
    let job = work.0.join("job.fio");
    std::fs::copy(raw.with_file_name("client0.fio"), &job).unwrap();

    let server = LoopbackServer::start(&work.0.join("server.log"));
    let threads = cell.workload.threads.get();

    let mut table = Vec::new();
    println!(
        "round  order  harness MiB/s  client/server MiB/s  plain MiB/s  cell s  client/server s  plain fio s"
    );
    for i in 0..rounds {
        let mut runs = [Run::default(); 3];
        let order: Vec<usize> = (0..3).map(|k| (i + k) % 3).collect();
        for &v in &order {
            runs[v] = match VARIANTS[v] {
                Variant::Harness => {
                    let started = Instant::now();
                    let record = session.run_cell(&cell).unwrap();
                    let wall = started.elapsed().as_secs_f64();
                    let bw = record
                        .bw_bytes
                        .unwrap_or_else(|| panic!("{:?}", record.reason));
                    Run { bw, wall }
                }
                Variant::ClientServer => {
                    let _lock = MachineLock::acquire(CELL_LOCK).unwrap();
                    client_server(&server.addr, &job, &work.0.join("cs.json"), threads)
                }
                Variant::Plain => {
                    let _lock = MachineLock::acquire(CELL_LOCK).unwrap();
                    plain_fio(&job, &work.0.join("plain.json"))
                }
            };
        }
        let [h, cs, p] = runs;
        let order: String = order.iter().map(|&v| ['H', 'C', 'P'][v]).collect();
        println!(
            "{i:>5}  {order:>5}  {:>13.1}  {:>19.1}  {:>11.1}  {:>6.2}  {:>15.2}  {:>11.2}",
            h.bw / 1048576.0,
            cs.bw / 1048576.0,
            p.bw / 1048576.0,
            h.wall,
            cs.wall,
            p.wall
        );
        table.push(runs);
    }
    drop(server);

    let ratios = |a: usize, b: usize| table.iter().map(|r| r[a].bw / r[b].bw).collect();
    println!(
        "bandwidth ratios over {rounds} rounds (H harness, C bare client/server, P plain fio):"
    );
    print_ratio(
        "harness / bare client/server",
        ratios(0, 1),
        "(goal ≈ 1.00)",
    );
    print_ratio("harness / plain fio", ratios(0, 2), "");
    print_ratio(
        "bare client/server / plain fio",
        ratios(1, 2),
        "(fio's client/server mode)",
    );

    let (overhead, lo, hi) = summary(table.iter().map(|r| r[0].wall - r[2].wall).collect());
    println!(
        "fixed overhead per cell over plain fio: median {overhead:.2} s, range {lo:.2}–{hi:.2} s \
         (goal <= 1 s; namespace setup, server start, client/server handshake, result persistence)"
    );
    let (harness_only, lo, hi) = summary(table.iter().map(|r| r[0].wall - r[1].wall).collect());
    println!(
        "  of which the harness (namespaces, servers, persistence): median {harness_only:.2} s, \
         range {lo:.2}–{hi:.2} s; the rest is fio's client/server mode"
    );
}

/// `fio --client` against the waiting loopback server: summed read bandwidth of the client's
/// jobs, and the client's wall time.
fn client_server(addr: &ServerAddr, job: &Path, out: &Path, threads: u32) -> Run {
    let started = Instant::now();
    let status = Command::new("fio")
        .arg("--output-format=json+")
        .arg(format!("--output={}", out.display()))
        .arg(format!("--client={}", addr.fio_arg()))
        .arg(job)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success());
    let parsed = iogate::fio::output::parse_file(out).unwrap();
    iogate::fio::output::check_every_client_reported(&parsed, std::slice::from_ref(addr), threads)
        .unwrap();
    Run {
        bw: read_bw(&parsed),
        wall,
    }
}

/// Plain fio on the job file: summed read bandwidth and wall time.
fn plain_fio(job: &Path, out: &Path) -> Run {
    let started = Instant::now();
    let status = Command::new("fio")
        .arg("--output-format=json+")
        .arg(format!("--output={}", out.display()))
        .arg(job)
        .status()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success());
    Run {
        bw: read_bw(&iogate::fio::output::parse_file(out).unwrap()),
        wall,
    }
}

fn read_bw(output: &iogate::fio::output::FioOutput) -> f64 {
    output.jobs.iter().map(|j| j.read.bw_bytes as f64).sum()
}
