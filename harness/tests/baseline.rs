//! Baselines from the results history: built per testbed from a temporary SQLite history, their
//! snapshot format, the check of a new run against them, a testbed without baselines, and
//! `iogate baseline record`.

use std::path::{Path, PathBuf};
use std::process::Command;

use iogate::harness::Decision;
use iogate::harness::decision::of_baseline;
use iogate::history::{History, Location, RunEntry, Testbed};
use iogate::judge::baseline::{self, Kind, Outcome, Store, Written};
use iogate::run::CellRecord;
use iogate::spec::{MatrixFile, Metric};
use serde_json::json;

/// Two runtimes, gVisor gated against the host, two patterns, one client count.
fn matrix(dir: &Path) -> MatrixFile {
    let text = format!(
        "name: bl
target: {}
clients: [1]
runtimes:
  - name: host
    host: {{}}
  - name: gvisor
    docker: {{ handler: runsc }}
workload:
  patterns: [read, write]
  bs: 64k
  threads: 1
  size: 8m
gates:
  - {{ metric: bw, runtime: gvisor, reference: host, at_least: 5% }}
",
        dir.join("files").display()
    );
    let path = dir.join("bl.yaml");
    std::fs::write(&path, text).unwrap();
    MatrixFile::load(&path).unwrap()
}

/// A cell record: `bw` bytes/s, p50 and p99 in ns; failed when `bw` is `None`.
fn cell(name: &str, bw: Option<f64>, p50: u64, p99: u64) -> CellRecord {
    let passed = bw.is_some();
    let lat = json!({ "p50": p50, "p90": p50 * 2, "p99": p99, "p99.9": p99 * 2 });
    serde_json::from_value(json!({
        "name": name, "runtime": name.split('/').nth(1), "kind": "host",
        "clients": 1, "nodes": 1, "placement": [1], "pattern": name.rsplit('/').next(),
        "status": if passed { "passed" } else { "failed" },
        "reason": if passed { None } else { Some("a server went away") },
        "bw_bytes": bw, "iops": bw.map(|b| b / 65536.0),
        "lat_ns": if passed { lat.clone() } else { json!(null) },
        "ios": if passed { Some(1000) } else { None },
        "repetitions": if passed {
            json!([{ "bw_bytes": bw, "iops": bw.map(|b| b / 65536.0), "lat_ns": lat,
                     "raw": "cells/x/r1.json" }])
        } else { json!([]) },
        "raw": [], "logs": [], "histogram": null,
        "provenance": { "kernel": "6.1.0", "fio": "fio-3.33",
                        "runtime": { "kind": "host" }, "matrix_hash": "h", "iogate": "0.1.0" },
        "started_at": "2026-01-01T00:00:00Z", "duration_s": 2.5
    }))
    .expect("a valid cell record")
}

/// Run `k`'s numbers: host read bw 1 GB/s and gVisor read 200 MB/s, both × a machine-wide factor
/// (drift that cancels in the ratio) and a little noise of their own.
fn host_read(k: usize) -> f64 {
    1e9 * drift(k)
}
fn gvisor_read(k: usize) -> f64 {
    2e8 * drift(k) * [1.0, 1.02, 0.99, 1.01, 0.98, 1.0][k]
}
fn drift(k: usize) -> f64 {
    [1.0, 1.2, 0.9, 1.1, 0.95, 1.05][k]
}

fn run_entry(k: usize, testbed: &str, commit: &str) -> RunEntry {
    RunEntry {
        run_id: format!("2026010{}T000000Z-{testbed}", k + 1),
        matrix: "bl".into(),
        matrix_hash: "h".into(),
        started_at: format!("2026-01-0{}T00:00:00Z", k + 1),
        git_commit: Some(commit.into()),
        testbed: testbed.into(),
        fingerprint: Testbed {
            cpus: Some(2),
            kernel: Some("6.1.0".into()),
            fio: Some("fio-3.33".into()),
            ..Testbed::default()
        },
        dir: PathBuf::from(format!("/results/bl/run{k}")),
    }
}

/// Six runs on `lab1` (gVisor write passes in two of them), and three much faster runs on
/// `other` that must not leak into lab1's baselines.
fn history(dir: &Path) -> Location {
    let location = Location::Sqlite(dir.join("history.sqlite"));
    let store = History::open(&location).unwrap();
    for k in 0..6 {
        let commit = if k < 3 {
            "aaaaaaaaaaaaaaaa"
        } else {
            "bbbbbbbbbbbbbbbb"
        };
        let cells = [
            cell("bl/host/c1/read", Some(host_read(k)), 500_000, 2_000_000),
            cell(
                "bl/gvisor/c1/read",
                Some(gvisor_read(k)),
                3_000_000,
                9_000_000,
            ),
            cell("bl/host/c1/write", Some(8e8), 600_000, 2_500_000),
            cell(
                "bl/gvisor/c1/write",
                (k >= 4).then_some(1e8),
                4_000_000,
                9_000_000,
            ),
        ];
        store.record(&run_entry(k, "lab1", commit), &cells).unwrap();
    }
    for k in 0..3 {
        let cells = [cell("bl/host/c1/read", Some(9e9), 50_000, 200_000)];
        store
            .record(&run_entry(k, "other", "cccccccccccc"), &cells)
            .unwrap();
    }
    location
}

