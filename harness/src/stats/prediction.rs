//! A new observation against the mean of earlier ones: a one-sided prediction test on the log
//! scale ("is the new value worse than the earlier ones by more than a practical threshold?").

use crate::stats::family::Estimate;

/// How far a new log value lies from the mean of `n` earlier log values whose sample standard
/// deviation is `sigma`: estimate `value − mean`, standard error `sigma·√(1 + 1/n)` (the new
/// value's own noise plus the mean's), `n − 1` degrees of freedom. `None` for fewer than two
/// earlier values or values that are not finite.
pub fn prediction_gap(value: f64, mean: f64, sigma: f64, n: usize) -> Option<Estimate> {
    if n < 2 || !(value.is_finite() && mean.is_finite() && sigma.is_finite() && sigma >= 0.0) {
        return None;
    }
    Some(Estimate {
        estimate: value - mean,
        se: sigma * (1.0 + 1.0 / n as f64).sqrt(),
        df: (n - 1) as f64,
    })
}

/// One session's summary of a log quantity: the mean, sample standard deviation and number of
/// its runs. A session is a stretch of runs that share the machine's state; between sessions the
/// machine drifts more than within one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session {
    /// Mean of the session's logs.
    pub mean: f64,
    /// Sample standard deviation of the session's logs (0 for a single run).
    pub sigma: f64,
    /// Runs.
    pub n: usize,
}

impl Session {
    /// The mean, sample standard deviation (0 for one value) and number of `logs`; `None` for
    /// none.
    pub fn of(logs: &[f64]) -> Option<Session> {
        let n = logs.len();
        if n == 0 {
            return None;
        }
        let mean = logs.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            logs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Session {
            mean,
            sigma: var.sqrt(),
            n,
        })
    }
}

/// How far a new log value, from a run in a session not yet seen, lies from the mean of the
/// `sessions`' means: a two-level (random-effects) prediction, runs within sessions and sessions
/// drawn from the testbed's drift (Kalibera & Jones, "Rigorous benchmarking in reasonable time").
///
/// With k sessions, the sample variance S² of their means (k − 1 df), the pooled within-session
/// variance s² (N − k df) and h the mean of 1/nⱼ, the new value's variance about the mean of means
/// is estimated by (1 + 1/k)·S² + (1 − h)·s² (unbiased for σ_b²(1 + 1/k) + σ_w²(1 + h/k)), with
/// Satterthwaite's degrees of freedom; never below the no-drift variance s²(1 + h/k) on N − k df.
/// A single session is [`prediction_gap`] over its runs: it cannot tell the drift between sessions.
/// `None` when that has no gap, or for values that are not finite.
pub fn session_prediction_gap(value: f64, sessions: &[Session]) -> Option<Estimate> {
    let finite = |s: &Session| s.mean.is_finite() && s.sigma.is_finite() && s.sigma >= 0.0;
    if !value.is_finite() || sessions.iter().any(|s| !finite(s) || s.n == 0) {
        return None;
    }
    match sessions {
        [] => None,
        [one] => prediction_gap(value, one.mean, one.sigma, one.n),
        _ => {
            let k = sessions.len() as f64;
            let runs: usize = sessions.iter().map(|s| s.n).sum();
            let df_within = (runs - sessions.len()) as f64;
            let within = if df_within > 0.0 {
                sessions
                    .iter()
                    .map(|s| (s.n - 1) as f64 * s.sigma.powi(2))
                    .sum::<f64>()
                    / df_within
            } else {
                0.0
            };
            let mean = sessions.iter().map(|s| s.mean).sum::<f64>() / k;
            let between = sessions
                .iter()
                .map(|s| (s.mean - mean).powi(2))
                .sum::<f64>()
                / (k - 1.0);
            let h = sessions.iter().map(|s| 1.0 / s.n as f64).sum::<f64>() / k;
            let a = (1.0 + 1.0 / k) * between;
            let b = (1.0 - h) * within;
            let no_drift = within * (1.0 + h / k);
            let (var, df) = if df_within > 0.0 && a + b <= no_drift {
                (no_drift, df_within)
            } else {
                let spread = a.powi(2) / (k - 1.0)
                    + if df_within > 0.0 {
                        b.powi(2) / df_within
                    } else {
                        0.0
                    };
                let df = if spread > 0.0 {
                    (a + b).powi(2) / spread
                } else {
                    k - 1.0
                };
                (a + b, df)
            };
            Some(Estimate {
                estimate: value - mean,
                se: var.sqrt(),
                df,
            })
        }
    }
}

