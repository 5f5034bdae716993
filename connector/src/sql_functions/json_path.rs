//! The JSONPath subset Trino's `json_extract` family accepts: `$`,
//! `.key`, `["key"]` (or single quotes) and `[n]`.
//!
//! Parsing is separate from lookup so that a constant path, the usual
//! case, is parsed once per batch rather than once per row.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// Parses `path`; the error names the offending position, since a path
/// that does not parse is a mistake in the query, not in the data.
pub(crate) fn parse(path: &str) -> Result<Vec<Step>, String> {
    let invalid = |at: usize, why: &str| Err(format!("invalid JSON path {path:?} at {at}: {why}"));
    let bytes = path.as_bytes();
    let mut at = match path.trim_start().strip_prefix('$') {
        Some(_) => path.len() - path.trim_start().len() + 1,
        None => return invalid(0, "must start with $"),
    };
    let mut steps = Vec::new();
    while at < bytes.len() {
        match bytes[at] {
            b'.' => {
                let start = at + 1;
                let end = path[start..]
                    .find(['.', '['])
                    .map_or(path.len(), |n| start + n);
                let key = path[start..end].trim_end();
                if key.is_empty() {
                    return invalid(at, "empty key");
                }
                steps.push(Step::Key(key.to_string()));
                at = end;
            }
            b'[' => {
                let start = at + 1;
                match bytes.get(start) {
                    Some(&quote @ (b'"' | b'\'')) => {
                        let Some(len) = path[start + 1..].find(quote as char) else {
                            return invalid(at, "unterminated quoted key");
                        };
                        let close = start + 1 + len;
                        if bytes.get(close + 1) != Some(&b']') {
                            return invalid(close, "expected ] after quoted key");
                        }
                        steps.push(Step::Key(path[start + 1..close].to_string()));
                        at = close + 2;
                    }
                    _ => {
                        let Some(len) = path[start..].find(']') else {
                            return invalid(at, "unterminated [");
                        };
                        let Ok(index) = path[start..start + len].trim().parse::<usize>() else {
                            return invalid(at, "expected an index or a quoted key");
                        };
                        steps.push(Step::Index(index));
                        at = start + len + 1;
                    }
                }
            }
            b' ' => at += 1,
            _ => return invalid(at, "expected . or ["),
        }
    }
    Ok(steps)
}

/// The value at `steps` below `root`, or None where a key or index is
/// missing or the shape differs (an index into an object, say).
pub(crate) fn lookup<'a>(root: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.as_object()?.get(key),
        Step::Index(index) => value.as_array()?.get(*index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_trino_subset() {
        let k = |s: &str| Step::Key(s.to_string());
        let cases: &[(&str, Vec<Step>)] = &[
            ("$", vec![]),
            ("$.a", vec![k("a")]),
            ("$.a.b[0]", vec![k("a"), k("b"), Step::Index(0)]),
            ("$[\"x.y\"]", vec![k("x.y")]),
            ("$['AWS:Item'].c", vec![k("AWS:Item"), k("c")]),
            (
                "$.items[12].key",
                vec![k("items"), Step::Index(12), k("key")],
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(&parse(path).unwrap(), expected, "{path}");
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for path in ["", "a.b", "$.", "$[", "$[x]", "$[\"a\"", "$.a[-1]", "$a"] {
            assert!(parse(path).is_err(), "{path} should not parse");
        }
    }

    #[test]
    fn looks_up_values() {
        let doc = json!({"a": {"b": [10, {"c": "d"}]}, "n": null});
        let cases: &[(&str, Option<Value>)] = &[
            ("$", Some(doc.clone())),
            ("$.a.b[0]", Some(json!(10))),
            ("$.a.b[1].c", Some(json!("d"))),
            ("$.a.b[2]", None),
            ("$.a.x", None),
            ("$.a[0]", None),
            ("$.n", Some(Value::Null)),
        ];
        for (path, expected) in cases {
            let steps = parse(path).unwrap();
            assert_eq!(lookup(&doc, &steps).cloned(), *expected, "{path}");
        }
    }
}