fn logs_stat(values: &[f64]) -> (f64, f64) {
    let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn baselines_hold_the_testbeds_last_runs_with_ratios_to_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let store = History::open(&history(dir.path())).unwrap();
    let built = baseline::build(&store, "lab1", &file, 4, None).unwrap();
    let names: Vec<&str> = built.baselines.iter().map(|b| b.cell.as_str()).collect();
    assert_eq!(
        names,
        ["bl/host/c1/read", "bl/host/c1/write", "bl/gvisor/c1/read"]
    );
    assert_eq!(
        built.skipped,
        [(
            "bl/gvisor/c1/write".to_owned(),
            "passed in 2 run(s) on testbed `lab1`; a baseline needs 3".to_owned()
        )]
    );

    // The last 4 of lab1's 6 runs; `other`'s runs are not in it.
    let gvisor = &built.baselines[2];
    let bw = &gvisor.metrics[&Metric::Bw];
    let (mean, sigma) = logs_stat(&(2..6).map(gvisor_read).collect::<Vec<_>>());
    assert_eq!(bw.n, 4);
    assert!((bw.mean - mean).abs() < 1e-6, "{bw:?}");
    assert!((bw.sigma - sigma).abs() / sigma < 1e-3, "{bw:?} vs {sigma}");
    // The ratio to the host: the machine-wide drift cancels, leaving gVisor's own noise.
    let ratio = gvisor.ratio_to.as_ref().expect("gVisor has a reference");
    assert_eq!(ratio.runtime, "host");
    let r = &ratio.metrics[&Metric::Bw];
    let (mean, sigma) = logs_stat(
        &(2..6)
            .map(|k| gvisor_read(k) / host_read(k))
            .collect::<Vec<_>>(),
    );
    assert!((r.mean - mean).abs() < 1e-6 && (r.sigma - sigma).abs() / sigma < 1e-3);
    assert!(r.sigma < bw.sigma / 2.0, "{r:?} vs {bw:?}");
    assert_eq!(
        gvisor.metrics.keys().copied().collect::<Vec<_>>(),
        [Metric::Bw, Metric::P50, Metric::P99]
    );
    // Where it came from.
    assert_eq!(gvisor.source.first.run_id, "20260103T000000Z-lab1");
    assert_eq!(gvisor.source.last.run_id, "20260106T000000Z-lab1");
    assert_eq!(gvisor.source.commits, ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]);
    assert_eq!(gvisor.source.cpus, [2]);
    // The host has no reference: no ratio.
    assert!(built.baselines[0].ratio_to.is_none());

    // A testbed without runs of the matrix is an error naming it.
    let none = baseline::build(&store, "nowhere", &file, 10, None).unwrap_err();
    assert!(
        none.contains("no run of matrix `bl` on testbed `nowhere`"),
        "{none}"
    );
}

#[test]
fn snapshot_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let history = History::open(&history(dir.path())).unwrap();
    let built = baseline::build(&history, "lab1", &file, 10, None).unwrap();
    let store = Store::new(dir.path().join("snapshots"));
    let gvisor = &built.baselines[2];
    let written = store.write(gvisor, true).unwrap();
    let path = dir.path().join("snapshots/lab1/bl__gvisor__c1__read.snap");
    assert_eq!(written, Written::Accepted(path.clone()));
    insta::assert_snapshot!(std::fs::read_to_string(&path).unwrap());
    // It reads back as written (`typical` is for people only).
    let mut loaded = store.load("lab1", &gvisor.cell).unwrap().unwrap();
    for stat in loaded
        .metrics
        .values_mut()
        .chain(loaded.ratio_to.as_mut().unwrap().metrics.values_mut())
    {
        assert!(stat.typical.is_empty());
    }
    assert_eq!(loaded.cell, gvisor.cell);
    assert_eq!(loaded.source, gvisor.source);
    assert_eq!(
        loaded.metrics[&Metric::P99].mean,
        gvisor.metrics[&Metric::P99].mean
    );
}

