//! The Logs Insights queries logflight pushes an SQL aggregation into: a
//! small structured form ([`AggQuery`]), its text ([`AggQuery::render`]),
//! and the way back from text ([`AggQuery::parse`]) for the evaluator
//! that answers the same text on sources without Logs Insights.
//!
//! Only what is known to mean the same thing in SQL and in Logs Insights
//! has a form here: counting events, grouping by stream and by
//! epoch-aligned time buckets, and conditions on the stream name and on
//! the message as a regular expression. Each condition is its own
//! `filter` command, never joined with `and`, because a chain of filters
//! is a conjunction in every Insights engine we know, while emulators
//! disagree about `and`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::error::{ConnectorError, Result};

/// What the events are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `@logStream`.
    Stream,
    /// `bin(period)`: the event time floored to a multiple of this many
    /// milliseconds since the epoch.
    Bin(i64),
}

/// An aggregate Logs Insights computes exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agg {
    /// `count(*)`: events in the group.
    CountAll,
}

/// One `filter` command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `filter @logStream in ["a", "b"]` (`= "a"` for one name).
    StreamIn(BTreeSet<String>),
    /// `filter @logStream like /^prefix/`.
    StreamPrefix(String),
    /// `filter @message [not] like /regex/`: the regex is Insights' text
    /// between the slashes.
    MessageRegex { regex: String, negated: bool },
}

/// One aggregation as Logs Insights runs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggQuery {
    pub filters: Vec<Cond>,
    pub aggs: Vec<Agg>,
    pub keys: Vec<Key>,
}

/// The `by` field a key is printed as, which is also the name Logs
/// Insights gives its column in the results.
pub fn key_field(key: &Key) -> String {
    match key {
        Key::Stream => "@logStream".into(),
        Key::Bin(ms) => format!("bin({})", period_text(*ms)),
    }
}

/// The result column of the `i`th aggregate.
pub fn agg_field(i: usize) -> String {
    format!("c{i}")
}

/// A bucket width as Insights writes it: the largest unit dividing it.
fn period_text(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")];
    for (size, unit) in UNITS {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    unreachable!("every width is a whole number of milliseconds")
}

fn parse_period(text: &str) -> Option<i64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = text.split_at(digits);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let size = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(size)
}

/// Whether a text can be written as an Insights string or regex literal
/// without escapes whose meaning we would have to trust.
pub fn plain_text(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
}

/// Characters a regex literal escapes: the metacharacters, and `/`,
/// which would end Insights' regex literal.
const META: &str = "\\.^$|?*+()[]{}/";

/// `text` as a regex matching itself.
pub fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if META.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl AggQuery {
    /// The query text for StartQuery.
    pub fn render(&self) -> String {
        let mut commands = Vec::new();
        for cond in &self.filters {
            commands.push(match cond {
                // One name as an equality: emulators that skip `in`
                // (fakecloud) still run it.
                Cond::StreamIn(names) if names.len() == 1 => {
                    format!(
                        "filter @logStream = \"{}\"",
                        names.first().expect("one name")
                    )
                }
                Cond::StreamIn(names) => {
                    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                    format!("filter @logStream in [{}]", quoted.join(", "))
                }
                Cond::StreamPrefix(prefix) => {
                    format!("filter @logStream like /^{}/", regex_literal(prefix))
                }
                Cond::MessageRegex { regex, negated } => {
                    let not = if *negated { "not " } else { "" };
                    format!("filter @message {not}like /{regex}/")
                }
            });
        }
        let mut stats = String::from("stats ");
        for (i, agg) in self.aggs.iter().enumerate() {
            if i > 0 {
                stats.push_str(", ");
            }
            match agg {
                Agg::CountAll => write!(stats, "count(*) as {}", agg_field(i)),
            }
            .expect("writing to a String");
        }
        if !self.keys.is_empty() {
            let keys: Vec<String> = self.keys.iter().map(key_field).collect();
            write!(stats, " by {}", keys.join(", ")).expect("writing to a String");
        }
        commands.push(stats);
        commands.join(" | ")
    }

    /// Reads back a query of the form [`Self::render`] writes; anything
    /// else is refused with a message naming what is not understood.
    pub fn parse(text: &str) -> Result<AggQuery> {
        let commands = split_commands(text)?;
        let mut query = AggQuery {
            filters: Vec::new(),
            aggs: Vec::new(),
            keys: Vec::new(),
        };
        let Some((stats, filters)) = commands.split_last() else {
            return Err(unsupported(text));
        };
        for command in filters {
            query
                .filters
                .push(parse_filter(command).ok_or_else(|| unsupported(command))?);
        }
        let body = stats
            .strip_prefix("stats ")
            .ok_or_else(|| unsupported(stats))?;
        let (aggs, keys) = match body.split_once(" by ") {
            Some((a, k)) => (a, Some(k)),
            None => (body, None),
        };
        for (i, agg) in aggs.split(',').map(str::trim).enumerate() {
            if agg != format!("count(*) as {}", agg_field(i)) {
                return Err(unsupported(agg));
            }
            query.aggs.push(Agg::CountAll);
        }
        for key in keys.into_iter().flat_map(|k| k.split(',')).map(str::trim) {
            let parsed = if key == "@logStream" {
                Some(Key::Stream)
            } else {
                key.strip_prefix("bin(")
                    .and_then(|k| k.strip_suffix(')'))
                    .and_then(parse_period)
                    .map(Key::Bin)
            };
            query.keys.push(parsed.ok_or_else(|| unsupported(key))?);
        }
        Ok(query)
    }
}

