//! A gate over a matrix: the client counts and rows it covers, the cells it needs, and the checks
//! that tie a matrix's gates to its runtimes, patterns and client counts.

use crate::error::{Error, Result, YamlLocation};
use crate::spec::cell::{Cell, CellId, cells_of};
use crate::spec::gate::GateSpec;
use crate::spec::locate::locate_gate_key;
use crate::spec::matrix::Matrix;
use crate::spec::values::{Pattern, RuntimeName};

/// One row a gate will compute: the cell under test and, for relative gates, its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// Access pattern.
    pub pattern: Pattern,
    /// Number of clients.
    pub clients: u32,
    /// Runtime under test.
    pub runtime: String,
    /// Cell name of the measurement under test.
    pub subject: String,
    /// Reference runtime (relative gates).
    pub reference_runtime: Option<String>,
    /// Cell name of the reference measurement (relative gates).
    pub reference: Option<String>,
}

impl GateSpec {
    /// The test name of this gate at `clients` clients: `smoke/gate/<label>/c8`.
    pub fn trial_name(&self, matrix: &Matrix, clients: u32) -> String {
        CellId::gate_trial(matrix.name.as_str(), &self.label(), clients)
    }

    /// The client counts this gate covers in `matrix`, one test each.
    pub fn client_counts(&self, matrix: &Matrix) -> Vec<u32> {
        let of = |name: &RuntimeName| -> Vec<u32> {
            matrix
                .runtimes
                .iter()
                .find(|r| &r.name == name)
                .map(|r| {
                    r.clients
                        .as_ref()
                        .unwrap_or(&matrix.clients)
                        .iter()
                        .map(|c| c.get())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut available: Vec<u32> = match (&self.runtime, &self.reference) {
            (Some(r), Some(reference)) => {
                let theirs = of(reference);
                of(r).into_iter().filter(|c| theirs.contains(c)).collect()
            }
            (Some(r), None) => of(r),
            (None, _) => matrix.runtimes.iter().flat_map(|r| of(&r.name)).collect(),
        };
        available.sort_unstable();
        available.dedup();
        if self.clients.is_empty() {
            available
        } else {
            available.retain(|c| self.clients.contains(c));
            available
        }
    }

    /// The rows this gate computes over `matrix`, at one client count or all it covers.
    pub fn plan(&self, matrix: &Matrix, clients: Option<u32>) -> Vec<PlannedRow> {
        let counts: Vec<u32> = match clients {
            Some(c) => self
                .client_counts(matrix)
                .into_iter()
                .filter(|x| *x == c)
                .collect(),
            None => self.client_counts(matrix),
        };
        let patterns: Vec<Pattern> = if self.patterns.is_empty() {
            matrix.workload.patterns.clone()
        } else {
            self.patterns
                .iter()
                .copied()
                .filter(|p| matrix.workload.patterns.contains(p))
                .collect()
        };
        let has = |runtime: &str, clients: u32| {
            matrix.runtimes.iter().any(|r| {
                r.name.as_str() == runtime
                    && r.clients
                        .as_ref()
                        .unwrap_or(&matrix.clients)
                        .iter()
                        .any(|c| c.get() == clients)
            })
        };
        let subjects: Vec<String> = match &self.runtime {
            Some(r) => vec![r.to_string()],
            None => matrix.runtimes.iter().map(|r| r.name.to_string()).collect(),
        };
        let cell = |runtime: &str, clients: u32, pattern: Pattern| {
            CellId::new(matrix.name.as_str(), runtime, clients, pattern).name()
        };
        let mut rows = Vec::new();
        for &pattern in &patterns {
            for &c in &counts {
                for runtime in &subjects {
                    if !has(runtime, c) {
                        continue;
                    }
                    let reference = self.reference.as_ref().map(|r| r.to_string());
                    rows.push(PlannedRow {
                        pattern,
                        clients: c,
                        runtime: runtime.clone(),
                        subject: cell(runtime, c, pattern),
                        reference: reference.as_ref().map(|r| cell(r, c, pattern)),
                        reference_runtime: reference,
                    });
                }
            }
        }
        rows
    }

    /// The cells this gate needs, in interleaving order (subject, reference, next row, ...).
    pub fn cells(&self, matrix: &Matrix, clients: Option<u32>) -> Vec<Cell> {
        let all = cells_of(matrix);
        let mut out: Vec<Cell> = Vec::new();
        for row in self.plan(matrix, clients) {
            for name in std::iter::once(&row.subject).chain(row.reference.as_ref()) {
                if out.iter().any(|c| &c.name == name) {
                    continue;
                }
                if let Some(cell) = all.iter().find(|c| &c.name == name) {
                    out.push(cell.clone());
                }
            }
        }
        out
    }
}

/// Checks a matrix's gates against the matrix (runtimes, patterns, client counts, unique test
/// names); errors carry the line and column of the offending gate entry.
pub fn check_gates(matrix: &Matrix, path: &std::path::Path, text: &str) -> Result<()> {
    let mut names = std::collections::BTreeMap::new();
    for (i, gate) in matrix.gates.iter().enumerate() {
        let fail = |key: &str, message: String| {
            let (line, column) = locate_gate_key(text, i, key);
            Err(Error::Matrix {
                location: YamlLocation {
                    path: path.to_owned(),
                    line,
                    column,
                },
                message: format!("gate {}: {message}", i + 1),
            })
        };
        let known = |name: &RuntimeName| matrix.runtimes.iter().any(|r| &r.name == name);
        let runtimes = || {
            matrix
                .runtimes
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(r) = &gate.runtime
            && !known(r)
        {
            return fail(
                "runtime",
                format!("unknown runtime `{r}`; the matrix has: {}", runtimes()),
            );
        }
        if let Some(r) = &gate.reference
            && !known(r)
        {
            return fail(
                "reference",
                format!("unknown runtime `{r}`; the matrix has: {}", runtimes()),
            );
        }
        if let Some(p) = gate
            .patterns
            .iter()
            .find(|p| !matrix.workload.patterns.contains(p))
        {
            return fail(
                "patterns",
                format!("pattern `{p}` is not among the workload's patterns"),
            );
        }
        let covered = gate.client_counts(matrix);
        if let Some(c) = gate.clients.iter().find(|c| !covered.contains(c)) {
            let who = match (&gate.runtime, &gate.reference) {
                (Some(r), Some(reference)) => format!("both `{r}` and `{reference}`"),
                (Some(r), None) => format!("`{r}`"),
                (None, _) => "any runtime".into(),
            };
            return fail(
                "clients",
                format!("{c} clients is not a client count of {who}"),
            );
        }
        if covered.is_empty() {
            return fail(
                if gate.clients.is_empty() {
                    "reference"
                } else {
                    "clients"
                },
                "the compared runtimes have no client count in common".into(),
            );
        }
        if let Some(other) = names.insert(gate.label(), i) {
            return fail(
                "metric",
                format!(
                    "gate makes the same test name `{}` as gate {}; give one a `name`",
                    gate.label(),
                    other + 1
                ),
            );
        }
    }
    Ok(())
}
