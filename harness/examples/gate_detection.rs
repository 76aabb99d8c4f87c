//! How good is the gate on this machine? A/A repetitions and runs with an injected slowdown,
//! judged by the relative gate and by the baseline comparison.
//!
//! `cargo run --release -p iogate-harness --example gate_detection [-- --trials 20 --reps 2]`
//!
//! Host runtime, 1 client, sequential 64k reads with 2 threads, 1 s runs (page cache: this
//! measures the I/O path, not a disk). Four runtimes, all `host`: `ref`, `test` (identical: the
//! A/A pair), and `slow50` / `slow80` whose threads are capped with fio's `rate` option (per
//! thread, so the cap is split over the threads) at 50 % and 80 % of the bandwidth `ref` measured
//! in a calibration run. Every trial runs the four cells with their repetitions interleaved, then:
//!
//! * the relative gate `<runtime> bw ≥ B × ref` (B = 70 %, a gate meant to catch a 2× slowdown,
//!   and B = 90 %, one that would have to catch a 20 % drop) with the default method (paired t on
//!   log differences, noise prior pooled in, 95 %): for `test` a fail is a false alarm and an
//!   inconclusive is counted separately; for the capped runtimes a fail is a detection;
//! * the baseline comparison (the insta comparator's rule: bw, IOPS, p50 and p99 each within its
//!   factor of the baseline) against a baseline recorded from the calibration run, with the
//!   default tolerances and, for comparison, a fixed ±20 % band on bandwidth alone (the peer
//!   gate the issue quotes).
//!
//! Prints one line per trial, then the rates. Nothing is asserted: these are this machine's
//! figures, to be read (docs/gates.md quotes them).

use std::time::Instant;

use iogate::gate::{self, GateSpec, Verdict, log_spread};
use iogate::judge::baseline::{self, Baseline, Tolerance, Tolerances};
use iogate::run::Session;
use iogate::run::{CellRecord, Status};
use iogate::spec::{Cell, MatrixFile};

const THREADS: u32 = 2;
const GATE_BOUNDS: [u32; 2] = [70, 90];