#[test]
fn pending_baselines_count_only_once_accepted_and_unchanged_ones_are_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let history = History::open(&history(dir.path())).unwrap();
    let built = baseline::build(&history, "lab1", &file, 10, None).unwrap();
    let store = Store::new(dir.path().join("snapshots"));
    let host = &built.baselines[0];
    let Written::Pending(pending) = store.write(host, false).unwrap() else {
        panic!("a first write without --accept is pending");
    };
    assert!(
        pending
            .to_string_lossy()
            .ends_with("lab1/bl__host__c1__read.snap.new")
    );
    let record = cell("bl/host/c1/read", Some(1e9), 500_000, 2_000_000);
    assert!(matches!(
        store.check("lab1", &record, None, 0.05).unwrap(),
        Outcome::Missing { .. }
    ));
    assert!(matches!(
        store.write(host, true).unwrap(),
        Written::Accepted(_)
    ));
    assert!(!pending.exists());
    assert!(matches!(
        store.write(host, false).unwrap(),
        Written::Unchanged(_)
    ));
    assert!(!pending.exists());
}

#[test]
fn a_testbed_without_baselines_is_skipped_with_the_command_that_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let record = cell("bl/host/c1/read", Some(1e9), 500_000, 2_000_000);
    let outcome = store.check("ci-2cpu", &record, None, 0.05).unwrap();
    let Outcome::Missing { reason } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("testbed `ci-2cpu`"), "{reason}");
    assert!(
        reason.contains("`iogate baseline record --testbed ci-2cpu`"),
        "{reason}"
    );
    // The runner ignores such a check with this reason: neither passed nor failed.
}

#[test]
fn a_run_is_checked_against_its_baseline_one_sided() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let history = History::open(&history(dir.path())).unwrap();
    let store = Store::new(dir.path().join("snapshots"));
    for b in baseline::build(&history, "lab1", &file, 10, None)
        .unwrap()
        .baselines
    {
        store.write(&b, true).unwrap();
    }
    let check = |gvisor: f64, host: f64, p99: u64| {
        let record = cell("bl/gvisor/c1/read", Some(gvisor), 3_000_000, p99);
        let reference = cell("bl/host/c1/read", Some(host), 500_000, 2_000_000);
        let Outcome::Checked(check) = store
            .check("lab1", &record, Some(&reference), 0.05)
            .unwrap()
        else {
            panic!("lab1 has a baseline");
        };
        check
    };
    let p = |c: &iogate::judge::baseline::BaselineCheck, metric: Metric, ratio: bool| {
        c.rows
            .iter()
            .find(|r| r.metric == metric && matches!(r.kind, Kind::RatioTo(_)) == ratio)
            .unwrap()
            .p_worse
    };

    // As usual: nothing is worse; three absolute rows and three ratio rows.
    let usual = check(2e8, 1e9, 9_000_000);
    assert_eq!(usual.rows.len(), 6);
    assert!(
        usual.rows.iter().all(|r| r.p_worse > 0.1),
        "{}",
        usual.table()
    );
    let holm = |c: &iogate::judge::baseline::BaselineCheck| {
        let p: Vec<f64> = c.rows.iter().map(|r| r.p_worse).collect();
        iogate::stats::holm(&p, 0.01)
    };
    assert!(matches!(
        of_baseline(&usual, &holm(&usual)),
        Decision::Pass(_)
    ));

    // gVisor at half its bandwidth while the host is as usual: both bandwidth rows are worse,
    // the ratio (free of the machine-wide drift) most clearly; the latency rows are not.
    let slow = check(1e8, 1e9, 9_000_000);
    assert!(p(&slow, Metric::Bw, true) < 1e-4, "{}", slow.table());
    assert!(p(&slow, Metric::Bw, true) < p(&slow, Metric::Bw, false));
    assert!(p(&slow, Metric::P50, true) > 0.1);
    let Decision::Fail(text) = of_baseline(&slow, &holm(&slow)) else {
        panic!("a 2× slowdown fails");
    };
    assert!(
        text.contains("worse than its baseline: bw, bw ÷ host"),
        "{text}"
    );

    // Higher latency is worse, lower is better (and never fails).
    assert!(p(&check(2e8, 1e9, 40_000_000), Metric::P99, false) < 1e-3);
    let faster = check(2e8, 1e9, 2_000_000);
    let row = faster
        .rows
        .iter()
        .find(|r| r.metric == Metric::P99 && r.kind == Kind::Absolute)
        .unwrap();
    assert!(row.improved && row.p_worse > 0.99, "{row:?}");

    // The ratio pairs blocks: gVisor was decided after 2 blocks, the host went on for 2 more
    // on a machine that had sped up threefold. By aggregates gVisor would be at half its usual
    // ratio (2e8 ÷ 2e9); side by side it is as usual.
    let mut record = cell("bl/gvisor/c1/read", Some(2e8), 3_000_000, 9_000_000);
    let mut reference = cell("bl/host/c1/read", Some(2e9), 500_000, 2_000_000);
    record.repetitions = vec![record.repetitions[0].clone(); 2];
    let mut later = reference.repetitions[0].clone();
    reference.repetitions[0].bw_bytes = 1e9;
    later.bw_bytes = 3e9;
    reference.repetitions = [vec![reference.repetitions[0].clone(); 2], vec![later; 2]].concat();
    let Outcome::Checked(paired) = store
        .check("lab1", &record, Some(&reference), 0.05)
        .unwrap()
    else {
        panic!("lab1 has a baseline");
    };
    assert!(p(&paired, Metric::Bw, true) > 0.1, "{}", paired.table());
    assert!(p(&paired, Metric::Bw, false) > 0.1, "{}", paired.table());

    // Without the reference's numbers the ratio rows are left out, with a note.
    let record = cell("bl/gvisor/c1/read", Some(2e8), 3_000_000, 9_000_000);
    let Outcome::Checked(alone) = store.check("lab1", &record, None, 0.05).unwrap() else {
        panic!();
    };
    assert_eq!(alone.rows.len(), 3);
    assert!(
        alone.notes[0].contains("ratio to host not checked"),
        "{alone:?}"
    );
}

