//! The study's figures as hand-written SVG (no scripts, no external resources): aggregate
//! bandwidth as grouped bars, and commit-latency CDFs on a logarithmic time axis.
//!
//! Both use one colour per runtime (Okabe–Ito, readable with colour-vision deficiencies), in the
//! layout's runtime order, so the same runtime has the same colour in both figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::fio::histogram::Histogram;
use crate::report::table::html_escape as esc;
use crate::report::view::View;
use crate::run::{CellRecord, Status};
use crate::units::{MIB, fmt_us};

/// Width of every figure, in SVG user units (CSS px at scale 1).
pub const WIDTH: f64 = 1000.0;

const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
];
const INK: &str = "#222";
const MUTED: &str = "#555";
const GRID: &str = "#e2e2e2";
const FAILED: &str = "#b00020";
const SKIPPED: &str = "#777";

/// The colour of the `i`-th runtime.
pub fn runtime_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Size, `text-anchor` and colour of a text.
#[derive(Debug, Clone, Copy)]
struct Font(f64, &'static str, &'static str);

/// An SVG document being written.
struct Svg(String);

impl Svg {
    fn new(width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             width=\"{width:.0}\" height=\"{height:.0}\" font-family=\"{FONT}\" role=\"img\">"
        );
        let _ = writeln!(
            s,
            "<title>{}</title>\n<desc>{}</desc>",
            esc(title),
            esc(desc)
        );
        let _ = writeln!(
            s,
            "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#fff\"/>"
        );
        Svg(s)
    }

    fn text(&mut self, x: f64, y: f64, font: Font, extra: &str, text: &str) {
        let Font(size, anchor, fill) = font;
        let _ = writeln!(
            self.0,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" fill=\"{fill}\"{extra}>{}</text>",
            esc(text)
        );
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = writeln!(
            self.0,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\"{extra}/>"
        );
    }

    /// A legend row of runtimes, centred at `y`: boxes (`bars`) or line swatches.
    fn legend(&mut self, runtimes: &[String], y: f64, bars: bool) {
        let widths: Vec<f64> = runtimes
            .iter()
            .map(|r| 34.0 + 7.5 * r.chars().count() as f64)
            .collect();
        let total: f64 = widths.iter().sum();
        let mut x = (WIDTH - total) / 2.0;
        self.0.push_str("<g class=\"legend\">\n");
        for (i, (r, w)) in runtimes.iter().zip(&widths).enumerate() {
            let c = runtime_color(i);
            if bars {
                let _ = writeln!(
                    self.0,
                    "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" fill=\"{c}\"/>",
                    y - 7.0
                );
            } else {
                self.line(x, y, x + 18.0, y, c, " stroke-width=\"3\"");
            }
            self.text(x + 22.0, y + 4.5, Font(13.0, "start", INK), "", r);
            x += w;
        }
        self.0.push_str("</g>\n");
    }

    fn finish(mut self) -> String {
        self.0.push_str("</svg>\n");
        self.0
    }
}

