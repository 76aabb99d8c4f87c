//! How many nightly runs does `iogate history detect --relative-to REFERENCE` take to report a
//! regression that persists, and how often does it report a change in a series where nothing
//! changed? Trials on the real run-to-run noise of a cell's ratio to its reference.
//!
//! `cargo run --release -p iogate-harness --example step_power -- DIR... --runtime NAME
//! --reference NAME [--pattern read] [--clients 1] [--length 20] [--trials 2000]
//! [--factors 1,0.9,0.8,0.75,0.7] [--after NAME]`
//!
//! Each DIR is searched for finished runs (`summary.json` beside `report.md`); a run counts once
//! (by its id) and when both cells passed. Its point is what `history detect --relative-to`
//! sees: the runtime's aggregate bandwidth over the reference's in that run. A trial draws
//! `--length` runs without replacement (20: the report's trend window), in random order, and
//! multiplies the last m of them by FACTOR: a regression that landed m runs ago. With `--after`,
//! the last m points are instead drawn from the runs of that runtime (a real slowed runtime
//! against the same reference). The trial's series goes through the library's
//! [`change_points`] with `history detect`'s defaults. Caught: a change point within two runs of
//! the step with a lower mean after it. For FACTOR 1, any change point is a false alarm.
//! Resampled trials reuse the same runs, so their intervals describe the resampling, not new
//! runs; the number of distinct runs is printed.
//!
//! Nothing is asserted: these are this machine's figures (docs/gates.md quotes them).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iogate::run::{Status, Summary};
use iogate::stats::changepoint::{Options, change_points};
use iogate::stats::paired_log_ratio;

use common::{Rng, rate};

fn usage() -> ! {
    eprintln!(
        "usage: step_power DIR... --runtime NAME --reference NAME [--pattern read] [--clients 1] [--length 20] [--trials 2000] [--factors 1,0.8] [--after NAME]"
    );
    std::process::exit(2)
}

/// Every `summary.json` under `dir` whose run finished.
fn summaries(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_symlink() {
            continue;
        }
        if path.is_dir() {
            summaries(&path, found);
        } else if path.file_name().is_some_and(|n| n == "summary.json")
            && path.with_file_name("report.md").exists()
        {
            found.push(path);
        }
    }
}

/// Per run id: the bandwidth of each block of each passed cell of `pattern` at `clients`, by
/// runtime.
fn bandwidths(
    dirs: &[PathBuf],
    pattern: &str,
    clients: u32,
) -> BTreeMap<String, BTreeMap<String, Vec<f64>>> {
    let mut paths = Vec::new();
    for dir in dirs {
        summaries(dir, &mut paths);
    }
    let mut runs: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for path in paths {
        let Ok(summary) = Summary::load(&path) else {
            continue;
        };
        let cells = runs.entry(summary.run_id.clone()).or_default();
        for cell in &summary.cells {
            if cell.status == Status::Passed
                && cell.clients == clients
                && cell.pattern.as_str() == pattern
            {
                let blocks = cell.repetitions.iter().map(|r| r.bw_bytes).collect();
                cells.insert(cell.runtime.clone(), blocks);
            }
        }
    }
    runs
}