#[test]
fn the_record_command_writes_pending_baselines_and_accepts_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let location = history(dir.path());
    let Location::Sqlite(db) = &location else {
        unreachable!()
    };
    let snapshots = dir.path().join("snapshots");
    let iogate = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_iogate"))
            .args(["baseline", "record", "--matrix"])
            .arg(&file.path)
            .arg("--history")
            .arg(db)
            .arg("--snapshots")
            .arg(&snapshots)
            .args(extra)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, out) = iogate(&["--testbed", "lab1", "--last", "5"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("lab1/bl__gvisor__c1__read.snap.new (5 runs in 5 session(s), ratio to host)"),
        "{out}"
    );
    assert!(
        out.contains("lab1/bl__host__c1__read.snap.new (5 runs in 5 session(s))"),
        "{out}"
    );
    assert!(
        out.contains("skipped   bl/gvisor/c1/write: passed in 2 run(s)"),
        "{out}"
    );
    assert!(
        out.contains("3 pending: review with `cargo insta review`"),
        "{out}"
    );
    assert!(snapshots.join("lab1/bl__host__c1__write.snap.new").exists());

    let (ok, out) = iogate(&["--testbed", "lab1", "--last", "5", "--accept"]);
    assert!(ok, "{out}");
    assert!(out.contains("wrote     "), "{out}");
    assert!(snapshots.join("lab1/bl__host__c1__write.snap").exists());
    assert!(!snapshots.join("lab1/bl__host__c1__write.snap.new").exists());
    let (ok, out) = iogate(&["--testbed", "lab1", "--last", "5"]);
    assert!(ok && out.matches("unchanged ").count() == 3, "{out}");

    let (ok, out) = iogate(&["--testbed", "nowhere"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("no run of matrix `bl` on testbed `nowhere`"),
        "{out}"
    );
}

/// Five real host runs make the baseline; a sixth with every thread capped at half its share of
/// the measured bandwidth is worse than it by more than the threshold.
#[test]
fn a_real_2x_slowdown_is_caught_by_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = |rate: Option<u64>| {
        let options = rate.map(|r| format!("{{ rate: {r} }}"));
        host_read_matrix(dir.path(), "bltest", options.as_deref())
    };
    let location = Location::Sqlite(dir.path().join("history.sqlite"));
    let history = History::open(&location).unwrap();
    let results = dir.path().join("results");
    let run = |file: MatrixFile, id: &str| {
        let cell = file.cells().remove(0);
        let mut session = iogate::run::Session::open_in(&results, id, file).unwrap();
        let record = session.run_cell(&cell).unwrap();
        assert_eq!(
            record.status,
            iogate::run::Status::Passed,
            "{:?}",
            record.reason
        );
        record
    };
    let mut bw = Vec::new();
    for k in 0..5 {
        let record = run(matrix(None), &format!("base{k}"));
        let mut entry = run_entry(k, "here", "dddddddddddd");
        entry.matrix = "bltest".into();
        entry.fingerprint.kernel = Some(record.provenance.kernel.clone());
        entry.fingerprint.fio = Some(record.provenance.fio.clone());
        history
            .record(&entry, std::slice::from_ref(&record))
            .unwrap();
        bw.push(record.bw_bytes.unwrap());
    }
    let store = Store::new(dir.path().join("snapshots"));
    let built = baseline::build(&history, "here", &matrix(None), 10, None).unwrap();
    store.write(&built.baselines[0], true).unwrap();

    let threads = 2.0;
    let mean = bw.iter().sum::<f64>() / bw.len() as f64;
    let slow = run(matrix(Some((mean / threads / 2.0) as u64)), "slow");
    let Outcome::Checked(check) = store.check("here", &slow, None, 0.05).unwrap() else {
        panic!("the baseline was written");
    };
    let row = check.rows.iter().find(|r| r.metric == Metric::Bw).unwrap();
    // The cap, not noise, made it slower.
    assert_eq!(check.changed, None, "recorded on this machine");
    assert!(row.measured / row.expected < 0.6, "{}", check.table());
    assert!(row.p_worse < 0.01, "{}", check.table());
}

