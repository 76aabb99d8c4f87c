//! The crate's modules depend one way, in pipeline order: no file of `harness/src` imports a
//! file that (directly or through others) imports it back, and no layer imports a layer above it
//! (README, "Architecture").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first; a file may import its own layer or any layer below it.
const LAYERS: &[&[&str]] = &[
    &["error", "units", "stats", "settings"],
    &["spec"],
    &["fio", "sys"],
    &["fixture"],
    &["run", "history"],
    &["judge"],
    &["report"],
    &["harness"],
    &["lib", "bin"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module path of a source file: `src/spec/cell.rs` → `spec::cell`, `src/spec/mod.rs` → `spec`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Code without comments, string literals and `#[cfg(test)]` modules (tests may reach anywhere
/// in their own file's module, and do not make layers depend on each other).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Every module path a file names: `crate::a::b::{c, d::e}`, `super::x`, `self::y`.
fn referenced(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let (base, skip): (Vec<String>, usize) = if rest.starts_with("crate::") {
            (Vec::new(), 7)
        } else if rest.starts_with("super::") {
            let mut b = module.to_vec();
            b.pop();
            (b, 7)
        } else if rest.starts_with("self::") {
            (module.to_vec(), 6)
        } else {
            i += 1;
            continue;
        };
        if i > 0 && ident(bytes[i - 1]) {
            i += 1;
            continue;
        }
        i += skip;
        let mut paths = vec![base];
        let mut segment = String::new();
        while i < bytes.len() {
            let c = bytes[i];
            if ident(c) {
                segment.push(char::from(c));
                i += 1;
            } else if code[i..].starts_with("::{") || (segment.is_empty() && c == b'{') {
                let open = if c == b'{' { i + 1 } else { i + 3 };
                let close = code[i..].find('}').map_or(bytes.len(), |n| i + n);
                for item in code[open..close].split(',') {
                    let first = item.trim().split("::").next().unwrap_or_default().trim();
                    if !first.is_empty() {
                        let mut p = paths[0].clone();
                        if !segment.is_empty() {
                            p.push(segment.clone());
                        }
                        p.push(first.to_owned());
                        found.push(p);
                    }
                }
                segment.clear();
                paths.clear();
                i = close;
                break;
            } else if code[i..].starts_with("::") {
                paths[0].push(std::mem::take(&mut segment));
                i += 2;
            } else {
                break;
            }
        }
        if let Some(mut p) = paths.pop() {
            if !segment.is_empty() {
                p.push(segment);
            }
            found.push(p);
        }
    }
    found
}

/// The longest prefix of `path` that is a source file's module.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

fn layer(module: &[String]) -> usize {
    let top = module.first().map_or("lib", String::as_str);
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| panic!("module `{top}` is in no layer of tests/architecture.rs"))
}

/// Import edges between source files, by module path.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut modules: BTreeSet<Vec<String>> = all.iter().map(|f| module_of(f)).collect();
    modules.insert(Vec::new());
    let mut edges = BTreeMap::new();
    for file in &all {
        let module = module_of(file);
        let text = std::fs::read_to_string(file).expect("readable source");
        let mut to = BTreeSet::new();
        for path in referenced(&module, &code_of(&text)) {
            if let Some(target) = resolve(&path, &modules)
                && target != module
                && !target.is_empty()
            {
                to.insert(target);
            }
        }
        edges.insert(module, to);
    }
    edges
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let edges = graph();
    let mut cycles = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            // Is `from` reachable from `to`?
            let mut seen = BTreeSet::new();
            let mut stack = vec![(to.clone(), vec![name(to)])];
            while let Some((m, trail)) = stack.pop() {
                if &m == from {
                    cycles.push(format!("{} → {}", name(from), trail.join(" → ")));
                    break;
                }
                if !seen.insert(m.clone()) {
                    continue;
                }
                for next in edges.get(&m).into_iter().flatten() {
                    let mut t = trail.clone();
                    t.push(name(next));
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn layers_import_only_layers_below() {
    let mut upward = Vec::new();
    for (from, tos) in graph() {
        for to in tos {
            if layer(&to) > layer(&from) {
                upward.push(format!("{} imports {}", name(&from), name(&to)));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the pipeline order:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    let module = vec!["judge".to_owned(), "gate".to_owned()];
    let code = "use crate::run::{CellRecord, Status};\nuse crate::spec::{cell::Cell, GateSpec};\nuse super::{gate::G, verdict::V};\nfn f() { crate::stats::mean(x); super::verdict::v(); }";
    let found = referenced(&module, code);
    let s = |p: &[&str]| p.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(found.contains(&s(&["run", "CellRecord"])), "{found:?}");
    assert!(found.contains(&s(&["spec", "cell"])), "{found:?}");
    assert!(found.contains(&s(&["stats", "mean"])), "{found:?}");
    assert!(found.contains(&s(&["judge", "verdict", "v"])), "{found:?}");
    assert!(found.contains(&s(&["judge", "gate"])), "{found:?}");
    assert!(
        !found.contains(&s(&["judge"])),
        "a group after super:: is not mod.rs: {found:?}"
    );
}
