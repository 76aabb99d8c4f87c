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

/// The testbed a run's numbers belong to: `IOGATE_TESTBED`, else the run's host name.
pub fn testbed_name(env: &Environment) -> String {
    settings()
        .testbed
        .clone()
        .or_else(|| Some(env.hostname.clone()).filter(|h| !h.is_empty()))
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