fn unsupported(what: &str) -> ConnectorError {
    ConnectorError::InvalidRequest(format!(
        "this source's Logs Insights evaluator runs only the queries logflight pushes down \
         (filters on @logStream and @message, stats count(*) by @logStream and bin()); \
         it does not understand: {what}"
    ))
}

/// The commands of a query (trimmed), split as the splitter reads
/// pipelines ([`crate::insights::query::commands`]).
fn split_commands(text: &str) -> Result<Vec<String>> {
    let commands = crate::insights::query::commands(text).map_err(|_| unsupported(text))?;
    Ok(commands.into_iter().map(|c| c.trim().to_string()).collect())
}

fn parse_filter(command: &str) -> Option<Cond> {
    let rest = command.strip_prefix("filter ")?.trim();
    if let Some(list) = rest.strip_prefix("@logStream in [") {
        let mut list = list.strip_suffix(']')?.trim();
        let mut names = BTreeSet::new();
        while !list.is_empty() {
            let (name, tail) = list.strip_prefix('"')?.split_once('"')?;
            names.insert(name.to_string());
            list = tail.trim_start();
            list = list.strip_prefix(',').unwrap_or(list).trim_start();
        }
        return Some(Cond::StreamIn(names));
    }
    if let Some(name) = rest.strip_prefix("@logStream = \"") {
        return Some(Cond::StreamIn(BTreeSet::from([name
            .strip_suffix('"')?
            .to_string()])));
    }
    if let Some(re) = rest.strip_prefix("@logStream like /^") {
        let escaped = re.strip_suffix('/')?;
        return Some(Cond::StreamPrefix(unescape_literal(escaped)?));
    }
    let (negated, re) = if let Some(re) = rest.strip_prefix("@message not like /") {
        (true, re)
    } else {
        (false, rest.strip_prefix("@message like /")?)
    };
    Some(Cond::MessageRegex {
        regex: re.strip_suffix('/')?.to_string(),
        negated,
    })
}

/// The text a [`regex_literal`] matches; `None` for a real regex.
fn unescape_literal(escaped: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c if META.contains(c) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(filters: Vec<Cond>, keys: Vec<Key>) -> AggQuery {
        AggQuery {
            filters,
            aggs: vec![Agg::CountAll],
            keys,
        }
    }

    #[test]
    fn renders_and_reads_back() {
        let cases = [
            (query(vec![], vec![]), "stats count(*) as c0"),
            (
                query(vec![], vec![Key::Bin(3_600_000)]),
                "stats count(*) as c0 by bin(1h)",
            ),
            (
                query(
                    vec![Cond::StreamIn(BTreeSet::from([
                        "b".into(),
                        "a x, [$LATEST]|y".into(),
                    ]))],
                    vec![Key::Stream, Key::Bin(90_000)],
                ),
                r#"filter @logStream in ["a x, [$LATEST]|y", "b"] | stats count(*) as c0 by @logStream, bin(90s)"#,
            ),
            (
                query(
                    vec![
                        Cond::StreamPrefix("2026/11/24/[$LATEST]".into()),
                        Cond::MessageRegex {
                            regex: r"^ERROR \/a|b".into(),
                            negated: true,
                        },
                    ],
                    vec![Key::Bin(86_400_000), Key::Bin(250)],
                ),
                r#"filter @logStream like /^2026\/11\/24\/\[\$LATEST\]/ | filter @message not like /^ERROR \/a|b/ | stats count(*) as c0 by bin(24h), bin(250ms)"#,
            ),
        ];
        for (q, text) in cases {
            let rendered = q.render();
            assert_eq!(rendered, text);
            assert_eq!(AggQuery::parse(&rendered).unwrap(), q, "{rendered}");
        }
        let q = query(
            vec![Cond::StreamPrefix("[$LATEST] a.b".into())],
            vec![Key::Bin(300_000)],
        );
        assert_eq!(
            q.render(),
            r#"filter @logStream like /^\[\$LATEST\] a\.b/ | stats count(*) as c0 by bin(5m)"#
        );
        assert_eq!(AggQuery::parse(&q.render()).unwrap(), q);
        assert_eq!(
            AggQuery::parse("stats count(*) as c0 by bin(1d)")
                .unwrap()
                .keys,
            [Key::Bin(86_400_000)]
        );
    }

    #[test]
    fn refuses_what_it_does_not_run() {
        for text in [
            "fields @message",
            "stats avg(x) as c0",
            "stats count(*) as n",
            "filter @message like \"x\" | stats count(*) as c0",
            "filter @message like /x | stats count(*) as c0",
            "stats count(*) as c0 by bin(1w)",
            "stats count(*) as c0 by user",
            "filter x = 1 | stats count(*) as c0",
        ] {
            let err = AggQuery::parse(text).unwrap_err().to_string();
            assert!(err.contains("does not understand"), "{text}: {err}");
        }
    }

    #[test]
    fn literals_escape_every_metacharacter() {
        assert_eq!(regex_literal("a.b*c"), r"a\.b\*c");
        assert_eq!(
            unescape_literal(&regex_literal("x[1]$^|")).unwrap(),
            "x[1]$^|"
        );
        assert_eq!(unescape_literal("a.b"), None);
        assert!(plain_text("orders-api [$LATEST]"));
        assert!(plain_text("2026/11/24/[$LATEST]ab12"));
        assert!(!plain_text("a\"b") && !plain_text("a\\b") && !plain_text("a\nb"));
    }
}
