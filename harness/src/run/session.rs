//! A run of a matrix: the results directory, one fixture per runtime, cells run one at a time and
//! persisted as soon as each ends.
//!
//! Layout of `<results>/<matrix>/<run-id>/`:
//! `summary.json`, `environment.json`, `matrix.yaml`, and `cells/<slug>/` with `result.json`, the
//! job files, raw fio outputs (`r<k>.json`), logs, and `histogram.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fio::histogram::Histogram;
use crate::fixture::{CellDir, Fixture, RuntimeInfo};
use crate::run::environment::{Environment, results_base};
use crate::run::event::CellEvent;
use crate::run::record::{
    CellRecord, Latency, Measurement, Provenance, Repetition, Status, Summary,
};
use crate::settings::settings;
use crate::spec::{Cell, MatrixFile};
use crate::sys::interrupt;
use crate::sys::lock::MachineLock;

/// A runtime's fixture after preflight.
enum Slot {
    Ready(Box<dyn Fixture>, RuntimeInfo),
    Unavailable(String, bool),
}

/// An open run of one matrix.
pub struct Session {
    matrix: MatrixFile,
    dir: PathBuf,
    env: Environment,
    slots: BTreeMap<String, Slot>,
    /// Every cell this session measured, by name, ready to take more repetitions.
    runs: BTreeMap<String, CellRun>,
    /// Blocks run so far: odd ones run their cells in reverse order.
    blocks: u64,
}

