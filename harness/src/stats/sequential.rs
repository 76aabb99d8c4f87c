//! Repeated looks at accumulating data without inflating the false-alarm rate: group-sequential
//! boundaries with O'Brien–Fleming-type α spending (Lan & DeMets 1983), computed by numerical
//! integration over the looks (Armitage, McPherson & Rowe 1969; Jennison & Turnbull ch. 19).
//!
//! A test looked at after every block, each time at the full level, rejects a true null far more
//! often than the level says. Here look j of a test planned for information fractions
//! `t_1 < … < t_K = 1` rejects only when its one-sided p-value is at most the look's nominal
//! threshold; the thresholds are set so that the chance of rejecting at *any* look, with the
//! statistic a Brownian motion in information time, is the level: α(t_j) − α(t_{j−1}) is spent at
//! look j, with α(t) = 2 − 2Φ(z_{1−α/2} / √t) (O'Brien–Fleming type: early looks strict, the last
//! nearly the level itself), α·ln(1 + (e − 1)t) (Pocock type: about even) or
//! α·(1 − e^{−γt}) / (1 − e^{−γ}) (Hwang–Shih–DeCani, between them for γ < 0). Skipping planned
//! looks only lowers the chance.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

fn normal() -> Normal {
    Normal::standard()
}

/// How a level is spent over the looks (Lan & DeMets spending functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spending {
    /// O'Brien–Fleming type, α(t) = 2 − 2Φ(z₁₋α/₂/√t): almost nothing early, nearly the whole
    /// level at the last look. For failing: only a large effect stops a run early, and the last
    /// look keeps nearly the power of a single test.
    ObrienFleming,
    /// Pocock type, α(t) = α·ln(1 + (e − 1)·t): about even nominal levels at every look. For
    /// passing: a clearly unchanged row is let go early.
    Pocock,
    /// Hwang–Shih–DeCani family with parameter γ, α(t) = α·(1 − e^{−γt}) / (1 − e^{−γ}):
    /// γ = −4 is close to O'Brien–Fleming, γ = 1 to Pocock, γ = −2 in between.
    HwangShihDecani(i8),
}

impl Spending {
    /// The level spent by information fraction `t`.
    fn spent(self, alpha: f64, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        if t >= 1.0 {
            return alpha;
        }
        match self {
            Spending::ObrienFleming => {
                let z = normal().inverse_cdf(1.0 - alpha / 2.0);
                (2.0 - 2.0 * normal().cdf(z / t.sqrt())).min(alpha)
            }
            Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
            Spending::HwangShihDecani(0) => alpha * t,
            Spending::HwangShihDecani(gamma) => {
                let g = f64::from(gamma);
                alpha * (1.0 - (-g * t).exp()) / (1.0 - (-g).exp())
            }
        }
    }
}

