//! Performance gates: assertions over a run's cells, decided on a log scale with a confidence
//! interval, with three verdicts (pass, fail, inconclusive).
//!
//! A gate is declared in the matrix (`gates:`) or built in Rust ([`GateSpec::from_yaml`]) and is
//! either *relative* — one runtime against another in the same run ("kata read bw ≥ 15 % of host")
//! — or *absolute* ("host bw ≥ 100 MiB/s", "p99 ≤ 5 ms"). Each row of a gate (pattern × clients,
//! × runtime for absolute gates over every runtime) compares the geometric mean of the
//! repetitions with the bound:
//!
//! * relative, both sides with the same number of repetitions k: paired t interval on the
//!   per-repetition log differences `ln x_i − ln y_i` (repetition i of both sides ran back to back
//!   when the cells were interleaved, so machine drift cancels);
//! * relative, different k: Welch interval on the log values;
//! * absolute: one-sample t interval on the log values.
//!
//! Every variance is pooled with a documented noise prior ([`NoisePrior`]: σ(ln) =
//! [`NOISE_PRIOR_SIGMA`] per repetition, worth [`NOISE_PRIOR_DF`] degrees of freedom, from the
//! A/A runs on these machines), so k = 1 still gets an interval (from the prior alone) and k = 2
//! is not drowned by a t quantile with one degree of freedom; with many repetitions the data
//! dominate. A margin within that noise is inconclusive.
//!
//! The verdict compares the whole interval with the bound: entirely on the right side → pass,
//! entirely on the wrong side → fail, straddling it → inconclusive ("too noisy to decide").
//! Inconclusive fails the gate unless the gate says `inconclusive: ignore`, and even then it is
//! reported as ignored with its reason, never as passed. See `docs/gates.md`.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, YamlLocation};
use crate::matrix::{Cell, ClientCount, Matrix, MatrixFile, Pattern, RuntimeName};
use crate::result::{CellRecord, Repetition, Status};
use crate::run::Session;

/// Confidence level of gate intervals unless a gate sets `confidence`.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Prior σ of `ln(metric)` for one repetition: the A/A bandwidth spread measured on the 2-core
/// CI-class machines for 3 s page-cache runs (field notes: σ(log bw) ≈ 0.11 over 8 runs).
/// Shorter runs are noisier; a gate may set `noise_prior`.
pub const NOISE_PRIOR_SIGMA: f64 = 0.11;

/// Weight of the prior in degrees of freedom: the 8 A/A runs it was measured from (n − 1 = 7).
/// A gate may set `prior_df` (0: its own repetitions only).
pub const NOISE_PRIOR_DF: f64 = 7.0;

// ---------------------------------------------------------------------------------------------
// Spec: what a gate asserts.

/// The number a gate compares.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Metric {
    /// Aggregate bandwidth (bytes/s; bounds like `100MiB/s`).
    #[serde(rename = "bw")]
    Bw,
    /// Aggregate IOPS (bounds are plain numbers, `20k`).
    #[serde(rename = "iops")]
    Iops,
    /// Median completion latency (bounds like `200us`, `5ms`).
    #[serde(rename = "p50")]
    P50,
    /// 90th percentile completion latency.
    #[serde(rename = "p90")]
    P90,
    /// 99th percentile completion latency.
    #[serde(rename = "p99")]
    P99,
    /// 99.9th percentile completion latency.
    #[serde(rename = "p99.9")]
    P99_9,
}

impl Metric {
    /// The name used in YAML and gate names.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Bw => "bw",
            Metric::Iops => "iops",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P99_9 => "p99.9",
        }
    }

    /// The kind of absolute bound this metric takes.
    pub fn unit(self) -> BoundKind {
        match self {
            Metric::Bw => BoundKind::Bandwidth,
            Metric::Iops => BoundKind::Count,
            _ => BoundKind::Latency,
        }
    }

    /// This metric in one repetition (bytes/s, IOPS or nanoseconds).
    pub fn of(self, rep: &Repetition) -> f64 {
        match self {
            Metric::Bw => rep.bw_bytes,
            Metric::Iops => rep.iops,
            Metric::P50 => rep.lat_ns.p50 as f64,
            Metric::P90 => rep.lat_ns.p90 as f64,
            Metric::P99 => rep.lat_ns.p99 as f64,
            Metric::P99_9 => rep.lat_ns.p99_9 as f64,
        }
    }

    /// A value of this metric for people: `812 MiB/s`, `48.3k IOPS`, `89.1 µs`.
    pub fn format(self, value: f64) -> String {
        self.unit().format(value)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a bound measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundKind {
    /// A ratio to the reference runtime (`15%`, `10x`).
    Ratio,
    /// Bytes per second (`100MiB/s`).
    Bandwidth,
    /// Nanoseconds (`5ms`).
    Latency,
    /// A plain number (`20000`, `20k`).
    Count,
}

impl BoundKind {
    /// A value of this kind for people.
    pub fn format(self, value: f64) -> String {
        match self {
            BoundKind::Ratio => format!("{}×", sig3(value)),
            BoundKind::Bandwidth => {
                let units = [
                    (1u64 << 40, "TiB/s"),
                    (1 << 30, "GiB/s"),
                    (1 << 20, "MiB/s"),
                    (1 << 10, "KiB/s"),
                ];
                for (scale, unit) in units {
                    if value >= scale as f64 {
                        return format!("{} {unit}", sig3(value / scale as f64));
                    }
                }
                format!("{} B/s", sig3(value))
            }
            BoundKind::Latency => {
                if value >= 1e9 {
                    format!("{} s", sig3(value / 1e9))
                } else if value >= 1e6 {
                    format!("{} ms", sig3(value / 1e6))
                } else if value >= 1e3 {
                    format!("{} µs", sig3(value / 1e3))
                } else {
                    format!("{} ns", sig3(value))
                }
            }
            BoundKind::Count => {
                if value >= 1e6 {
                    format!("{}M", sig3(value / 1e6))
                } else if value >= 1e4 {
                    format!("{}k", sig3(value / 1e3))
                } else {
                    sig3(value)
                }
            }
        }
    }
}

/// Three significant figures, without a trailing `.0`: `3020`, `89.1`, `0.152`.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        (2.0 - a.log10().floor()).clamp(2.0, 12.0) as usize
    };
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A bound as written: `15%`, `10x`, `100MiB/s`, `5ms`, `20k`, or a plain number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BoundInput", into = "String")]
pub struct Bound {
    text: String,
    kind: BoundKind,
    value: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoundInput {
    Number(f64),
    Text(String),
}

impl JsonSchema for Bound {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bound".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A bound: a ratio to the reference (`15%`, `0.5x`, `10x`), a bandwidth \
                (`100MiB/s`, `1.5GB/s`), a latency (`500us`, `5ms`) or a count (`20000`, `20k`).",
            "anyOf": [
                { "type": "number", "exclusiveMinimum": 0 },
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)? ?([%xX×]|[kKMGT]?i?B/s|B/s|ns|us|µs|μs|ms|s|k|M)?$" }
            ]
        })
    }
}

