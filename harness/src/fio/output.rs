//! Parses fio's `--output-format=json+` output: plain runs (`jobs`), client mode (`client_stats`) and
//! `--status-interval` streams, into per-job results with their completion-latency histograms.
//!
//! What fio 3.x writes, and what this parser does about it:
//! - stdout (or the `--output` file) may start with `note: …` lines, fio error lines and, in client
//!   mode, server log lines (`<host> …`): parsing starts at the first line that begins with `{`.
//! - `--status-interval` writes several JSON documents; the last one is final. A last document
//!   that is cut off means fio died while writing it: that is an error, not a fallback to the
//!   previous one.
//! - Client mode puts the results under `client_stats`, each entry with `hostname`/`port`; the
//!   extra `"All clients"` entry (totals, but no bins in 3.33) is skipped.
//! - `unified_rw_reporting` puts the results under `mixed`: they are reported as [`JobStats::read`]
//!   (and `write` stays empty).
//! - `bw_bytes` (bytes/s, fio ≥ 3.2) is used when present; otherwise `bw` (KiB/s) × 1024.
//! - fio < 3.0 reported latencies in µs under `clat`: rejected rather than misread.
//! - Each job's `clat_ns.bins` must add up to `clat_ns.N`; plain `json` output (no bins) is an
//!   error as soon as a job did I/O.

use std::ops::Range;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::client::ServerAddr;
use super::histogram::Histogram;
use crate::error::{Error, Result};

/// The jobname of the aggregate entry fio adds to `client_stats` with several servers.
pub const ALL_CLIENTS: &str = "All clients";

/// One fio thread's (job's) results, from `jobs` or a client's `client_stats` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    /// The job's name (`jobname`; every thread of a `numjobs=N` job has the same name).
    pub jobname: String,
    /// The server that ran it (client mode only).
    pub hostname: Option<String>,
    /// The server's port (client mode only).
    pub port: Option<u64>,
    /// fio's `error` for the job (0 = none, otherwise an errno).
    pub error: i64,
    /// Reads, or everything under `unified_rw_reporting` (fio's `mixed`).
    pub read: DirectionStats,
    /// Writes.
    pub write: DirectionStats,
}

/// The results of one data direction of one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectionStats {
    /// Bytes transferred.
    pub io_bytes: u64,
    /// Bandwidth in bytes/s.
    pub bw_bytes: u64,
    /// I/Os per second.
    pub iops: f64,
    /// I/Os completed.
    pub total_ios: u64,
    /// Time this direction ran, in ms.
    pub runtime_ms: u64,
    /// Completion-latency histogram (`clat_ns.bins`).
    pub clat: Histogram,
    /// Completion-latency sample count (`clat_ns.N`); equals `clat.total()`.
    pub clat_n: u64,
}

/// The final results of one fio run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FioOutput {
    /// fio's `"fio version"`, e.g. `fio-3.33`.
    pub fio_version: String,
    /// One entry per thread (per server and thread in client mode), in fio's order.
    pub jobs: Vec<JobStats>,
}

impl FioOutput {
    /// The read (or `mixed`) completion-latency histograms of all jobs merged.
    pub fn read_clat(&self) -> Histogram {
        let mut h = Histogram::default();
        for job in &self.jobs {
            h.merge(&job.read.clat);
        }
        h
    }

    /// The write completion-latency histograms of all jobs merged.
    pub fn write_clat(&self) -> Histogram {
        let mut h = Histogram::default();
        for job in &self.jobs {
            h.merge(&job.write.clat);
        }
        h
    }
}

/// Parses fio's json+ output (stdout or an `--output` file). The error message says what is wrong
/// and where (line numbers count from 1 in `text`).
pub fn parse(text: &str) -> std::result::Result<FioOutput, String> {
    let docs = documents(text)?;
    let Some(last) = docs.last() else {
        return Err(no_json_message(text));
    };
    let line = line_of(text, last.start);
    let raw: RawDoc = serde_json::from_str(&text[last.clone()])
        .map_err(|e| format!("JSON document at line {line}: {e}"))?;
    convert(raw).map_err(|e| {
        if docs.len() > 1 {
            format!(
                "{e} (in the last of {} JSON documents, line {line})",
                docs.len()
            )
        } else {
            e
        }
    })
}

