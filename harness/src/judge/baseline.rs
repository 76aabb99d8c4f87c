//! Baselines: one insta snapshot per matrix × cell × machine class, compared with a tolerance.
//!
//! A baseline holds a cell's bandwidth, IOPS, p50 and p99 — geometric means over its repetitions,
//! rounded to 3 significant figures — and the spread of the repetitions (σ of the log values).
//! Snapshots live under the workspace's `snapshots/` directory as
//! `<matrix>__<runtime>__c<clients>__<pattern>@<suffix>.snap`, where the suffix names the machine
//! class the numbers belong to: `$IOGATE_BASELINE_SUFFIX`, else `local-<ncpus>cpu`.
//!
//! The comparison goes through insta with a [`LogTolerance`] comparator instead of equality: both
//! sides are parsed back and bw, IOPS, p50 and p99 must each lie within a factor of the baseline
//! (`|ln(measured / baseline)| ≤ ln(factor)`). The factors ([`Tolerances`]) are stored in the
//! snapshot, so widening one noisy cell is a reviewable change of its file. Noise inside the
//! tolerance leaves the file untouched; a drift beyond it fails, shows a table and goes through
//! insta's normal review flow (`INSTA_UPDATE=always`, `cargo insta review`), so rebaselining is a
//! reviewable diff. A missing baseline never passes silently: it fails with how to record one,
//! unless `INSTA_UPDATE=always` (or `force`) is set, which records it. See `docs/gates.md`.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::run::{CellRecord, Status};
use crate::stats::{geometric_mean, log_spread};
use crate::units::{round_sig, sig3};

/// Environment variable naming the machine class of baselines (the snapshot suffix).
pub const SUFFIX_ENV: &str = "IOGATE_BASELINE_SUFFIX";

/// Environment variable overriding the default throughput tolerance of new baselines, e.g. `1.6`.
pub const TOLERANCE_ENV: &str = "IOGATE_BASELINE_TOLERANCE";

/// Default tolerance of bandwidth and IOPS: ×/÷ 1.5. A 2× slowdown (`ln 2 = 0.69`) is well
/// outside (`ln 1.5 = 0.41`); see `docs/gates.md` for the A/A spread it was chosen from.
pub const DEFAULT_TOLERANCE: f64 = 1.5;

/// Default tolerance of p50: ×/÷ 2.
pub const DEFAULT_P50_TOLERANCE: f64 = 2.0;

/// Default tolerance of p99: ×/÷ 4 (tails move most between runs on a shared machine).
pub const DEFAULT_P99_TOLERANCE: f64 = 4.0;

