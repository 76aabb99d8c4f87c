//! The results history against real stores: SQLite files in temp dirs and a PostgreSQL server
//! the test starts itself (Debian's `postgresql` binaries; `.ci/setup` installs them).

#[path = "support/postgres.rs"]
mod postgres;

use std::path::{Path, PathBuf};

use iogate::history::{self, Filter, History, Location, Metric};
use iogate::run::{CellRecord, Summary};
use iogate::stats::changepoint::Options;
use serde_json::json;

const CELLS: [&str; 3] = [
    "study/host/c4/randread",
    "study/host/c4/write",
    "study/gvisor/c4/randread",
];

/// Deterministic noise in [-1, 1).
fn noise(seed: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn cell(name: &str, bw: f64, started_at: &str) -> CellRecord {
    serde_json::from_value(json!({
        "name": name, "runtime": name.split('/').nth(1), "kind": "host",
        "clients": 4, "nodes": 1, "placement": [4], "pattern": name.rsplit('/').next(),
        "status": "passed", "reason": null, "bw_bytes": bw, "iops": bw / 65536.0,
        "lat_ns": { "p50": 500_000, "p90": 900_000, "p99": 2_000_000, "p99.9": 5_000_000 },
        "ios": 1000,
        "repetitions": [
            { "bw_bytes": bw * 0.99, "iops": bw * 0.99 / 65536.0,
              "lat_ns": { "p50": 500_000, "p90": 900_000, "p99": 2_000_000, "p99.9": 5_000_000 },
              "raw": "cells/x/r1.json" },
            { "bw_bytes": bw * 1.01, "iops": bw * 1.01 / 65536.0,
              "lat_ns": { "p50": 500_000, "p90": 900_000, "p99": 2_000_000, "p99.9": 5_000_000 },
              "raw": "cells/x/r2.json" }
        ],
        "raw": ["cells/x/r1.json", "cells/x/r2.json"], "logs": [],
        "histogram": "cells/x/histogram.json",
        "provenance": { "kernel": "6.1.0", "fio": "fio-3.33",
                        "runtime": { "kind": "host" }, "matrix_hash": "h", "iogate": "0.1.0" },
        "started_at": started_at, "duration_s": 2.5
    }))
    .expect("a valid cell record")
}

/// Writes run `n` of the study under `base`: three cells; the first one's bandwidth is
/// `1 GB/s × (1 ± 2 %)`, 20 % lower from run 30 on when `step`.
fn write_run(base: &Path, n: u64, step: bool) -> PathBuf {
    let run_id = format!("2026010{}T{:02}0000Z-{n}", 1 + n / 24, n % 24);
    let started_at = format!("2026-01-0{}T{:02}:00:00Z", 1 + n / 24, n % 24);
    let dir = base.join("study").join(&run_id);
    std::fs::create_dir_all(&dir).unwrap();
    let cells: Vec<CellRecord> = CELLS
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let level = if k == 0 && step && n >= 30 { 0.8 } else { 1.0 };
            let bw = 1e9 * level * (1.0 + 0.02 * noise(n * 7 + k as u64 + 1));
            cell(name, bw, &started_at)
        })
        .collect();
    let summary = Summary {
        matrix: "study".into(),
        run_id: run_id.clone(),
        matrix_hash: "h".into(),
        cells,
    };
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string(&summary).unwrap(),
    )
    .unwrap();
    let env = json!({
        "iogate": "0.1.0", "kernel": "6.1.0", "fio": "fio-3.33", "hostname": "lab1", "cpus": 2,
        "matrix": "study", "matrix_path": "study.yaml", "matrix_hash": "h", "run_id": run_id,
        "started_at": started_at, "runtimes": { "host": { "kind": "host", "version": "fio-3.33" } }
    });
    std::fs::write(dir.join("environment.json"), env.to_string()).unwrap();
    dir
}

