//! Archives written by hand, byte for byte reproducible (mtime 0, owner root): ustar for the
//! Docker image's root file system, `newc` cpio for the microVM's initramfs.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A ustar header block (owner root, mtime 0 so the layer is reproducible).
pub fn tar_header(
    path: &str,
    size: u64,
    mode: u32,
    kind: u8,
) -> std::result::Result<[u8; 512], String> {
    let too_long = || format!("path {path:?} is too long for a tar header");
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let split = path[..path.len().min(156)]
            .rfind('/')
            .ok_or_else(too_long)?;
        (&path[..split], &path[split + 1..])
    };
    if name.len() > 100 || prefix.len() > 155 {
        return Err(too_long());
    }
    let mut h = [0u8; 512];
    let mut put =
        |offset: usize, bytes: &[u8]| h[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0, name.as_bytes());
    put(100, format!("{mode:07o}\0").as_bytes());
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{size:011o}\0").as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        ");
    put(156, &[kind]);
    put(257, b"ustar\0");
    put(263, b"00");
    put(265, b"root");
    put(297, b"root");
    put(345, prefix.as_bytes());
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// A `newc` cpio archive written entry by entry; parent directories are added as needed.
/// Entries carry mtime 0 and root ownership, so the same inputs give the same bytes.
pub struct Cpio {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    /// Starts an archive at `path` (truncated).
    pub fn create(path: &Path) -> Result<Cpio> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(Cpio {
            out: std::io::BufWriter::new(file),
            path: path.to_owned(),
            ino: 1,
            dirs: BTreeSet::new(),
        })
    }

    fn header(&mut self, name: &str, mode: u32, size: usize, rdev: (u32, u32)) -> Result<()> {
        let name = name.trim_start_matches('/');
        self.ino += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let header = format!(
            "070701{:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            0,
            0,
            0,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.write(header.as_bytes())?;
        self.write(name.as_bytes())?;
        self.write(&[0])?;
        self.pad(110 + name.len() + 1)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn pad(&mut self, len: usize) -> Result<()> {
        let pad = (4 - len % 4) % 4;
        self.write(&[0; 3][..pad])
    }

    fn parents(&mut self, path: &str) -> Result<()> {
        if let Some((parent, _)) = path.rsplit_once('/')
            && !parent.is_empty()
            && !self.dirs.contains(parent)
        {
            self.dir(parent)?;
        }
        Ok(())
    }

    /// Adds a directory (mode 0755) and its missing parents.
    pub fn dir(&mut self, path: &str) -> Result<()> {
        if self.dirs.contains(path) {
            return Ok(());
        }
        self.parents(path)?;
        self.dirs.insert(path.to_owned());
        self.header(path, 0o040755, 0, (0, 0))
    }

    /// Adds a character device node.
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.parents(path)?;
        self.header(path, 0o020000 | perm, 0, (major, minor))
    }

    /// Adds a file with `data` and its missing parent directories.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.parents(path)?;
        self.header(path, 0o100000 | perm, data.len(), (0, 0))?;
        self.write(data)?;
        self.pad(data.len())
    }

    /// Adds a host file's content (symlinks followed) at `path`.
    pub fn host_file(&mut self, path: &str, perm: u32, host: &Path) -> Result<()> {
        let data = std::fs::read(host).map_err(|e| Error::io(host, e))?;
        self.file(path, perm, &data)
    }

    /// Writes the trailer and flushes the archive.
    pub fn finish(mut self) -> Result<()> {
        self.header("TRAILER!!!", 0, 0, (0, 0))?;
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_are_valid_ustar() {
        let h = tar_header("usr/bin/fio", 1234, 0o755, b'0').unwrap();
        assert_eq!(&h[0..11], b"usr/bin/fio");
        assert_eq!(&h[257..263], b"ustar\0");
        let stored = std::str::from_utf8(&h[148..154]).unwrap();
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
        let long = format!("{}/file", "d".repeat(120));
        let h = tar_header(&long, 0, 0o644, b'0').unwrap();
        assert_eq!(&h[0..4], b"file");
        assert_eq!(&h[345..465], "d".repeat(120).as_bytes());
    }

    #[test]
    fn cpio_entries_are_aligned_and_end_with_a_trailer() {
        let dir = std::env::temp_dir().join(format!("iogate-cpio-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.cpio");
        let mut c = Cpio::create(&path).unwrap();
        c.file("/a/b/c", 0o644, b"hello").unwrap();
        c.char_device("/dev/console", 0o600, 5, 1).unwrap();
        c.finish().unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len() % 4, 0);
        let text = String::from_utf8_lossy(&data);
        // a, a/b, a/b/c, dev, dev/console, trailer
        assert_eq!(text.matches("070701").count(), 6);
        assert!(text.contains("a/b/c\0"));
        assert!(text.contains("TRAILER!!!"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
