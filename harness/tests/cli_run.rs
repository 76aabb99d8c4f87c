//! `iogate run` is the same product as `cargo test --test io_matrix`: it runs a matrix's cells and
//! gates through the library's runner, prints each gate's verdict, persists the gate reports
//! (`gates.json`) that `report.md` and `report.html` show, and exits non-zero when a gate fails.

use std::path::Path;
use std::process::Command;

/// A host-only matrix with one 1 s read cell and two absolute gates: one no machine can fail
/// (≥ 1 B/s) and one no machine can pass (≥ 1000 TiB/s).
fn matrix(dir: &Path) -> std::path::PathBuf {
    let text = format!(
        "name: clirun
target: {target}
clients: [1]
runtimes:
  - name: host
    host: {{}}
workload:
  patterns: [read]
  bs: 64k
  threads: 1
  size: 8m
  runtime: 1s
gates:
  - {{ metric: bw, runtime: host, at_least: 1B/s }}
  - {{ metric: bw, runtime: host, at_least: 1000TiB/s }}
",
        target = dir.join("files").display(),
    );
    let path = dir.join("clirun.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn iogate_run_prints_gate_verdicts_persists_them_and_fails_on_a_failed_gate() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iogate"))
        .arg("run")
        .arg(matrix(dir.path()))
        .arg("--snapshots")
        .arg(dir.path().join("no-snapshots"))
        .env("IOGATE_RESULTS", dir.path().join("results"))
        .env("IOGATE_HISTORY", dir.path().join("history.sqlite"))
        .env_remove("IOGATE_RUN_ID")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        stdout.contains("gate `host bw ≥ 1B/s`: pass"),
        "the passing gate's verdict is printed:\n{all}"
    );
    assert!(
        stdout.contains("clirun/gate/host-bw-ge-1000TiBps/c1: FAIL"),
        "the failing gate is named:\n{all}"
    );
    assert!(
        stderr.contains("1 failed: clirun/gate/host-bw-ge-1000TiBps/c1"),
        "{all}"
    );
    let run = dir.path().join("results/clirun/latest");
    let gates: iogate::judge::GatesFile =
        serde_json::from_str(&std::fs::read_to_string(run.join("gates.json")).unwrap()).unwrap();
    let verdicts: Vec<(&str, &str)> = gates
        .gates
        .iter()
        .map(|(name, report)| (name.as_str(), report.verdict.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("clirun/gate/host-bw-ge-1000TiBps/c1", "FAIL"),
            ("clirun/gate/host-bw-ge-1Bps/c1", "pass"),
        ]
    );
    for report in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(run.join(report)).unwrap();
        assert!(
            text.contains("host bw ≥ 1000TiB/s") && text.contains("host bw ≥ 1B/s"),
            "{report} shows both gates:\n{text}"
        );
    }
}
