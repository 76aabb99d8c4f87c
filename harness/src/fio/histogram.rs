//! fio's completion-latency histogram (`clat_ns.bins` in `--output-format=json+`) and fio's own
//! percentile rule, so that merged jobs and clients get the percentiles fio would have printed.
//!
//! fio 3.33 `stat.c` line 179, in `calc_clat_percentiles`:
//!
//! ```c
//! while (sum >= ((long double) plist[j].u.f / 100.0 * nr)) {
//! ```
//!
//! `sum` is the running count over the buckets in ascending order, `nr` the number of samples and
//! `plist[j].u.f` the percentile as a `double`. The threshold is never converted to an integer: it is
//! computed and compared in `long double`, which on x86-64 is the x87 80-bit format (64-bit
//! significand, round to nearest even). [`fio_threshold`] reproduces that rounding exactly with
//! integer arithmetic; plain `f64` arithmetic gets about 0.6 % of (p, N) pairs wrong (e.g. p = 99.9
//! with N = 33000: `f64` says 32967 I/Os suffice, fio needs 32968).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// fio completion-latency histogram: bucket value in ns (fio's key: lower edge + half width) → count.
///
/// Serializes as a JSON object `{"<ns>": count}`, the shape of fio's `clat_ns.bins`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    bins: BTreeMap<u64, u64>,
}

impl Histogram {
    /// A histogram from `(bucket ns, count)` pairs; counts of repeated keys are added.
    pub fn from_bins(bins: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut h = Histogram::default();
        for (value_ns, count) in bins {
            h.add(value_ns, count);
        }
        h
    }

    /// Adds `count` I/Os to the bucket keyed `value_ns` (a zero count adds nothing).
    pub fn add(&mut self, value_ns: u64, count: u64) {
        if count > 0 {
            *self.bins.entry(value_ns).or_insert(0) += count;
        }
    }

    /// Adds the counts of `other` to this histogram, bucket by bucket (equal keys add up).
    pub fn merge(&mut self, other: &Histogram) {
        for (&value_ns, &count) in &other.bins {
            self.add(value_ns, count);
        }
    }

    /// The number of I/Os in all buckets (fio's `N` for one job; `ΣN` after merging).
    pub fn total(&self) -> u64 {
        self.bins.values().sum()
    }

    /// The `p`-th percentile (0 < p ≤ 100) by fio's rule: walk the buckets in ascending order keeping
    /// a running count and return the key of the first bucket where the running count reaches
    /// `p / 100 * N` (computed as fio does, see [`fio_threshold`]). No interpolation.
    ///
    /// `None` when the histogram is empty or `p` is NaN or outside `[0, 100]`. `p = 0` gives the
    /// lowest non-empty bucket (fio itself never asks for 0: it ends its percentile list there).
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if !(0.0..=100.0).contains(&p) {
            return None;
        }
        let threshold = fio_threshold(p, self.total());
        let mut running = 0u64;
        for (&value_ns, &count) in &self.bins {
            running += count;
            if running >= threshold {
                return Some(value_ns);
            }
        }
        None
    }

    /// `(bucket ns, cumulative fraction of I/Os at or below it)` per non-empty bucket, ascending; the
    /// last fraction is 1.0. Empty for an empty histogram.
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let total = self.total();
        if total == 0 {
            return Vec::new();
        }
        let mut running = 0u64;
        self.bins
            .iter()
            .map(|(&value_ns, &count)| {
                running += count;
                (value_ns, running as f64 / total as f64)
            })
            .collect()
    }

    /// The non-empty buckets as `(bucket ns, count)`, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.bins.iter().map(|(&k, &v)| (k, v))
    }

    /// Whether no I/O was recorded.
    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// The number of non-empty buckets.
    pub fn len(&self) -> usize {
        self.bins.len()
    }
}

impl FromIterator<(u64, u64)> for Histogram {
    fn from_iter<I: IntoIterator<Item = (u64, u64)>>(iter: I) -> Self {
        Histogram::from_bins(iter)
    }
}

impl Serialize for Histogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.bins.len()))?;
        for (value_ns, count) in &self.bins {
            map.serialize_entry(&value_ns.to_string(), count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BinsVisitor;

        impl<'de> serde::de::Visitor<'de> for BinsVisitor {
            type Value = Histogram;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of latency buckets {\"<ns>\": count}")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Histogram, A::Error> {
                let mut h = Histogram::default();
                while let Some((BinKey(value_ns), count)) = map.next_entry::<BinKey, u64>()? {
                    h.add(value_ns, count);
                }
                Ok(h)
            }
        }

        deserializer.deserialize_map(BinsVisitor)
    }
}

