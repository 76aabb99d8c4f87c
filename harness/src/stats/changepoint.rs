//! Change points of a series: E-divisive means with a Student-t significance test, as Hunter and
//! Apache Otava do it (Fleming et al., "Hunter: Using Change Point Detection to Hunt for
//! Performance Regressions", ICPE 2023; Matteson and James, "A Nonparametric Approach for
//! Multiple Change Point Analysis of Multivariate Data", 2014).
//!
//! Two steps, both deterministic:
//! 1. split: windows of `window` points, each advanced by half a window (or to the last change
//!    point found in it), are bisected recursively at the index maximising the divergence
//!    `Q̂` between the two sides, for as long as a two-sided Student-t test of the sides is
//!    significant at a relaxed threshold (10 × `max_pvalue` below 0.05). Their union is the set
//!    of weak change points.
//! 2. merge: the weak change point with the largest p-value (or, when every p-value passes,
//!    the smallest relative change) is dropped while it fails `max_pvalue` or
//!    `min_magnitude`; the others are re-tested on the segments between their neighbours.
//!
//! One departure from Otava: the merge step's p-value is corrected for the choice of the split
//! ([`ChangePoint::pvalue`]). A t test of the best of `n − 1` splits is not a t test; uncorrected,
//! pure noise gave change points far more often than `max_pvalue` promises.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Otava's default window, in points.
pub const DEFAULT_WINDOW: usize = 50;
/// Otava's default significance threshold.
pub const DEFAULT_MAX_PVALUE: f64 = 0.001;
/// Smallest relative change of the means reported by default: steps of a few percent are
/// within the run-to-run noise of storage benchmarks.
pub const DEFAULT_MIN_MAGNITUDE: f64 = 0.05;

/// How change points are searched for and which are reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Points per sliding window of the split step (at least 2).
    pub window: usize,
    /// Largest p-value of a reported change point.
    pub max_pvalue: f64,
    /// Smallest relative change of the means (the larger of forward and backward) reported.
    pub min_magnitude: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            window: DEFAULT_WINDOW,
            max_pvalue: DEFAULT_MAX_PVALUE,
            min_magnitude: DEFAULT_MIN_MAGNITUDE,
        }
    }
}

/// The two segments either side of a change point, compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Mean of the segment before.
    pub mean_before: f64,
    /// Mean of the segment after.
    pub mean_after: f64,
    /// Standard deviation (population) of the segment before.
    pub stddev_before: f64,
    /// Standard deviation (population) of the segment after.
    pub stddev_after: f64,
    /// Two-sided p-value of Student's t test that both segments have the same mean.
    pub pvalue: f64,
}

impl Comparison {
    /// `mean_after / mean_before − 1` (0 when the mean before is 0).
    pub fn forward_change(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    /// The larger of the forward and the backward relative change, in absolute value.
    pub fn magnitude(&self) -> f64 {
        let backward = if self.mean_after == 0.0 {
            0.0
        } else {
            self.mean_before / self.mean_after - 1.0
        };
        self.forward_change().abs().max(backward.abs())
    }
}

/// A change point: the series is different from `index` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// Index of the first point after the change.
    pub index: usize,
    /// The segments either side (bounded by the neighbouring change points).
    pub comparison: Comparison,
    /// The t test's p-value corrected for where the split was chosen: the index is the one
    /// that makes the sides most different among the segment's `n − 1` possible splits, so the
    /// raw p-value of that best split is multiplied by `n − 1` (Bonferroni). The threshold
    /// applies to this value. Without it 7 of 100 pure-noise series of 200 points showed a
    /// change point at p ≤ 0.001 (Otava has the same defect).
    pub pvalue: f64,
}

/// Change points of `series` (in index order) under `options`.
pub fn change_points(series: &[f64], options: &Options) -> Vec<ChangePoint> {
    let first_pass = if options.max_pvalue < 0.05 {
        options.max_pvalue * 10.0
    } else if options.max_pvalue < 0.5 {
        options.max_pvalue * 2.0
    } else {
        options.max_pvalue
    };
    let weak = split(series, options.window.max(2), first_pass);
    merge(weak, series, options.max_pvalue, options.min_magnitude)
}

/// Split step: weak change points of every sliding window, tested on the whole series.
fn split(series: &[f64], window: usize, max_pvalue: f64) -> Vec<ChangePoint> {
    let step = window / 2;
    let mut indices: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < series.len() {
        let end = (start + window).min(series.len());
        let found = bisect(&series[start..end], max_pvalue);
        let last = found.last().map_or(0, |i| i + start);
        for index in found {
            if !indices.contains(&(index + start)) {
                indices.push(index + start);
            }
        }
        start = last.max(start + step);
    }
    indices.sort_unstable();
    tested(series, &indices)
}