impl TryFrom<BoundInput> for Bound {
    type Error = String;
    fn try_from(input: BoundInput) -> std::result::Result<Self, String> {
        match input {
            BoundInput::Number(n) => Bound::parse(&format!("{n}")),
            BoundInput::Text(t) => Bound::parse(&t),
        }
    }
}

impl From<Bound> for String {
    fn from(b: Bound) -> String {
        b.text
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Bound {
    /// Parses a bound: `15%` and `10x` are ratios; `100MiB/s` (also `KiB/s`, `GiB/s`, decimal
    /// `kB/s`, `MB/s`, `GB/s`, `B/s`) bandwidths; `ns`, `us`/`µs`, `ms`, `s` latencies; a plain
    /// number, `20k` or `2M` a count.
    pub fn parse(text: &str) -> std::result::Result<Bound, String> {
        let expected = "expected a ratio (15%, 0.5x, 10x), a bandwidth (100MiB/s), a latency (5ms, 200us) \
                        or a count (20000, 20k)";
        let t = text.trim();
        let split = t
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(t.len(), |(i, _)| i);
        let (number, unit) = t.split_at(split);
        let n: f64 = number
            .parse()
            .map_err(|_| format!("invalid bound {text:?}: {expected}"))?;
        let (kind, scale) = match unit.trim_start() {
            "%" => (BoundKind::Ratio, 0.01),
            "x" | "X" | "×" => (BoundKind::Ratio, 1.0),
            "B/s" => (BoundKind::Bandwidth, 1.0),
            "KiB/s" | "kiB/s" => (BoundKind::Bandwidth, 1024.0),
            "MiB/s" => (BoundKind::Bandwidth, 1024.0 * 1024.0),
            "GiB/s" => (BoundKind::Bandwidth, 1024.0 * 1024.0 * 1024.0),
            "TiB/s" => (BoundKind::Bandwidth, 1024.0 * 1024.0 * 1024.0 * 1024.0),
            "kB/s" | "KB/s" => (BoundKind::Bandwidth, 1e3),
            "MB/s" => (BoundKind::Bandwidth, 1e6),
            "GB/s" => (BoundKind::Bandwidth, 1e9),
            "TB/s" => (BoundKind::Bandwidth, 1e12),
            "ns" => (BoundKind::Latency, 1.0),
            "us" | "µs" | "μs" => (BoundKind::Latency, 1e3),
            "ms" => (BoundKind::Latency, 1e6),
            "s" => (BoundKind::Latency, 1e9),
            "" => (BoundKind::Count, 1.0),
            "k" => (BoundKind::Count, 1e3),
            "M" => (BoundKind::Count, 1e6),
            _ => return Err(format!("invalid bound {text:?}: {expected}")),
        };
        let value = n * scale;
        if !(value.is_finite() && value > 0.0) {
            return Err(format!(
                "invalid bound {text:?}: expected a positive number"
            ));
        }
        Ok(Bound {
            text: t.to_owned(),
            kind,
            value,
        })
    }

    /// What it measures.
    pub fn kind(&self) -> BoundKind {
        self.kind
    }

    /// The value: a ratio (0.15 for `15%`), bytes/s, nanoseconds or a count.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The bound as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bound as it appears in a test name: `15pct`, `10x`, `100MiBps`, `5ms`.
    pub fn slug(&self) -> String {
        self.text
            .replace('%', "pct")
            .replace("/s", "ps")
            .replace(['×', 'X'], "x")
            .replace(['µ', 'μ'], "u")
            .replace(' ', "")
    }
}

/// Which side of the bound passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The value (or ratio) must be at least the bound.
    AtLeast,
    /// The value (or ratio) must be at most the bound.
    AtMost,
}

impl Direction {
    /// `≥` or `≤`.
    pub fn symbol(self) -> &'static str {
        match self {
            Direction::AtLeast => "≥",
            Direction::AtMost => "≤",
        }
    }

    /// `ge` or `le`, for test names.
    pub fn slug(self) -> &'static str {
        match self {
            Direction::AtLeast => "ge",
            Direction::AtMost => "le",
        }
    }
}

/// What an inconclusive verdict does to the gate's test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Inconclusive {
    /// The test fails with the "too noisy to decide" message (the default).
    #[default]
    Fail,
    /// The test is reported as ignored with the "too noisy to decide" message — never as passed.
    Ignore,
}

