//! Baselines from the results history, one per (testbed, cell), and a cell checked against its
//! baseline with a one-sided prediction test.
//!
//! A baseline holds, for bandwidth, p50 and p99, the mean and the between-run σ of ln(value) over
//! the last N runs of the cell on one named testbed, and n. A runtime with a reference (the
//! `reference` of the matrix's first gate on that runtime) also gets the same statistics of
//! ln(value / reference value of the same run): machine-wide drift cancels in the ratio. It is an
//! insta snapshot, `<dir>/<testbed>/<matrix>__<runtime>__c<N>__<pattern>.snap` with a YAML body,
//! written by `iogate baseline record` (pending `.snap.new` files reviewed with
//! `cargo insta review`, or accepted at once) and never edited by hand.
//!
//! [`Store::check`] tests each metric for "worse than the baseline by more than the threshold"
//! ([`crate::stats::prediction`]) and returns the p-values; the caller corrects them over the
//! run and decides. A testbed without a baseline is [`Outcome::Missing`], with the command that
//! records one. See `docs/gates.md`, "Baselines".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::history::{History, Observation, RunEntry, observed, ratio};
use crate::judge::verdict::metric_of;
use crate::run::{CellRecord, Status};
use crate::spec::{CellId, Matrix, MatrixFile, Metric};
use crate::stats::prediction::{Session, p_lower_by, session_prediction_gap};
use crate::stats::{Estimate, paired_log_ratio};
use crate::units::sig3;

/// The metrics a baseline holds.
pub const METRICS: [Metric; 3] = [Metric::Bw, Metric::P50, Metric::P99];

/// Runs a baseline is made of unless told otherwise.
pub const DEFAULT_LAST: usize = 10;

/// Fewest runs a baseline is made of (n − 1 = 2 degrees of freedom).
pub const MIN_RUNS: usize = 3;

/// One-sided level at which a row counts as improved (informational: improvements never fail).
const IMPROVED_P: f64 = 0.05;

/// Statistics of one log quantity across runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean of the logs (natural log of bytes/s, ns, or of a ratio) over every run.
    pub mean: f64,
    /// Sample standard deviation of the logs over every run.
    pub sigma: f64,
    /// Runs.
    pub n: usize,
    /// The same per session, oldest first: what the check predicts from ([`Stat::sessions`]).
    /// Empty in baselines written before sessions were recorded: one session then.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "one_line_each"
    )]
    pub sessions: Vec<SessionStat>,
    /// `exp(mean)` for people; not read back.
    #[serde(default, skip_deserializing)]
    pub typical: String,
}

/// One session's statistics of a log quantity: runs that started less than [`SESSION_GAP`] after
/// the one before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStat {
    /// When its first run started.
    pub first: String,
    /// When its last run started.
    pub last: String,
    /// Mean of the logs.
    pub mean: f64,
    /// Sample standard deviation of the logs.
    pub sigma: f64,
    /// Runs.
    pub n: usize,
}

/// Each session on one line (`{first: …, last: …, mean: …, sigma: …, n: …}`): a baseline of ten
/// nightly runs has ten sessions per metric, reviewed with `cargo insta review`.
fn one_line_each<S: serde::Serializer>(
    sessions: &[SessionStat],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq as _;
    let mut seq = serializer.serialize_seq(Some(sessions.len()))?;
    for session in sessions {
        seq.serialize_element(&serde_saphyr::FlowMap(session))?;
    }
    seq.end()
}

/// Runs further apart than this are in different sessions: the machine's state (its speed, its
/// neighbours, the host it was placed on) drifts between sessions more than within one.
pub const SESSION_GAP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Sessions a baseline row needs before it can fail a run: with one, its σ is the scatter
/// within a session and says nothing of the drift between sessions (docs/gates.md, "Baselines
/// across sessions"); such a row is reported, never decisive.
pub const MIN_SESSIONS: usize = 2;

/// Sessions a baseline keeps, newest first.
pub const MAX_SESSIONS: usize = 10;

