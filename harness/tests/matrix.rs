//! The matrix format: parsing, located errors, expansion, schema.

use std::path::{Path, PathBuf};

use iogate::Error;
use iogate::spec::{MatrixFile, RuntimeKind, spread};
use rstest::rstest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

const BASE: &str = "\
name: t
target: /var/tmp/iogate-test
nodes: 2
clients: [1, 8]
runtimes:
  - name: host
    host: {}
  - name: runc
    docker:
      handler: runc
workload:
  patterns: [read, randwrite]
  bs: 64k
  size: 1m
";

fn parse(text: &str) -> Result<MatrixFile, Error> {
    MatrixFile::parse(Path::new("matrices/t.yaml"), text)
}

/// Parses `BASE` with `from` replaced by `to` and returns the error's location and message.
fn error_of(from: &str, to: &str) -> (u64, u64, String) {
    assert!(BASE.contains(from), "test bug: {from:?} not in BASE");
    match parse(&BASE.replacen(from, to, 1)) {
        Err(Error::Matrix { location, message }) => {
            assert_eq!(location.path, Path::new("matrices/t.yaml"));
            (location.line, location.column, message)
        }
        other => panic!("expected a matrix error for {to:?}, got {other:?}"),
    }
}

#[test]
fn base_matrix_expands_runtime_major() {
    let m = parse(BASE).unwrap();
    let names: Vec<String> = m.cells().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "t/host/c1/read",
            "t/host/c1/randwrite",
            "t/host/c8/read",
            "t/host/c8/randwrite",
            "t/runc/c1/read",
            "t/runc/c1/randwrite",
            "t/runc/c8/read",
            "t/runc/c8/randwrite",
        ]
    );
}

#[rstest]
#[case::zero_block_size("bs: 64k", "bs: 0", 13, "invalid size 0")]
#[case::size_in_parsecs("size: 1m", "size: 12 parsecs", 14, "invalid size \"12 parsecs\"")]
#[case::unknown_workload_key(
    "size: 1m",
    "size: 1m\n  blocksize: 4k",
    15,
    "unknown field `blocksize`"
)]
#[case::unknown_top_level_key("nodes: 2", "nodes: 2\nworkers: 2", 4, "unknown field `workers`")]
#[case::unknown_runtime_option(
    "handler: runc",
    "handler: runc\n      network: host",
    11,
    "unknown field `network`"
)]
#[case::unknown_pattern(
    "[read, randwrite]",
    "[read, readwrite]",
    12,
    "unknown variant `readwrite`"
)]
#[case::empty_clients("clients: [1, 8]", "clients: []", 4, "non-empty list of client counts")]
#[case::zero_clients("clients: [1, 8]", "clients: [0, 8]", 4, "client count from 1 to 1024")]
#[case::unsorted_clients("clients: [1, 8]", "clients: [8, 1]", 4, "increasing order")]
#[case::two_runtime_kinds("host: {}", "host: {}\n    docker: {}", 6, "exactly one of")]
#[case::relative_target(
    "target: /var/tmp/iogate-test",
    "target: tmp/x",
    2,
    "absolute directory"
)]
#[case::target_with_dotdot(
    "target: /var/tmp/iogate-test",
    "target: /var/../etc",
    2,
    "without `..`"
)]
#[case::bad_runtime_name("name: runc", "name: RunC", 8, "[a-z0-9-]")]
#[case::duration_without_unit("size: 1m", "size: 1m\n  runtime: 3", 15, "expected a duration")]
#[case::block_larger_than_size("bs: 64k", "bs: 2m", 13, "larger than size")]
#[case::zero_cpus("handler: runc", "handler: runc\n      cpus: 0", 11, "out of range")]
#[case::negative_cpus("handler: runc", "handler: runc\n      cpus: -1", 11, "out of range")]
#[case::too_many_cpus("handler: runc", "handler: runc\n      cpus: 1025", 11, "out of range")]
#[case::cpus_with_three_decimals(
    "handler: runc",
    "handler: runc\n      cpus: 0.125",
    11,
    "at most two decimals"
)]
#[case::cpus_as_words("handler: runc", "handler: runc\n      cpus: half", 11, "invalid cpus")]
#[case::memory_below_docker_minimum(
    "handler: runc",
    "handler: runc\n      memory: 4MiB",
    11,
    "at least 6MiB"
)]
#[case::memory_in_parsecs(
    "handler: runc",
    "handler: runc\n      memory: 1 parsec",
    11,
    "invalid size"
)]
#[case::limits_on_a_host_runtime("host: {}", "host: { cpus: 1 }", 7, "unknown field `cpus`")]
#[case::runtime_option_off_the_allow_list(
    "host: {}",
    "host: {}\n    options: { stonewall: 1 }",
    8,
    "not on the allow-list"
)]
#[case::runtime_options_not_a_map(
    "host: {}",
    "host: {}\n    options: [rate]",
    8,
    "expected mapping"
)]
fn bad_values_name_file_line_and_expectation(
    #[case] from: &str,
    #[case] to: &str,
    #[case] line: u64,
    #[case] expected: &str,
) {
    let (l, column, message) = error_of(from, to);
    assert_eq!(l, line, "{message}");
    assert!(column > 0, "{message}");
    assert!(
        message.contains(expected),
        "{message:?} should contain {expected:?}"
    );
}