/// fio's client exits 0 when a server vanishes before sending its results: checks that every
/// server (in client order) reported `threads` jobs. Err names the clients short of results.
pub fn check_every_client_reported(
    output: &FioOutput,
    servers: &[ServerAddr],
    threads: u32,
) -> std::result::Result<(), String> {
    let reported_by = |server: &ServerAddr| {
        output
            .jobs
            .iter()
            .filter(|job| match server {
                ServerAddr::Ip { host, port } => {
                    job.hostname.as_deref() == Some(host.as_str())
                        && job.port == Some(u64::from(*port))
                }
                ServerAddr::Unix(path) => {
                    job.hostname.as_deref() == Some(path.to_string_lossy().as_ref())
                }
            })
            .count()
    };
    let missing: Vec<String> = servers
        .iter()
        .enumerate()
        .filter_map(|(k, server)| {
            let found = reported_by(server);
            (found < threads as usize).then(|| format!("c{k}: {found} of {threads} jobs"))
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fio's output lacks results of some servers ({}): they went away or stopped answering \
             during the run",
            missing.join(", ")
        ))
    }
}

/// The lines of fio's client log and output (before its JSON) that say a server went away,
/// as ` fio --client said: …` (empty when there are none).
pub fn disconnect_lines(log: &Path, output: &Path) -> String {
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    let output = std::fs::read_to_string(output).unwrap_or_default();
    text.push_str(&output[..output.find('{').unwrap_or(output.len())]);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("disconnected") || l.contains("error") || l.contains("fio:"))
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(" fio --client said: {}", lines.join(" | "))
    }
}

/// Reads and parses a fio json+ output file; a read failure is [`Error::Io`], anything wrong with
/// the content [`Error::FioOutput`].
pub fn parse_file(path: &Path) -> Result<FioOutput> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    parse(&text).map_err(|message| Error::FioOutput {
        path: path.to_path_buf(),
        message,
    })
}

/// The byte ranges of the complete JSON documents in `text`: the first starts at the first line
/// beginning with `{`; after each document, text up to the next such line is skipped.
fn documents(text: &str) -> std::result::Result<Vec<Range<usize>>, String> {
    let mut docs = Vec::new();
    let mut pos = next_brace_line(text, 0);
    while let Some(start) = pos {
        let mut stream =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<IgnoredAny>();
        match stream.next() {
            Some(Ok(IgnoredAny)) => {}
            Some(Err(e)) if e.is_eof() => {
                let line = line_of(text, start);
                return Err(if docs.is_empty() {
                    format!(
                        "the JSON document at line {line} is cut off (fio died while writing \
                         it?): {e}"
                    )
                } else {
                    format!(
                        "the last JSON document (line {line}, after {} complete ones) is cut off: \
                         fio died while writing its final results",
                        docs.len()
                    )
                });
            }
            Some(Err(e)) => {
                let line = line_of(text, start) + e.line() - 1;
                let bad_line = text.lines().nth(line - 1).unwrap_or("");
                let hint = if bad_line.contains("nan") || bad_line.contains("inf") {
                    " (fio printed a float that is not a number: its JSON has nan/inf here)"
                } else {
                    ""
                };
                return Err(format!("invalid JSON at line {line}: {e}{hint}"));
            }
            None => break,
        }
        let end = start + stream.byte_offset();
        docs.push(start..end);
        pos = next_brace_line(text, end);
    }
    Ok(docs)
}

/// The offset of the first line at or after `from` that begins with `{`.
fn next_brace_line(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if from == 0 && bytes.first() == Some(&b'{') {
        return Some(0);
    }
    // A line start is an offset right after a '\n'.
    let mut i = from;
    while let Some(nl) = text[i..].find('\n') {
        let start = i + nl + 1;
        if bytes.get(start) == Some(&b'{') {
            return Some(start);
        }
        i = start;
    }
    None
}

/// The 1-based line number of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

fn no_json_message(text: &str) -> String {
    let head: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    if head.is_empty() {
        "no JSON document: the output is empty".to_owned()
    } else {
        let mut head = head.join(" | ");
        if head.len() > 300 {
            let mut cut = 300;
            while !head.is_char_boundary(cut) {
                cut -= 1;
            }
            head.truncate(cut);
            head.push('…');
        }
        format!("no JSON document (no line starts with '{{'); fio's output begins: {head}")
    }
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "fio version")]
    fio_version: Option<String>,
    jobs: Option<Vec<RawJob>>,
    client_stats: Option<Vec<RawJob>>,
}

#[derive(Deserialize)]
struct RawJob {
    jobname: Option<String>,
    hostname: Option<String>,
    port: Option<u64>,
    #[serde(default)]
    error: i64,
    read: Option<RawDir>,
    write: Option<RawDir>,
    mixed: Option<RawDir>,
}