fn main() {
    let mut trials = 20usize;
    let mut reps = 2u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        match (arg.as_str(), value) {
            ("--trials", Some(n)) if n > 0 => trials = n,
            ("--reps", Some(n)) if (1..=20).contains(&n) => reps = n as u32,
            _ => {
                eprintln!("usage: gate_detection [--trials N] [--reps K (1-20)]");
                std::process::exit(2);
            }
        }
    }

    let dir = tempfile::Builder::new()
        .prefix("iogate-gate-detection-")
        .tempdir_in("/var/tmp")
        .expect("temp dir");
    let matrix = matrix_file(dir.path());
    let cells = matrix.cells();
    let cell = |runtime: &str| -> Cell {
        let mut c = cells
            .iter()
            .find(|c| c.runtime.name.as_str() == runtime)
            .expect("runtime in the matrix")
            .clone();
        c.workload.repetitions = reps;
        c
    };
    let mut session = Session::open_in(
        &dir.path().join("results"),
        "gate-detection",
        matrix.clone(),
    )
    .expect("session");
    let started = Instant::now();

    // Calibration: the bandwidth the caps are relative to, and the baseline the reruns meet.
    let mut calibration = cell("ref");
    calibration.workload.repetitions = 5;
    let cal = session.run_cell(&calibration).expect("calibration run");
    let cal = passed(cal);
    let bw: Vec<f64> = cal.repetitions.iter().map(|r| r.bw_bytes).collect();
    let ref_bw = gate::geometric_mean(&bw).expect("bandwidth");
    let base = Baseline::from_record(&cal).expect("baseline");
    println!(
        "gate_detection: host runtime, 1 client, read 64k × {THREADS} threads, 1 s runs, k = {reps} repetitions \
         per cell (interleaved), {trials} trials"
    );
    println!(
        "calibration (ref, 5 repetitions): {} MiB/s, σ(ln bw) = {:.3} between repetitions",
        gate::sig3(ref_bw / 1048576.0),
        log_spread(&bw).unwrap_or(f64::NAN)
    );

    let mut slow = Vec::new();
    for (runtime, fraction) in [("slow50", 0.5), ("slow80", 0.8)] {
        let mut c = cell(runtime);
        let per_thread = (ref_bw * fraction / f64::from(THREADS)) as u64;
        c.workload
            .options
            .insert("rate", &per_thread.to_string())
            .expect("rate is allow-listed");
        println!(
            "{runtime}: rate = {} MiB/s per thread ({:.0} % of ref over {THREADS} threads)",
            gate::sig3(per_thread as f64 / 1048576.0),
            fraction * 100.0
        );
        slow.push(c);
    }
    let batch = [cell("ref"), cell("test"), slow[0].clone(), slow[1].clone()];

    let gates: Vec<(u32, &str, GateSpec)> = GATE_BOUNDS
        .iter()
        .flat_map(|b| {
            ["test", "slow50", "slow80"].map(|rt| {
                let yaml =
                    format!("{{ metric: bw, runtime: {rt}, reference: ref, at_least: {b}% }}");
                (*b, rt, GateSpec::from_yaml(&yaml).expect("gate"))
            })
        })
        .collect();
    let band = Tolerances {
        throughput: Some(Tolerance::new(1.25).expect("tolerance")),
        p50: None,
        p99: None,
    };
    let tolerances = [
        ("default", Tolerances::from_env().expect("tolerance")),
        ("±20 % bw band", band),
    ];
    let mut gate_counts: Vec<Counts> = vec![Counts::default(); gates.len()];
    let mut base_counts = vec![[0usize; 3]; tolerances.len()];
    let mut ratios: Vec<[f64; 3]> = Vec::new();
    println!(
        "per trial: bw ratios to ref; gate verdicts for test, slow50, slow80 at each bound; baseline \
         checks of test, slow50, slow80 (default tolerances / ±20 % band)"
    );
    for trial in 1..=trials {
        let records = session.run_interleaved(&batch).expect("trial run");
        let records: Vec<CellRecord> = records.into_iter().map(passed).collect();
        let by = |rt: &str| records.iter().find(|r| r.runtime == rt).expect("record");
        let gm = |rt: &str| {
            let v: Vec<f64> = by(rt).repetitions.iter().map(|r| r.bw_bytes).collect();
            gate::geometric_mean(&v).expect("bandwidth")
        };
        let r = gm("ref");
        ratios.push([gm("test") / r, gm("slow50") / r, gm("slow80") / r]);
        let mut line = format!(
            "trial {trial:2}: test {}× slow50 {}× slow80 {}× of ref |",
            gate::sig3(ratios[trial - 1][0]),
            gate::sig3(ratios[trial - 1][1]),
            gate::sig3(ratios[trial - 1][2])
        );
        for (i, (bound, rt, g)) in gates.iter().enumerate() {
            let report = gate::evaluate(g, &matrix.matrix, Some(1), &records);
            gate_counts[i].add(report.verdict);
            if *rt == "test" {
                line.push_str(&format!(" ≥{bound}%:"));
            }
            line.push_str(&format!(" {}", short(report.verdict)));
        }
        line.push_str(" | baseline:");
        for (t, (_, tolerance)) in tolerances.iter().enumerate() {
            for (j, rt) in ["test", "slow50", "slow80"].iter().enumerate() {
                let mut new = Baseline::from_record(by(rt)).expect("numbers");
                new.cell = base.cell.clone();
                let within = baseline::compare(&base, &new, *tolerance).matches();
                if !within {
                    base_counts[t][j] += 1;
                }
                line.push_str(if within { " ok" } else { " DRIFT" });
            }
            if t + 1 < tolerances.len() {
                line.push_str(" /");
            }
        }
        println!("{line}");
    }

    let aa: Vec<f64> = ratios.iter().map(|r| r[0]).collect();
    println!(
        "\nA/A (test vs ref, geometric mean of k = {reps}): σ(ln ratio) across trials = {:.3}; \
         single-repetition σ(ln) implied ≈ {:.3}",
        log_spread(&aa).unwrap_or(f64::NAN),
        log_spread(&aa).unwrap_or(f64::NAN) * (f64::from(reps) / 2.0).sqrt()
    );
    println!(
        "slowdowns achieved (median ratio to ref): 50 % cap → {}×, 80 % cap → {}×",
        gate::sig3(median(ratios.iter().map(|r| r[1]).collect())),
        gate::sig3(median(ratios.iter().map(|r| r[2]).collect()))
    );

    println!(
        "\nrelative gate `<runtime> bw ≥ B × ref` (95 %, paired t on log differences + prior σ 0.11 / 7 df):\n"
    );
    println!(
        "| B | A/A pass | A/A fail (false alarm) | A/A inconclusive | 50 % cap detected (fail) | 50 % inconclusive | \
         80 % cap detected (fail) | 80 % inconclusive |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for bound in GATE_BOUNDS {
        let c = |rt: &str| {
            let i = gates
                .iter()
                .position(|(b, r, _)| *b == bound && *r == rt)
                .expect("gate");
            gate_counts[i]
        };
        let (t, s50, s80) = (c("test"), c("slow50"), c("slow80"));
        println!(
            "| {bound} % | {} | {} | {} | {} | {} | {} | {} |",
            rate(t.pass, trials),
            rate(t.fail, trials),
            rate(t.inconclusive, trials),
            rate(s50.fail, trials),
            rate(s50.inconclusive, trials),
            rate(s80.fail, trials),
            rate(s80.inconclusive, trials)
        );
    }
    println!(
        "\nbaseline comparison (the snapshot comparator's rule, against the calibration baseline):\n"
    );
    println!(
        "| tolerance | unchanged reruns passing | false alarms | 50 % cap detected | 80 % cap detected |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (t, (label, tolerance)) in tolerances.iter().enumerate() {
        let [aa_drift, d50, d80] = base_counts[t];
        let factor = |x: Option<Tolerance>| {
            x.map_or("–".to_owned(), |x| {
                format!("×/÷ {}", gate::sig3(x.factor()))
            })
        };
        println!(
            "| {label}: bw/IOPS {}, p50 {}, p99 {} | {} | {} | {} | {} |",
            factor(tolerance.throughput),
            factor(tolerance.p50),
            factor(tolerance.p99),
            rate(trials - aa_drift, trials),
            rate(aa_drift, trials),
            rate(d50, trials),
            rate(d80, trials)
        );
    }
    println!(
        "\n{} fio runs in {:.0} s; results under {} (removed at exit)",
        5 + trials * 4 * reps as usize,
        started.elapsed().as_secs_f64(),
        dir.path().display()
    );
}

