//! Interrupted runs clean up: a real `iogate run` (and the `io_matrix` test binary) sent SIGINT or
//! SIGTERM in the middle of its second cell exits 130/143 within 10 s, leaves no fio process,
//! container, network namespace, qemu or virtiofsd behind, and records the finished cell and the
//! interrupted one in `summary.json`, the report and the history.
//!
//! Each run gets a mark in its environment that every process it starts inherits (fio servers and
//! clients, `ip netns exec`, qemu, virtiofsd); containers are found by the run's Docker label.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;

/// How long the run may take to reach the middle of its second cell (the machine-wide cell lock
/// may be held by another test's cells; a TCG microVM boots in tens of seconds).
const REACH_WAIT: Duration = Duration::from_secs(300);
/// What the issue allows from the signal to a clean machine.
const CLEANUP_BOUND: Duration = Duration::from_secs(10);

/// A two-cell matrix (read, then write; 4 s each) on one runtime kind.
fn matrix(dir: &Path, kind: &str) -> PathBuf {
    let (clients, runtime) = match kind {
        "host" => (8, "host: {}"),
        "runc" => (2, "docker: { handler: runc }"),
        "gvisor" => (2, "docker: { handler: runsc }"),
        "microvm" => (1, "microvm: { shared_fs: virtio-fs, cache: auto }"),
        other => panic!("no runtime kind {other}"),
    };
    let text = format!(
        "name: interrupted-{kind}
target: {target}
nodes: 2
clients: [{clients}]
runtimes:
  - name: {kind}
    {runtime}
workload:
  patterns: [read, write]
  bs: 64k
  threads: 1
  size: 8m
  runtime: 4s
",
        target = dir.join("files").display(),
    );
    let path = dir.join(format!("interrupted-{kind}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The environment every interrupted process runs with: results and history in `dir`, a
/// testbed without baselines, and `mark` for finding its descendants.
fn command(program: &Path, dir: &Path, mark: &str) -> Command {
    let mut c = Command::new(program);
    c.env("IOGATE_RESULTS", dir.join("results"))
        .env("IOGATE_HISTORY", dir.join("history.sqlite"))
        .env("IOGATE_TESTBED", "interrupt-test")
        .env("IOGATE_TEST_MARK", mark)
        .env_remove("IOGATE_RUN_ID")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap());
    c
}

/// `iogate run MATRIX` in the environment of [`command`], without baselines.
fn start_run(dir: &Path, matrix: &Path, mark: &str) -> Child {
    command(Path::new(env!("CARGO_BIN_EXE_iogate")), dir, mark)
        .arg("run")
        .arg(matrix)
        .arg("--snapshots")
        .arg(dir.join("no-snapshots"))
        .spawn()
        .unwrap()
}

/// Running processes (not zombies) that carry `mark` in their environment, with their commands.
fn marked(mark: &str) -> Vec<String> {
    let needle = format!("IOGATE_TEST_MARK={mark}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push(format!("{pid}: {}", cmdline.trim()));
        }
    }
    found
}

/// Network namespaces of process `pid` (`iogate-<pid>-…`).
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

/// Containers (running or not) labelled as started by process `pid`.
fn containers_of(pid: u32) -> Vec<String> {
    let Ok(out) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=iogate.run",
            "--format",
            "{{.Names}} {{.Label \"iogate.run\"}}",
        ])
        .output()
    else {
        return Vec::new();
    };
    let owner = format!(" {pid}.");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&owner))
        .map(str::to_owned)
        .collect()
}

/// The one run directory under `<dir>/results/<matrix>/`, once it exists.
fn run_dir(dir: &Path, matrix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("results").join(matrix))
        .ok()?
        .flatten()
        .find(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
}