/// The machine class baselines are recorded for: `$IOGATE_BASELINE_SUFFIX` if set (letters,
/// digits, `-`, `_`, `.`), else `local-<ncpus>cpu` — stable across reruns and host names, and the
/// same on every machine of a CI class.
pub fn machine_suffix() -> Result<String, String> {
    match std::env::var(SUFFIX_ENV) {
        Ok(s) => {
            let ok = !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if ok {
                Ok(s)
            } else {
                Err(format!(
                    "{SUFFIX_ENV}={s:?}: expected 1 to 64 characters from [A-Za-z0-9._-]"
                ))
            }
        }
        Err(_) => Ok(format!(
            "local-{}cpu",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
    }
}

/// How far a metric may move from its baseline: a factor > 1, applied both ways on a log scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Tolerance(f64);

impl TryFrom<f64> for Tolerance {
    type Error = String;
    fn try_from(factor: f64) -> Result<Self, String> {
        Tolerance::new(factor)
    }
}

impl From<Tolerance> for f64 {
    fn from(t: Tolerance) -> f64 {
        t.0
    }
}

impl Tolerance {
    /// A tolerance of ×/÷ `factor` (above 1, at most 1000).
    pub fn new(factor: f64) -> Result<Tolerance, String> {
        if factor.is_finite() && factor > 1.0 && factor <= 1000.0 {
            Ok(Tolerance(factor))
        } else {
            Err(format!(
                "invalid tolerance {factor}: expected a factor above 1, e.g. 1.5"
            ))
        }
    }

    /// The factor.
    pub fn factor(self) -> f64 {
        self.0
    }

    /// Whether `measured` is within the factor of `baseline` (both positive).
    pub fn accepts(self, baseline: f64, measured: f64) -> bool {
        if !(baseline > 0.0 && measured > 0.0) {
            return baseline == measured;
        }
        (measured / baseline).ln().abs() <= self.0.ln() + 1e-12
    }
}

/// The tolerances a baseline is compared with, stored in its snapshot (so widening one cell's
/// tolerance is a reviewable change of that file). `null`: recorded, not compared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    /// Bandwidth and IOPS.
    pub throughput: Option<Tolerance>,
    /// Median latency.
    pub p50: Option<Tolerance>,
    /// 99th percentile latency.
    pub p99: Option<Tolerance>,
}

impl Tolerances {
    /// The defaults: [`DEFAULT_TOLERANCE`] (or `$IOGATE_BASELINE_TOLERANCE`, `1.6` or `1.6x`)
    /// for throughput, [`DEFAULT_P50_TOLERANCE`], [`DEFAULT_P99_TOLERANCE`].
    pub fn from_env() -> Result<Tolerances, String> {
        let throughput = match std::env::var(TOLERANCE_ENV) {
            Ok(s) => {
                let t = s.trim().trim_end_matches(['x', 'X', '×']);
                let factor: f64 = t.parse().map_err(|_| {
                    format!("{TOLERANCE_ENV}={s:?}: expected a factor like 1.5 or 1.5x")
                })?;
                Tolerance::new(factor).map_err(|e| format!("{TOLERANCE_ENV}: {e}"))?
            }
            Err(_) => Tolerance(DEFAULT_TOLERANCE),
        };
        Ok(Tolerances {
            throughput: Some(throughput),
            p50: Some(Tolerance(DEFAULT_P50_TOLERANCE)),
            p99: Some(Tolerance(DEFAULT_P99_TOLERANCE)),
        })
    }

    /// The same factor for every metric.
    pub fn uniform(factor: Tolerance) -> Tolerances {
        Tolerances {
            throughput: Some(factor),
            p50: Some(factor),
            p99: Some(factor),
        }
    }
}

/// One cell's baseline, as stored in its snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The cell (`smoke/host/c8/read`).
    pub cell: String,
    /// Repetitions behind the numbers (informational).
    pub repetitions: usize,
    /// Aggregate bandwidth, MiB/s: geometric mean over repetitions, 3 significant figures.
    pub bw_mib_s: f64,
    /// Aggregate IOPS: geometric mean, 3 significant figures.
    pub iops: f64,
    /// Median completion latency, µs: geometric mean of the repetitions' p50, 3 significant figures.
    pub p50_us: f64,
    /// 99th percentile completion latency, µs: geometric mean of the repetitions' p99.
    pub p99_us: f64,
    /// Spread of the repetitions (informational, not compared).
    pub spread: Spread,
    /// How far each metric may move; absent in a snapshot: the store's defaults.
    #[serde(default)]
    pub tolerance: Option<Tolerances>,
}

/// σ of ln(value) across a cell's repetitions, 2 decimals; `None` with one repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Of bandwidth.
    pub bw: Option<f64>,
    /// Of IOPS.
    pub iops: Option<f64>,
    /// Of p50.
    pub p50: Option<f64>,
    /// Of p99.
    pub p99: Option<f64>,
}

