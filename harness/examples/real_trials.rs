//! How often did the gates of a matrix fail, stay inconclusive or pass over real runs? Counts the
//! verdicts in every finished run's `gates.json` — runs of `iogate run MATRIX` repeated on this
//! machine, each deciding its gates as `cargo test` does (blocks, history, Holm) — and prints them
//! per run and per gate, with Clopper–Pearson 95 % intervals of the failure rate: the detection
//! rate of a gate over a slowed runtime, the false-alarm rate of one over an unchanged copy.
//!
//! `cargo run --release -p iogate-harness --example real_trials -- RESULTS... MATRIX [--since RUN_ID]`
//!
//! RESULTS is the results base the runs used (`$IOGATE_RESULTS`), or several (trials run each in
//! a fresh base, without history); MATRIX the matrix file (its name finds the runs, its gates the
//! columns). `--since` skips runs whose id sorts before
//! RUN_ID. Interrupted runs, and gates a run did not decide, are left out and counted. Nothing is
//! asserted: these are this machine's figures (docs/gates.md quotes them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iogate::judge::{GatesFile, RowResult, Verdict};
use iogate::run::{Status, Summary};
use iogate::spec::MatrixFile;

fn usage() -> ! {
    eprintln!("usage: real_trials RESULTS... MATRIX [--since RUN_ID]");
    std::process::exit(2)
}

/// A finished run's directory, id and gate reports.
struct RunGates {
    id: String,
    gates: GatesFile,
}

fn runs(results: &Path, name: &str, since: Option<&str>) -> (Vec<RunGates>, usize) {
    let dir = results.join(name);
    let mut ids: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            eprintln!("{}: {e}", dir.display());
            std::process::exit(1)
        })
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(id, _)| id != "latest" && since.is_none_or(|s| id.as_str() >= s))
        .collect();
    ids.sort();
    let mut left_out = 0;
    let mut found = Vec::new();
    for (id, path) in ids {
        let interrupted = std::fs::read_to_string(path.join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Summary>(&t).ok())
            .is_none_or(|s| s.cells.iter().any(|c| c.status == Status::Interrupted));
        let gates = std::fs::read_to_string(path.join(GatesFile::NAME))
            .ok()
            .and_then(|t| serde_json::from_str::<GatesFile>(&t).ok());
        match gates {
            Some(gates) if !interrupted => found.push(RunGates { id, gates }),
            _ => left_out += 1,
        }
    }
    (found, left_out)
}

fn letter(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "incl",
        Verdict::Skipped => "skip",
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let since = match args.iter().position(|a| a == "--since") {
        None => None,
        Some(i) => {
            let id = args.get(i + 1).cloned().unwrap_or_else(|| usage());
            args.drain(i..i + 2);
            Some(id)
        }
    };
    let Some(matrix) = args.pop() else { usage() };
    if args.is_empty() {
        usage()
    }
    let file = MatrixFile::load(Path::new(&matrix)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let name = file.matrix.name.as_str();
    let labels: Vec<String> = file.matrix.gates.iter().map(|g| g.label()).collect();
    let (mut runs_found, mut left_out) = (Vec::new(), 0);
    for results in &args {
        let (found, left) = runs(Path::new(results), name, since.as_deref());
        runs_found.extend(found);
        left_out += left;
    }
    runs_found.sort_by(|a, b| a.id.cmp(&b.id));
    let runs = runs_found;

    // Per run: each gate's verdict, its ratio estimate and the blocks behind it.
    print!("{:<28}", "run");
    for label in &labels {
        print!("  {label:>24}");
    }
    println!();
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for run in &runs {
        print!("{:<28}", run.id);
        for label in &labels {
            let report = run
                .gates
                .gates
                .iter()
                .find(|(test, _)| test.contains(&format!("/gate/{label}/")))
                .map(|(_, r)| r);
            let cell = match report {
                None => "—".to_owned(),
                Some(r) => {
                    *counts
                        .entry(label.as_str())
                        .or_default()
                        .entry(letter(r.verdict))
                        .or_default() += 1;
                    let detail = r.rows.first().and_then(|row| match &row.result {
                        RowResult::Measured {
                            interval,
                            k,
                            history_runs,
                            ..
                        } => Some(format!(
                            "{:.3}× k{}+{}",
                            interval.estimate.exp(),
                            k.0,
                            history_runs
                        )),
                        RowResult::Missing { .. } => None,
                    });
                    format!("{} {}", letter(r.verdict), detail.unwrap_or_default())
                }
            };
            print!("  {cell:>24}");
        }
        println!();
    }
    println!(
        "\n{} runs counted{}",
        runs.len(),
        if left_out > 0 {
            format!(", {left_out} left out (interrupted or without gates.json)")
        } else {
            String::new()
        }
    );
    println!("\n| gate | fail | inconclusive | pass | fail rate (95 % CI) |");
    println!("|---|---:|---:|---:|---|");
    for label in &labels {
        let c = counts.get(label.as_str()).cloned().unwrap_or_default();
        let get = |k: &str| c.get(k).copied().unwrap_or(0);
        let (fail, incl, pass) = (get("FAIL"), get("incl"), get("pass"));
        let n = fail + incl + pass;
        let rate = iogate::stats::clopper_pearson(fail, n).map_or("—".into(), |(lo, hi)| {
            format!(
                "{fail}/{n} = {:.0} % ({:.0}–{:.0} %)",
                100.0 * fail as f64 / n as f64,
                100.0 * lo,
                100.0 * hi
            )
        });
        println!("| {label} | {fail} | {incl} | {pass} | {rate} |");
    }
}
