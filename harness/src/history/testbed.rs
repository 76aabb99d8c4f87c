//! The testbed fingerprint: a stable description of the machine a number belongs to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::run::Environment;

/// The machine, tools and runtimes behind a run's numbers; `None` where unknown (runs imported
/// from directories do not know the CPU model or memory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Testbed {
    /// `model name` of `/proc/cpuinfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// CPUs available to the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<usize>,
    /// `MemTotal` of `/proc/meminfo`, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// `uname -r`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// `fio --version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fio: Option<String>,
    /// Each available runtime: its kind, handler and version.
    #[serde(default)]
    pub runtimes: BTreeMap<String, RuntimeFingerprint>,
}

/// What identifies a runtime's implementation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeFingerprint {
    /// `host`, `docker`, `kubernetes`, `microvm`.
    pub kind: String,
    /// OCI handler or RuntimeClass handler (`runc`, `runsc`, `kata-qemu`), qemu accelerator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// The runtime's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Testbed {
    /// What a run's `environment.json` says (no CPU model or memory).
    pub fn of(env: &Environment) -> Testbed {
        let runtimes = env
            .runtimes
            .iter()
            .filter_map(|(name, info)| {
                let text = |key: &str| info.get(key)?.as_str().map(str::to_owned);
                Some((
                    name.clone(),
                    RuntimeFingerprint {
                        kind: text("kind")?,
                        handler: text("handler"),
                        version: text("version"),
                    },
                ))
            })
            .collect();
        Testbed {
            cpu_model: None,
            cpus: Some(env.cpus),
            memory_bytes: None,
            kernel: Some(env.kernel.clone()).filter(|k| !k.is_empty()),
            fio: Some(env.fio.clone()).filter(|f| !f.is_empty()),
            runtimes,
        }
    }

    /// This fingerprint with the CPU model and memory of the machine running this process.
    pub fn on_this_machine(mut self) -> Testbed {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        self.cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, model)| model.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        self.memory_bytes = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024);
        self
    }

    /// What differs from `recorded`, one line per field, counting only what both know.
    pub fn changes_since(&self, recorded: &Testbed) -> Vec<String> {
        let mut changes = Vec::new();
        let mut compare = |what: &str, was: Option<String>, now: Option<String>| {
            if let (Some(was), Some(now)) = (was, now)
                && was != now
            {
                changes.push(format!("{what}: {was} → {now}"));
            }
        };
        compare("CPU", recorded.cpu_model.clone(), self.cpu_model.clone());
        let count = |n: Option<usize>| n.map(|n| n.to_string());
        compare("CPUs", count(recorded.cpus), count(self.cpus));
        let memory = |m: Option<u64>| m.map(|b| format!("{} MiB", b >> 20));
        compare(
            "memory",
            memory(recorded.memory_bytes),
            memory(self.memory_bytes),
        );
        compare("kernel", recorded.kernel.clone(), self.kernel.clone());
        compare("fio", recorded.fio.clone(), self.fio.clone());
        for (name, now) in &self.runtimes {
            if let Some(was) = recorded.runtimes.get(name) {
                compare(
                    &format!("{name} kind"),
                    Some(was.kind.clone()),
                    Some(now.kind.clone()),
                );
                compare(
                    &format!("{name} handler"),
                    was.handler.clone(),
                    now.handler.clone(),
                );
                compare(
                    &format!("{name} version"),
                    was.version.clone(),
                    now.version.clone(),
                );
            }
        }
        changes
    }

    /// `recorded` updated with what this fingerprint knows (runtimes found by earlier sessions
    /// are kept).
    pub fn merged_into(&self, recorded: &Testbed) -> Testbed {
        let mut merged = recorded.clone();
        merged.cpu_model = self.cpu_model.clone().or(merged.cpu_model);
        merged.cpus = self.cpus.or(merged.cpus);
        merged.memory_bytes = self.memory_bytes.or(merged.memory_bytes);
        merged.kernel = self.kernel.clone().or(merged.kernel);
        merged.fio = self.fio.clone().or(merged.fio);
        for (name, runtime) in &self.runtimes {
            merged.runtimes.insert(name.clone(), runtime.clone());
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_what_both_know() {
        let runsc = |version: &str| RuntimeFingerprint {
            kind: "docker".into(),
            handler: Some("runsc".into()),
            version: Some(version.into()),
        };
        let was = Testbed {
            kernel: Some("6.1".into()),
            fio: Some("fio-3.33".into()),
            runtimes: [("gvisor".to_owned(), runsc("20221219"))].into(),
            ..Testbed::default()
        };
        let now = Testbed {
            cpu_model: Some("EPYC".into()),
            kernel: Some("6.12".into()),
            fio: Some("fio-3.33".into()),
            runtimes: [("gvisor".to_owned(), runsc("20240101"))].into(),
            ..Testbed::default()
        };
        assert_eq!(
            now.changes_since(&was),
            ["kernel: 6.1 → 6.12", "gvisor version: 20221219 → 20240101"]
        );
        assert_eq!(now.merged_into(&was).cpu_model.as_deref(), Some("EPYC"));
    }
}
