//! The product's run loop, shared by `cargo test --test io_matrix` and `iogate run`: one session
//! per matrix; the cells the selected gates and baselines need measured together in blocks (each
//! block measures every cell once, pattern by pattern, runtimes side by side); every gate row
//! decided at once with a Holm correction over the run; blocks added to the cells of unclear
//! rows while the measuring budget lasts; gate reports persisted as `gates.json`; the report
//! written at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::harness::decision::{self, Decision};
use crate::judge::baseline::Store;
use crate::judge::family::{Test, rejections};
use crate::judge::{GateReport, GatesFile, Past, Verdict, evaluate};
use crate::report::events::{Event, Sink};
use crate::report::{self, Run, View};
use crate::run::{CellEvent, CellRecord, Session, Status, Summary, write_atomically};
use crate::spec::{Cell, GateSpec, MatrixFile, RuntimeKind};
use crate::stats::holm;
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
    /// The tests this invocation runs, by name (`None`: every test that is not a lab test).
    selection: Mutex<Option<std::collections::BTreeSet<String>>>,
    /// Each matrix's gate reports, decided together, by test name.
    judged: Mutex<BTreeMap<String, Arc<Mutex<Option<Judged>>>>>,
    /// The baseline snapshots the family's baseline comparisons use.
    baselines: Mutex<Option<Store>>,
}

/// A matrix's gates as the family decided them.
#[derive(Clone, Default)]
struct Judged {
    gates: BTreeMap<String, Result<GateReport, String>>,
    /// Baseline decisions, by test name.
    baselines: BTreeMap<String, Decision>,
}

/// A cell against its baseline before the family's correction.
enum Checked {
    /// Decided without rows (skipped or failed cell, no baseline, unreadable snapshot).
    Decided(Decision),
    /// Rows whose p-values join the family.
    Rows(crate::judge::baseline::BaselineCheck),
}

/// A cell whose decisive baseline row failed at the first look, measured again: its baseline is
/// then judged on the fresh repetitions alone (and its reference's, for ratio rows), so a
/// transient in one stretch of the run passes and a regression, which persists, fails.
#[derive(Clone)]
struct Confirming {
    /// Repetitions the cell and its reference had at the first look.
    before: (usize, usize),
    /// Fresh repetitions measured since.
    fresh: usize,
    /// The first look's failure.
    first: String,
}

