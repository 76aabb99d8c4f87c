//! `environment.json`: the machine, tools and runtimes a run used.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::settings::settings;

/// Base directory for results: `$IOGATE_RESULTS`, else `$CARGO_TARGET_DIR/iogate`, else `target/iogate`.
pub(crate) fn results_base() -> PathBuf {
    settings().results_base()
}

/// `environment.json`: the machine and tools a run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// iogate version.
    pub iogate: String,
    /// `uname -r`.
    pub kernel: String,
    /// `fio --version` (or why it is missing).
    pub fio: String,
    /// Host name of the machine running the harness.
    pub hostname: String,
    /// The testbed the run's numbers belong to (`IOGATE_TESTBED`, else the host name), as the
    /// history and the baselines key them. Absent in runs written before it was recorded: their
    /// host name is their testbed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testbed: Option<String>,
    /// CPUs available to the harness.
    pub cpus: usize,
    /// Matrix name.
    pub matrix: String,
    /// Matrix file as given.
    pub matrix_path: String,
    /// SHA-256 of the matrix file.
    pub matrix_hash: String,
    /// Run id.
    pub run_id: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Each runtime as its fixture found it, or why it is unavailable.
    pub runtimes: BTreeMap<String, serde_json::Value>,
}
