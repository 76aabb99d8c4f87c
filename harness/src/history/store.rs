//! The store: one SQLite file or a PostgreSQL database with the same schema (versioned
//! migrations embedded in the binary), behind a small blocking API.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Row};

use crate::error::{Error, Result};
use crate::history::testbed::Testbed;
use crate::run::{CellRecord, Latency, Repetition, Status};
use crate::sys::lock::MachineLock;

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A SQLite file (created with its directory when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://user@host:port/db`, `?host=/socket/dir` for a Unix socket).
    Postgres(String),
}

impl Location {
    /// `postgres://…` or `postgresql://…` is a PostgreSQL URL; `sqlite:PATH` or anything else is
    /// a SQLite file path.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else {
            let path = text
                .strip_prefix("sqlite://")
                .or_else(|| text.strip_prefix("sqlite:"))
                .unwrap_or(text);
            Location::Sqlite(PathBuf::from(path))
        }
    }

    /// The location for messages: a path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let userinfo = &url[scheme + 3..at];
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
                        }
                        None => url.clone(),
                    }
                }
                _ => url.clone(),
            },
        }
    }
}

/// A run as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    /// Run id (the run directory's name).
    pub run_id: String,
    /// Matrix name.
    pub matrix: String,
    /// SHA-256 of the matrix file.
    pub matrix_hash: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The project's commit, when known.
    pub git_commit: Option<String>,
    /// The testbed's name.
    pub testbed: String,
    /// What the testbed was when this run recorded its cells.
    pub fingerprint: Testbed,
    /// The run directory (raw outputs, histograms and logs stay there).
    pub dir: PathBuf,
}

/// One cell of one run, as `list`, `show`, `detect` and `export` read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Run id.
    pub run_id: String,
    /// Matrix name.
    pub matrix: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The testbed's name.
    pub testbed: String,
    /// The project's commit, when known.
    pub git_commit: Option<String>,
    /// Cell name.
    pub cell: String,
    /// passed, failed or skipped.
    pub status: String,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// Aggregate bandwidth, bytes/s.
    pub bw_bytes: Option<f64>,
    /// Aggregate IOPS.
    pub iops: Option<f64>,
    /// Median completion latency, ns.
    pub p50_ns: Option<i64>,
    /// 90th percentile, ns.
    pub p90_ns: Option<i64>,
    /// 99th percentile, ns.
    pub p99_ns: Option<i64>,
    /// 99.9th percentile, ns.
    pub p999_ns: Option<i64>,
    /// I/Os behind the percentiles.
    pub ios: Option<i64>,
    /// The cell's repetitions (its blocks, in order): what a ratio to another cell of the run
    /// pairs, block by block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
}

/// One repetition of a cell, as the history keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Bandwidth, bytes/s.
    pub bw_bytes: f64,
    /// IOPS.
    pub iops: f64,
    /// Median completion latency, ns.
    pub p50_ns: i64,
    /// 90th percentile, ns.
    pub p90_ns: i64,
    /// 99th percentile, ns.
    pub p99_ns: i64,
    /// 99.9th percentile, ns.
    pub p999_ns: i64,
}

/// A run in `list`: its entry's key fields and how many cells it recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunListing {
    /// Run id.
    pub run_id: String,
    /// Matrix name.
    pub matrix: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The testbed's name.
    pub testbed: String,
    /// The project's commit, when known.
    pub git_commit: Option<String>,
    /// Cells recorded.
    pub cells: i64,
    /// Cells that passed.
    pub passed: i64,
    /// Cells a signal stopped: the run was interrupted.
    pub interrupted: i64,
    /// The run directory.
    pub dir: String,
}

/// An open history.
pub struct History {
    runtime: tokio::runtime::Runtime,
    pool: AnyPool,
    location: Location,
}

/// The migrations compiled into the binary, oldest first.
#[derive(Debug)]
struct EmbeddedMigrations;

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(
        self,
    ) -> Pin<
        Box<
            dyn Future<Output = std::result::Result<Vec<Migration>, sqlx::error::BoxDynError>>
                + Send,
        >,
    > {
        let migrations = vec![
            Migration::new(
                1,
                Cow::Borrowed("history"),
                MigrationType::Simple,
                Cow::Borrowed(include_str!("../../migrations/0001_history.sql")),
                false,
            ),
            Migration::new(
                2,
                Cow::Borrowed("cell hash"),
                MigrationType::Simple,
                Cow::Borrowed(include_str!("../../migrations/0002_cell_hash.sql")),
                false,
            ),
        ];
        Box::pin(async move { Ok(migrations) })
    }
}

