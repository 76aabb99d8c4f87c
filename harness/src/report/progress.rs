//! Progress of a long run, on stderr: one line per cell as it starts, with its index, the time so
//! far and an estimate of what is left (from the cells finished so far, or from the workloads'
//! nominal durations before the first one finishes).

use std::time::{Duration, Instant};

use crate::units::fmt_duration;

/// Counts cells through a run and makes their progress lines.
#[derive(Debug, Clone)]
pub struct Progress {
    total: usize,
    started: usize,
    finished: usize,
    spent: Duration,
    nominal: Option<Duration>,
    clock: Instant,
}

impl Progress {
    /// Progress over `total` cells, timed from now.
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            started: 0,
            finished: 0,
            spent: Duration::ZERO,
            nominal: None,
            clock: Instant::now(),
        }
    }

    /// The nominal duration of all `total` cells (fio ramp + runtime × repetitions), used for the
    /// estimate until a cell has finished.
    pub fn with_nominal(mut self, all_cells: Duration) -> Progress {
        self.nominal = Some(all_cells);
        self
    }

    /// The number of cells expected.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Records that `name` starts and returns its line:
    /// `[3/32] smoke/runc/c1/read · 1m02s elapsed · ~3m10s left`.
    pub fn start(&mut self, name: &str) -> String {
        self.line(name, self.clock.elapsed())
    }

    /// The line for a cell starting after `elapsed` (what [`Progress::start`] prints).
    pub fn line(&mut self, name: &str, elapsed: Duration) -> String {
        self.started += 1;
        let total = self.total.max(self.started);
        let left = total.saturating_sub(self.finished);
        let estimate = if self.finished > 0 {
            let per_cell = self.spent / self.finished as u32;
            format!("~{} left", fmt_duration(per_cell * left as u32))
        } else if let Some(all) = self.nominal.filter(|_| self.total > 0) {
            format!(
                "≈{} left (nominal)",
                fmt_duration(all / self.total as u32 * left as u32)
            )
        } else {
            "estimate after the first cell".to_owned()
        };
        format!(
            "[{}/{}] {name} · {} elapsed · {estimate}",
            self.started,
            total,
            fmt_duration(elapsed)
        )
    }

    /// Records that a cell finished after `took`.
    pub fn finish(&mut self, took: Duration) {
        self.finished += 1;
        self.spent += took;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_estimate_from_finished_cells() {
        let mut p = Progress::new(4).with_nominal(Duration::from_secs(40));
        assert_eq!(
            p.line("m/a", Duration::ZERO),
            "[1/4] m/a · 0s elapsed · ≈40s left (nominal)"
        );
        p.finish(Duration::from_secs(30));
        assert_eq!(
            p.line("m/b", Duration::from_secs(30)),
            "[2/4] m/b · 30s elapsed · ~1m30s left"
        );
        p.finish(Duration::from_secs(10));
        assert_eq!(
            p.line("m/c", Duration::from_secs(40)),
            "[3/4] m/c · 40s elapsed · ~40s left"
        );
    }

    #[test]
    fn without_nominal_or_past_total() {
        let mut p = Progress::new(1);
        assert_eq!(
            p.line("x", Duration::from_secs(3700)),
            "[1/1] x · 1h01m elapsed · estimate after the first cell"
        );
        p.finish(Duration::from_secs(1));
        assert_eq!(
            p.line("y", Duration::ZERO),
            "[2/2] y · 0s elapsed · ~1s left"
        );
    }
}