// Six decimals of a log are 0.0001 %; below that, differences are rounding noise.
fn six(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn mean_sigma(logs: &[f64]) -> (f64, f64) {
    let s = Session::of(logs).unwrap_or(Session {
        mean: f64::NAN,
        sigma: f64::NAN,
        n: 0,
    });
    (six(s.mean), crate::units::round_sig(six(s.sigma), 4))
}

impl Stat {
    /// From the logs of each session's runs, oldest session first, after the `kept` sessions of
    /// an earlier baseline.
    fn of(metric: Option<Metric>, kept: Vec<SessionStat>, new: &[(RunSpan, Vec<f64>)]) -> Stat {
        let mut sessions = kept;
        for (span, logs) in new {
            let (mean, sigma) = mean_sigma(logs);
            sessions.push(SessionStat {
                first: span.first.clone(),
                last: span.last.clone(),
                mean,
                sigma,
                n: logs.len(),
            });
        }
        if sessions.len() > MAX_SESSIONS {
            sessions.drain(..sessions.len() - MAX_SESSIONS);
        }
        // Over every run: the pooled mean and spread of all sessions' runs.
        let n: usize = sessions.iter().map(|s| s.n).sum();
        let mean = sessions.iter().map(|s| s.mean * s.n as f64).sum::<f64>() / n as f64;
        let ss: f64 = sessions
            .iter()
            .map(|s| (s.n - 1) as f64 * s.sigma.powi(2) + s.n as f64 * (s.mean - mean).powi(2))
            .sum();
        let sigma = if n > 1 {
            (ss / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let mean = six(mean);
        Stat {
            mean,
            sigma: crate::units::round_sig(six(sigma), 4),
            n,
            sessions,
            typical: match metric {
                Some(m) => m.format(mean.exp()),
                None => format!("{}×", sig3(mean.exp())),
            },
        }
    }

    /// The sessions the check predicts from: the recorded ones, or the whole as one session in
    /// a baseline written before sessions were recorded.
    pub fn sessions(&self) -> Vec<Session> {
        if self.sessions.is_empty() {
            return vec![Session {
                mean: self.mean,
                sigma: self.sigma,
                n: self.n,
            }];
        }
        self.sessions
            .iter()
            .map(|s| Session {
                mean: s.mean,
                sigma: s.sigma,
                n: s.n,
            })
            .collect()
    }

    /// This statistic's sessions as an earlier baseline's, to keep: those whose last run started
    /// before `before` (the first run the new baseline takes from the history).
    fn kept_before(&self, source: &Source, before: &str) -> Vec<SessionStat> {
        let sessions = if self.sessions.is_empty() {
            vec![SessionStat {
                first: to_second(&source.first.started_at),
                last: to_second(&source.last.started_at),
                mean: self.mean,
                sigma: self.sigma,
                n: self.n,
            }]
        } else {
            self.sessions.clone()
        };
        sessions
            .into_iter()
            .filter(|s| instant(&s.last) < instant(before))
            .collect()
    }
}

/// When a run started, as a comparable instant (`None` sorts first: unparsable times are old).
fn instant(started_at: &str) -> Option<jiff::Timestamp> {
    started_at.parse().ok()
}

/// A start time to the second, as a baseline records it.
fn to_second(started_at: &str) -> String {
    instant(started_at)
        .and_then(|t| t.round(jiff::Unit::Second).ok())
        .map_or_else(|| started_at.to_owned(), |t| t.to_string())
}

/// The first and last start of a session's runs.
#[derive(Debug, Clone)]
struct RunSpan {
    first: String,
    last: String,
}

/// `runs` (oldest first) cut into sessions wherever a run started more than [`SESSION_GAP`]
/// after the one before: the index ranges of each.
fn sessions_of(runs: &[&RunEntry]) -> Vec<std::ops::Range<usize>> {
    let mut cuts = vec![0];
    for (i, pair) in runs.windows(2).enumerate() {
        let apart = match (instant(&pair[0].started_at), instant(&pair[1].started_at)) {
            (Some(a), Some(b)) => b.duration_since(a).unsigned_abs() > SESSION_GAP,
            _ => true,
        };
        if apart {
            cuts.push(i + 1);
        }
    }
    cuts.push(runs.len());
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Statistics of a runtime's ratio to its reference runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioStats {
    /// The reference runtime.
    pub runtime: String,
    /// ln(value / reference value), per metric.
    pub metrics: BTreeMap<Metric, Stat>,
}

/// A run behind a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// Run id.
    pub run_id: String,
    /// When it started.
    pub started_at: String,
}

/// Where a baseline's numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The oldest run used.
    pub first: RunRef,
    /// The newest run used.
    pub last: RunRef,
    /// The commits those runs measured (12 characters, oldest first, each once).
    pub commits: Vec<String>,
    /// CPUs the testbed had (each value seen, oldest first).
    pub cpus: Vec<usize>,
    /// Kernels.
    pub kernel: Vec<String>,
    /// fio versions.
    pub fio: Vec<String>,
}

/// One cell's baseline on one testbed, as stored in its snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The cell (`smoke/host/c8/read`).
    pub cell: String,
    /// The testbed.
    pub testbed: String,
    /// Where the numbers come from.
    pub source: Source,
    /// ln(value) per metric.
    pub metrics: BTreeMap<Metric, Stat>,
    /// ln(value / reference value) per metric, for a runtime with a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to: Option<RatioStats>,
}

