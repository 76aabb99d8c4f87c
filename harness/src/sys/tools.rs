//! Programs on this machine: where they are, what version they say they are, which libraries
//! they load.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The path of an executable file named `program` on `$PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The first line `<program> <arg>` prints (e.g. `runsc --version`), killed after `timeout`.
/// A `program` without a `/` is looked up on `$PATH`.
pub fn first_line_of(
    program: impl AsRef<std::ffi::OsStr>,
    arg: &str,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let handle = duct::cmd(program.as_ref(), [arg])
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        match handle.try_wait() {
            Ok(Some(out)) => {
                let text = String::from_utf8_lossy(&out.stdout);
                return match text.lines().next() {
                    Some(line) if out.status.success() => Ok(line.trim().to_owned()),
                    _ => Err(format!("exited with {}: {}", out.status, text.trim())),
                };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = handle.kill();
                return Err(format!("did not finish within {timeout:?}"));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The shared libraries and dynamic loader `ldd` lists for `exe`, at the paths the loader opens
/// them; none for a static executable. A library `ldd` cannot find is [`Error::Missing`].
pub fn ldd(exe: &Path) -> Result<Vec<PathBuf>> {
    let out = duct::cmd("ldd", [exe])
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|e| Error::Missing {
            what: "ldd".into(),
            how: format!("install it: `apt-get install libc-bin` ({e})"),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let not_found: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("=> not found"))
        .collect();
    if !not_found.is_empty() {
        return Err(Error::Missing {
            what: format!(
                "libraries {} needs ({})",
                exe.display(),
                not_found.join(", ")
            ),
            how: format!(
                "reinstall the package that ships {} with its dependencies (`apt-get install --reinstall …`)",
                exe.display()
            ),
        });
    }
    if !out.status.success() {
        if text.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        let why = std::io::Error::other(format!("`ldd` failed: {}", text.trim()));
        return Err(Error::io(exe, why));
    }
    Ok(text
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_runs_a_program() {
        let sh = which("sh").expect("sh on PATH");
        assert!(first_line_of(&sh, "-c", Duration::from_secs(5)).is_err());
        let libs = ldd(&std::env::current_exe().unwrap()).unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc")),
            "{libs:?}"
        );
    }
}
