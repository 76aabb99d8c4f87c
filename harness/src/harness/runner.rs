//! The product's run loop, shared by `cargo test --test io_matrix` and `iogate run`: one session
//! per matrix, each cell measured once per process (a gate or baseline reuses it), the cells a gate
//! needs measured together with their repetitions interleaved, gate reports persisted as
//! `gates.json`, and the report written at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::harness::decision::{self, Decision};
use crate::judge::GatesFile;
use crate::judge::baseline::Store;
use crate::judge::{GateReport, Verdict, evaluate};
use crate::report::events::{Event, Sink};
use crate::report::{self, Run, View};
use crate::run::{CellEvent, CellRecord, Session, Status, Summary, write_atomically};
use crate::spec::{Cell, GateSpec, MatrixFile};
use crate::sys::lock::MachineLock;
use crate::units::{first_line, short_reason};

/// A cell measured in this process, with its run directory.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The cell's record.
    pub record: CellRecord,
    /// The run directory it is in.
    pub dir: PathBuf,
}

/// What this process knows of each cell, by name: `None` while some caller measures it.
#[derive(Default)]
struct Records {
    state: Mutex<BTreeMap<String, Option<Result<Measured, String>>>>,
    done: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs matrices' cells, gates and baselines; safe to share between test threads.
pub struct Runner {
    sessions: Mutex<BTreeMap<String, Arc<Mutex<Session>>>>,
    records: Records,
    sink: Mutex<Box<dyn Sink>>,
}

/// Marks claimed cells as finished (with an error) if their measurement panics, so no caller
/// waits for them forever.
struct Claim<'a> {
    records: &'a Records,
    names: Vec<String>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.records.state);
        for name in &self.names {
            if let Some(slot @ None) = state.get_mut(name) {
                *slot = Some(Err(format!("measuring {name} panicked")));
            }
        }
        self.records.done.notify_all();
    }
}

impl Runner {
    /// A runner reporting to `sink`.
    pub fn new(sink: Box<dyn Sink>) -> Runner {
        Runner {
            sessions: Mutex::default(),
            records: Records::default(),
            sink: Mutex::new(sink),
        }
    }

    /// Sends later events to `sink` instead.
    pub(crate) fn set_sink(&self, sink: Box<dyn Sink>) {
        *lock(&self.sink) = sink;
    }

    fn emit(&self, event: &Event<'_>) {
        lock(&self.sink).event(event);
    }