impl Baseline {
    /// The baseline of a passed cell; `None` when it has no numbers.
    pub fn from_record(record: &CellRecord) -> Option<Baseline> {
        if record.status != Status::Passed || record.repetitions.is_empty() {
            return None;
        }
        let reps = &record.repetitions;
        let bw: Vec<f64> = reps
            .iter()
            .map(|r| r.bw_bytes / (1024.0 * 1024.0))
            .collect();
        let iops: Vec<f64> = reps.iter().map(|r| r.iops).collect();
        let p50: Vec<f64> = reps.iter().map(|r| r.lat_ns.p50 as f64 / 1000.0).collect();
        let p99: Vec<f64> = reps.iter().map(|r| r.lat_ns.p99 as f64 / 1000.0).collect();
        let spread = |v: &[f64]| {
            if v.len() < 2 {
                None
            } else {
                log_spread(v).map(|s| (s * 100.0).round() / 100.0)
            }
        };
        Some(Baseline {
            cell: record.name.clone(),
            repetitions: reps.len(),
            bw_mib_s: round_sig(geometric_mean(&bw)?, 3),
            iops: round_sig(geometric_mean(&iops)?, 3),
            p50_us: round_sig(geometric_mean(&p50)?, 3),
            p99_us: round_sig(geometric_mean(&p99)?, 3),
            spread: Spread {
                bw: spread(&bw),
                iops: spread(&iops),
                p50: spread(&p50),
                p99: spread(&p99),
            },
            tolerance: None,
        })
    }

    fn metrics(&self, t: &Tolerances) -> [(&'static str, f64, Option<Tolerance>); 4] {
        [
            ("bw (MiB/s)", self.bw_mib_s, t.throughput),
            ("iops", self.iops, t.throughput),
            ("p50 (µs)", self.p50_us, t.p50),
            ("p99 (µs)", self.p99_us, t.p99),
        ]
    }
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Metric and unit.
    pub metric: &'static str,
    /// The baseline's value.
    pub baseline: f64,
    /// This run's value.
    pub measured: f64,
    /// Its tolerance; `None`: recorded, not compared.
    pub allowed: Option<Tolerance>,
    /// Inside the tolerance (or not compared).
    pub within: bool,
}

impl Drift {
    /// `measured / baseline`.
    pub fn ratio(&self) -> f64 {
        self.measured / self.baseline
    }
}

/// A run compared with its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The cell.
    pub cell: String,
    /// The baseline names the same cell.
    pub same_cell: bool,
    /// The tolerances used (the baseline's own, else the defaults).
    pub tolerance: Tolerances,
    /// bw, IOPS, p50, p99.
    pub drifts: Vec<Drift>,
}

impl Comparison {
    /// Every compared metric within its tolerance, and the same cell.
    pub fn matches(&self) -> bool {
        self.same_cell && self.drifts.iter().all(|d| d.within)
    }

