//! How often does a gate catch a slowdown that this run has and the testbed's history does not,
//! when the runner adds blocks while the gate is unclear — and how often does it fail an
//! unchanged run? Sequential trials on real block noise, each decision made by the library's own
//! [`evaluate`], block after block, as the runner makes it.
//!
//! `cargo run --release -p iogate-harness --example gate_power -- RESULTS --matrix FILE
//! --gate NAME [--trials N] [--factors 1,0.9,0.8,0.75,0.7,0.5] [--max-blocks N] [--history N]`
//!
//! RESULTS holds finished runs of the matrix (same hash). The gate (relative or absolute, on `bw`
//! or `iops`, its first row) gives each run's blocks: the log ratio of runtime to reference per
//! block, or the log value. A trial holds one run out; the others (up to 10, newest first, or
//! `--history N`: 0 is a fresh clone's first run) are its history, what the runner would read. "This run" is made of blocks drawn with
//! replacement from the within-run residuals of every run (each run's blocks less its mean,
//! scaled by √(n/(n−1)), plus normal jitter of a tenth of their σ), around the history's mean, shifted by a run effect drawn with the
//! between-run σ the runs show and by ln(FACTOR): the slowdown. It starts with the workload's
//! `repetitions` blocks and takes one more while the row is unclear, up to `judge.max_blocks` (or `--max-blocks`: what more blocks would buy). The
//! row fails when the run's family rejects it ([`rejections`]: Holm at `false_alarms` over m
//! tests, m being every gate row of the matrix, the others taken as clear — the strictest level
//! the row can meet — at the group-sequential boundary for its blocks).
//! The measuring budget is assumed to allow `max_blocks`; each row prints the blocks it took and
//! the measuring time they would cost at the real runs' time per block.
//!
//! Nothing is asserted: these are this machine's figures (docs/gates.md quotes them).

mod common;

use std::path::PathBuf;

use iogate::judge::family::{Test, rejections};
use iogate::judge::{Row, RowResult, Verdict, evaluate};
use iogate::run::{CellRecord, Repetition, Status, Summary};
use iogate::spec::{MatrixFile, Metric};

use common::{Rng, past_of, rate, runs_of};

fn usage() -> ! {
    eprintln!(
        "usage: gate_power RESULTS --matrix FILE --gate NAME [--trials N] [--factors 1,0.8,...] [--max-blocks N] [--history N]"
    );
    std::process::exit(2)
}

fn exit(message: String) -> ! {
    eprintln!("gate_power: {message}");
    std::process::exit(1)
}

/// The measured value of `metric` in a repetition (bandwidth or IOPS).
fn value(metric: Metric, r: &Repetition) -> f64 {
    match metric {
        Metric::Iops => r.iops,
        _ => r.bw_bytes,
    }
}