    fn session(&self, matrix: &MatrixFile) -> Result<Arc<Mutex<Session>>, String> {
        let mut all = lock(&self.sessions);
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
    fn measure(&self, matrix: &MatrixFile, cells: &[Cell]) -> Vec<Result<Measured, String>> {
        let session = match self.session(matrix) {
            Ok(s) => s,
            Err(e) => return cells.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut session = lock(&session);
        let mut started: BTreeMap<String, Instant> = BTreeMap::new();
        let result = session.run_observed(cells, &mut |event| match event {
            CellEvent::Started(cell) => {
                started.insert(cell.name.clone(), Instant::now());
                self.emit(&Event::CellStarted { name: &cell.name });
            }
            CellEvent::Finished(record) => {
                let took = started
                    .get(&record.name)
                    .map(Instant::elapsed)
                    .unwrap_or_default();
                self.emit(&Event::CellFinished { record, took });
            }
        });
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

    /// The records of `cells`: reused when this process measured them already, awaited when
    /// another caller is measuring them, measured now otherwise (the missing ones together,
    /// repetitions interleaved).
    pub fn records(&self, matrix: &MatrixFile, cells: &[Cell]) -> Vec<Result<Measured, String>> {
        let claimed: Vec<Cell> = {
            let mut state = lock(&self.records.state);
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
            let _claim = Claim {
                records: &self.records,
                names: claimed.iter().map(|c| c.name.clone()).collect(),
            };
            let results = self.measure(matrix, &claimed);
            let mut state = lock(&self.records.state);
            for (cell, result) in claimed.iter().zip(results) {
                state.insert(cell.name.clone(), Some(result));
            }
        }
        let mut state = lock(&self.records.state);
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
            state = self
                .records
                .done
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// One cell's record (measured now if this process has not yet).
    pub fn cell(&self, matrix: &MatrixFile, cell: &Cell) -> Result<Measured, String> {
        self.records(matrix, std::slice::from_ref(cell)).remove(0)
    }

    /// A gate at one client count: its cells' records (measured together if missing), the
    /// report, persisted in the run's `gates.json` under its test name.
    pub fn gate(
        &self,
        matrix: &MatrixFile,
        gate: &GateSpec,
        clients: u32,
    ) -> Result<GateReport, String> {
        let cells = gate.cells(&matrix.matrix, Some(clients));
        let mut records = Vec::new();
        let mut dir = None;
        for result in self.records(matrix, &cells) {
            let measured = result.map_err(|e| format!("gate `{}`: {e}", gate.describe()))?;
            dir = Some(measured.dir);
            records.push(measured.record);
        }
        let report = evaluate(gate, &matrix.matrix, Some(clients), &records);
        let trial = gate.trial_name(&matrix.matrix, clients);
        if let Some(dir) = dir
            && let Err(e) = record_gate(&dir, &trial, &report)
        {
            eprintln!("{}: {e}", GatesFile::NAME);
        }
        self.emit(&Event::GateDecided {
            trial: &trial,
            report: &report,
        });
        Ok(report)
    }

    /// A cell's decision: its numbers, its skip reason, or its failure.
    pub fn cell_decision(&self, matrix: &MatrixFile, cell: &Cell) -> Decision {
        match self.cell(matrix, cell) {
            Ok(m) => decision::of_cell(&m.record, &m.dir),
            Err(e) => Decision::Fail(e),
        }
    }

    /// A gate's decision at one client count (see [`Runner::gate`]).
    pub fn gate_decision(&self, matrix: &MatrixFile, gate: &GateSpec, clients: u32) -> Decision {
        match self.gate(matrix, gate, clients) {
            Ok(report) => decision::of_gate(&report),
            Err(e) => Decision::Fail(e),
        }
    }

    /// One cell against its baseline in `store`: a skipped cell's check is ignored with its
    /// reason, a failed cell's check fails (it cannot be compared).
    pub fn baseline_decision(&self, matrix: &MatrixFile, cell: &Cell, store: &Store) -> Decision {
        let measured = match self.cell(matrix, cell) {
            Ok(m) => m,
            Err(e) => return Decision::Fail(e),
        };
        let record = &measured.record;
        let reason = record.reason.as_deref().unwrap_or_default();
        let decision = match record.status {
            Status::Skipped => return Decision::Ignore(short_reason(reason)),
            Status::Failed => {
                return Decision::Fail(format!(
                    "{} failed, so it cannot be compared with its baseline: {reason}\n(results: {})",
                    cell.name,
                    measured.dir.display()
                ));
            }
            Status::Passed => decision::of_baseline(store.check(record)),
        };
        let (verdict, text) = match &decision {
            Decision::Pass(t) => (Verdict::Pass, t),
            Decision::Fail(t) => (Verdict::Fail, t),
            Decision::Ignore(t) => (Verdict::Skipped, t),
        };
        self.emit(&Event::BaselineChecked {
            trial: &cell.id.baseline_trial(),
            verdict,
            summary: first_line(text),
        });
        decision
    }

    /// Ends the run: stops every session's fixtures, prints each run's tables, writes its
    /// report (and the GitHub step summary), and returns the run directories.
    pub fn finish(&self) -> Vec<PathBuf> {
        let sessions = std::mem::take(&mut *lock(&self.sessions));
        let mut dirs = Vec::new();
        for session in sessions.into_values() {
            let dir = lock(&session).dir().to_owned();
            // Stops the session's fixtures (servers, containers, VMs) before the report.
            drop(session);
            if let Ok(summary) = Summary::load(&dir.join("summary.json")) {
                println!("\n{} — completion latency (µs)\n", summary.matrix);
                println!("{}", report::latency_table(&summary));
                println!("{} — aggregate bandwidth\n", summary.matrix);
                println!("{}", report::bandwidth_table(&summary));
                println!("results: {}", dir.display());
            }
            write_report(&dir);
            dirs.push(dir);
        }
        dirs
    }
}

/// Adds a gate's report to the run's `gates.json` (under the run's lock: nextest processes of one
/// run share the file).
fn record_gate(dir: &Path, trial: &str, report: &GateReport) -> crate::Result<()> {
    let _lock = MachineLock::at(&dir.join(".lock"))?;
    let path = dir.join(GatesFile::NAME);
    let mut file: GatesFile = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    file.gates.insert(trial.to_owned(), report.clone());
    let text = serde_json::to_string_pretty(&file).expect("gate reports serialize") + "\n";
    write_atomically(&path, text.as_bytes())
}

/// Writes report.md, report.html and the figures into the run directory, lists the cells without
/// numbers, and appends the markdown to the GitHub step summary when there is one.
fn write_report(dir: &Path) {
    let run = match Run::load(dir) {
        Ok(run) => run,
        Err(e) => return eprintln!("report: {e}"),
    };
    // The same footnote numbers as the tables printed above (ordered without the matrix).
    let view = View::new(&run.summary, None);
    print!("{}", report::markdown::missing_list(&view));
    match report::write_to(&run, dir) {
        Ok(w) => println!("report: {}", w.html.display()),
        Err(e) => eprintln!("report: {e}"),
    }
    if let Err(e) = report::append_step_summary(&report::markdown::render(&run, false)) {
        eprintln!("report: step summary: {e}");
    }
}