/// A gate as written in the matrix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GateDef {
    /// Test name of the gate (`[a-z0-9._+-]`); default: generated from the assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// The compared number: bw, iops, p50, p90, p99, p99.9.
    metric: Metric,
    /// The runtime under test; absolute gates without it apply to every runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<RuntimeName>,
    /// Makes the gate relative: `runtime`'s metric divided by this runtime's, in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<RuntimeName>,
    /// Lower bound: a ratio for relative gates (`15%`, `0.5x`), a value for absolute ones (`100MiB/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_least: Option<Bound>,
    /// Upper bound: a ratio for relative gates (`10x`), a value for absolute ones (`5ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_most: Option<Bound>,
    /// Patterns the gate covers; default: every pattern of the workload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    patterns: Vec<Pattern>,
    /// Client counts the gate covers, one test each; default: every count the runtimes share.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    clients: Vec<ClientCount>,
    /// `fail` (default) or `ignore`: what a "too noisy to decide" verdict does to the test.
    #[serde(default)]
    inconclusive: Inconclusive,
    /// Confidence level of the interval, from 0.5 to 0.999 (default 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
    /// Prior σ of ln(metric) per repetition, pooled with the gate's own repetitions (default 0.11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noise_prior: Option<f64>,
    /// Weight of `noise_prior` in degrees of freedom (default 7; 0: the repetitions alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prior_df: Option<f64>,
}

/// One performance gate, validated (see the module docs and `docs/gates.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "GateDef", into = "GateDef")]
#[schemars(with = "GateDef")]
pub struct GateSpec {
    /// Test name; `None`: generated by [`GateSpec::label`].
    pub name: Option<String>,
    /// The compared number.
    pub metric: Metric,
    /// The runtime under test; `None` (absolute gates only): every runtime.
    pub runtime: Option<RuntimeName>,
    /// The reference runtime of a relative gate.
    pub reference: Option<RuntimeName>,
    /// At least or at most.
    pub direction: Direction,
    /// The bound: a ratio for relative gates, a value of the metric's unit for absolute ones.
    pub bound: Bound,
    /// Covered patterns; empty: all of the workload's.
    pub patterns: Vec<Pattern>,
    /// Covered client counts; empty: all the runtimes share.
    pub clients: Vec<u32>,
    /// What an inconclusive verdict does.
    pub inconclusive: Inconclusive,
    /// Confidence level of the interval.
    pub confidence: f64,
    /// What is assumed about the noise before the gate's own repetitions (see [`NoisePrior`]).
    pub noise_prior: NoisePrior,
}

impl TryFrom<GateDef> for GateSpec {
    type Error = String;
    fn try_from(d: GateDef) -> std::result::Result<Self, String> {
        let (direction, bound) = match (d.at_least, d.at_most) {
            (Some(b), None) => (Direction::AtLeast, b),
            (None, Some(b)) => (Direction::AtMost, b),
            _ => return Err("a gate needs exactly one of `at_least` and `at_most`".into()),
        };
        if let Some(name) = &d.name {
            let ok = !name.is_empty()
                && name.len() <= 80
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'-' | b'_' | b'.' | b'+')
                });
            if !ok {
                return Err(format!(
                    "invalid gate name {name:?}: expected 1 to 80 characters from [a-z0-9._+-]"
                ));
            }
        }
        match &d.reference {
            Some(reference) => {
                let Some(runtime) = &d.runtime else {
                    return Err(format!(
                        "a relative gate (reference `{reference}`) needs the `runtime` it compares"
                    ));
                };
                if runtime == reference {
                    return Err(format!("gate compares runtime `{runtime}` with itself"));
                }
                if bound.kind != BoundKind::Ratio {
                    return Err(format!(
                        "a relative gate's bound is a ratio to `{reference}`, like 15% or 10x; got {:?}",
                        bound.text
                    ));
                }
            }
            None => {
                if bound.kind == BoundKind::Ratio {
                    return Err(format!(
                        "bound {:?} is a ratio: add `reference: <runtime>` to compare with another runtime, \
                         or give an absolute {} bound",
                        bound.text,
                        unit_example(d.metric)
                    ));
                }
                if bound.kind != d.metric.unit() {
                    return Err(format!(
                        "bound {:?} does not fit metric `{}`: expected {}",
                        bound.text,
                        d.metric,
                        unit_example(d.metric)
                    ));
                }
            }
        }
        let confidence = d.confidence.unwrap_or(DEFAULT_CONFIDENCE);
        if !(0.5..=0.999).contains(&confidence) {
            return Err(format!(
                "invalid confidence {confidence}: expected 0.5 to 0.999"
            ));
        }
        let sigma = d.noise_prior.unwrap_or(NOISE_PRIOR_SIGMA);
        if !(sigma > 0.0 && sigma <= 2.0) {
            return Err(format!(
                "invalid noise_prior {sigma}: expected σ of ln(metric) above 0 and at most 2"
            ));
        }
        let df = d.prior_df.unwrap_or(NOISE_PRIOR_DF);
        if !(0.0..=1000.0).contains(&df) {
            return Err(format!("invalid prior_df {df}: expected 0 to 1000"));
        }
        let noise_prior = NoisePrior { sigma, df };
        let mut clients: Vec<u32> = d.clients.iter().map(|c| c.get()).collect();
        clients.sort_unstable();
        clients.dedup();
        let mut patterns = d.patterns;
        patterns.dedup();
        Ok(GateSpec {
            name: d.name,
            metric: d.metric,
            runtime: d.runtime,
            reference: d.reference,
            direction,
            bound,
            patterns,
            clients,
            inconclusive: d.inconclusive,
            confidence,
            noise_prior,
        })
    }
}

impl From<GateSpec> for GateDef {
    fn from(g: GateSpec) -> GateDef {
        let (at_least, at_most) = match g.direction {
            Direction::AtLeast => (Some(g.bound), None),
            Direction::AtMost => (None, Some(g.bound)),
        };
        GateDef {
            name: g.name,
            metric: g.metric,
            runtime: g.runtime,
            reference: g.reference,
            at_least,
            at_most,
            patterns: g.patterns,
            clients: g
                .clients
                .into_iter()
                .filter_map(|c| ClientCount::try_from(c).ok())
                .collect(),
            inconclusive: g.inconclusive,
            confidence: (g.confidence != DEFAULT_CONFIDENCE).then_some(g.confidence),
            noise_prior: (g.noise_prior.sigma != NOISE_PRIOR_SIGMA).then_some(g.noise_prior.sigma),
            prior_df: (g.noise_prior.df != NOISE_PRIOR_DF).then_some(g.noise_prior.df),
        }
    }
}

