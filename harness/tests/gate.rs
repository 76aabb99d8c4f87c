//! Gates: the verdict math on synthetic data, YAML errors with their location, and real host runs
//! for an impossible gate and an injected 2× slowdown (baselines: `tests/baseline.rs`).
//!
//! No test here asserts a performance figure of this machine: the real runs only check that an
//! impossible bound fails and that a rate cap at half the measured bandwidth is caught.

use std::path::Path;

use iogate::judge::verdict::verdict;
use iogate::judge::{Verdict, evaluate};
use iogate::report::gates::{gate_table, noise_advice};
use iogate::run::Session;
use iogate::run::{CellRecord, Latency, Provenance, Repetition, Status};
use iogate::spec::{Direction, GateSpec, Inconclusive, MatrixFile, Pattern};
use iogate::stats::{
    Method, NoisePrior, absolute_interval, normal_quantile, relative_interval, t_quantile,
};
use rstest::rstest;

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The default prior: σ(ln) 0.11 worth 7 degrees of freedom.
fn prior() -> NoisePrior {
    NoisePrior::default()
}

/// No prior: the repetitions alone.
fn data_only() -> NoisePrior {
    NoisePrior {
        sigma: 0.11,
        df: 0.0,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// A passed record with one repetition per `(bw MiB/s, p99 µs)` pair.
fn record(name: &str, reps: &[(f64, f64)]) -> CellRecord {
    let (runtime, clients, pattern) = {
        let parts: Vec<&str> = name.split('/').collect();
        let pattern = match parts[3] {
            "read" => Pattern::Read,
            "randread" => Pattern::Randread,
            "write" => Pattern::Write,
            _ => Pattern::Randwrite,
        };
        (parts[1].to_owned(), parts[2][1..].parse().unwrap(), pattern)
    };
    let repetitions: Vec<Repetition> = reps
        .iter()
        .enumerate()
        .map(|(i, &(mib, p99_us))| Repetition {
            bw_bytes: mib * 1048576.0,
            iops: mib * 16.0,
            lat_ns: Latency {
                p50: (p99_us * 100.0) as u64,
                p90: (p99_us * 500.0) as u64,
                p99: (p99_us * 1000.0) as u64,
                p99_9: (p99_us * 2000.0) as u64,
            },
            raw: format!("cells/x/r{}.json", i + 1),
            ends_apart_s: None,
        })
        .collect();
    CellRecord {
        name: name.to_owned(),
        runtime,
        kind: "host".into(),
        clients,
        nodes: 1,
        placement: vec![clients],
        pattern,
        status: Status::Passed,
        reason: None,
        bw_bytes: Some(repetitions.iter().map(|r| r.bw_bytes).sum::<f64>() / reps.len() as f64),
        iops: Some(repetitions.iter().map(|r| r.iops).sum::<f64>() / reps.len() as f64),
        lat_ns: repetitions.first().map(|r| r.lat_ns),
        ios: Some(1000),
        repetitions,
        raw: Vec::new(),
        logs: Vec::new(),
        histogram: None,
        provenance: Provenance::default(),
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_s: 1.0,
    }
}

const MATRIX: &str = "\
name: syn
target: /var/tmp/iogate/syn
clients: [1, 8]
runtimes:
  - name: host
    host: {}
  - name: kata
    docker: { handler: kata-runtime }
workload:
  patterns: [read, randread]
  bs: 64k
  size: 4m
";

/// A gate decided on its own records (no history), Holm over its rows at 1 %, threshold 5 %.
fn decide(
    gate: &iogate::spec::GateSpec,
    matrix: &iogate::spec::Matrix,
    clients: Option<u32>,
    records: &[CellRecord],
) -> iogate::judge::GateReport {
    let mut report = evaluate(
        gate,
        matrix,
        clients,
        records,
        &iogate::judge::Past::default(),
        0.05,
    );
    report.settle_alone(0.01);
    report
}

fn parse(text: &str) -> iogate::Result<MatrixFile> {
    MatrixFile::parse(Path::new("m.yaml"), text)
}

fn synthetic_matrix(gates: &str) -> MatrixFile {
    parse(&format!("{MATRIX}gates:\n{gates}")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Verdict math on synthetic data.

#[rstest]
#[case(0.975, 1.0, 12.7062)]
#[case(0.975, 2.0, 4.3027)]
#[case(0.975, 5.0, 2.5706)]
#[case(0.975, 30.0, 2.0423)]
#[case(0.95, 10.0, 1.8125)]
#[case(0.995, 3.0, 5.8409)]
fn t_quantiles_match_tables(#[case] p: f64, #[case] df: f64, #[case] expected: f64) {
    let t = t_quantile(p, df);
    assert!(
        close(t, expected, 1e-4),
        "t({p}, {df}) = {t}, expected {expected}"
    );
    assert!(close(t_quantile(1.0 - p, df), -expected, 1e-4));
}

#[test]
fn normal_quantile_matches_tables() {
    assert!(close(normal_quantile(0.975), 1.959964, 1e-6));
    assert!(close(normal_quantile(0.5), 0.0, 1e-9));
    assert!(close(normal_quantile(0.001), -3.090232, 1e-6));
}

#[test]
fn paired_interval_has_the_t_width_on_log_differences() {
    // ln(subject) − ln(reference) = 0.1, 0.2, 0.3 → mean 0.2, s = 0.1.
    let reference = [100.0, 200.0, 400.0];
    let subject: Vec<f64> = reference
        .iter()
        .zip([0.1f64, 0.2, 0.3])
        .map(|(r, d)| r * d.exp())
        .collect();
    // Data alone: t(0.975, 2) = 4.3027, half width t·s/√k.
    let i = relative_interval(&subject, &reference, 0.95, data_only()).unwrap();
    assert_eq!(i.method, Method::PairedT);
    assert_eq!((i.k, i.df), (3, 2.0));
    let half = 4.302653 * 0.1 / 3f64.sqrt();
    assert!(close(i.estimate, 0.2, 1e-9), "{i:?}");
    assert!(close(i.hi - i.estimate, half, 1e-5), "{i:?}");
    assert!(close(i.estimate - i.lo, half, 1e-5), "{i:?}");
    assert!(close(i.spread, 0.1, 1e-9) && close(i.observed, 0.1, 1e-9));
    // With the prior (σ 0.11 per side → 0.11·√2 per difference, 7 df) pooled in:
    // s² = (7·2·0.11² + 2·0.1²) / 9, t(0.975, 9) = 2.2622.
    let p = relative_interval(&subject, &reference, 0.95, prior()).unwrap();
    let pooled = ((7.0 * 2.0 * 0.11f64.powi(2) + 2.0 * 0.01) / 9.0).sqrt();
    assert_eq!(p.df, 9.0);
    assert!(close(p.spread, pooled, 1e-12), "{p:?}");
    assert!(
        close(p.hi - p.estimate, 2.262157 * pooled / 3f64.sqrt(), 1e-5),
        "{p:?}"
    );
    // Wider at 99 %.
    let wide = relative_interval(&subject, &reference, 0.99, prior()).unwrap();
    assert!(wide.hi - wide.lo > p.hi - p.lo);
}

#[test]
fn one_repetition_uses_the_prior_alone() {
    // k = 1 each: s = σ·√2, df = 7, t(0.975, 7) = 2.3646.
    let i = relative_interval(&[90.0], &[100.0], 0.95, prior()).unwrap();
    assert!(
        close(i.hi - i.estimate, 2.364624 * 0.11 * 2f64.sqrt(), 1e-5),
        "{i:?}"
    );
    assert_eq!(i.observed, 0.0);
    // Without a prior one repetition cannot decide anything.
    let none = relative_interval(&[10.0], &[100.0], 0.95, data_only()).unwrap();
    assert!(none.lo.is_infinite() && none.hi.is_infinite());
    assert_eq!(
        verdict(&none, Direction::AtLeast, 0.5),
        Verdict::Inconclusive
    );
    // More repetitions of quiet data give a narrower interval than one (no k = 2 cliff).
    let one = relative_interval(&[100.0], &[100.0], 0.95, prior()).unwrap();
    let two = relative_interval(&[100.0, 101.0], &[100.0, 100.5], 0.95, prior()).unwrap();
    assert!(two.hi - two.lo < one.hi - one.lo, "{one:?} {two:?}");
}

#[test]
fn intervals_are_symmetric_on_the_log_scale() {
    let a = [812.0, 790.0, 840.0, 801.0];
    let b = [3020.0, 2950.0, 3100.0, 2990.0];
    let ab = relative_interval(&a, &b, 0.95, prior()).unwrap();
    let ba = relative_interval(&b, &a, 0.95, prior()).unwrap();
    assert!(close(ab.estimate, -ba.estimate, 1e-12));
    assert!(close(ab.lo, -ba.hi, 1e-12) && close(ab.hi, -ba.lo, 1e-12));
    // Halving the subject moves the interval by exactly ln 2, with the same width.
    let half: Vec<f64> = a.iter().map(|x| x / 2.0).collect();
    let h = relative_interval(&half, &b, 0.95, prior()).unwrap();
    assert!(close(ab.estimate - h.estimate, 2f64.ln(), 1e-12));
    assert!(close(ab.hi - ab.lo, h.hi - h.lo, 1e-12));
    // A ratio of 2 passes "≤ 2.5x" exactly as a ratio of 1/2 passes "≥ 40%".
    let twice: Vec<f64> = b.iter().map(|x| x * 2.0).collect();
    let up = relative_interval(&twice, &b, 0.95, prior()).unwrap();
    let down = relative_interval(&b, &twice, 0.95, prior()).unwrap();
    assert_eq!(
        verdict(&up, Direction::AtMost, 2.5),
        verdict(&down, Direction::AtLeast, 0.4)
    );
}

#[rstest]
// Tight data, ratio ≈ 0.5.
#[case(&[100.0, 102.0, 98.0, 101.0], &[200.0, 198.0, 202.0, 199.0], Direction::AtLeast, 0.3, Verdict::Pass)]
#[case(&[100.0, 102.0, 98.0, 101.0], &[200.0, 198.0, 202.0, 199.0], Direction::AtLeast, 0.8, Verdict::Fail)]
#[case(&[100.0, 102.0, 98.0, 101.0], &[200.0, 198.0, 202.0, 199.0], Direction::AtMost, 0.8, Verdict::Pass)]
#[case(&[100.0, 102.0, 98.0, 101.0], &[200.0, 198.0, 202.0, 199.0], Direction::AtMost, 0.3, Verdict::Fail)]
// Noisy data, ratio ≈ 0.73, bound 0.7: cannot tell.
#[case(&[50.0, 100.0, 75.0], &[100.0, 60.0, 140.0], Direction::AtLeast, 0.7, Verdict::Inconclusive)]
#[case(&[50.0, 100.0, 75.0], &[100.0, 60.0, 140.0], Direction::AtMost, 0.7, Verdict::Inconclusive)]
// One repetition each: the prior (σ 0.11 per side, 7 df → ±0.37 at 95 %) decides.
#[case(&[90.0], &[100.0], Direction::AtLeast, 0.8, Verdict::Inconclusive)]
#[case(&[30.0], &[100.0], Direction::AtLeast, 0.8, Verdict::Fail)]
#[case(&[100.0], &[100.0], Direction::AtLeast, 0.5, Verdict::Pass)]
// Different k: Welch.
#[case(&[100.0, 101.0, 99.0], &[200.0, 201.0, 199.0, 200.0, 202.0], Direction::AtLeast, 0.4, Verdict::Pass)]
#[case(&[100.0, 101.0, 99.0], &[200.0, 201.0, 199.0, 200.0, 202.0], Direction::AtLeast, 0.7, Verdict::Fail)]
fn relative_verdicts(
    #[case] subject: &[f64],
    #[case] reference: &[f64],
    #[case] direction: Direction,
    #[case] bound: f64,
    #[case] expected: Verdict,
) {
    let i = relative_interval(subject, reference, 0.95, prior()).unwrap();
    assert_eq!(verdict(&i, direction, bound), expected, "{i:?}");
}

#[test]
fn methods_follow_the_repetitions() {
    let m = |a: &[f64], b: &[f64]| relative_interval(a, b, 0.95, prior()).unwrap().method;
    assert_eq!(m(&[1.0, 2.0], &[1.0, 2.0]), Method::PairedT);
    assert_eq!(m(&[1.0], &[1.0]), Method::PairedT);
    assert_eq!(m(&[1.0, 2.0], &[1.0, 2.0, 3.0]), Method::Welch);
    assert_eq!(m(&[1.0], &[1.0, 2.0, 3.0]), Method::Welch);
    assert_eq!(
        absolute_interval(&[1.0, 2.0], 0.95, prior())
            .unwrap()
            .method,
        Method::OneSampleT
    );
    // Non-positive values have no log: no interval rather than a wrong one.
    assert!(relative_interval(&[0.0, 1.0], &[1.0, 1.0], 0.95, prior()).is_none());
    assert!(absolute_interval(&[], 0.95, prior()).is_none());
}

#[test]
fn absolute_interval_brackets_the_geometric_mean() {
    let v = [4.0e6, 5.0e6, 6.0e6];
    let i = absolute_interval(&v, 0.95, prior()).unwrap();
    let gm = (4.0f64 * 5.0 * 6.0).cbrt() * 1e6;
    assert!(close(i.center(), gm, 1e-9));
    let (lo, hi) = i.range();
    assert!(lo < gm && gm < hi);
    assert_eq!(verdict(&i, Direction::AtMost, 20e6), Verdict::Pass);
    assert_eq!(verdict(&i, Direction::AtMost, 1e6), Verdict::Fail);
    assert_eq!(verdict(&i, Direction::AtMost, 5.5e6), Verdict::Inconclusive);
}

#[test]
fn gate_over_records_builds_rows_and_a_table() {
    let m = synthetic_matrix(
        "  - { metric: bw, runtime: kata, reference: host, at_least: 15%, patterns: [read] }\n",
    );
    let gate = &m.matrix.gates[0];
    assert_eq!(gate.label(), "kata-read-bw-ge-15pct-of-host");
    assert_eq!(
        gate.trial_name(&m.matrix, 8),
        "syn/gate/kata-read-bw-ge-15pct-of-host/c8"
    );
    assert_eq!(gate.client_counts(&m.matrix), vec![1, 8]);
    let records = vec![
        record(
            "syn/host/c8/read",
            &[(1000.0, 50.0), (1010.0, 52.0), (990.0, 49.0)],
        ),
        record(
            "syn/kata/c8/read",
            &[(100.0, 500.0), (104.0, 510.0), (98.0, 490.0)],
        ),
    ];
    let report = decide(gate, &m.matrix, Some(8), &records);
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.verdict, Verdict::Fail, "{}", gate_table(&report));
    let text = gate_table(&report);
    for needle in [
        "| pattern | clients | runtime | measured | reference | ratio [95 % CI] | bound | k | spread | p(worse) | verdict |",
        "| read | 8 | kata |",
        "≥ 0.15×",
        "FAIL",
        "MiB/s (host)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // The same gate with kata at 30 % passes.
    let ok = vec![
        records[0].clone(),
        record(
            "syn/kata/c8/read",
            &[(300.0, 1.0), (310.0, 1.0), (295.0, 1.0)],
        ),
    ];
    let report = decide(gate, &m.matrix, Some(8), &ok);
    assert_eq!(report.verdict, Verdict::Pass, "{}", gate_table(&report));
    assert!(
        gate_table(&report).contains("| pass |"),
        "{}",
        gate_table(&report)
    );
    // A missing cell fails the gate and says which.
    let report = decide(gate, &m.matrix, Some(8), &records[..1]);
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(
        gate_table(&report).contains("syn/kata/c8/read has not run"),
        "{}",
        gate_table(&report)
    );
}

#[rstest]
#[case(Inconclusive::Fail)]
#[case(Inconclusive::Warn)]
fn inconclusive_is_never_a_pass(#[case] policy: Inconclusive) {
    let m = synthetic_matrix(
        "  - { metric: p99, runtime: kata, reference: host, at_most: 10x, clients: [1], patterns: [read] }\n",
    );
    let mut gate = m.matrix.gates[0].clone();
    gate.inconclusive = policy;
    // p99 ratio ≈ 15 against at most 10×, but three blocks with this spread (p ≈ 0.02) are a
    // sign, not the 1 % family-wise evidence a failure needs.
    let records = vec![
        record(
            "syn/host/c1/read",
            &[(1.0, 100.0), (1.0, 100.0), (1.0, 100.0)],
        ),
        record(
            "syn/kata/c1/read",
            &[(1.0, 1300.0), (1.0, 1500.0), (1.0, 1700.0)],
        ),
        record(
            "syn/host/c1/randread",
            &[(1.0, 100.0), (1.0, 100.0), (1.0, 100.0)],
        ),
        record(
            "syn/kata/c1/randread",
            &[(1.0, 900.0), (1.0, 1000.0), (1.0, 1100.0)],
        ),
    ];
    let report = decide(&gate, &m.matrix, Some(1), &records);
    assert_eq!(
        report.verdict,
        Verdict::Inconclusive,
        "{}",
        gate_table(&report)
    );
    let advice = noise_advice(&report).unwrap();
    assert!(
        advice.contains("unclear when the budget was spent: k = 3"),
        "{advice}"
    );
    assert!(advice.contains("judge.budget"), "{advice}");
    // What the test then does (fail, or ignore with the advice) follows the policy the report
    // carries; the table shows the verdict as a warning, never as a pass.
    assert_eq!(report.gate.inconclusive, policy);
    let table = gate_table(&report);
    assert!(table.contains("| ⚠ inconclusive |"), "{table}");
    assert!(!table.contains("| pass |"), "{table}");
}

#[test]
fn absolute_gates_cover_every_runtime() {
    let m = synthetic_matrix("  - { metric: p99, at_most: 5ms, patterns: [randread] }\n");
    let gate = &m.matrix.gates[0];
    assert_eq!(gate.label(), "all-randread-p99-le-5ms");
    let records = vec![
        record(
            "syn/host/c1/randread",
            &[(1.0, 100.0), (1.0, 110.0), (1.0, 105.0)],
        ),
        record(
            "syn/kata/c1/randread",
            &[(1.0, 9000.0), (1.0, 9500.0), (1.0, 9200.0)],
        ),
    ];
    let report = decide(gate, &m.matrix, Some(1), &records);
    let verdicts: Vec<(String, Verdict)> = report
        .rows
        .iter()
        .map(|r| (r.runtime.clone(), r.verdict()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("host".into(), Verdict::Pass),
            ("kata".into(), Verdict::Fail)
        ],
        "{}",
        gate_table(&report)
    );
}

#[test]
fn skipped_cells_skip_the_gate() {
    let m = synthetic_matrix(
        "  - { metric: bw, runtime: kata, reference: host, at_least: 15%, clients: [1] }\n",
    );
    let mut skipped = record("syn/kata/c1/read", &[]);
    skipped.status = Status::Skipped;
    skipped.reason = Some("runtime `kata` unavailable".into());
    let mut skipped2 = skipped.clone();
    skipped2.name = "syn/kata/c1/randread".into();
    let records = vec![
        record("syn/host/c1/read", &[(1.0, 1.0)]),
        record("syn/host/c1/randread", &[(1.0, 1.0)]),
        skipped,
        skipped2,
    ];
    let report = decide(&m.matrix.gates[0], &m.matrix, Some(1), &records);
    assert_eq!(report.verdict, Verdict::Skipped);
    assert!(
        report.rows.iter().all(|r| r.verdict() == Verdict::Skipped),
        "{}",
        gate_table(&report)
    );
    assert!(
        gate_table(&report).contains("unavailable"),
        "{}",
        gate_table(&report)
    );
}

// ---------------------------------------------------------------------------------------------
// YAML: shapes and located errors.

#[test]
fn yaml_shapes_parse() {
    let g = GateSpec::from_yaml("{ metric: bw, runtime: kata, reference: host, at_least: 15%, patterns: [read], clients: [64] }")
        .unwrap();
    assert_eq!(g.direction, Direction::AtLeast);
    assert!(close(g.bound.value(), 0.15, 1e-12));
    assert_eq!(g.describe(), "kata read bw ≥ 15% of host at 64 clients");
    let g = GateSpec::from_yaml("{ metric: p99, runtime: kata, reference: host, at_most: 10x }")
        .unwrap();
    assert_eq!(g.describe(), "kata p99 ≤ 10 × host");
    let g = GateSpec::from_yaml("{ metric: bw, runtime: host, at_least: 100MiB/s }").unwrap();
    assert!(close(g.bound.value(), 100.0 * 1048576.0, 1e-12));
    let g = GateSpec::from_yaml("{ metric: p99, at_most: 5ms, inconclusive: fail }").unwrap();
    assert!(close(g.bound.value(), 5e6, 1e-12));
    assert_eq!(g.inconclusive, Inconclusive::Fail);
    let g = GateSpec::from_yaml("{ metric: iops, runtime: host, at_least: 20k }").unwrap();
    assert!(close(g.bound.value(), 20e3, 1e-12));
    // Round trip through the matrix's serialization.
    let m = synthetic_matrix(
        "  - { metric: p99.9, runtime: kata, reference: host, at_most: 20x, confidence: 0.9 }\n",
    );
    let yaml = serde_json::to_value(&m.matrix.gates[0]).unwrap();
    assert_eq!(yaml["at_most"], "20x");
    assert_eq!(yaml["metric"], "p99.9");
    assert_eq!(yaml["confidence"], 0.9);
}

/// The error of a matrix with `gates` appended, and the line it must point at (1-based, counted
/// in the whole document).
#[rstest]
#[case::unknown_key(
    "  - metric: bw\n    runtime: kata\n    reference: host\n    at_leest: 15%\n",
    4,
    "at_leest"
)]
#[case::bad_bound(
    "  - metric: bw\n    runtime: kata\n    reference: host\n    at_least: 15 percent\n",
    4,
    "15 percent"
)]
#[case::bad_metric("  - metric: p42\n    at_most: 5ms\n", 1, "p42")]
#[case::ratio_without_reference(
    "  - metric: bw\n    runtime: host\n    at_least: 15%\n",
    1,
    "reference"
)]
#[case::unit_mismatch(
    "  - { metric: p99, runtime: host, at_most: 100MiB/s }\n",
    1,
    "does not fit metric"
)]
#[case::absolute_bound_on_relative_gate(
    "  - metric: bw\n    runtime: kata\n    reference: host\n    at_least: 1GiB/s\n",
    1,
    "ratio"
)]
#[case::both_bounds(
    "  - metric: bw\n    runtime: host\n    at_least: 1GiB/s\n    at_most: 2GiB/s\n",
    1,
    "exactly one"
)]
#[case::unknown_runtime(
    "  - metric: bw\n    at_least: 1GiB/s\n  - metric: bw\n    runtime: kat\n    reference: host\n    at_least: 15%\n",
    4,
    "unknown runtime `kat`"
)]
#[case::unknown_client_count(
    "  - metric: bw\n    runtime: kata\n    reference: host\n    at_least: 15%\n    clients: [64]\n",
    5,
    "64 clients"
)]
#[case::pattern_not_in_workload(
    "  - { metric: bw, runtime: kata, reference: host, at_least: 15%, patterns: [write] }\n",
    1,
    "pattern `write`"
)]
#[case::duplicate(
    "  - { metric: bw, at_least: 1GiB/s }\n  - { metric: bw, at_least: 1GiB/s }\n",
    2,
    "same test name"
)]
fn yaml_gate_errors_carry_line_and_column(
    #[case] gates: &str,
    #[case] line_in_gates: u64,
    #[case] needle: &str,
) {
    let base_lines = MATRIX.lines().count() as u64 + 1; // + the `gates:` line
    let text = format!("{MATRIX}gates:\n{gates}");
    let err = parse(&text).expect_err("invalid gate accepted");
    let iogate::Error::Matrix { location, message } = &err else {
        panic!("not a matrix error: {err}")
    };
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
    let gate_start = base_lines + 1;
    let gate_lines = gates.lines().count() as u64;
    // Errors inside one gate point into that gate: the key itself when the check knows it.
    assert!(
        (gate_start..gate_start + gate_lines).contains(&location.line),
        "{err}: line {} is outside the gates (lines {gate_start}..{})",
        location.line,
        gate_start + gate_lines
    );
    if line_in_gates > 1 {
        assert_eq!(location.line, base_lines + line_in_gates, "{err}");
    }
    assert!(location.column > 0, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("m.yaml:{}:{}: ", location.line, location.column))
    );
}