/// A repetition whose `metric` is `v` (the rest copied from `template`).
fn with_value(template: &Repetition, metric: Metric, v: f64) -> Repetition {
    let mut r = template.clone();
    match metric {
        Metric::Iops => r.iops = v,
        _ => r.bw_bytes = v,
    }
    r
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let results = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    let (mut matrix_path, mut gate_name) = (None, None);
    let mut trials = 200usize;
    let mut max_blocks: Option<usize> = None;
    let mut history_runs = 10usize;
    let mut factors: Vec<f64> = vec![1.0, 0.9, 0.8, 0.75, 0.7, 0.5];
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--matrix" => matrix_path = Some(PathBuf::from(value)),
            "--gate" => gate_name = Some(value),
            "--max-blocks" => max_blocks = Some(value.parse().unwrap_or_else(|_| usage())),
            "--history" => history_runs = value.parse().unwrap_or_else(|_| usage()),
            "--trials" => trials = value.parse().unwrap_or_else(|_| usage()),
            "--factors" => {
                factors = value
                    .split(',')
                    .map(|f| f.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            _ => usage(),
        }
    }
    let (Some(matrix_path), Some(gate_name)) = (matrix_path, gate_name) else {
        usage()
    };
    let matrix = MatrixFile::load(&matrix_path).unwrap_or_else(|e| exit(e.to_string()));
    let mut planned = matrix.matrix.clone();
    if let Some(blocks) = max_blocks {
        planned.judge.max_blocks = blocks as u32;
    }
    let m = &planned;
    let gate = m
        .gates
        .iter()
        .find(|g| g.label() == gate_name)
        .unwrap_or_else(|| exit(format!("no gate {gate_name} in {}", matrix_path.display())));
    if !matches!(gate.metric, Metric::Bw | Metric::Iops) {
        exit(format!(
            "gate {gate_name} is on {}; only bw and iops gates are simulated",
            gate.metric
        ));
    }
    let clients = gate.client_counts(m)[0];
    let row = gate.plan(m, Some(clients)).remove(0);
    let family: usize = m
        .gates
        .iter()
        .flat_map(|g| {
            g.client_counts(m)
                .into_iter()
                .map(move |c| g.plan(m, Some(c)).len())
        })
        .sum();
    let runs = runs_of(&results, &matrix);

    // Each run's blocks of the row (log ratio or log value), and seconds per block of its cells.
    let cell = |s: &Summary, name: &str| -> Option<CellRecord> {
        s.cells
            .iter()
            .find(|c| c.name == name && c.status == Status::Passed && !c.repetitions.is_empty())
            .cloned()
    };
    let mut series: Vec<(Vec<f64>, f64, Summary)> = Vec::new();
    for (_, s) in &runs {
        let Some(subject) = cell(s, &row.subject) else {
            continue;
        };
        let reference = row.reference.as_deref().and_then(|r| cell(s, r));
        if row.reference.is_some() && reference.is_none() {
            continue;
        }
        let blocks: Vec<f64> = match &reference {
            Some(r) => subject
                .repetitions
                .iter()
                .zip(&r.repetitions)
                .map(|(a, b)| (value(gate.metric, a) / value(gate.metric, b)).ln())
                .collect(),
            None => subject
                .repetitions
                .iter()
                .map(|a| value(gate.metric, a).ln())
                .collect(),
        };
        let per_block = subject.duration_s / subject.repetitions.len() as f64
            + reference.map_or(0.0, |r| r.duration_s / r.repetitions.len() as f64);
        if blocks.iter().all(|b| b.is_finite()) {
            series.push((blocks, per_block, s.clone()));
        }
    }
    if series.len() < 3 {
        exit(format!(
            "need at least 3 finished runs of {} with gate {gate_name}'s cells under {}; found {}",
            m.name,
            results.display(),
            series.len()
        ));
    }

    // The noise the runs show: pooled within-run residuals, and the between-run σ beyond them.
    let mut residuals = Vec::new();
    let (mut ss, mut df) = (0.0, 0.0);
    for (blocks, _, _) in &series {
        if blocks.len() >= 2 {
            let mu = mean(blocks);
            let n = blocks.len() as f64;
            residuals.extend(blocks.iter().map(|b| (b - mu) * (n / (n - 1.0)).sqrt()));
            ss += blocks.iter().map(|b| (b - mu).powi(2)).sum::<f64>();
            df += n - 1.0;
        }
    }
    let within = ss / df;
    let means: Vec<f64> = series.iter().map(|(b, _, _)| mean(b)).collect();
    let grand = mean(&means);
    let var_means =
        means.iter().map(|x| (x - grand).powi(2)).sum::<f64>() / (means.len() - 1) as f64;
    let inv_k = mean(
        &series
            .iter()
            .map(|(b, _, _)| 1.0 / b.len() as f64)
            .collect::<Vec<_>>(),
    );
    let sigma_b = (var_means - within * inv_k).max(0.0).sqrt();
    let per_block = mean(&series.iter().map(|(_, t, _)| *t).collect::<Vec<_>>());
    let first = m.workload.repetitions.max(1) as usize;
    let last = (m.judge.max_blocks as usize).max(first);
    println!(
        "gate {} over {} runs of {} in {}: σ within a run {:.3}, between runs {:.3} (ln); \
         blocks {first}..{last}, {:.1} s each; Holm at {} over {family} rows; {trials} trials per factor",
        gate.describe(),
        series.len(),
        m.name,
        results.display(),
        within.sqrt(),
        sigma_b,
        per_block,
        m.judge.false_alarms,
    );

    let template = |s: &Summary, name: &str| cell(s, name).map(|c| c.repetitions[0].clone());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for factor in factors {
        let (mut fail, mut unclear, mut pass, mut blocks_used) = (0, 0, 0, Vec::new());
        for trial in 0..trials {
            let held_out = trial % series.len();
            let history: Vec<&(Vec<f64>, f64, Summary)> = series
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != held_out)
                .map(|(_, s)| s)
                .take(history_runs)
                .collect();
            let past = past_of(history.iter().map(|(_, _, s)| s));
            // What the unchanged code usually measures: the mean of every other run (the history
            // may hold fewer, or none).
            let others: Vec<f64> = series
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != held_out)
                .map(|(_, (b, _, _))| mean(b))
                .collect();
            let usual = mean(&others);
            let center = usual + sigma_b * rng.normal() + factor.ln();
            let held = &series[held_out].2;
            let (Some(mut subject), Some(rep)) =
                (cell(held, &row.subject), template(held, &row.subject))
            else {
                continue;
            };
            let mut reference = row.reference.as_deref().and_then(|r| cell(held, r));
            // A smoothed bootstrap: a residual plus a little normal jitter (a tenth of σ), so
            // that no two blocks agree exactly, which real blocks never do.
            let jitter = within.sqrt() / 10.0;
            let mut draw =
                || center + residuals[rng.below(residuals.len())] + jitter * rng.normal();
            let mut drawn: Vec<f64> = (0..first).map(|_| draw()).collect();
            let verdict = loop {
                // The subject measures exp(block); the reference, if any, 1 in every block.
                subject.repetitions = drawn
                    .iter()
                    .map(|d| with_value(&rep, gate.metric, d.exp()))
                    .collect();
                if let Some(r) = &mut reference {
                    r.repetitions = drawn
                        .iter()
                        .map(|_| with_value(&rep, gate.metric, 1.0))
                        .collect();
                }
                let records: Vec<CellRecord> = std::iter::once(subject.clone())
                    .chain(reference.clone())
                    .collect();
                let report = evaluate(
                    gate,
                    m,
                    Some(clients),
                    &records,
                    &past,
                    m.judge.threshold.get(),
                );
                let row = report.rows.into_iter().next();
                let Some(Row {
                    result:
                        RowResult::Measured {
                            p_worse, verdict, ..
                        },
                    ..
                }) = row
                else {
                    exit(format!("gate {gate_name} has no measured row: {row:?}"));
                };
                let tests: Vec<Test> = std::iter::once(Test {
                    p: p_worse,
                    blocks: Some(drawn.len()),
                })
                .chain((1..family).map(|_| Test {
                    p: 1.0,
                    blocks: None,
                }))
                .collect();
                if rejections(&tests, &m.judge, m.workload.repetitions)[0] {
                    break Verdict::Fail;
                }
                if verdict == Verdict::Pass || drawn.len() >= last {
                    break verdict;
                }
                drawn.push(draw());
            };
            blocks_used.push(drawn.len());
            match verdict {
                Verdict::Fail => fail += 1,
                Verdict::Pass => pass += 1,
                _ => unclear += 1,
            }
        }
        blocks_used.sort_unstable();
        let median = blocks_used.get(blocks_used.len() / 2).copied().unwrap_or(0);
        println!(
            "\n{factor}×: fail {fail}, inconclusive {unclear}, pass {pass}; median {median} blocks \
             (≈ {:.0} s measuring), at most {}",
            median as f64 * per_block,
            blocks_used.last().copied().unwrap_or(0)
        );
        rate("  failed (caught, or a false alarm at 1×)", fail, trials);
    }
}
