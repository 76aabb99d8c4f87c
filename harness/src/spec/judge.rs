//! How a matrix's gates and baselines are decided: the practical threshold, the family-wise
//! false-alarm rate, and the measuring budget that more blocks may use (see `docs/gates.md`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::FioDuration;

/// A fraction written as a percentage, `5%` (or a plain number, `0.05`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PercentDef", into = "String")]
pub struct Percent(f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum PercentDef {
    Text(String),
    Number(f64),
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A fraction below 1: a percentage like 5% or 0.5%, or a number like 0.05.",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)? ?%$" },
                { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 }
            ]
        })
    }
}

impl TryFrom<PercentDef> for Percent {
    type Error = String;
    fn try_from(d: PercentDef) -> Result<Self, String> {
        let value = match &d {
            PercentDef::Number(n) => *n,
            PercentDef::Text(t) => t
                .trim()
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok())
                .map(|p| p / 100.0)
                .ok_or_else(|| format!("invalid percentage {t:?}: expected like 5% or 0.5%"))?,
        };
        if !(value > 0.0 && value < 1.0) {
            return Err(format!(
                "expected a fraction between 0 and 100 % (exclusive), got {}",
                match d {
                    PercentDef::Number(n) => n.to_string(),
                    PercentDef::Text(t) => t,
                }
            ));
        }
        Ok(Percent(value))
    }
}

impl From<Percent> for String {
    fn from(p: Percent) -> String {
        p.to_string()
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", crate::units::round_sig(self.0 * 100.0, 3))
    }
}

impl Percent {
    /// `value` (a fraction) as a percentage; panics outside (0, 1).
    pub fn new(value: f64) -> Percent {
        Percent::try_from(PercentDef::Number(value)).expect("a fraction between 0 and 1")
    }

    /// The fraction (0.05 for `5%`).
    pub fn get(self) -> f64 {
        self.0
    }
}

/// How the gates and baselines of a run are decided, as written under `judge:`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct JudgeSpec {
    /// How much worse than its bound a metric must be shown to be before anything fails
    /// (default 5 %).
    pub threshold: Percent,
    /// Chance that an unchanged run fails any gate or baseline, Holm-corrected over all of them
    /// (default 1 %).
    pub false_alarms: Percent,
    /// Most blocks (repetitions) any cell gets while a decision is unclear (default 6); the
    /// workload's `repetitions` are the blocks measured before the first decision. Each gate
    /// row's looks are planned up to it (group-sequential boundaries), so the `budget` should
    /// let the rows reach it.
    pub max_blocks: u32,
    /// Measuring time per run that added blocks may fill (default 6m); an unclear decision when
    /// it is spent is reported as inconclusive.
    pub budget: FioDuration,
}

impl Default for JudgeSpec {
    fn default() -> Self {
        JudgeSpec {
            threshold: Percent(0.05),
            false_alarms: Percent(0.01),
            max_blocks: 6,
            budget: FioDuration::from_millis(360_000),
        }
    }
}

impl JudgeSpec {
    /// What is wrong with these settings, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        (self.max_blocks == 0 || self.max_blocks > 100)
            .then(|| format!("expected max_blocks from 1 to 100, got {}", self.max_blocks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_as_text_or_fraction_and_reject_the_rest() {
        let p: Percent = serde_json::from_str("\"5%\"").unwrap();
        assert_eq!(p.get(), 0.05);
        let p: Percent = serde_json::from_str("0.01").unwrap();
        assert_eq!(p.to_string(), "1%");
        for bad in ["\"0%\"", "\"100%\"", "\"five\"", "1.5", "0"] {
            assert!(serde_json::from_str::<Percent>(bad).is_err(), "{bad}");
        }
    }
}
