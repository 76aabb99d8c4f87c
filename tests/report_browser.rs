//! The HTML report in a real browser: `report.html` is generated from the committed sample run
//! (`harness/tests/fixtures/run-sample`), opened in headless Chromium, and checked twice: the DOM
//! Chromium built holds both figures with their bars and curves, and the screenshot it painted is
//! not blank (each runtime's colour is on it).
//!
//! Needs Chromium (`apt-get install chromium`) or Chrome; `$IOGATE_CHROMIUM` names another binary.
//! Without one the test fails: it does not pass silently. The page and the screenshot stay under
//! `target/tmp/report-browser/` for a look.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Flags for headless Chromium as root on a machine without network or display.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// The runtime colours of the figures (host, runc, gvisor: the sample's measured runtimes).
const RUNTIME_COLORS: [(&str, [u8; 3]); 3] = [
    ("host", [0x00, 0x72, 0xB2]),
    ("runc", [0xE6, 0x9F, 0x00]),
    ("gvisor", [0x00, 0x9E, 0x73]),
];

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("IOGATE_CHROMIUM") {
        return PathBuf::from(path);
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is needed to check the HTML report and none was found (looked for \
         $IOGATE_CHROMIUM, {} on PATH): apt-get install chromium",
        names.join(", ")
    );
}

/// A fresh working directory for one test under cargo's target tmp dir.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report-browser")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

/// The sample run with its report written into `dir/run`; returns the page.
fn sample_report(dir: &Path) -> PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/tests/fixtures/run-sample");
    let run = dir.join("run");
    copy_dir(&sample, &run);
    let written = iogate::report::write(&run).expect("report written");
    written.html
}

/// Runs Chromium with `args` (plus the headless flags and a new empty profile) and returns its
/// stdout; fails the test if it does not finish within a minute or exits non-zero.
fn run_chromium(dir: &Path, profile: &str, args: &[String]) -> String {
    let profile = dir.join(profile);
    std::fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new(chromium())
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}: apt-get install chromium",
                chromium().display()
            )
        });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish within 60 s: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "Chromium failed ({status}):\n{err}");
    out
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

#[test]
fn report_figures_are_in_the_dom_chromium_builds() {
    let dir = workdir("dom");
    let page = sample_report(&dir);
    let dom = run_chromium(&dir, "profile", &["--dump-dom".into(), file_url(&page)]);
    std::fs::write(dir.join("dom.html"), &dom).unwrap();

    assert!(
        dom.contains("<h1>iogate report"),
        "no report in the DOM:\n{dom:.2000}"
    );
    assert_eq!(dom.matches("<svg").count(), 2, "two inline figures");
    // The sample: 11 measured cells, one FAILED, four skipped.
    assert_eq!(
        dom.matches("<rect class=\"bar\"").count(),
        11,
        "one bar per measured cell"
    );
    assert_eq!(
        dom.matches("<path class=\"cdf\"").count(),
        11,
        "one CDF curve per measured cell"
    );
    assert!(
        dom.contains("FAILED [2]"),
        "the failed cell is labelled in the figures"
    );
    assert!(
        dom.contains("skipped [1]"),
        "the skipped cells are labelled in the figures"
    );
    for section in [
        "Aggregate bandwidth",
        "Commit latency",
        "What these numbers measure",
        "Environment",
    ] {
        assert!(dom.contains(section), "section {section:?} missing");
    }
}

#[test]
fn report_screenshot_is_not_blank() {
    let dir = workdir("screenshot");
    let page = sample_report(&dir);
    let shot = dir.join("report.png");
    run_chromium(
        &dir,
        "profile",
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000".into(),
            file_url(&page),
        ],
    );

    let file = std::fs::File::open(&shot).unwrap();
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000), "the window size");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();

    let total = pixels.len() as f64;
    let non_white = pixels.iter().filter(|p| p.iter().any(|c| *c < 235)).count() as f64;
    let luma: Vec<f64> = pixels
        .iter()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = luma.iter().sum::<f64>() / total;
    let variance = luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / total;
    let summary = format!(
        "{:.1} % non-white pixels, luma variance {variance:.0} (screenshot: {})",
        100.0 * non_white / total,
        shot.display()
    );
    assert!(
        non_white / total > 0.03,
        "screenshot looks blank: {summary}"
    );
    assert!(variance > 200.0, "screenshot has no contrast: {summary}");

    // The figures were painted: every measured runtime's colour covers a few bars' worth.
    for (runtime, rgb) in RUNTIME_COLORS {
        let n = pixels
            .iter()
            .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 12))
            .count();
        assert!(
            n > 2000,
            "{runtime}'s colour is on {n} pixels only: {summary}"
        );
    }
}
