//! The report from a fixed, committed results directory (`tests/fixtures/run-sample`): the
//! markdown and the bandwidth figure as snapshots, the HTML page's content, typed `gates.json` in
//! both renderings, `compare` of a run with itself and with a changed copy, and the footnotes of
//! cells that failed or were skipped.

use std::path::{Path, PathBuf};

use iogate::judge::compare::{Change, CompareOptions, compare};
use iogate::judge::gate::{GatesFile, evaluate};
use iogate::judge::{GateReport, Past, Verdict};
use iogate::report::{self, Run};
use iogate::run::{Status, Summary};
use iogate::spec::{GateSpec, Metric};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-sample")
}

fn load() -> Run {
    Run::load(&sample()).expect("the sample run loads")
}

#[test]
fn markdown_report_snapshot() {
    let run = load();
    insta::assert_snapshot!("report_md", report::markdown::render(&run, true));
}

#[test]
fn bandwidth_svg_snapshot() {
    let run = load();
    insta::assert_snapshot!("bandwidth_svg", report::svg::bandwidth(&run.view()));
}

#[test]
fn sample_has_a_failed_and_skipped_cells_and_their_histograms() {
    let run = load();
    let status = |s| run.summary.cells.iter().filter(|c| c.status == s).count();
    assert_eq!(
        (
            status(Status::Passed),
            status(Status::Failed),
            status(Status::Skipped)
        ),
        (11, 1, 4)
    );
    assert_eq!(
        run.histograms.len(),
        11,
        "every passed cell's histogram.json is read"
    );
    assert!(run.matrix.is_some(), "matrix.yaml parses");
    assert!(matches!(run.environment, Some(Ok(_))));
    assert!(run.gates.is_none(), "no gates.json in the sample");
}

#[test]
fn failed_and_skipped_cells_show_no_number_and_list_their_reason() {
    let run = load();
    let view = run.view();
    let latency = report::latency_table(&run.summary);
    let row = latency
        .lines()
        .find(|l| l.starts_with("| random read | host |"))
        .expect("host random read row");
    // 1 client measured, 8 clients failed: both of its columns say so, with footnote 2 (notes
    // are numbered in table order: the skipped kata cells of the read rows come first).
    assert!(
        row.ends_with("| **FAILED** [2] | **FAILED** [2] |"),
        "{row}"
    );
    let kata = latency
        .lines()
        .find(|l| l.starts_with("| sequential read | kata |"))
        .expect("kata row");
    assert_eq!(
        kata,
        "| sequential read | kata | _skipped_ [1] | _skipped_ [1] | _skipped_ [1] | _skipped_ [1] |"
    );
    let notes = report::markdown::missing_list(&view);
    assert!(
        notes.contains("- [2] **FAILED** (`smoke/host/c8/randread`): fio failed"),
        "{notes}"
    );
    assert!(
        notes.contains("client: host=198.18.1.2 disconnected"),
        "{notes}"
    );
    assert!(
        notes.contains("- [1] **skipped** (4 cells: `smoke/kata/c1/read`"),
        "{notes}"
    );
}

#[test]
fn html_is_self_contained_with_both_figures_and_all_sections() {
    let run = load();
    let html = report::html::render(&run);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg ").count(), 2, "two inline figures");
    assert_eq!(
        html.matches("<rect class=\"bar\"").count(),
        11,
        "one bar per passed cell"
    );
    assert_eq!(
        html.matches("<path class=\"cdf\"").count(),
        11,
        "one curve per passed cell"
    );
    for section in [
        "id=\"bandwidth\"",
        "id=\"latency\"",
        "id=\"measures\"",
        "id=\"environment\"",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    assert!(
        !html.contains("id=\"gates\""),
        "no gates section without gates.json"
    );
    for external in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(
            !html.contains(external),
            "external resource or script: {external}"
        );
    }
    assert!(html.contains("page cache"));
}

