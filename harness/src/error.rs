//! Every error iogate reports, carrying the cell or YAML location it concerns.

use std::path::PathBuf;

/// Result alias used throughout the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in a matrix file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlLocation {
    /// The matrix file.
    pub path: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
}

impl std::fmt::Display for YamlLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// Everything that can go wrong, from reading a matrix to tearing a fixture down.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The matrix file is not valid: syntax, an unknown key or a bad value.
    #[error("{location}: {message}")]
    Matrix {
        /// Where in the file.
        location: YamlLocation,
        /// What was found and what was expected.
        message: String,
    },

    /// A value given in Rust (a constructor's argument) is not valid.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was being built (matrix, runtime, workload, gate, ...).
        what: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },

    /// A value would make an unsafe or malformed fio job file.
    #[error("unsafe fio job value: {0}")]
    UnsafeJob(String),

    /// A tool, service or runtime the cell needs is not there.
    #[error("{what} is missing: {how}")]
    Missing {
        /// What is missing (fio, Docker engine, runtime handler, RuntimeClass, ...).
        what: String,
        /// How to get it.
        how: String,
    },

    /// fio ran but failed, or its output could not be used.
    #[error("fio failed: {message}\n--- last lines of fio's output ---\n{tail}")]
    Fio {
        /// What went wrong.
        message: String,
        /// The tail of fio's stderr and stdout.
        tail: String,
    },

    /// fio's JSON could not be parsed or is inconsistent.
    #[error("fio output {path}: {message}")]
    FioOutput {
        /// The raw output file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A fixture could not set up or run its part.
    #[error("{fixture} fixture: {message}")]
    Fixture {
        /// host, docker, kubernetes, ...
        fixture: &'static str,
        /// What went wrong, with what the fixture saw.
        message: String,
    },

    /// A run directory already holds results of a different matrix.
    #[error(
        "{dir} holds a run of a matrix with hash {existing}, not this one ({matrix}): \
         cells of two matrices are never mixed in one run; set IOGATE_RUN_ID to a new id"
    )]
    RunMismatch {
        /// The run directory.
        dir: PathBuf,
        /// Hash of the matrix already recorded there.
        existing: String,
        /// Hash of the matrix being opened.
        matrix: String,
    },

    /// The results history (SQLite file or PostgreSQL server) could not be opened, read or
    /// written.
    #[error("results history {location}: {message}")]
    History {
        /// The store, as given (a file path or a URL without its password).
        location: String,
        /// What went wrong.
        message: String,
    },

    /// A signal (Ctrl-C, SIGTERM) stopped the run: what was running is torn down, nothing new
    /// starts.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
    },

    /// An environment variable has a value iogate cannot use.
    #[error("environment: {0}")]
    Settings(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error (printed with the path, so not a `#[source]`: chain printers would
        /// show it twice).
        source: std::io::Error,
    },
}

impl Error {
    /// An invalid `what`, from a validation message.
    pub fn invalid(what: &'static str) -> impl FnOnce(String) -> Error {
        move |message| Error::Invalid { what, message }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
