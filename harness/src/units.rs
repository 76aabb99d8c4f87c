//! Units and human formatting: fio's sizes and durations as typed values, and the one place
//! numbers are formatted for people (tables, reports, messages).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A byte count written like fio's sizes: `64k`, `32GiB`, `4096` (k, m, g, t are powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "SizeInput", into = "String")]
pub struct ByteSize(u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeInput {
    Number(u64),
    Text(String),
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size: bytes, or a number with k, m, g or t (powers of 1024), e.g. 64k, 32GiB.",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "string", "pattern": "^[0-9]+ ?([kKmMgGtT](i?[bB])?|[bB])?$" }
            ]
        })
    }
}

impl TryFrom<SizeInput> for ByteSize {
    type Error = String;
    fn try_from(input: SizeInput) -> std::result::Result<Self, String> {
        let expected =
            "expected a positive size like 4096, 64k or 32GiB (k, m, g, t = powers of 1024)";
        let bytes = match input {
            SizeInput::Number(n) => n,
            SizeInput::Text(s) => {
                let t = s.trim();
                let digits = t.bytes().take_while(u8::is_ascii_digit).count();
                let (number, unit) = t.split_at(digits);
                let number: u64 = number
                    .parse()
                    .map_err(|_| format!("invalid size {s:?}: {expected}"))?;
                let shift = match unit.trim_start().to_ascii_lowercase().as_str() {
                    "" | "b" => 0,
                    "k" | "kb" | "kib" => 10,
                    "m" | "mb" | "mib" => 20,
                    "g" | "gb" | "gib" => 30,
                    "t" | "tb" | "tib" => 40,
                    _ => return Err(format!("invalid size {s:?}: {expected}")),
                };
                number
                    .checked_mul(1 << shift)
                    .ok_or_else(|| format!("invalid size {s:?}: too large"))?
            }
        };
        if bytes == 0 {
            return Err(format!("invalid size 0: {expected}"));
        }
        Ok(ByteSize(bytes))
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::try_from(SizeInput::Text(s.to_owned()))
    }
}

impl From<ByteSize> for String {
    fn from(b: ByteSize) -> String {
        b.to_string()
    }
}

impl ByteSize {
    /// A size of `bytes` bytes (must be > 0).
    pub fn new(bytes: u64) -> std::result::Result<Self, String> {
        Self::try_from(SizeInput::Number(bytes))
    }

    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] {
            if self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// A duration written like `3s`, `500ms`, `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FioDuration(std::time::Duration);

impl JsonSchema for FioDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FioDuration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a number with ms, s, m or h, e.g. 3s, 500ms.",
            "type": "string",
            "pattern": "^[0-9]+ ?(ms|s|m|h)$"
        })
    }
}

impl TryFrom<String> for FioDuration {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        let expected = "expected a duration like 500ms, 3s, 2m or 1h";
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = t.split_at(digits);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: {expected}"))?;
        let ms = match unit.trim_start() {
            "ms" => n,
            "s" => n * 1000,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            _ => return Err(format!("invalid duration {s:?}: {expected}")),
        };
        Ok(FioDuration(std::time::Duration::from_millis(ms)))
    }
}

impl std::str::FromStr for FioDuration {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::try_from(s.to_owned())
    }
}

impl From<FioDuration> for String {
    fn from(d: FioDuration) -> String {
        d.to_string()
    }
}

impl FioDuration {
    /// A duration from whole milliseconds.
    pub fn from_millis(ms: u64) -> Self {
        FioDuration(std::time::Duration::from_millis(ms))
    }

    /// As a std duration.
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl std::fmt::Display for FioDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
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
/// `x` rounded to `digits` significant figures.
pub fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Latency in µs as the tables print it: one decimal below 10 µs, whole µs above.
pub fn fmt_us(ns: u64) -> String {
    if ns < 10_000 {
        format!("{:.1}", ns as f64 / 1000.0)
    } else {
        format!("{}", (ns + 500) / 1000)
    }
}

/// Bandwidth in MiB/s with one decimal.
pub fn fmt_mib(bytes_per_s: f64) -> String {
    format!("{:.1}", bytes_per_s / MIB)
}

/// Bytes in a MiB.
pub const MIB: f64 = 1024.0 * 1024.0;

/// A byte count as people read it (`32 MiB`, `1.5 GiB`).
pub fn fmt_bytes(bytes: u64) -> String {
    let units = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in units {
        if bytes >= size {
            let v = bytes as f64 / size as f64;
            return if v.fract() == 0.0 {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

/// The first line of a reason, for table notes; the full text follows it where there is room.
pub fn first_line(reason: &str) -> &str {
    reason
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// `42s`, `3m05s`, `1h02m`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_us(5_120), "5.1");
        assert_eq!(fmt_us(296_960), "297");
        assert_eq!(fmt_mib(3.0 * MIB), "3.0");
        assert_eq!(fmt_bytes(32 << 20), "32 MiB");
        assert_eq!(fmt_bytes(3 << 29), "1.5 GiB");
        assert_eq!(fmt_bytes(512), "512 B");
    }
}