/// Imports 40 runs (the first cell's bandwidth steps down 20 % after the 30th) twice; checks
/// nothing is duplicated and exactly that change point is detected.
fn forty_runs_with_a_step(location: &Location) {
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..40).map(|n| write_run(base.path(), n, true)).collect();
    let store = History::open(location).unwrap();
    for _ in 0..2 {
        for dir in &dirs {
            let (_, cells) = history::import_run(&store, dir).unwrap();
            assert_eq!(cells, 3);
        }
    }
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 40);
    assert!(runs.iter().all(|r| r.cells == 3 && r.passed == 3));
    assert_eq!(runs[0].run_id, "20260102T150000Z-39", "newest first");
    let observations = store.observations().unwrap();
    assert_eq!(observations.len(), 120);
    let bw = history::series(&observations, &Filter::default(), Metric::Bw, None);
    assert_eq!(bw.len(), 3);
    assert!(bw.iter().all(|s| s.points.len() == 40));

    let shifts = history::detect(
        &observations,
        &Filter::default(),
        &history::DETECTED,
        None,
        &Options::default(),
    );
    assert_eq!(
        shifts.len(),
        2,
        "bw and IOPS of the first cell: {shifts:#?}"
    );
    for (shift, metric) in shifts.iter().zip([Metric::Bw, Metric::Iops]) {
        assert_eq!(shift.cell, CELLS[0]);
        assert_eq!(shift.metric, metric);
        assert_eq!(shift.index, 30);
        assert_eq!(shift.run_id, "20260102T060000Z-30");
        assert!((shift.change + 0.2).abs() < 0.01, "{shift:?}");
    }
    let only_bw = Filter {
        cell: Some("study/host/*".into()),
        testbed: Some("lab1".into()),
        ..Filter::default()
    };
    let shifts = history::detect(
        &observations,
        &only_bw,
        &[Metric::Bw],
        None,
        &Options::default(),
    );
    assert_eq!(shifts.len(), 1);
}

/// Two writers record the cells of one run at once, some of them both: every cell is there once.
fn concurrent_writers_lose_and_duplicate_nothing(location: &Location) {
    let base = tempfile::tempdir().unwrap();
    let dir = write_run(base.path(), 0, false);
    let summary = Summary::load(&dir.join("summary.json")).unwrap();
    let env: iogate::run::Environment =
        serde_json::from_str(&std::fs::read_to_string(dir.join("environment.json")).unwrap())
            .unwrap();
    let names: Vec<String> = (0..40).map(|k| format!("study/host/c{k}/read")).collect();
    std::thread::scope(|s| {
        for writer in 0..2 {
            let (names, summary, env, dir) = (&names, &summary, &env, &dir);
            s.spawn(move || {
                let store = History::open(location).unwrap();
                let run = history::recorder::run_entry(env, dir, history::Testbed::of(env));
                for (k, name) in names.iter().enumerate() {
                    // Writer 0 records cells 0..30, writer 1 cells 10..40.
                    if (writer == 0 && k < 30) || (writer == 1 && k >= 10) {
                        let mut record = summary.cells[0].clone();
                        record.name = name.clone();
                        store.record(&run, std::slice::from_ref(&record)).unwrap();
                    }
                }
            });
        }
    });
    let store = History::open(location).unwrap();
    let mut recorded: Vec<String> = store
        .observations()
        .unwrap()
        .into_iter()
        .map(|o| o.cell)
        .filter(|cell| cell.ends_with("/read"))
        .collect();
    recorded.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(recorded, expected);
}