fn unit_example(metric: Metric) -> &'static str {
    match metric.unit() {
        BoundKind::Bandwidth => "bandwidth like 100MiB/s",
        BoundKind::Latency => "latency like 500us or 5ms",
        BoundKind::Count => "count like 20000 or 20k",
        BoundKind::Ratio => "ratio like 15%",
    }
}

/// One row a gate will compute: the cell under test and, for relative gates, its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// Access pattern.
    pub pattern: Pattern,
    /// Number of clients.
    pub clients: u32,
    /// Runtime under test.
    pub runtime: String,
    /// Cell name of the measurement under test.
    pub subject: String,
    /// Reference runtime (relative gates).
    pub reference_runtime: Option<String>,
    /// Cell name of the reference measurement (relative gates).
    pub reference: Option<String>,
}

impl GateSpec {
    /// Parses one gate from YAML (the same shape as an entry of a matrix's `gates:`), e.g.
    /// `{ metric: bw, runtime: kata, reference: host, at_least: 15% }`.
    pub fn from_yaml(text: &str) -> std::result::Result<GateSpec, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// A relative gate has a reference runtime; an absolute one a fixed bound.
    pub fn is_relative(&self) -> bool {
        self.reference.is_some()
    }

    /// The assertion as a test-name part: `gvisor-read-bw-ge-15pct-of-host`, `all-p99-le-5ms`
    /// (or the gate's own `name`).
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let mut parts = vec![
            self.runtime
                .as_ref()
                .map_or("all".to_owned(), |r| r.to_string()),
        ];
        if !self.patterns.is_empty() {
            parts.push(
                self.patterns
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
            );
        }
        parts.push(self.metric.as_str().to_owned());
        parts.push(self.direction.slug().to_owned());
        parts.push(self.bound.slug());
        if let Some(reference) = &self.reference {
            parts.push(format!("of-{reference}"));
        }
        parts.join("-")
    }

    /// The assertion for people: `gvisor read bw ≥ 15% of host`.
    pub fn describe(&self) -> String {
        let who = self
            .runtime
            .as_ref()
            .map_or("every runtime".to_owned(), |r| r.to_string());
        let what = if self.patterns.is_empty() {
            String::new()
        } else {
            format!(
                " {}",
                self.patterns
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            )
        };
        let bound = match (&self.reference, self.bound.kind) {
            (Some(reference), _) if self.bound.text.ends_with('%') => {
                format!("{} of {reference}", self.bound)
            }
            (Some(reference), _) => format!(
                "{} × {reference}",
                self.bound.text.trim_end_matches(['x', 'X', '×'])
            ),
            (None, _) => self.bound.to_string(),
        };
        let clients = match self.clients.as_slice() {
            [] => String::new(),
            list => format!(
                " at {} clients",
                list.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            ),
        };
        format!(
            "{who}{what} {} {} {bound}{clients}",
            self.metric,
            self.direction.symbol()
        )
    }

    /// The test name of this gate at `clients` clients: `smoke/gate/<label>/c8`.
    pub fn trial_name(&self, matrix: &Matrix, clients: u32) -> String {
        format!("{}/gate/{}/c{clients}", matrix.name, self.label())
    }

    /// The client counts this gate covers in `matrix`, one test each.
    pub fn client_counts(&self, matrix: &Matrix) -> Vec<u32> {
        let of = |name: &RuntimeName| -> Vec<u32> {
            matrix
                .runtimes
                .iter()
                .find(|r| &r.name == name)
                .map(|r| {
                    r.clients
                        .as_ref()
                        .unwrap_or(&matrix.clients)
                        .iter()
                        .map(|c| c.get())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut available: Vec<u32> = match (&self.runtime, &self.reference) {
            (Some(r), Some(reference)) => {
                let theirs = of(reference);
                of(r).into_iter().filter(|c| theirs.contains(c)).collect()
            }
            (Some(r), None) => of(r),
            (None, _) => matrix.runtimes.iter().flat_map(|r| of(&r.name)).collect(),
        };
        available.sort_unstable();
        available.dedup();
        if self.clients.is_empty() {
            available
        } else {
            available.retain(|c| self.clients.contains(c));
            available
        }
    }

    /// The rows this gate computes over `matrix`, at one client count or all it covers.
    pub fn plan(&self, matrix: &Matrix, clients: Option<u32>) -> Vec<PlannedRow> {
        let counts: Vec<u32> = match clients {
            Some(c) => self
                .client_counts(matrix)
                .into_iter()
                .filter(|x| *x == c)
                .collect(),
            None => self.client_counts(matrix),
        };
        let patterns: Vec<Pattern> = if self.patterns.is_empty() {
            matrix.workload.patterns.clone()
        } else {
            self.patterns
                .iter()
                .copied()
                .filter(|p| matrix.workload.patterns.contains(p))
                .collect()
        };
        let has = |runtime: &str, clients: u32| {
            matrix.runtimes.iter().any(|r| {
                r.name.as_str() == runtime
                    && r.clients
                        .as_ref()
                        .unwrap_or(&matrix.clients)
                        .iter()
                        .any(|c| c.get() == clients)
            })
        };
        let subjects: Vec<String> = match &self.runtime {
            Some(r) => vec![r.to_string()],
            None => matrix.runtimes.iter().map(|r| r.name.to_string()).collect(),
        };
        let cell = |runtime: &str, clients: u32, pattern: Pattern| {
            format!("{}/{runtime}/c{clients}/{pattern}", matrix.name)
        };
        let mut rows = Vec::new();
        for &pattern in &patterns {
            for &c in &counts {
                for runtime in &subjects {
                    if !has(runtime, c) {
                        continue;
                    }
                    let reference = self.reference.as_ref().map(|r| r.to_string());
                    rows.push(PlannedRow {
                        pattern,
                        clients: c,
                        runtime: runtime.clone(),
                        subject: cell(runtime, c, pattern),
                        reference: reference.as_ref().map(|r| cell(r, c, pattern)),
                        reference_runtime: reference,
                    });
                }
            }
        }
        rows
    }

    /// The cells this gate needs, in interleaving order (subject, reference, next row, ...).
    pub fn cells(&self, file: &MatrixFile, clients: Option<u32>) -> Vec<Cell> {
        let all = file.cells();
        let mut out: Vec<Cell> = Vec::new();
        for row in self.plan(&file.matrix, clients) {
            for name in std::iter::once(&row.subject).chain(row.reference.as_ref()) {
                if out.iter().any(|c| &c.name == name) {
                    continue;
                }
                if let Some(cell) = all.iter().find(|c| &c.name == name) {
                    out.push(cell.clone());
                }
            }
        }
        out
    }
}

/// Checks a matrix's gates against the matrix (runtimes, patterns, client counts, unique test
/// names); errors carry the line and column of the offending gate entry.
pub fn check_gates(matrix: &Matrix, path: &std::path::Path, text: &str) -> Result<()> {
    let mut names = std::collections::BTreeMap::new();
    for (i, gate) in matrix.gates.iter().enumerate() {
        let fail = |key: &str, message: String| {
            let (line, column) = locate_gate_key(text, i, key);
            Err(Error::Matrix {
                location: YamlLocation {
                    path: path.to_owned(),
                    line,
                    column,
                },
                message: format!("gate {}: {message}", i + 1),
            })
        };
        let known = |name: &RuntimeName| matrix.runtimes.iter().any(|r| &r.name == name);
        let runtimes = || {
            matrix
                .runtimes
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(r) = &gate.runtime
            && !known(r)
        {
            return fail(
                "runtime",
                format!("unknown runtime `{r}`; the matrix has: {}", runtimes()),
            );
        }
        if let Some(r) = &gate.reference
            && !known(r)
        {
            return fail(
                "reference",
                format!("unknown runtime `{r}`; the matrix has: {}", runtimes()),
            );
        }
        if let Some(p) = gate
            .patterns
            .iter()
            .find(|p| !matrix.workload.patterns.contains(p))
        {
            return fail(
                "patterns",
                format!("pattern `{p}` is not among the workload's patterns"),
            );
        }
        let covered = gate.client_counts(matrix);
        if let Some(c) = gate.clients.iter().find(|c| !covered.contains(c)) {
            let who = match (&gate.runtime, &gate.reference) {
                (Some(r), Some(reference)) => format!("both `{r}` and `{reference}`"),
                (Some(r), None) => format!("`{r}`"),
                (None, _) => "any runtime".into(),
            };
            return fail(
                "clients",
                format!("{c} clients is not a client count of {who}"),
            );
        }
        if covered.is_empty() {
            return fail(
                if gate.clients.is_empty() {
                    "reference"
                } else {
                    "clients"
                },
                "the compared runtimes have no client count in common".into(),
            );
        }
        if let Some(other) = names.insert(gate.label(), i) {
            return fail(
                "metric",
                format!(
                    "gate makes the same test name `{}` as gate {}; give one a `name`",
                    gate.label(),
                    other + 1
                ),
            );
        }
    }
    Ok(())
}

/// Line and column of `key:` inside entry `index` of the top-level `gates:` list, else of the
/// entry, else of `gates:` (block style; flow-style lists point at `gates:`).
fn locate_gate_key(text: &str, index: usize, key: &str) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(start) = lines.iter().position(|l| l.starts_with("gates:")) else {
        return (0, 0);
    };
    let gates_at = (start as u64 + 1, 1);
    let mut items: Vec<usize> = Vec::new();
    let mut item_indent: Option<usize> = None;
    let mut end = lines.len();
    for (n, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = indent(line);
        let is_item = trimmed.starts_with("- ") || trimmed == "-";
        if is_item && item_indent.is_none_or(|i| i == ind) {
            item_indent = Some(ind);
            items.push(n);
        } else if ind == 0 {
            end = n;
            break;
        }
    }
    let Some(&first) = items.get(index) else {
        return gates_at;
    };
    let last = items.get(index + 1).copied().unwrap_or(end);
    for (n, line) in lines.iter().enumerate().take(last).skip(first) {
        let mut from = 0;
        while let Some(pos) = line[from..].find(&format!("{key}:")) {
            let at = from + pos;
            let before = line[..at].chars().last();
            if before.is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-') {
                return (n as u64 + 1, at as u64 + 1);
            }
            from = at + key.len();
        }
    }
    let line = lines[first];
    (first as u64 + 1, indent(line) as u64 + 1)
}

// ---------------------------------------------------------------------------------------------
// Statistics: log-scale intervals.

/// How an interval was formed (always on log values, with the noise prior pooled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Paired t on per-repetition log differences (same k on both sides).
    PairedT,
    /// Welch's t on the log values of both sides (different k).
    Welch,
    /// One-sample t on log values (absolute bound).
    OneSampleT,
}