/// The one-sided p-value of "the new value is not lower than the earlier ones by more than
/// `threshold` (a fraction, 0.05 = 5 %)": the Student-t probability of a gap at most this low
/// when the true gap is `ln(1 − threshold)`. Small: evidence the new value is lower by more than
/// the threshold.
pub fn p_lower_by(gap: &Estimate, threshold: f64) -> f64 {
    gap.p_below((1.0 - threshold).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_matches_the_t_distribution() {
        // n = 8 → df 7; se = 0.1·√(9/8). A gap putting t at −2.3646 (t₇ at 0.025) has p 0.025.
        let se = 0.1 * (9.0f64 / 8.0).sqrt();
        let threshold = 0.05;
        let value = -2.3646 * se + (1.0f64 - threshold).ln();
        let gap = prediction_gap(value, 0.0, 0.1, 8).unwrap();
        assert_eq!(gap.df, 7.0);
        assert!((gap.se - se).abs() < 1e-12);
        let p = p_lower_by(&gap, threshold);
        assert!((p - 0.025).abs() < 1e-4, "{p}");
        // On the threshold itself: t = 0, p = ½.
        let at = prediction_gap((0.95f64).ln() + 3.0, 3.0, 0.2, 5).unwrap();
        assert!((p_lower_by(&at, threshold) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn p_value_falls_as_the_value_drops_and_as_history_grows() {
        let p =
            |value: f64, n: usize| p_lower_by(&prediction_gap(value, 0.0, 0.1, n).unwrap(), 0.05);
        let values = [0.2, 0.0, -0.1, -0.2, -0.4, -0.8];
        for pair in values.windows(2) {
            assert!(p(pair[1], 10) < p(pair[0], 10), "{pair:?}");
        }
        // The same drop is clearer against a longer history.
        assert!(p(-0.3, 20) < p(-0.3, 3));
        // A larger threshold needs a larger drop.
        let gap = prediction_gap(-0.2, 0.0, 0.1, 10).unwrap();
        assert!(p_lower_by(&gap, 0.1) > p_lower_by(&gap, 0.05));
    }

    #[test]
    fn too_little_history_gives_no_gap() {
        assert!(prediction_gap(1.0, 1.0, 0.1, 1).is_none());
        assert!(prediction_gap(f64::NAN, 1.0, 0.1, 5).is_none());
        // No spread: the gap alone decides.
        let flat = prediction_gap(-0.1, 0.0, 0.0, 5).unwrap();
        assert_eq!(p_lower_by(&flat, 0.05), 0.0);
        let flat = prediction_gap(-0.01, 0.0, 0.0, 5).unwrap();
        assert_eq!(p_lower_by(&flat, 0.05), 1.0);
    }
    use crate::stats::noise::Noise;

    fn summary(logs: &[f64]) -> Session {
        Session::of(logs).unwrap()
    }

    #[test]
    fn one_session_is_the_single_level_prediction() {
        let one = Session {
            mean: 0.3,
            sigma: 0.1,
            n: 8,
        };
        assert_eq!(
            session_prediction_gap(0.1, &[one]),
            prediction_gap(0.1, 0.3, 0.1, 8)
        );
        assert!(session_prediction_gap(0.1, &[]).is_none());
        assert!(session_prediction_gap(f64::NAN, &[one, one]).is_none());
    }

    #[test]
    fn sessions_of_one_run_are_runs_of_one_level() {
        let logs = [0.1, -0.2, 0.05, 0.3];
        let sessions: Vec<Session> = logs.iter().map(|&v| summary(&[v])).collect();
        let two_level = session_prediction_gap(-0.4, &sessions).unwrap();
        let all = summary(&logs);
        let one_level = prediction_gap(-0.4, all.mean, all.sigma, all.n).unwrap();
        assert!((two_level.se - one_level.se).abs() < 1e-12);
        assert!((two_level.df - one_level.df).abs() < 1e-9);
        assert!((two_level.estimate - one_level.estimate).abs() < 1e-12);
    }

    #[test]
    fn sessions_that_agree_keep_the_within_session_noise() {
        let a = Session {
            mean: 0.0,
            sigma: 0.1,
            n: 10,
        };
        let gap = session_prediction_gap(-0.3, &[a, a]).unwrap();
        assert_eq!(gap.df, 18.0);
        assert!((gap.se - 0.1 * (1.0f64 + 0.1 / 2.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn sessions_that_disagree_widen_the_prediction_and_lose_degrees_of_freedom() {
        let a = Session {
            mean: 0.0,
            sigma: 0.05,
            n: 10,
        };
        let b = Session { mean: 0.5, ..a };
        let gap = session_prediction_gap(0.25, &[a, b]).unwrap();
        // Between-session spread dominates: about (1 + 1/2)·0.125, on barely more than 1 df.
        assert!(gap.se > 0.4, "{gap:?}");
        assert!((1.0..1.1).contains(&gap.df), "{gap:?}");
        // A drop that would be damning within one session is not shown across these two.
        let within = prediction_gap(-0.3, 0.0, 0.05, 10).unwrap();
        assert!(p_lower_by(&within, 0.05) < 1e-3);
        let across = session_prediction_gap(-0.3 + 0.25, &[a, b]).unwrap();
        assert!(p_lower_by(&across, 0.05) > 0.1);
    }

    /// The claim the baselines rest on: a new session's run, drawn from the same two-level model,
    /// falls below the one-sided 5 % bound about 5 % of the time (Satterthwaite is approximate:
    /// 3.5–6.5 % over 20 000 draws), where a bound from one session's runs, which cannot see
    /// the drift, alarms several times as often.
    #[test]
    fn a_new_session_alarms_at_the_nominal_rate() {
        let mut noise = Noise(7);
        let (between, within, k, n) = (0.15, 0.05, 4, 10);
        let draws = 20_000;
        let (mut two_level, mut one_level) = (0, 0);
        for _ in 0..draws {
            let mut sessions = Vec::new();
            for _ in 0..k {
                let shift = noise.normal(between);
                let logs: Vec<f64> = (0..n).map(|_| shift + noise.normal(within)).collect();
                sessions.push(summary(&logs));
            }
            let new = noise.normal(between) + noise.normal(within);
            // Threshold 0: the plain one-sided test of "lower than predicted".
            let gap = session_prediction_gap(new, &sessions).unwrap();
            if p_lower_by(&gap, 0.0) < 0.05 {
                two_level += 1;
            }
            let last = sessions[k - 1];
            let flat = prediction_gap(new, last.mean, last.sigma, last.n).unwrap();
            if p_lower_by(&flat, 0.0) < 0.05 {
                one_level += 1;
            }
        }
        let rate = two_level as f64 / draws as f64;
        assert!((0.035..0.065).contains(&rate), "two-level: {rate}");
        let flat = one_level as f64 / draws as f64;
        assert!(flat > 2.0 * rate, "single level: {flat} against {rate}");
    }
}