/// A cell's noise history is the earlier runs that measured it the way it is measured now: runs
/// recorded with another cell hash (its workload changed) or with none (before the hash existed)
/// are not its history, nor is the run asking; the newest `last` that qualify come first.
fn noise_history_follows_the_cell_hash(location: &Location) {
    let base = tempfile::tempdir().unwrap();
    let store = History::open(location).unwrap();
    let mut ids = Vec::new();
    let mut testbed = String::new();
    for (n, hash) in [(0, ""), (1, "before"), (2, "now"), (3, "now")] {
        let dir = write_run(base.path(), n, false);
        let env: iogate::run::Environment =
            serde_json::from_str(&std::fs::read_to_string(dir.join("environment.json")).unwrap())
                .unwrap();
        let mut summary = Summary::load(&dir.join("summary.json")).unwrap();
        for cell in &mut summary.cells {
            cell.provenance.cell_hash = hash.into();
        }
        let run = history::recorder::run_entry(&env, &dir, history::Testbed::of(&env));
        store.record(&run, &summary.cells).unwrap();
        testbed = run.testbed.clone();
        ids.push(run.run_id);
    }
    let asked = |hash: &str| -> std::collections::BTreeMap<String, String> {
        CELLS[..2]
            .iter()
            .map(|c| (c.to_string(), hash.to_string()))
            .collect()
    };
    let cells_of = |runs: &[std::collections::BTreeMap<String, Vec<iogate::run::Repetition>>]| {
        runs.iter()
            .map(|r| r.iter().map(|(c, reps)| (c.clone(), reps.len())).collect())
            .collect::<Vec<Vec<(String, usize)>>>()
    };
    let both = vec![(CELLS[0].to_string(), 2), (CELLS[1].to_string(), 2)];
    let now = store
        .recent_repetitions(&testbed, "study", &asked("now"), &ids[3], 10)
        .unwrap();
    assert_eq!(
        cells_of(&now),
        vec![both.clone()],
        "run 2 only: run 3 is asking"
    );
    let newest = store
        .recent_repetitions(&testbed, "study", &asked("now"), "another run", 1)
        .unwrap();
    assert_eq!(cells_of(&newest), vec![both.clone()]);
    assert_eq!(newest[0][CELLS[0]][0], {
        let s = Summary::load(&base.path().join("study").join(&ids[3]).join("summary.json"));
        s.unwrap().cells[0].repetitions[0].clone()
    });
    let before = store
        .recent_repetitions(&testbed, "study", &asked("before"), &ids[3], 10)
        .unwrap();
    assert_eq!(cells_of(&before), vec![both]);
    let elsewhere = store
        .recent_repetitions("another testbed", "study", &asked("now"), &ids[3], 10)
        .unwrap();
    assert!(elsewhere.is_empty());
}

#[test]
fn sqlite_noise_history_follows_the_cell_hash() {
    let dir = tempfile::tempdir().unwrap();
    noise_history_follows_the_cell_hash(&Location::Sqlite(dir.path().join("history.sqlite")));
}

#[test]
fn sqlite_forty_runs_with_a_step() {
    let dir = tempfile::tempdir().unwrap();
    forty_runs_with_a_step(&Location::Sqlite(dir.path().join("h/history.sqlite")));
}

#[test]
fn sqlite_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_writers_lose_and_duplicate_nothing(&Location::Sqlite(
        dir.path().join("history.sqlite"),
    ));
}

#[test]
fn postgres_forty_runs_concurrent_writers_and_cell_hashes() {
    let server = postgres::Postgres::start();
    let location = Location::parse(&server.url);
    assert!(matches!(location, Location::Postgres(_)));
    forty_runs_with_a_step(&location);
    concurrent_writers_lose_and_duplicate_nothing(&location);
    noise_history_follows_the_cell_hash(&location);
}

#[test]
fn an_unreachable_store_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let location = Location::Sqlite(file.join("history.sqlite"));
    let message = History::open(&location)
        .err()
        .expect("cannot open")
        .to_string();
    assert!(message.contains("not-a-dir"), "{message}");
}

#[test]
fn locations() {
    assert_eq!(
        Location::parse("target/iogate/history.sqlite"),
        Location::Sqlite("target/iogate/history.sqlite".into())
    );
    assert_eq!(
        Location::parse("sqlite:/tmp/h.sqlite"),
        Location::Sqlite("/tmp/h.sqlite".into())
    );
    let pg = Location::parse("postgres://ci:secret@db:5432/iogate");
    assert_eq!(pg.display(), "postgres://ci:***@db:5432/iogate");
}