/// Waits until the run has recorded its read cell and a marked `fio --client` measures the write
/// cell, then one more second (the cell's fio runs for 4 s).
fn wait_mid_second_cell(child: &mut Child, dir: &Path, matrix: &str, mark: &str) {
    let deadline = Instant::now() + REACH_WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before it was interrupted:\n{}",
                logs(dir)
            );
        }
        let read_done = run_dir(dir, matrix).is_some_and(|run| {
            std::fs::read_dir(run.join("cells"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    e.file_name().to_string_lossy().ends_with("__read")
                        && e.path().join("result.json").exists()
                })
        });
        let writing = marked(mark)
            .iter()
            .any(|p| p.contains("--client") && p.contains("__write"));
        if read_done && writing {
            std::thread::sleep(Duration::from_secs(1));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not reach its second cell within {REACH_WAIT:?}:\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn logs(dir: &Path) -> String {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        read("stdout.log"),
        read("stderr.log")
    )
}

/// Sends `signal` (INT, TERM) to the run, then checks the exit code, the time to exit, what is
/// left on the machine, and what the run recorded.
fn interrupt_and_check(mut child: Child, dir: &Path, matrix: &str, mark: &str, signal: &str) {
    let pid = child.id();
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {signal} {pid}");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > CLEANUP_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running {CLEANUP_BOUND:?} after SIG{signal}:\n{}",
                logs(dir)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = sent.elapsed();
    let expected = if signal == "INT" { 130 } else { 143 };
    assert_eq!(
        status.code(),
        Some(expected),
        "exit status after SIG{signal}: {status}\n{}",
        logs(dir)
    );
    // Everything the run started is gone once it has exited, within the bound.
    let (processes, namespaces, containers) =
        (marked(mark), namespaces_of(pid), containers_of(pid));
    assert!(
        processes.is_empty() && namespaces.is_empty() && containers.is_empty(),
        "{took:?} after SIG{signal} the run left processes {processes:#?}, namespaces \
         {namespaces:?}, containers {containers:?}\n{}",
        logs(dir)
    );

    let run = run_dir(dir, matrix).expect("a run directory");
    let summary =
        iogate::run::Summary::load(&run.join("summary.json")).expect("summary.json of the run");
    let status_of = |pattern: &str| {
        summary
            .cells
            .iter()
            .find(|c| c.name.ends_with(pattern))
            .map(|c| (c.status, c.reason.clone().unwrap_or_default()))
    };
    let read = status_of("/read");
    assert!(
        matches!(read, Some((iogate::run::Status::Passed, _))),
        "the finished cell: {read:?}\n{}",
        logs(dir)
    );
    let write = status_of("/write");
    let Some((iogate::run::Status::Interrupted, reason)) = &write else {
        panic!("the interrupted cell: {write:?}\n{}", logs(dir));
    };
    assert!(reason.contains(&format!("SIG{signal}")), "{reason}");
    let written = summary.cells.iter().find(|c| c.name.ends_with("/write"));
    assert!(
        written.is_some_and(|c| c.bw_bytes.is_none() && c.lat_ns.is_none()),
        "an interrupted cell has no numbers: {written:?}"
    );
    let report = std::fs::read_to_string(run.join("report.md")).expect("the report was written");
    assert!(report.contains("INTERRUPTED"), "{report}");

    let history = iogate::history::History::open(&iogate::history::Location::Sqlite(
        dir.join("history.sqlite"),
    ))
    .unwrap();
    let stored: Vec<(String, String)> = history
        .observations()
        .unwrap()
        .into_iter()
        .filter(|o| o.matrix == matrix)
        .map(|o| (o.cell, o.status))
        .collect();
    assert!(
        stored
            .iter()
            .any(|(c, s)| c.ends_with("/write") && s == "interrupted")
            && stored
                .iter()
                .any(|(c, s)| c.ends_with("/read") && s == "passed"),
        "history: {stored:?}"
    );
    let runs = history.runs().unwrap();
    assert!(
        runs.iter()
            .any(|r| r.matrix == matrix && r.interrupted == 1 && r.passed == 1),
        "the history's run listing: {:?}",
        runs.iter()
            .map(|r| (&r.matrix, r.passed, r.interrupted))
            .collect::<Vec<_>>()
    );
}