impl Method {
    /// Short label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::PairedT => "paired t",
            Method::Welch => "Welch t",
            Method::OneSampleT => "t",
        }
    }
}

/// What is assumed about the noise before looking at a gate's own repetitions: σ of ln(metric)
/// per repetition, worth `df` degrees of freedom (the A/A runs it was measured from).
///
/// The interval uses the pooled variance `(df·σ² + (k−1)·s²) / (df + k − 1)` with `df + k − 1`
/// degrees of freedom — the posterior of the mean under a scaled-inverse-χ² prior on the
/// variance and a flat prior on the mean. With one repetition the prior alone decides the
/// width; with many the data dominate. `df = 0` uses the data alone (k = 1 is then always
/// inconclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoisePrior {
    /// σ of ln(metric) of one repetition.
    pub sigma: f64,
    /// Its weight in degrees of freedom.
    pub df: f64,
}

impl Default for NoisePrior {
    fn default() -> Self {
        NoisePrior {
            sigma: NOISE_PRIOR_SIGMA,
            df: NOISE_PRIOR_DF,
        }
    }
}

impl NoisePrior {
    /// Pooled variance and degrees of freedom of one side: `k` values with sample variance `var`
    /// (per repetition; `scale` multiplies the prior variance, 2 for a difference of two sides).
    fn pool(self, k: usize, var: f64, scale: f64) -> (f64, f64) {
        let data_df = k.saturating_sub(1) as f64;
        let df = self.df + data_df;
        if df <= 0.0 {
            return (f64::INFINITY, 0.0);
        }
        (
            (self.df * scale * self.sigma.powi(2) + data_df * var) / df,
            df,
        )
    }
}

