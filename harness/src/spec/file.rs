//! A matrix file as read: parsed, checked as a whole (runtimes, gates), hashed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, YamlLocation};
use crate::spec::cell::{Cell, cells_of};
use crate::spec::locate::yaml_message;
use crate::spec::matrix::Matrix;
use crate::spec::plan::check_gates;

/// A matrix file as read: the parsed matrix, its path and the hash of its bytes.
#[derive(Debug, Clone)]
pub struct MatrixFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The parsed matrix.
    pub matrix: Matrix,
    /// SHA-256 of the file's bytes, hex.
    pub hash: String,
    /// The file's text (copied into every run directory).
    pub text: String,
}

impl MatrixFile {
    /// Reads and validates a matrix file.
    pub fn load(path: impl AsRef<Path>) -> Result<MatrixFile> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses and validates matrix text; `path` is used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<MatrixFile> {
        let matrix: Matrix = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Error::Matrix {
                location: YamlLocation {
                    path: path.to_owned(),
                    line,
                    column,
                },
                message: yaml_message(&e.to_string()),
            }
        })?;
        matrix.check(path, text)?;
        check_gates(&matrix, path, text)?;
        let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
        Ok(MatrixFile {
            path: path.to_owned(),
            matrix,
            hash,
            text: text.to_owned(),
        })
    }

    /// A matrix built in Rust (e.g. from `#[rstest]` fixtures): rendered to YAML, then read back
    /// with every check a file gets; the path is `<rust:NAME>`.
    pub fn from_matrix(matrix: &Matrix) -> Result<MatrixFile> {
        let text = serde_saphyr::to_string(matrix).map_err(|e| Error::Matrix {
            location: YamlLocation {
                path: PathBuf::from(format!("<rust:{}>", matrix.name)),
                line: 0,
                column: 0,
            },
            message: e.to_string(),
        })?;
        Self::parse(Path::new(&format!("<rust:{}>", matrix.name)), &text)
    }

    /// Every cell, runtime-major: runtime × clients × pattern, in declaration order.
    pub fn cells(&self) -> Vec<Cell> {
        cells_of(&self.matrix)
    }
}

/// The JSON Schema of the matrix format, for editors.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Matrix);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}
