//! Every `IOGATE_*` environment variable (and the few others iogate reads), read once into typed
//! settings. A bad value is reported by [`Settings::check`], naming the variable, before anything
//! runs (insta's `env.rs` does the same for `INSTA_*`).

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// What the environment says, read once per process.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `IOGATE_RESULTS`: base directory of run directories.
    pub results: Option<PathBuf>,
    /// `IOGATE_RUN_ID`: the run id processes of one run share (nextest).
    pub run_id: Option<String>,
    /// `IOGATE_LOCK_DIR`: where machine-wide lock files live (default: the temp directory).
    pub lock_dir: PathBuf,
    /// `IOGATE_MATRIX`: the one matrix file the test harness runs, instead of `matrices/*.yaml`.
    pub matrix: Option<PathBuf>,
    /// `IOGATE_ASSETS`: where microVM guest assets are cached.
    pub assets: Option<PathBuf>,
    /// `IOGATE_BUSYBOX`: a static busybox for the microVM initramfs.
    pub busybox: Option<PathBuf>,
    /// `IOGATE_KERNEL_DEB`: a Debian kernel package for the microVM guest.
    pub kernel_deb: Option<PathBuf>,
    /// `IOGATE_QEMU`: the qemu binary.
    pub qemu: Option<PathBuf>,
    /// `IOGATE_VIRTIOFSD`: the virtiofsd binary.
    pub virtiofsd: Option<PathBuf>,
    /// `IOGATE_HISTORY`: the results history, a SQLite file path or a `postgres://` URL (default:
    /// `history.sqlite` in the results base of the run).
    pub history: Option<String>,
    /// `IOGATE_TESTBED`: the name of the machine class a run's numbers belong to (default: the
    /// host name).
    pub testbed: Option<String>,
    /// `GITHUB_SHA`: the commit a CI job runs.
    pub git_commit: Option<String>,
    /// `CARGO_TARGET_DIR`: cargo's target directory, when set.
    pub cargo_target_dir: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the file GitHub Actions shows as the job summary.
    pub step_summary: Option<PathBuf>,
    /// Variables whose values could not be used, with why.
    pub problems: Vec<String>,
}

/// The process's settings, read from the environment on first use.
pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings::from_vars(|name| std::env::var_os(name)))
}

impl Settings {
    /// Settings from a variable lookup (the environment, or a test's map).
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Settings {
        let path = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let text = |name: &str| {
            var(name)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string_lossy().into_owned())
        };
        let mut problems = Vec::new();
        let run_id = text("IOGATE_RUN_ID").filter(|id| {
            let ok = id.len() <= 128
                && !id.starts_with('.')
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                problems.push(format!(
                    "IOGATE_RUN_ID={id:?}: expected up to 128 characters from [A-Za-z0-9._-], not starting with `.`"
                ));
            }
            ok
        });
        let testbed = text("IOGATE_TESTBED").filter(|name| {
            let ok = name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                problems.push(format!(
                    "IOGATE_TESTBED={name:?}: expected 1 to 64 characters from [A-Za-z0-9._-]"
                ));
            }
            ok
        });
        Settings {
            results: path("IOGATE_RESULTS"),
            run_id,
            lock_dir: path("IOGATE_LOCK_DIR").unwrap_or_else(std::env::temp_dir),
            matrix: path("IOGATE_MATRIX"),
            assets: path("IOGATE_ASSETS"),
            busybox: path("IOGATE_BUSYBOX"),
            kernel_deb: path("IOGATE_KERNEL_DEB"),
            qemu: path("IOGATE_QEMU"),
            virtiofsd: path("IOGATE_VIRTIOFSD"),
            history: text("IOGATE_HISTORY"),
            testbed,
            git_commit: text("GITHUB_SHA"),
            cargo_target_dir: path("CARGO_TARGET_DIR"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
            problems,
        }
    }

    /// `Err` naming every variable whose value could not be used.
    pub fn check(&self) -> Result<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Settings(self.problems.join("; ")))
        }
    }

    /// Base directory for results: `IOGATE_RESULTS`, else `$CARGO_TARGET_DIR/iogate`, else
    /// `target/iogate`.
    pub fn results_base(&self) -> PathBuf {
        if let Some(dir) = &self.results {
            return dir.clone();
        }
        self.cargo_target_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("target"))
            .join("iogate")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.into()))
    }

    #[test]
    fn defaults_and_values() {
        let s = with(&[]);
        assert!(s.check().is_ok());
        assert_eq!(s.results_base(), PathBuf::from("target/iogate"));
        let s = with(&[("IOGATE_RESULTS", "/r")]);
        assert_eq!(s.results_base(), PathBuf::from("/r"));
    }

    #[test]
    fn every_bad_variable_is_named() {
        let s = with(&[("IOGATE_RUN_ID", "../x"), ("IOGATE_TESTBED", "a b")]);
        let message = s.check().unwrap_err().to_string();
        for name in ["IOGATE_RUN_ID", "IOGATE_TESTBED"] {
            assert!(message.contains(name), "{message}");
        }
    }
}
