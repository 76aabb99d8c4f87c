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
}