#[test]
fn write_puts_every_file_next_to_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&sample(), tmp.path());
    let written = report::write(tmp.path()).unwrap();
    for f in [
        &written.markdown,
        &written.html,
        &written.figures[0],
        &written.figures[1],
    ] {
        assert_eq!(f.parent(), Some(tmp.path()));
        assert!(
            std::fs::metadata(f).unwrap().len() > 1000,
            "{}",
            f.display()
        );
    }
    // The matrix results directory works too: its `latest` run.
    let base = tempfile::tempdir().unwrap();
    let run_dir = base.path().join("20261125T000000Z-1");
    copy_dir(&sample(), &run_dir);
    std::os::unix::fs::symlink("20261125T000000Z-1", base.path().join("latest")).unwrap();
    assert_eq!(
        Run::load(base.path()).unwrap().dir,
        base.path().join("latest")
    );
}

/// Three earlier runs of the sample's cells, each cell ±4 % from run to run: the noise the
/// sample's single repetitions cannot show.
fn past(run: &Run) -> Past {
    let runs = (0..3)
        .map(|k| {
            run.summary
                .cells
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let f = 1.0 + 0.04 * ((i * 7 + k * 13) as f64).sin();
                    let reps = cell
                        .repetitions
                        .iter()
                        .map(|r| {
                            let mut r = r.clone();
                            r.bw_bytes *= f;
                            r.lat_ns.p99 = (r.lat_ns.p99 as f64 / f) as u64;
                            r
                        })
                        .collect();
                    (cell.name.clone(), reps)
                })
                .collect()
        })
        .collect();
    Past { runs }
}

/// Four gates over the sample at 8 clients, one per verdict: runc keeps ≥ 10 % of host's read
/// bandwidth (pass), host's p99 is at most 1 µs (fail), gvisor reaches 3.1× host's bandwidth (it
/// measured 2.91×: a sign of being worse than 3.1 × 0.95, not yet the evidence a failure needs:
/// inconclusive), and kata (skipped in the sample). Noise: three made-up earlier runs.
fn sample_gates(run: &Run) -> GatesFile {
    let matrix = run.matrix.as_ref().expect("matrix.yaml parses");
    let gates = [
        "{ metric: bw, runtime: runc, reference: host, at_least: 10%, patterns: [read] }",
        "{ metric: p99, runtime: host, at_most: 1us, patterns: [read] }",
        "{ metric: bw, runtime: gvisor, reference: host, at_least: 3.1x, patterns: [read] }",
        "{ metric: bw, runtime: kata, reference: host, at_least: 10%, patterns: [read] }",
    ];
    let gates = gates
        .iter()
        .map(|yaml| {
            let gate = GateSpec::from_yaml(yaml).unwrap();
            let mut report: GateReport =
                evaluate(&gate, matrix, Some(8), &run.summary.cells, &past(run), 0.05);
            report.settle_alone(0.01);
            (gate.trial_name(matrix, 8), report)
        })
        .collect();
    GatesFile { gates }
}

#[test]
fn gates_json_is_read_typed_and_rendered_in_both_reports() {
    let tmp = copy_to_temp();
    let file = sample_gates(&load());
    let verdicts: Vec<Verdict> = file.gates.values().map(|g| g.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Inconclusive,
            Verdict::Fail,
            Verdict::Skipped,
            Verdict::Pass
        ],
        "{:?}",
        file.gates.keys()
    );
    std::fs::write(
        tmp.path().join(GatesFile::NAME),
        serde_json::to_string_pretty(&file).unwrap(),
    )
    .unwrap();
    let run = Run::load(tmp.path()).unwrap();
    let Some(Ok(read)) = &run.gates else {
        panic!("gates.json not read: {:?}", run.gates)
    };
    let read_verdicts: Vec<(&String, Verdict)> =
        read.gates.iter().map(|(k, g)| (k, g.verdict)).collect();
    let written: Vec<(&String, Verdict)> = file.gates.iter().map(|(k, g)| (k, g.verdict)).collect();
    assert_eq!(read_verdicts, written);

    let md = report::markdown::render(&run, false);
    let section = &md[md.find("## Gates").unwrap()..md.find("## Aggregate bandwidth").unwrap()];
    insta::assert_snapshot!("report_gates_md", section);
    for needle in [
        "4 gates: 1 pass, 1 fail, 1 inconclusive, 1 skipped.",
        "| pattern | clients | runtime | measured | reference | ratio [95 % CI] | bound | k | spread | p(worse) | verdict |",
        "| ≥ 3.1× | 1 + 3 runs | ±0.255% | 0.018 | ⚠ inconclusive |",
        "⚠ unclear when the budget was spent: k = 1",
        "| **FAIL** |",
        "| _skipped: cell smoke/kata/c8/read was skipped: ",
    ] {
        assert!(section.contains(needle), "missing {needle:?} in\n{section}");
    }

    let html = report::html::render(&run);
    let section = &html[html.find("<section id=\"gates\">").unwrap()
        ..html.find("<section id=\"bandwidth\">").unwrap()];
    assert_eq!(section.matches("<table class=\"gate\">").count(), 4);
    for needle in [
        "<td class=\"warn\">inconclusive</td>",
        "<td class=\"bad\">FAIL</td>",
        "<td class=\"good\">pass</td>",
        "<span class=\"verdict-warn\">inconclusive</span>",
        "<p class=\"callout\">unclear when the budget was spent",
    ] {
        assert!(section.contains(needle), "missing {needle:?} in\n{section}");
    }
    assert!(
        !section.contains("<td class=\"good\">inconclusive"),
        "inconclusive never reads as a pass"
    );
}

