//! What the trial examples share: finished runs of a matrix, a reproducible generator and rates
//! with their intervals.

#![allow(dead_code)] // each example uses a part

use std::path::{Path, PathBuf};

use iogate::judge::Past;
use iogate::run::Summary;
use iogate::spec::MatrixFile;

/// A small deterministic generator (xorshift): resampled trials are reproducible.
pub struct Rng(pub u64);

impl Rng {
    /// A uniform index below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let mut uniform = || (self.below(1 << 30) as f64 + 0.5) / (1u64 << 30) as f64;
        let (u, v) = (uniform(), uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Prints `k` of `n` as a percentage with its Clopper–Pearson 95 % interval.
pub fn rate(what: &str, k: usize, n: usize) {
    let (lo, hi) = iogate::stats::clopper_pearson(k, n).unwrap_or((f64::NAN, f64::NAN));
    let pct = |x: f64| 100.0 * x;
    println!(
        "{what}: {k} of {n} = {:.1} % (95 % CI {:.1}–{:.1} %)",
        pct(k as f64 / n as f64),
        pct(lo),
        pct(hi)
    );
}

/// The finished runs of `matrix` (this hash) under the results base `results`, newest first.
pub fn runs_of(results: &Path, matrix: &MatrixFile) -> Vec<(PathBuf, Summary)> {
    let dir = results.join(matrix.matrix.name.as_str());
    let mut runs: Vec<(PathBuf, Summary)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        // Finished runs only: the report is written when a run ends.
        .filter(|p| p.is_dir() && !p.is_symlink() && p.join("report.md").exists())
        .filter_map(|p| Summary::load(&p.join("summary.json")).ok().map(|s| (p, s)))
        .filter(|(_, s)| s.matrix_hash == matrix.hash && !s.cells.is_empty())
        .collect();
    runs.sort_by(|a, b| b.0.cmp(&a.0));
    runs
}

/// The history the runner would read from these runs: each run's blocks of each cell.
pub fn past_of<'a>(runs: impl IntoIterator<Item = &'a Summary>) -> Past {
    Past {
        runs: runs
            .into_iter()
            .map(|s| {
                s.cells
                    .iter()
                    .filter(|c| !c.repetitions.is_empty())
                    .map(|c| (c.name.clone(), c.repetitions.clone()))
                    .collect()
            })
            .collect(),
    }
}