/// `runs` runs of `bl` on `lab1` starting at `start` (RFC 3339), `apart` minutes apart: host
/// read at `host` bytes/s × a little noise, gVisor read at `ratio` of the host.
fn session(history: &History, start: &str, apart: i64, host: f64, ratio: f64) {
    session_on(history, start, apart, host, ratio, "6.1.0");
}

/// [`session`] on a machine with `kernel`.
fn session_on(history: &History, start: &str, apart: i64, host: f64, ratio: f64, kernel: &str) {
    let start: jiff::Timestamp = start.parse().unwrap();
    let noise = [1.0, 1.03, 0.98, 1.01, 0.97];
    for (k, wobble) in noise.iter().enumerate() {
        let at = start + jiff::SignedDuration::from_mins(apart * k as i64);
        let mut entry = run_entry(k, "lab1", "eeeeeeeeeeee");
        entry.fingerprint.kernel = Some(kernel.into());
        entry.run_id = format!("{}-{k}", at.strftime("%Y%m%dT%H%M%SZ"));
        entry.started_at = at.to_string();
        let host_bw = host * wobble;
        let gvisor_bw = host_bw * ratio * noise[(k + 2) % noise.len()];
        let mut cells = [
            cell("bl/host/c1/read", Some(host_bw), 500_000, 2_000_000),
            cell("bl/gvisor/c1/read", Some(gvisor_bw), 3_000_000, 9_000_000),
        ];
        for c in &mut cells {
            c.provenance.kernel = kernel.into();
        }
        history.record(&entry, &cells).unwrap();
    }
}

fn gvisor_against(store: &Store, gvisor: f64, host: f64) -> iogate::judge::baseline::BaselineCheck {
    let record = cell("bl/gvisor/c1/read", Some(gvisor), 3_000_000, 9_000_000);
    let reference = cell("bl/host/c1/read", Some(host), 500_000, 2_000_000);
    match store
        .check("lab1", &record, Some(&reference), 0.05)
        .unwrap()
    {
        Outcome::Checked(check) => check,
        other => panic!("{other:?}"),
    }
}

/// Five runs minutes apart are one session: its σ is the scatter within the session, blind to
/// the drift between sessions, so its rows are advisory. A 2× drop is reported, never failed,
/// and the check is ignored (not passed) with the table.
#[test]
fn a_baseline_of_one_session_is_advisory_and_decides_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let history = History::open(&Location::Sqlite(dir.path().join("h.sqlite"))).unwrap();
    session(&history, "2026-01-01T10:00:00Z", 5, 1e9, 0.2);
    let store = Store::new(dir.path().join("snapshots"));
    for b in baseline::build(&history, "lab1", &file, 10, None)
        .unwrap()
        .baselines
    {
        assert!(b.metrics.values().all(|s| s.sessions.len() == 1), "{b:?}");
        store.write(&b, true).unwrap();
    }
    let slow = gvisor_against(&store, 1e8, 1e9);
    assert!(slow.rows.iter().all(|r| r.sessions == 1 && !r.decisive()));
    assert!(slow.table().contains("(advisory)"), "{}", slow.table());
    let bw = slow.rows.iter().find(|r| r.label() == "bw ÷ host").unwrap();
    assert!(bw.p_worse < 1e-3, "{}", slow.table());
    // Whatever the correction said, advisory rows do not fail.
    let Decision::Ignore(why) = of_baseline(&slow, &vec![true; slow.rows.len()]) else {
        panic!("a baseline of one session decides nothing");
    };
    assert!(
        why.contains("advisory only (worse: bw, bw ÷ host)"),
        "{why}"
    );
    assert!(why.contains("2 sessions"), "{why}");
}