#[test]
fn an_unreadable_gates_json_is_reported() {
    let tmp = copy_to_temp();
    std::fs::write(tmp.path().join(GatesFile::NAME), "{ not json").unwrap();
    let run = Run::load(tmp.path()).unwrap();
    assert!(matches!(run.gates, Some(Err(_))));
    let md = report::markdown::render(&run, false);
    assert!(md.contains("**gates.json could not be read**"), "{md}");
    assert!(report::html::render(&run).contains("id=\"gates\""));
}

#[test]
fn step_summary_gets_the_markdown_appended() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("summary.md");
    std::fs::write(&path, "before\n").unwrap();
    // Setting the variable in this process would need `unsafe` (edition 2024): run the binary.
    let exe = env!("CARGO_BIN_EXE_iogate");
    let out = std::process::Command::new(exe)
        .arg("report")
        .arg(copy_to_temp().path())
        .env("GITHUB_STEP_SUMMARY", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("before\n# iogate report: `smoke`"),
        "{text}"
    );
    assert!(
        !text.contains("](bandwidth.svg)"),
        "no relative figure links in the step summary"
    );
}

/// `summary` with every passed cell's repetition repeated `k` times.
fn repeated(summary: &Summary, k: usize) -> Summary {
    let mut s = summary.clone();
    for cell in &mut s.cells {
        if let Some(first) = cell.repetitions.first().cloned() {
            cell.repetitions = vec![first; k];
        }
    }
    s
}

#[test]
fn compare_with_itself_is_one_everywhere() {
    let run = load();
    let c = compare(&run.summary, &run.summary, CompareOptions::default());
    let comparable: Vec<_> = c.cells.iter().filter(|r| !r.metrics.is_empty()).collect();
    assert_eq!(comparable.len(), 11);
    for cell in &comparable {
        for m in &cell.metrics {
            assert_eq!(m.ratio(), 1.0, "{}", cell.name);
        }
        // One repetition a side: the prior alone is wider than ±10 %, so no pass, never a fail.
        assert_eq!(cell.verdict, Verdict::Inconclusive, "{}", cell.name);
        assert_eq!(cell.change(), Some(Change::Same));
    }
    assert_eq!(
        c.count(Verdict::Skipped),
        5,
        "the failed and the skipped cells"
    );
    let md = report::compare::markdown(&c);
    for line in md
        .lines()
        .filter(|l| l.starts_with("| smoke/") && !l.contains("skipped"))
    {
        let ratios: Vec<&str> = line
            .split('|')
            .map(str::trim)
            .filter(|c| c.starts_with("1.00 ["))
            .collect();
        assert_eq!(ratios.len(), 3, "{line}");
        assert!(line.ends_with("| ⚠ inconclusive, same |"), "{line}");
    }

    // With ten identical repetitions a side, the interval is inside ±10 %: all pass and same.
    let ten = repeated(&run.summary, 10);
    let c = compare(&ten, &ten, CompareOptions::default());
    assert_eq!(
        (c.count(Verdict::Pass), c.count(Verdict::Skipped)),
        (11, 5),
        "{}",
        report::compare::tally(&c)
    );
    assert_eq!(c.count_change(Change::Same), 11);
}