/// Baselines made from a history, and the cells left without one.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// One per cell with enough runs.
    pub baselines: Vec<Baseline>,
    /// Cells (or a cell's ratio) without a baseline, and why.
    pub skipped: Vec<(String, String)>,
}

/// The reference runtime of `runtime`: the `reference` of the matrix's first gate on it.
pub fn reference_of(matrix: &Matrix, runtime: &str) -> Option<String> {
    matrix
        .gates
        .iter()
        .find(|g| g.runtime.as_ref().is_some_and(|r| r.to_string() == runtime))?
        .reference
        .as_ref()
        .map(|r| r.to_string())
}

/// The baselines of every cell of `file` on `testbed` from `history`: the last `last` runs of
/// the matrix (by name) on the testbed in which the cell passed, at least [`MIN_RUNS`], cut into
/// sessions ([`SESSION_GAP`]), of the newest such run's kernel and fio only. The sessions of the
/// baselines stored in `earlier` that ended before those runs are kept, up to [`MAX_SESSIONS`] in
/// all, when those baselines were recorded with that kernel and fio: a testbed's baselines
/// remember the drift between sessions even when each machine's history is thrown away (a fresh
/// CI machine), never a kernel's or fio's they no longer run on.
pub fn build(
    history: &History,
    testbed: &str,
    file: &MatrixFile,
    last: usize,
    earlier: Option<&Store>,
) -> Result<Built, String> {
    let matrix = &file.matrix;
    let name = matrix.name.to_string();
    let runs = history.runs_of(testbed, &name).map_err(|e| e.to_string())?;
    if runs.is_empty() {
        return Err(format!(
            "the history {} has no run of matrix `{name}` on testbed `{testbed}`",
            history.location().display()
        ));
    }
    let mut cells: BTreeMap<(String, String), Observation> = BTreeMap::new();
    for o in history.observations().map_err(|e| e.to_string())? {
        if o.testbed == testbed && o.matrix == name && o.status == "passed" {
            cells.insert((o.run_id.clone(), o.cell.clone()), o);
        }
    }
    let mut built = Built {
        baselines: Vec::new(),
        skipped: Vec::new(),
    };
    for cell in file.cells() {
        let has = |run: &RunEntry| cells.contains_key(&(run.run_id.clone(), cell.name.clone()));
        // Only runs on the newest run's kernel and fio: another kernel is another machine.
        let newest = runs.iter().rev().find(|r| has(r));
        let alike = |run: &RunEntry| {
            newest.is_some_and(|n| {
                n.fingerprint.kernel == run.fingerprint.kernel
                    && n.fingerprint.fio == run.fingerprint.fio
            })
        };
        let mut used: Vec<&RunEntry> = runs
            .iter()
            .rev()
            .filter(|r| has(r) && alike(r))
            .take(last)
            .collect();
        used.reverse();
        if used.len() < MIN_RUNS {
            built.skipped.push((
                cell.name.clone(),
                format!(
                    "passed in {} run(s) on testbed `{testbed}`; a baseline needs {MIN_RUNS}",
                    used.len()
                ),
            ));
            continue;
        }
        let of = |run: &RunEntry, cell: &str| cells.get(&(run.run_id.clone(), cell.to_owned()));
        let stored = match earlier {
            Some(store) => store.load(testbed, &cell.name)?,
            None => None,
        }
        .filter(|b| recorded_on(&b.source, used[0]));
        let before = &used[0].started_at;
        let mut metrics = BTreeMap::new();
        for metric in METRICS {
            let log = |r: &RunEntry| of(r, &cell.name).and_then(|o| log_of(metric, o));
            let Some(logs) = session_logs(&used, log) else {
                continue;
            };
            let kept = stored
                .as_ref()
                .and_then(|b| Some(b.metrics.get(&metric)?.kept_before(&b.source, before)))
                .unwrap_or_default();
            metrics.insert(metric, Stat::of(Some(metric), kept, &logs));
        }
        let ratio_to = reference_of(matrix, &cell.runtime.name.to_string()).and_then(|runtime| {
            let reference = CellId {
                runtime: runtime.clone(),
                ..cell.id.clone()
            }
            .name();
            let paired: Vec<&RunEntry> = used
                .iter()
                .copied()
                .filter(|r| of(r, &cell.name).is_some() && of(r, &reference).is_some())
                .collect();
            if paired.len() < MIN_RUNS {
                built.skipped.push((
                    format!("{} ratio to {runtime}", cell.name),
                    format!(
                        "{reference} passed in {} of those runs; a ratio baseline needs {MIN_RUNS}",
                        paired.len()
                    ),
                ));
                return None;
            }
            let mut metrics = BTreeMap::new();
            for metric in METRICS {
                let log = |r: &RunEntry| {
                    ratio(metric, of(r, &cell.name)?, of(r, &reference)?).map(f64::ln)
                };
                let Some(logs) = session_logs(&paired, log) else {
                    continue;
                };
                let kept = stored
                    .as_ref()
                    .and_then(|b| {
                        let earlier = b.ratio_to.as_ref().filter(|r| r.runtime == runtime)?;
                        Some(earlier.metrics.get(&metric)?.kept_before(&b.source, before))
                    })
                    .unwrap_or_default();
                metrics.insert(metric, Stat::of(None, kept, &logs));
            }
            Some(RatioStats { runtime, metrics })
        });
        built.baselines.push(Baseline {
            cell: cell.name.clone(),
            testbed: testbed.to_owned(),
            source: match &stored {
                Some(b) if kept_any(&metrics, ratio_to.as_ref(), before) => {
                    b.source.followed_by(source(&used))
                }
                _ => source(&used),
            },
            metrics,
            ratio_to,
        });
    }
    Ok(built)
}

