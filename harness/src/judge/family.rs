//! A run's family of tests — every gate row and baseline row — decided together: Holm at the
//! matrix's `judge.false_alarms`, each gate row at its group-sequential boundary for the blocks it
//! has (it is looked at again after every block), each baseline row at its Holm level (one look).

use crate::spec::JudgeSpec;
use crate::stats::holm_by;
use crate::stats::sequential::{self, Spending};

/// One test of a run's family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    /// One-sided p-value of "not worse than the bound by more than the threshold".
    pub p: f64,
    /// The blocks behind it for a test looked at after every block (a gate row); `None` for one
    /// look (a baseline row: more blocks of this run do not change it).
    pub blocks: Option<usize>,
}

/// How a gate row's share of the false-alarm level is spent over its looks: Hwang–Shih–DeCani
/// with γ = −2, between O'Brien–Fleming (nearly nothing early) and Pocock (even). Simulated on
/// this machine's block noise (`gate_power`, docs/gates.md), with looks planned to 64 blocks it
/// fails a 2× slowdown after a median 7 blocks instead of O'Brien–Fleming's 15, a 30 % one after
/// 14 instead of 22, and keeps the power for 20 % (97 % against 98 %); a row on its limit failed
/// in 4 of 3000 runs against a nominal 0.2 %.
pub(crate) const FAIL_SPENDING: Spending = Spending::HwangShihDecani(-2);

/// Which of `tests` the family rejects under `judge`: looks planned after each block from
/// `first_blocks` (the workload's `repetitions`) to `judge.max_blocks`, α spent over them
/// ([`sequential::threshold`]).
pub fn rejections(tests: &[Test], judge: &JudgeSpec, first_blocks: u32) -> Vec<bool> {
    let (first, last) = (first_blocks as usize, judge.max_blocks as usize);
    let p: Vec<f64> = tests.iter().map(|t| t.p).collect();
    holm_by(&p, judge.false_alarms.get(), |i, level| {
        match tests[i].blocks {
            Some(k) => sequential::threshold(FAIL_SPENDING, level, first, last, k),
            None => level,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(p: f64, blocks: usize) -> Test {
        Test {
            p,
            blocks: Some(blocks),
        }
    }

    fn baseline(p: f64) -> Test {
        Test { p, blocks: None }
    }

    #[test]
    fn a_gate_row_needs_more_evidence_at_an_early_look_than_at_the_last() {
        let judge = JudgeSpec {
            max_blocks: 16,
            ..JudgeSpec::default()
        };
        // Two tests at 1 %: the Holm level 0.5 % per test at the first step, spent over looks
        // 2..16 (nominal thresholds 2.2e-4 at 2 blocks, 5.3e-4 at 8, 2.4e-3 at 16).
        let tests = |p, k| [gate(p, k), baseline(0.5)];
        assert_eq!(rejections(&tests(0.002, 16), &judge, 2), vec![true, false]);
        assert_eq!(rejections(&tests(0.002, 8), &judge, 2), vec![false, false]);
        assert_eq!(rejections(&tests(4e-4, 8), &judge, 2), vec![true, false]);
        assert_eq!(rejections(&tests(4e-4, 2), &judge, 2), vec![false, false]);
        assert_eq!(rejections(&tests(1e-4, 2), &judge, 2), vec![true, false]);
    }

    #[test]
    fn a_baseline_row_and_a_single_look_gate_are_tested_at_their_holm_level() {
        let judge = JudgeSpec {
            max_blocks: 3,
            ..JudgeSpec::default()
        };
        // Blocks from 3 to 3: one planned look.
        let tests = [gate(0.005, 3), baseline(0.0049)];
        assert_eq!(rejections(&tests, &judge, 3), vec![true, true]);
        assert_eq!(
            rejections(&[gate(0.006, 3), baseline(0.006)], &judge, 3),
            vec![false, false]
        );
    }
}
