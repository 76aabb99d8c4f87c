//! Ctrl-C and SIGTERM: the first stops the run in an orderly way, the second exits at once.
//!
//! [`install`] starts a thread that receives SIGINT and SIGTERM (the process no longer dies at the
//! first one). The first signal is only recorded: waits that start or watch work (a fio client,
//! a server or VM coming up, a Kubernetes cell) see it through [`check`] or [`wait`] and return
//! [`Error::Interrupted`], and the drop guards that already cover failures and panics tear down
//! what the cell owned. The session records the interrupted cell, no new cell starts, the report
//! of what finished is written, and the entry point exits with [`exit_code`] (130 or 143).
//!
//! A second signal prints what is still held ([`hold`]) and exits at once; so does the process
//! when cleanup overruns [`CLEANUP_LIMIT`]. The next run's sweep and `iogate clean` remove the rest.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::error::{Error, Result};

/// How long the process may spend tearing down and reporting after the first signal before it
/// exits regardless (what is still held is printed; `iogate clean` removes it).
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(30);

/// The first signal received (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Wakes async waits ([`wait`]) when the first signal arrives.
fn notify() -> &'static tokio::sync::Notify {
    static NOTIFY: OnceLock<tokio::sync::Notify> = OnceLock::new();
    NOTIFY.get_or_init(tokio::sync::Notify::new)
}

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C, or the first step of a CI cancellation.
    Interrupt,
    /// `kill`, a CI timeout or cancellation, a container stop.
    Terminate,
}

impl Signal {
    fn from_raw(raw: i32) -> Option<Signal> {
        match raw {
            SIGINT => Some(Signal::Interrupt),
            SIGTERM => Some(Signal::Terminate),
            _ => None,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's exit status for a process ended by this signal: 130 or 143.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 128 + SIGINT as u8,
            Signal::Terminate => 128 + SIGTERM as u8,
        }
    }
}

/// Starts handling SIGINT and SIGTERM for this process (once; later calls do nothing). Without
/// it a signal ends the process at once, as before.
pub fn install() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
                .map_err(|e| format!("cannot handle SIGINT and SIGTERM: {e}"))?;
            std::thread::Builder::new()
                .name("iogate-signals".into())
                .spawn(move || {
                    for raw in signals.forever() {
                        on_signal(raw);
                    }
                })
                .map_err(|e| format!("cannot start the signal thread: {e}"))?;
            Ok(())
        })
        .clone()
        .map_err(|message| Error::Fixture {
            fixture: "process",
            message,
        })
}

fn on_signal(raw: i32) {
    let Some(signal) = Signal::from_raw(raw) else {
        return;
    };
    let first = RECEIVED
        .compare_exchange(0, raw, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first {
        eprintln!(
            "\niogate: {} received: stopping the running cell and removing what it started \
             (send it again to exit at once)",
            signal.name()
        );
        notify().notify_waiters();
        let code = signal.exit_code();
        let _ = std::thread::Builder::new()
            .name("iogate-cleanup-limit".into())
            .spawn(move || {
                std::thread::sleep(CLEANUP_LIMIT);
                exit_now(&format!("cleanup took longer than {CLEANUP_LIMIT:?}"), code);
            });
    } else {
        let code = received().unwrap_or(signal).exit_code();
        exit_now(&format!("{} received again", signal.name()), code);
    }
}

/// Prints what is still held and why the process gives up on it, then exits with `code`.
fn exit_now(why: &str, code: u8) -> ! {
    let held = held();
    if held.is_empty() {
        eprintln!("iogate: {why}: exiting now");
    } else {
        eprintln!("iogate: {why}: exiting now; still being removed:");
        for what in held {
            eprintln!("  - {what}");
        }
        eprintln!("`iogate clean` (or the next run's sweep) removes what is left");
    }
    std::process::exit(i32::from(code))
}

/// The first stopping signal this process received, if any.
pub fn received() -> Option<Signal> {
    Signal::from_raw(RECEIVED.load(Ordering::SeqCst))
}

/// `Err(Error::Interrupted)` once a signal has arrived: for loops that start or wait for work.
pub fn check() -> Result<()> {
    match received() {
        Some(signal) => Err(Error::Interrupted {
            signal: signal.name(),
        }),
        None => Ok(()),
    }
}

/// Completes when a signal arrives (at once if one has): race it against a long async wait.
pub async fn wait() -> Error {
    loop {
        let notified = notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(signal) = received() {
            return Error::Interrupted {
                signal: signal.name(),
            };
        }
        notified.await;
    }
}

/// The process exit code for an interrupted run (130 or 143), or `None` when no signal came.
pub fn exit_code() -> Option<u8> {
    received().map(Signal::exit_code)
}

/// Something this process made on the machine (a namespace, a container, a VM), listed while its
/// [`Held`] lives: what a second signal says it leaves behind.
pub fn hold(what: String) -> Held {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    lock(holdings()).insert(id, what);
    Held(id)
}

/// Keeps an entry of [`held`] until dropped: a field declared after what it describes, so it goes
/// once that is removed.
#[derive(Debug)]
pub struct Held(u64);

impl Drop for Held {
    fn drop(&mut self) {
        lock(holdings()).remove(&self.0);
    }
}

/// What this process holds now, oldest first.
pub fn held() -> Vec<String> {
    lock(holdings()).values().cloned().collect()
}

fn holdings() -> &'static Mutex<BTreeMap<u64, String>> {
    static HOLDINGS: OnceLock<Mutex<BTreeMap<u64, String>>> = OnceLock::new();
    HOLDINGS.get_or_init(Mutex::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_shells() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::from_raw(SIGTERM), Some(Signal::Terminate));
        assert_eq!(Signal::from_raw(1), None);
    }

    #[test]
    fn holdings_are_listed_while_held() {
        let a = hold("namespace test-a".into());
        let b = hold("container test-b".into());
        let now = held();
        assert!(now.contains(&"namespace test-a".to_owned()), "{now:?}");
        drop(a);
        let now = held();
        assert!(!now.contains(&"namespace test-a".to_owned()), "{now:?}");
        assert!(now.contains(&"container test-b".to_owned()), "{now:?}");
        drop(b);
    }
}