/// An estimate with its interval, in natural-log units: `exp(estimate)` is the geometric-mean
/// ratio (relative) or geometric mean (absolute).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogInterval {
    /// Log of the geometric-mean ratio or of the geometric mean.
    pub estimate: f64,
    /// Lower end of the interval (log).
    pub lo: f64,
    /// Upper end of the interval (log).
    pub hi: f64,
    /// Pooled σ of one repetition of the compared log quantity (log differences for paired t,
    /// a difference of one repetition per side for Welch, the values for one-sample t).
    pub spread: f64,
    /// σ the repetitions themselves show (same scale as `spread`; 0 with one repetition).
    pub observed: f64,
    /// Repetitions behind it: the smaller side.
    pub k: usize,
    /// Degrees of freedom of the t quantile.
    pub df: f64,
    /// How it was formed.
    pub method: Method,
}

/// The three verdicts (plus skipped, for gates whose cells could not run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The whole interval is on the passing side of the bound.
    Pass,
    /// Not measured: an optional runtime is missing.
    Skipped,
    /// The interval straddles the bound: too noisy to decide.
    Inconclusive,
    /// The whole interval is on the failing side of the bound, or a needed cell failed.
    Fail,
}

impl Verdict {
    /// `pass`, `fail`, `inconclusive`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Skipped => "skipped",
        }
    }
}

impl LogInterval {
    /// The verdict against `bound` (a ratio or a value, not a log).
    pub fn verdict(&self, direction: Direction, bound: f64) -> Verdict {
        let b = bound.ln();
        match direction {
            Direction::AtLeast if self.lo >= b => Verdict::Pass,
            Direction::AtLeast if self.hi < b => Verdict::Fail,
            Direction::AtMost if self.hi <= b => Verdict::Pass,
            Direction::AtMost if self.lo > b => Verdict::Fail,
            _ => Verdict::Inconclusive,
        }
    }

    /// `exp(estimate)`.
    pub fn center(&self) -> f64 {
        self.estimate.exp()
    }

    /// The interval back on the linear scale.
    pub fn range(&self) -> (f64, f64) {
        (self.lo.exp(), self.hi.exp())
    }
}

fn logs(values: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() || values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    Some(values.iter().map(|v| v.ln()).collect())
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Geometric mean (`None` for an empty slice or a non-positive value).
pub fn geometric_mean(values: &[f64]) -> Option<f64> {
    logs(values).map(|l| mean(&l).exp())
}

/// σ of the log values (0 for one value; `None` for none or a non-positive value).
pub fn log_spread(values: &[f64]) -> Option<f64> {
    logs(values).map(|l| sd(&l))
}

/// Interval of the ratio `subject / reference` on a log scale: paired t on the log differences
/// when both sides have the same k, Welch on the log values when they differ; variances pooled
/// with the noise prior (see [`NoisePrior`]). `None` when a side is empty or has a non-positive
/// value.
pub fn relative_interval(
    subject: &[f64],
    reference: &[f64],
    confidence: f64,
    prior: NoisePrior,
) -> Option<LogInterval> {
    let a = logs(subject)?;
    let b = logs(reference)?;
    let (ka, kb) = (a.len(), b.len());
    let estimate = mean(&a) - mean(&b);
    let tail = 1.0 - (1.0 - confidence) / 2.0;
    let (se, df, spread, observed, method) = if ka == kb {
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let s = sd(&d);
        let (var, df) = prior.pool(ka, s * s, 2.0);
        ((var / ka as f64).sqrt(), df, var.sqrt(), s, Method::PairedT)
    } else {
        let (sa, sb) = (sd(&a), sd(&b));
        let (var_a, df_a) = prior.pool(ka, sa * sa, 1.0);
        let (var_b, df_b) = prior.pool(kb, sb * sb, 1.0);
        let (va, vb) = (var_a / ka as f64, var_b / kb as f64);
        let df = if df_a > 0.0 && df_b > 0.0 && va + vb > 0.0 {
            (va + vb).powi(2) / (va.powi(2) / df_a + vb.powi(2) / df_b)
        } else {
            0.0
        };
        let observed = (sa * sa + sb * sb).sqrt();
        (
            (va + vb).sqrt(),
            df,
            (var_a + var_b).sqrt(),
            observed,
            Method::Welch,
        )
    };
    let half = if df > 0.0 {
        t_quantile(tail, df) * se
    } else {
        f64::INFINITY
    };
    Some(LogInterval {
        estimate,
        lo: estimate - half,
        hi: estimate + half,
        spread,
        observed,
        k: ka.min(kb),
        df,
        method,
    })
}

/// Interval of the geometric mean of `subject` on a log scale: one-sample t on the log values,
/// variance pooled with the noise prior. `None` when empty or a value is non-positive.
pub fn absolute_interval(
    subject: &[f64],
    confidence: f64,
    prior: NoisePrior,
) -> Option<LogInterval> {
    let a = logs(subject)?;
    let k = a.len();
    let estimate = mean(&a);
    let tail = 1.0 - (1.0 - confidence) / 2.0;
    let s = sd(&a);
    let (var, df) = prior.pool(k, s * s, 1.0);
    let half = if df > 0.0 {
        t_quantile(tail, df) * (var / k as f64).sqrt()
    } else {
        f64::INFINITY
    };
    Some(LogInterval {
        estimate,
        lo: estimate - half,
        hi: estimate + half,
        spread: var.sqrt(),
        observed: s,
        k,
        df,
        method: Method::OneSampleT,
    })
}

/// Quantile of the standard normal distribution; ±∞ at 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    Normal::standard().inverse_cdf(p)
}

