//! Our model of how CloudWatch evaluates the term and space-delimited
//! filter patterns, for sources that have no server to do it (the demo
//! source) and for the tests of the pattern builders.
//!
//! The model follows CloudWatch's documented behaviour; where the
//! documentation is silent it takes the stricter reading, so that a
//! builder whose patterns pass the tests here does not depend on a lenient
//! guess:
//! - numbers compare as `f64` (a builder must not rely on integers beyond
//!   2^53 comparing exactly);
//! - an `...` stands for one or more fields, never none;
//! - `!=` on a number does not match a field that is not a number;
//! - a field list without `...` matches only events with exactly as many
//!   fields.
//!
//! Patterns outside the modelled forms give `None`: the caller decides
//! (a source keeps the event, which is always safe).

/// Whether `message` matches `pattern`: a space-delimited pattern
/// (`[a, b=1, ...]`) or terms (`ERROR "two words" -DEBUG`, `?A ?"B"`).
/// `None` for anything else (JSON and regex patterns included) and for
/// patterns this model cannot read.
pub(crate) fn matches(pattern: &str, message: &str) -> Option<bool> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Some(true);
    }
    if let Some(inner) = pattern.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        return matches_fields(inner, message);
    }
    if pattern.starts_with(['{', '%']) {
        return None;
    }
    matches_terms(pattern, message)
}

// Terms ---------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum TermKind {
    All,
    Any,
    Not,
}

/// Plain terms must all occur, `?` terms: at least one, `-` terms: none.
/// A term occurs when its text is a case-sensitive substring of the
/// message. Mixing `?` terms with the others is not documented: `None`.
fn matches_terms(pattern: &str, message: &str) -> Option<bool> {
    let terms = split_terms(pattern)?;
    let any: Vec<&str> = terms
        .iter()
        .filter(|(k, _)| *k == TermKind::Any)
        .map(|(_, t)| t.as_str())
        .collect();
    if !any.is_empty() {
        if any.len() != terms.len() {
            return None;
        }
        return Some(any.iter().any(|t| message.contains(t)));
    }
    Some(terms.iter().all(|(kind, t)| match kind {
        TermKind::Not => !message.contains(t.as_str()),
        _ => message.contains(t.as_str()),
    }))
}