/// `iogate history` on 40 imported run directories: list, show, detect, export.
#[test]
fn the_history_command_imports_lists_shows_and_detects() {
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..40).map(|n| write_run(base.path(), n, true)).collect();
    let store = base.path().join("history.sqlite");
    let iogate = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
            .arg("history")
            .arg("--store")
            .arg(&store)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let mut import = vec!["import"];
    import.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    iogate(&import);
    iogate(&import);
    let list = iogate(&["list"]);
    assert_eq!(list.lines().count(), 41, "{list}");
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with("20260102T150000Z-39\tstudy"),
        "{list}"
    );
    let show = iogate(&["show", "study/host/c4/randread", "--last", "5"]);
    assert_eq!(show.lines().count(), 6, "{show}");
    assert!(
        show.lines().last().unwrap().contains("20260102T150000Z-39"),
        "{show}"
    );
    let detect = iogate(&["detect"]);
    let lines: Vec<&str> = detect.lines().collect();
    assert_eq!(lines.len(), 2, "{detect}");
    for (line, metric) in lines.iter().zip(["bw", "iops"]) {
        assert!(
            line.starts_with(&format!("study/host/c4/randread on lab1: {metric} -20.")),
            "{line}"
        );
        assert!(line.contains("at run #30 20260102T060000Z-30"), "{line}");
    }
    // Relative to gVisor: only host randread has a gVisor cell to divide by.
    let relative = iogate(&["detect", "--metric", "bw", "--relative-to", "gvisor"]);
    assert_eq!(relative.lines().count(), 1, "{relative}");
    assert!(
        relative.starts_with("study/host/c4/randread on lab1: bw ÷ gvisor's -20."),
        "{relative}"
    );
    assert!(
        relative.contains("at run #30 20260102T060000Z-30"),
        "{relative}"
    );
    // --recent: the step landed 10 runs ago; within the last 10 it fails the check, not in 9.
    let quiet = iogate(&["detect", "--metric", "bw", "--recent", "9"]);
    assert_eq!(quiet.trim(), "no change points in the last 9 runs");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
        .args(["history", "--store"])
        .arg(&store)
        .args(["detect", "--metric", "bw", "--recent", "10"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a worse change in the last 10 runs"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("at run #30"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("1 change(s) for the worse in the last 10 runs"),
        "{out:?}"
    );
    let ratios = iogate(&["show", "study/*", "--relative-to", "gvisor", "--last", "2"]);
    let lines: Vec<&str> = ratios.lines().collect();
    assert_eq!(lines.len(), 3, "{ratios}");
    assert_eq!(lines[0], "study/host/c4/randread on lab1 (bw ÷ gvisor's):");
    assert!(lines[2].ends_with('×'), "{ratios}");
    let csv = iogate(&["export", "--format", "csv", "--cell", "*/write"]);
    assert_eq!(csv.lines().count(), 41, "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&iogate(&["export", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 120);
}

/// The report's trends of the last of 40 runs: the last 20 runs per cell, the first cell's step
/// (run 30, the 11th of those 20) found in bandwidth and marked in its chart; no store, one line.
#[test]
fn the_report_shows_trends_and_change_points_of_the_last_runs() {
    use iogate::report::trends::{self, Trends};
    let base = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(base.path().join("history.sqlite"));
    let references = std::collections::BTreeMap::from([("gvisor".to_owned(), "host".to_owned())]);
    let missing = trends::load(&location, "study", "20260102T150000Z-39", 20, &references);
    assert!(matches!(missing, Trends::Unavailable(_)));
    assert_eq!(trends::markdown(&missing).lines().count(), 3);
    let store = History::open(&location).unwrap();
    for n in 0..40 {
        history::import_run(&store, &write_run(base.path(), n, true)).unwrap();
    }
    let found = trends::load(&location, "study", "20260102T150000Z-39", 20, &references);
    let Trends::Found { cells, shifts, .. } = &found else {
        panic!("{found:?}");
    };
    assert_eq!(cells.len(), 3);
    assert!(
        cells
            .iter()
            .all(|c| c.lines.iter().all(|l| l.points.len() == 20))
    );
    // gVisor has a gate reference, the host: a third line, its bandwidth ÷ the host's.
    let lines: Vec<usize> = cells.iter().map(|c| c.lines.len()).collect();
    assert_eq!(lines, [3, 2, 2], "{cells:#?}");
    // The host's step shows in its bandwidth, and (upside down) in gVisor's ratio to it.
    assert_eq!(shifts.len(), 2, "{shifts:#?}");
    for shift in shifts {
        assert_eq!(
            (shift.index, shift.run_id.as_str()),
            (10, "20260102T060000Z-30")
        );
    }
    assert_eq!(shifts[0].relative_to.as_deref(), Some("host"));
    assert!((shifts[0].change - 0.25).abs() < 0.02, "{:?}", shifts[0]);
    insta::assert_snapshot!("report_trends", trends::markdown(&found));
    let html = trends::html(&found);
    assert_eq!(html.matches("<svg").count(), 7, "{html}");
    assert_eq!(html.matches("stroke-dasharray").count(), 2, "{html}");
    assert_eq!(html.matches("r=\"3.5\"").count(), 7, "{html}");
    assert_eq!(html.matches("<td>—</td>").count(), 2, "{html}");
}