/// Recursive E-divisive bisection of one window: indices of its significant change points.
fn bisect(series: &[f64], max_pvalue: f64) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    loop {
        let bounds = segments(series.len(), &found);
        let candidate = bounds
            .iter()
            .filter(|(from, to)| to - from > 1)
            .map(|&(from, to)| best_split(series, from, to))
            .fold(None, |best: Option<(usize, f64)>, c| match best {
                Some(b) if b.1 >= c.1 => Some(b),
                _ => Some(c),
            });
        let Some((index, _)) = candidate else {
            return found;
        };
        let (from, to) = bounds
            .iter()
            .copied()
            .find(|&(from, to)| from < index && index < to)
            .expect("a candidate lies inside its segment");
        if compare(&series[from..index], &series[index..to]).pvalue > max_pvalue {
            return found;
        }
        found.push(index);
        found.sort_unstable();
    }
}

/// The split `τ` of `series[from..to]` maximising `Q̂(series[from..τ], series[τ..κ])` over
/// `from < τ < κ ≤ to`, with that maximum (the first one, τ then κ ascending, on ties).
fn best_split(series: &[f64], from: usize, to: usize) -> (usize, f64) {
    let distance = |i: usize, j: usize| (series[i] - series[j]).abs();
    let mut best = (from + 1, f64::NEG_INFINITY);
    let mut within_left = 0.0;
    for tau in from + 1..to {
        within_left += (from..tau - 1).map(|i| distance(i, tau - 1)).sum::<f64>();
        let n = (tau - from) as f64;
        let mut within_right = 0.0;
        let mut across = 0.0;
        for kappa in tau + 1..=to {
            let newest = kappa - 1;
            within_right += (tau..newest).map(|j| distance(j, newest)).sum::<f64>();
            across += (from..tau).map(|i| distance(i, newest)).sum::<f64>();
            let m = (kappa - tau) as f64;
            let ratio = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
            let q = 2.0 / (m + n) * across
                - ratio(2.0 * m, (m + n) * (n - 1.0)) * within_left
                - ratio(2.0 * n, (m + n) * (m - 1.0)) * within_right;
            if q > best.1 {
                best = (tau, q);
            }
        }
    }
    best
}

/// Merge step: drops the weakest change point (largest p-value, or smallest change when every
/// p-value passes) until the rest pass both thresholds, re-testing the others each time.
fn merge(
    mut points: Vec<ChangePoint>,
    series: &[f64],
    max_pvalue: f64,
    min_magnitude: f64,
) -> Vec<ChangePoint> {
    while !points.is_empty() {
        let first_max = |a: &(usize, &ChangePoint), b: &(usize, &ChangePoint)| {
            a.1.pvalue.total_cmp(&b.1.pvalue).then(b.0.cmp(&a.0))
        };
        let (mut weakest, worst) = points
            .iter()
            .enumerate()
            .max_by(first_max)
            .expect("not empty");
        if worst.pvalue < max_pvalue {
            let (smallest, point) = points
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    a.1.comparison
                        .magnitude()
                        .total_cmp(&b.1.comparison.magnitude())
                        .then(a.0.cmp(&b.0))
                })
                .expect("not empty");
            if point.comparison.magnitude() > min_magnitude {
                return points;
            }
            weakest = smallest;
        }
        points.remove(weakest);
        let indices: Vec<usize> = points.iter().map(|p| p.index).collect();
        points = tested(series, &indices);
    }
    points
}

/// Change points at `indices` (sorted), each compared on the segments between its neighbours.
fn tested(series: &[f64], indices: &[usize]) -> Vec<ChangePoint> {
    indices
        .iter()
        .enumerate()
        .map(|(k, &index)| {
            let from = if k == 0 { 0 } else { indices[k - 1] };
            let to = indices.get(k + 1).copied().unwrap_or(series.len());
            let comparison = compare(&series[from..index], &series[index..to]);
            let splits = (to - from).saturating_sub(1).max(1) as f64;
            ChangePoint {
                index,
                comparison,
                pvalue: (comparison.pvalue * splits).min(1.0),
            }
        })
        .collect()
}

/// `[from, to)` bounds of the segments `cuts` (sorted) divide `0..len` into.
fn segments(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut bounds = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&len)) {
        if cut > from {
            bounds.push((from, cut));
        }
        from = cut;
    }
    bounds
}

