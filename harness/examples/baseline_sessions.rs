//! Do a testbed's baselines hold on a session they have not seen? Held-out trials over real runs:
//! baselines recorded from one history (plus the sessions kept in earlier snapshots, as `iogate
//! baseline record` keeps them), every run of another history checked against them as the runner
//! checks a run: each cell's rows, Holm over the run's decisive rows at the matrix's
//! `false_alarms`. Printed per held-out run: decisive rows, whether the run failed, and whether
//! it would have failed had every row been decisive (the one-session rule this replaced). A
//! past run cannot be measured again, so a failure here is the runner's first look: the runner
//! fails a baseline only when fresh repetitions of the cell fail too.
//!
//! `cargo run --release -p iogate-harness --example baseline_sessions -- MATRIX TESTBED
//! RECORD_HISTORY HELD_OUT_HISTORY [--kept SNAPSHOTS] [--slow RUNTIME=FACTOR]`
//!
//! RECORD_HISTORY and HELD_OUT_HISTORY are SQLite histories (`IOGATE_HISTORY` of the runs); the
//! held-out runs' numbers are read from their run directories. `--kept` is a snapshot directory
//! whose sessions are kept (only read: the baselines are written to a temporary directory); with
//! RECORD_HISTORY `-` its baselines are checked as they are.
//! `--slow runc=0.8` multiplies that runtime's bandwidth in the held-out runs by 0.8 and its
//! latencies by 1/0.8: detection on top of real noise. Nothing is asserted: these are this
//! machine's figures (docs/gates.md quotes them).

mod common;

use std::path::PathBuf;

use iogate::history::{History, Location};
use iogate::judge::baseline::{self, Outcome, Store};
use iogate::run::{CellRecord, Status, Summary};
use iogate::spec::{CellId, MatrixFile};
use iogate::stats::holm;

use common::rate;

fn usage() -> ! {
    eprintln!(
        "usage: baseline_sessions MATRIX TESTBED RECORD_HISTORY HELD_OUT_HISTORY \
         [--kept SNAPSHOTS] [--slow RUNTIME=FACTOR]"
    );
    std::process::exit(2)
}

fn slowed(mut c: CellRecord, f: f64) -> CellRecord {
    c.bw_bytes = c.bw_bytes.map(|b| b * f);
    c.iops = c.iops.map(|b| b * f);
    let slower = |v: &mut u64| *v = (*v as f64 / f) as u64;
    if let Some(l) = &mut c.lat_ns {
        for v in [&mut l.p50, &mut l.p90, &mut l.p99, &mut l.p99_9] {
            slower(v);
        }
    }
    for r in &mut c.repetitions {
        r.bw_bytes *= f;
        r.iops *= f;
        let l = &mut r.lat_ns;
        for v in [&mut l.p50, &mut l.p90, &mut l.p99, &mut l.p99_9] {
            slower(v);
        }
    }
    c
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        let value = args.get(i + 1).cloned().unwrap_or_else(|| usage());
        args.drain(i..i + 2);
        Some(value)
    };
    let kept = take("--kept").map(PathBuf::from);
    let slow = take("--slow").map(|s| {
        let (runtime, f) = s.split_once('=').unwrap_or_else(|| usage());
        (
            runtime.to_owned(),
            f.parse::<f64>().unwrap_or_else(|_| usage()),
        )
    });
    let [matrix, testbed, record, held] = args.as_slice() else {
        usage()
    };
    let file = MatrixFile::load(matrix).unwrap_or_else(|e| panic!("{matrix}: {e}"));
    let open = |p: &str| History::open(&Location::Sqlite(p.into())).unwrap();
    let held = open(held);
    let kept = kept.map(Store::new);
    let dir = tempfile::tempdir().unwrap();
    let store = match (record.as_str(), kept) {
        // The kept snapshots themselves, as a testbed that enforces them would check.
        ("-", Some(kept)) => kept,
        ("-", None) => usage(),
        (record, kept) => {
            let built = baseline::build(&open(record), testbed, &file, 100, kept.as_ref()).unwrap();
            let store = Store::new(dir.path());
            for b in &built.baselines {
                store.write(b, true).unwrap();
            }
            store
        }
    };
    let baselines: Vec<_> = file
        .cells()
        .iter()
        .filter_map(|c| store.load(testbed, &c.name).ok().flatten())
        .collect();
    let sessions = baselines
        .iter()
        .flat_map(|b| b.metrics.values().map(|s| s.sessions().len()))
        .max()
        .unwrap_or_default();
    println!(
        "{} baselines from up to {sessions} session(s){}",
        baselines.len(),
        slow.as_ref().map_or(String::new(), |(r, f)| format!(
            "; held-out {r} slowed to {f}×"
        ))
    );
    let alpha = file.matrix.judge.false_alarms.get();
    let threshold = file.matrix.judge.threshold.get();
    let (mut runs, mut failed, mut failed_if_all) = (0, 0, 0);
    for entry in held
        .runs_of(testbed, &file.matrix.name.to_string())
        .unwrap()
    {
        let Ok(summary) = Summary::load(&entry.dir.join("summary.json")) else {
            println!("{}: no summary.json, left out", entry.run_id);
            continue;
        };
        let cells: Vec<CellRecord> = summary
            .cells
            .into_iter()
            .map(|c| match &slow {
                Some((runtime, f)) if c.runtime == *runtime => slowed(c, *f),
                _ => c,
            })
            .collect();
        let find = |name: &str| cells.iter().find(|c| c.name == name);
        let mut rows = Vec::new();
        for cell in file.cells() {
            let Some(record) = find(&cell.name).filter(|c| c.status == Status::Passed) else {
                continue;
            };
            let reference = store.reference(testbed, &cell.name).and_then(|runtime| {
                let id = CellId {
                    runtime,
                    ..cell.id.clone()
                };
                find(&id.name())
            });
            if let Ok(Outcome::Checked(check)) = store.check(testbed, record, reference, threshold)
            {
                rows.extend(check.rows.into_iter().map(|r| (cell.name.clone(), r)));
            }
        }
        let decisive: Vec<f64> = rows
            .iter()
            .filter(|(_, r)| r.decisive())
            .map(|(_, r)| r.p_worse)
            .collect();
        let all: Vec<f64> = rows.iter().map(|(_, r)| r.p_worse).collect();
        let rejected = holm(&decisive, alpha).into_iter().any(|r| r);
        let rejected_if_all: Vec<String> = holm(&all, alpha)
            .into_iter()
            .zip(&rows)
            .filter(|(r, _)| *r)
            .map(|(_, (cell, row))| format!("{cell} {}", row.label()))
            .collect();
        let worse: Vec<String> = holm(&decisive, alpha)
            .into_iter()
            .zip(rows.iter().filter(|(_, r)| r.decisive()))
            .filter(|(r, _)| *r)
            .map(|(_, (cell, row))| format!("{cell} {}", row.label()))
            .collect();
        runs += 1;
        failed += usize::from(rejected);
        failed_if_all += usize::from(!rejected_if_all.is_empty());
        println!(
            "{}: {} of {} rows decisive → {}{}; every row decisive → {}",
            entry.run_id,
            decisive.len(),
            rows.len(),
            if rejected { "FAIL " } else { "pass" },
            worse.join(", "),
            if rejected_if_all.is_empty() {
                "pass".to_owned()
            } else {
                format!("FAIL {}", rejected_if_all.join(", "))
            }
        );
    }
    rate("held-out runs failed", failed, runs);
    rate("failed had every row been decisive", failed_if_all, runs);
}