/// Quantile of Student's t distribution with `df` degrees of freedom; NaN outside its domain.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) if (0.0..=1.0).contains(&p) => t.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// CDF of Student's t distribution.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |d| d.cdf(t))
}

// ---------------------------------------------------------------------------------------------
// Evaluation: a gate over a run's records.

/// One row of a gate's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Access pattern.
    pub pattern: Pattern,
    /// Number of clients.
    pub clients: u32,
    /// Runtime under test.
    pub runtime: String,
    /// Reference runtime (relative gates).
    pub reference_runtime: Option<String>,
    /// The numbers, or why there are none.
    pub result: RowResult,
}

/// A row's numbers, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowResult {
    /// Both sides measured.
    Measured {
        /// Geometric mean of the runtime's repetitions.
        measured: f64,
        /// Geometric mean of the reference's repetitions (relative gates).
        reference: Option<f64>,
        /// Repetitions of the runtime and (relative gates) of the reference.
        k: (usize, Option<usize>),
        /// The interval of the ratio (relative) or of the value (absolute), log scale.
        interval: LogInterval,
        /// Its verdict.
        verdict: Verdict,
    },
    /// A needed cell has no numbers.
    Missing {
        /// Why (the cell's reason, or that it has not run).
        reason: String,
        /// The cell was skipped (optional runtime missing) rather than failed.
        skipped: bool,
    },
}

impl Row {
    /// This row's verdict.
    pub fn verdict(&self) -> Verdict {
        match &self.result {
            RowResult::Measured { verdict, .. } => *verdict,
            RowResult::Missing { skipped: true, .. } => Verdict::Skipped,
            RowResult::Missing { skipped: false, .. } => Verdict::Fail,
        }
    }
}

/// A gate's outcome over one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The gate.
    pub gate: GateSpec,
    /// Its rows, pattern-major.
    pub rows: Vec<Row>,
    /// The overall verdict: fail if any row fails, else inconclusive if any is, else pass (or
    /// skipped when no row was measured).
    pub verdict: Verdict,
}

/// What a test should do with a gate's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The test passes; the text is a short summary.
    Pass(String),
    /// The test fails; the text explains why, with the table.
    Fail(String),
    /// The test is reported as ignored (skipped cells, or a tolerated inconclusive verdict).
    Ignore(String),
}

fn values(record: &CellRecord, metric: Metric) -> Vec<f64> {
    record.repetitions.iter().map(|r| metric.of(r)).collect()
}

fn lookup<'a>(
    records: &'a [CellRecord],
    name: &str,
) -> std::result::Result<&'a CellRecord, RowResult> {
    match records.iter().rev().find(|r| r.name == name) {
        None => Err(RowResult::Missing {
            reason: format!("cell {name} has not run"),
            skipped: false,
        }),
        Some(r) if r.status == Status::Passed && !r.repetitions.is_empty() => Ok(r),
        Some(r) => Err(RowResult::Missing {
            reason: format!(
                "cell {name} {}: {}",
                match r.status {
                    Status::Skipped => "was skipped",
                    _ => "failed",
                },
                r.reason.as_deref().unwrap_or("no repetitions")
            ),
            skipped: r.status == Status::Skipped,
        }),
    }
}

/// Evaluates `gate` over a run's `records` (cell records, e.g. `summary.cells`), at one client
/// count or at every count it covers.
pub fn evaluate(
    gate: &GateSpec,
    matrix: &Matrix,
    clients: Option<u32>,
    records: &[CellRecord],
) -> GateReport {
    let mut rows = Vec::new();
    for planned in gate.plan(matrix, clients) {
        let result = (|| {
            let subject = lookup(records, &planned.subject)?;
            let a = values(subject, gate.metric);
            match &planned.reference {
                Some(reference_name) => {
                    let reference = lookup(records, reference_name)?;
                    let b = values(reference, gate.metric);
                    let Some(interval) =
                        relative_interval(&a, &b, gate.confidence, gate.noise_prior)
                    else {
                        return Err(RowResult::Missing {
                            reason: format!("{} is zero or missing in a repetition", gate.metric),
                            skipped: false,
                        });
                    };
                    Ok(RowResult::Measured {
                        measured: geometric_mean(&a).unwrap_or(f64::NAN),
                        reference: geometric_mean(&b),
                        k: (a.len(), Some(b.len())),
                        verdict: interval.verdict(gate.direction, gate.bound.value()),
                        interval,
                    })
                }
                None => {
                    let Some(interval) = absolute_interval(&a, gate.confidence, gate.noise_prior)
                    else {
                        return Err(RowResult::Missing {
                            reason: format!("{} is zero or missing in a repetition", gate.metric),
                            skipped: false,
                        });
                    };
                    Ok(RowResult::Measured {
                        measured: interval.center(),
                        reference: None,
                        k: (a.len(), None),
                        verdict: interval.verdict(gate.direction, gate.bound.value()),
                        interval,
                    })
                }
            }
        })()
        .unwrap_or_else(|missing| missing);
        rows.push(Row {
            pattern: planned.pattern,
            clients: planned.clients,
            runtime: planned.runtime,
            reference_runtime: planned.reference_runtime,
            result,
        });
    }
    let verdicts: Vec<Verdict> = rows.iter().map(Row::verdict).collect();
    let verdict = if verdicts.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else if verdicts.contains(&Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Skipped
    };
    GateReport {
        gate: gate.clone(),
        rows,
        verdict,
    }
}