/// A baseline predicts the machine it was recorded on. A run on another kernel (or fio) is of
/// another testbed under the same name: a 2× drop there is reported, with what changed and how
/// to record the baseline again, and decides nothing; on the baseline's own kernel it fails.
#[test]
fn a_baseline_recorded_on_another_kernel_is_advisory_and_names_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let history = History::open(&Location::Sqlite(dir.path().join("h.sqlite"))).unwrap();
    session(&history, "2026-01-01T10:00:00Z", 5, 1e9, 0.2);
    session(&history, "2026-01-03T22:00:00Z", 5, 1e9, 0.2);
    let store = Store::new(dir.path().join("snapshots"));
    for b in baseline::build(&history, "lab1", &file, 10, None)
        .unwrap()
        .baselines
    {
        assert_eq!(b.source.kernel, ["6.1.0"], "{b:?}");
        store.write(&b, true).unwrap();
    }

    let same = gvisor_against(&store, 1e8, 1e9);
    assert_eq!(same.changed, None);
    let bw = same.rows.iter().find(|r| r.label() == "bw ÷ host").unwrap();
    assert!(bw.decisive() && bw.p_worse < 1e-3, "{}", same.table());
    let rejected: Vec<bool> = same.rows.iter().map(|r| r.p_worse < 1e-3).collect();
    assert!(
        matches!(of_baseline(&same, &rejected), Decision::Fail(_)),
        "{}",
        same.table()
    );

    let mut record = cell("bl/gvisor/c1/read", Some(1e8), 3_000_000, 9_000_000);
    let mut reference = cell("bl/host/c1/read", Some(1e9), 500_000, 2_000_000);
    record.provenance.kernel = "6.2.0".into();
    reference.provenance.kernel = "6.2.0".into();
    let Outcome::Checked(moved) = store
        .check("lab1", &record, Some(&reference), 0.05)
        .unwrap()
    else {
        panic!("the baseline was written");
    };
    assert_eq!(
        moved.changed.as_deref(),
        Some("kernel 6.2.0 (baseline: 6.1.0)")
    );
    assert!(
        moved.rows.iter().all(|r| !r.decisive()),
        "{}",
        moved.table()
    );
    let bw = moved
        .rows
        .iter()
        .find(|r| r.label() == "bw ÷ host")
        .unwrap();
    assert!(
        bw.p_worse < 1e-3,
        "still measured and reported: {}",
        moved.table()
    );
    let table = moved.table();
    assert!(table.contains("(advisory)"), "{table}");
    assert!(
        table.contains("iogate baseline record --testbed lab1"),
        "{table}"
    );
    let Decision::Ignore(why) = of_baseline(&moved, &vec![true; moved.rows.len()]) else {
        panic!("a baseline of another kernel decides nothing");
    };
    assert!(why.contains("kernel 6.2.0 (baseline: 6.1.0)"), "{why}");
    assert!(why.contains("worse: bw, bw ÷ host"), "{why}");
}

/// Recording on a new kernel starts the baselines afresh: the history's runs on the old kernel
/// are left out, and so are the stored baselines' sessions of it (their level is another
/// machine's, not drift); the new baselines name the new kernel only.
#[test]
fn recording_on_a_new_kernel_keeps_nothing_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let store = Store::new(dir.path().join("snapshots"));
    let history = History::open(&Location::Sqlite(dir.path().join("h.sqlite"))).unwrap();
    session(&history, "2026-01-01T10:00:00Z", 5, 1e9, 0.2);
    session(&history, "2026-01-02T10:00:00Z", 5, 1e9, 0.2);
    for b in baseline::build(&history, "lab1", &file, 10, None)
        .unwrap()
        .baselines
    {
        assert_eq!(b.metrics[&Metric::Bw].sessions.len(), 2, "{b:?}");
        store.write(&b, true).unwrap();
    }
    // The kernel moves: the host doubles, gVisor keeps a tenth of it.
    session_on(&history, "2026-01-05T10:00:00Z", 5, 2e9, 0.1, "6.2.0");
    for b in baseline::build(&history, "lab1", &file, 10, Some(&store))
        .unwrap()
        .baselines
    {
        assert_eq!(b.source.kernel, ["6.2.0"], "{b:?}");
        assert_eq!(b.source.first.started_at, "2026-01-05T10:00:00Z");
        let bw = &b.metrics[&Metric::Bw];
        assert_eq!(bw.sessions.len(), 1, "{bw:?}");
        assert_eq!(bw.n, 5);
        store.write(&b, true).unwrap();
    }
    let gvisor = store.load("lab1", "bl/gvisor/c1/read").unwrap().unwrap();
    let ratio = &gvisor.ratio_to.unwrap().metrics[&Metric::Bw];
    assert!((ratio.mean - 0.1f64.ln()).abs() < 0.05, "{ratio:?}");
}