/// Per session of `runs` ([`sessions_of`]), its span and the logs of one quantity; `None` when a
/// run lacks it.
fn session_logs(
    runs: &[&RunEntry],
    log: impl Fn(&RunEntry) -> Option<f64>,
) -> Option<Vec<(RunSpan, Vec<f64>)>> {
    sessions_of(runs)
        .into_iter()
        .map(|range| {
            let runs = &runs[range];
            let logs: Option<Vec<f64>> = runs.iter().map(|r| log(r)).collect();
            let span = RunSpan {
                first: to_second(&runs[0].started_at),
                last: to_second(&runs[runs.len() - 1].started_at),
            };
            Some((span, logs?))
        })
        .collect()
}

/// Whether any statistic kept a session from before `before` (an earlier baseline's).
fn kept_any(metrics: &BTreeMap<Metric, Stat>, ratio: Option<&RatioStats>, before: &str) -> bool {
    metrics
        .values()
        .chain(ratio.into_iter().flat_map(|r| r.metrics.values()))
        .any(|s| {
            s.sessions
                .iter()
                .any(|x| instant(&x.last) < instant(before))
        })
}

fn log_of(metric: Metric, o: &Observation) -> Option<f64> {
    observed(metric, o).filter(|v| *v > 0.0).map(f64::ln)
}

fn distinct<T: PartialEq>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

