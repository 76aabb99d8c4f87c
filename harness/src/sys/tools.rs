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

/// A statically linked busybox, for an image or initramfs that has no libraries of its own:
/// `$IOGATE_BUSYBOX`, `/bin/busybox` or `/usr/bin/busybox`. `purpose` says what needs it.
pub(crate) fn static_busybox(purpose: &str) -> Result<PathBuf> {
    let candidates = crate::settings::settings()
        .busybox
        .clone()
        .into_iter()
        .chain(["/bin/busybox", "/usr/bin/busybox"].map(PathBuf::from));
    for c in candidates {
        if c.is_file() && is_static_elf(&c) {
            return Ok(c);
        }
    }
    Err(Error::Missing {
        what: format!("a static busybox (for {purpose})"),
        how: "install it: `apt-get install busybox-static` (or run `.ci/setup`)".into(),
    })
}

/// An ELF file without a `PT_INTERP` program header (no dynamic loader).
fn is_static_elf(path: &Path) -> bool {
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    if data.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        data.get(o..o + 4) != Some(&3u32.to_le_bytes()[..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_static_check_reads_program_headers() {
        // The test binary itself is dynamically linked.
        assert!(!is_static_elf(&std::env::current_exe().unwrap()));
    }

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