/// Student's two-sample t test with pooled variance (population standard deviations of each
/// side, as Otava passes them to scipy's `ttest_ind_from_stats`). An undecidable test (two
/// points, or no spread and equal means) has p = 1.
pub fn compare(before: &[f64], after: &[f64]) -> Comparison {
    let moments = |xs: &[f64]| {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    };
    let (mean_before, stddev_before) = moments(before);
    let (mean_after, stddev_after) = moments(after);
    let (n1, n2) = (before.len() as f64, after.len() as f64);
    let df = n1 + n2 - 2.0;
    let pvalue = if df <= 0.0 {
        1.0
    } else {
        let pooled = ((n1 - 1.0) * stddev_before.powi(2) + (n2 - 1.0) * stddev_after.powi(2)) / df;
        let t = (mean_before - mean_after) / (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
        match StudentsT::new(0.0, 1.0, df) {
            Ok(dist) if t.is_finite() => 2.0 * dist.cdf(-t.abs()),
            _ if t.is_infinite() => 0.0,
            _ => 1.0,
        }
    };
    Comparison {
        mean_before,
        mean_after,
        stddev_before,
        stddev_after,
        pvalue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::noise::Noise;

    /// `levels` as (mean, points) pieces, each point with relative noise `sigma`.
    fn series(seed: u64, sigma: f64, levels: &[(f64, usize)]) -> Vec<f64> {
        let mut noise = Noise(seed);
        levels
            .iter()
            .flat_map(|&(mean, n)| std::iter::repeat_n(mean, n))
            .map(|mean| mean * (1.0 + noise.normal(sigma)))
            .collect()
    }

    fn indices(points: &[ChangePoint]) -> Vec<usize> {
        points.iter().map(|p| p.index).collect()
    }

    #[test]
    fn a_twenty_percent_step_after_thirty_points_is_found_there() {
        for seed in 1..=20 {
            let s = series(seed, 0.05, &[(100.0, 30), (80.0, 30)]);
            let found = change_points(&s, &Options::default());
            assert_eq!(indices(&found), [30], "seed {seed}: {found:?}");
            let change = found[0].comparison.forward_change();
            assert!((-0.23..-0.17).contains(&change), "seed {seed}: {change}");
            assert!(found[0].comparison.pvalue <= DEFAULT_MAX_PVALUE);
        }
    }

    /// 200 points of pure noise (σ = 5 %) give no change point at the default p, over 300
    /// seeds (0 of 300: at most 1 % at 95 % confidence). Uncorrected, as Otava tests it, about 7
    /// in 100 such series showed one.
    #[test]
    fn pure_noise_gives_no_change_point_at_the_default_p() {
        let noisy: Vec<u64> = (1..=300)
            .filter(|&seed| {
                let s = series(seed, 0.05, &[(100.0, 200)]);
                !change_points(&s, &Options::default()).is_empty()
            })
            .collect();
        assert!(noisy.is_empty(), "{} of 300: {noisy:?}", noisy.len());
    }

    #[test]
    fn two_steps_are_both_found() {
        for seed in 1..=20 {
            let s = series(seed, 0.05, &[(100.0, 40), (80.0, 40), (100.0, 40)]);
            let found = change_points(&s, &Options::default());
            let at = indices(&found);
            assert_eq!(at.len(), 2, "seed {seed}: {found:?}");
            assert!(
                at[0].abs_diff(40) <= 1 && at[1].abs_diff(80) <= 1,
                "seed {seed}: {found:?}"
            );
        }
    }

    #[test]
    fn steps_below_the_minimum_magnitude_are_not_reported() {
        let s = series(7, 0.002, &[(100.0, 40), (99.0, 40)]);
        let strict = Options {
            min_magnitude: 0.0,
            ..Options::default()
        };
        assert_eq!(indices(&change_points(&s, &strict)), [40]);
        assert!(change_points(&s, &Options::default()).is_empty());
    }

    #[test]
    fn short_and_flat_series_have_none() {
        let options = Options::default();
        assert!(change_points(&[], &options).is_empty());
        assert!(change_points(&[1.0], &options).is_empty());
        assert!(change_points(&[1.0, 2.0], &options).is_empty());
        assert!(change_points(&[5.0; 30], &options).is_empty());
    }

    #[test]
    fn the_t_test_matches_scipy() {
        // scipy.stats.ttest_ind_from_stats(2, 1, 10, 3, 1, 10) → p = 0.03825
        let before = [1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0];
        let after: Vec<f64> = before.iter().map(|x| x + 1.0).collect();
        let c = compare(&before, &after);
        assert_eq!((c.mean_before, c.stddev_before), (2.0, 1.0));
        assert!((c.pvalue - 0.03825).abs() < 1e-4, "{}", c.pvalue);
    }
}
