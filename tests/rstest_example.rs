//! The harness from plain `#[rstest]` tests: a runtime fixture plus a workload written in Rust.
//! No matrix file; results still land in `target/iogate/<matrix>/<run-id>/` with their provenance.

use iogate::harness::{Decision, Runner};
use iogate::report::events::Silent;
use iogate::run::{CellRecord, Session, Status};
use iogate::spec::{GateSpec, Matrix, MatrixFile, Pattern, Runtime, Workload};
use rstest::{fixture, rstest};

/// fio servers on this machine, one network namespace per worker node.
#[fixture]
fn host() -> Runtime {
    Runtime::host("host").unwrap()
}

/// The study's shape (64k blocks, 4 threads per client, buffered), small enough for a laptop.
#[fixture]
fn study_workload(#[default(Pattern::Randread)] pattern: Pattern) -> Workload {
    Workload::new(&[pattern], "64k", "16m")
        .unwrap()
        .timed("2s", None)
        .unwrap()
}

/// Runs the single cell of a one-runtime, one-pattern matrix.
fn measure(runtime: Runtime, clients: u32, nodes: u32, workload: Workload) -> CellRecord {
    let matrix = Matrix::new(
        "example",
        "/var/tmp/iogate/example",
        vec![runtime],
        &[clients],
        nodes,
        workload,
    )
    .unwrap();
    let file = MatrixFile::from_matrix(&matrix).unwrap();
    let mut session = Session::open(file.clone()).unwrap();
    let cell = file.cells().remove(0);
    session.run_cell(&cell).unwrap()
}

#[rstest]
#[case::one_client(1, 1)]
#[case::four_clients_over_two_nodes(4, 2)]
fn host_randread_moves_data_and_reports_merged_latency(
    host: Runtime,
    study_workload: Workload,
    #[case] clients: u32,
    #[case] nodes: u32,
) {
    let record = measure(host, clients, nodes, study_workload);
    assert_eq!(record.status, Status::Passed, "{:?}", record.reason);
    assert_eq!(record.nodes, nodes);
    let lat = record.lat_ns.unwrap();
    assert!(record.bw_bytes.unwrap() > 0.0);
    assert!(
        lat.p50 <= lat.p90 && lat.p90 <= lat.p99 && lat.p99 <= lat.p99_9,
        "{lat:?}"
    );
    assert_eq!(record.provenance.runtime.kind, "host");
}

#[rstest]
fn sequential_write_is_measured_on_the_write_side(
    host: Runtime,
    #[with(Pattern::Write)] study_workload: Workload,
) {
    let record = measure(host, 1, 1, study_workload);
    assert_eq!(record.status, Status::Passed, "{:?}", record.reason);
    assert_eq!(record.pattern, Pattern::Write);
    assert!(record.ios.unwrap() > 0);
}

/// A gate asserted from Rust, decided by the same runner as `cargo test --test io_matrix`.
#[rstest]
fn a_gate_from_rust_is_decided_like_a_matrix_gate(host: Runtime, study_workload: Workload) {
    let mut matrix = Matrix::new(
        "example-gate",
        "/var/tmp/iogate/example",
        vec![host],
        &[1],
        1,
        study_workload,
    )
    .unwrap();
    let gate = GateSpec::from_yaml("{ metric: bw, runtime: host, at_least: 1MiB/s }").unwrap();
    matrix.gates.push(gate.clone());
    let file = MatrixFile::from_matrix(&matrix).unwrap();
    let runner = Runner::new(Box::new(Silent));
    match runner.gate_decision(&file, &gate, 1) {
        Decision::Pass(table) => assert!(table.contains("pass"), "{table}"),
        other => panic!("host randread from the page cache is far above 1 MiB/s: {other:?}"),
    }
    // The gate's report is in the run directory, typed, for the report to show.
    let dirs = runner.finish();
    let gates = std::fs::read_to_string(dirs[0].join("gates.json")).unwrap();
    assert!(
        gates.contains("example-gate/gate/host-bw-ge-1MiBps/c1"),
        "{gates}"
    );
}