/// A bucket key: fio writes it as a decimal string; parsed without allocating.
struct BinKey(u64);

impl<'de> Deserialize<'de> for BinKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = BinKey;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a latency bucket in whole ns")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<BinKey, E> {
                Ok(BinKey(v))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BinKey, E> {
                v.parse().map(BinKey).map_err(|_| {
                    E::custom(format!(
                        "latency bucket key {v:?} is not a whole number of ns"
                    ))
                })
            }
        }

        deserializer.deserialize_any(KeyVisitor)
    }
}

/// The smallest running count that satisfies fio's percentile test
/// `sum >= (long double) p / 100.0 * nr` (fio 3.33 `stat.c:179`), with the x87 80-bit arithmetic
/// fio uses on x86-64: `p / 100` rounded to a 64-bit significand, times `nr` rounded again, then
/// compared exactly with the integer `sum` — so the result is the ceiling of that rounded product.
///
/// 0 when `p` is 0, negative or not finite, or `nr` is 0. fio asserts `p <= 100`; larger `p`
/// give thresholds above `nr` that no histogram reaches.
pub fn fio_threshold(p: f64, nr: u64) -> u64 {
    if nr == 0 || !p.is_finite() || p <= 0.0 {
        return 0;
    }
    // p = mant * 2^exp exactly.
    let bits = p.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if raw_exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), raw_exp - 1075)
    };

    // q = round64(p / 100): scale the significand up so the quotient keeps > 64 bits, then round
    // with the remainder as sticky bit.
    let shift = 127 - bit_len(mant as u128);
    let numerator = (mant as u128) << shift;
    let (q_mant, q_exp) = round_to_64_bits(numerator / 100, !numerator.is_multiple_of(100));
    let q_exp = q_exp + exp - shift as i32;

    // t = round64(q * nr): the product of two 64-bit integers is exact in u128.
    let (t_mant, t_exp) = round_to_64_bits(q_mant as u128 * nr as u128, false);
    let e = q_exp + t_exp;

    // ceil(t_mant * 2^e)
    if e >= 0 {
        // t ≤ nr because q ≤ 1, so this cannot overflow for p ≤ 100.
        u64::try_from((t_mant as u128) << e).unwrap_or(u64::MAX)
    } else {
        let k = (-e) as u32;
        if k >= 128 {
            u64::from(t_mant > 0)
        } else {
            let one = 1u128 << k;
            ((t_mant as u128 + one - 1) >> k) as u64
        }
    }
}

/// Number of significant bits in `x` (0 for 0).
fn bit_len(x: u128) -> u32 {
    128 - x.leading_zeros()
}

