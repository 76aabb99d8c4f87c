//! Writing a run's report files, and the GitHub step summary.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::load::Run;
use crate::report::names::{BANDWIDTH_SVG, LATENCY_CDF_SVG, REPORT_HTML, REPORT_MD};
use crate::report::{html, markdown, svg};
use crate::settings::settings;

/// The files [`write`] created.
#[derive(Debug, Clone)]
pub struct Written {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `bandwidth.svg` and `latency-cdf.svg`.
    pub figures: Vec<PathBuf>,
}

/// Reads the run in `dir` and writes its report next to `summary.json`.
pub fn write(dir: &Path) -> Result<Written> {
    let run = Run::load(dir)?;
    let out = run.dir.clone();
    write_to(&run, &out)
}

/// Writes `report.md`, `report.html` and the two SVG figures of `run` into `out`.
pub fn write_to(run: &Run, out: &Path) -> Result<Written> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let put = |name: &str, text: &str| -> Result<PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    };
    let view = run.view();
    let bandwidth = put(BANDWIDTH_SVG, &svg::bandwidth(&view))?;
    let cdf = put(LATENCY_CDF_SVG, &svg::latency_cdf(&view, &run.histograms))?;
    let markdown = put(REPORT_MD, &markdown::render(run, true))?;
    let html = put(REPORT_HTML, &html::render(run))?;
    Ok(Written {
        markdown,
        html,
        figures: vec![bandwidth, cdf],
    })
}

/// Appends `markdown` to the file named by `$GITHUB_STEP_SUMMARY`, if that is set.
/// Returns whether it wrote.
pub fn append_step_summary(markdown: &str) -> Result<bool> {
    let Some(path) = settings().step_summary.clone() else {
        return Ok(false);
    };
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    writeln!(file, "{markdown}").map_err(|e| Error::io(&path, e))?;
    Ok(true)
}
