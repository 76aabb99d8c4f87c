//! Importing existing run directories into the history.

use std::path::Path;

use crate::error::Result;
use crate::history::recorder::run_entry;
use crate::history::store::{History, RunEntry};
use crate::history::testbed::Testbed;
use crate::run::{Environment, Summary};

/// Records the run in `dir` (its `summary.json`, and `environment.json` when present) and
/// returns its entry and how many cells it holds (the commit
/// it measured is not known). Importing a run again changes nothing.
pub fn import_run(history: &History, dir: &Path) -> Result<(RunEntry, usize)> {
    let summary = Summary::load(&dir.join("summary.json"))?;
    let env_path = dir.join("environment.json");
    let env: Option<Environment> = std::fs::read_to_string(&env_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let env = env.unwrap_or_else(|| Environment {
        iogate: String::new(),
        kernel: String::new(),
        fio: String::new(),
        hostname: String::new(),
        testbed: None,
        cpus: 0,
        matrix: summary.matrix.clone(),
        matrix_path: String::new(),
        matrix_hash: summary.matrix_hash.clone(),
        run_id: summary.run_id.clone(),
        started_at: summary
            .cells
            .iter()
            .map(|c| c.started_at.clone())
            .min()
            .unwrap_or_default(),
        runtimes: Default::default(),
    });
    let mut fingerprint = Testbed::of(&env);
    if env.cpus == 0 {
        fingerprint.cpus = None;
    }
    let run = RunEntry {
        git_commit: None,
        ..run_entry(&env, dir, fingerprint)
    };
    history.check_testbed(&run.testbed, &run.fingerprint)?;
    history.record(&run, &summary.cells)?;
    Ok((run, summary.cells.len()))
}
