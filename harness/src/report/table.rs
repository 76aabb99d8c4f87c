//! A small table model rendered both as GitHub markdown and as HTML, so `report.md` and
//! `report.html` show the same cells.

use std::fmt::Write as _;

/// How a table cell reads: decides alignment in markdown and the CSS class in HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Plain text, left-aligned.
    Text,
    /// A number, right-aligned.
    Number,
    /// A cell that failed: no number.
    Failed,
    /// A cell that was skipped: no number.
    Skipped,
    /// No such cell in the run.
    Absent,
    /// A good verdict (gate passed, faster).
    Good,
    /// A bad verdict (gate failed, slower).
    Bad,
    /// A verdict that is neither: inconclusive.
    Warn,
}

impl Kind {
    fn class(self) -> Option<&'static str> {
        match self {
            Kind::Text => None,
            Kind::Number => Some("num"),
            Kind::Failed => Some("failed"),
            Kind::Skipped => Some("skipped"),
            Kind::Absent => Some("absent"),
            Kind::Good => Some("good"),
            Kind::Bad => Some("bad"),
            Kind::Warn => Some("warn"),
        }
    }
}

/// One table cell: its text, how it reads and an optional footnote number.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub text: String,
    pub kind: Kind,
    pub note: Option<usize>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            kind: Kind::Text,
            note: None,
        }
    }

    pub fn number(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            kind: Kind::Number,
            note: None,
        }
    }

    pub fn with(text: impl Into<String>, kind: Kind) -> Cell {
        Cell {
            text: text.into(),
            kind,
            note: None,
        }
    }

    /// The cell as markdown (no surrounding pipes).
    pub fn markdown(&self) -> String {
        let text = md_escape(&self.text);
        let text = match self.kind {
            Kind::Failed | Kind::Bad => format!("**{text}**"),
            Kind::Skipped => format!("_{text}_"),
            Kind::Warn => format!("⚠ {text}"),
            _ => text,
        };
        match self.note {
            Some(n) => format!("{text} [{n}]"),
            None => text,
        }
    }

    /// The cell's content as HTML (no `<td>`).
    pub fn html(&self) -> String {
        let mut out = html_escape(&self.text);
        if let Some(n) = self.note {
            let _ = write!(out, " <a href=\"#note-{n}\">[{n}]</a>");
        }
        out
    }
}

/// A table with one header row (and, in HTML, an optional grouping row above it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    /// Groups over the header columns: `(label, span)`; rendered in HTML only.
    pub groups: Vec<(String, usize)>,
    pub head: Vec<String>,
    /// Shorter column labels for HTML, under `groups` (empty: `head`).
    pub html_head: Vec<String>,
    /// Per column: right-aligned.
    pub right: Vec<bool>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// GitHub-flavoured markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("|");
        for h in &self.head {
            let _ = write!(out, " {} |", md_escape(h));
        }
        out.push_str("\n|");
        for (i, _) in self.head.iter().enumerate() {
            out.push_str(if self.right.get(i).copied().unwrap_or(false) {
                "---:|"
            } else {
                "---|"
            });
        }
        out.push('\n');
        for row in &self.rows {
            out.push('|');
            for cell in row {
                let _ = write!(out, " {} |", cell.markdown());
            }
            out.push('\n');
        }
        out
    }

    /// An HTML `<table>`.
    pub fn html(&self, class: &str) -> String {
        let mut out = format!("<table class=\"{class}\">\n<thead>\n");
        if !self.groups.is_empty() {
            out.push_str("<tr>");
            for (label, span) in &self.groups {
                let _ = write!(out, "<th colspan=\"{span}\">{}</th>", html_escape(label));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("<tr>");
        let head = if self.html_head.is_empty() {
            &self.head
        } else {
            &self.html_head
        };
        for (i, h) in head.iter().enumerate() {
            let class = if self.right.get(i).copied().unwrap_or(false) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<th{class}>{}</th>", html_escape(h));
        }
        out.push_str("</tr>\n</thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let mut classes: Vec<&str> = Vec::new();
                if self.right.get(i).copied().unwrap_or(false) {
                    classes.push("num");
                }
                if let Some(c) = cell.kind.class().filter(|c| *c != "num") {
                    classes.push(c);
                }
                if classes.is_empty() {
                    let _ = write!(out, "<td>{}</td>", cell.html());
                } else {
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{}</td>",
                        classes.join(" "),
                        cell.html()
                    );
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// Text safe inside a markdown table cell: no pipes, no line breaks.
pub(crate) fn md_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Text safe inside HTML or SVG (element content and quoted attributes).
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes_and_newlines() {
        let t = Table {
            head: vec!["a".into(), "b".into()],
            right: vec![false, true],
            rows: vec![vec![Cell::text("x|y\nz"), Cell::number("1.0")]],
            ..Table::default()
        };
        assert_eq!(t.markdown(), "| a | b |\n|---|---:|\n| x\\|y z | 1.0 |\n");
    }

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