#[test]
fn compare_flags_a_slower_run_and_uses_the_repetitions_spread() {
    let a = load().summary;
    let mut b = a.clone();
    let name = "smoke/runc/c8/read";
    let cell = b.cells.iter_mut().find(|c| c.name == name).unwrap();
    cell.repetitions[0].bw_bytes *= 0.5;
    cell.repetitions[0].lat_ns.p99 *= 3;
    let c = compare(&a, &b, CompareOptions::default());
    let row = c.cells.iter().find(|r| r.name == name).unwrap();
    assert_eq!(row.verdict, Verdict::Fail);
    assert_eq!(row.change(), Some(Change::Worse));
    let bw = row.metric(Metric::Bw).unwrap();
    assert!((bw.ratio() - 0.5).abs() < 1e-9, "{}", bw.ratio());
    assert_eq!((bw.verdict, bw.change), (Verdict::Fail, Change::Worse));
    let p99 = row.metric(Metric::P99).unwrap();
    assert!((p99.ratio() - 3.0).abs() < 1e-9, "{}", p99.ratio());
    assert_eq!((p99.verdict, p99.change), (Verdict::Fail, Change::Worse));
    assert_eq!(row.metric(Metric::P50).unwrap().change, Change::Same);
    assert_eq!(c.count(Verdict::Fail), 1);
    let md = report::compare::markdown(&c);
    assert!(md.contains("| **FAIL, worse** |"), "{md}");

    // Two repetitions a side whose ratios disagree (1.17 and 0.21): half the bandwidth on
    // average, but within the noise.
    let mut a2 = a.clone();
    for (s, bws) in [(&mut a2, [0.6, 1.4]), (&mut b, [0.7, 0.3])] {
        let cell = s.cells.iter_mut().find(|c| c.name == name).unwrap();
        let base = a.cells.iter().find(|c| c.name == name).unwrap().repetitions[0].clone();
        cell.repetitions = bws
            .iter()
            .map(|f| {
                let mut r = base.clone();
                r.bw_bytes *= f;
                r
            })
            .collect();
    }
    let c = compare(&a2, &b, CompareOptions::default());
    let bw = *c
        .cells
        .iter()
        .find(|r| r.name == name)
        .unwrap()
        .metric(Metric::Bw)
        .unwrap();
    assert_eq!(bw.k, (2, 2));
    assert!((bw.ratio() - 0.5).abs() < 0.05, "{}", bw.ratio());
    assert_eq!(
        (bw.verdict, bw.change),
        (Verdict::Inconclusive, Change::Worse)
    );
}

#[test]
fn compare_cli_prints_markdown_and_writes_html() {
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("compare.html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
        .args(["compare", "--threshold", "0.2", "--html"])
        .arg(&html)
        .arg(sample())
        .arg(sample())
        .arg("--fail-on-worse")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains(
            "16 cells: 0 pass, 0 fail, 11 inconclusive, 5 skipped; 11 same, 0 better, 0 worse, 0 mixed."
        ),
        "{md}"
    );
    assert!(
        md.contains("at least A / 1.2 and latency at most A × 1.2"),
        "{md}"
    );
    assert!(md.contains("| smoke/runc/c8/read |"), "{md}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<table class=\"compare\">"));
}

#[test]
fn compare_cli_fails_on_a_failing_cell_only_when_asked() {
    let tmp = copy_to_temp();
    let mut summary = Summary::load(&tmp.path().join("summary.json")).unwrap();
    for cell in &mut summary.cells {
        for r in &mut cell.repetitions {
            r.bw_bytes *= 0.5;
        }
    }
    std::fs::write(
        tmp.path().join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
            .arg("compare")
            .arg(sample())
            .arg(tmp.path())
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&[]).status.success());
    let out = run(&["--fail-on-worse"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("11 fail"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn copy_to_temp() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&sample(), tmp.path());
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
