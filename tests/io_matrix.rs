//! One test per matrix cell: `cargo test --test io_matrix [FILTER] [-- --ignored]`.
//!
//! After the cells: one test per gate and client count (`smoke/gate/gvisor-read-bw-ge-5pct-of-host/c8`)
//! and one baseline check per cell (`smoke/baseline/host/c8/read`, against `snapshots/`; see
//! `docs/gates.md`). A gate or baseline test reuses the records of cells this process has already
//! measured and measures the missing ones itself (several at once: repetitions interleaved).
//!
//! Matrix files: every `matrices/*.yaml`, or only `$IOGATE_MATRIX`. Lab cells (lab matrices or
//! runtimes) are ignored unless `--ignored` is given. Cells never overlap: a lock around each cell
//! holds across test threads and processes (nextest). Results go to `target/iogate/<matrix>/<run-id>/`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use iogate::judge::baseline::Store;
use iogate::gate::{Decision, GateSpec};
use iogate::spec::{Cell, MatrixFile};
use iogate::report::progress::Progress;
use iogate::run::{CellRecord, Status};
use iogate::run::Session;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// Sessions by matrix name, opened by the first cell of each matrix that runs.
type Sessions = Mutex<BTreeMap<String, Arc<Mutex<Session>>>>;

/// Progress over the cells this invocation runs (set in `main` once the filter is known).
fn progress() -> &'static Mutex<Progress> {
    static PROGRESS: OnceLock<Mutex<Progress>> = OnceLock::new();
    PROGRESS.get_or_init(|| Mutex::new(Progress::new(0)))
}

fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(Sessions::default)
}

fn matrix_files() -> Vec<PathBuf> {
    if let Some(one) = std::env::var_os("IOGATE_MATRIX") {
        return vec![PathBuf::from(one)];
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("matrices");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// A cell measured in this process, with its run directory.
#[derive(Clone)]
struct Measured {
    record: CellRecord,
    dir: PathBuf,
}

/// What this process knows of each cell, by name: `None` while some trial measures it.
#[derive(Default)]
struct Records {
    state: Mutex<BTreeMap<String, Option<Result<Measured, String>>>>,
    done: Condvar,
}

fn records() -> &'static Records {
    static RECORDS: OnceLock<Records> = OnceLock::new();
    RECORDS.get_or_init(Records::default)
}

/// Marks claimed cells as finished (with an error) if their measurement panics, so no trial
/// waits for them forever.
struct Claim(Vec<String>);

impl Drop for Claim {
    fn drop(&mut self) {
        let recs = records();
        let mut state = recs.state.lock().unwrap_or_else(|p| p.into_inner());
        for name in &self.0 {
            if let Some(slot @ None) = state.get_mut(name) {
                *slot = Some(Err(format!("measuring {name} panicked")));
            }
        }
        recs.done.notify_all();
    }
}

fn session_for(matrix: &MatrixFile) -> Result<Arc<Mutex<Session>>, String> {
    let mut all = sessions().lock().unwrap_or_else(|p| p.into_inner());
    let name = matrix.matrix.name.to_string();
    if let Some(s) = all.get(&name) {
        return Ok(s.clone());
    }
    let s = Arc::new(Mutex::new(
        Session::open(matrix.clone()).map_err(|e| e.to_string())?,
    ));
    all.insert(name, s.clone());
    Ok(s)
}

/// Measures `cells` in the matrix's session, repetitions interleaved when there are several.
fn measure(matrix: &MatrixFile, cells: &[Cell]) -> Vec<Result<Measured, String>> {
    let session = match session_for(matrix) {
        Ok(s) => s,
        Err(e) => return cells.iter().map(|_| Err(e.clone())).collect(),
    };
    let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
    for cell in cells {
        let line = progress()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .start(&cell.name);
        eprintln!("{line}");
    }
    let started = Instant::now();
    let result = session.run_interleaved(cells);
    for _ in cells {
        progress()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finish(started.elapsed() / cells.len() as u32);
    }
    let dir = session.dir().to_owned();
    match result {
        Ok(records) => records
            .into_iter()
            .map(|record| {
                Ok(Measured {
                    record,
                    dir: dir.clone(),
                })
            })
            .collect(),
        Err(e) => cells.iter().map(|_| Err(e.to_string())).collect(),
    }
}

/// The records of `cells`: reused when this process measured them already, awaited when another
/// trial is measuring them, measured now otherwise (the missing ones together, interleaved).
fn fetch_or_run(matrix: &MatrixFile, cells: &[Cell]) -> Vec<Result<Measured, String>> {
    let recs = records();
    let claimed: Vec<Cell> = {
        let mut state = recs.state.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .iter()
            .filter(|c| {
                let new = !state.contains_key(&c.name);
                if new {
                    state.insert(c.name.clone(), None);
                }
                new
            })
            .cloned()
            .collect()
    };
    if !claimed.is_empty() {
        let _claim = Claim(claimed.iter().map(|c| c.name.clone()).collect());
        let results = measure(matrix, &claimed);
        let mut state = recs.state.lock().unwrap_or_else(|p| p.into_inner());
        for (cell, result) in claimed.iter().zip(results) {
            state.insert(cell.name.clone(), Some(result));
        }
    }
    let mut state = recs.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if cells
            .iter()
            .all(|c| matches!(state.get(&c.name), Some(Some(_))))
        {
            return cells
                .iter()
                .map(|c| state[&c.name].clone().expect("checked above"))
                .collect();
        }
        state = recs.done.wait(state).unwrap_or_else(|p| p.into_inner());
    }
}