/// Splits terms on whitespace outside double quotes; quotes are removed
/// (no escapes inside them: CloudWatch documents none for terms).
fn split_terms(pattern: &str) -> Option<Vec<(TermKind, String)>> {
    let mut terms = Vec::new();
    let mut rest = pattern.trim_start();
    while !rest.is_empty() {
        let (kind, after) = if let Some(r) = rest.strip_prefix('?') {
            (TermKind::Any, r)
        } else if let Some(r) = rest.strip_prefix('-') {
            (TermKind::Not, r)
        } else {
            (TermKind::All, rest)
        };
        let (text, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if text.is_empty() {
            return None;
        }
        terms.push((kind, text.to_string()));
        rest = after.trim_start();
    }
    Some(terms)
}

// Space-delimited -----------------------------------------------------------------------

/// One entry of a field list.
#[derive(Debug)]
enum Entry {
    /// `...`: one or more fields.
    Ellipsis,
    /// A field, with conditions: an OR of ANDs of comparisons (no
    /// conditions: any value).
    Field(Vec<Vec<Comparison>>),
}

#[derive(Debug)]
struct Comparison {
    op: Op,
    value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
enum Value {
    /// A number: compared numerically.
    Number(f64),
    /// Text (quoted, or unquoted and not a number), `*` a wildcard.
    Text(String),
}

fn matches_fields(inner: &str, message: &str) -> Option<bool> {
    let entries = split_top_level(inner, ",")?
        .into_iter()
        .map(|e| parse_entry(e.trim()))
        .collect::<Option<Vec<_>>>()?;
    let fields = message_fields(message);
    Some(match_from(&entries, &fields))
}

/// Fields of an event: separated by whitespace; text between double
/// quotes or square brackets is one field (delimiters removed), as
/// CloudWatch documents for space-delimited events.
pub(crate) fn message_fields(message: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let close = match rest.as_bytes()[0] {
            b'"' => Some('"'),
            b'[' => Some(']'),
            _ => None,
        };
        let (field, after) = match close {
            Some(close) => match rest[1..].find(close) {
                Some(end) => (&rest[1..1 + end], &rest[end + 2..]),
                None => (&rest[1..], ""),
            },
            None => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        fields.push(field);
        rest = after.trim_start();
    }
    fields
}

fn match_from(entries: &[Entry], fields: &[&str]) -> bool {
    match entries.split_first() {
        None => fields.is_empty(),
        Some((Entry::Ellipsis, rest)) => {
            (1..=fields.len()).any(|taken| match_from(rest, &fields[taken..]))
        }
        Some((Entry::Field(conditions), rest)) => match fields.split_first() {
            Some((field, others)) => field_holds(conditions, field) && match_from(rest, others),
            None => false,
        },
    }
}

fn field_holds(conditions: &[Vec<Comparison>], field: &str) -> bool {
    conditions.is_empty()
        || conditions
            .iter()
            .any(|all| all.iter().all(|c| comparison_holds(c, field)))
}

fn comparison_holds(c: &Comparison, field: &str) -> bool {
    match &c.value {
        Value::Number(n) => {
            let Ok(v) = field.parse::<f64>() else {
                return false;
            };
            match c.op {
                Op::Eq => v == *n,
                Op::Ne => v != *n,
                Op::Lt => v < *n,
                Op::Le => v <= *n,
                Op::Gt => v > *n,
                Op::Ge => v >= *n,
            }
        }
        Value::Text(t) => match c.op {
            Op::Eq => wildcard_match(t, field),
            Op::Ne => !wildcard_match(t, field),
            // Ordering strings is not documented; the strict reading.
            _ => false,
        },
    }
}

/// `*` matches any run of characters; everything else itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// `...`, `name`, or `name OP value` joined with `&&` / `||` (`&&` binding
/// tighter); every comparison in an entry must name the same field.
fn parse_entry(entry: &str) -> Option<Entry> {
    if entry == "..." {
        return Some(Entry::Ellipsis);
    }
    if is_name(entry) {
        return Some(Entry::Field(Vec::new()));
    }
    let mut name: Option<&str> = None;
    let mut any = Vec::new();
    for alternative in split_top_level(entry, "||")? {
        let mut all = Vec::new();
        for atom in split_top_level(alternative, "&&")? {
            let (field, comparison) = parse_comparison(atom.trim())?;
            if name.is_some_and(|n| n != field) {
                return None;
            }
            name = Some(field);
            all.push(comparison);
        }
        any.push(all);
    }
    Some(Entry::Field(any))
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_comparison(atom: &str) -> Option<(&str, Comparison)> {
    let at = atom.find(['=', '!', '<', '>'])?;
    let name = atom[..at].trim();
    if !is_name(name) {
        return None;
    }
    let rest = &atom[at..];
    let (op, value) = [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(symbol, op)| rest.strip_prefix(symbol).map(|v| (*op, v.trim())))?;
    let value = if let Some(quoted) = value.strip_prefix('"') {
        Value::Text(quoted.strip_suffix('"')?.to_string())
    } else if value.is_empty() || value.contains(['"', ' ']) {
        return None;
    } else {
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Value::Number(n),
            _ => Value::Text(value.to_string()),
        }
    };
    Some((name, Comparison { op, value }))
}

/// Splits on `separator` outside double quotes.
fn split_top_level<'a>(s: &'a str, separator: &str) -> Option<Vec<&'a str>> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            quoted = !quoted;
        } else if !quoted && s[i..].starts_with(separator) {
            parts.push(&s[start..i]);
            i += separator.len();
            start = i;
            continue;
        }
        i += 1;
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str =
        "2 123456789012 eni-0a1b 10.0.0.1 10.0.0.2 443 22 6 10 840 1700000000 1700000060 REJECT OK";

    #[test]
    fn patterns_as_documented() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("", "anything", Some(true)),
            // Terms.
            ("ERROR", "[ERROR 400] BAD REQUEST", Some(true)),
            ("ERROR", "all fine", Some(false)),
            ("ERROR 400", "[ERROR 400] BAD", Some(true)),
            ("ERROR 401", "[ERROR 400] BAD", Some(false)),
            ("\"BAD REQUEST\"", "[ERROR 400] BAD REQUEST", Some(true)),
            ("\"BAD REQUEST\"", "REQUEST BAD", Some(false)),
            ("ERROR -400", "[ERROR 400] BAD", Some(false)),
            ("ERROR -401", "[ERROR 400] BAD", Some(true)),
            ("?ERROR ?WARN", "WARN disk", Some(true)),
            ("?ERROR ?WARN", "INFO disk", Some(false)),
            ("?\"REPORT RequestId\" ?\"platform.report\"", "REPORT RequestId: a", Some(true)),
            ("?\"REPORT RequestId\" ?\"platform.report\"", "{\"type\":\"platform.report\"}", Some(true)),
            ("?\"REPORT RequestId\" ?\"platform.report\"", "START RequestId: a", Some(false)),
            ("?ERROR WARN", "ERROR", None),
            ("\"unterminated", "x", None),
            ("{ $.a = 1 }", "x", None),
            ("%abc%", "x", None),
            // Field lists.
            ("[a, b, c]", "1 2 3", Some(true)),
            ("[a, b, c]", "1 2", Some(false)),
            ("[a, b, c]", "1 2 3 4", Some(false)),
            ("[a, b=2, c]", "1   2\t3", Some(true)),
            ("[a, b=2, c]", "1 02 3", Some(true)),
            ("[a, b=2, c]", "1 x 3", Some(false)),
            ("[a, b!=2, c]", "1 x 3", Some(false)),
            ("[a, b!=2, c]", "1 3 3", Some(true)),
            ("[a, b>=2 && b<4, c]", "1 3 3", Some(true)),
            ("[a, b>=2 && b<4, c]", "1 4 3", Some(false)),
            ("[a, b=2 || b=5, c]", "1 5 3", Some(true)),
            ("[a, b=2 || b=5, c]", "1 6 3", Some(false)),
            ("[a, b=\"x y\", c]", "1 \"x y\" 3", Some(true)),
            ("[a, b=\"x*\", c]", "1 xyz 3", Some(true)),
            ("[a, b=\"x*\", c]", "1 yx 3", Some(false)),
            ("[a, b=4*, c]", "1 404 3", Some(true)),
            ("[ip, ts, req=\"*html*\", code]", "1.2.3.4 [10/Oct/2000:13:25:15 -0700] \"GET /index.html\" 404", Some(true)),
            ("[..., c=3]", "1 2 3", Some(true)),
            ("[..., c=3]", "3", Some(false)),
            ("[a=1, ...]", "1 2 3", Some(true)),
            ("[a=1, ...]", "1", Some(false)),
            ("[a, b=\"\"\", c]", "x", None),
            ("[a, b=2 && c=3, c]", "1 2 3", None),
            (
                "[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport=22, protocol, packets, bytes, start, end, action=\"REJECT\", log_status]",
                FLOW,
                Some(true),
            ),
            ("[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport=23, ...]", FLOW, Some(false)),
            ("[version, account_id, interface_id, srcaddr=\"10.0.*\", ...]", FLOW, Some(true)),
            ("[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets>9 && packets<=10, ...]", FLOW, Some(true)),
        ];
        for (pattern, message, expected) in cases {
            assert_eq!(
                matches(pattern, message),
                *expected,
                "{pattern} on {message}"
            );
        }
    }

    #[test]
    fn numbers_compare_as_doubles() {
        // 2^53 + 1 reads as 2^53: the strict reading a builder must survive.
        assert_eq!(
            matches("[a>9007199254740992]", "9007199254740993"),
            Some(false)
        );
    }
}