#[test]
fn error_display_is_file_line_column() {
    let e = parse(&BASE.replace("bs: 64k", "bs: 0"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("matrices/t.yaml:13:"), "{e}");
}

#[rstest]
#[case(1, 2, &[1])]
#[case(8, 2, &[4, 4])]
#[case(64, 2, &[32, 32])]
#[case(7, 2, &[4, 3])]
#[case(3, 4, &[1, 1, 1])]
fn clients_spread_evenly_over_nodes(
    #[case] clients: u32,
    #[case] nodes: u32,
    #[case] expected: &[u32],
) {
    assert_eq!(spread(clients, nodes), expected);
}

#[test]
fn seed_matrix_is_the_study() {
    let seed = MatrixFile::load(repo().join("matrices/seed.yaml")).unwrap();
    let cells = seed.cells();
    assert_eq!(
        cells.len(),
        36,
        "host / runc / kata × 1 / 8 / 64 clients × 4 patterns"
    );
    assert!(cells.iter().all(|c| c.lab), "the seed matrix is lab-only");
    let w = &seed.matrix.workload;
    assert_eq!(
        (w.bs.bytes(), w.threads.get(), w.size.bytes(), w.direct),
        (64 << 10, 4, 32 << 30, false)
    );
    let c64: Vec<_> = cells.iter().filter(|c| c.clients == 64).collect();
    assert!(c64.iter().all(|c| c.placement == [32, 32]));
}

#[test]
fn seed_matrix_expansion_snapshot() {
    let seed = MatrixFile::load(repo().join("matrices/seed.yaml")).unwrap();
    let table: Vec<String> = seed
        .cells()
        .iter()
        .map(|c| {
            format!(
                "{:<28} kind={:<10} placement={:?} lab={}",
                c.name,
                c.runtime.kind.as_str(),
                c.placement,
                c.lab
            )
        })
        .collect();
    insta::assert_snapshot!(table.join("\n"));
}

#[test]
fn every_committed_matrix_parses() {
    for entry in std::fs::read_dir(repo().join("matrices")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            MatrixFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn host_network_with_a_runtime_class_is_refused() {
    let e = parse(
        "name: t
target: /mnt/shared
clients: [1]
runtimes:
  - name: kata
    kubernetes: { runtime_class: kata-qemu, host_network: true }
workload: { patterns: [read], bs: 64k, threads: 1, size: 1m, runtime: 1s }
",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("runtime `kata`: `host_network: true` with `runtime_class: kata-qemu`"),
        "{e}"
    );
}

#[test]
fn kubernetes_resources_must_be_quantities() {
    let e = parse(
        "name: t
target: /mnt/shared
clients: [1]
runtimes:
  - name: kata
    kubernetes: { runtime_class: kata-qemu, limits: { cpu: \"1\", memory: 2GB } }
workload: { patterns: [read], bs: 64k, threads: 1, size: 1m, runtime: 1s }
",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("invalid quantity \"2GB\""), "{e}");
}

/// The nightly's smoke matrix: the seed's Kubernetes runtimes, lab-only, small.
#[test]
fn the_lab_smoke_matrix_parses_and_is_lab_only() {
    let smoke =
        MatrixFile::load(repo().join("deploy/lab/smoke.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let cells = smoke.cells();
    assert_eq!(cells.len(), 4);
    assert!(cells.iter().all(|c| c.lab));
    assert_eq!(
        iogate::harness::trials::nominal_duration(&cells[0]),
        Some(std::time::Duration::from_secs(12))
    );
}

/// The kind job's matrix: lab cells only (they need the cluster), with and without a RuntimeClass.
#[test]
fn the_kind_matrix_parses_and_is_lab_only() {
    let kind =
        MatrixFile::load(repo().join("deploy/kind/matrix.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let cells = kind.cells();
    assert_eq!(cells.len(), 4);
    assert!(
        cells
            .iter()
            .all(|c| c.lab && c.clients == 2 && c.placement == [1, 1])
    );
}

#[test]
fn json_schema_in_matrices_is_current() {
    let path = repo().join("matrices/matrix.schema.json");
    let current = iogate::spec::json_schema();
    if std::env::var_os("IOGATE_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "matrices/matrix.schema.json is stale: regenerate with \
         `IOGATE_UPDATE_SCHEMA=1 cargo test -p iogate-harness --test matrix json_schema`"
    );
}

#[test]
fn matrix_hash_changes_with_the_file() {
    let a = parse(BASE).unwrap();
    let b = parse(&BASE.replace("size: 1m", "size: 2m")).unwrap();
    assert_ne!(a.hash, b.hash);
    assert_eq!(a.hash.len(), 64);
}

const OVERRIDES: &str = "\
name: t
target: /var/tmp/iogate-test
clients: [1]
runtimes:
  - name: host
    host: {}
  - name: slowed
    host: {}
    options: { rate: 5m, thinktime: 200ms, thinktime_iotime: 800ms }
  - name: runc-limited
    docker: { handler: runc, cpus: 0.5, memory: 512MiB }
    options: { invalidate: 1 }
workload:
  patterns: [read, randread]
  bs: 64k
  size: 1m
  options: { invalidate: 0, rate: 10m }
";

fn options_of(m: &MatrixFile, runtime: &str) -> Vec<(String, String)> {
    let cells: Vec<_> = m
        .cells()
        .into_iter()
        .filter(|c| c.runtime.name.as_str() == runtime)
        .collect();
    assert!(!cells.is_empty(), "no cells of {runtime}");
    let first: Vec<(String, String)> = cells[0]
        .workload
        .options
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for c in &cells {
        assert_eq!(c.workload.options, cells[0].workload.options, "{}", c.name);
    }
    first
}

#[test]
fn runtime_options_win_over_the_workload_for_that_runtime_only() {
    let m = parse(OVERRIDES).unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    };
    assert_eq!(
        options_of(&m, "host"),
        pairs(&[("invalidate", "0"), ("rate", "10m")])
    );
    assert_eq!(
        options_of(&m, "slowed"),
        pairs(&[
            ("invalidate", "0"),
            ("rate", "5m"),
            ("thinktime", "200ms"),
            ("thinktime_iotime", "800ms"),
        ])
    );
    assert_eq!(
        options_of(&m, "runc-limited"),
        pairs(&[("invalidate", "1"), ("rate", "10m")])
    );
}

#[test]
fn docker_limits_are_read_and_survive_a_round_trip() {
    let m = parse(OVERRIDES).unwrap();
    let limits = |m: &MatrixFile| {
        let runc = m
            .matrix
            .runtimes
            .iter()
            .find(|r| r.name.as_str() == "runc-limited")
            .unwrap();
        match &runc.kind {
            RuntimeKind::Docker(d) => (
                d.cpus.map(|c| c.nano_cpus()),
                d.memory.map(|m| m.size().bytes()),
                runc.options.clone(),
            ),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(limits(&m).0, Some(500_000_000));
    assert_eq!(limits(&m).1, Some(512 << 20));
    let again = MatrixFile::from_matrix(&m.matrix).unwrap();
    assert_eq!(limits(&again), limits(&m));
    assert_eq!(options_of(&again, "slowed"), options_of(&m, "slowed"));
}

#[rstest]
#[case::half("0.5", 500_000_000)]
#[case::hundredth("0.01", 10_000_000)]
#[case::whole("2", 2_000_000_000)]
#[case::two_decimals("1.25", 1_250_000_000)]
#[case::as_text("\"0.75\"", 750_000_000)]
#[case::most("1024", 1_024_000_000_000)]
fn cpus_within_range_are_accepted(#[case] cpus: &str, #[case] nano: i64) {
    let m = parse(&OVERRIDES.replace("cpus: 0.5", &format!("cpus: {cpus}"))).unwrap();
    let RuntimeKind::Docker(d) = &m.matrix.runtimes[2].kind else {
        panic!("runc-limited is a docker runtime")
    };
    assert_eq!(d.cpus.unwrap().nano_cpus(), nano);
}
