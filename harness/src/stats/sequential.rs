//! Repeated looks at accumulating data without inflating the false-alarm rate: group-sequential
//! boundaries with O'Brien–Fleming-type α spending (Lan & DeMets 1983), computed by numerical
//! integration over the looks (Armitage, McPherson & Rowe 1969; Jennison & Turnbull ch. 19).
//!
//! A test looked at after every block, each time at the full level, rejects a true null far more
//! often than the level says. Here look j of a test planned for information fractions
//! `t_1 < … < t_K = 1` rejects only when its one-sided p-value is at most the look's nominal
//! threshold; the thresholds are set so that the chance of rejecting at *any* look, with the
//! statistic a Brownian motion in information time, is the level: α(t_j) − α(t_{j−1}) is spent at
//! look j, with α(t) = 2 − 2Φ(z_{1−α/2} / √t). Early looks are strict (only a large effect stops
//! there), the last nearly the level itself. Skipping planned looks only lowers the chance.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

fn normal() -> Normal {
    Normal::standard()
}

/// The O'Brien–Fleming-type spending function: the level spent by information fraction `t`.
fn spent(alpha: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return alpha;
    }
    let z = normal().inverse_cdf(1.0 - alpha / 2.0);
    (2.0 - 2.0 * normal().cdf(z / t.sqrt())).min(alpha)
}

/// Nominal one-sided p-value thresholds for looks at information fractions `t` (increasing, the
/// last normally 1) spending `alpha` in total. One look: `alpha` itself.
pub fn boundaries(t: &[f64], alpha: f64) -> Vec<f64> {
    let n = normal();
    let Some(&t1) = t.first() else {
        return Vec::new();
    };
    // One grid step for every look (points at i·step), fine enough for the smallest increment.
    let smallest = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(t1, f64::min)
        .max(1e-6);
    let step = (smallest.sqrt() / 12.0).min(0.02);
    let index = |x: f64| (x / step).floor() as i64;
    // Continuation density of the score S (variance t at fraction t) at grid points
    // `lo..=lo + len − 1`, below the boundary of the looks so far.
    let mut lo = index(-8.0);
    let mut density: Vec<f64> = Vec::new();
    let mut thresholds = Vec::with_capacity(t.len());
    let mut previous = 0.0;
    for &tj in t {
        let target = (spent(alpha, tj) - spent(alpha, previous)).max(0.0);
        let sd = (tj - previous).sqrt();
        let total = tj.sqrt();
        let u = if previous == 0.0 {
            // The first look: S is normal, the boundary exact.
            if target > 0.0 {
                n.inverse_cdf(1.0 - target) * total
            } else {
                f64::INFINITY
            }
        } else if target <= 1e-15 {
            f64::INFINITY
        } else {
            let weights = trapezoid(&density, step);
            let crossing = |u: f64| -> f64 {
                weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let s = (lo + i as i64) as f64 * step;
                        w * 0.5
                            * statrs::function::erf::erfc((u - s) / sd / std::f64::consts::SQRT_2)
                    })
                    .sum()
            };
            let (mut a, mut b) = (-8.0, 12.0);
            for _ in 0..60 {
                let mid = 0.5 * (a + b);
                if crossing(mid) > target {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            0.5 * (a + b)
        };
        let z = u / total;
        thresholds.push(if previous == 0.0 {
            target
        } else if z.is_finite() {
            1.0 - n.cdf(z)
        } else {
            0.0
        });
        // The density after this look, on the points below its boundary.
        let (next_lo, next_hi) = (index(-8.0 * total), index(u.min(8.0 * total)));
        if previous == 0.0 {
            density = (next_lo..=next_hi)
                .map(|i| n.pdf(i as f64 * step / total) / total)
                .collect();
        } else {
            let weights = trapezoid(&density, step);
            let reach = (8.0 * sd / step).ceil() as i64;
            let kernel: Vec<f64> = (-reach..=reach)
                .map(|d| n.pdf(d as f64 * step / sd) / sd)
                .collect();
            density = (next_lo..=next_hi)
                .map(|x| {
                    weights
                        .iter()
                        .enumerate()
                        .filter_map(|(i, w)| {
                            let d = x - (lo + i as i64);
                            (d.abs() <= reach).then(|| w * kernel[(d + reach) as usize])
                        })
                        .sum()
                })
                .collect();
        }
        lo = next_lo;
        previous = tj;
    }
    thresholds
}

