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