/// The ratio of `runtime` to `reference` in every run that has both, block by block as
/// `history detect --relative-to` pairs them.
fn ratios(
    runs: &BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    runtime: &str,
    reference: &str,
) -> Vec<f64> {
    runs.values()
        .filter_map(|cells| paired_log_ratio(cells.get(runtime)?, cells.get(reference)?))
        .map(f64::exp)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dirs = Vec::new();
    let (mut runtime, mut reference, mut after) = (None, None, None);
    let (mut pattern, mut clients, mut length, mut trials) =
        ("read".to_owned(), 1u32, 20usize, 2000usize);
    let mut factors = vec![1.0, 0.9, 0.8, 0.75, 0.7];
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--runtime" => runtime = Some(value()),
            "--reference" => reference = Some(value()),
            "--after" => after = Some(value()),
            "--pattern" => pattern = value(),
            "--clients" => clients = value().parse().unwrap_or_else(|_| usage()),
            "--length" => length = value().parse().unwrap_or_else(|_| usage()),
            "--trials" => trials = value().parse().unwrap_or_else(|_| usage()),
            "--factors" => {
                factors = value()
                    .split(',')
                    .map(|f| f.parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            flag if flag.starts_with("--") => usage(),
            dir => dirs.push(PathBuf::from(dir)),
        }
    }
    let (Some(runtime), Some(reference)) = (runtime, reference) else {
        usage()
    };
    if dirs.is_empty() {
        usage()
    }
    let runs = bandwidths(&dirs, &pattern, clients);
    let unchanged = ratios(&runs, &runtime, &reference);
    let slowed = after.as_ref().map(|a| ratios(&runs, a, &reference));
    let ln_sd = |v: &[f64]| {
        let logs: Vec<f64> = v.iter().map(|x| x.ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (logs.len() - 1) as f64;
        (mean.exp(), var.sqrt())
    };
    if unchanged.len() < length {
        eprintln!(
            "{} runs with {runtime} and {reference} passed ({pattern}, c{clients}); --length {length} needs as many",
            unchanged.len()
        );
        std::process::exit(1);
    }
    let (usual, sd) = ln_sd(&unchanged);
    println!(
        "{runtime} ÷ {reference} ({pattern}, c{clients}): {} distinct runs, usual ratio {usual:.3}, run-to-run σ {sd:.3} (ln)",
        unchanged.len()
    );
    if let Some(slowed) = &slowed {
        let (ratio, sd) = ln_sd(slowed);
        println!(
            "{} ÷ {reference}: {} runs, ratio {ratio:.3} ({:.3} of the usual), σ {sd:.3} (ln)",
            after.as_deref().unwrap_or_default(),
            slowed.len(),
            ratio / usual
        );
    }
    println!("series of {length} runs, {trials} trials per row, history detect's defaults");
    let options = Options::default();
    let mut rng = Rng(0x5EED_0000_0000_0001);
    let draw = |pool: &[f64], k: usize, rng: &mut Rng| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..pool.len()).collect();
        for i in 0..k {
            let j = i + rng.below(pool.len() - i);
            idx.swap(i, j);
        }
        idx[..k].iter().map(|&i| pool[i]).collect()
    };
    let rows: Vec<(String, Option<f64>)> = match &slowed {
        Some(_) => vec![(after.clone().unwrap_or_default(), None)],
        None => factors
            .iter()
            .map(|f| (format!("×{f}"), Some(*f)))
            .collect(),
    };
    for (name, factor) in rows {
        if factor == Some(1.0) {
            let mut alarms = 0;
            for _ in 0..trials {
                let series = draw(&unchanged, length, &mut rng);
                alarms += usize::from(!change_points(&series, &options).is_empty());
            }
            rate(
                &format!("{name} (unchanged): a change point reported"),
                alarms,
                trials,
            );
            continue;
        }
        for m in 1..=8.min(length - 2) {
            let mut caught = 0;
            for _ in 0..trials {
                let series: Vec<f64> = match (factor, &slowed) {
                    (Some(f), _) => {
                        let mut series = draw(&unchanged, length, &mut rng);
                        series[length - m..].iter_mut().for_each(|v| *v *= f);
                        series
                    }
                    (None, Some(slowed)) => {
                        let mut series = draw(&unchanged, length - m, &mut rng);
                        series.extend(draw(slowed, m.min(slowed.len()), &mut rng));
                        series
                    }
                    (None, None) => unreachable!("a row is a factor or --after"),
                };
                let step = length - m;
                caught += usize::from(change_points(&series, &options).iter().any(|cp| {
                    cp.index.abs_diff(step) <= 2
                        && cp.comparison.mean_after < cp.comparison.mean_before
                }));
            }
            rate(
                &format!("{name}, {m} run(s) after the step: caught"),
                caught,
                trials,
            );
        }
    }
}
