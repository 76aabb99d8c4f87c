//! Cells: one runtime × client count × pattern of a matrix, and [`CellId`], the one type that
//! builds every name derived from a cell (test names, directory slugs, snapshot names).

use std::path::PathBuf;

use serde::Serialize;

use crate::spec::matrix::{Matrix, Runtime, Workload};
use crate::spec::values::Pattern;

/// A cell's identity: matrix, runtime, client count and pattern. Every name of a cell comes
/// from here, so they never disagree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CellId {
    /// The matrix's name.
    pub matrix: String,
    /// The runtime's name.
    pub runtime: String,
    /// Number of clients.
    pub clients: u32,
    /// The access pattern.
    pub pattern: Pattern,
}

impl CellId {
    /// The identity of a cell.
    pub fn new(matrix: &str, runtime: &str, clients: u32, pattern: Pattern) -> CellId {
        CellId {
            matrix: matrix.to_owned(),
            runtime: runtime.to_owned(),
            clients,
            pattern,
        }
    }

    /// Reads a cell name back (`smoke/runc/c8/read`); `None` if it is not one.
    pub fn parse(name: &str) -> Option<CellId> {
        let mut parts = name.split('/');
        let (matrix, runtime, clients, pattern) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let clients = clients.strip_prefix('c')?.parse().ok()?;
        let pattern = Pattern::ALL.into_iter().find(|p| p.as_str() == pattern)?;
        Some(CellId::new(matrix, runtime, clients, pattern))
    }

    /// The stable, filterable name and test name: `matrix/runtime/c<clients>/pattern`.
    pub fn name(&self) -> String {
        format!(
            "{}/{}/c{}/{}",
            self.matrix, self.runtime, self.clients, self.pattern
        )
    }

    /// A file-system-safe form of the name (`smoke__runc__c8__read`): the cell's directory in a
    /// run and its baseline snapshot's name.
    pub fn slug(&self) -> String {
        self.name().replace('/', "__")
    }

    /// The test name of the cell's baseline check: `smoke/baseline/runc/c8/read`.
    pub fn baseline_trial(&self) -> String {
        format!(
            "{}/baseline/{}/c{}/{}",
            self.matrix, self.runtime, self.clients, self.pattern
        )
    }

    /// The test name of a gate at a client count: `smoke/gate/<label>/c8`.
    pub(crate) fn gate_trial(matrix: &str, label: &str, clients: u32) -> String {
        format!("{matrix}/gate/{label}/c{clients}")
    }
}

impl std::fmt::Display for CellId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// One measurement: a runtime, a client count and a pattern.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Who the cell is; every name comes from it.
    pub id: CellId,
    /// Stable, filterable name: `matrix/runtime/c<clients>/pattern` (`id.name()`).
    pub name: String,
    /// The matrix's name.
    pub matrix: String,
    /// The runtime this cell runs under.
    pub runtime: Runtime,
    /// Number of clients.
    pub clients: u32,
    /// Clients per worker node; only nodes with at least one client are listed.
    pub placement: Vec<u32>,
    /// The access pattern.
    pub pattern: Pattern,
    /// The workload every client runs: the matrix's, with the runtime's fio options over its own.
    pub workload: Workload,
    /// Ignored unless `--ignored` (lab matrix or lab runtime).
    pub lab: bool,
    /// The matrix target directory.
    pub target: PathBuf,
}

impl Cell {
    /// Number of worker nodes this cell uses.
    pub fn nodes(&self) -> u32 {
        self.placement.len() as u32
    }

    /// Where client `index` keeps its files: one directory per (runtime, clients, client),
    /// shared by every pattern so files are laid out once and reused.
    pub fn client_dir(&self, index: u32) -> PathBuf {
        self.target
            .join(self.runtime.name.as_str())
            .join(format!("c{}", self.clients))
            .join(format!("client{index}"))
    }

    /// A file-system-safe form of the name (`smoke__runc__c8__read`).
    pub fn slug(&self) -> String {
        self.id.slug()
    }

