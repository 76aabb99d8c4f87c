//! The validated values a matrix is made of: names, counts, the target directory and patterns.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::options::check_value;

/// fio access pattern (`rw=`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Sequential read.
    Read,
    /// Random read.
    Randread,
    /// Sequential write.
    Write,
    /// Random write.
    Randwrite,
}

impl Pattern {
    /// Every pattern, in the study's order.
    pub const ALL: [Pattern; 4] = [
        Pattern::Read,
        Pattern::Randread,
        Pattern::Write,
        Pattern::Randwrite,
    ];

    /// fio's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Read => "read",
            Pattern::Randread => "randread",
            Pattern::Write => "write",
            Pattern::Randwrite => "randwrite",
        }
    }

    /// The study's label ("sequential read", ...).
    pub fn label(self) -> &'static str {
        match self {
            Pattern::Read => "sequential read",
            Pattern::Randread => "random read",
            Pattern::Write => "sequential write",
            Pattern::Randwrite => "random write",
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok(Self(s))
                } else {
                    Err(format!("invalid value {s:?}: expected {}", $expected))
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// A runtime's name: lowercase letters, digits and `-`, at most 32 characters.
    RuntimeName,
    |s| !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
    "a runtime name of 1 to 32 characters from [a-z0-9-]"
);

/// The absolute directory fio files live under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct TargetDir(PathBuf);

impl TryFrom<String> for TargetDir {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        check_value(&s).map_err(|e| format!("target {s:?}: {e}"))?;
        let path = PathBuf::from(&s);
        let plain = path.components().all(|c| {
            matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        });
        if !path.is_absolute() || !plain || s.contains(':') || path.parent().is_none() {
            return Err(format!(
                "invalid target {s:?}: expected an absolute directory below / without `..`, `.` or `:`"
            ));
        }
        Ok(TargetDir(path))
    }
}

impl From<TargetDir> for String {
    fn from(t: TargetDir) -> String {
        t.0.to_string_lossy().into_owned()
    }
}

impl TargetDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

macro_rules! bounded_count {
    ($(#[$doc:meta])* $name:ident, $max:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(n: u32) -> Result<Self, String> {
                if (1..=$max).contains(&n) {
                    Ok(Self(n))
                } else {
                    Err(format!("invalid value {n}: expected {}", $expected))
                }
            }
        }

        impl From<$name> for u32 {
            fn from(n: $name) -> u32 {
                n.0
            }
        }

        impl $name {
            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }
        }
    };
}

bounded_count!(
    /// Concurrent fio clients in one cell.
    ClientCount,
    1024,
    "a client count from 1 to 1024"
);
bounded_count!(
    /// fio threads per client (`numjobs`).
    Threads,
    256,
    "a thread count from 1 to 256"
);
bounded_count!(
    /// Worker nodes clients spread over.
    NodeCount,
    64,
    "a node count from 1 to 64"
);
