//! The report from a fixed, committed results directory (`tests/fixtures/run-sample`): the
//! markdown and the bandwidth figure as snapshots, the HTML page's content, `compare` of a run with
//! itself and with a changed copy, and the footnotes of cells that failed or were skipped.

use std::path::{Path, PathBuf};

use iogate::report::compare::{Verdict, compare};
use iogate::report::{self, Run};
use iogate::run::Status;

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

#[test]
fn gates_json_is_shown_when_present() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&sample(), tmp.path());
    std::fs::write(
        tmp.path().join("gates.json"),
        r#"{"passed": false, "gates": [
            {"name": "runc-read-bw", "cell": "smoke/runc/c8/read", "verdict": "pass"},
            {"name": "gvisor-read-p99", "cell": "smoke/gvisor/c8/read", "verdict": "fail"}]}"#,
    )
    .unwrap();
    let run = Run::load(tmp.path()).unwrap();
    let md = report::markdown::render(&run, false);
    assert!(md.contains("## Gates\n\n1 of 2 gates failed."), "{md}");
    assert!(
        md.contains("| gvisor-read-p99 | smoke/gvisor/c8/read | **fail** |"),
        "{md}"
    );
    assert!(report::html::render(&run).contains("id=\"gates\""));

    std::fs::write(tmp.path().join("gates.json"), "{ not json").unwrap();
    let md = report::markdown::render(&Run::load(tmp.path()).unwrap(), false);
    assert!(md.contains("**gates.json could not be read**"), "{md}");
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

#[test]
fn compare_with_itself_is_one_everywhere() {
    let run = load();
    let c = compare(&run.summary, &run.summary, 0.10);
    let comparable: Vec<_> = c.rows.iter().filter(|r| r.bw.is_some()).collect();
    assert_eq!(comparable.len(), 11);
    for row in &comparable {
        for m in [row.bw, row.p50, row.p99].into_iter().flatten() {
            assert_eq!(m.ratio, 1.0, "{}", row.name);
        }
        assert_eq!(row.verdict, Verdict::Same);
    }
    assert_eq!(
        c.count(Verdict::NotComparable),
        5,
        "the failed and the skipped cells"
    );
    let md = c.markdown();
    for line in md
        .lines()
        .filter(|l| l.starts_with("| smoke/") && !l.contains("n/a"))
    {
        let ratios: Vec<&str> = line
            .split('|')
            .map(str::trim)
            .filter(|c| {
                c.starts_with(|ch: char| ch.is_ascii_digit()) && c.len() == 4 && c.contains('.')
            })
            .collect();
        assert_eq!(ratios, ["1.00", "1.00", "1.00"], "{line}");
        assert!(line.ends_with("| same |"), "{line}");
    }
}

#[test]
fn compare_flags_a_slower_run_and_uses_the_repetitions_spread() {
    let a = load().summary;
    let mut b = a.clone();
    let cell = b
        .cells
        .iter_mut()
        .find(|c| c.name == "smoke/runc/c8/read")
        .unwrap();
    cell.bw_bytes = cell.bw_bytes.map(|bw| bw * 0.5);
    let lat = cell.lat_ns.as_mut().unwrap();
    lat.p99 *= 3;
    let c = compare(&a, &b, 0.10);
    let row = c
        .rows
        .iter()
        .find(|r| r.name == "smoke/runc/c8/read")
        .unwrap();
    assert_eq!(row.verdict, Verdict::Worse);
    assert_eq!(row.bw.unwrap().ratio, 0.5);
    assert_eq!(row.p99.unwrap().ratio, 3.0);
    assert_eq!(row.p50.unwrap().verdict, Verdict::Same);
    assert_eq!(c.count(Verdict::Worse), 1);

    // Two repetitions 60 % apart on both sides: a 50 % drop is within the noise.
    let mut a2 = a.clone();
    for s in [&mut a2, &mut b] {
        let cell = s
            .cells
            .iter_mut()
            .find(|c| c.name == "smoke/runc/c8/read")
            .unwrap();
        let mut r2 = cell.repetitions[0].clone();
        let mean = cell.bw_bytes.unwrap();
        cell.repetitions[0].bw_bytes = mean * 0.7;
        r2.bw_bytes = mean * 1.3;
        cell.repetitions.push(r2);
    }
    let c = compare(&a2, &b, 0.10);
    let row = c
        .rows
        .iter()
        .find(|r| r.name == "smoke/runc/c8/read")
        .unwrap();
    assert_eq!(row.bw.unwrap().verdict, Verdict::Same);
    assert!((row.bw.unwrap().band - 0.6).abs() < 1e-9);
}

#[test]
fn compare_cli_prints_markdown_and_writes_html() {
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("compare.html");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iogate"))
        .args(["compare", "--html"])
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
        md.contains("16 cells: 11 same, 0 better, 0 worse, 0 mixed, 5 n/a."),
        "{md}"
    );
    assert!(md.contains("| smoke/runc/c8/read |"), "{md}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<table class=\"compare\">"));
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