fn run_cell(matrix: &MatrixFile, cell: &Cell) -> Result<Completion, Failed> {
    let measured = fetch_or_run(matrix, std::slice::from_ref(cell)).remove(0)?;
    let record = &measured.record;
    let reason = record.reason.clone().unwrap_or_default();
    match record.status {
        Status::Passed => {
            let lat = record.lat_ns.expect("a passed cell has latencies");
            println!(
                "{}: {:.1} MiB/s, {:.0} IOPS, p50 {} µs, p99 {} µs",
                cell.name,
                record.bw_bytes.unwrap_or_default() / 1048576.0,
                record.iops.unwrap_or_default(),
                lat.p50 / 1000,
                lat.p99 / 1000
            );
            Ok(Completion::Completed)
        }
        Status::Skipped => Ok(Completion::ignored_with(reason)),
        Status::Failed => Err(format!("{}\n(results: {})", reason, measured.dir.display()).into()),
    }
}

/// One gate at one client count: fetches (or measures) its cells, prints the verdict table.
fn run_gate(matrix: &MatrixFile, gate: &GateSpec, clients: u32) -> Result<Completion, Failed> {
    let cells = gate.cells(matrix, Some(clients));
    let mut records = Vec::new();
    for result in fetch_or_run(matrix, &cells) {
        records.push(
            result
                .map_err(|e| format!("gate `{}`: {e}", gate.describe()))?
                .record,
        );
    }
    let report = iogate::gate::evaluate(gate, &matrix.matrix, Some(clients), &records);
    match report.decision() {
        Decision::Pass(text) => {
            println!("{text}");
            Ok(Completion::Completed)
        }
        Decision::Fail(text) => Err(text.into()),
        Decision::Ignore(reason) => Ok(Completion::ignored_with(reason)),
    }
}