    /// Metric, baseline, measured, ratio, allowed factor, verdict (markdown).
    pub fn table(&self) -> String {
        let mut out =
            String::from("| metric | baseline | measured | ratio | allowed | verdict |\n");
        out.push_str("|---|---:|---:|---:|---|---|\n");
        for d in &self.drifts {
            let (allowed, verdict) = match d.allowed {
                Some(t) => (
                    format!("×/÷ {}", sig3(t.factor())),
                    if d.within { "ok" } else { "DRIFT" },
                ),
                None => ("not compared".into(), "–"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {}× | {allowed} | {verdict} |",
                d.metric,
                sig3(d.baseline),
                sig3(d.measured),
                sig3(d.ratio())
            );
        }
        out
    }

    /// The compared metric that used most of its tolerance, as `(metric, moved, allowed)`
    /// (factors ≥ 1).
    pub fn largest(&self) -> Option<(&'static str, f64, f64)> {
        let mut best: Option<(&'static str, f64, f64)> = None;
        for d in &self.drifts {
            let Some(allowed) = d.allowed else { continue };
            let moved = d.ratio().max(1.0 / d.ratio());
            let used = moved.ln() / allowed.factor().ln();
            if best.is_none_or(|(_, m, a)| used > m.ln() / a.ln()) {
                best = Some((d.metric, moved, allowed.factor()));
            }
        }
        best
    }
}

/// Compares a run with its baseline metric by metric on a log scale, with the baseline's own
/// tolerances (or `default` when it has none).
pub fn compare(baseline: &Baseline, measured: &Baseline, default: Tolerances) -> Comparison {
    let tolerance = baseline.tolerance.unwrap_or(default);
    let drifts = baseline
        .metrics(&tolerance)
        .iter()
        .zip(measured.metrics(&tolerance))
        .map(|((metric, b, allowed), (_, m, _))| Drift {
            metric,
            baseline: *b,
            measured: m,
            allowed: *allowed,
            within: allowed.is_none_or(|t| t.accepts(*b, m)),
        })
        .collect();
    Comparison {
        cell: measured.cell.clone(),
        same_cell: baseline.cell == measured.cell,
        tolerance,
        drifts,
    }
}

/// insta comparator: parses both snapshots as [`Baseline`]s and matches them within the
/// reference's tolerances (else these defaults); anything else is compared exactly.
#[derive(Debug, Clone)]
pub struct LogTolerance(pub Tolerances);

fn parse_snapshot(snapshot: &insta::Snapshot) -> Option<Baseline> {
    serde_json::from_str(&snapshot.as_text()?.to_string()).ok()
}

impl insta::Comparator for LogTolerance {
    fn matches(&self, reference: &insta::Snapshot, test: &insta::Snapshot) -> bool {
        match (parse_snapshot(reference), parse_snapshot(test)) {
            (Some(old), Some(new)) => compare(&old, &new, self.0).matches(),
            _ => insta::DefaultComparator.matches(reference, test),
        }
    }

    fn dyn_clone(&self) -> Box<dyn insta::Comparator> {
        Box::new(self.clone())
    }
}

/// The test name of a cell's baseline check: `smoke/host/c8/read` → `smoke/baseline/host/c8/read`.
pub fn trial_name(cell: &str) -> String {
    match cell.split_once('/') {
        Some((matrix, rest)) => format!("{matrix}/baseline/{rest}"),
        None => format!("baseline/{cell}"),
    }
}

/// What a baseline check found (the check passed).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Within the tolerance; the snapshot is untouched.
    Within(Comparison),
    /// No baseline existed and one was recorded (`INSTA_UPDATE=always` or `force`).
    Recorded(PathBuf),
    /// Outside the tolerance, and the snapshot was rewritten (rebaselining with `INSTA_UPDATE`).
    Updated(Comparison),
    /// Outside the tolerance, but insta was told to pass (`INSTA_FORCE_PASS`); nothing written.
    ForcedPass(Comparison),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Within(c) => {
                write!(f, "{}: within its baseline's tolerance", c.cell)?;
                if let Some((metric, moved, allowed)) = c.largest() {
                    write!(
                        f,
                        " (closest to its limit: {metric} moved ×/÷ {} of ×/÷ {} allowed)",
                        sig3(moved),
                        sig3(allowed)
                    )?;
                }
                Ok(())
            }
            Outcome::Recorded(path) => write!(f, "recorded a new baseline: {}", path.display()),
            Outcome::Updated(c) => {
                write!(f, "{}: rebaselined (INSTA_UPDATE)\n{}", c.cell, c.table())
            }
            Outcome::ForcedPass(c) => write!(
                f,
                "{}: WARNING outside the tolerance, passed only because INSTA_FORCE_PASS is set\n{}",
                c.cell,
                c.table()
            ),
        }
    }
}

/// Where baselines live and how they are compared.
#[derive(Debug, Clone)]
pub struct Store {
    /// The snapshot directory (absolute: insta resolves relative paths against the caller's file).
    pub dir: PathBuf,
    /// Machine-class suffix of the snapshot names.
    pub suffix: String,
    /// Tolerances of new baselines and of snapshots that carry none.
    pub tolerance: Tolerances,
}

