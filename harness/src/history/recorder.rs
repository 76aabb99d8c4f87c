//! Recording a run as its cells finish. The store failing (unreachable, locked, corrupt) is said
//! once per process and never fails a cell: the run directory keeps every measurement.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::history::store::{History, Location, RunEntry};
use crate::history::testbed::Testbed;
use crate::run::{CellRecord, Environment};
use crate::settings::settings;

/// `IOGATE_HISTORY`, else `history.sqlite` in the results base of the run in `run_dir`
/// (`<base>/<matrix>/<run-id>`).
pub fn default_location(run_dir: &Path) -> Location {
    match &settings().history {
        Some(text) => Location::parse(text),
        None => Location::Sqlite(
            run_dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."))
                .join("history.sqlite"),
        ),
    }
}

/// The history's entry for the run `env` describes, in `dir`, on `fingerprint`.
pub fn run_entry(env: &Environment, dir: &Path, fingerprint: Testbed) -> RunEntry {
    RunEntry {
        run_id: env.run_id.clone(),
        matrix: env.matrix.clone(),
        matrix_hash: env.matrix_hash.clone(),
        started_at: env.started_at.clone(),
        git_commit: git_commit(),
        testbed: testbed_name(env),
        fingerprint,
        dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()),
    }
}

/// The testbed a run's numbers belong to: the one its `environment.json` records (the run's
/// `IOGATE_TESTBED`, else its host name), else its host name. Never this process's setting: a run
/// imported or judged later keeps the testbed it was measured on.
pub fn testbed_name(env: &Environment) -> String {
    env.testbed
        .clone()
        .or_else(|| Some(env.hostname.clone()))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unnamed".into())
}

/// `GITHUB_SHA`, else `git rev-parse HEAD` in the working directory, once per process.
fn git_commit() -> Option<String> {
    static COMMIT: OnceLock<Option<String>> = OnceLock::new();
    COMMIT
        .get_or_init(|| {
            settings().git_commit.clone().or_else(|| {
                let out = std::process::Command::new("git")
                    .args(["rev-parse", "HEAD"])
                    .stderr(std::process::Stdio::null())
                    .output()
                    .ok()?;
                let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
                (out.status.success() && !commit.is_empty()).then_some(commit)
            })
        })
        .clone()
}

/// One store as this process uses it.
struct Opened {
    history: Option<History>,
    complained: bool,
    testbed_checked: HashSet<(String, String)>,
}

/// Records a finished cell of the run in `run_dir` in its history (see [`default_location`]).
/// Never fails: a store that cannot be used is reported on stderr, once per process.
pub fn record_finished_cell(run_dir: &Path, env: &Environment, cell: &CellRecord) {
    static STORES: OnceLock<Mutex<HashMap<Location, Opened>>> = OnceLock::new();
    let location = default_location(run_dir);
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let opened = stores
        .entry(location.clone())
        .or_insert_with(|| match History::open(&location) {
            Ok(history) => Opened {
                history: Some(history),
                complained: false,
                testbed_checked: HashSet::new(),
            },
            Err(e) => {
                complain(&e);
                Opened {
                    history: None,
                    complained: true,
                    testbed_checked: HashSet::new(),
                }
            }
        });
    let Some(history) = &opened.history else {
        return;
    };
    let run = run_entry(env, run_dir, Testbed::of(env).on_this_machine());
    let mut result = Ok(());
    if opened
        .testbed_checked
        .insert((run.run_id.clone(), run.matrix.clone()))
    {
        match history.check_testbed(&run.testbed, &run.fingerprint) {
            Ok(changes) if !changes.is_empty() => eprintln!(
                "iogate: testbed `{}` is not what it was when last recorded: {}",
                run.testbed,
                changes.join("; ")
            ),
            Ok(_) => {}
            Err(e) => result = Err(e),
        }
    }
    let result = result.and_then(|()| history.record(&run, std::slice::from_ref(cell)));
    if let Err(e) = result
        && !opened.complained
    {
        opened.complained = true;
        complain(&e);
    }
}

fn complain(e: &crate::Error) {
    eprintln!(
        "iogate: {e}\niogate: cells are not recorded in the history; the run directory keeps them \
         all (`iogate history import DIR` adds them later)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(testbed: Option<&str>, hostname: &str) -> Environment {
        serde_json::from_value(serde_json::json!({
            "iogate": "0.1.0", "kernel": "6.1.0", "fio": "fio-3.33", "hostname": hostname,
            "testbed": testbed, "cpus": 2, "matrix": "m", "matrix_path": "m.yaml",
            "matrix_hash": "h", "run_id": "r", "started_at": "2026-01-01T00:00:00Z",
            "runtimes": {}
        }))
        .expect("an environment")
    }

    /// A run's testbed is what it recorded, else its host name; never this process's
    /// `IOGATE_TESTBED` (CI sets one while its tests import runs of other testbeds).
    #[test]
    fn a_run_keeps_the_testbed_it_was_measured_on() {
        assert_eq!(testbed_name(&environment(Some("lab1"), "node7")), "lab1");
        assert_eq!(testbed_name(&environment(None, "node7")), "node7");
        assert_eq!(testbed_name(&environment(None, "")), "unnamed");
    }
}