/// Rounds `x` (+ a fraction below its last bit that is non-zero when `sticky`) to a 64-bit
/// significand, to nearest with ties to even: returns `(m, e)` with `m * 2^e` the rounded value.
fn round_to_64_bits(x: u128, sticky: bool) -> (u64, i32) {
    let len = bit_len(x);
    if len <= 64 {
        // Representable as is. (Only products get here; quotients are scaled to ≥ 120 bits, so
        // their sticky bit always lies below the rounding position.)
        return (x as u64, 0);
    }
    let drop = len - 64;
    let kept = x >> drop;
    let rest = x & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let round_up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    let mut kept = kept + u128::from(round_up);
    let mut drop = drop as i32;
    if bit_len(kept) > 64 {
        kept >>= 1;
        drop += 1;
    }
    (kept as u64, drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (p, nr, ceil of the x87 threshold) computed by gcc on x86-64 with `long double`, the same
    /// expression as fio's `stat.c:179`.
    /// About half are cases where plain `f64` arithmetic gives a different answer.
    const X87_VECTORS: &[(f64, u64, u64)] = &[
        (1.0, 127401, 1275),
        (20.0, 16602, 3321),
        (20.0, 189131, 37827),
        (30.0, 5440, 1633),
        (30.0, 89940, 26983),
        (30.0, 91930, 27580),
        (30.0, 121719, 36516),
        (30.0, 172920, 51877),
        (30.0, 182250, 54676),
        (30.0, 197690, 59308),
        (50.0, 41800, 20900),
        (60.0, 42210, 25327),
        (60.0, 44075, 26446),
        (60.0, 51200, 30721),
        (60.0, 89865, 53920),
        (60.0, 198395, 119038),
        (70.0, 37295, 26107),
        (90.0, 44417, 39976),
        (99.0, 35479, 35125),
        (99.0, 190998, 189089),
        (99.5, 34228, 34057),
        (99.95, 28311, 28297),
        (99.999, 18911, 18911),
        (0.1, 24877, 25),
        (33.3, 147162, 49005),
        (66.6, 55799, 37163),
        (99.9999, 9357, 9357),
        (1.0, 1099511627776, 10995116278),
        (1.0, 12345678901234, 123456789013),
        (1.0, 9007199254740993, 90071992547410),
        (1.0, 18446744073709551615, 184467440737095517),
        (1.0, 27021597764222979, 270215977642230),
        (40.0, 1099511627776, 439804651111),
        (40.0, 12345678901234, 4938271560494),
        (40.0, 9007199254740993, 3602879701896398),
        (40.0, 18446744073709551615, 7378697629483820646),
        (40.0, 27021597764222979, 10808639105689192),
        (90.0, 1099511627776, 989560464999),
        (90.0, 12345678901234, 11111111011111),
        (90.0, 9007199254740993, 8106479329266894),
        (90.0, 18446744073709551615, 16602069666338596453),
        (90.0, 27021597764222979, 24319437987800682),
        (99.95, 1099511627776, 1098961871963),
        (99.95, 12345678901234, 12339506061784),
        (99.95, 9007199254740993, 9002695655113623),
        (99.95, 18446744073709551615, 18437520701672697363),
        (99.95, 27021597764222979, 27008086965340869),
        (66.6, 1099511627776, 732274744099),
        (66.6, 12345678901234, 8222222148222),
        (66.6, 9007199254740993, 5998794703657501),
        (66.6, 18446744073709551615, 12285531553090560327),
        (66.6, 27021597764222979, 17996384110972503),
    ];

    #[test]
    fn threshold_matches_x87_long_double() {
        for &(p, nr, want) in X87_VECTORS {
            assert_eq!(fio_threshold(p, nr), want, "p={p} nr={nr}");
        }
    }

    #[test]
    fn f64_arithmetic_would_be_wrong_for_99_9_of_33000() {
        // f64: 99.9 / 100 * 33000 rounds to exactly 32967; x87 keeps 32967.0000000000000019.
        assert_eq!(99.9f64 / 100.0 * 33000.0, 32967.0);
        assert_eq!(fio_threshold(99.9, 33000), 32968);
        let h = Histogram::from_bins([(1000, 32967), (2000, 33)]);
        assert_eq!(h.percentile(99.9), Some(2000));
    }

    #[test]
    fn percentile_walk() {
        let h = Histogram::from_bins([(100, 50), (200, 49), (300, 1)]);
        assert_eq!(h.total(), 100);
        assert_eq!(h.percentile(50.0), Some(100));
        assert_eq!(h.percentile(50.5), Some(200));
        assert_eq!(h.percentile(99.0), Some(200));
        assert_eq!(h.percentile(99.5), Some(300));
        assert_eq!(h.percentile(100.0), Some(300));
        assert_eq!(h.percentile(0.0), Some(100));
        assert_eq!(h.percentile(100.1), None);
        assert_eq!(h.percentile(f64::NAN), None);
        assert_eq!(Histogram::default().percentile(50.0), None);
    }

    #[test]
    fn merge_adds_equal_keys() {
        let mut a = Histogram::from_bins([(100, 1), (200, 2)]);
        a.merge(&Histogram::from_bins([(200, 3), (300, 4)]));
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![(100, 1), (200, 5), (300, 4)]
        );
        assert_eq!(a.total(), 10);
        assert_eq!(a.cdf().last(), Some(&(300, 1.0)));
    }

    #[test]
    fn serde_round_trip_as_object() {
        let h = Histogram::from_bins([(1320, 7), (13824, 1)]);
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(text, r#"{"1320":7,"13824":1}"#);
        assert_eq!(serde_json::from_str::<Histogram>(&text).unwrap(), h);
        assert!(serde_json::from_str::<Histogram>(r#"{"x":1}"#).is_err());
    }
}
