//! How often would the gates fail an unchanged run, and how often do they catch a slowdown? Trials
//! resampled from real runs of a matrix on this machine, judged exactly as `cargo test` judges.
//!
//! `cargo run --release -p iogate-harness --example gate_trials -- RESULTS [--matrix FILE]
//! [--slow RUNTIME=FACTOR] [--resample N]`
//!
//! RESULTS is a results base (`$IOGATE_RESULTS`) holding finished runs of the matrix (default
//! `matrices/smoke.yaml`) as it is written now (same hash). One trial per run, leave-one-out:
//! the run is "this run" with its blocks as measured, the other runs (up to 10, newest first)
//! are the testbed's history. `--resample N` runs N trials instead, each "this run" assembled
//! group by group (a client count × pattern: every runtime's cell of it from one randomly chosen
//! run, so cells measured side by side stay paired), the history being the runs not chosen: more
//! trials than runs, at the price of assuming the groups independent; then it decides every gate row of the matrix with the
//! matrix's `judge` settings, with the baseline rows (each cell's bw, p50, p99 against the history
//! runs' mean and between-run σ, as `iogate baseline record` would write them) in the same Holm
//! family, as the runner does. `--slow runc=0.8`
//! multiplies that runtime's bandwidth and IOPS in "this run" by 0.8 (and its latencies by
//! 1/0.8): detection of a slowdown, on top of real noise.
//!
//! Prints each trial's outcome, then the rate of runs with a failed gate and of runs with an
//! inconclusive one, with Clopper–Pearson 95 % intervals. Nothing is asserted: these are this
//! machine's figures (docs/gates.md quotes them).

mod common;

use std::path::{Path, PathBuf};

use iogate::judge::family::{Test, rejections};
use iogate::judge::{GateReport, Verdict, evaluate};
use iogate::run::{CellRecord, Status, Summary};
use iogate::spec::MatrixFile;
use iogate::stats::prediction::{p_lower_by, prediction_gap};

use common::{Rng, past_of, rate, runs_of};