/// The stored baselines' sessions are kept when recording from a history that no longer has
/// their runs (a fresh machine of the testbed), so the drift between sessions is measured: an
/// absolute row widens by it, a ratio row, where the drift cancels, stays sharp. A session the
/// history still has is not counted twice, and a baseline written before sessions were recorded
/// is kept as one session.
#[test]
fn sessions_of_the_stored_baselines_are_kept_and_measure_the_drift() {
    let dir = tempfile::tempdir().unwrap();
    let file = matrix(dir.path());
    let store = Store::new(dir.path().join("snapshots"));
    let first = History::open(&Location::Sqlite(dir.path().join("first.sqlite"))).unwrap();
    session(&first, "2026-01-01T10:00:00Z", 5, 1e9, 0.2);
    for mut b in baseline::build(&first, "lab1", &file, 10, None)
        .unwrap()
        .baselines
    {
        // As a baseline written before sessions were recorded.
        for stat in b.metrics.values_mut() {
            stat.sessions.clear();
        }
        store.write(&b, true).unwrap();
    }
    // Another day, another machine of the testbed: 60 % faster, gVisor still a fifth of it.
    let second = History::open(&Location::Sqlite(dir.path().join("second.sqlite"))).unwrap();
    session(&second, "2026-01-03T22:00:00Z", 5, 1.6e9, 0.2);
    let record = || {
        for b in baseline::build(&second, "lab1", &file, 10, Some(&store))
            .unwrap()
            .baselines
        {
            store.write(&b, true).unwrap();
        }
    };
    record();
    let gvisor = store.load("lab1", "bl/gvisor/c1/read").unwrap().unwrap();
    let bw = &gvisor.metrics[&Metric::Bw];
    assert_eq!(bw.sessions.len(), 2, "{bw:?}");
    assert_eq!(bw.sessions[0].first, "2026-01-01T10:00:00Z");
    assert_eq!(bw.sessions[0].n, 5);
    assert_eq!(bw.sessions[1].first, "2026-01-03T22:00:00Z");
    assert_eq!(bw.sessions[1].last, "2026-01-03T22:20:00Z");
    assert_eq!(
        gvisor.ratio_to.as_ref().unwrap().metrics[&Metric::Bw]
            .sessions
            .len(),
        2
    );
    // The source runs from the kept session's first run to the history's last.
    assert_eq!(gvisor.source.first.started_at, "2026-01-01T10:00:00Z");
    assert!(
        gvisor
            .source
            .last
            .started_at
            .starts_with("2026-01-03T22:20:00")
    );
    // Recording again from the same history keeps the first session once.
    record();
    let again = store.load("lab1", "bl/gvisor/c1/read").unwrap().unwrap();
    assert_eq!(again.metrics[&Metric::Bw].sessions.len(), 2);

    // A run on the slower machine again: the absolute rows have seen that drift and do not fail.
    let usual_slow_machine = gvisor_against(&store, 2e8, 1e9);
    let row = |c: &iogate::judge::baseline::BaselineCheck, label: &str| {
        c.rows.iter().find(|r| r.label() == label).unwrap().clone()
    };
    let abs = row(&usual_slow_machine, "bw");
    assert!(abs.decisive() && abs.sessions == 2);
    assert!(abs.p_worse > 0.05, "{}", usual_slow_machine.table());
    // The same drift judged from one session of runs alone would have failed it.
    let one = iogate::stats::prediction::prediction_gap(
        (2e8f64).ln(),
        bw.sessions[1].mean,
        bw.sessions[1].sigma,
        bw.sessions[1].n,
    )
    .unwrap();
    assert!(iogate::stats::prediction::p_lower_by(&one, 0.05) < 1e-3);
    // gVisor at half its bandwidth on the faster machine: the ratio row, free of the drift,
    // fails it; the absolute row, wide with the drift, cannot tell.
    let slow = gvisor_against(&store, 1.6e8, 1.6e9);
    let ratio = row(&slow, "bw ÷ host");
    assert!(ratio.decisive() && ratio.p_worse < 1e-3, "{}", slow.table());
    assert!(row(&slow, "bw").p_worse > ratio.p_worse);

    // A p99 ten times its usual value is reported, never decisive: latency tails between runs
    // are heavier than the prediction expects. Bandwidth as usual: the check passes.
    let record = cell("bl/gvisor/c1/read", Some(3.2e8), 3_000_000, 90_000_000);
    let reference = cell("bl/host/c1/read", Some(1.6e9), 500_000, 2_000_000);
    let Outcome::Checked(tail) = store
        .check("lab1", &record, Some(&reference), 0.05)
        .unwrap()
    else {
        panic!("lab1 has a baseline");
    };
    let p99 = row(&tail, "p99 ÷ host");
    assert!(p99.sessions == 2 && !p99.decisive() && p99.p_worse < 1e-3);
    assert!(
        tail.table().contains("Latency rows are advisory"),
        "{}",
        tail.table()
    );
    let rejected: Vec<bool> = tail.rows.iter().map(|r| r.p_worse < 1e-3).collect();
    let Decision::Pass(text) = of_baseline(&tail, &rejected) else {
        panic!("latency rows do not fail a run");
    };
    assert!(
        text.contains("advisory rows worse than their baseline"),
        "{text}"
    );
    assert!(text.contains("p99 ÷ host"), "{text}");
}