#[test]
fn matrices_in_the_repo_parse_with_their_gates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("matrices");
    for name in ["smoke.yaml", "seed.yaml"] {
        let m = MatrixFile::load(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!m.matrix.gates.is_empty(), "{name} has no gates");
    }
    let seed = MatrixFile::load(root.join("seed.yaml")).unwrap();
    let names: Vec<String> = seed
        .matrix
        .gates
        .iter()
        .flat_map(|g| {
            g.client_counts(&seed.matrix)
                .into_iter()
                .map(|c| g.trial_name(&seed.matrix, c))
        })
        .collect();
    assert!(
        names.contains(&"seed/gate/kata-read-bw-ge-15pct-of-host/c64".to_owned()),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Real runs on the host runtime.

fn host_pair_matrix(dir: &Path, gates: &str, reps: u32, rate: Option<u64>) -> MatrixFile {
    let options = rate
        .map(|r| format!("  options:\n    rate: {r}\n"))
        .unwrap_or_default();
    let text = format!(
        "name: gatetest
target: {target}
clients: [1]
runtimes:
  - name: host
    host: {{}}
  - name: host-b
    host: {{}}
workload:
  patterns: [read]
  bs: 64k
  threads: 2
  size: 16m
  runtime: 1s
  repetitions: {reps}
{options}gates:
{gates}",
        target = dir.join("files").display()
    );
    let path = dir.join("gatetest.yaml");
    std::fs::write(&path, &text).unwrap();
    MatrixFile::load(&path).unwrap()
}

#[test]
fn an_impossible_gate_fails_with_its_table_and_cells_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let m = host_pair_matrix(
        dir.path(),
        "  - { metric: bw, runtime: host-b, reference: host, at_least: 1000x }\n",
        2,
        None,
    );
    let mut session = Session::open_in(&dir.path().join("results"), "r1", m.clone()).unwrap();
    let gate = m.matrix.gates[0].clone();
    let cells = gate.cells(&session.matrix().matrix, Some(1));
    let records = session.run_interleaved(&cells).unwrap();
    let report = decide(&gate, &session.matrix().matrix, Some(1), &records);
    assert_eq!(report.verdict, Verdict::Fail, "{}", gate_table(&report));
    assert_eq!(report.gate.describe(), "host-b bw ≥ 1000 × host");
    let text = gate_table(&report);
    assert!(text.contains("| read | 1 | host-b |"), "{text}");
    assert!(text.contains("≥ 1000×"), "{text}");
    assert!(text.contains("| **FAIL** |"), "{text}");
    // Repetitions ran in ABBA blocks: host-b r1, host r1, then host r2, host-b r2 (by output time).
    let mtime = |rel: &str| {
        std::fs::metadata(session.dir().join(rel))
            .unwrap()
            .modified()
            .unwrap()
    };
    let order = [
        "cells/gatetest__host-b__c1__read/r1.json",
        "cells/gatetest__host__c1__read/r1.json",
        "cells/gatetest__host__c1__read/r2.json",
        "cells/gatetest__host-b__c1__read/r2.json",
    ];
    for pair in order.windows(2) {
        assert!(
            mtime(pair[0]) <= mtime(pair[1]),
            "{} ended after {}",
            pair[0],
            pair[1]
        );
    }
    // Both cells were persisted and are in the summary.
    let summary = iogate::run::Summary::load(&session.dir().join("summary.json")).unwrap();
    assert_eq!(summary.cells.len(), 2);
    assert!(
        summary
            .cells
            .iter()
            .all(|c| c.status == Status::Passed && c.repetitions.len() == 2)
    );
}