/// Verdict counts of one gate over the trials.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    pass: usize,
    fail: usize,
    inconclusive: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Inconclusive | Verdict::Skipped => self.inconclusive += 1,
        }
    }
}

fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "inc",
        Verdict::Skipped => "skip",
    }
}

fn rate(n: usize, of: usize) -> String {
    format!("{n}/{of} ({:.0} %)", 100.0 * n as f64 / of as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn passed(record: CellRecord) -> CellRecord {
    if record.status != Status::Passed {
        eprintln!(
            "cell {} {:?}: {}",
            record.name,
            record.status,
            record.reason.as_deref().unwrap_or_default()
        );
        std::process::exit(1);
    }
    record
}

fn matrix_file(dir: &std::path::Path) -> MatrixFile {
    let text = format!(
        "name: gate-detection
target: {}
clients: [1]
runtimes:
  - {{ name: ref, host: {{}} }}
  - {{ name: test, host: {{}} }}
  - {{ name: slow50, host: {{}} }}
  - {{ name: slow80, host: {{}} }}
workload:
  patterns: [read]
  bs: 64k
  threads: {THREADS}
  size: 32m
  runtime: 1s
",
        dir.join("files").display()
    );
    let path = dir.join("gate-detection.yaml");
    std::fs::write(&path, text).expect("matrix file");
    MatrixFile::load(&path).expect("matrix")
}
