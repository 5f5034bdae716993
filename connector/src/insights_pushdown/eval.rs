//! Counting events as a pushed Logs Insights query does, in process: for
//! the seconds at the edges of a time range that StartQuery (whole seconds)
//! cannot bound exactly, and for sources without Logs Insights (the demo).
//!
//! The same text runs here and in Logs Insights; the fakecloud test tier
//! compares the two answers (tests/fakecloud/).

use std::collections::BTreeMap;

use regex::Regex;

use super::query::{agg_field, key_field, Agg, AggQuery, Cond, Key};
use crate::error::{ConnectorError, Result};
use crate::insights::parse_timestamp;
use crate::time::iso8601;

/// The value of one grouping key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Stream(String),
    /// Start of the bucket, epoch milliseconds.
    Time(i64),
}

/// Groups and their aggregate values (one per [`AggQuery::aggs`]).
pub type Groups = BTreeMap<Vec<KeyValue>, Vec<i64>>;

/// An [`AggQuery`] ready to count events.
#[derive(Debug)]
pub struct Evaluator {
    query: AggQuery,
    /// The compiled regex of each filter on the message (None for others).
    regexes: Vec<Option<Regex>>,
}

impl Evaluator {
    pub fn new(query: &AggQuery) -> Result<Self> {
        let regexes = query
            .filters
            .iter()
            .map(|c| match c {
                Cond::MessageRegex { regex, .. } => Regex::new(regex).map(Some).map_err(|e| {
                    ConnectorError::InvalidRequest(format!("bad regex /{regex}/: {e}"))
                }),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            query: query.clone(),
            regexes,
        })
    }

    /// Whether an event passes every filter.
    pub fn matches(&self, stream: &str, message: &str) -> bool {
        self.query
            .filters
            .iter()
            .zip(&self.regexes)
            .all(|(cond, regex)| match (cond, regex) {
                (Cond::StreamIn(names), _) => names.contains(stream),
                (Cond::StreamPrefix(prefix), _) => stream.starts_with(prefix.as_str()),
                (Cond::MessageRegex { negated, .. }, Some(re)) => re.is_match(message) != *negated,
                (Cond::MessageRegex { .. }, None) => unreachable!("compiled in new()"),
            })
    }

    /// Counts one event into `groups` if it passes the filters.
    pub fn add(&self, groups: &mut Groups, stream: &str, time_ms: i64, message: &str) -> bool {
        if !self.matches(stream, message) {
            return false;
        }
        let key = self
            .query
            .keys
            .iter()
            .map(|k| match k {
                Key::Stream => KeyValue::Stream(stream.to_string()),
                Key::Bin(width) => KeyValue::Time(time_ms - time_ms.rem_euclid(*width)),
            })
            .collect();
        let values = groups
            .entry(key)
            .or_insert_with(|| vec![0; self.query.aggs.len()]);
        for (value, agg) in values.iter_mut().zip(&self.query.aggs) {
            match agg {
                Agg::CountAll => *value += 1,
            }
        }
        true
    }
}

/// Adds `other`'s groups into `into` (counts add up).
pub fn merge(into: &mut Groups, other: Groups) {
    for (key, values) in other {
        match into.get_mut(&key) {
            Some(have) => have.iter_mut().zip(values).for_each(|(a, b)| *a += b),
            None => {
                into.insert(key, values);
            }
        }
    }
}

/// `2026-11-25 10:00:00.000`, as Logs Insights prints times.
pub fn insights_time(ms: i64) -> String {
    let iso = iso8601(ms);
    iso.trim_end_matches('Z').replacen('T', " ", 1)
}

/// The groups as Logs Insights returns them: a row of (field, text) each.
pub fn to_rows(query: &AggQuery, groups: &Groups) -> Vec<Vec<(String, String)>> {
    groups
        .iter()
        .map(|(key, values)| {
            let keys = query.keys.iter().zip(key).map(|(k, v)| {
                let text = match v {
                    KeyValue::Stream(s) => s.clone(),
                    KeyValue::Time(ms) => insights_time(*ms),
                };
                (key_field(k), text)
            });
            let aggs = values
                .iter()
                .enumerate()
                .map(|(i, v)| (agg_field(i), v.to_string()));
            keys.chain(aggs).collect()
        })
        .collect()
}

/// Reads Logs Insights' rows of `query` back into groups; a row missing a
/// field or holding a value of the wrong kind is an error, never skipped.
pub fn from_rows(query: &AggQuery, rows: &[Vec<(String, String)>]) -> Result<Groups> {
    let bad = |what: String| ConnectorError::Api {
        api: "GetQueryResults",
        message: format!("a pushed-down aggregation's result {what}"),
    };
    let mut groups = Groups::new();
    for row in rows {
        let field = |name: &str| {
            row.iter()
                .find(|(f, _)| f == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| bad(format!("has a row without {name}")))
        };
        let mut key = Vec::with_capacity(query.keys.len());
        for k in &query.keys {
            let name = key_field(k);
            let text = field(&name)?;
            key.push(match k {
                Key::Stream => KeyValue::Stream(text.to_string()),
                Key::Bin(_) => KeyValue::Time(
                    parse_timestamp(text)
                        .ok_or_else(|| bad(format!("has {name} = {text:?}, not a time")))?,
                ),
            });
        }
        let mut values = Vec::with_capacity(query.aggs.len());
        for i in 0..query.aggs.len() {
            let name = agg_field(i);
            let text = field(&name)?;
            values.push(
                count_value(text)
                    .ok_or_else(|| bad(format!("has {name} = {text:?}, not a count")))?,
            );
        }
        if groups.insert(key, values).is_some() {
            return Err(bad("has the same group twice".into()));
        }
    }
    Ok(groups)
}

