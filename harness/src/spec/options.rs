//! What a matrix may put into a fio job file: typed, validated values and an allow-list of options.
//!
//! fio executes commands and loads code named in job files (`exec_prerun`, `ioengine=<path>`, triggers),
//! expands `${VAR}`, follows `include`, and splits lines at 8 KiB. Every value that reaches a job file goes
//! through [`check_value`], and options come from [`ALLOWED_OPTIONS`]; `fio::job` renders them.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest value accepted in a job file (fio reads lines with an 8 KiB buffer).
pub(crate) const MAX_VALUE_LEN: usize = 256;

/// Rejects values that could change the job file's structure or make fio expand something.
pub(crate) fn check_value(value: &str) -> std::result::Result<(), String> {
    if value.len() > MAX_VALUE_LEN {
        return Err(format!(
            "value is {} characters long; at most {MAX_VALUE_LEN} are allowed",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "value contains the control character {c:?} (a newline would start a new fio option or section)"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '[' | ']' | ';' | '#' | '$'))
    {
        return Err(format!(
            "value contains {c:?}: `[ ]` open fio sections, `; #` start comments and `$` expands environment variables"
        ));
    }
    Ok(())
}

/// A fio job (section) name: `[A-Za-z0-9_-]`, not starting with `global` (fio treats that as `[global]`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct JobName(String);

impl TryFrom<String> for JobName {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "invalid name {s:?}: expected 1 to 64 characters from [A-Za-z0-9_-]"
            ));
        }
        if s.to_ascii_lowercase().starts_with("global") {
            return Err(format!(
                "invalid name {s:?}: fio treats a section named `global…` as [global]"
            ));
        }
        Ok(JobName(s))
    }
}

impl From<JobName> for String {
    fn from(n: JobName) -> String {
        n.0
    }
}

impl JobName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// I/O engines iogate allows; fio `dlopen`s any other name, so nothing else is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IoEngine {
    /// pread/pwrite (the default).
    #[default]
    Psync,
    /// read/write.
    Sync,
    /// preadv/pwritev.
    Pvsync,
    /// preadv2/pwritev2.
    Pvsync2,
    /// Linux native AIO.
    Libaio,
    /// io_uring.
    #[serde(rename = "io_uring")]
    IoUring,
    /// POSIX AIO.
    Posixaio,
    /// mmap'd files.
    Mmap,
}

impl IoEngine {
    /// fio's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            IoEngine::Psync => "psync",
            IoEngine::Sync => "sync",
            IoEngine::Pvsync => "pvsync",
            IoEngine::Pvsync2 => "pvsync2",
            IoEngine::Libaio => "libaio",
            IoEngine::IoUring => "io_uring",
            IoEngine::Posixaio => "posixaio",
            IoEngine::Mmap => "mmap",
        }
    }
}

/// fio options a matrix may add, beyond the typed workload fields. Anything else is rejected.
pub(crate) const ALLOWED_OPTIONS: &[&str] = &[
    "buffer_compress_percentage",
    "create_on_open",
    "directory",
    "end_fsync",
    "fallocate",
    "fdatasync",
    "file_service_type",
    "filename",
    "fsync",
    "fsync_on_close",
    "invalidate",
    "iodepth_batch_complete_max",
    "iodepth_batch_complete_min",
    "iodepth_batch_submit",
    "nrfiles",
    "norandommap",
    "pre_read",
    "random_distribution",
    "randrepeat",
    "randseed",
    "rate",
    "rate_iops",
    "refill_buffers",
    "rwmixread",
    "scramble_buffers",
    "sync",
    "thinktime",
    "thinktime_blocks",
    "thinktime_iotime",
    "zero_buffers",
];

/// Options the harness sets itself from typed fields.
const TYPED_OPTIONS: &[&str] = &[
    "bs",
    "direct",
    "group_reporting",
    "iodepth",
    "ioengine",
    "numjobs",
    "ramp_time",
    "runtime",
    "rw",
    "size",
    "thread",
    "time_based",
];

/// Why a known-dangerous option is refused.
fn refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "exec_prerun" | "exec_postrun" => "it runs a shell command",
        "include" => "it reads another job file",
        "ioengine" => {
            "set `workload.ioengine` from the allow-list instead (fio dlopen()s unknown engines)"
        }
        "cgroup" | "cgroup_weight" | "cgroup_nodelete" => {
            "it creates and moves fio into cgroups on the host"
        }
        "uid" | "gid" => "it changes the user fio runs as",
        "trigger" | "trigger-file" | "trigger-timeout" | "trigger-remote" => {
            "triggers run commands"
        }
        "filename_format" | "opendir" | "ioscheduler" | "replay_redirect" => {
            "it reaches files or devices outside the harness's directories"
        }
        n if n.ends_with("_log") || n.contains("iolog") || n.starts_with("replay") => {
            "it writes or reads log files at paths of its own"
        }
        n if n.starts_with("verify_state") => "it writes state files at paths of its own",
        "thinktime_spin" => {
            "fio 3.33 hangs with it (the job runs far past `runtime`); use `thinktime` with \
             `thinktime_iotime` or `thinktime_blocks`"
        }
        _ => return None,
    })
}