/// A cell whose decisive baseline row fails at the first look is measured again, with its
/// reference, before its test decides; the failure stands only on the fresh repetitions. Here a
/// real host cell against a baseline of two sessions 50× faster than it: the fresh repetition
/// fails too, and the failure says it was confirmed. (A transient that the fresh repetitions do
/// not repeat passes with the first look printed: `decision::confirmed` and the runner's
/// `fresh_repetitions`, unit-tested.)
#[test]
fn a_failing_baseline_is_measured_again_and_fails_only_when_that_fails_too() {
    use iogate::harness::Runner;
    use iogate::report::events::Silent;
    let dir = tempfile::tempdir().unwrap();
    let file = host_read_matrix(
        dir.path(),
        "confirm",
        Some("{ invalidate: 0, pre_read: 1 }"),
    );
    let cell = file.cells().remove(0);
    let runner = Runner::new(Box::new(Silent));
    let measured = runner.cell(&file, &cell).expect("the host cell measures");
    assert_eq!(measured.record.repetitions.len(), 1);
    let env: iogate::run::Environment = serde_json::from_str(
        &std::fs::read_to_string(measured.dir.join("environment.json")).unwrap(),
    )
    .unwrap();
    let testbed = iogate::history::testbed_name(&env);
    let history = History::open(&Location::Sqlite(dir.path().join("h.sqlite"))).unwrap();
    let fast = measured.record.bw_bytes.unwrap() * 50.0;
    for (day, wobble) in [(1, [1.0, 1.03, 0.98]), (2, [1.1, 1.07, 1.12])] {
        for (k, w) in wobble.iter().enumerate() {
            let mut entry = run_entry(k, &testbed, "ffffffffffff");
            entry.matrix = "confirm".into();
            // Recorded on this machine: a baseline of another kernel or fio decides nothing.
            entry.fingerprint.kernel = Some(env.kernel.clone());
            entry.fingerprint.fio = Some(env.fio.clone());
            entry.run_id = format!("2026010{day}T0{k}0000Z-x");
            entry.started_at = format!("2026-01-0{day}T0{k}:00:00Z");
            let record = CellRecord {
                name: cell.name.clone(),
                ..cell_record_like(fast * w)
            };
            history.record(&entry, &[record]).unwrap();
        }
    }
    let store = Store::new(dir.path().join("snapshots"));
    for b in baseline::build(&history, &testbed, &file, 10, None)
        .unwrap()
        .baselines
    {
        assert!(b.metrics.values().all(|s| s.sessions.len() == 2), "{b:?}");
        store.write(&b, true).unwrap();
    }
    runner.set_baselines(store.clone());
    let decision = runner.baseline_decision(&file, &cell, &store);
    let after = runner.cell(&file, &cell).unwrap().record.repetitions.len();
    runner.finish();
    let Decision::Fail(text) = decision else {
        panic!("50× slower than its baseline: {decision:?}");
    };
    assert!(
        text.contains("confirmed on 1 fresh repetition(s)") && text.contains("the first look:"),
        "{text}"
    );
    assert_eq!(after, 2, "one fresh repetition was measured");
}

/// A passed host read cell with bandwidth `bw` (one repetition).
fn cell_record_like(bw: f64) -> CellRecord {
    cell("confirm/host/c1/read", Some(bw), 500_000, 2_000_000)
}

/// Matrix `name` in `dir`: one real host cell, read, 2 threads × 16 MiB for 1 s, with the
/// workload's fio `options` (a YAML flow mapping) if any.
fn host_read_matrix(dir: &Path, name: &str, options: Option<&str>) -> MatrixFile {
    let options = options.map_or(String::new(), |o| format!("  options: {o}\n"));
    let text = format!(
        "name: {name}\ntarget: {}\nclients: [1]\nruntimes:\n  - name: host\n    host: {{}}\n\
         workload:\n  patterns: [read]\n  bs: 64k\n  threads: 2\n  size: 16m\n  runtime: 1s\n{options}",
        dir.join("files").display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    MatrixFile::load(&path).unwrap()
}