impl Source {
    /// An earlier baseline's source followed by the runs taken from the history: from its first
    /// run to their last, with every commit, CPU count, kernel and fio version of both.
    fn followed_by(&self, later: Source) -> Source {
        fn both<T: PartialEq + Clone>(a: &[T], b: Vec<T>) -> Vec<T> {
            distinct(a.iter().cloned().chain(b))
        }
        Source {
            first: self.first.clone(),
            last: later.last,
            commits: both(&self.commits, later.commits),
            cpus: both(&self.cpus, later.cpus),
            kernel: both(&self.kernel, later.kernel),
            fio: both(&self.fio, later.fio),
        }
    }
}

/// Whether a stored baseline was recorded with `run`'s kernel and fio (or did not record them):
/// only then are its sessions kept, as sessions of the same machine.
fn recorded_on(source: &Source, run: &RunEntry) -> bool {
    let print = &run.fingerprint;
    fingerprint_change(source, print.kernel.as_deref(), print.fio.as_deref()).is_none()
}

fn source(runs: &[&RunEntry]) -> Source {
    let at = |r: &RunEntry| RunRef {
        run_id: r.run_id.clone(),
        started_at: r.started_at.clone(),
    };
    Source {
        first: at(runs[0]),
        last: at(runs[runs.len() - 1]),
        commits: distinct(
            runs.iter()
                .filter_map(|r| r.git_commit.as_deref())
                .map(|c| c.chars().take(12).collect()),
        ),
        cpus: distinct(runs.iter().filter_map(|r| r.fingerprint.cpus)),
        kernel: distinct(runs.iter().filter_map(|r| r.fingerprint.kernel.clone())),
        fio: distinct(runs.iter().filter_map(|r| r.fingerprint.fio.clone())),
    }
}

/// What a checked row compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The cell's own value.
    Absolute,
    /// The cell's value over its reference runtime's in the same run.
    RatioTo(String),
}

/// One metric of a cell against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRow {
    /// The metric.
    pub metric: Metric,
    /// The value or the ratio.
    pub kind: Kind,
    /// This run's value (bytes/s, ns) or ratio.
    pub measured: f64,
    /// The baseline's `exp(mean)`.
    pub expected: f64,
    /// Runs behind the baseline.
    pub n: usize,
    /// Sessions behind the baseline: fewer than [`MIN_SESSIONS`] and the row is advisory.
    pub sessions: usize,
    /// Standard deviation of the log predicted for this run, within and between sessions.
    pub sigma: f64,
    /// One-sided p-value of "not worse than the baseline by more than the threshold".
    pub p_worse: f64,
    /// Better than the baseline by more than the threshold, at one-sided 5 %.
    pub improved: bool,
    /// Whether this run's kernel and fio are among those the baseline was recorded with. A run
    /// on another kernel or fio is of another testbed under the same name: the baseline does not
    /// predict it, and the row is advisory ([`BaselineCheck::changed`] says what changed).
    pub comparable: bool,
}

impl BaselineRow {
    /// Whether the row can fail the run: a throughput row whose baseline spans [`MIN_SESSIONS`]
    /// sessions. Latency rows (p50, p99) are advisory: on this machine a run of unchanged code
    /// put runC c8 randwrite's p99 at 54× its usual value, a tail a normal prediction does not
    /// expect, and no distribution-free bound from tens of runs reaches the run's family level
    /// (docs/gates.md, "Baselines across sessions"). They are reported, and the nightly history
    /// check follows them.
    pub fn decisive(&self) -> bool {
        self.comparable
            && self.sessions >= MIN_SESSIONS
            && matches!(self.metric, Metric::Bw | Metric::Iops)
    }

    /// `metric` or `metric ÷ reference`.
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Absolute => self.metric.to_string(),
            Kind::RatioTo(to) => format!("{} ÷ {to}", self.metric),
        }
    }
}

/// A cell checked against its baseline: a row per metric (and per ratio metric).
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineCheck {
    /// The cell.
    pub cell: String,
    /// The testbed of the baseline.
    pub testbed: String,
    /// The rows; the caller decides from their p-values.
    pub rows: Vec<BaselineRow>,
    /// What was not checked, and why.
    pub notes: Vec<String>,
    /// This run's kernel or fio when the baseline was recorded with others (`kernel
    /// 6.18.44-fc-v1300 (baseline: 6.18.44-fc-v1272)`): every row is then advisory.
    pub changed: Option<String>,
}

