//! The gate as a regression detector, end to end on real fio: a runtime slowed by 20 % through a
//! per-runtime fio override fails "slowed bw ≥ 95 % of unslowed"; the same gate over an unslowed
//! copy passes. Both are decided the way `cargo test --test io_matrix` decides (blocks, more
//! blocks while unclear, Holm over the run), with no history: the run's own blocks alone.

use std::path::Path;

use iogate::harness::Runner;
use iogate::judge::Verdict;
use iogate::report::events::Silent;
use iogate::report::gates::gate_table;
use iogate::spec::MatrixFile;

/// Passing needs evidence: the copy's blocks scatter ±11–14 % around host's, so showing "≥ 95 %
/// less 5 %" at 95 % — spent over every look, one after each block — takes 9 blocks in a median
/// fresh run and more than 16 in 8 % of them (`gate_power --history 0` on 11 real runs,
/// docs/gates.md); with up to 32 blocks, 0.5 % stay unclear. Three cells of about 5 s a block
/// fit 32 blocks in 10 minutes.
///
/// Host three times: as is, an unslowed copy, and slowed by fio's `thinktime` (200 ms asleep
/// after every 800 ms of I/O: 80 % of the bandwidth, whatever the machine's speed). fio 3.33
/// makes the first I/O phase thinktime + iotime long and lets a sleep run past `runtime`: a
/// 1.5 s ramp puts both ends of the 3 s window in I/O phases (README, per-runtime options).
fn matrix(dir: &Path) -> MatrixFile {
    let text = format!(
        "name: detect
target: {target}
clients: [1]
runtimes:
  - name: host
    host: {{}}
  - name: host-copy
    host: {{}}
  - name: host-slowed
    host: {{}}
    options: {{ thinktime: 200ms, thinktime_iotime: 800ms }}
workload:
  patterns: [read]
  bs: 64k
  threads: 2
  size: 16MiB
  runtime: 3s
  ramp: 1500ms
  repetitions: 2
  options: {{ invalidate: 0, pre_read: 1 }}
gates:
  - {{ name: slowed, metric: bw, runtime: host-slowed, reference: host, at_least: 95% }}
  - {{ name: copy, metric: bw, runtime: host-copy, reference: host, at_least: 95% }}
judge:
  max_blocks: 32
  budget: 10m
",
        target = dir.join("files").display()
    );
    let path = dir.join("detect.yaml");
    std::fs::write(&path, text).unwrap();
    MatrixFile::load(&path).unwrap()
}

#[test]
fn a_20_percent_slowdown_fails_its_gate_and_an_unslowed_copy_passes() {
    let dir = tempfile::tempdir().unwrap();
    // The matrix names its temp directory, so its hash (and history) is this run's alone.
    let file = matrix(dir.path());
    let runner = Runner::new(Box::new(Silent));
    let slowed = runner.gate(&file, &file.matrix.gates[0], 1).unwrap();
    let copy = runner.gate(&file, &file.matrix.gates[1], 1).unwrap();
    runner.finish();
    assert_eq!(slowed.verdict, Verdict::Fail, "{}", gate_table(&slowed));
    assert_eq!(copy.verdict, Verdict::Pass, "{}", gate_table(&copy));
}