/// Validated extra fio options: allow-listed names, safe values; `filename`/`directory` relative to the client's directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, OptionValueInput>",
    into = "BTreeMap<String, String>"
)]
pub struct FioOptions(BTreeMap<String, String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OptionValueInput {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl JsonSchema for FioOptions {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FioOptions".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<serde_json::Value> = ALLOWED_OPTIONS.iter().map(|n| (*n).into()).collect();
        schemars::json_schema!({
            "description": "Extra fio options from the allow-list; values are plain (no newlines, [ ] ; # $).",
            "type": "object",
            "propertyNames": { "enum": names },
            "additionalProperties": { "type": ["string", "integer", "boolean"] }
        })
    }
}

impl TryFrom<BTreeMap<String, OptionValueInput>> for FioOptions {
    type Error = String;
    fn try_from(input: BTreeMap<String, OptionValueInput>) -> std::result::Result<Self, String> {
        let mut options = BTreeMap::new();
        for (name, value) in input {
            let value = match value {
                OptionValueInput::Bool(b) => u8::from(b).to_string(),
                OptionValueInput::Int(i) => i.to_string(),
                OptionValueInput::Text(t) => t,
            };
            check_option(&name, &value)?;
            options.insert(name, value);
        }
        Ok(FioOptions(options))
    }
}

impl From<FioOptions> for BTreeMap<String, String> {
    fn from(o: FioOptions) -> Self {
        o.0
    }
}

impl FioOptions {
    /// No extra options.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one option after the same checks as the matrix file gets.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<()> {
        check_option(name, value).map_err(Error::UnsafeJob)?;
        self.0.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    /// The options, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// These options with `over`'s on top: `over` wins for every option it sets.
    pub fn overridden_by(&self, over: &FioOptions) -> FioOptions {
        let mut merged = self.0.clone();
        merged.extend(over.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        FioOptions(merged)
    }

    /// An option that does nothing without another (`thinktime_iotime` without `thinktime`):
    /// its name and why, for the caller to locate.
    pub(crate) fn inert(&self) -> Option<(&'static str, String)> {
        if self.0.contains_key("thinktime") {
            return None;
        }
        ["thinktime_iotime", "thinktime_blocks"]
            .into_iter()
            .find(|name| self.0.contains_key(*name))
            .map(|name| {
                (
                    name,
                    format!(
                        "fio option `{name}` does nothing without `thinktime` (in the workload's \
                         options or this runtime's)"
                    ),
                )
            })
    }
}

/// Options whose value is a time: fio reads a bare number as µs for `thinktime` but as seconds
/// for `thinktime_iotime`, so a unit is required.
const TIME_OPTIONS: &[&str] = &["thinktime", "thinktime_iotime"];

/// Longest time a [`TIME_OPTIONS`] value may name (1 h), in µs.
const MAX_TIME_US: u64 = 3_600_000_000;

/// Checks a time value: a whole number of `us`, `ms` or `s`, from 1 µs to 1 h.
fn check_time(value: &str) -> std::result::Result<(), String> {
    let expected = "expected a time with a unit, like 200ms, 50us or 1s (a bare number is µs to \
                    `thinktime` but seconds to `thinktime_iotime`)";
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let per_unit: u64 = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        _ => return Err(format!("{value:?}: {expected}")),
    };
    let us = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit))
        .ok_or_else(|| format!("{value:?}: {expected}"))?;
    if !(1..=MAX_TIME_US).contains(&us) {
        return Err(format!("{value:?} is out of range: expected 1us to 3600s"));
    }
    Ok(())
}

/// Checks one extra option: name on the allow-list, value safe, paths inside the client's directory.
pub fn check_option(name: &str, value: &str) -> std::result::Result<(), String> {
    if let Some(why) = refusal(name) {
        return Err(format!("fio option `{name}` is not allowed: {why}"));
    }
    if TYPED_OPTIONS.contains(&name) {
        return Err(format!(
            "fio option `{name}` is set by the harness from the workload's typed fields; use those"
        ));
    }
    if !ALLOWED_OPTIONS.contains(&name) {
        return Err(format!(
            "fio option `{name}` is not on the allow-list; allowed: {}",
            ALLOWED_OPTIONS.join(", ")
        ));
    }
    check_value(value).map_err(|e| format!("fio option `{name}`: {e}"))?;
    if TIME_OPTIONS.contains(&name) {
        check_time(value).map_err(|e| format!("fio option `{name}`: {e}"))?;
    }
    if matches!(name, "filename" | "directory") {
        let path = Path::new(value);
        let inside = path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if value.is_empty() || !inside || value.contains(':') {
            return Err(format!(
                "fio option `{name}={value}` is outside the target: expected a relative path without `..` or `:`, \
                 resolved under the client's directory"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> FioOptions {
        let mut o = FioOptions::default();
        for (k, v) in pairs {
            o.insert(k, v).unwrap();
        }
        o
    }

    #[test]
    fn overrides_win_per_key_and_keep_the_rest() {
        let workload = options(&[("invalidate", "0"), ("rate", "10m")]);
        let runtime = options(&[("rate", "5m"), ("thinktime", "200ms")]);
        let merged = workload.overridden_by(&runtime);
        assert_eq!(
            merged.iter().collect::<Vec<_>>(),
            [("invalidate", "0"), ("rate", "5m"), ("thinktime", "200ms")]
        );
        assert_eq!(workload.overridden_by(&FioOptions::default()), workload);
        assert_eq!(FioOptions::default().overridden_by(&runtime), runtime);
    }

    #[test]
    fn times_need_a_unit_and_stay_within_an_hour() {
        for ok in ["1us", "200ms", "800ms", "3600s", "3600000ms"] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in [
            "200",
            "0us",
            "3601s",
            "1h",
            "1.5s",
            "ms",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn thinktime_companions_need_thinktime() {
        assert_eq!(
            options(&[("thinktime_iotime", "1s")])
                .inert()
                .map(|(k, _)| k),
            Some("thinktime_iotime")
        );
        assert_eq!(
            options(&[("thinktime_blocks", "4")])
                .inert()
                .map(|(k, _)| k),
            Some("thinktime_blocks")
        );
        assert!(
            options(&[("thinktime", "1ms"), ("thinktime_iotime", "1s")])
                .inert()
                .is_none()
        );
    }
}