impl History {
    /// Opens (creating and migrating when needed) the history at `location`.
    pub fn open(location: &Location) -> Result<History> {
        sqlx::any::install_default_drivers();
        let fail = |message: String| Error::History {
            location: location.display(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("no async runtime: {e}")))?;
        let (url, _lock) = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
                // SQLite has no migration lock: processes creating one file take turns.
                let lock = MachineLock::at(&lock_path(path))?;
                (format!("sqlite://{}?mode=rwc", path.display()), Some(lock))
            }
            Location::Postgres(url) => (url.clone(), None),
        };
        let pool = run_blocking(&runtime, async {
            let pool = AnyPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        if conn.backend_name() == "SQLite" {
                            sqlx::query("PRAGMA busy_timeout = 60000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                        }
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            if matches!(location, Location::Sqlite(_)) {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let migrator = Migrator::new(EmbeddedMigrations)
                .await
                .map_err(|e| e.to_string())?;
            migrator
                .run(&pool)
                .await
                .map_err(|e| format!("migrating the schema: {e}"))?;
            Ok::<_, String>(pool)
        })
        .map_err(fail)?;
        Ok(History {
            runtime,
            pool,
            location: location.clone(),
        })
    }

    /// Where this history lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn fail(&self, what: &str, e: sqlx::Error) -> Error {
        Error::History {
            location: self.location.display(),
            message: format!("{what}: {e}"),
        }
    }

    /// Records (or updates) a run and some of its cells with their repetitions, in one
    /// transaction. Keyed by (run, matrix, cell): recording a cell again replaces it, so
    /// re-imports and processes sharing a run never duplicate one.
    pub fn record(&self, run: &RunEntry, cells: &[CellRecord]) -> Result<()> {
        let fingerprint = serde_json::to_string(&run.fingerprint).expect("fingerprint serializes");
        let started_ms = run
            .started_at
            .parse::<jiff::Timestamp>()
            .map_or(0, |t| t.as_millisecond());
        run_blocking(&self.runtime, async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO runs (run_id, matrix, matrix_hash, started_at, started_ms, git_commit, \
                 testbed, fingerprint, dir) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (run_id, matrix) DO UPDATE SET fingerprint = excluded.fingerprint, \
                 git_commit = COALESCE(excluded.git_commit, runs.git_commit)",
            )
            .bind(&run.run_id)
            .bind(&run.matrix)
            .bind(&run.matrix_hash)
            .bind(&run.started_at)
            .bind(started_ms)
            .bind(run.git_commit.as_deref())
            .bind(&run.testbed)
            .bind(&fingerprint)
            .bind(run.dir.display().to_string())
            .execute(&mut *tx)
            .await?;
            for cell in cells {
                let lat = cell.lat_ns.as_ref();
                let ns = |v: Option<u64>| v.map(|v| v as i64);
                sqlx::query(
                    "INSERT INTO cells (run_id, matrix, cell, runtime, pattern, clients, status, \
                     reason, bw_bytes, iops, p50_ns, p90_ns, p99_ns, p999_ns, ios, provenance, \
                     histogram, started_at, duration_s, cell_hash) VALUES ($1, $2, $3, $4, $5, $6, \
                     $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                     ON CONFLICT (run_id, matrix, cell) DO UPDATE SET runtime = excluded.runtime, \
                     pattern = excluded.pattern, clients = excluded.clients, \
                     status = excluded.status, reason = excluded.reason, \
                     bw_bytes = excluded.bw_bytes, iops = excluded.iops, \
                     p50_ns = excluded.p50_ns, p90_ns = excluded.p90_ns, \
                     p99_ns = excluded.p99_ns, p999_ns = excluded.p999_ns, ios = excluded.ios, \
                     provenance = excluded.provenance, histogram = excluded.histogram, \
                     started_at = excluded.started_at, duration_s = excluded.duration_s, \
                     cell_hash = excluded.cell_hash",
                )
                .bind(&run.run_id)
                .bind(&run.matrix)
                .bind(&cell.name)
                .bind(&cell.runtime)
                .bind(cell.pattern.as_str())
                .bind(i64::from(cell.clients))
                .bind(status_name(cell.status))
                .bind(cell.reason.as_deref())
                .bind(cell.bw_bytes)
                .bind(cell.iops)
                .bind(ns(lat.map(|l| l.p50)))
                .bind(ns(lat.map(|l| l.p90)))
                .bind(ns(lat.map(|l| l.p99)))
                .bind(ns(lat.map(|l| l.p99_9)))
                .bind(ns(cell.ios))
                .bind(serde_json::to_string(&cell.provenance).expect("provenance serializes"))
                .bind(cell.histogram.as_deref())
                .bind(&cell.started_at)
                .bind(cell.duration_s)
                .bind(Some(cell.provenance.cell_hash.as_str()).filter(|h| !h.is_empty()))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM repetitions WHERE run_id = $1 AND matrix = $2 AND cell = $3",
                )
                .bind(&run.run_id)
                .bind(&run.matrix)
                .bind(&cell.name)
                .execute(&mut *tx)
                .await?;
                for (k, rep) in cell.repetitions.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO repetitions (run_id, matrix, cell, repetition, bw_bytes, \
                         iops, p50_ns, p90_ns, p99_ns, p999_ns, raw) VALUES ($1, $2, $3, $4, $5, \
                         $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(&run.run_id)
                    .bind(&run.matrix)
                    .bind(&cell.name)
                    .bind(k as i64 + 1)
                    .bind(rep.bw_bytes)
                    .bind(rep.iops)
                    .bind(rep.lat_ns.p50 as i64)
                    .bind(rep.lat_ns.p90 as i64)
                    .bind(rep.lat_ns.p99 as i64)
                    .bind(rep.lat_ns.p99_9 as i64)
                    .bind(&rep.raw)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await
        })
        .map_err(|e| self.fail("recording a run", e))
    }

    /// Stores `fingerprint` under `name` (merged with what was recorded) and returns what
    /// changed since it was last recorded.
    pub fn check_testbed(&self, name: &str, fingerprint: &Testbed) -> Result<Vec<String>> {
        run_blocking(&self.runtime, async {
            let row = sqlx::query("SELECT fingerprint FROM testbeds WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            let recorded: Option<Testbed> = row
                .map(|r| r.try_get::<String, _>("fingerprint"))
                .transpose()?
                .and_then(|text| serde_json::from_str(&text).ok());
            let (changes, merged) = match &recorded {
                Some(was) => (fingerprint.changes_since(was), fingerprint.merged_into(was)),
                None => (Vec::new(), fingerprint.clone()),
            };
            if recorded.as_ref() != Some(&merged) {
                sqlx::query(
                    "INSERT INTO testbeds (name, fingerprint, recorded_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, \
                     recorded_at = excluded.recorded_at",
                )
                .bind(name)
                .bind(serde_json::to_string(&merged).expect("fingerprint serializes"))
                .bind(jiff::Timestamp::now().to_string())
                .execute(&self.pool)
                .await?;
            }
            Ok(changes)
        })
        .map_err(|e| self.fail("checking the testbed", e))
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunListing>> {
        let rows = run_blocking(&self.runtime, async {
            sqlx::query(
                "SELECT r.run_id, r.matrix, r.started_at, r.testbed, r.git_commit, r.dir, \
                 (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.run_id AND c.matrix = r.matrix) \
                 AS cells, \
                 (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.run_id AND c.matrix = r.matrix \
                 AND c.status = 'passed') AS passed, \
                 (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.run_id AND c.matrix = r.matrix \
                 AND c.status = 'interrupted') AS interrupted \
                 FROM runs r ORDER BY r.started_ms DESC, r.run_id DESC",
            )
            .fetch_all(&self.pool)
            .await
        })
        .map_err(|e| self.fail("listing runs", e))?;
        rows.iter()
            .map(|row| {
                Ok(RunListing {
                    run_id: row.try_get("run_id")?,
                    matrix: row.try_get("matrix")?,
                    started_at: row.try_get("started_at")?,
                    testbed: row.try_get("testbed")?,
                    git_commit: row.try_get("git_commit")?,
                    cells: row.try_get("cells")?,
                    passed: row.try_get("passed")?,
                    interrupted: row.try_get("interrupted")?,
                    dir: row.try_get("dir")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.fail("reading runs", e))
    }

    /// The repetitions of passed cells in the last `last` runs of `matrix` on `testbed` that
    /// measured any of `cells` (cell name → [`crate::spec::Cell::measure_hash`]) as they are
    /// measured now, other than `except` (the run asking), newest first: one map per run, cell
    /// name → repetitions in order. A cell recorded with another hash, or none, is left out.
    pub fn recent_repetitions(
        &self,
        testbed: &str,
        matrix: &str,
        cells: &BTreeMap<String, String>,
        except: &str,
        last: usize,
    ) -> Result<Vec<BTreeMap<String, Vec<Repetition>>>> {
        let rows = run_blocking(&self.runtime, async {
            sqlx::query(
                "SELECT p.run_id, p.cell, p.repetition, p.bw_bytes, p.iops, p.p50_ns, p.p90_ns, \
                 p.p99_ns, p.p999_ns, p.raw, c.cell_hash, r.started_ms FROM repetitions p \
                 JOIN cells c ON c.run_id = p.run_id AND c.matrix = p.matrix AND c.cell = p.cell \
                 JOIN runs r ON r.run_id = p.run_id AND r.matrix = p.matrix \
                 WHERE r.testbed = $1 AND r.matrix = $2 AND r.run_id <> $3 \
                 AND c.status = 'passed' AND c.cell_hash IS NOT NULL \
                 ORDER BY r.started_ms DESC, p.run_id, p.cell, p.repetition",
            )
            .bind(testbed)
            .bind(matrix)
            .bind(except)
            .fetch_all(&self.pool)
            .await
        })
        .map_err(|e| self.fail("reading repetitions", e))?;
        let mut runs: Vec<(String, BTreeMap<String, Vec<Repetition>>)> = Vec::new();
        for row in &rows {
            let hash: String = row
                .try_get("cell_hash")
                .map_err(|e| self.fail("reading repetitions", e))?;
            let cell: String = row
                .try_get("cell")
                .map_err(|e| self.fail("reading repetitions", e))?;
            if cells.get(&cell) != Some(&hash) {
                continue;
            }
            let read = || -> std::result::Result<(String, String, Repetition), sqlx::Error> {
                let ns = |name: &str| -> std::result::Result<u64, sqlx::Error> {
                    Ok(row.try_get::<i64, _>(name)?.max(0) as u64)
                };
                Ok((
                    row.try_get("run_id")?,
                    row.try_get("cell")?,
                    Repetition {
                        bw_bytes: row.try_get("bw_bytes")?,
                        iops: row.try_get("iops")?,
                        lat_ns: Latency {
                            p50: ns("p50_ns")?,
                            p90: ns("p90_ns")?,
                            p99: ns("p99_ns")?,
                            p99_9: ns("p999_ns")?,
                        },
                        raw: row.try_get("raw")?,
                        ends_apart_s: None,
                    },
                ))
            };
            let (run_id, cell, rep) = read().map_err(|e| self.fail("reading repetitions", e))?;
            if runs.last().is_none_or(|(id, _)| *id != run_id) {
                if runs.len() == last {
                    break;
                }
                runs.push((run_id, BTreeMap::new()));
            }
            let (_, cells) = runs.last_mut().expect("pushed above");
            cells.entry(cell).or_default().push(rep);
        }
        Ok(runs.into_iter().map(|(_, cells)| cells).collect())
    }

    /// The runs of `matrix` on `testbed`, oldest first, with their fingerprints and commits.
    pub fn runs_of(&self, testbed: &str, matrix: &str) -> Result<Vec<RunEntry>> {
        let rows = run_blocking(&self.runtime, async {
            sqlx::query(
                "SELECT run_id, matrix, matrix_hash, started_at, git_commit, testbed, fingerprint, \
                 dir FROM runs WHERE testbed = $1 AND matrix = $2 ORDER BY started_ms, run_id",
            )
            .bind(testbed)
            .bind(matrix)
            .fetch_all(&self.pool)
            .await
        })
        .map_err(|e| self.fail("reading runs", e))?;
        rows.iter()
            .map(|row| {
                let fingerprint: String = row.try_get("fingerprint")?;
                let dir: String = row.try_get("dir")?;
                Ok(RunEntry {
                    run_id: row.try_get("run_id")?,
                    matrix: row.try_get("matrix")?,
                    matrix_hash: row.try_get("matrix_hash")?,
                    started_at: row.try_get("started_at")?,
                    git_commit: row.try_get("git_commit")?,
                    testbed: row.try_get("testbed")?,
                    fingerprint: serde_json::from_str(&fingerprint).unwrap_or_default(),
                    dir: PathBuf::from(dir),
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.fail("reading runs", e))
    }

    /// Every recorded cell of every run, oldest run first.
    pub fn observations(&self) -> Result<Vec<Observation>> {
        let rows = run_blocking(&self.runtime, async {
            sqlx::query(
                "SELECT r.run_id, r.matrix, r.started_at, r.testbed, r.git_commit, c.cell, \
                 c.status, c.reason, c.bw_bytes, c.iops, c.p50_ns, c.p90_ns, c.p99_ns, \
                 c.p999_ns, c.ios FROM cells c JOIN runs r \
                 ON r.run_id = c.run_id AND r.matrix = c.matrix \
                 ORDER BY r.started_ms, r.run_id, c.cell",
            )
            .fetch_all(&self.pool)
            .await
        })
        .map_err(|e| self.fail("reading cells", e))?;
        let mut observations: Vec<Observation> = rows
            .iter()
            .map(observation)
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.fail("reading cells", e))?;
        let blocks = run_blocking(&self.runtime, async {
            sqlx::query(
                "SELECT run_id, matrix, cell, bw_bytes, iops, p50_ns, p90_ns, p99_ns, p999_ns \
                 FROM repetitions ORDER BY run_id, matrix, cell, repetition",
            )
            .fetch_all(&self.pool)
            .await
        })
        .map_err(|e| self.fail("reading repetitions", e))?;
        let mut by_cell: HashMap<(String, String, String), Vec<Block>> = HashMap::new();
        for row in &blocks {
            let read = || -> std::result::Result<_, sqlx::Error> {
                Ok((
                    (
                        row.try_get("run_id")?,
                        row.try_get("matrix")?,
                        row.try_get("cell")?,
                    ),
                    Block {
                        bw_bytes: row.try_get("bw_bytes")?,
                        iops: row.try_get("iops")?,
                        p50_ns: row.try_get("p50_ns")?,
                        p90_ns: row.try_get("p90_ns")?,
                        p99_ns: row.try_get("p99_ns")?,
                        p999_ns: row.try_get("p999_ns")?,
                    },
                ))
            };
            let (key, block) = read().map_err(|e| self.fail("reading repetitions", e))?;
            by_cell.entry(key).or_default().push(block);
        }
        for o in &mut observations {
            let key = (o.run_id.clone(), o.matrix.clone(), o.cell.clone());
            o.blocks = by_cell.remove(&key).unwrap_or_default();
        }
        Ok(observations)
    }
}

fn observation(row: &AnyRow) -> std::result::Result<Observation, sqlx::Error> {
    Ok(Observation {
        run_id: row.try_get("run_id")?,
        matrix: row.try_get("matrix")?,
        started_at: row.try_get("started_at")?,
        testbed: row.try_get("testbed")?,
        git_commit: row.try_get("git_commit")?,
        cell: row.try_get("cell")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        bw_bytes: row.try_get("bw_bytes")?,
        iops: row.try_get("iops")?,
        p50_ns: row.try_get("p50_ns")?,
        p90_ns: row.try_get("p90_ns")?,
        p99_ns: row.try_get("p99_ns")?,
        p999_ns: row.try_get("p999_ns")?,
        ios: row.try_get("ios")?,
        blocks: Vec::new(),
    })
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Interrupted => "interrupted",
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Runs `future` to completion on `runtime`, from a thread of its own when the caller is
/// already inside an async runtime (where blocking on another would panic).
fn run_blocking<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(future))
                .join()
                .expect("history thread does not panic")
        })
    } else {
        runtime.block_on(future)
    }
}