    /// SHA-256 of what decides the cell's numbers: its runtime's definition, client count and
    /// placement, pattern, workload and target. Not the rest of its matrix (other runtimes,
    /// gates, judge settings, comments) nor its repetitions: earlier runs count as this cell's
    /// history only while this matches, so editing a gate or the budget keeps the noise the
    /// testbed measured, and changing what the cell measures starts its history afresh.
    pub fn measure_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut value = serde_json::to_value(self).expect("a cell serializes");
        let strip = |v: &mut serde_json::Value, keys: &[&str]| {
            if let Some(map) = v.as_object_mut() {
                for key in keys {
                    map.remove(*key);
                }
            }
        };
        strip(&mut value, &["id", "name", "matrix", "lab"]);
        strip(
            &mut value["runtime"],
            &["name", "clients", "optional", "lab"],
        );
        strip(&mut value["workload"], &["patterns", "repetitions"]);
        format!("{:x}", Sha256::digest(value.to_string().as_bytes()))
    }

    /// The (runtime, clients) group the cell belongs to: its cells share client directories and,
    /// for host-driven runtimes, one pool of fio servers.
    pub fn group(&self) -> (String, u32) {
        (self.runtime.name.to_string(), self.clients)
    }
}

/// Spreads `clients` over `nodes` as evenly as possible, earlier nodes first (8 over 2 = [4, 4]).
pub fn spread(clients: u32, nodes: u32) -> Vec<u32> {
    let used = clients.min(nodes).max(1);
    (0..used)
        .map(|i| clients / used + u32::from(i < clients % used))
        .collect()
}

/// Every cell of a matrix, runtime-major: runtime × clients × pattern, in declaration order.
pub(crate) fn cells_of(m: &Matrix) -> Vec<Cell> {
    let mut cells = Vec::new();
    for runtime in &m.runtimes {
        let mut workload = m.workload.clone();
        workload.options = workload.options.overridden_by(&runtime.options);
        for clients in runtime.clients.as_ref().unwrap_or(&m.clients) {
            for pattern in &m.workload.patterns {
                let clients = clients.get();
                let id = CellId::new(m.name.as_str(), runtime.name.as_str(), clients, *pattern);
                cells.push(Cell {
                    name: id.name(),
                    id,
                    matrix: m.name.to_string(),
                    runtime: runtime.clone(),
                    clients,
                    placement: spread(clients, m.nodes.get()),
                    pattern: *pattern,
                    workload: workload.clone(),
                    lab: m.lab || runtime.lab,
                    target: m.target.path().to_owned(),
                });
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::MatrixFile;

    const MATRIX: &str = "
name: m
target: /var/tmp/iogate/m
clients: [1, 8]
runtimes:
  - { name: host, host: {} }
  - { name: runc, docker: { handler: runc } }
workload: { patterns: [read, write], bs: 64k, threads: 4, size: 32MiB, runtime: 2s, repetitions: 2 }
gates:
  - { metric: bw, runtime: runc, reference: host, at_least: 40% }
";

    fn hashes(text: &str) -> Vec<(String, String)> {
        MatrixFile::parse(Path::new("m.yaml"), text)
            .expect("a valid matrix")
            .cells()
            .iter()
            .map(|c| (c.name.clone(), c.measure_hash()))
            .collect()
    }

    #[test]
    fn measure_hash_changes_with_what_the_cell_measures_only() {
        let base = hashes(MATRIX);
        let distinct: std::collections::BTreeSet<&String> = base.iter().map(|(_, h)| h).collect();
        assert_eq!(distinct.len(), base.len(), "every cell its own hash");
        // Gates, judge settings, comments, repetitions, another runtime's client counts: same.
        let edited = MATRIX
            .replace("at_least: 40%", "at_least: 50%")
            .replace("repetitions: 2", "repetitions: 3")
            .replace(
                "name: m\n",
                "name: m\n# a comment\njudge: { budget: 10m }\n",
            );
        assert_eq!(hashes(&edited), base);
        let fewer = MATRIX.replace(
            "{ name: runc, docker: { handler: runc } }",
            "{ name: runc, docker: { handler: runc }, clients: [8] }",
        );
        let host_only = |h: Vec<(String, String)>| {
            h.into_iter()
                .filter(|(n, _)| n.starts_with("m/host/"))
                .collect::<Vec<_>>()
        };
        assert_eq!(host_only(hashes(&fewer)), host_only(base.clone()));
        // The workload, a runtime's limits or options: every affected cell changes.
        let bs = hashes(&MATRIX.replace("bs: 64k", "bs: 4k"));
        assert!(bs.iter().zip(&base).all(|(a, b)| a.1 != b.1));
        let cpus = hashes(&MATRIX.replace("handler: runc }", "handler: runc, cpus: 1 }"));
        for ((name, a), (_, b)) in cpus.iter().zip(&base) {
            assert_eq!(a != b, name.starts_with("m/runc/"), "{name}");
        }
    }
}
