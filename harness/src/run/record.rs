//! Results: one cell's merged numbers, and the `summary.json` schema.
//!
//! Bandwidth and IOPS add up over every thread of every client. Latency percentiles come from
//! the merged completion-latency histogram (matching bins summed, then fio's nearest-rank walk);
//! percentiles are never averaged.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fio::histogram::Histogram;
use crate::fio::output::{DirectionStats, FioOutput};
use crate::fixture::RuntimeInfo;
use crate::spec::{Cell, Pattern};

/// Completion ("commit") latency percentiles in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    pub p99_9: u64,
}

impl Latency {
    /// Percentiles of a merged histogram, or `None` when it is empty.
    pub fn of(histogram: &Histogram) -> Option<Latency> {
        Some(Latency {
            p50: histogram.percentile(50.0)?,
            p90: histogram.percentile(90.0)?,
            p99: histogram.percentile(99.0)?,
            p99_9: histogram.percentile(99.9)?,
        })
    }
}

/// The merged numbers of one fio run (all clients, all threads).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Aggregate bandwidth, bytes/s: the sum over every thread of every client.
    pub bw_bytes: f64,
    /// Aggregate IOPS.
    pub iops: f64,
    /// I/Os completed (histogram total).
    pub ios: u64,
    /// Merged completion-latency histogram.
    pub histogram: Histogram,
}

impl Measurement {
    /// Merges one fio output of `cell`, checking that every client's every thread reported.
    pub fn from_output(cell: &Cell, output: &FioOutput) -> Result<Measurement> {
        let expected = (cell.clients * cell.workload.threads.get()) as usize;
        let fail = |message: String| Error::Fio {
            message,
            tail: String::new(),
        };
        if output.jobs.len() != expected {
            return Err(fail(format!(
                "expected {expected} thread results ({} clients × {} threads), fio reported {}: \
                 a server or container went away during the run",
                cell.clients,
                cell.workload.threads.get(),
                output.jobs.len()
            )));
        }
        let mut m = Measurement {
            bw_bytes: 0.0,
            iops: 0.0,
            ios: 0,
            histogram: Histogram::default(),
        };
        for job in &output.jobs {
            if job.error != 0 {
                return Err(fail(format!(
                    "thread {} on {} failed with error {} ({})",
                    job.jobname,
                    job.hostname.as_deref().unwrap_or("the host"),
                    job.error,
                    std::io::Error::from_raw_os_error(job.error as i32)
                )));
            }
            let d: &DirectionStats = match cell.pattern {
                Pattern::Read | Pattern::Randread => &job.read,
                Pattern::Write | Pattern::Randwrite => &job.write,
            };
            m.bw_bytes += d.bw_bytes as f64;
            m.iops += d.iops;
            m.histogram.merge(&d.clat);
        }
        m.ios = m.histogram.total();
        if m.ios == 0 {
            return Err(fail("fio completed no I/O in this cell".into()));
        }
        Ok(m)
    }
}

/// A cell's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured; numbers are present.
    Passed,
    /// Could not be measured; `reason` says why, numbers are absent.
    Failed,
    /// Not run (optional runtime missing, no cluster); `reason` says why, numbers are absent.
    Skipped,
    /// Stopped by a signal (Ctrl-C, SIGTERM) before its repetitions were complete; `reason` says
    /// which and when, numbers are absent (the repetitions that finished stay listed). Never a
    /// pass.
    Interrupted,
}

/// How a number was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `uname -r` of the machine running the harness.
    pub kernel: String,
    /// `fio --version` of the harness machine.
    pub fio: String,
    /// The runtime as the fixture found it (handler, version, hosts, notes).
    pub runtime: RuntimeInfo,
    /// SHA-256 of the matrix file.
    pub matrix_hash: String,
    /// SHA-256 of what decides this cell's numbers ([`crate::spec::Cell::measure_hash`]): the
    /// history's earlier runs of the cell count as its noise only while this matches (empty in
    /// results written before it existed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cell_hash: String,
    /// iogate version.
    pub iogate: String,
}

/// One repetition of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repetition {
    /// Aggregate bandwidth, bytes/s.
    pub bw_bytes: f64,
    /// Aggregate IOPS.
    pub iops: f64,
    /// Percentiles of this repetition's merged histogram.
    pub lat_ns: Latency,
    /// fio's json+ output, relative to the run directory.
    pub raw: String,
    /// How far apart the clients ended, in seconds: they started measuring about as far apart,
    /// so with fio's `runtime` T they all measured together for only T minus this (pre_read
    /// under contention sets the starts apart). Absent with one client or when not seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_apart_s: Option<f64>,
}

/// One cell in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// `matrix/runtime/c<clients>/pattern`.
    pub name: String,
    /// Runtime name.
    pub runtime: String,
    /// Fixture kind: host, docker, kubernetes.
    pub kind: String,
    /// Number of clients.
    pub clients: u32,
    /// Number of worker nodes used.
    pub nodes: u32,
    /// Clients per node.
    pub placement: Vec<u32>,
    /// Access pattern.
    pub pattern: Pattern,
    /// passed, failed, skipped or interrupted.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// Aggregate bandwidth, bytes/s (mean over repetitions); absent unless passed.
    pub bw_bytes: Option<f64>,
    /// Aggregate IOPS (mean over repetitions); absent unless passed.
    pub iops: Option<f64>,
    /// Completion latency percentiles of all repetitions' merged histogram; absent unless passed.
    pub lat_ns: Option<Latency>,
    /// I/Os behind the percentiles.
    pub ios: Option<u64>,
    /// Each repetition's numbers.
    pub repetitions: Vec<Repetition>,
    /// This cell's raw fio outputs, relative to the run directory.
    pub raw: Vec<String>,
    /// Logs (fio client and servers, containers), relative to the run directory.
    pub logs: Vec<String>,
    /// The merged histogram (`{ "<ns>": count }`), relative to the run directory: the full CDF.
    pub histogram: Option<String>,
    /// How the numbers were made.
    pub provenance: Provenance,
    /// When the cell started (RFC 3339).
    pub started_at: String,
    /// Wall time of the whole cell, seconds.
    pub duration_s: f64,
}

/// `summary.json`: every finished cell of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Matrix name.
    pub matrix: String,
    /// Run id (directory name).
    pub run_id: String,
    /// SHA-256 of the matrix file.
    pub matrix_hash: String,
    /// Cells in the order they finished.
    pub cells: Vec<CellRecord>,
}

impl Summary {
    /// Reads a `summary.json`.
    pub fn load(path: &std::path::Path) -> Result<Summary> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}