/// Runs the cells `gate` needs in `session`, interleaved (see [`Session::run_interleaved`]), and
/// evaluates it — the whole gate from Rust, without the test harness.
pub fn run(session: &mut Session, gate: &GateSpec, clients: Option<u32>) -> Result<GateReport> {
    let cells = gate.cells(session.matrix(), clients);
    let records = session.run_interleaved(&cells)?;
    Ok(evaluate(gate, &session.matrix().matrix, clients, &records))
}

impl GateReport {
    /// The table: one row per pattern × clients (× runtime): measured, reference, ratio (or
    /// value) with its interval, bound, k, spread, verdict. Markdown.
    pub fn table(&self) -> String {
        let g = &self.gate;
        let pct = format!("{}", (g.confidence * 100.0 * 10.0).round() / 10.0);
        let mut out = String::new();
        let what = if g.is_relative() { "ratio" } else { "value" };
        let _ = writeln!(
            out,
            "| pattern | clients | runtime | measured | reference | {what} [{pct} % CI] | bound | k | spread | verdict |"
        );
        out.push_str("|---|---:|---|---:|---:|---|---|---:|---:|---|\n");
        for row in &self.rows {
            let reference_name = row.reference_runtime.as_deref().unwrap_or("–");
            match &row.result {
                RowResult::Measured {
                    measured,
                    reference,
                    k,
                    interval,
                    verdict,
                } => {
                    let (lo, hi) = interval.range();
                    let (estimate, range, bound) = if g.is_relative() {
                        (
                            format!("{}×", sig3(interval.center())),
                            format!("[{}, {}]", sig3(lo), sig3(hi)),
                            format!("{} {}×", g.direction.symbol(), sig3(g.bound.value())),
                        )
                    } else {
                        (
                            g.metric.format(interval.center()),
                            format!("[{}, {}]", g.metric.format(lo), g.metric.format(hi)),
                            format!(
                                "{} {}",
                                g.direction.symbol(),
                                g.metric.format(g.bound.value())
                            ),
                        )
                    };
                    let reference = match reference {
                        Some(r) => format!("{} ({reference_name})", g.metric.format(*r)),
                        None => "–".into(),
                    };
                    let k = match k {
                        (a, Some(b)) if *b != *a => format!("{a}/{b}"),
                        (a, _) => a.to_string(),
                    };
                    let prior = if interval.observed == 0.0 && interval.k < 2 {
                        " (prior)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {reference} | {estimate} {range} | {bound} | {k} | ±{}{prior} | {} |",
                        row.pattern,
                        row.clients,
                        row.runtime,
                        g.metric.format(*measured),
                        pct_spread(interval.spread),
                        verdict.as_str()
                    );
                }
                RowResult::Missing { reason, skipped } => {
                    let verdict = if *skipped { "skipped" } else { "FAIL" };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | – | – | – | {} {} | – | – | {verdict}: {} |",
                        row.pattern,
                        row.clients,
                        row.runtime,
                        g.direction.symbol(),
                        g.bound,
                        reason.replace('|', "/").lines().next().unwrap_or_default()
                    );
                }
            }
        }
        out
    }

    /// "too noisy to decide: k = 3, spread ±14 %; add repetitions or lengthen the runtime", for
    /// the noisiest inconclusive row; `None` when no row is inconclusive.
    pub fn noise_advice(&self) -> Option<String> {
        let worst = self
            .rows
            .iter()
            .filter_map(|r| match &r.result {
                RowResult::Measured {
                    interval,
                    verdict: Verdict::Inconclusive,
                    ..
                } => Some(interval),
                _ => None,
            })
            .max_by(|a, b| (a.hi - a.lo).total_cmp(&(b.hi - b.lo)))?;
        let prior = if worst.k < 2 {
            format!(
                " (one repetition: the spread is the prior σ = {})",
                self.gate.noise_prior.sigma
            )
        } else {
            String::new()
        };
        Some(format!(
            "too noisy to decide: k = {}, spread ±{}{prior}, {} % interval ×/÷ {}; add repetitions \
             (workload.repetitions) or lengthen the runtime",
            worst.k,
            pct_spread(worst.spread),
            (self.gate.confidence * 100.0).round(),
            sig3(((worst.hi - worst.lo) / 2.0).exp())
        ))
    }

    /// What a test makes of this report: pass, fail (with the table), or ignored with a reason.
    /// An inconclusive verdict is never a pass.
    pub fn decision(&self) -> Decision {
        let head = format!("gate `{}`", self.gate.describe());
        match self.verdict {
            Verdict::Pass => Decision::Pass(format!("{head}: pass\n{}", self.table())),
            Verdict::Fail => {
                let mut text = format!("{head}: FAIL\n\n{}", self.table());
                if let Some(advice) = self.noise_advice() {
                    let _ = write!(text, "\nother rows are inconclusive — {advice}\n");
                }
                Decision::Fail(text)
            }
            Verdict::Inconclusive => {
                let advice = self.noise_advice().unwrap_or_default();
                match self.gate.inconclusive {
                    Inconclusive::Fail => Decision::Fail(format!(
                        "{head}: inconclusive, which fails the gate (`inconclusive: ignore` tolerates it) — \
                         {advice}\n\n{}",
                        self.table()
                    )),
                    Inconclusive::Ignore => Decision::Ignore(format!("inconclusive — {advice}")),
                }
            }
            Verdict::Skipped => {
                let reason = self
                    .rows
                    .iter()
                    .find_map(|r| match &r.result {
                        RowResult::Missing { reason, .. } => Some(reason.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "no cell of this gate is in the run".into());
                Decision::Ignore(reason)
            }
        }
    }
}

/// `exp(σ) − 1` as a percentage: the typical factor one repetition is off by.
fn pct_spread(sigma: f64) -> String {
    format!("{}%", sig3((sigma.exp() - 1.0) * 100.0))
}
