//! Where in a matrix file a key is, for errors found after parsing (YAML line and column).

/// Line and column of the first `key:` in `text`, for checks that run after parsing.
pub(crate) fn locate_key(text: &str, key: &str) -> (u64, u64) {
    let needle = format!("{key}:");
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        if trimmed.starts_with(&needle) {
            let column = line.len() - trimmed.len() + 1;
            return (i as u64 + 1, column as u64);
        }
    }
    (0, 0)
}

/// serde-saphyr's message without its own `error: line N column M:` prefix (the location is reported separately).
pub(crate) fn yaml_message(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.strip_prefix("error: line ") {
        Some(rest) => rest.split_once(": ").map_or(line, |(_, m)| m).to_owned(),
        None => line.to_owned(),
    }
}

/// Line and column of `key:` inside entry `index` of the top-level `gates:` list, else of the
/// entry, else of `gates:` (block style; flow-style lists point at `gates:`).
pub(crate) fn locate_gate_key(text: &str, index: usize, key: &str) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(start) = lines.iter().position(|l| l.starts_with("gates:")) else {
        return (0, 0);
    };
    let gates_at = (start as u64 + 1, 1);
    let mut items: Vec<usize> = Vec::new();
    let mut item_indent: Option<usize> = None;
    let mut end = lines.len();
    for (n, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = indent(line);
        let is_item = trimmed.starts_with("- ") || trimmed == "-";
        if is_item && item_indent.is_none_or(|i| i == ind) {
            item_indent = Some(ind);
            items.push(n);
        } else if ind == 0 {
            end = n;
            break;
        }
    }
    let Some(&first) = items.get(index) else {
        return gates_at;
    };
    let last = items.get(index + 1).copied().unwrap_or(end);
    for (n, line) in lines.iter().enumerate().take(last).skip(first) {
        let mut from = 0;
        while let Some(pos) = line[from..].find(&format!("{key}:")) {
            let at = from + pos;
            let before = line[..at].chars().last();
            if before.is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-') {
                return (n as u64 + 1, at as u64 + 1);
            }
            from = at + key.len();
        }
    }
    let line = lines[first];
    (first as u64 + 1, indent(line) as u64 + 1)
}

/// Line and column of `key:` inside the entry of `runtimes:` named `runtime` (block or flow
/// style within the entry), else of the entry's `name:`, else of `runtimes:`.
pub(crate) fn locate_runtime_key(text: &str, runtime: &str, key: &str) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(start) = lines.iter().position(|l| l.starts_with("runtimes:")) else {
        return (0, 0);
    };
    let names_it = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        t.strip_prefix("name:")
            .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == runtime)
    };
    let Some(entry) = (start + 1..lines.len()).find(|&n| names_it(lines[n])) else {
        return (start as u64 + 1, 1);
    };
    let item = (0..=entry)
        .rev()
        .find(|&n| lines[n].trim_start().starts_with("- "))
        .unwrap_or(entry);
    let item_indent = indent(lines[item]);
    let end = (item + 1..lines.len())
        .find(|&n| {
            let t = lines[n].trim_start();
            !t.is_empty()
                && !t.starts_with('#')
                && (indent(lines[n]) < item_indent
                    || (indent(lines[n]) == item_indent && t.starts_with("- ")))
        })
        .unwrap_or(lines.len());
    let needle = format!("{key}:");
    for (n, line) in lines.iter().enumerate().take(end).skip(item) {
        let mut from = 0;
        while let Some(pos) = line[from..].find(&needle) {
            let at = from + pos;
            let before = line[..at].chars().last();
            if before.is_none_or(|c| c == ' ' || c == '{' || c == ',') {
                return (n as u64 + 1, at as u64 + 1);
            }
            from = at + needle.len();
        }
    }
    let line = lines[entry];
    (
        entry as u64 + 1,
        (line.find("name:").unwrap_or(indent(line)) + 1) as u64,
    )
}