/// `(top of the axis, tick step)` for values up to `max`: steps of 1, 2, 2.5 or 5 × 10^k, about
/// five ticks.
fn nice_scale(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// A number with as many decimals as its size needs (bar labels, axis ticks).
fn short(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn clients_label(c: u32) -> String {
    if c == 1 {
        "1 client".into()
    } else {
        format!("{c} clients")
    }
}

/// Status text for a cell without numbers, with its footnote, and its colour.
fn missing_label(view: &View<'_>, cell: &CellRecord) -> (String, &'static str) {
    let (word, color) = match cell.status {
        Status::Skipped => ("skipped", SKIPPED),
        _ => ("FAILED", FAILED),
    };
    match view.note(cell) {
        Some(n) => (format!("{word} [{n}]"), color),
        None => (word.into(), color),
    }
}

/// Aggregate bandwidth as grouped bars: one panel per pattern (each with its own MiB/s axis),
/// groups by client count, one bar per runtime; whiskers span the repetitions when there are
/// several. Failed and skipped cells get a label instead of a bar.
pub fn bandwidth(view: &View<'_>) -> String {
    let l = &view.layout;
    let cols = l.patterns.len().clamp(1, 2);
    let rows = l.patterns.len().div_ceil(cols).max(1);
    let (top, ph) = (70.0, 300.0);
    let pw = (WIDTH - 20.0) / cols as f64;
    let height = top + rows as f64 * ph + 8.0;
    let mut s = Svg::new(
        WIDTH,
        height,
        &format!("{}: aggregate bandwidth", view.summary.matrix),
        "Grouped bars: aggregate bandwidth in MiB/s over all clients, one panel per access pattern, \
         groups by number of clients, one bar per runtime.",
    );
    s.text(
        WIDTH / 2.0,
        26.0,
        Font(17.0, "middle", INK),
        " font-weight=\"600\"",
        "Aggregate bandwidth, all clients (MiB/s)",
    );
    s.legend(&l.runtimes, 50.0, true);

    for (i, pattern) in l.patterns.iter().enumerate() {
        let ox = 10.0 + (i % cols) as f64 * pw;
        let oy = top + (i / cols) as f64 * ph;
        let (x0, x1, y0, y1) = (ox + 72.0, ox + pw - 14.0, oy + 30.0, oy + ph - 54.0);
        let _ = writeln!(
            s.0,
            "<g class=\"panel\" data-pattern=\"{}\">",
            pattern.as_str()
        );
        s.text(
            (x0 + x1) / 2.0,
            oy + 16.0,
            Font(14.0, "middle", INK),
            " font-weight=\"600\"",
            pattern.label(),
        );

        // (cell, mean MiB/s, min, max) per (clients, runtime).
        let mut ymax: f64 = 0.0;
        for c in &l.clients {
            for r in &l.runtimes {
                if let Some(cell) = view
                    .cell(*pattern, r, *c)
                    .filter(|c| c.status == Status::Passed)
                {
                    ymax = ymax.max(cell.bw_bytes.unwrap_or(0.0) / MIB);
                    for rep in &cell.repetitions {
                        ymax = ymax.max(rep.bw_bytes / MIB);
                    }
                }
            }
        }
        let (top_v, step) = nice_scale(ymax * 1.08);
        let y_of = |v: f64| y1 - v / top_v * (y1 - y0);
        let mut v = 0.0;
        while v <= top_v + step / 2.0 {
            let y = y_of(v);
            s.line(x0, y, x1, y, GRID, "");
            s.text(x0 - 6.0, y + 4.0, Font(11.0, "end", MUTED), "", &short(v));
            v += step;
        }
        s.line(x0, y1, x1, y1, "#888", "");
        s.line(x0, y0, x0, y1, "#888", "");
        let (lx, ly) = (ox + 16.0, (y0 + y1) / 2.0);
        s.text(
            lx,
            ly,
            Font(12.0, "middle", MUTED),
            &format!(" transform=\"rotate(-90 {lx:.1} {ly:.1})\""),
            "MiB/s",
        );
        s.text(
            (x0 + x1) / 2.0,
            y1 + 40.0,
            Font(12.0, "middle", MUTED),
            "",
            "number of clients",
        );

        let nc = l.clients.len().max(1) as f64;
        let nr = l.runtimes.len().max(1) as f64;
        let gw = (x1 - x0) / nc;
        let slot = gw * 0.8 / nr;
        for (g, c) in l.clients.iter().enumerate() {
            let gx = x0 + g as f64 * gw;
            s.text(
                gx + gw / 2.0,
                y1 + 18.0,
                Font(12.0, "middle", INK),
                "",
                &clients_label(*c),
            );
            for (ri, r) in l.runtimes.iter().enumerate() {
                let bx = gx + gw * 0.1 + ri as f64 * slot + slot * 0.08;
                let bw = slot * 0.84;
                let cx = bx + bw / 2.0;
                let Some(cell) = view.cell(*pattern, r, *c) else {
                    continue;
                };
                match cell.bw_bytes.filter(|_| cell.status == Status::Passed) {
                    Some(bytes) => {
                        let mib = bytes / MIB;
                        let y = y_of(mib);
                        let _ = writeln!(
                            s.0,
                            "<rect class=\"bar\" x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {:.1} MiB/s</title></rect>",
                            (y1 - y).max(0.0),
                            runtime_color(ri),
                            esc(&cell.name),
                            mib
                        );
                        let mut label_y = y - 4.0;
                        if cell.repetitions.len() > 1 {
                            let lo = cell
                                .repetitions
                                .iter()
                                .map(|r| r.bw_bytes)
                                .fold(f64::INFINITY, f64::min)
                                / MIB;
                            let hi = cell
                                .repetitions
                                .iter()
                                .map(|r| r.bw_bytes)
                                .fold(0.0, f64::max)
                                / MIB;
                            let (ylo, yhi) = (y_of(lo), y_of(hi));
                            let w = " stroke-width=\"1.2\"";
                            s.line(cx, ylo, cx, yhi, INK, w);
                            s.line(cx - 4.0, yhi, cx + 4.0, yhi, INK, w);
                            s.line(cx - 4.0, ylo, cx + 4.0, ylo, INK, w);
                            label_y = label_y.min(yhi - 4.0);
                        }
                        s.text(cx, label_y, Font(10.0, "middle", INK), "", &short(mib));
                    }
                    None => {
                        let (label, color) = missing_label(view, cell);
                        let (tx, ty) = (cx + 3.5, y1 - 6.0);
                        s.text(
                            tx,
                            ty,
                            Font(10.0, "start", color),
                            &format!(
                                " class=\"missing\" transform=\"rotate(-90 {tx:.1} {ty:.1})\""
                            ),
                            &label,
                        );
                    }
                }
            }
        }
        s.0.push_str("</g>\n");
    }
    s.finish()
}

/// A latency tick label: `100 ns`, `1 µs`, `10 ms`, `1 s`.
fn time_label(us_log10: i32) -> String {
    let ns_log10 = us_log10 + 3;
    let (unit, base) = match ns_log10 {
        i32::MIN..=2 => ("ns", 0),
        3..=5 => ("µs", 3),
        6..=8 => ("ms", 6),
        _ => ("s", 9),
    };
    let value = 10f64.powi(ns_log10 - base);
    if value < 1.0 {
        format!("{} {unit}", short(value))
    } else {
        format!("{value:.0} {unit}")
    }
}

/// Commit-latency CDFs on a logarithmic time axis: one panel per pattern (rows) × client count
/// (columns), one step curve per runtime, all panels on the same time axis. Cells without a curve
/// are named in the panel.
pub fn latency_cdf(view: &View<'_>, histograms: &BTreeMap<String, Histogram>) -> String {
    let l = &view.layout;
    let cols = l.clients.len().max(1);
    let rows = l.patterns.len().max(1);
    let (top, left, ph, bottom) = (70.0, 40.0, 220.0, 40.0);
    let pw = (WIDTH - left - 8.0) / cols as f64;
    let height = top + rows as f64 * ph + bottom;
    let mut s = Svg::new(
        WIDTH,
        height,
        &format!("{}: commit latency CDF", view.summary.matrix),
        "Cumulative distribution of completion latency on a logarithmic time axis, one panel per \
         access pattern and number of clients, one curve per runtime.",
    );
    s.text(
        WIDTH / 2.0,
        26.0,
        Font(17.0, "middle", INK),
        " font-weight=\"600\"",
        "Commit latency CDF (completion latency, log scale)",
    );
    s.legend(&l.runtimes, 50.0, false);

    // One time axis for every panel: whole decades from the fastest bucket of any curve to the
    // slowest p99 of any curve. Above p99 a curve is within 1 % of the panel's top, so nothing
    // visible is lost; the rare slower I/Os (page-cache writeback stalls reach seconds) would
    // squeeze every curve into the left of the panel: they are cut, and the caption says so.
    let mut lo_ns = u64::MAX;
    let mut p99_ns = 0u64;
    let mut slowest: Option<(u64, &str)> = None;
    for cell in &view.summary.cells {
        let Some(h) = histograms.get(&cell.name) else {
            continue;
        };
        if let (Some((first, _)), Some((last, _)), Some(p)) =
            (h.iter().next(), h.iter().last(), h.percentile(99.0))
        {
            lo_ns = lo_ns.min(first.max(1));
            p99_ns = p99_ns.max(p);
            if slowest.is_none_or(|(ns, _)| last > ns) {
                slowest = Some((last, cell.name.as_str()));
            }
        }
    }
    let (lo, hi) = if p99_ns == 0 {
        (0, 3)
    } else {
        let lo = (lo_ns as f64 / 1000.0).log10().floor() as i32;
        let hi = (p99_ns as f64 / 1000.0).log10().ceil() as i32;
        (lo, hi.max(lo + 1))
    };
    let x_max_ns = 10f64.powi(hi + 3);
    let decades = f64::from(hi - lo);

    for (pi, pattern) in l.patterns.iter().enumerate() {
        for (ci, c) in l.clients.iter().enumerate() {
            let ox = left + ci as f64 * pw;
            let oy = top + pi as f64 * ph;
            let (x0, x1, y0, y1) = (ox + 40.0, ox + pw - 12.0, oy + 28.0, oy + ph - 36.0);
            let x_of = |ns: f64| {
                x0 + ((ns / 1000.0).max(1e-9).log10() - f64::from(lo)) / decades * (x1 - x0)
            };
            let y_of = |f: f64| y1 - f * (y1 - y0);
            let _ = writeln!(
                s.0,
                "<g class=\"panel\" data-pattern=\"{}\" data-clients=\"{c}\">",
                pattern.as_str()
            );
            s.text(
                x0,
                oy + 16.0,
                Font(13.0, "start", INK),
                " font-weight=\"600\"",
                &format!("{} · {}", pattern.label(), clients_label(*c)),
            );

            // Grid: decades (labelled), 2..9 within each, and the CDF quarters.
            let every = if (x1 - x0) / decades < 48.0 { 2 } else { 1 };
            for d in lo..=hi {
                let x = x_of(10f64.powi(d + 3));
                s.line(x, y0, x, y1, "#d4d4d4", "");
                if (d - lo) % every == 0 {
                    s.text(
                        x,
                        y1 + 15.0,
                        Font(10.5, "middle", MUTED),
                        "",
                        &time_label(d),
                    );
                }
                if d < hi {
                    for m in 2..=9 {
                        let x = x_of(f64::from(m) * 10f64.powi(d + 3));
                        s.line(x, y0, x, y1, "#f0f0f0", "");
                    }
                }
            }
            for q in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let y = y_of(q);
                s.line(x0, y, x1, y, GRID, "");
                s.text(
                    x0 - 5.0,
                    y + 3.5,
                    Font(10.5, "end", MUTED),
                    "",
                    &format!("{q}"),
                );
            }
            let y99 = y_of(0.99);
            s.line(x0, y99, x1, y99, "#999", " stroke-dasharray=\"4 3\"");
            s.text(x0 + 3.0, y99 - 3.0, Font(9.5, "start", MUTED), "", "p99");
            s.text(
                x0 + 3.0,
                y_of(0.5) - 3.0,
                Font(9.5, "start", MUTED),
                "",
                "p50",
            );
            s.line(x0, y1, x1, y1, "#888", "");
            s.line(x0, y0, x0, y1, "#888", "");

            let mut notes: Vec<(String, &str)> = Vec::new();
            for (ri, r) in l.runtimes.iter().enumerate() {
                let Some(cell) = view.cell(*pattern, r, *c) else {
                    continue;
                };
                let hist = histograms
                    .get(&cell.name)
                    .filter(|_| cell.status == Status::Passed);
                let Some(hist) = hist.filter(|h| !h.is_empty()) else {
                    let (label, color) = if cell.status == Status::Passed {
                        ("no histogram".to_owned(), SKIPPED)
                    } else {
                        missing_label(view, cell)
                    };
                    notes.push((format!("{r}: {label}"), color));
                    continue;
                };
                let mut d = format!("M{x0:.1},{y1:.1}");
                let mut px = x0;
                let mut pending: Option<f64> = None;
                for (ns, f) in hist.cdf() {
                    if ns as f64 > x_max_ns {
                        break;
                    }
                    let x = x_of(ns as f64);
                    if x - px >= 0.4 {
                        if let Some(py) = pending.take() {
                            let _ = write!(d, "V{py:.1}");
                        }
                        let _ = write!(d, "H{x:.1}");
                        px = x;
                    }
                    pending = Some(y_of(f));
                }
                if let Some(py) = pending {
                    let _ = write!(d, "V{py:.1}");
                }
                let _ = write!(d, "H{x1:.1}");
                let title = match cell.lat_ns {
                    Some(lat) => format!(
                        "{}: p50 {} µs, p99 {} µs",
                        cell.name,
                        fmt_us(lat.p50),
                        fmt_us(lat.p99)
                    ),
                    None => cell.name.clone(),
                };
                let _ = writeln!(
                    s.0,
                    "<path class=\"cdf\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linejoin=\"round\"><title>{}</title></path>",
                    runtime_color(ri),
                    esc(&title)
                );
            }
            for (k, (note, color)) in notes.iter().enumerate() {
                s.text(
                    x1 - 4.0,
                    y1 - 8.0 - 13.0 * k as f64,
                    Font(10.5, "end", color),
                    " class=\"missing\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"",
                    note,
                );
            }
            s.0.push_str("</g>\n");
        }
    }
    let (lx, ly) = (14.0, top + rows as f64 * ph / 2.0);
    s.text(
        lx,
        ly,
        Font(12.0, "middle", MUTED),
        &format!(" transform=\"rotate(-90 {lx:.1} {ly:.1})\""),
        "cumulative fraction of I/Os",
    );
    let mut caption = "completion latency (log scale; µs = microseconds)".to_owned();
    if let Some((ns, name)) = slowest.filter(|(ns, _)| *ns as f64 > x_max_ns) {
        let _ = write!(
            caption,
            "; axis cut at {}, above every p99: slowest I/O {} ({name})",
            time_label(hi),
            fmt_ns(ns)
        );
    }
    s.text(
        left + (WIDTH - left) / 2.0,
        height - 12.0,
        Font(12.0, "middle", MUTED),
        "",
        &caption,
    );
    s.finish()
}

/// A latency with its unit: `850 ns`, `12.3 µs`, `4.1 ms`, `2.05 s`.
fn fmt_ns(ns: u64) -> String {
    let v = ns as f64;
    let (value, unit) = if v < 1e3 {
        (v, "ns")
    } else if v < 1e6 {
        (v / 1e3, "µs")
    } else if v < 1e9 {
        (v / 1e6, "ms")
    } else {
        (v / 1e9, "s")
    };
    format!("{} {unit}", short(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scales() {
        assert_eq!(nice_scale(6341.0), (8000.0, 2000.0));
        assert_eq!(nice_scale(9.0), (10.0, 2.0));
        assert_eq!(nice_scale(0.0), (1.0, 0.2));
        assert_eq!(nice_scale(120.0), (125.0, 25.0));
    }

    #[test]
    fn time_labels() {
        assert_eq!(time_label(-1), "100 ns");
        assert_eq!(time_label(0), "1 µs");
        assert_eq!(time_label(2), "100 µs");
        assert_eq!(time_label(3), "1 ms");
        assert_eq!(time_label(6), "1 s");
        assert_eq!(time_label(-3), "1 ns");
        assert_eq!(fmt_ns(850), "850 ns");
        assert_eq!(fmt_ns(2_050_000_000), "2.05 s");
        assert_eq!(fmt_ns(12_345), "12.3 µs");
    }
}