/// Nominal one-sided p-value thresholds for looks at information fractions `t` (increasing, the
/// last normally 1) spending `alpha` in total as `spending` says. One look: `alpha` itself.
pub fn boundaries(spending: Spending, t: &[f64], alpha: f64) -> Vec<f64> {
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
    let step = (smallest.sqrt() / 16.0).min(0.02);
    // The continuation region of the score S (variance t at fraction t) below the boundaries so
    // far, as trapezoid masses (density × weight) at the grid points lo·step, (lo+1)·step, …, and
    // one more exactly at the boundary.
    let mut lo = 0i64;
    let mut mass: Vec<f64> = Vec::new();
    let mut edge: Option<(f64, f64)> = None;
    let mut thresholds = Vec::with_capacity(t.len());
    let mut previous = 0.0;
    for &tj in t {
        let target = (spending.spent(alpha, tj) - spending.spent(alpha, previous)).max(0.0);
        let sd = (tj - previous).sqrt();
        let total = tj.sqrt();
        let nodes = || {
            mass.iter()
                .enumerate()
                .map(|(i, m)| ((lo + i as i64) as f64 * step, *m))
                .chain(edge)
        };
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
            // The chance of crossing `u` now, not before.
            let crossing = |u: f64| -> f64 {
                nodes()
                    .map(|(s, m)| {
                        m * 0.5
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
        // The density after this look, below its boundary.
        let upper = u.min(8.0 * total);
        let (next_lo, next_hi) = (
            (-8.0 * total / step).ceil() as i64,
            (upper / step).floor() as i64,
        );
        let reach = (8.0 * sd / step).ceil() as i64;
        let kernel: Vec<f64> = (-reach..=reach)
            .map(|d| n.pdf(d as f64 * step / sd) / sd)
            .collect();
        let density_at = |x: f64| -> f64 {
            if previous == 0.0 {
                n.pdf(x / total) / total
            } else {
                nodes().map(|(s, m)| m * n.pdf((x - s) / sd) / sd).sum()
            }
        };
        let at_grid = |i: i64| -> f64 {
            if previous == 0.0 {
                return density_at(i as f64 * step);
            }
            let from = (i - reach).max(lo);
            let to = (i + reach).min(lo + mass.len() as i64 - 1);
            let on_grid: f64 = (from..=to)
                .map(|j| mass[(j - lo) as usize] * kernel[(i - j + reach) as usize])
                .sum();
            on_grid + edge.map_or(0.0, |(e, m)| m * n.pdf((i as f64 * step - e) / sd) / sd)
        };
        let density: Vec<f64> = (next_lo..=next_hi).map(at_grid).collect();
        let gap = upper - next_hi as f64 * step;
        let next_edge = (gap > 1e-12).then(|| (upper, density_at(upper) * gap / 2.0));
        let last = density.len().saturating_sub(1);
        mass = density
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let left = if i == 0 { 0.0 } else { step / 2.0 };
                let right = if i == last { gap / 2.0 } else { step / 2.0 };
                f * (left + right)
            })
            .collect();
        edge = next_edge;
        lo = next_lo;
        previous = tj;
    }
    thresholds
}

/// The nominal threshold of a test at `level` spent as `spending` says, looked at after `k`
/// blocks, planned as one look after each block from `first` to `last` (information ∝ blocks).
/// `k` below `first` counts as the first look, above `last` as the last; `first ≥ last` is a
/// single look at `level`.
pub fn threshold(spending: Spending, level: f64, first: usize, last: usize, k: usize) -> f64 {
    let first = first.max(1);
    if first >= last || level.is_nan() || level <= 0.0 {
        return level;
    }
    type Key = (Spending, u64, usize, usize);
    static CACHE: OnceLock<Mutex<HashMap<Key, Vec<f64>>>> = OnceLock::new();
    let key = (spending, level.to_bits(), first, last);
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    let all = cached.unwrap_or_else(|| {
        let t: Vec<f64> = (first..=last).map(|b| b as f64 / last as f64).collect();
        let all = boundaries(spending, &t, level);
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
        for spending in [Spending::ObrienFleming, Spending::Pocock] {
            assert_eq!(boundaries(spending, &[1.0], 0.01), vec![0.01]);
            assert_eq!(threshold(spending, 0.002, 3, 3, 3), 0.002);
            assert_eq!(threshold(spending, 0.002, 5, 3, 4), 0.002);
        }
    }

    #[test]
    fn five_equal_looks_match_published_spending_bounds() {
        // Lan–DeMets spending, 5 equally spaced looks, one-sided 0.025: the upper bounds gsDesign
        // tabulates (sfLDOF, sfLDPocock).
        let t = [0.2, 0.4, 0.6, 0.8, 1.0];
        for (spending, published) in [
            (
                Spending::ObrienFleming,
                [4.8769, 3.3569, 2.6803, 2.2898, 2.0310],
            ),
            (Spending::Pocock, [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]),
        ] {
            for (p, want) in boundaries(spending, &t, 0.025).iter().zip(published) {
                assert!(
                    (z(*p) - want).abs() < 0.001,
                    "{spending:?}: {} vs {want}",
                    z(*p)
                );
            }
        }
    }

    /// The chance that a Brownian path crosses any look's boundary (Monte Carlo).
    fn crossing_rate(t: &[f64], bounds: &[f64]) -> f64 {
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
            for (tj, b) in t.iter().zip(bounds) {
                s += (tj - previous).sqrt() * normal().inverse_cdf(uniform());
                previous = *tj;
                if s / tj.sqrt() > *b {
                    crossed += 1;
                    break;
                }
            }
        }
        crossed as f64 / paths as f64
    }

    #[test]
    fn the_whole_level_is_spent_once_over_all_looks() {
        let t: Vec<f64> = (2..=16).map(|b| b as f64 / 16.0).collect();
        for spending in [
            Spending::ObrienFleming,
            Spending::Pocock,
            Spending::HwangShihDecani(-2),
        ] {
            let bounds: Vec<f64> = boundaries(spending, &t, 0.05)
                .iter()
                .map(|p| z(*p))
                .collect();
            let rate = crossing_rate(&t, &bounds);
            // 0.05 ± 4 standard errors of the estimate (0.0005).
            assert!((rate - 0.05).abs() < 0.002, "{spending:?}: {rate}");
        }
    }

    #[test]
    fn pocock_spends_about_evenly_and_obrien_fleming_late() {
        let t: Vec<f64> = (1..=6).map(|b| b as f64 / 6.0).collect();
        let pocock = boundaries(Spending::Pocock, &t, 0.05);
        let late = boundaries(Spending::ObrienFleming, &t, 0.05);
        // Pocock: every nominal level within a factor 2 of the first, all well below 0.05.
        assert!(
            pocock
                .iter()
                .all(|p| *p > pocock[0] / 2.0 && *p < 2.0 * pocock[0] && *p < 0.03),
            "{pocock:?}"
        );
        assert!(late[0] < 1e-4 && late[5] > pocock[5], "{late:?} {pocock:?}");
    }

    #[test]
    fn early_looks_are_strict_and_the_last_is_near_the_level() {
        let of = |k| threshold(Spending::ObrienFleming, 0.002, 2, 16, k);
        let (first, last) = (of(2), of(16));
        assert!(first < 1e-9, "{first}");
        assert!(last > 0.0015 && last < 0.002, "{last}");
        assert!(of(1) == first && of(40) == last);
        let all: Vec<f64> = (2..=16).map(of).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    }
}