impl Session {
    /// Opens a run under [`results_base`]. The run id is `$IOGATE_RUN_ID` (processes sharing one
    /// run, as nextest's do), else `<UTC timestamp>-<pid>`, with `-<n>` added for the n-th run
    /// this process opens, so sessions opened side by side (rstest cases) never share a directory.
    pub fn open(matrix: MatrixFile) -> Result<Session> {
        static OPENED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        interrupt::check()?;
        settings().check()?;
        let run_id = settings().run_id.clone().unwrap_or_else(|| {
            let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
            match OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0 => format!("{now}-{}", std::process::id()),
                n => format!("{now}-{}-{}", std::process::id(), n + 1),
            }
        });
        Self::open_in(&results_base(), &run_id, matrix)
    }

    /// Opens the run `run_id` under `base`, or joins it when it already exists with the same
    /// matrix (its start time and the runtimes other processes found are kept). A run directory
    /// holds one matrix: joining it with another fails rather than mixing their cells.
    pub fn open_in(base: &Path, run_id: &str, matrix: MatrixFile) -> Result<Session> {
        let name = matrix.matrix.name.to_string();
        let dir = base.join(&name).join(run_id);
        let cells = dir.join("cells");
        std::fs::create_dir_all(&cells).map_err(|e| Error::io(&cells, e))?;
        let _lock = MachineLock::at(&dir.join(".lock"))?;
        let joined = read_environment(&dir)?;
        if let Some(existing) = &joined
            && existing.matrix_hash != matrix.hash
        {
            return Err(Error::RunMismatch {
                dir,
                existing: existing.matrix_hash.clone(),
                matrix: matrix.hash.clone(),
            });
        }
        let copy = dir.join("matrix.yaml");
        write_atomically(&copy, matrix.text.as_bytes())?;
        let latest = base.join(&name).join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(run_id, &latest);
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let mut env = Environment {
            iogate: env!("CARGO_PKG_VERSION").into(),
            kernel: kernel(),
            fio: crate::fio::client::version().unwrap_or_else(|e| e.to_string()),
            testbed: Some(
                settings()
                    .testbed
                    .clone()
                    .unwrap_or_else(|| hostname.clone()),
            )
            .filter(|t| !t.is_empty()),
            hostname,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            matrix: name,
            matrix_path: matrix.path.display().to_string(),
            matrix_hash: matrix.hash.clone(),
            run_id: run_id.to_owned(),
            started_at: jiff::Timestamp::now().to_string(),
            runtimes: BTreeMap::new(),
        };
        match joined {
            Some(existing) => {
                env.started_at = existing.started_at;
                env.testbed = existing.testbed.or(env.testbed);
                env.runtimes = existing.runtimes;
            }
            None => lay_out_afresh(&matrix)?,
        }
        let session = Session {
            matrix,
            dir,
            env,
            slots: BTreeMap::new(),
            runs: BTreeMap::new(),
            blocks: 0,
        };
        session.write_json("environment.json", &session.env)?;
        session.write_summary_locked()?;
        Ok(session)
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The matrix this run measures.
    pub fn matrix(&self) -> &MatrixFile {
        &self.matrix
    }

    /// Runs one cell (all repetitions) and persists it before returning. Never panics on a
    /// failing cell: the failure is in the record, with its reason.
    pub fn run_cell(&mut self, cell: &Cell) -> Result<CellRecord> {
        let mut records = self.run_interleaved(std::slice::from_ref(cell))?;
        Ok(records.remove(0))
    }

    /// Runs several cells afresh, their repetitions in blocks: block 1 measures every cell once,
    /// then block 2, and so on, each block in the reverse order of the one before (ABBA), so slow
    /// drift of the machine falls on all of them alike (what a relative gate between runtimes
    /// wants). Each cell is persisted like [`Session::run_cell`] when its last repetition ends or
    /// it fails, and `summary.json` is rebuilt. A cell listed twice runs once; the records come
    /// back in the order of `cells`.
    pub fn run_interleaved(&mut self, cells: &[Cell]) -> Result<Vec<CellRecord>> {
        self.run_observed(cells, &mut |_| {})
    }

    /// [`Session::run_interleaved`], telling `observe` when each cell starts its first repetition
    /// and when it is finished (measured, failed or skipped) and on disk.
    pub fn run_observed(
        &mut self,
        cells: &[Cell],
        observe: &mut dyn FnMut(CellEvent<'_>),
    ) -> Result<Vec<CellRecord>> {
        self.run_blocks(cells, true, &|cell| cell.workload.repetitions, observe)
    }

    /// Adds `blocks` repetitions to each of `cells` in blocks (see [`Session::run_interleaved`]):
    /// cells this session measured keep their repetitions and get more, and are persisted again
    /// (result, summary, history) when their last new repetition ends; cells it has not measured
    /// start afresh with `blocks` repetitions. A failed or skipped cell stays as it is.
    pub fn extend_observed(
        &mut self,
        cells: &[Cell],
        blocks: u32,
        observe: &mut dyn FnMut(CellEvent<'_>),
    ) -> Result<Vec<CellRecord>> {
        self.run_blocks(cells, false, &|_| blocks, observe)
    }

    /// The cell's record in this session, if it has run here.
    pub fn record(&self, name: &str) -> Option<&CellRecord> {
        self.runs.get(name).map(|run| &run.record)
    }

    fn run_blocks(
        &mut self,
        cells: &[Cell],
        fresh: bool,
        more: &dyn Fn(&Cell) -> u32,
        observe: &mut dyn FnMut(CellEvent<'_>),
    ) -> Result<Vec<CellRecord>> {
        interrupt::check()?;
        let _lock = MachineLock::acquire("iogate-cells.lock")?;
        interrupt::check()?;
        let mut unique: Vec<&Cell> = Vec::new();
        for cell in cells {
            if !unique.iter().any(|u| u.name == cell.name) {
                unique.push(cell);
            }
        }
        // Repetitions each cell is to reach in this call.
        let mut goal: BTreeMap<String, usize> = BTreeMap::new();
        for cell in &unique {
            let kept = !fresh && self.runs.contains_key(&cell.name);
            if !kept {
                let run = self.begin(cell)?;
                if run.done {
                    observe(CellEvent::Started(cell));
                    observe(CellEvent::Finished(&run.record));
                }
                self.runs.insert(cell.name.clone(), run);
            }
            let run = self.runs.get_mut(&cell.name).expect("inserted above");
            let measurable =
                run.record.reason.is_none() && (run.record.status == Status::Passed || !run.done);
            if measurable {
                run.done = false;
                goal.insert(
                    cell.name.clone(),
                    run.record.repetitions.len() + more(cell) as usize,
                );
            }
        }
        loop {
            let mut order: Vec<&Cell> = unique
                .iter()
                .copied()
                .filter(|c| {
                    goal.get(&c.name).is_some_and(|g| {
                        !self.runs[&c.name].done && self.runs[&c.name].record.repetitions.len() < *g
                    })
                })
                .collect();
            if order.is_empty() {
                break;
            }
            if self.blocks % 2 == 1 {
                order.reverse();
            }
            self.blocks += 1;
            for cell in order {
                if let Some(signal) = interrupt::received() {
                    return self.interrupted(&unique, signal, observe);
                }
                let mut run = self.runs.remove(&cell.name).expect("begun above");
                let rep = run.record.repetitions.len() as u32 + 1;
                if run.record.repetitions.is_empty() {
                    observe(CellEvent::Started(cell));
                }
                self.step(cell, rep, &mut run);
                if run.record.status == Status::Interrupted {
                    self.runs.insert(cell.name.clone(), run);
                    let signal = interrupt::received().expect("a step is interrupted by a signal");
                    return self.interrupted(&unique, signal, observe);
                }
                if run.record.reason.is_some() || run.record.repetitions.len() >= goal[&cell.name] {
                    let result = self.finish(cell, &mut run);
                    observe(CellEvent::Finished(&run.record));
                    self.runs.insert(cell.name.clone(), run);
                    result?;
                } else {
                    self.runs.insert(cell.name.clone(), run);
                }
            }
        }
        Ok(cells
            .iter()
            .map(|c| self.runs[&c.name].record.clone())
            .collect())
    }

    /// Ends a call of [`Session::run_blocks`] stopped by `signal`: every cell of `cells` that took
    /// repetitions and is not finished is recorded as interrupted and persisted (result,
    /// summary, history); cells that took none are not recorded. Returns the interruption.
    fn interrupted(
        &mut self,
        cells: &[&Cell],
        signal: interrupt::Signal,
        observe: &mut dyn FnMut(CellEvent<'_>),
    ) -> Result<Vec<CellRecord>> {
        for cell in cells {
            let Some(mut run) = self.runs.remove(&cell.name) else {
                continue;
            };
            let stopped = run.record.status == Status::Interrupted;
            if run.done || (run.record.repetitions.is_empty() && !stopped) {
                self.runs.insert(cell.name.clone(), run);
                continue;
            }
            if !stopped {
                run.record.status = Status::Interrupted;
                run.record.reason = Some(format!(
                    "interrupted by {} after {} repetition(s), before the cell was complete",
                    signal.name(),
                    run.record.repetitions.len()
                ));
            }
            let result = self.finish(cell, &mut run);
            observe(CellEvent::Finished(&run.record));
            self.runs.insert(cell.name.clone(), run);
            result?;
        }
        Err(Error::Interrupted {
            signal: signal.name(),
        })
    }

    /// Prepares a cell: a fresh cell directory and an empty record; a cell whose runtime is
    /// unavailable is finished (skipped or failed) right away.
    fn begin(&mut self, cell: &Cell) -> Result<CellRun> {
        let started = Instant::now();
        let started_at = jiff::Timestamp::now().to_string();
        let cell_dir = CellDir {
            run_dir: self.dir.clone(),
            rel: PathBuf::from("cells").join(cell.slug()),
        };
        let abs = cell_dir.abs();
        if abs.exists() {
            std::fs::remove_dir_all(&abs).map_err(|e| Error::io(&abs, e))?;
        }
        std::fs::create_dir_all(&abs).map_err(|e| Error::io(&abs, e))?;

        let mut record = CellRecord {
            name: cell.name.clone(),
            runtime: cell.runtime.name.to_string(),
            kind: cell.runtime.kind.as_str().into(),
            clients: cell.clients,
            nodes: cell.nodes(),
            placement: cell.placement.clone(),
            pattern: cell.pattern,
            status: Status::Failed,
            reason: None,
            bw_bytes: None,
            iops: None,
            lat_ns: None,
            ios: None,
            repetitions: Vec::new(),
            raw: Vec::new(),
            logs: Vec::new(),
            histogram: None,
            provenance: Provenance {
                kernel: self.env.kernel.clone(),
                fio: self.env.fio.clone(),
                runtime: RuntimeInfo::default(),
                matrix_hash: self.matrix.hash.clone(),
                cell_hash: cell.measure_hash(),
                iogate: self.env.iogate.clone(),
            },
            started_at,
            duration_s: 0.0,
        };

        let unavailable = match self.slot(cell) {
            Slot::Unavailable(reason, skip) => {
                record.status = if *skip {
                    Status::Skipped
                } else {
                    Status::Failed
                };
                record.reason = Some(reason.clone());
                true
            }
            Slot::Ready(_, info) => {
                record.provenance.runtime = info.clone();
                false
            }
        };
        let mut run = CellRun {
            dir: cell_dir,
            record,
            merged: Histogram::default(),
            elapsed: started.elapsed(),
            done: false,
        };
        if unavailable {
            self.finish(cell, &mut run)?;
        }
        Ok(run)
    }

    /// Stops the servers every fixture keeps for its next cell (containers, VMs, namespaces).
    /// The session stays usable: the next cell starts fresh servers. Dropping the session does
    /// the same; call this when the session lives in a static.
    pub fn close(&mut self) {
        // Each runtime's servers stop beside the others' (containers and VMs take a while).
        std::thread::scope(|scope| {
            for slot in self.slots.values_mut() {
                if let Slot::Ready(fixture, _) = slot {
                    scope.spawn(move || fixture.release());
                }
            }
        });
    }

    /// Runs repetition `rep` of a prepared cell; a failure goes into the record with its reason.
    fn step(&mut self, cell: &Cell, rep: u32, run: &mut CellRun) {
        let started = Instant::now();
        // Servers other runtimes kept must not run beside this cell's measurement, unless they
        // sleep while idle.
        for (runtime, slot) in &mut self.slots {
            if let Slot::Ready(fixture, _) = slot
                && *runtime != cell.runtime.name.as_str()
                && !fixture.keeps_idle()
            {
                fixture.release();
            }
        }
        let result = match self.slot(cell) {
            Slot::Ready(fixture, _) => measure(
                fixture.as_mut(),
                cell,
                rep,
                &run.dir,
                &mut run.record,
                &mut run.merged,
            ),
            Slot::Unavailable(reason, _) => Err(Error::Missing {
                what: format!("runtime `{}`", cell.runtime.name),
                how: reason.clone(),
            }),
        };
        // A signal during the repetition makes it worthless whatever the fixture returned: fio
        // stopped early by a terminal's Ctrl-C still reports numbers, of a shortened run.
        match (result, interrupt::received()) {
            (result, Some(signal)) => {
                let seen = match result {
                    Err(e) if !matches!(e, Error::Interrupted { .. }) => format!(" ({e})"),
                    Err(_) => String::new(),
                    Ok(()) => {
                        run.record.repetitions.pop();
                        String::new()
                    }
                };
                run.record.status = Status::Interrupted;
                run.record.reason = Some(format!(
                    "interrupted by {} during repetition {rep}{seen}",
                    signal.name()
                ));
                run.record.logs.extend(existing_logs(&run.dir));
                run.record.logs.dedup();
            }
            (Err(e), None) => {
                run.record.status = Status::Failed;
                run.record.reason = Some(e.to_string());
            }
            (Ok(()), None) => self.note_guest(cell, &run.record),
        }
        run.elapsed += started.elapsed();
    }

    /// Adds the first guest a runtime's servers reported to its entry in `environment.json`, so
    /// the report's runtime table shows what every cell of it ran in.
    fn note_guest(&mut self, cell: &Cell, record: &CellRecord) {
        let Some(guest) = &record.provenance.runtime.guest else {
            return;
        };
        let entry = self.env.runtimes.get_mut(cell.runtime.name.as_str());
        if let Some(serde_json::Value::Object(entry)) = entry
            && !entry.contains_key("guest")
        {
            entry.insert(
                "guest".into(),
                serde_json::to_value(guest).unwrap_or_default(),
            );
            let _ = self.record_runtimes();
        }
    }

    /// Completes a cell after its last repetition (or its failure) and persists it.
    fn finish(&mut self, cell: &Cell, run: &mut CellRun) -> Result<()> {
        let started = Instant::now();
        if run.record.status == Status::Interrupted {
            // Numbers summarized by an earlier call (a cell being extended) no longer stand.
            run.record.bw_bytes = None;
            run.record.iops = None;
            run.record.lat_ns = None;
            run.record.ios = None;
            run.record.histogram = None;
        } else if run.record.reason.is_none() {
            match summarize(&run.dir, &mut run.record, &run.merged) {
                Ok(()) => run.record.status = Status::Passed,
                Err(e) => {
                    run.record.status = Status::Failed;
                    run.record.reason = Some(e.to_string());
                }
            }
        }
        run.elapsed += started.elapsed();
        run.record.duration_s = run.elapsed.as_secs_f64();
        run.done = true;
        self.write_json(&format!("cells/{}/result.json", cell.slug()), &run.record)?;
        self.write_summary()?;
        crate::history::record_finished_cell(&self.dir, &self.env, &run.record);
        Ok(())
    }

    /// The fixture for the cell's runtime, created, swept and preflighted on first use.
    fn slot(&mut self, cell: &Cell) -> &mut Slot {
        let name = cell.runtime.name.to_string();
        if !self.slots.contains_key(&name) {
            let mut fixture = crate::fixture::for_runtime(&cell.runtime);
            let slot = match fixture.sweep().and_then(|()| fixture.preflight()) {
                Ok(info) => {
                    let info = info.with_overrides(&cell.runtime);
                    self.env.runtimes.insert(
                        name.clone(),
                        serde_json::to_value(&info).unwrap_or_default(),
                    );
                    Slot::Ready(fixture, info)
                }
                Err(e) => {
                    let skip =
                        cell.runtime.optional || (cell.lab && matches!(e, Error::Missing { .. }));
                    let reason = format!("runtime `{name}` unavailable: {e}");
                    self.env
                        .runtimes
                        .insert(name.clone(), serde_json::json!({ "unavailable": reason }));
                    Slot::Unavailable(reason, skip)
                }
            };
            let _ = self.record_runtimes();
            self.slots.insert(name.clone(), slot);
        }
        self.slots.get_mut(&name).expect("inserted above")
    }

    /// Writes what this session found about its runtimes to `environment.json`, keeping what
    /// other sessions of the run recorded there.
    fn record_runtimes(&mut self) -> Result<()> {
        let _lock = MachineLock::at(&self.dir.join(".lock"))?;
        if let Some(on_disk) = read_environment(&self.dir)? {
            for (runtime, info) in on_disk.runtimes {
                self.env.runtimes.entry(runtime).or_insert(info);
            }
        }
        self.write_json("environment.json", &self.env)
    }

    /// [`Session::write_summary_locked`] under the run's lock.
    fn write_summary(&self) -> Result<()> {
        let _lock = MachineLock::at(&self.dir.join(".lock"))?;
        self.write_summary_locked()
    }

    /// Rebuilds `summary.json` from every `cells/*/result.json` on disk, so cells recorded by
    /// other sessions of the same run (nextest processes) are included. The caller holds the
    /// run's lock.
    fn write_summary_locked(&self) -> Result<()> {
        let mut cells: Vec<CellRecord> = Vec::new();
        let cells_dir = self.dir.join("cells");
        let entries = std::fs::read_dir(&cells_dir).map_err(|e| Error::io(&cells_dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path().join("result.json");
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(record) = serde_json::from_str::<CellRecord>(&text)
            {
                cells.push(record);
            }
        }
        cells.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let summary = Summary {
            matrix: self.env.matrix.clone(),
            run_id: self.env.run_id.clone(),
            matrix_hash: self.matrix.hash.clone(),
            cells,
        };
        self.write_json("summary.json", &summary)
    }

    fn write_json(&self, rel: &str, value: &impl Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value).expect("results serialize") + "\n";
        write_atomically(&self.dir.join(rel), text.as_bytes())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

/// Writes a file atomically (a uniquely named temp file in the same directory, then rename): a
/// crash never leaves half a file and concurrent writers never share a temp file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".iogate-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// `environment.json` of the run in `dir`, if a session already wrote it.
fn read_environment(dir: &Path) -> Result<Option<Environment>> {
    let path = dir.join("environment.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// A cell between its first and its last repetition.
struct CellRun {
    dir: CellDir,
    record: CellRecord,
    merged: Histogram,
    /// Time spent on this cell only (not on cells interleaved with it).
    elapsed: std::time::Duration,
    done: bool,
}

/// Runs repetition `rep` of a cell and adds its numbers to the record and merged histogram.
fn measure(
    fixture: &mut dyn Fixture,
    cell: &Cell,
    rep: u32,
    dir: &CellDir,
    record: &mut CellRecord,
    merged: &mut Histogram,
) -> Result<()> {
    // Earlier cells leave up to gigabytes of dirty pages; their writeback, 30 s later, would stall
    // this cell's I/O (cached reads saw per-thread p99s of 0.15-1.3 s). Flush them first, outside
    // the measurement.
    rustix::fs::sync();
    let raw = match fixture.run(cell, rep, dir) {
        Ok(raw) => raw,
        Err(e) => {
            record.logs.extend(existing_logs(dir));
            return Err(e);
        }
    };
    if let Some(guest) = raw.guest {
        let runtime = &mut record.provenance.runtime;
        match &runtime.guest {
            None => runtime.guest = Some(Box::new(guest)),
            Some(first) if **first == guest => {}
            Some(first) => runtime.notes.push(format!(
                "repetition {rep}'s guest differs from the first's ({}): {guest:?}",
                first.seen_by
            )),
        }
    }
    record.raw.push(raw.json.display().to_string());
    record
        .logs
        .extend(raw.logs.iter().map(|l| l.display().to_string()));
    let output = crate::fio::output::parse_file(&dir.run_dir.join(&raw.json))?;
    let m = Measurement::from_output(cell, &output)?;
    record.repetitions.push(Repetition {
        bw_bytes: m.bw_bytes,
        iops: m.iops,
        lat_ns: Latency::of(&m.histogram).expect("non-empty: checked by from_output"),
        raw: raw.json.display().to_string(),
        ends_apart_s: raw.ends_apart_s.filter(|_| cell.clients > 1),
    });
    merged.merge(&m.histogram);
    Ok(())
}

/// Fills the record's numbers from its repetitions and writes the merged histogram.
fn summarize(dir: &CellDir, record: &mut CellRecord, merged: &Histogram) -> Result<()> {
    let reps = record.repetitions.len() as f64;
    record.bw_bytes = Some(record.repetitions.iter().map(|r| r.bw_bytes).sum::<f64>() / reps);
    record.iops = Some(record.repetitions.iter().map(|r| r.iops).sum::<f64>() / reps);
    record.lat_ns = Latency::of(merged);
    record.ios = Some(merged.total());
    let hist_rel = dir.rel_path("histogram.json");
    let hist_abs = dir.run_dir.join(&hist_rel);
    let text = serde_json::to_string(merged).expect("histogram serializes");
    std::fs::write(&hist_abs, text).map_err(|e| Error::io(&hist_abs, e))?;
    record.histogram = Some(hist_rel.display().to_string());
    Ok(())
}

/// Log files a failed repetition left in the cell directory.
fn existing_logs(dir: &CellDir) -> Vec<String> {
    let mut logs: Vec<String> = std::fs::read_dir(dir.abs())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let keep = name.ends_with(".log") || name.ends_with(".json");
            keep.then(|| dir.rel_path(&name).display().to_string())
        })
        .collect();
    logs.sort();
    logs
}

/// Removes the files earlier runs laid out for this matrix's cells, so every run reads files it
/// wrote itself: files laid out long before read from the page cache up to 40 % slower than
/// fresh ones on the same machine (measured: 8.3–8.9 vs 14.3–14.8 GiB/s host reads), which no
/// gate or baseline should mistake for a regression.
fn lay_out_afresh(matrix: &MatrixFile) -> Result<()> {
    // Not while a cell of another session reads them.
    let _cells = MachineLock::acquire("iogate-cells.lock")?;
    let mut groups: Vec<PathBuf> = matrix
        .cells()
        .iter()
        .filter_map(|c| c.client_dir(0).parent().map(Path::to_owned))
        .collect();
    groups.sort();
    groups.dedup();
    for dir in groups {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&dir, e)),
            _ => {}
        }
    }
    Ok(())
}

/// `uname -r`.
fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}
