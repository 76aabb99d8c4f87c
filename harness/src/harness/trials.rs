//! The test harness of `cargo test --test io_matrix`: one libtest-mimic trial per cell, per gate and
//! client count, and per baseline, run by one [`Runner`].
//!
//! Matrix files: every `<workspace>/matrices/*.yaml`, or only `$IOGATE_MATRIX`. Lab cells (lab
//! matrices or runtimes) are ignored unless `--ignored` is given. Cells never overlap: a lock
//! around each cell holds across test threads and processes (nextest).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::harness::decision::Decision;
use crate::harness::runner::Runner;
use crate::judge::baseline::Store;
use crate::report::events::{Console, Silent};
use crate::report::progress::Progress;
use crate::settings::settings;
use crate::spec::{Cell, MatrixFile};

/// What a trial makes of a decision.
fn completion(decision: Decision) -> Result<Completion, Failed> {
    match decision {
        Decision::Pass(text) => {
            println!("{text}");
            Ok(Completion::Completed)
        }
        Decision::Fail(text) => Err(text.into()),
        Decision::Ignore(reason) => Ok(Completion::ignored_with(reason)),
    }
}

/// The matrix files of a workspace: `$IOGATE_MATRIX`, else `matrices/*.yaml`, sorted.
pub fn matrix_files(workspace: &Path) -> Vec<PathBuf> {
    if let Some(one) = &settings().matrix {
        return vec![one.clone()];
    }
    let dir = workspace.join("matrices");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// What a cell should take by its workload (ramp + runtime per repetition), if it is time-based.
pub fn nominal_duration(cell: &Cell) -> Option<Duration> {
    let w = &cell.workload;
    let one = w.runtime?.get() + w.ramp.map(|r| r.get()).unwrap_or_default();
    Some(one * w.repetitions)
}

/// `main` of the `io_matrix` test binary: trials for every matrix of `workspace` (baselines in
/// `<workspace>/snapshots`), run with the command line's filter and flags, then the tables and
/// report of each run. Exits with libtest's status, or 130/143 after SIGINT/SIGTERM (the
/// running cell torn down and recorded as interrupted, the trials after it failed unmeasured).
pub fn main(workspace: &Path) -> ! {
    let args = Arguments::from_args();
    if !args.list
        && let Err(e) = crate::sys::interrupt::install()
    {
        eprintln!("iogate: {e}: Ctrl-C will not clean up");
    }
    let runner = Arc::new(Runner::new(Box::new(Silent)));
    let (trials, nominal) = trials(workspace, &runner);
    if !args.list {
        // What this invocation runs is known once the filter meets the trials: the family of
        // gates and baselines decided together, and the cells to measure.
        runner.select(
            trials
                .iter()
                .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
                .map(|t| t.name().to_owned()),
        );
        runner.set_sink(Box::new(Console::new(progress(&args, &trials, &nominal))));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if !args.list {
        runner.finish();
    }
    if let Some(signal) = crate::sys::interrupt::received() {
        eprintln!(
            "iogate: interrupted by {}: finished cells and the interrupted one are in summary.json \
             and the report",
            signal.name()
        );
        std::process::exit(i32::from(signal.exit_code()));
    }
    conclusion.exit()
}

/// Every trial of the workspace's matrices, and each cell's nominal duration by name.
pub fn trials(
    workspace: &Path,
    runner: &Arc<Runner>,
) -> (Vec<Trial>, BTreeMap<String, Option<Duration>>) {
    let mut trials = Vec::new();
    let mut nominal = BTreeMap::new();
    // Absolute: insta resolves relative snapshot paths against the caller's file.
    let store = Store::new(workspace.join("snapshots"));
    runner.set_baselines(store.clone());
    for path in matrix_files(workspace) {
        let matrix = match MatrixFile::load(&path) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                let name = format!("matrix/{}", path.display());
                trials.push(Trial::test(name, move || Err(e.to_string().into())));
                continue;
            }
        };
        for cell in matrix.cells() {
            nominal.insert(cell.name.clone(), nominal_duration(&cell));
            let (m, r, lab) = (matrix.clone(), runner.clone(), cell.lab);
            trials.push(
                Trial::ignorable_test(cell.name.clone(), move || {
                    completion(r.cell_decision(&m, &cell))
                })
                .with_ignored_flag(lab),
            );
        }
        for gate in &matrix.matrix.gates {
            for clients in gate.client_counts(&matrix.matrix) {
                let lab = gate
                    .cells(&matrix.matrix, Some(clients))
                    .iter()
                    .any(|c| c.lab);
                let (m, r, g) = (matrix.clone(), runner.clone(), gate.clone());
                let name = gate.trial_name(&matrix.matrix, clients);
                trials.push(
                    Trial::ignorable_test(name, move || {
                        completion(r.gate_decision(&m, &g, clients))
                    })
                    .with_ignored_flag(lab),
                );
            }
        }
        for cell in matrix.cells() {
            let (m, r, lab, store) = (matrix.clone(), runner.clone(), cell.lab, store.clone());
            let name = cell.id.baseline_trial();
            trials.push(
                Trial::ignorable_test(name, move || {
                    completion(r.baseline_decision(&m, &cell, &store))
                })
                .with_ignored_flag(lab),
            );
        }
    }
    (trials, nominal)
}

/// Progress over the cells this invocation will measure (filter, `--skip`, `--exact`,
/// `--ignored`, `--include-ignored`): those whose own test or baseline test runs. Cells only a
/// gate test needs are added as they start.
fn progress(
    args: &Arguments,
    trials: &[Trial],
    nominal: &BTreeMap<String, Option<Duration>>,
) -> Progress {
    let running: BTreeSet<&str> = trials
        .iter()
        .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
        .map(|t| t.name())
        .collect();
    let runs: Vec<Option<Duration>> = nominal
        .iter()
        .filter(|(cell, _)| {
            running.contains(cell.as_str())
                || crate::spec::CellId::parse(cell)
                    .is_some_and(|id| running.contains(id.baseline_trial().as_str()))
        })
        .map(|(_, d)| *d)
        .collect();
    let mut p = Progress::new(runs.len());
    if let Some(all) = runs.into_iter().sum::<Option<Duration>>() {
        p = p.with_nominal(all);
    }
    p
}