/// One cell against its baseline snapshot.
fn run_baseline(
    matrix: &MatrixFile,
    cell: &Cell,
    store: &Result<Store, String>,
) -> Result<Completion, Failed> {
    let store = store.as_ref().map_err(|e| e.clone())?;
    let measured = fetch_or_run(matrix, std::slice::from_ref(cell)).remove(0)?;
    let record = &measured.record;
    match record.status {
        Status::Passed => {
            let outcome = store.check(record)?;
            println!("{outcome}");
            Ok(Completion::Completed)
        }
        Status::Skipped => Ok(Completion::ignored_with(
            record.reason.clone().unwrap_or_default(),
        )),
        Status::Failed => Err(format!(
            "{} failed, so it cannot be compared with its baseline: {}\n(results: {})",
            cell.name,
            record.reason.as_deref().unwrap_or_default(),
            measured.dir.display()
        )
        .into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let mut nominal: BTreeMap<String, Option<Duration>> = BTreeMap::new();
    // Baselines: `<workspace>/snapshots` (absolute: insta resolves relative paths against the caller).
    let store = Store::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    for path in matrix_files() {
        let matrix = match MatrixFile::load(&path) {
            Ok(m) => m,
            Err(e) => {
                let name = format!("matrix/{}", path.display());
                trials.push(Trial::test(name, move || Err(e.to_string().into())));
                continue;
            }
        };
        for cell in matrix.cells() {
            let w = &cell.workload;
            let one = w
                .runtime
                .map(|r| r.get() + w.ramp.map(|x| x.get()).unwrap_or_default());
            nominal.insert(cell.name.clone(), one.map(|d| d * w.repetitions));
            let (m, lab) = (matrix.clone(), cell.lab);
            trials.push(
                Trial::ignorable_test(cell.name.clone(), move || run_cell(&m, &cell))
                    .with_ignored_flag(lab),
            );
        }
        for gate in &matrix.matrix.gates {
            for clients in gate.client_counts(&matrix.matrix) {
                let lab = gate.cells(&matrix, Some(clients)).iter().any(|c| c.lab);
                let (m, g) = (matrix.clone(), gate.clone());
                let name = gate.trial_name(&matrix.matrix, clients);
                trials.push(
                    Trial::ignorable_test(name, move || run_gate(&m, &g, clients))
                        .with_ignored_flag(lab),
                );
            }
        }
        for cell in matrix.cells() {
            let (m, lab, store) = (matrix.clone(), cell.lab, store.clone());
            let name = iogate::judge::baseline::trial_name(&cell.name);
            trials.push(
                Trial::ignorable_test(name, move || run_baseline(&m, &cell, &store))
                    .with_ignored_flag(lab),
            );
        }
    }
    set_progress(&args, &trials, &nominal);
    let conclusion = libtest_mimic::run(&args, trials);
    for session in sessions()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
    {
        let session = session.lock().unwrap_or_else(|p| p.into_inner());
        let summary_path = session.dir().join("summary.json");
        if let Ok(summary) = iogate::run::Summary::load(&summary_path) {
            println!("\n{} — completion latency (µs)\n", summary.matrix);
            println!("{}", iogate::report::latency_table(&summary));
            println!("{} — aggregate bandwidth\n", summary.matrix);
            println!("{}", iogate::report::bandwidth_table(&summary));
            println!("results: {}", session.dir().display());
        }
        write_report(session.dir());
    }
    conclusion.exit();
}

/// Counts the cells this invocation will measure (filter, `--skip`, `--exact`, `--ignored`,
/// `--include-ignored`): those whose own test or baseline test runs. Cells only a gate test needs
/// are added as they start. `nominal` has each cell's nominal duration, by cell name.
fn set_progress(args: &Arguments, trials: &[Trial], nominal: &BTreeMap<String, Option<Duration>>) {
    if args.list {
        return;
    }
    let running: std::collections::BTreeSet<&str> = trials
        .iter()
        .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
        .map(|t| t.name())
        .collect();
    let runs: Vec<Option<Duration>> = nominal
        .iter()
        .filter(|(cell, _)| {
            running.contains(cell.as_str())
                || running.contains(iogate::judge::baseline::trial_name(cell).as_str())
        })
        .map(|(_, d)| *d)
        .collect();
    let mut p = Progress::new(runs.len());
    if let Some(all) = runs.into_iter().sum::<Option<Duration>>() {
        p = p.with_nominal(all);
    }
    *progress().lock().unwrap_or_else(|p| p.into_inner()) = p;
}

/// Writes report.md, report.html and the figures into the run directory, lists the cells without
/// numbers, and appends the markdown to `$GITHUB_STEP_SUMMARY` when set.
fn write_report(dir: &std::path::Path) {
    let run = match iogate::report::Run::load(dir) {
        Ok(run) => run,
        Err(e) => return eprintln!("report: {e}"),
    };
    // The same footnote numbers as the tables printed above (ordered without the matrix).
    let view = iogate::report::View::new(&run.summary, None);
    print!("{}", iogate::report::markdown::missing_list(&view));
    match iogate::report::write_to(&run, dir) {
        Ok(w) => println!("report: {}", w.html.display()),
        Err(e) => eprintln!("report: {e}"),
    }
    if let Err(e) =
        iogate::report::append_step_summary(&iogate::report::markdown::render(&run, false))
    {
        eprintln!("report: $GITHUB_STEP_SUMMARY: {e}");
    }
}