#[derive(Deserialize)]
struct RawDir {
    io_bytes: Option<u64>,
    io_kbytes: Option<u64>,
    bw_bytes: Option<u64>,
    bw: Option<u64>,
    iops: Option<f64>,
    runtime: Option<u64>,
    total_ios: Option<u64>,
    clat_ns: Option<RawLat>,
    /// fio < 3.0: latencies in µs.
    clat: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawLat {
    #[serde(rename = "N")]
    n: u64,
    bins: Option<Histogram>,
}

fn convert(raw: RawDoc) -> std::result::Result<FioOutput, String> {
    let fio_version = raw.fio_version.unwrap_or_default();
    if let Some(major) = major_version(&fio_version)
        && major < 3
    {
        return Err(format!(
            "{fio_version}: fio < 3.0 not supported (it reports latencies in µs under `clat`, \
             without json+ bins); use fio ≥ 3.2"
        ));
    }
    let (entries, client_mode) = match (raw.client_stats, raw.jobs) {
        (Some(clients), _) => (clients, true),
        (None, Some(jobs)) => (jobs, false),
        (None, None) => {
            return Err("neither `jobs` nor `client_stats` in fio's JSON".to_owned());
        }
    };
    let mut jobs = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let jobname = entry.jobname.clone().unwrap_or_default();
        if client_mode && jobname == ALL_CLIENTS {
            continue;
        }
        let who = describe(index, &entry);
        let (read, write, read_name) = match entry.mixed {
            Some(mixed) => (Some(mixed), None, "mixed"),
            None => (entry.read, entry.write, "read"),
        };
        jobs.push(JobStats {
            jobname,
            hostname: entry.hostname,
            port: entry.port,
            error: entry.error,
            read: direction(read, &who, read_name)?,
            write: direction(write, &who, "write")?,
        });
    }
    Ok(FioOutput { fio_version, jobs })
}

/// "job 'name' (#index) on host:port" for messages.
fn describe(index: usize, entry: &RawJob) -> String {
    let name = entry.jobname.as_deref().unwrap_or("");
    match (&entry.hostname, entry.port) {
        (Some(host), Some(port)) => format!("job '{name}' (entry #{index}) on {host}:{port}"),
        (Some(host), None) => format!("job '{name}' (entry #{index}) on {host}"),
        _ => format!("job '{name}' (entry #{index})"),
    }
}

fn direction(
    raw: Option<RawDir>,
    who: &str,
    name: &str,
) -> std::result::Result<DirectionStats, String> {
    let Some(raw) = raw else {
        return Ok(DirectionStats::default());
    };
    let Some(lat) = raw.clat_ns else {
        return Err(if raw.clat.is_some() {
            format!("{who}: {name} has `clat` (µs) but no `clat_ns`: fio < 3.0 not supported")
        } else {
            format!("{who}: {name} has no `clat_ns`")
        });
    };
    let clat = lat.bins.unwrap_or_default();
    let sum = clat.total();
    if lat.n > 0 && sum != lat.n {
        return Err(if clat.is_empty() {
            format!(
                "{who}: {name} clat_ns.N is {} but there are no clat_ns.bins: run fio with \
                 --output-format=json+ and clat_percentiles enabled",
                lat.n
            )
        } else {
            format!(
                "{who}: {name} clat_ns.bins add up to {sum} but clat_ns.N is {}",
                lat.n
            )
        });
    }
    let bw_bytes = match (raw.bw_bytes, raw.bw) {
        (Some(bytes), _) => bytes,
        (None, Some(kib)) => kib.saturating_mul(1024),
        (None, None) => return Err(format!("{who}: {name} has neither `bw_bytes` nor `bw`")),
    };
    let io_bytes = match (raw.io_bytes, raw.io_kbytes) {
        (Some(bytes), _) => bytes,
        (None, Some(kib)) => kib.saturating_mul(1024),
        (None, None) => 0,
    };
    Ok(DirectionStats {
        io_bytes,
        bw_bytes,
        iops: raw.iops.unwrap_or(0.0),
        total_ios: raw.total_ios.unwrap_or(0),
        runtime_ms: raw.runtime.unwrap_or(0),
        clat,
        clat_n: lat.n,
    })
}

/// `3` from `fio-3.33`, `2` from `fio-2.2.10-5-g1234`; `None` when the string has no version.
fn major_version(version: &str) -> Option<u64> {
    let rest = version.strip_prefix("fio-").unwrap_or(version);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}
