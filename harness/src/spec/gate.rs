//! Performance gates as written: what a gate asserts (metric, runtime, reference, bound,
//! direction, patterns, client counts) and the noise prior it assumes. How a gate covers a matrix
//! is in `spec::plan`; how it is decided, in `judge::gate` (see `docs/gates.md`).
//!
//! A gate is declared in the matrix (`gates:`) or built in Rust ([`GateSpec::from_yaml`]) and is
//! either *relative* — one runtime against another in the same run ("kata read bw ≥ 15 % of host")
//! — or *absolute* ("host bw ≥ 100 MiB/s", "p99 ≤ 5 ms").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::values::{ClientCount, Pattern, RuntimeName};
use crate::stats::NoisePrior;
use crate::units::sig3;

/// Confidence level of gate intervals unless a gate sets `confidence`.
pub(crate) const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Prior σ of `ln(metric)` for one repetition: the A/A bandwidth spread measured on the 2-core
/// CI-class machines for 3 s page-cache runs (field notes: σ(log bw) ≈ 0.11 over 8 runs).
/// Shorter runs are noisier; a gate may set `noise_prior`.
pub(crate) const NOISE_PRIOR_SIGMA: f64 = 0.11;

/// Weight of the prior in degrees of freedom: the 8 A/A runs it was measured from (n − 1 = 7).
/// A gate may set `prior_df` (0: its own repetitions only).
pub(crate) const NOISE_PRIOR_DF: f64 = 7.0;

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
    /// Every metric, in table order.
    pub const ALL: [Metric; 6] = [
        Metric::Bw,
        Metric::Iops,
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P99_9,
    ];

    /// The metric named `name` as [`Metric::as_str`] spells it (`p999` also names p99.9).
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == name || (name == "p999" && *m == Metric::P99_9))
    }

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
    pub(crate) fn unit(self) -> BoundKind {
        match self {
            Metric::Bw => BoundKind::Bandwidth,
            Metric::Iops => BoundKind::Count,
            _ => BoundKind::Latency,
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
    pub(crate) fn symbol(self) -> &'static str {
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

/// What an inconclusive verdict (still unclear when the budget is spent) does to the gate's test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Inconclusive {
    /// A warning: the test is reported as ignored with why — never as passed (the default).
    #[default]
    Warn,
    /// The test fails with the "too noisy to decide" message.
    Fail,
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
    /// `warn` (default) or `fail`: what a verdict still unclear when the budget is spent does to
    /// the test.
    #[serde(default)]
    inconclusive: Inconclusive,
    /// From 0.5 to 0.999 (default 0.95): a row passes when "worse" is rejected at this level;
    /// also the level of the interval shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
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
    /// A row passes when "worse" is rejected at this level; the level of the interval shown.
    pub confidence: f64,
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

impl GateSpec {
    /// Parses one gate from YAML (the same shape as an entry of a matrix's `gates:`), e.g.
    /// `{ metric: bw, runtime: kata, reference: host, at_least: 15% }`.
    pub fn from_yaml(text: &str) -> crate::Result<GateSpec> {
        serde_saphyr::from_str(text).map_err(|e| crate::Error::Invalid {
            what: "gate",
            message: e.to_string(),
        })
    }

    /// A relative gate has a reference runtime; an absolute one a fixed bound.
    pub(crate) fn is_relative(&self) -> bool {
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
}
impl Default for NoisePrior {
    fn default() -> Self {
        NoisePrior {
            sigma: NOISE_PRIOR_SIGMA,
            df: NOISE_PRIOR_DF,
        }
    }
}
