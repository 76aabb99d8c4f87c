//! The client/server driver every fixture shares: one `fio --client` drives all servers of a cell
//! and sends each its RUN at once. Each server then sets its job up (file checks, `pre_read`)
//! before measuring, so clients start measuring as far apart as their set-ups differ: [`Ran`]
//! says how far apart they ended.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
pub use crate::fio::addr::ServerAddr;
use crate::fio::relay::Relays;

/// The options every `fio --client` of iogate starts with, before its `--client` arguments (so
/// they apply to the client alone): json+ output, and the client's clock read with
/// `clock_gettime`.
///
/// Why the clock: without a clock source fio calibrates the CPU clock (about 0.13 s here) after
/// sending its job files and before it sends RUN; a server's connection process that looks at
/// its socket in that gap sleeps 1 s (`server.c` `handle_connection`, see
/// [`relay`](crate::fio::relay)). The client's clock times only the client (its ETA and
/// timeouts); every server times its jobs with its own clock. Measured against a local server, a
/// 1 s job took 2.29 s per `fio --client` without it and 1.35 s with it (5 invocations each).
pub(crate) const CLIENT_OPTIONS: [&str; 2] =
    ["--output-format=json+", "--clocksource=clock_gettime"];

/// One client of a cell: a server and the job file it runs.
#[derive(Debug, Clone)]
pub struct ClientJob {
    /// The server that runs the job.
    pub server: ServerAddr,
    /// The job file, on the machine running `fio --client`.
    pub job_file: PathBuf,
}

/// What a finished `fio --client` run tells beyond its output.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The address fio's output names each client by, in client order.
    pub reported_as: Vec<ServerAddr>,
    /// How far apart the servers sent their first job results (seen by the relays), in seconds:
    /// each client's measurement ends a fixed time after it starts, so clients that started
    /// measuring this far apart overlapped only `runtime − this`. `None` when a server sent none.
    pub ends_apart_s: Option<f64>,
}

/// Runs `fio --client` against every server at once, through a [`relay`](crate::fio::relay) per
/// server, writing json+ to `output` and fio's stdout/stderr to `log` (after a line per relay
/// naming its server).
/// Fails with fio's tail when fio exits non-zero, writes no JSON, or runs past `timeout`; kills
/// the client and fails with [`Error::Interrupted`] on a signal.
pub fn drive(clients: &[ClientJob], output: &Path, log: &Path, timeout: Duration) -> Result<Ran> {
    let servers: Vec<ServerAddr> = clients.iter().map(|c| c.server.clone()).collect();
    let relays = Relays::start(&servers)?;
    let mut args: Vec<String> = CLIENT_OPTIONS.iter().map(|o| o.to_string()).collect();
    args.push(format!("--output={}", output.display()));
    for (c, relay) in clients.iter().zip(relays.addrs()) {
        args.push(format!("--client={}", relay.fio_arg()));
        args.push(c.job_file.display().to_string());
    }
    std::fs::write(log, relays.describe(&servers)).map_err(|e| Error::io(log, e))?;
    let log_file = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .map_err(|e| Error::io(log, e))?;
    let handle = duct::cmd("fio", &args)
        .stderr_to_stdout()
        .stdout_file(log_file)
        .unchecked()
        .start()
        .map_err(|e| missing_fio_or(e, "could not start fio --client"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Err(interrupted) = crate::sys::interrupt::check() {
            let _ = handle.kill();
            return Err(interrupted);
        }
        // Wakes as soon as fio exits (SIGCHLD); looks at signals and the deadline every 50 ms.
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(50));
        match handle.wait_timeout(slice) {
            Ok(Some(out)) => break Some(out.status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Fio {
                    message: format!("waiting for fio --client: {e}"),
                    tail: tail_of(log),
                });
            }
        }
    };
    if status.is_none() {
        let _ = handle.kill();
    }
    if let Some(why) = relays.unpromoted() {
        use std::io::Write as _;
        let _ = writeln!(
            &std::fs::OpenOptions::new()
                .append(true)
                .open(log)
                .map_err(|e| Error::io(log, e))?,
            "iogate: the relays handed the jobs over at normal priority ({why}); a server may \
             have slept 1 s before its run: run as root or with CAP_SYS_NICE"
        );
    }
    let relayed = relays.addrs().to_vec();
    let ends_apart_s = relays.ends_apart().map(|d| d.as_secs_f64());
    let relay_note = match relays.errors() {
        errors if errors.is_empty() => String::new(),
        errors => format!(" ({})", errors.join("; ")),
    };
    drop(relays);
    let Some(status) = status else {
        return Err(Error::Fio {
            message: format!(
                "fio --client ran past its {timeout:?} limit and was killed{relay_note}"
            ),
            tail: tail_of(log),
        });
    };
    // fio's client exits 0 even when a server disappears mid-run; a job error or a missing
    // final document shows up in the output, which the caller parses.
    if !status.success() {
        return Err(Error::Fio {
            message: format!("fio --client exited with {status}{relay_note}"),
            tail: tail_of(log) + &tail_of(output),
        });
    }
    Ok(Ran {
        reported_as: relayed,
        ends_apart_s,
    })
}

/// The last lines of a file, for error messages.
pub fn tail_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n") + "\n"
}

/// Maps "fio not found" to a clear [`Error::Missing`].
pub fn missing_fio_or(e: std::io::Error, context: &str) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Missing {
            what: "fio".into(),
            how: "install it: `apt-get install fio` (or run `.ci/setup`)".into(),
        }
    } else {
        Error::Fio {
            message: format!("{context}: {e}"),
            tail: String::new(),
        }
    }
}

/// `fio --version`, or a [`Error::Missing`] naming how to install it.
pub fn version() -> Result<String> {
    duct::cmd!("fio", "--version")
        .stderr_null()
        .read()
        .map(|v| v.trim().to_owned())
        .map_err(|e| missing_fio_or(e, "fio --version"))
}