impl BaselineCheck {
    /// Metric, kind, measured, expected, change, n, σ, p (markdown).
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| metric | of | measured | baseline | change | runs | sessions | σ | p(worse) |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &self.rows {
            let (of, format): (String, Box<dyn Fn(f64) -> String>) = match &r.kind {
                Kind::Absolute => ("value".into(), Box::new(move |v| r.metric.format(v))),
                Kind::RatioTo(to) => (format!("÷ {to}"), Box::new(|v| format!("{}×", sig3(v)))),
            };
            let mark = if r.improved { " (better)" } else { "" };
            let advisory = if r.decisive() { "" } else { " (advisory)" };
            let _ = writeln!(
                out,
                "| {} | {of} | {} | {} | {:+.1} %{mark} | {} | {}{advisory} | {} | {:.2e} |",
                r.metric,
                format(r.measured),
                format(r.expected),
                (r.measured / r.expected - 1.0) * 100.0,
                r.n,
                r.sessions,
                sig3(r.sigma),
                r.p_worse
            );
        }
        if self.rows.iter().any(|r| r.sessions < MIN_SESSIONS) {
            let _ = writeln!(
                out,
                "\nRows of a baseline of one session are advisory: its σ is the scatter within \
                 that session, not the drift between sessions, so they are reported and never \
                 fail the run. Record the baseline again once the testbed's history spans \
                 {MIN_SESSIONS} sessions (runs more than {} min apart).",
                SESSION_GAP.as_secs() / 60
            );
        }
        if self
            .rows
            .iter()
            .any(|r| !matches!(r.metric, Metric::Bw | Metric::Iops))
        {
            let _ = writeln!(
                out,
                "\nLatency rows are advisory: their tails between runs are heavier than a normal \
                 prediction expects (docs/gates.md), so they are reported and never fail the run."
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }
}

/// What checking a cell found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The cell's rows against its baseline.
    Checked(BaselineCheck),
    /// No baseline for this testbed and cell: the check is skipped, never passed or failed.
    Missing {
        /// Which testbed and cell, and the command that records baselines.
        reason: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Checked(c) => write!(
                f,
                "{} against its baseline on testbed `{}`\n\n{}",
                c.cell,
                c.testbed,
                c.table()
            ),
            Outcome::Missing { reason } => f.write_str(reason),
        }
    }
}

/// A baseline written by [`Store::write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The stored baseline already says this; nothing written.
    Unchanged(PathBuf),
    /// A pending `.snap.new` for `cargo insta review`.
    Pending(PathBuf),
    /// The `.snap` itself (`--accept`).
    Accepted(PathBuf),
}

/// The baseline snapshots under a directory (`snapshots/` of the workspace).
#[derive(Debug, Clone)]
pub struct Store {
    /// The snapshot directory; baselines live in a subdirectory per testbed.
    pub dir: PathBuf,
}

const DESCRIPTION: &str = "iogate baseline from the results history (iogate baseline record), \
    compared with a one-sided prediction test (docs/gates.md). Do not edit by hand.";

impl Store {
    /// Baselines under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The snapshot file of a cell's baseline on a testbed.
    pub fn path(&self, testbed: &str, cell: &str) -> PathBuf {
        self.dir
            .join(testbed)
            .join(format!("{}.snap", cell.replace('/', "__")))
    }

    /// A cell's stored baseline on a testbed: `Ok(None)` when there is none.
    pub fn load(&self, testbed: &str, cell: &str) -> Result<Option<Baseline>, String> {
        check_testbed(testbed)?;
        let path = self.path(testbed, cell);
        if !path.exists() {
            return Ok(None);
        }
        let unreadable = |e: String| format!("baseline {}: {e}", path.display());
        let snapshot = insta::Snapshot::from_file(&path).map_err(|e| unreadable(e.to_string()))?;
        let text = snapshot
            .as_text()
            .ok_or_else(|| unreadable("not a text snapshot".into()))?
            .to_string();
        serde_saphyr::from_str(&text)
            .map(Some)
            .map_err(|e| unreadable(e.to_string()))
    }

