//! The host fixture for real: fio servers in one network namespace per worker node, driven by one
//! fio client; results merged, persisted, and checked against the raw outputs and fio's own tools.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use iogate::run::Session;
use iogate::run::{CellRecord, Status};
use iogate::spec::MatrixFile;

/// Cells of one process never overlap; the session lock also serializes against other processes.
static SERIAL: Mutex<()> = Mutex::new(());

fn matrix(text: &str) -> (tempfile::TempDir, MatrixFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, MatrixFile::load(&path).unwrap())
}

fn host_matrix(target: &Path, clients: &str, patterns: &str, runtime: &str) -> String {
    format!(
        "name: hosttest
target: {}
nodes: 2
clients: {clients}
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: {patterns}
  bs: 64k
  threads: 2
  size: 4m
  runtime: {runtime}
",
        target.display()
    )
}

/// Namespaces this test process created that still exist.
fn our_namespaces() -> Vec<String> {
    let prefix = format!("iogate-{}-", std::process::id());
    let list = duct::cmd!("ip", "netns", "list").read().unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// fio processes that are children of this test process.
fn our_fio_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if comm.ends_with("(fio") && fields.get(1) == Some(&me.as_str()) && fields[0] != "Z" {
            pids.push(entry.file_name().to_string_lossy().parse().unwrap());
        }
    }
    pids
}

fn run_dir(session: &Session) -> PathBuf {
    session.dir().to_owned()
}

/// Recomputes fio's nearest-rank percentile from fio_jsonplus_clat2csv's per-bucket counts
/// summed over every job of every client.
fn clat2csv_percentiles(raw_json: &Path, direction: &str, percentiles: &[f64]) -> Vec<u64> {
    let text = std::fs::read_to_string(raw_json).unwrap();
    let start = text.find("\n{").map_or(0, |i| i + 1);
    let doc: serde_json::Value = serde_json::Deserializer::from_str(&text[start..])
        .into_iter()
        .last()
        .unwrap()
        .unwrap();
    // fio_jsonplus_clat2csv reads `jobs`; client mode reports under `client_stats`.
    let jobs: Vec<serde_json::Value> = doc["client_stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["jobname"] != "All clients")
        .cloned()
        .collect();
    let dir = raw_json.parent().unwrap().join("clat2csv");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("jobs.json");
    std::fs::write(&input, serde_json::json!({ "jobs": jobs }).to_string()).unwrap();
    let status = std::process::Command::new("fio_jsonplus_clat2csv")
        .arg(&input)
        .arg(dir.join("out.csv"))
        .status()
        .expect("fio_jsonplus_clat2csv ships with fio");
    assert!(status.success());
    let column = format!("{direction}_clat_ns_count");
    let mut bins = std::collections::BTreeMap::<u64, u64>::new();
    for k in 0..jobs.len() {
        let csv = std::fs::read_to_string(dir.join(format!("out_job{k}.csv"))).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').map(str::trim).collect();
        let col = header.iter().position(|h| *h == column).unwrap();
        for line in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if let Ok(count) = fields[col].parse::<u64>() {
                *bins.entry(fields[0].parse().unwrap()).or_default() += count;
            }
        }
    }
    let total: u64 = bins.values().sum();
    percentiles
        .iter()
        .map(|p| {
            // fio compares in x87 long double; fio_threshold reproduces that rounding exactly.
            let threshold = iogate::fio::histogram::fio_threshold(*p, total);
            let mut running = 0;
            *bins
                .iter()
                .find(|(_, c)| {
                    running += **c;
                    running >= threshold
                })
                .unwrap()
                .0
        })
        .collect()
}

