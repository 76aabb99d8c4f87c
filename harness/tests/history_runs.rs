//! The results history under real `iogate run` processes on the host runtime: a run killed with
//! SIGKILL mid-matrix leaves exactly its finished cells in the store (and nothing on the machine
//! once swept), and two runs at the same time against one SQLite file lose nothing.
//!
//! Cells are 1 s long and few: every cell waits for the machine-wide cell lock, which a CI run
//! on the same machine may hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iogate::history::{History, Location};

/// How long a test waits for a cell to land in the store (the cell lock may be busy).
const CELL_WAIT: Duration = Duration::from_secs(300);

/// Writes a host-only matrix `name` with one cell per pattern, 1 s each, files under `dir`.
fn matrix(dir: &Path, name: &str, patterns: &[&str]) -> PathBuf {
    let text = format!(
        "name: {name}
target: {target}
clients: [1]
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: [{patterns}]
  bs: 64k
  threads: 1
  size: 8m
  runtime: 1s
",
        target = dir.join("files").join(name).display(),
        patterns = patterns.join(", "),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `iogate run MATRIX` with its results and history in `dir` (no baselines, no inherited run id
/// or job summary).
fn start_run(dir: &Path, matrix: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_iogate"))
        .arg("run")
        .arg(matrix)
        .arg("--snapshots")
        .arg(dir.join("no-snapshots"))
        .env("IOGATE_RESULTS", dir.join("results"))
        .env("IOGATE_HISTORY", store_path(dir))
        .env("IOGATE_TESTBED", "history-runs")
        .env_remove("IOGATE_RUN_ID")
        .env_remove("IOGATE_MATRIX")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn store_path(dir: &Path) -> PathBuf {
    dir.join("history").join("history.sqlite")
}

/// (run id, cell) of every cell of matrix `name` in the store, with how often each appears.
fn stored_cells(dir: &Path, name: &str) -> BTreeMap<(String, String), usize> {
    let mut found = BTreeMap::new();
    if !store_path(dir).exists() {
        return found;
    }
    let store = History::open(&Location::Sqlite(store_path(dir))).unwrap();
    for o in store.observations().unwrap() {
        if o.matrix == name {
            *found.entry((o.run_id, o.cell)).or_insert(0) += 1;
        }
    }
    found
}

/// The run directories of matrix `name` (by run id).
fn run_dirs(dir: &Path, name: &str) -> BTreeMap<String, PathBuf> {
    let base = dir.join("results").join(name);
    std::fs::read_dir(&base)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect()
}

/// (run id, cell) of every `cells/*/result.json` of matrix `name`.
fn finished_on_disk(dir: &Path, name: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (run_id, run) in run_dirs(dir, name) {
        for entry in std::fs::read_dir(run.join("cells")).unwrap().flatten() {
            let path = entry.path().join("result.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                let record: iogate::run::CellRecord = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                found.insert((run_id.clone(), record.name));
            }
        }
    }
    found
}

/// Pids of `root`'s descendants (from `/proc/*/stat`'s parent field).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            parent.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut k = 0;
    while k < found.len() {
        let p = found[k];
        found.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        k += 1;
    }
    found.remove(0);
    found
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// Network namespaces the process `pid` made (`iogate-<pid>-…`).
fn namespaces_of(pid: u32) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = format!("iogate-{pid}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

fn output_of(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// SIGKILL after the first cell is recorded: the store holds exactly the cells whose
/// `result.json` exists, once each; the fio servers and namespaces the run left are swept.
#[test]
fn a_killed_run_keeps_its_finished_cells_and_leaks_nothing_once_swept() {
    let dir = tempfile::tempdir().unwrap();
    let path = matrix(
        dir.path(),
        "killed",
        &["read", "write", "randread", "randwrite"],
    );
    let started = Instant::now();
    let mut child = start_run(dir.path(), &path);
    let pid = child.id();
    loop {
        if !stored_cells(dir.path(), "killed").is_empty() {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "iogate run ended ({status}) before the test killed it:\n{}",
                output_of(child)
            );
        }
        assert!(
            started.elapsed() < CELL_WAIT,
            "no cell recorded within {CELL_WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The next cell needs at least 1 s of fio before its result.json: the kill lands mid-cell.
    let left = descendants(pid);
    let namespaces = namespaces_of(pid);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    let stored = stored_cells(dir.path(), "killed");
    let on_disk = finished_on_disk(dir.path(), "killed");
    assert!(stored.values().all(|&n| n == 1), "duplicated: {stored:?}");
    let stored: BTreeSet<(String, String)> = stored.into_keys().collect();
    assert_eq!(stored, on_disk, "store vs result.json files");
    assert!(
        (1..4).contains(&on_disk.len()),
        "killed mid-matrix: {on_disk:?}"
    );
    let runs = run_dirs(dir.path(), "killed");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let store = History::open(&Location::Sqlite(store_path(dir.path()))).unwrap();
    let listed = store.runs().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].cells as usize, on_disk.len());

    // What the killed run left (its fio servers in its namespaces) goes with the sweep.
    let servers: Vec<u32> = left
        .iter()
        .copied()
        .filter(|&p| comm(p).as_deref() == Some("fio"))
        .collect();
    eprintln!(
        "killed after {:?} with {} cells recorded; left fio {servers:?}, namespaces {namespaces:?}",
        started.elapsed(),
        on_disk.len()
    );
    assert!(
        !namespaces.is_empty(),
        "the run kept its node's namespace between cells"
    );
    iogate::fixture::host::sweep_namespaces().unwrap();
    assert_eq!(namespaces_of(pid), Vec::<String>::new());
    // fio clients of the killed cell end on their own within the cell's runtime; servers were
    // killed by the sweep.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alive: Vec<u32> = left
            .iter()
            .copied()
            .filter(|&p| comm(p).as_deref() == Some("fio"))
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fio processes of the killed run still running: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two `iogate run`s of two matrices at once, one SQLite store: both runs and all their cells.
#[test]
fn two_runs_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = matrix(dir.path(), "first", &["read", "write"]);
    let b = matrix(dir.path(), "second", &["randread", "randwrite"]);
    let started = Instant::now();
    let runs = [start_run(dir.path(), &a), start_run(dir.path(), &b)];
    for run in runs {
        let out = output_of(run);
        assert!(out.starts_with("status exit status: 0"), "{out}");
    }
    eprintln!("both runs took {:?}", started.elapsed());
    for (name, patterns) in [
        ("first", ["read", "write"]),
        ("second", ["randread", "randwrite"]),
    ] {
        let stored = stored_cells(dir.path(), name);
        assert!(stored.values().all(|&n| n == 1), "duplicated: {stored:?}");
        let stored: BTreeSet<(String, String)> = stored.into_keys().collect();
        let runs = run_dirs(dir.path(), name);
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run_id = runs.keys().next().unwrap();
        let expected: BTreeSet<(String, String)> = patterns
            .iter()
            .map(|p| (run_id.clone(), format!("{name}/host/c1/{p}")))
            .collect();
        assert_eq!(stored, expected);
        assert_eq!(finished_on_disk(dir.path(), name), expected);
    }
    let store = History::open(&Location::Sqlite(store_path(dir.path()))).unwrap();
    let listed = store.runs().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().all(|r| r.cells == 2 && r.passed == 2),
        "{listed:?}"
    );
}