    /// Writes `baseline` as a pending snapshot (`.snap.new`), or as the snapshot itself when
    /// `accept`; nothing when the stored one has the same body.
    pub fn write(&self, baseline: &Baseline, accept: bool) -> Result<Written, String> {
        check_testbed(&baseline.testbed)?;
        let path = self.path(&baseline.testbed, &baseline.cell);
        let pending = path.with_extension("snap.new");
        let body = serde_saphyr::to_string(baseline).map_err(|e| e.to_string())?;
        let stored = insta::Snapshot::from_file(&path)
            .ok()
            .and_then(|s| Some(s.as_text()?.to_string()));
        let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        if stored.as_deref().map(str::trim_end) == Some(body.trim_end()) {
            if pending.exists() {
                std::fs::remove_file(&pending).map_err(|e| io(&pending, e))?;
            }
            return Ok(Written::Unchanged(path));
        }
        let text = format!(
            "---\nsource: harness/src/judge/baseline.rs\ndescription: \"{DESCRIPTION}\"\n---\n{body}"
        );
        let target = if accept { &path } else { &pending };
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(target, text).map_err(|e| io(target, e))?;
        if accept {
            if pending.exists() {
                std::fs::remove_file(&pending).map_err(|e| io(&pending, e))?;
            }
            Ok(Written::Accepted(path))
        } else {
            Ok(Written::Pending(pending))
        }
    }

    /// The reference runtime of a cell's stored baseline on a testbed, if it has a ratio.
    pub fn reference(&self, testbed: &str, cell: &str) -> Option<String> {
        Some(self.load(testbed, cell).ok()??.ratio_to?.runtime)
    }

    /// Checks a passed cell's record (and its reference runtime's, for the ratio rows) against
    /// its baseline on `testbed`: per metric, the one-sided p-value of "worse than the baseline
    /// by more than `threshold`". Deciding is the caller's. `Err`: the record has no numbers or
    /// the baseline cannot be read.
    pub fn check(
        &self,
        testbed: &str,
        record: &CellRecord,
        reference: Option<&CellRecord>,
        threshold: f64,
    ) -> Result<Outcome, String> {
        if record.status != Status::Passed {
            return Err(format!(
                "cell {} has no numbers ({:?}); nothing to compare with its baseline",
                record.name, record.status
            ));
        }
        let Some(baseline) = self.load(testbed, &record.name)? else {
            return Ok(Outcome::Missing {
                reason: format!(
                    "no baseline for {} on testbed `{testbed}` ({}); record them from the history \
                     with `iogate baseline record --testbed {testbed}`, review with `cargo insta \
                     review` and commit them",
                    record.name,
                    self.path(testbed, &record.name).display()
                ),
            });
        };
        let provenance = &record.provenance;
        let changed = fingerprint_change(
            &baseline.source,
            Some(&provenance.kernel),
            Some(&provenance.fio),
        );
        let mut check = BaselineCheck {
            cell: record.name.clone(),
            testbed: testbed.to_owned(),
            rows: Vec::new(),
            notes: Vec::new(),
            changed: changed.clone(),
        };
        for (metric, stat) in &baseline.metrics {
            if let Some(x) = cell_value(*metric, record) {
                check
                    .rows
                    .push(row(*metric, Kind::Absolute, x, stat, threshold));
            }
        }
        if let Some(ratio) = &baseline.ratio_to {
            match reference.filter(|r| r.status == Status::Passed) {
                Some(reference) => {
                    for (metric, stat) in &ratio.metrics {
                        if let Some(measured) = record_ratio(*metric, record, reference) {
                            let kind = Kind::RatioTo(ratio.runtime.clone());
                            check
                                .rows
                                .push(row(*metric, kind, measured, stat, threshold));
                        }
                    }
                }
                None => check.notes.push(format!(
                    "ratio to {} not checked: that runtime's cell has no numbers in this run",
                    ratio.runtime
                )),
            }
        }
        if let Some(changed) = changed {
            for row in &mut check.rows {
                row.comparable = false;
            }
            check.notes.push(format!(
                "Every row is advisory: this run's kernel or fio is not what the baseline was \
                 recorded with ({changed}). A baseline predicts the machine it was recorded on; \
                 record it again from {MIN_SESSIONS} sessions on this one (`iogate baseline \
                 record --testbed {testbed}`) before it can fail a run."
            ));
        }
        Ok(Outcome::Checked(check))
    }
}