fn raw_bw_sum(raw_json: &Path, direction: &str) -> f64 {
    let text = std::fs::read_to_string(raw_json).unwrap();
    let start = text.find("\n{").map_or(0, |i| i + 1);
    let doc: serde_json::Value = serde_json::from_str(&text[start..]).unwrap();
    doc["client_stats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["jobname"] != "All clients")
        .map(|j| j[direction]["bw_bytes"].as_f64().unwrap())
        .sum()
}

#[test]
fn eight_clients_over_two_namespaces_match_their_raw_outputs() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let target = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let (_m, file) = matrix(&host_matrix(
        target.path(),
        "[8]",
        "[randread, write]",
        "2s",
    ));
    let mut session = Session::open_in(results.path(), "r1", file.clone()).unwrap();
    for cell in file.cells() {
        let record = session.run_cell(&cell).unwrap();
        assert_eq!(record.status, Status::Passed, "{:?}", record.reason);
        assert_eq!(
            (record.clients, record.nodes, record.placement.clone()),
            (8, 2, vec![4, 4])
        );
        assert!(
            record.provenance.runtime.hosts[0].contains("network namespace"),
            "ran over namespaces: {:?}",
            record.provenance.runtime
        );
        assert_eq!(record.provenance.matrix_hash, file.hash);
        assert_eq!(record.provenance.cell_hash, cell.measure_hash());
        assert!(!record.provenance.kernel.is_empty() && record.provenance.fio.starts_with("fio-"));
        // The relays saw every server's results arrive: how far apart the 8 clients ended.
        for rep in &record.repetitions {
            let apart = rep.ends_apart_s.expect("every server's results seen");
            assert!((0.0..60.0).contains(&apart), "{apart}");
        }

        // On disk as soon as it ended.
        let dir = run_dir(&session);
        let on_disk: CellRecord = serde_json::from_str(
            &std::fs::read_to_string(dir.join("cells").join(cell.slug()).join("result.json"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(on_disk, record);

        // Bandwidth is the sum over every thread of every client in the raw output.
        let raw = dir.join(&record.raw[0]);
        let direction = if cell.pattern.as_str().contains("read") {
            "read"
        } else {
            "write"
        };
        assert_eq!(record.bw_bytes.unwrap(), raw_bw_sum(&raw, direction));

        // Percentiles equal fio's nearest-rank walk over the summed bins, per fio_jsonplus_clat2csv.
        let lat = record.lat_ns.unwrap();
        let expected = clat2csv_percentiles(&raw, direction, &[50.0, 90.0, 99.0, 99.9]);
        assert_eq!(
            vec![lat.p50, lat.p90, lat.p99, lat.p99_9],
            expected,
            "{}",
            cell.name
        );
    }
    // Files are laid out once per (runtime, clients) group and reused by the next pattern.
    // fio's client prints the servers' text to stdout or into the --output file before the JSON.
    let logs: Vec<String> = file
        .cells()
        .iter()
        .map(|c| {
            let cell_dir = session.dir().join("cells").join(c.slug());
            let log = std::fs::read_to_string(cell_dir.join("r1.client.log")).unwrap();
            log + &std::fs::read_to_string(cell_dir.join("r1.json")).unwrap()
        })
        .collect();
    assert!(logs[0].contains("Laying out IO file"), "{}", logs[0]);
    assert!(!logs[1].contains("Laying out IO file"), "{}", logs[1]);

    let summary = iogate::run::Summary::load(&session.dir().join("summary.json")).unwrap();
    assert_eq!(summary.cells.len(), 2);
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(session.dir().join("environment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(env["matrix_hash"], file.hash.as_str());
    assert!(
        env["runtimes"]["host"]["version"]
            .as_str()
            .unwrap()
            .starts_with("fio-")
    );
    session.close();
    assert!(
        our_namespaces().is_empty(),
        "namespaces left: {:?}",
        our_namespaces()
    );
    assert!(
        our_fio_children().is_empty(),
        "fio left: {:?}",
        our_fio_children()
    );
}

#[test]
fn a_server_killed_mid_run_fails_its_cell_and_the_run_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let target = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let (_m, file) = matrix(&host_matrix(target.path(), "[4]", "[randread, read]", "4s"));
    let mut session = Session::open_in(results.path(), "r1", file.clone()).unwrap();
    let cells = file.cells();

    let killer = std::thread::spawn(|| {
        let prefix = format!("iogate-{}-p", std::process::id());
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(100));
            let list = duct::cmd!("ip", "netns", "list")
                .stderr_null()
                .read()
                .unwrap_or_default();
            let Some(ns) = list
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .find(|n| n.starts_with(&prefix) && n.ends_with("n2"))
                .map(str::to_owned)
            else {
                continue;
            };
            let pids = duct::cmd!("ip", "netns", "pids", &ns)
                .stderr_null()
                .read()
                .unwrap_or_default();
            if !pids.trim().is_empty() {
                // fio --server forks a worker per job: kill the node's listener and workers alike.
                std::thread::sleep(Duration::from_millis(1500));
                let pids = duct::cmd!("ip", "netns", "pids", &ns).read().unwrap();
                for pid in pids.split_whitespace() {
                    duct::cmd!("kill", "-9", pid).run().unwrap();
                }
                return true;
            }
        }
        false
    });
    let killed = session.run_cell(&cells[0]).unwrap();
    assert!(killer.join().unwrap(), "the test found a server to kill");
    assert_eq!(killed.status, Status::Failed);
    let reason = killed.reason.clone().unwrap();
    assert!(
        reason.contains("went away") || reason.contains("fio"),
        "{reason}"
    );
    assert!(
        killed.bw_bytes.is_none() && killed.lat_ns.is_none(),
        "a failed cell shows no numbers"
    );
    assert!(!killed.logs.is_empty(), "a failed cell keeps its logs");
    assert!(
        our_namespaces().is_empty(),
        "namespaces left: {:?}",
        our_namespaces()
    );
    assert!(
        our_fio_children().is_empty(),
        "fio left: {:?}",
        our_fio_children()
    );

    let next = session.run_cell(&cells[1]).unwrap();
    assert_eq!(next.status, Status::Passed, "{:?}", next.reason);

    let summary = iogate::run::Summary::load(&session.dir().join("summary.json")).unwrap();
    let statuses: Vec<_> = summary
        .cells
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("hosttest/host/c4/randread", Status::Failed),
            ("hosttest/host/c4/read", Status::Passed)
        ]
    );
    session.close();
    assert!(our_namespaces().is_empty() && our_fio_children().is_empty());
}

#[test]
fn sweep_removes_namespaces_of_exited_runs_and_spares_live_ones() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = exited.id();
    exited.wait().unwrap();
    let crashed = format!("iogate-{dead_pid}-n1");
    let live = format!("iogate-{}-n9", std::process::id());
    duct::cmd!("ip", "netns", "add", &crashed).run().unwrap();
    duct::cmd!("ip", "netns", "add", &live).run().unwrap();
    iogate::fixture::host::sweep_namespaces().unwrap();
    let left = duct::cmd!("ip", "netns", "list").read().unwrap();
    let _ = duct::cmd!("ip", "netns", "del", &live).run();
    assert!(!left.contains(&crashed), "{left}");
    assert!(
        left.contains(&live),
        "a live run's namespace was removed: {left}"
    );
}