/// Most fresh repetitions a failing baseline is confirmed with (fewer when the cell had fewer).
const CONFIRM_REPETITIONS: usize = 3;

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
            selection: Mutex::default(),
            judged: Mutex::default(),
            baselines: Mutex::default(),
        }
    }

    /// Compares the selected cells with the baselines in `store`, in the same family as the
    /// gates (one Holm correction over every gate row and baseline row of the run).
    pub fn set_baselines(&self, store: Store) {
        *lock(&self.baselines) = Some(store);
    }

    /// Limits the family of gates and baselines decided together (and the cells measured for
    /// them) to the tests named in `tests`: those this invocation runs.
    pub fn select(&self, tests: impl IntoIterator<Item = String>) {
        *lock(&self.selection) = Some(tests.into_iter().collect());
    }

    fn selected(&self, test: &str, lab: bool) -> bool {
        match &*lock(&self.selection) {
            Some(tests) => tests.contains(test),
            None => !lab,
        }
    }

    /// The selected gates of `matrix`, per client count, with their test names.
    fn family_gates(&self, matrix: &MatrixFile) -> Vec<(String, GateSpec, u32)> {
        let m = &matrix.matrix;
        m.gates
            .iter()
            .flat_map(|g| g.client_counts(m).into_iter().map(move |c| (g, c)))
            .filter_map(|(g, clients)| {
                let trial = g.trial_name(m, clients);
                let lab = g.cells(m, Some(clients)).iter().any(|c| c.lab);
                self.selected(&trial, lab)
                    .then(|| (trial, g.clone(), clients))
            })
            .collect()
    }

    /// The cells the selected gates and baselines of `matrix` need, in block order: by client
    /// count, then pattern by pattern with runtimes side by side (their servers stay up), VMs
    /// last and runtime by runtime (an idle emulated VM is stopped, so its cells go together).
    fn family_cells(&self, matrix: &MatrixFile) -> Vec<Cell> {
        let m = &matrix.matrix;
        let mut cells: Vec<Cell> = Vec::new();
        for (_, gate, clients) in self.family_gates(matrix) {
            cells.extend(gate.cells(m, Some(clients)));
        }
        cells.extend(
            matrix
                .cells()
                .into_iter()
                .filter(|c| self.selected(&c.id.baseline_trial(), c.lab)),
        );
        let order = |c: &Cell| {
            let runtime = m
                .runtimes
                .iter()
                .position(|r| r.name == c.runtime.name)
                .unwrap_or(usize::MAX);
            let vm = matches!(c.runtime.kind, RuntimeKind::Microvm(_));
            let pattern = c.pattern as usize;
            if vm {
                (c.clients, true, runtime, pattern)
            } else {
                (c.clients, false, pattern, runtime)
            }
        };
        cells.sort_by_key(order);
        cells.dedup_by(|a, b| a.name == b.name);
        cells
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

    /// One cell's record (measured now if this process has not yet: with every cell of the
    /// selected gates and baselines, in blocks, when it is one of them).
    pub fn cell(&self, matrix: &MatrixFile, cell: &Cell) -> Result<Measured, String> {
        let family = self.family_cells(matrix);
        if family.iter().any(|c| c.name == cell.name) {
            let mut records = self.records(matrix, &family);
            let i = family
                .iter()
                .position(|c| c.name == cell.name)
                .expect("found above");
            return records.swap_remove(i);
        }
        self.records(matrix, std::slice::from_ref(cell)).remove(0)
    }

    /// Adds a block to each of `cells` (measured earlier in this process) and updates their
    /// records.
    fn extend(&self, matrix: &MatrixFile, cells: &[Cell]) {
        let session = match self.session(matrix) {
            Ok(s) => s,
            Err(_) => return,
        };
        let mut session = lock(&session);
        let result = session.extend_observed(cells, 1, &mut |event| {
            if let CellEvent::Finished(record) = event
                && record.status == Status::Failed
            {
                self.emit(&Event::CellFinished {
                    record,
                    took: std::time::Duration::ZERO,
                });
            }
        });
        let dir = session.dir().to_owned();
        if let Ok(records) = result {
            let mut state = lock(&self.records.state);
            for record in records {
                state.insert(
                    record.name.clone(),
                    Some(Ok(Measured {
                        record,
                        dir: dir.clone(),
                    })),
                );
            }
        }
    }

    /// Measuring time this process spent on `matrix`'s cells so far.
    fn measured_for(&self, matrix: &MatrixFile) -> f64 {
        let prefix = format!("{}/", matrix.matrix.name);
        lock(&self.records.state)
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .filter_map(|(_, slot)| slot.as_ref()?.as_ref().ok())
            .map(|m| m.record.duration_s)
            .sum()
    }

    /// The selected gates of `matrix`, decided together (once per process): their cells measured
    /// in blocks, every row tested, Holm over all rows at the matrix's false-alarm rate, and one
    /// more block for the cells of unclear rows while blocks and budget remain.
    fn judged(&self, matrix: &MatrixFile) -> Judged {
        let slot = lock(&self.judged)
            .entry(matrix.matrix.name.to_string())
            .or_default()
            .clone();
        let mut slot = lock(&slot);
        if let Some(judged) = &*slot {
            return judged.clone();
        }
        let judged = self.decide(matrix);
        *slot = Some(judged.clone());
        judged
    }

    fn decide(&self, matrix: &MatrixFile) -> Judged {
        let m = &matrix.matrix;
        let spec = m.judge;
        let family = self.family_gates(matrix);
        let cells = self.family_cells(matrix);
        let first = self.records(matrix, &cells);
        let dir = first
            .iter()
            .find_map(|r| r.as_ref().ok().map(|m| m.dir.clone()));
        let past = dir
            .as_deref()
            .map(|d| past_runs(d, matrix))
            .unwrap_or_default();
        let mut confirming: BTreeMap<String, Confirming> = BTreeMap::new();
        loop {
            let mut reports: Vec<(String, Result<GateReport, String>)> = Vec::new();
            for (trial, gate, clients) in &family {
                let needs = gate.cells(m, Some(*clients));
                let mut records = Vec::new();
                let mut failed = None;
                for result in self.records(matrix, &needs) {
                    match result {
                        Ok(measured) => records.push(measured.record),
                        Err(e) => failed = Some(format!("gate `{}`: {e}", gate.describe())),
                    }
                }
                let report = match failed {
                    Some(e) => Err(e),
                    None => Ok(evaluate(
                        gate,
                        m,
                        Some(*clients),
                        &records,
                        &past,
                        spec.threshold.get(),
                    )),
                };
                reports.push((trial.clone(), report));
            }
            let store = lock(&self.baselines).clone();
            let checks: Vec<(String, Checked)> = match &store {
                Some(store) => matrix
                    .cells()
                    .into_iter()
                    .filter(|c| self.selected(&c.id.baseline_trial(), c.lab))
                    .map(|c| {
                        let trial = c.id.baseline_trial();
                        let since = confirming.get(&trial).map(|c| c.before);
                        let checked = self.check_baseline(matrix, &c, store, since);
                        (trial, checked)
                    })
                    .collect(),
                None => Vec::new(),
            };
            let tests: Vec<Test> = reports
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .flat_map(|r| r.tests().into_iter().flatten())
                .chain(checks.iter().flat_map(|(_, c)| {
                    match c {
                        Checked::Rows(check) => check
                            .rows
                            .iter()
                            .filter(|r| r.decisive())
                            .map(|r| Test {
                                p: r.p_worse,
                                blocks: None,
                            })
                            .collect(),
                        Checked::Decided(_) => Vec::new(),
                    }
                }))
                .collect();
            let mut rejected = rejections(&tests, &spec, m.workload.repetitions).into_iter();
            for (_, report) in &mut reports {
                if let Ok(report) = report {
                    let mine: Vec<bool> = report
                        .p_values()
                        .iter()
                        .map(|p| p.is_some() && rejected.next().unwrap_or(false))
                        .collect();
                    report.settle(&mine);
                }
            }
            // Baselines that failed at their first look now: measured again before deciding.
            let mut unconfirmed: Vec<String> = Vec::new();
            let mut baselines: BTreeMap<String, Decision> = checks
                .into_iter()
                .map(|(trial, checked)| {
                    let decision = match checked {
                        Checked::Decided(d) => d,
                        Checked::Rows(check) => {
                            let mine: Vec<bool> = check
                                .rows
                                .iter()
                                .map(|r| r.decisive() && rejected.next().unwrap_or(false))
                                .collect();
                            let decision = decision::of_baseline(&check, &mine);
                            match confirming.get(&trial) {
                                Some(c) => decision::confirmed(decision, c.fresh, &c.first),
                                None => {
                                    if matches!(decision, Decision::Fail(_)) {
                                        unconfirmed.push(trial.clone());
                                    }
                                    decision
                                }
                            }
                        }
                    };
                    (trial, decision)
                })
                .collect();
            if !unconfirmed.is_empty() && crate::sys::interrupt::received().is_none() {
                let store = store.as_ref().expect("baseline rows come from a store");
                let again = self.confirm(matrix, store, &unconfirmed, &baselines);
                if !again.is_empty() {
                    confirming.extend(again);
                    continue;
                }
                for trial in &unconfirmed {
                    if let Some(Decision::Fail(text)) = baselines.get_mut(trial) {
                        text.push_str(
                            "\nnot measured again to confirm it: the matrix's measuring budget \
                             (`judge: budget`) is spent",
                        );
                    }
                }
            }
            // Cells of unclear rows that may take another block.
            let mut more: Vec<Cell> = Vec::new();
            for ((_, report), (_, gate, clients)) in reports.iter().zip(&family) {
                let Ok(report) = report else { continue };
                for (row, planned) in report.rows.iter().zip(gate.plan(m, Some(*clients))) {
                    if row.verdict() != Verdict::Inconclusive {
                        continue;
                    }
                    for name in std::iter::once(&planned.subject).chain(&planned.reference) {
                        if let Some(cell) = cells.iter().find(|c| c.name == *name) {
                            more.push(cell.clone());
                        }
                    }
                }
            }
            more.sort_by_key(|c| cells.iter().position(|x| x.name == c.name));
            more.dedup_by(|a, b| a.name == b.name);
            let blocks_of = |c: &Cell| {
                lock(&self.records.state)
                    .get(&c.name)
                    .and_then(|s| {
                        s.as_ref()?
                            .as_ref()
                            .ok()
                            .map(|m| (m.record.repetitions.len(), m.record.duration_s))
                    })
                    .unwrap_or((usize::MAX, 0.0))
            };
            more.retain(|c| blocks_of(c).0 < spec.max_blocks as usize);
            let next: f64 = more
                .iter()
                .map(|c| {
                    let (k, took) = blocks_of(c);
                    took / k.max(1) as f64
                })
                .sum();
            let budget = spec.budget.get().as_secs_f64();
            let used = self.measured_for(matrix);
            if let Some(signal) = crate::sys::interrupt::received() {
                // No more blocks: what is still unclear was cut short, which is not a warning.
                for (_, report) in &mut reports {
                    if let Ok(r) = report
                        && r.rows
                            .iter()
                            .any(|row| row.verdict() == Verdict::Inconclusive)
                    {
                        *report = Err(format!(
                            "gate `{}`: interrupted by {} before it was decided",
                            r.gate.describe(),
                            signal.name()
                        ));
                    }
                }
            }
            if more.is_empty()
                || used + next > budget
                || crate::sys::interrupt::received().is_some()
            {
                return Judged {
                    gates: reports.into_iter().collect(),
                    baselines,
                };
            }
            let unclear = reports
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .flat_map(|r| &r.rows)
                .filter(|row| row.verdict() == Verdict::Inconclusive)
                .count();
            self.emit(&Event::BlockAdded {
                unclear,
                cells: more.len(),
                block: more.iter().map(|c| blocks_of(c).0 + 1).max().unwrap_or(0),
                used_s: used,
                budget_s: budget,
            });
            self.extend(matrix, &more);
        }
    }

    /// A gate at one client count, as the run's family decided it (see [`Runner::judged`]),
    /// persisted in the run's `gates.json` under its test name.
    pub fn gate(
        &self,
        matrix: &MatrixFile,
        gate: &GateSpec,
        clients: u32,
    ) -> Result<GateReport, String> {
        let trial = gate.trial_name(&matrix.matrix, clients);
        let judged = self.judged(matrix);
        let report = match judged.gates.get(&trial) {
            Some(report) => report.clone()?,
            // Not selected (a caller outside the test list): decided on its own.
            None => {
                let cells = gate.cells(&matrix.matrix, Some(clients));
                let mut records = Vec::new();
                for result in self.records(matrix, &cells) {
                    let measured =
                        result.map_err(|e| format!("gate `{}`: {e}", gate.describe()))?;
                    records.push(measured.record);
                }
                let spec = matrix.matrix.judge;
                let mut report = evaluate(
                    gate,
                    &matrix.matrix,
                    Some(clients),
                    &records,
                    &Past::default(),
                    spec.threshold.get(),
                );
                report.settle_alone(spec.false_alarms.get());
                report
            }
        };
        if let Some(dir) = self.session(matrix).ok().map(|s| lock(&s).dir().to_owned())
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
    /// One cell against its baseline in `store`: decided with the run's family when the runner
    /// compares with `store` ([`Runner::set_baselines`]), else on its own (Holm over its rows). A
    /// skipped cell's check is ignored with its reason, a failed cell's fails, a cell without a
    /// baseline on this testbed is ignored with the command that records one.
    pub fn baseline_decision(&self, matrix: &MatrixFile, cell: &Cell, store: &Store) -> Decision {
        let trial = cell.id.baseline_trial();
        let in_family = lock(&self.baselines).is_some();
        let decision = match in_family
            .then(|| self.judged(matrix).baselines.get(&trial).cloned())
            .flatten()
        {
            Some(decision) => decision,
            None => match self.check_baseline(matrix, cell, store, None) {
                Checked::Decided(d) => d,
                Checked::Rows(check) => {
                    let decisive = check.rows.iter().filter(|r| r.decisive());
                    let p: Vec<f64> = decisive.map(|r| r.p_worse).collect();
                    let mut rejected = holm(&p, matrix.matrix.judge.false_alarms.get()).into_iter();
                    let rejected: Vec<bool> = check
                        .rows
                        .iter()
                        .map(|r| r.decisive() && rejected.next().unwrap_or(false))
                        .collect();
                    decision::of_baseline(&check, &rejected)
                }
            },
        };
        let (verdict, text) = match &decision {
            Decision::Pass(t) => (Verdict::Pass, t),
            Decision::Fail(t) => (Verdict::Fail, t),
            Decision::Ignore(t) => (Verdict::Skipped, t),
        };
        self.emit(&Event::BaselineChecked {
            trial: &trial,
            verdict,
            summary: first_line(text),
        });
        decision
    }

    /// The cell of `matrix` that `cell`'s stored baseline takes its ratios to, if any.
    fn reference_cell(&self, matrix: &MatrixFile, cell: &Cell, store: &Store) -> Option<Cell> {
        let dir = self.cell(matrix, cell).ok()?.dir;
        let runtime = store.reference(&testbed_of(&dir), &cell.name)?;
        let id = crate::spec::CellId {
            runtime,
            ..cell.id.clone()
        };
        matrix.cells().into_iter().find(|c| c.id == id)
    }

    /// Measures again the cells of baseline trials `failed` (each failed at its first look,
    /// `decided`) and their references: up to [`CONFIRM_REPETITIONS`] fresh repetitions each,
    /// in blocks, within the matrix's measuring budget. Returns what each confirmed trial is
    /// judged on from now; empty when nothing could be measured (the budget is spent).
    fn confirm(
        &self,
        matrix: &MatrixFile,
        store: &Store,
        failed: &[String],
        decided: &BTreeMap<String, Decision>,
    ) -> Vec<(String, Confirming)> {
        let repetitions = |c: &Cell| {
            lock(&self.records.state)
                .get(&c.name)
                .and_then(|s| Some(s.as_ref()?.as_ref().ok()?.record.clone()))
                .map_or((0, 0.0), |r| (r.repetitions.len(), r.duration_s))
        };
        let mut cells: Vec<Cell> = Vec::new();
        let mut plan = Vec::new();
        let mut fresh = 0;
        for trial in failed {
            let Some(cell) = matrix
                .cells()
                .into_iter()
                .find(|c| c.id.baseline_trial() == *trial)
            else {
                continue;
            };
            let reference = self.reference_cell(matrix, &cell, store);
            let before = (
                repetitions(&cell).0,
                reference.as_ref().map_or(0, |r| repetitions(r).0),
            );
            fresh = fresh.max(before.0.clamp(1, CONFIRM_REPETITIONS));
            cells.extend(std::iter::once(cell).chain(reference));
            plan.push((trial.clone(), before));
        }
        cells.sort_by(|a, b| a.name.cmp(&b.name));
        cells.dedup_by(|a, b| a.name == b.name);
        let next: f64 = cells
            .iter()
            .map(|c| {
                let (k, took) = repetitions(c);
                took / k.max(1) as f64 * fresh as f64
            })
            .sum();
        let budget = matrix.matrix.judge.budget.get().as_secs_f64();
        if cells.is_empty() || self.measured_for(matrix) + next > budget {
            return Vec::new();
        }
        for trial in failed {
            println!(
                "{trial}: worse than its baseline at the first look; measuring it again \
                 ({fresh} fresh repetition(s), with its reference) before deciding"
            );
        }
        for _ in 0..fresh {
            self.extend(matrix, &cells);
        }
        plan.into_iter()
            .map(|(trial, before)| {
                let first = match decided.get(&trial) {
                    Some(Decision::Fail(text)) => text.clone(),
                    _ => String::new(),
                };
                (
                    trial,
                    Confirming {
                        before,
                        fresh,
                        first,
                    },
                )
            })
            .collect()
    }

    /// A cell against its baseline, before any correction; with `since`, on the repetitions
    /// the cell and its reference measured after their first `since` ones only.
    fn check_baseline(
        &self,
        matrix: &MatrixFile,
        cell: &Cell,
        store: &Store,
        since: Option<(usize, usize)>,
    ) -> Checked {
        let measured = match self.cell(matrix, cell) {
            Ok(m) => m,
            Err(e) => return Checked::Decided(Decision::Fail(e)),
        };
        let record = &measured.record;
        let reason = record.reason.as_deref().unwrap_or_default();
        match record.status {
            Status::Skipped => Checked::Decided(Decision::Ignore(short_reason(reason))),
            Status::Failed | Status::Interrupted => Checked::Decided(Decision::Fail(format!(
                "{} {}, so it cannot be compared with its baseline: {reason}\n(results: {})",
                cell.name,
                if record.status == Status::Failed {
                    "failed"
                } else {
                    "was interrupted"
                },
                measured.dir.display()
            ))),
            Status::Passed => {
                let testbed = testbed_of(&measured.dir);
                let reference = self
                    .reference_cell(matrix, cell, store)
                    .and_then(|reference| self.cell(matrix, &reference).ok());
                let threshold = matrix.matrix.judge.threshold.get();
                let (record, reference) = match since {
                    Some((mine, theirs)) => (
                        fresh_repetitions(record, mine),
                        reference.map(|m| fresh_repetitions(&m.record, theirs)),
                    ),
                    None => (record.clone(), reference.map(|m| m.record)),
                };
                match store.check(&testbed, &record, reference.as_ref(), threshold) {
                    Ok(crate::judge::baseline::Outcome::Checked(check)) => Checked::Rows(check),
                    Ok(crate::judge::baseline::Outcome::Missing { reason }) => {
                        Checked::Decided(Decision::Ignore(reason))
                    }
                    Err(why) => Checked::Decided(Decision::Fail(why)),
                }
            }
        }
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

/// Earlier runs of `matrix` on this testbed, from the history of the run in `dir` (none when the
/// history cannot be read: the data alone decide then).
fn past_runs(dir: &Path, matrix: &MatrixFile) -> Past {
    past_runs_in(&crate::history::default_location(dir), dir, matrix)
}

/// [`past_runs`] from the history at `location`.
fn past_runs_in(location: &crate::history::Location, dir: &Path, matrix: &MatrixFile) -> Past {
    const LAST: usize = 10;
    let env: Option<crate::run::Environment> =
        std::fs::read_to_string(dir.join("environment.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
    let Some(env) = env else {
        return Past::default();
    };
    let testbed = crate::history::testbed_name(&env);
    let cells: BTreeMap<String, String> = matrix
        .cells()
        .iter()
        .map(|c| (c.name.clone(), c.measure_hash()))
        .collect();
    let runs = crate::history::History::open(location)
        .and_then(|h| h.recent_repetitions(&testbed, &env.matrix, &cells, &env.run_id, LAST));
    match runs {
        Ok(runs) => Past { runs },
        Err(e) => {
            eprintln!("iogate: gates decided without the history's noise: {e}");
            Past::default()
        }
    }
}

/// The testbed of the run in `dir` (see [`crate::history::testbed_name`]).
/// `record` as measured by its repetitions after the first `from`: bandwidth and IOPS their
/// means (as a cell's are), no whole-cell latency percentiles (they come from every repetition's
/// histogram).
fn fresh_repetitions(record: &CellRecord, from: usize) -> CellRecord {
    let mut fresh = record.clone();
    fresh.repetitions.drain(..from.min(fresh.repetitions.len()));
    let n = fresh.repetitions.len() as f64;
    if n > 0.0 {
        fresh.bw_bytes = Some(fresh.repetitions.iter().map(|r| r.bw_bytes).sum::<f64>() / n);
        fresh.iops = Some(fresh.repetitions.iter().map(|r| r.iops).sum::<f64>() / n);
    }
    fresh.lat_ns = None;
    fresh
}

fn testbed_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("environment.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::run::Environment>(&t).ok())
        .map_or_else(
            || "unnamed".into(),
            |env| crate::history::testbed_name(&env),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The fresh repetitions alone: a first repetition that dipped (a transient) no longer
    /// counts; bandwidth and IOPS are their means; the whole-cell latencies are dropped.
    #[test]
    fn fresh_repetitions_leave_the_first_look_out() {
        let rep = |bw: f64| {
            serde_json::json!({ "bw_bytes": bw, "iops": bw / 65536.0, "raw": "r.json",
                "lat_ns": { "p50": 1000, "p90": 2000, "p99": 3000, "p99.9": 4000 } })
        };
        let record: CellRecord = serde_json::from_value(serde_json::json!({
            "name": "m/host/c1/read", "runtime": "host", "kind": "host", "clients": 1,
            "nodes": 1, "placement": [1], "pattern": "read", "status": "passed",
            "bw_bytes": 2.5e9, "iops": 2.5e9 / 65536.0,
            "lat_ns": { "p50": 1000, "p90": 2000, "p99": 3000, "p99.9": 4000 },
            "ios": 1000, "histogram": null,
            "repetitions": [rep(1e9), rep(3e9), rep(3.5e9)], "raw": [], "logs": [],
            "provenance": { "kernel": "6.1.0", "fio": "fio-3.33", "runtime": { "kind": "host" },
                            "matrix_hash": "h", "iogate": "0.1.0" },
            "started_at": "2026-01-01T00:00:00Z", "duration_s": 3.0
        }))
        .unwrap();
        let fresh = fresh_repetitions(&record, 1);
        assert_eq!(fresh.repetitions.len(), 2);
        assert_eq!(fresh.bw_bytes, Some(3.25e9));
        assert_eq!(fresh.iops, Some(3.25e9 / 65536.0));
        assert_eq!(fresh.lat_ns, None);
        assert_eq!(fresh_repetitions(&record, 0).bw_bytes, Some(2.5e9));
    }

    const MATRIX: &str = "
name: m
target: /var/tmp/iogate/m
clients: [1]
runtimes:
  - { name: host, host: {} }
  - { name: copy, host: {} }
workload: { patterns: [read], bs: 64k, threads: 4, size: 32MiB, runtime: 2s }
gates:
  - { metric: bw, runtime: copy, reference: host, at_least: 95% }
";

    fn environment(run_id: &str) -> crate::run::Environment {
        serde_json::from_value(serde_json::json!({
            "iogate": "0.1.0", "kernel": "6.1.0", "fio": "fio-3.33", "hostname": "lab1",
            "cpus": 2, "matrix": "m", "matrix_path": "m.yaml", "matrix_hash": "h",
            "run_id": run_id, "started_at": "2026-01-01T00:00:00Z", "runtimes": {}
        }))
        .expect("an environment")
    }

    fn record(name: &str, cell_hash: &str) -> crate::run::CellRecord {
        let rep = serde_json::json!({ "bw_bytes": 1e9, "iops": 15258.8,
            "lat_ns": { "p50": 1, "p90": 2, "p99": 3, "p99.9": 4 }, "raw": "r1.json" });
        serde_json::from_value(serde_json::json!({
            "name": name, "runtime": "host", "kind": "host", "clients": 1, "nodes": 1,
            "placement": [1], "pattern": "read", "status": "passed", "reason": null,
            "bw_bytes": 1e9, "iops": 15258.8, "lat_ns": null, "ios": 10,
            "repetitions": [rep.clone(), rep], "raw": [], "logs": [], "histogram": null,
            "provenance": { "kernel": "", "fio": "", "runtime": { "kind": "host" },
                            "matrix_hash": "h", "cell_hash": cell_hash, "iogate": "0.1.0" },
            "started_at": "2026-01-01T00:00:00Z", "duration_s": 1.0
        }))
        .expect("a cell record")
    }

    #[test]
    fn gate_noise_comes_from_runs_that_measured_the_cells_the_same_way() {
        let base = tempfile::tempdir().unwrap();
        let matrix = MatrixFile::parse(Path::new("m.yaml"), MATRIX).unwrap();
        let [host, copy] = [0, 1].map(|i| matrix.cells()[i].clone());
        let location = crate::history::Location::Sqlite(base.path().join("history.sqlite"));
        let store = crate::history::History::open(&location).unwrap();
        for (n, copy_hash) in [(1, copy.measure_hash()), (2, "another workload".into())] {
            let env = environment(&format!("2026010{n}T000000Z-{n}"));
            let mut run = crate::history::recorder::run_entry(
                &env,
                base.path(),
                crate::history::Testbed::of(&env),
            );
            run.started_at = format!("2026-01-0{n}T00:00:00Z");
            let cells = [
                record(&host.name, &host.measure_hash()),
                record(&copy.name, &copy_hash),
            ];
            store.record(&run, &cells).unwrap();
        }
        let dir = base.path().join("m").join("now");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("environment.json"),
            serde_json::to_string(&environment("now")).unwrap(),
        )
        .unwrap();
        let past = past_runs_in(&location, &dir, &matrix);
        let cells: Vec<Vec<&String>> = past.runs.iter().map(|r| r.keys().collect()).collect();
        assert_eq!(
            cells,
            vec![vec![&host.name], vec![&copy.name, &host.name]],
            "newest first; the copy of run 2 measured another workload"
        );
        assert!(
            past_runs_in(&location, &base.path().join("no run"), &matrix)
                .runs
                .is_empty()
        );
    }
}