#[rstest]
fn an_interrupted_iogate_run_cleans_up_and_records_what_finished(
    #[values("host", "runc", "gvisor", "microvm")] kind: &str,
    #[values("INT", "TERM")] signal: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = matrix(dir.path(), kind);
    let name = format!("interrupted-{kind}");
    let mark = format!("{kind}-{signal}-{}", std::process::id());
    let mut child = start_run(dir.path(), &path, &mark);
    wait_mid_second_cell(&mut child, dir.path(), &name, &mark);
    interrupt_and_check(child, dir.path(), &name, &mark, signal);
}

/// The `io_matrix` test binary of the workspace, built beside this test by `cargo test`.
fn io_matrix_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    std::fs::read_dir(deps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("io_matrix-") && p.extension().is_none()
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "no io_matrix test binary in {}: build it with `cargo test --workspace --no-run`",
                deps.display()
            )
        })
}

#[test]
fn an_interrupted_io_matrix_binary_cleans_up_and_records_what_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = matrix(dir.path(), "host");
    let name = "interrupted-host";
    let mark = format!("io-matrix-{}", std::process::id());
    let mut child = command(&io_matrix_binary(), dir.path(), &mark)
        .env("IOGATE_MATRIX", &path)
        .spawn()
        .unwrap();
    wait_mid_second_cell(&mut child, dir.path(), name, &mark);
    interrupt_and_check(child, dir.path(), name, &mark, "INT");
}

/// A second Ctrl-C during cleanup exits at once, listing what it leaves, and `iogate clean`
/// removes that. To catch the run while it holds its servers, the test takes the run directory's
/// lock while the first cell measures: the run then waits to record that cell with its pool
/// kept for the next one, and both signals find it there.
#[test]
fn a_second_sigint_exits_at_once_and_clean_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = matrix(dir.path(), "host");
    let name = "interrupted-host";
    let mark = format!("twice-{}", std::process::id());
    let mut child = start_run(dir.path(), &path, &mark);
    let deadline = Instant::now() + REACH_WAIT;
    while !marked(&mark)
        .iter()
        .any(|p| p.contains("--client") && p.contains("__read"))
    {
        assert!(child.try_wait().unwrap().is_none(), "{}", logs(dir.path()));
        assert!(Instant::now() < deadline, "{}", logs(dir.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = run_dir(dir.path(), name).unwrap();
    let run_lock = std::fs::File::options()
        .write(true)
        .open(run.join(".lock"))
        .unwrap();
    run_lock.lock().unwrap();
    let read_result = std::fs::read_dir(run.join("cells"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("__read"))
        .unwrap()
        .path()
        .join("result.json");
    while !read_result.exists() {
        assert!(Instant::now() < deadline, "{}", logs(dir.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));

    let pid = child.id().to_string();
    let stderr = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-s", "INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    while !stderr().contains("SIGINT received: stopping") {
        assert!(sent.elapsed() < CLEANUP_BOUND, "{}", logs(dir.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        Command::new("kill")
            .args(["-s", "INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let again = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            again.elapsed() < Duration::from_secs(2),
            "still running after a second SIGINT:\n{}",
            logs(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(run_lock);
    assert_eq!(status.code(), Some(130), "{}", logs(dir.path()));
    let said = stderr();
    assert!(
        said.contains("SIGINT received again: exiting now; still being removed:")
            && said.contains("host pool")
            && said.contains("`iogate clean`"),
        "{}",
        logs(dir.path())
    );
    let pid: u32 = pid.parse().unwrap();
    assert!(
        !namespaces_of(pid).is_empty(),
        "the second signal left the pool's namespaces"
    );
    let clean = Command::new(env!("CARGO_BIN_EXE_iogate"))
        .arg("clean")
        .output()
        .unwrap();
    assert!(clean.status.success(), "{clean:?}");
    // The sweep kills what ran in the namespaces; the kernel reaps them a moment later.
    let deadline = Instant::now() + CLEANUP_BOUND;
    while !(marked(&mark).is_empty() && namespaces_of(pid).is_empty()) {
        assert!(
            Instant::now() < deadline,
            "after `iogate clean`: processes {:?}, namespaces {:?}",
            marked(&mark),
            namespaces_of(pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
