//! One-sided tests and the Holm step-down correction over a family of them.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// An estimate of a log quantity with its standard error and degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// The estimate (log scale).
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
    /// Degrees of freedom of the t distribution of `(estimate − true) / se`.
    pub df: f64,
}

impl Estimate {
    /// The one-sided p-value of "the true value is at least `limit`": small when the data show
    /// it is below. 1 when the estimate carries no information (`se` infinite or `df` ≤ 0).
    pub fn p_below(&self, limit: f64) -> f64 {
        if !(self.se.is_finite() && self.df > 0.0) {
            return 1.0;
        }
        if self.se == 0.0 {
            return if self.estimate < limit { 0.0 } else { 1.0 };
        }
        let t = (self.estimate - limit) / self.se;
        StudentsT::new(0.0, 1.0, self.df).map_or(1.0, |d| d.cdf(t))
    }

    /// The one-sided p-value of "the true value is at most `limit`": small when the data show it
    /// is above.
    pub fn p_above(&self, limit: f64) -> f64 {
        Estimate {
            estimate: -self.estimate,
            ..*self
        }
        .p_below(-limit)
    }

    /// The two-sided interval at `confidence` (infinite without information).
    pub fn interval(&self, confidence: f64) -> (f64, f64) {
        if !(self.se.is_finite() && self.df > 0.0) {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let q = StudentsT::new(0.0, 1.0, self.df).map_or(f64::INFINITY, |d| {
            d.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
        });
        (self.estimate - q * self.se, self.estimate + q * self.se)
    }
}

/// Holm's step-down procedure: which of the hypotheses with p-values `p` are rejected at a
/// family-wise error rate `alpha`. Monotone: raising any p-value never adds a rejection, so a
/// hypothesis not tested yet may be given p = 1 without losing the guarantee.
pub fn holm(p: &[f64], alpha: f64) -> Vec<bool> {
    holm_by(p, alpha, |_, level| level)
}

/// Holm's procedure with a threshold per hypothesis: while `r` hypotheses stand, hypothesis `i`
/// is rejected when `p[i] ≤ threshold(i, alpha / r)`. For a test looked at again after each
/// block, the threshold is its group-sequential boundary at that level
/// ([`crate::stats::sequential::threshold`]): the group-sequential Holm procedure (Ye, Li, Liu &
/// Yao, Statistics in Medicine 2013), whose family-wise rate stays `alpha` over every look.
/// `threshold` must not decrease with the level.
pub fn holm_by(p: &[f64], alpha: f64, threshold: impl Fn(usize, f64) -> f64) -> Vec<bool> {
    let mut rejected = vec![false; p.len()];
    loop {
        let standing = rejected.iter().filter(|r| !**r).count();
        if standing == 0 {
            break;
        }
        let level = alpha / standing as f64;
        // A look that spends nothing rejects nothing, not even p = 0 (blocks that agree exactly).
        let now: Vec<usize> = (0..p.len())
            .filter(|&i| {
                !rejected[i] && {
                    let t = threshold(i, level);
                    t > 0.0 && p[i] <= t
                }
            })
            .collect();
        if now.is_empty() {
            break;
        }
        for i in now {
            rejected[i] = true;
        }
    }
    rejected
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn sum_sq(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum()
}

/// The mean of this run's `blocks` (log values, one per block) as an estimate of what the code
/// measures on this testbed, with the noise `history` shows: earlier runs' blocks of the same
/// quantity on the same testbed.
///
/// Two variance components: within a run (blocks scatter around the run's mean; pooled over
/// every run with two or more blocks, this one included, or this run's own when that is larger)
/// and between runs (run means scatter more than their blocks explain: a machine state that
/// lasts a run). The standard error is
/// `√(σ_b² + σ_w²/k)`, degrees of freedom by Welch–Satterthwaite. Without history the data alone
/// decide (σ_b unknown, taken as 0); `None` when nothing estimates the noise (one block, no
/// history).
pub fn run_estimate(blocks: &[f64], history: &[Vec<f64>]) -> Option<Estimate> {
    if blocks.is_empty()
        || blocks
            .iter()
            .chain(history.iter().flatten())
            .any(|v| !v.is_finite())
    {
        return None;
    }
    let k = blocks.len() as f64;
    let (mut ss, mut df_w) = (0.0, 0.0);
    for run in history.iter().map(Vec::as_slice).chain([blocks]) {
        if run.len() >= 2 {
            ss += sum_sq(run);
            df_w += (run.len() - 1) as f64;
        }
    }
    let within = (df_w > 0.0).then(|| ss / df_w);
    // This run's blocks scatter by this run's noise: when they scatter more than the runs
    // pooled, their own variance stands (on its own degrees of freedom). A quiet history must
    // not make a noisy run look precise: within-run σ of one ratio ranged 0.04–0.27 between
    // runs here, and pooling a noisy run with quiet ones failed a row on its limit in 2.5 % of
    // simulated runs against its nominal 0.2 % (docs/gates.md).
    let own = (blocks.len() >= 2).then(|| sum_sq(blocks) / (k - 1.0));
    let (run_within, df_run) = match (within, own) {
        (Some(pooled), Some(own)) if own > pooled => (Some(own), k - 1.0),
        _ => (within, df_w),
    };
    let past: Vec<&Vec<f64>> = history.iter().filter(|r| !r.is_empty()).collect();
    let between = (past.len() >= 2).then(|| {
        let means: Vec<f64> = past.iter().map(|r| mean(r)).collect();
        let var = sum_sq(&means) / (means.len() - 1) as f64;
        let inv_k = mean(
            &past
                .iter()
                .map(|r| 1.0 / r.len() as f64)
                .collect::<Vec<_>>(),
        );
        // What the blocks of a past run explain of its mean's scatter is not between-run noise.
        let var_b = (var - within.unwrap_or(0.0) * inv_k).max(0.0);
        (var_b, (means.len() - 1) as f64)
    });
    let estimate = mean(blocks);
    let (vb, df_b) = between.unwrap_or((0.0, 0.0));
    let vw = run_within.map_or(0.0, |w| w / k);
    let var = vb + vw;
    if within.is_none() && between.is_none() {
        return None;
    }
    let df = if var == 0.0 {
        df_run.max(df_b)
    } else {
        let term = |v: f64, df: f64| if v > 0.0 && df > 0.0 { v * v / df } else { 0.0 };
        let denom = term(vb, df_b) + term(vw, df_run);
        if denom > 0.0 {
            var * var / denom
        } else {
            df_run.max(df_b)
        }
    };
    Some(Estimate {
        estimate,
        se: var.sqrt(),
        df,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_rejects_step_down_and_stops_at_the_first_survivor() {
        // m = 4: thresholds 0.0025, 0.00333, 0.005, 0.01 at alpha 0.01.
        assert_eq!(
            holm(&[0.004, 0.001, 0.5, 0.003], 0.01),
            vec![true, true, false, true]
        );
        assert_eq!(holm(&[0.003, 0.004], 0.01), vec![true, true]);
        assert_eq!(holm(&[0.006, 0.006], 0.01), vec![false, false]);
        assert_eq!(holm(&[], 0.01), Vec::<bool>::new());
    }

    #[test]
    fn holm_by_applies_each_hypothesis_its_own_threshold() {
        // The first is looked at early (a tenth of the level), the second at the level: 0.004
        // misses 0.01/2/10, then nothing rejected lets it go no further.
        let early = |i: usize, level: f64| if i == 0 { level / 10.0 } else { level };
        assert_eq!(holm_by(&[0.004, 0.2], 0.01, early), vec![false, false]);
        // Once the second falls at 0.005, the first stands alone at 0.01/10.
        assert_eq!(holm_by(&[0.0009, 0.005], 0.01, early), vec![true, true]);
        assert_eq!(
            holm_by(&[0.004, 0.001], 0.01, |_, l| l),
            holm(&[0.004, 0.001], 0.01)
        );
    }

    #[test]
    fn holm_is_monotone_in_untested_hypotheses() {
        let with_unknown = holm(&[0.002, 1.0, 1.0], 0.01);
        let with_small = holm(&[0.002, 0.001, 0.001], 0.01);
        assert!(with_unknown[0] && with_small[0]);
        assert_eq!(holm(&[0.004, 1.0, 1.0], 0.01), vec![false, false, false]);
    }

    #[test]
    fn p_below_matches_the_t_distribution() {
        // t = -2.015 with 5 df is the one-sided 5 % point.
        let e = Estimate {
            estimate: -2.015,
            se: 1.0,
            df: 5.0,
        };
        assert!((e.p_below(0.0) - 0.05).abs() < 1e-3);
        assert!((e.p_above(-4.03) - 0.05).abs() < 1e-3);
        let none = Estimate {
            estimate: -5.0,
            se: f64::INFINITY,
            df: 0.0,
        };
        assert_eq!(none.p_below(0.0), 1.0);
    }

    #[test]
    fn run_estimate_without_history_is_the_blocks_alone() {
        let e = run_estimate(&[1.0, 1.2, 0.8], &[]).unwrap();
        assert!((e.estimate - 1.0).abs() < 1e-12);
        assert!((e.se - (0.04f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(e.df, 2.0);
        assert!(run_estimate(&[1.0], &[]).is_none());
    }

    #[test]
    fn run_estimate_adds_the_between_run_scatter_history_shows() {
        // Blocks agree within runs, run means differ by ±0.1: the between-run part dominates.
        let history = vec![
            vec![0.1, 0.1],
            vec![-0.1, -0.1],
            vec![0.1, 0.1],
            vec![-0.1, -0.1],
        ];
        let e = run_estimate(&[0.0, 0.0], &history).unwrap();
        let var_means: f64 = 4.0 * 0.01 / 3.0;
        assert!((e.se - var_means.sqrt()).abs() < 1e-9, "{e:?}");
        assert!((e.df - 3.0).abs() < 1e-9);
        // A run noisier than its history is judged on its own scatter and degrees of freedom.
        let quiet = vec![vec![0.01, -0.01]; 10];
        let noisy = [0.3, -0.3, 0.3, -0.3];
        let e = run_estimate(&noisy, &quiet).unwrap();
        let own: f64 = 4.0 * 0.09 / 3.0;
        assert!((e.se - (own / 4.0).sqrt()).abs() < 1e-9, "{e:?}");
        assert!((e.df - 3.0).abs() < 1e-9, "{e:?}");
        // A run quieter than its history keeps the pooled scatter and its degrees of freedom.
        let e = run_estimate(&[0.01, -0.01], &vec![vec![0.2, -0.2]; 10]).unwrap();
        assert!(e.se > 0.1 && e.df > 10.0, "{e:?}");
        // Single-block history: its scatter is between-run noise as far as anyone can tell.
        let e = run_estimate(&[0.0], &[vec![0.1], vec![-0.1], vec![0.0]]).unwrap();
        assert!((e.se - 0.1).abs() < 1e-9 && e.df == 2.0, "{e:?}");
    }
}