/// What of a run's kernel and fio the baseline was not recorded with (`kernel X (baseline: Y)`),
/// if anything; nothing for a baseline that did not record them, or a run that did not.
fn fingerprint_change(source: &Source, kernel: Option<&str>, fio: Option<&str>) -> Option<String> {
    let changed: Vec<String> = [
        ("kernel", &source.kernel, kernel),
        ("fio", &source.fio, fio),
    ]
    .into_iter()
    .filter_map(|(what, seen, now)| {
        let now = now?;
        (!seen.is_empty() && !seen.iter().any(|s| s == now))
            .then(|| format!("{what} {now} (baseline: {})", seen.join(", ")))
    })
    .collect();
    (!changed.is_empty()).then(|| changed.join("; "))
}

/// A testbed name is a directory name: 1 to 64 characters from `[A-Za-z0-9._-]`, not starting
/// with `.` (as `IOGATE_TESTBED` requires).
fn check_testbed(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "testbed {name:?}: expected 1 to 64 characters from [A-Za-z0-9._-], not starting with `.`"
        ))
    }
}

/// `record`'s value over `reference`'s, block by block as the history's ratios are
/// ([`crate::history::ratio`]); from the aggregates when either has no repetitions.
fn record_ratio(metric: Metric, record: &CellRecord, reference: &CellRecord) -> Option<f64> {
    let values = |r: &CellRecord| -> Vec<f64> {
        r.repetitions
            .iter()
            .map(|rep| metric_of(metric, rep))
            .collect()
    };
    if record.repetitions.is_empty() || reference.repetitions.is_empty() {
        return Some(cell_value(metric, record)? / cell_value(metric, reference)?);
    }
    paired_log_ratio(&values(record), &values(reference)).map(f64::exp)
}

/// A cell's value of `metric` (bytes/s, ns), when it has one.
fn cell_value(metric: Metric, record: &CellRecord) -> Option<f64> {
    let lat = record.lat_ns.as_ref();
    let value = match metric {
        Metric::Bw => record.bw_bytes?,
        Metric::Iops => record.iops?,
        Metric::P50 => lat?.p50 as f64,
        Metric::P90 => lat?.p90 as f64,
        Metric::P99 => lat?.p99 as f64,
        Metric::P99_9 => lat?.p99_9 as f64,
    };
    (value > 0.0).then_some(value)
}

fn row(metric: Metric, kind: Kind, measured: f64, stat: &Stat, threshold: f64) -> BaselineRow {
    // Worse is lower for throughput, higher for latencies: flip latencies so lower is worse.
    let sign = match metric {
        Metric::Bw | Metric::Iops => 1.0,
        _ => -1.0,
    };
    let sessions: Vec<Session> = stat
        .sessions()
        .into_iter()
        .map(|s| Session {
            mean: sign * s.mean,
            ..s
        })
        .collect();
    let gap = session_prediction_gap(sign * measured.ln(), &sessions);
    let (p_worse, improved) = match gap {
        Some(gap) => {
            let better = Estimate {
                estimate: -gap.estimate,
                ..gap
            };
            (
                p_lower_by(&gap, threshold),
                p_lower_by(&better, threshold) < IMPROVED_P,
            )
        }
        None => (1.0, false),
    };
    BaselineRow {
        metric,
        kind,
        measured,
        // The mean of the sessions' means: what the prediction is centred on.
        expected: (sign * sessions.iter().map(|s| s.mean).sum::<f64>() / sessions.len() as f64)
            .exp(),
        n: stat.n,
        sessions: sessions.len(),
        sigma: gap.map_or(stat.sigma, |g| g.se),
        p_worse,
        improved,
        comparable: true,
    }
}