fn trapezoid(density: &[f64], step: f64) -> Vec<f64> {
    let last = density.len().saturating_sub(1);
    density
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == 0 || i == last {
                f * step / 2.0
            } else {
                f * step
            }
        })
        .collect()
}

/// The nominal threshold of a test at `level` looked at after `k` blocks, planned as one look
/// after each block from `first` to `last` (information ∝ blocks). `k` below `first` counts as
/// the first look, above `last` as the last; `first ≥ last` is a single look at `level`.
pub fn threshold(level: f64, first: usize, last: usize, k: usize) -> f64 {
    let first = first.max(1);
    if first >= last || level.is_nan() || level <= 0.0 {
        return level;
    }
    type Key = (u64, usize, usize);
    static CACHE: OnceLock<Mutex<HashMap<Key, Vec<f64>>>> = OnceLock::new();
    let key = (level.to_bits(), first, last);
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    let all = cached.unwrap_or_else(|| {
        let t: Vec<f64> = (first..=last).map(|b| b as f64 / last as f64).collect();
        let all = boundaries(&t, level);
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, all.clone());
        all
    });
    all[k.clamp(first, last) - first]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(p: f64) -> f64 {
        normal().inverse_cdf(1.0 - p)
    }

    #[test]
    fn one_look_is_the_level() {
        assert_eq!(boundaries(&[1.0], 0.01), vec![0.01]);
        assert_eq!(threshold(0.002, 3, 3, 3), 0.002);
        assert_eq!(threshold(0.002, 5, 3, 4), 0.002);
    }

    #[test]
    fn five_equal_looks_match_published_obrien_fleming_spending_bounds() {
        // Lan–DeMets O'Brien–Fleming spending, 5 equally spaced looks, one-sided 0.025: the
        // upper bounds gsDesign (sfLDOF) and Jennison & Turnbull tabulate.
        let published = [4.8769, 3.3569, 2.6803, 2.2898, 2.0310];
        let t = [0.2, 0.4, 0.6, 0.8, 1.0];
        for (p, want) in boundaries(&t, 0.025).iter().zip(published) {
            assert!((z(*p) - want).abs() < 0.005, "{} vs {want}", z(*p));
        }
    }

    #[test]
    fn the_whole_level_is_spent_once_over_all_looks() {
        // Monte Carlo over Brownian paths: the chance of crossing any look's boundary.
        let t: Vec<f64> = (2..=16).map(|b| b as f64 / 16.0).collect();
        let bounds: Vec<f64> = boundaries(&t, 0.05).iter().map(|p| z(*p)).collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let paths = 200_000;
        let mut crossed = 0;
        for _ in 0..paths {
            let (mut s, mut previous) = (0.0, 0.0);
            for (tj, b) in t.iter().zip(&bounds) {
                s += (tj - previous).sqrt() * normal().inverse_cdf(uniform());
                previous = *tj;
                if s / tj.sqrt() > *b {
                    crossed += 1;
                    break;
                }
            }
        }
        let rate = crossed as f64 / paths as f64;
        // 0.05 ± 4 standard errors of the estimate (0.0005).
        assert!((rate - 0.05).abs() < 0.002, "{rate}");
    }

    #[test]
    fn early_looks_are_strict_and_the_last_is_near_the_level() {
        let first = threshold(0.002, 2, 16, 2);
        let last = threshold(0.002, 2, 16, 16);
        assert!(first < 1e-9, "{first}");
        assert!(last > 0.0015 && last < 0.002, "{last}");
        assert!(threshold(0.002, 2, 16, 1) == first && threshold(0.002, 2, 16, 40) == last);
        let all: Vec<f64> = (2..=16).map(|k| threshold(0.002, 2, 16, k)).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    }
}