fn usage() -> ! {
    eprintln!("usage: gate_trials RESULTS [--matrix FILE] [--slow RUNTIME=FACTOR] [--resample N]");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let results = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    let mut matrix_path = PathBuf::from("matrices/smoke.yaml");
    let mut slow: Option<(String, f64)> = None;
    let mut resample = 0usize;
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--matrix" => matrix_path = PathBuf::from(value),
            "--resample" => resample = value.parse().unwrap_or_else(|_| usage()),
            "--slow" => {
                let (runtime, factor) = value.split_once('=').unwrap_or_else(|| usage());
                slow = Some((
                    runtime.to_owned(),
                    factor.parse().unwrap_or_else(|_| usage()),
                ));
            }
            _ => usage(),
        }
    }
    let matrix = MatrixFile::load(&matrix_path).unwrap_or_else(|e| panic!("{e}"));
    let m = &matrix.matrix;
    let runs = runs_of(&results, &matrix);
    if runs.len() < 2 {
        eprintln!(
            "need at least 2 runs of {} (this hash) under {}; found {}",
            matrix_path.display(),
            results.display(),
            runs.len()
        );
        std::process::exit(1);
    }
    println!(
        "{} runs of {} from {}; threshold {}, false alarms {} per run (Holm over every gate row){}",
        runs.len(),
        m.name,
        results.display(),
        m.judge.threshold,
        m.judge.false_alarms,
        slow.as_ref()
            .map_or(String::new(), |(r, f)| format!("; {r} slowed to {f}×"))
    );
    let trials = if resample > 0 { resample } else { runs.len() };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut failed, mut inconclusive) = (0usize, 0usize);
    for trial in 0..trials {
        // Which run each (clients, pattern) group of "this run" comes from.
        let mut chosen: std::collections::BTreeMap<(u32, String), usize> = Default::default();
        let mut pick = |c: &CellRecord| {
            if resample == 0 {
                return trial;
            }
            *chosen
                .entry((c.clients, c.pattern.as_str().to_owned()))
                .or_insert_with(|| rng.below(runs.len()))
        };
        let (dir, _) = &runs[trial % runs.len()];
        let dir = if resample > 0 {
            Path::new("(resampled)")
        } else {
            dir.as_path()
        };
        let names: Vec<&str> = runs[0].1.cells.iter().map(|c| c.name.as_str()).collect();
        let mut used = std::collections::BTreeSet::new();
        let mut blocks = 0;
        let records: Vec<CellRecord> = names
            .iter()
            .filter_map(|name| {
                let probe = runs[0].1.cells.iter().find(|c| c.name == *name)?;
                let j = pick(probe);
                used.insert(j);
                let mut c = runs[j].1.cells.iter().find(|c| c.name == *name)?.clone();
                blocks = blocks.max(c.repetitions.len());
                if let Some((runtime, f)) = &slow
                    && c.runtime == *runtime
                {
                    c.bw_bytes = c.bw_bytes.map(|b| b * f);
                    if let Some(l) = &mut c.lat_ns {
                        l.p50 = (l.p50 as f64 / f) as u64;
                        l.p99 = (l.p99 as f64 / f) as u64;
                    }
                    for r in &mut c.repetitions {
                        r.bw_bytes *= f;
                        r.iops *= f;
                        for v in [
                            &mut r.lat_ns.p50,
                            &mut r.lat_ns.p90,
                            &mut r.lat_ns.p99,
                            &mut r.lat_ns.p99_9,
                        ] {
                            *v = (*v as f64 / f) as u64;
                        }
                    }
                }
                Some(c)
            })
            .collect();
        let past = past_of(
            runs.iter()
                .enumerate()
                .filter(|(j, _)| !used.contains(j))
                .take(10)
                .map(|(_, (_, s))| s),
        );
        let mut reports: Vec<GateReport> = m
            .gates
            .iter()
            .flat_map(|g| g.client_counts(m).into_iter().map(move |c| (g, c)))
            .map(|(g, c)| evaluate(g, m, Some(c), &records, &past, m.judge.threshold.get()))
            .collect();
        // Baseline rows: each cell's bw, p50 and p99 against the history runs' mean and
        // between-run σ of ln(value) (the absolute rows `iogate baseline record` writes).
        let history: Vec<&Summary> = runs
            .iter()
            .enumerate()
            .filter(|(j, _)| !used.contains(j))
            .take(10)
            .map(|(_, (_, s))| s)
            .collect();
        let mut baseline_p: Vec<(String, f64)> = Vec::new();
        for cell in records.iter().filter(|c| c.status == Status::Passed) {
            for (metric, worse_is_lower) in [("bw", true), ("p50", false), ("p99", false)] {
                let value = |c: &CellRecord| -> Option<f64> {
                    let v = match metric {
                        "bw" => c.bw_bytes?,
                        "p50" => c.lat_ns?.p50 as f64,
                        _ => c.lat_ns?.p99 as f64,
                    };
                    (v > 0.0).then(|| if worse_is_lower { v.ln() } else { -v.ln() })
                };
                let past: Vec<f64> = history
                    .iter()
                    .filter_map(|s| s.cells.iter().find(|c| c.name == cell.name))
                    .filter(|c| c.status == Status::Passed)
                    .filter_map(value)
                    .collect();
                let (Some(x), true) = (value(cell), past.len() >= 3) else {
                    continue;
                };
                let n = past.len();
                let mean = past.iter().sum::<f64>() / n as f64;
                let sigma =
                    (past.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
                if let Some(gap) = prediction_gap(x, mean, sigma, n) {
                    baseline_p.push((
                        format!("{} {metric}", cell.name),
                        p_lower_by(&gap, m.judge.threshold.get()),
                    ));
                }
            }
        }
        let tests: Vec<Test> = reports
            .iter()
            .flat_map(|r| r.tests().into_iter().flatten())
            .chain(baseline_p.iter().map(|(_, p)| Test {
                p: *p,
                blocks: None,
            }))
            .collect();
        let mut rejected = rejections(&tests, &m.judge, m.workload.repetitions).into_iter();
        for r in &mut reports {
            let mine: Vec<bool> = r
                .p_values()
                .iter()
                .map(|p| p.is_some() && rejected.next().unwrap_or(false))
                .collect();
            r.settle(&mine);
        }
        let worse_baselines: Vec<&str> = baseline_p
            .iter()
            .filter(|_| rejected.next().unwrap_or(false))
            .map(|(name, _)| name.as_str())
            .collect();
        let count = |v: Verdict| reports.iter().filter(|r| r.verdict == v).count();
        let (fails, unclear) = (
            count(Verdict::Fail) + worse_baselines.len(),
            count(Verdict::Inconclusive),
        );
        failed += usize::from(fails > 0);
        inconclusive += usize::from(unclear > 0);
        let worst = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.gate.describe())
            .chain(worse_baselines.iter().map(|b| format!("baseline {b}")))
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "trial {:3}: run {} (k ≤ {blocks}, {} earlier runs, {} baseline rows): {} gates pass, {fails} gates/baselines fail, {unclear} inconclusive{}",
            trial + 1,
            dir.file_name().unwrap_or_default().to_string_lossy(),
            past.runs.len(),
            baseline_p.len(),
            count(Verdict::Pass),
            if worst.is_empty() {
                String::new()
            } else {
                format!(" — FAIL: {worst}")
            }
        );
    }
    println!();
    rate("runs with a failed gate or baseline", failed, trials);
    rate(
        "runs with an inconclusive gate (a warning)",
        inconclusive,
        trials,
    );
}