/// A count as text: `12`, or `12.0` / `1.2e1` when it is printed as a
/// number (exact up to 2^53, far beyond any count Insights returns).
fn count_value(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return (n >= 0).then_some(n);
    }
    let f: f64 = text.parse().ok()?;
    (f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn query(filters: Vec<Cond>, keys: Vec<Key>) -> AggQuery {
        AggQuery {
            filters,
            aggs: vec![Agg::CountAll],
            keys,
        }
    }

    const EVENTS: [(&str, i64, &str); 6] = [
        ("web-1", 1_795_600_800_000, "GET /a 200"),
        ("web-1", 1_795_600_859_999, "GET /b 500 ERROR"),
        ("web-2", 1_795_600_860_000, "POST /a 200"),
        ("web-2", 1_795_604_400_001, "ERROR: timeout\nat line 2"),
        ("db", 1_795_604_400_002, "slow query"),
        ("web-1", -1, "before 1970"),
    ];

    fn count(q: &AggQuery) -> Groups {
        let eval = Evaluator::new(q).unwrap();
        let mut groups = Groups::new();
        for (s, t, m) in EVENTS {
            eval.add(&mut groups, s, t, m);
        }
        groups
    }

    #[test]
    fn counts_by_stream_and_bucket() {
        let g = count(&query(vec![], vec![]));
        assert_eq!(g, Groups::from([(vec![], vec![6])]));
        let g = count(&query(vec![], vec![Key::Bin(60_000), Key::Stream]));
        let t = KeyValue::Time;
        let s = |n: &str| KeyValue::Stream(n.into());
        assert_eq!(
            g,
            Groups::from([
                (vec![t(-60_000), s("web-1")], vec![1]),
                (vec![t(1_795_600_800_000), s("web-1")], vec![2]),
                (vec![t(1_795_600_860_000), s("web-2")], vec![1]),
                (vec![t(1_795_604_400_000), s("db")], vec![1]),
                (vec![t(1_795_604_400_000), s("web-2")], vec![1]),
            ])
        );
    }

    #[test]
    fn filters_are_a_conjunction() {
        let cases = [
            (
                vec![Cond::MessageRegex {
                    regex: "ERROR".into(),
                    negated: false,
                }],
                2,
            ),
            (
                vec![Cond::MessageRegex {
                    regex: "ERROR".into(),
                    negated: true,
                }],
                4,
            ),
            (
                vec![Cond::MessageRegex {
                    regex: "^GET".into(),
                    negated: false,
                }],
                2,
            ),
            // A literal slash, escaped as logflight writes it.
            (
                vec![Cond::MessageRegex {
                    regex: r"\/a".into(),
                    negated: false,
                }],
                2,
            ),
            (
                vec![Cond::MessageRegex {
                    regex: r"timeout[\s\S]*line".into(),
                    negated: false,
                }],
                1,
            ),
            (vec![Cond::StreamPrefix("web".into())], 5),
            (
                vec![Cond::StreamIn(BTreeSet::from([
                    "db".into(),
                    "web-2".into(),
                ]))],
                3,
            ),
            (
                vec![
                    Cond::StreamPrefix("web".into()),
                    Cond::MessageRegex {
                        regex: "200".into(),
                        negated: false,
                    },
                ],
                2,
            ),
        ];
        for (filters, want) in cases {
            let g = count(&query(filters.clone(), vec![]));
            assert_eq!(
                g.get(&vec![]).map(|v| v[0]).unwrap_or(0),
                want,
                "{filters:?}"
            );
        }
        let err = Evaluator::new(&query(
            vec![Cond::MessageRegex {
                regex: "(".into(),
                negated: false,
            }],
            vec![],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("bad regex"));
    }

    #[test]
    fn rows_round_trip_as_insights_prints_them() {
        let q = query(vec![], vec![Key::Stream, Key::Bin(3_600_000)]);
        let g = count(&q);
        let rows = to_rows(&q, &g);
        assert!(rows
            .iter()
            .any(|r| r.contains(&("bin(1h)".into(), "2026-11-25 10:00:00.000".into()))));
        assert_eq!(from_rows(&q, &rows).unwrap(), g);
        // Counts printed as floats still read exactly.
        let printed = vec![vec![
            ("@logStream".to_string(), "a".to_string()),
            ("bin(1h)".into(), "2026-11-25 10:00:00.000".into()),
            ("c0".into(), "12.0".into()),
        ]];
        assert_eq!(
            from_rows(&q, &printed).unwrap().values().next().unwrap(),
            &vec![12]
        );
        for (field, value, want) in [
            ("c0", "1.5", "not a count"),
            ("c0", "-1", "not a count"),
            ("bin(1h)", "soon", "not a time"),
        ] {
            let mut row = printed[0].clone();
            row.iter_mut().find(|(f, _)| f == field).unwrap().1 = value.into();
            let err = from_rows(&q, &[row]).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        let err = from_rows(&q, &[printed[0][..2].to_vec()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("without c0"), "{err}");
    }

    #[test]
    fn merging_adds_counts() {
        let k = |n: &str| vec![KeyValue::Stream(n.into())];
        let mut a = Groups::from([(k("x"), vec![2]), (k("y"), vec![1])]);
        merge(&mut a, Groups::from([(k("y"), vec![3]), (k("z"), vec![4])]));
        assert_eq!(
            a,
            Groups::from([(k("x"), vec![2]), (k("y"), vec![4]), (k("z"), vec![4])])
        );
    }
}
