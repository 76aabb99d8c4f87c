//! A run directory as the report reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::fio::histogram::Histogram;
use crate::judge::GatesFile;
use crate::judge::baseline::reference_of;
use crate::report::trends::{self, Trends};
use crate::report::view::View;
use crate::run::{Environment, Status, Summary};
use crate::spec::{Matrix, MatrixFile};

/// A run directory as the report reads it: `summary.json` (required), and whichever of
/// `environment.json`, `gates.json`, `matrix.yaml` and the cells' `histogram.json` exist.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Summary,
    /// `environment.json` when present, or why it could not be read.
    pub environment: Option<std::result::Result<Environment, String>>,
    /// `gates.json` when present, or why it could not be read.
    pub gates: Option<std::result::Result<GatesFile, String>>,
    /// The matrix as copied into the run (`matrix.yaml`), when it still parses.
    pub matrix: Option<Matrix>,
    /// Merged latency histograms by cell name (passed cells whose `histogram.json` is readable).
    pub histograms: BTreeMap<String, Histogram>,
    /// The run's cells over the last runs of the results history (when it exists).
    pub trends: Trends,
}

impl Run {
    /// Reads a run directory. `dir` may also be a matrix's results directory with a `latest` link.
    pub fn load(dir: &Path) -> Result<Run> {
        let dir = resolve(dir);
        let summary = Summary::load(&dir.join("summary.json"))?;
        let matrix = MatrixFile::load(dir.join("matrix.yaml"))
            .ok()
            .map(|m| m.matrix);
        let mut histograms = BTreeMap::new();
        for cell in &summary.cells {
            let Some(rel) = cell.histogram.as_deref() else {
                continue;
            };
            if cell.status != Status::Passed {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join(rel)) else {
                continue;
            };
            if let Ok(h) = serde_json::from_str::<Histogram>(&text) {
                histograms.insert(cell.name.clone(), h);
            }
        }
        let references: BTreeMap<String, String> = matrix
            .iter()
            .flat_map(|m| {
                m.runtimes.iter().filter_map(|r| {
                    let name = r.name.to_string();
                    reference_of(m, &name).map(|reference| (name, reference))
                })
            })
            .collect();
        let trends = trends::load(
            &crate::history::default_location(&dir),
            &summary.matrix,
            &summary.run_id,
            trends::DEFAULT_LAST,
            &references,
        );
        Ok(Run {
            trends,
            environment: optional_json(&dir.join("environment.json")),
            gates: optional_json(&dir.join(GatesFile::NAME)),
            dir,
            summary,
            matrix,
            histograms,
        })
    }

    /// The tables' view of this run.
    pub fn view(&self) -> View<'_> {
        View::new(&self.summary, self.matrix.as_ref())
    }
}

/// `dir` itself if it holds a `summary.json`, else `dir/latest` if that does.
fn resolve(dir: &Path) -> PathBuf {
    if !dir.join("summary.json").exists() && dir.join("latest").join("summary.json").exists() {
        return dir.join("latest");
    }
    dir.to_owned()
}

/// `None` when the file does not exist; otherwise its content or why it is unreadable.
fn optional_json<T: DeserializeOwned>(path: &Path) -> Option<std::result::Result<T, String>> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(format!("{}: {e}", path.display()))),
        Ok(text) => {
            Some(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())))
        }
    }
}