impl Store {
    /// Baselines under `dir` for this machine class ([`machine_suffix`]) and default tolerances
    /// ([`Tolerances::from_env`]).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Store, String> {
        Ok(Store {
            dir: dir.into(),
            suffix: machine_suffix()?,
            tolerance: Tolerances::from_env()?,
        })
    }

    /// The snapshot file of a cell.
    pub fn path(&self, cell: &str) -> PathBuf {
        self.dir
            .join(format!("{}@{}.snap", snapshot_name(cell), self.suffix))
    }

    /// The stored baseline of a cell, if there is a readable one.
    pub fn load(&self, cell: &str) -> Option<Baseline> {
        let snapshot = insta::Snapshot::from_file(&self.path(cell)).ok()?;
        parse_snapshot(&snapshot)
    }

    /// Checks a cell's record against its baseline through insta (see the module docs). `Err`
    /// explains a failure: the drift table and how to rebaseline, or how to record a missing
    /// baseline.
    pub fn check(&self, record: &CellRecord) -> Result<Outcome, String> {
        let Some(mut measured) = Baseline::from_record(record) else {
            return Err(format!(
                "cell {} has no numbers ({:?}: {}); nothing to compare with its baseline",
                record.name,
                record.status,
                record.reason.as_deref().unwrap_or("no repetitions")
            ));
        };
        let path = self.path(&record.name);
        let before = std::fs::read(&path).ok();
        let old = self.load(&record.name);
        // The tolerances travel with the snapshot: a rebaselined file keeps its cell's factors.
        measured.tolerance = Some(
            old.as_ref()
                .and_then(|o| o.tolerance)
                .unwrap_or(self.tolerance),
        );
        let comparison = old
            .as_ref()
            .map(|old| compare(old, &measured, self.tolerance));

        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&self.dir);
        settings.set_snapshot_suffix(self.suffix.clone());
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(
            "iogate baseline: geometric means over the cell's repetitions (3 significant figures); \
             compared on a log scale within a tolerance, not exactly (docs/gates.md)",
        );
        settings.set_comparator(Box::new(LogTolerance(self.tolerance)));
        let name = snapshot_name(&record.name);
        let asserted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_json_snapshot!(name.clone(), &measured));
        }));
        let after = std::fs::read(&path).ok();
        let rerun = format!(
            "INSTA_UPDATE=always cargo test --test io_matrix -- {}",
            trial_name(&record.name)
        );

        match (before, comparison) {
            (None, _) => match (asserted, after) {
                (Ok(()), Some(_)) => Ok(Outcome::Recorded(path)),
                _ => {
                    let pending = PathBuf::from(format!("{}.new", path.display()));
                    let review = if pending.exists() {
                        format!(
                            " (or accept the pending {} with `cargo insta review`)",
                            pending.display()
                        )
                    } else {
                        String::new()
                    };
                    Err(format!(
                        "no baseline for {} ({}); record one with `{rerun}`{review}, \
                         and commit it",
                        record.name,
                        path.display()
                    ))
                }
            },
            (Some(_), Some(comparison)) if comparison.matches() => match asserted {
                Ok(()) => Ok(Outcome::Within(comparison)),
                Err(_) => Err(format!(
                    "{}: insta rejected a snapshot that is within the tolerance\n{}",
                    record.name,
                    comparison.table()
                )),
            },
            (Some(before), comparison) => {
                let comparison = comparison.unwrap_or_else(|| Comparison {
                    cell: record.name.clone(),
                    same_cell: false,
                    tolerance: self.tolerance,
                    drifts: Vec::new(),
                });
                match asserted {
                    Ok(()) if after.as_ref() != Some(&before) => Ok(Outcome::Updated(comparison)),
                    Ok(()) => Ok(Outcome::ForcedPass(comparison)),
                    Err(_) => {
                        let table = if comparison.drifts.is_empty() {
                            format!(
                                "the baseline {} could not be read as a baseline\n",
                                path.display()
                            )
                        } else {
                            comparison.table()
                        };
                        Err(format!(
                            "{} moved outside its baseline's tolerance ({}):\n\n{table}\n\
                             if the change is intended, rebaseline with `{rerun}` (or `cargo insta review`) \
                             and commit the diff",
                            record.name,
                            path.display()
                        ))
                    }
                }
            }
        }
    }
}

/// The snapshot name of a cell (`smoke/host/c8/read` → `smoke__host__c8__read`).
fn snapshot_name(cell: &str) -> String {
    cell.replace('/', "__")
}
