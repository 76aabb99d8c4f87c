//! Exclusive file locks: machine-wide (one cell at a time) and per run directory.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};
use crate::settings::settings;

/// An exclusive, machine-wide lock: one cell at a time across threads and processes (cargo
/// test's thread pool, nextest's processes, two `iogate run`s), so cells never disturb each other.
pub struct MachineLock(File);

impl MachineLock {
    /// Takes the lock file `name` in `$IOGATE_LOCK_DIR` (default: the system temp directory),
    /// waiting for whoever holds it.
    pub fn acquire(name: &str) -> Result<MachineLock> {
        Self::at(&settings().lock_dir.join(name))
    }

    /// Takes the lock file at `path` (also used per run directory, around the files its
    /// sessions share), waiting for whoever holds it.
    pub fn at(path: &Path) -> Result<MachineLock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(MachineLock(file))
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
