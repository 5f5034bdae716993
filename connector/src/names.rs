//! How a name written in SQL finds a log group or stream.
//!
//! CloudWatch names are case-sensitive, SQL folds unquoted identifiers to
//! lower case. The rule: an exact match wins; otherwise the one name equal to
//! it without regard to case; several such names are ambiguous (an error
//! listing them, never a guess); none is "not found".

/// The outcome of looking a name up among candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch {
    Exact(String),
    CaseInsensitive(String),
    Ambiguous(Vec<String>),
    NotFound,
}

pub fn resolve_name<'a, I>(wanted: &str, candidates: I) -> NameMatch
where
    I: IntoIterator<Item = &'a str>,
{
    let mut folded: Vec<String> = Vec::new();
    for candidate in candidates {
        if candidate == wanted {
            return NameMatch::Exact(candidate.to_string());
        }
        if candidate.eq_ignore_ascii_case(wanted)
            || candidate.to_lowercase() == wanted.to_lowercase()
        {
            folded.push(candidate.to_string());
        }
    }
    match folded.len() {
        0 => NameMatch::NotFound,
        1 => NameMatch::CaseInsensitive(folded.remove(0)),
        _ => {
            folded.sort();
            folded.dedup();
            NameMatch::Ambiguous(folded)
        }
    }
}

/// Up to `max` candidates that look like `wanted`, for "did you mean"
/// hints, closest first: names that contain it (or that it contains), and
/// near misses, a few typed characters away from the whole name or from
/// its last `/` segment (`order-api` finds `/aws/lambda/orders-api`).
pub fn similar_names<'a, I>(wanted: &str, candidates: I, max: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = wanted.to_lowercase();
    let stem = w.trim_matches('/');
    if stem.is_empty() {
        return Vec::new();
    }
    // The last segment bounds the typos: names of one prefix (`/aws/lambda/`)
    // differ only there, and a long prefix must not make any two alike.
    let limit = typo_limit(stem.rsplit('/').next().unwrap_or(stem));
    let mut found: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let trimmed = lower.trim_matches('/');
            if lower.contains(stem) || stem.contains(trimmed) {
                return Some((0, c.to_string()));
            }
            let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
            let distance = edit_distance(stem, trimmed).min(edit_distance(stem, last));
            (distance <= limit).then(|| (distance, c.to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    found.into_iter().take(max).map(|(_, name)| name).collect()
}

/// How many typed characters a near miss may be off: one per four
/// characters of the name's last segment, at least one, so short names do
/// not match everything.
fn typo_limit(name: &str) -> usize {
    (name.chars().count() / 4).max(1)
}

/// Levenshtein distance over characters: the fewest insertions,
/// deletions and substitutions that turn `a` into `b`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The hint appended to a "not found" message.
pub fn not_found_hint(similar: &[String], listing: &str) -> String {
    if similar.is_empty() {
        format!("; {listing}")
    } else {
        let names: Vec<String> = similar.iter().map(|s| format!("{s:?}")).collect();
        format!("; did you mean {}?", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_rules() {
        let names = [
            "/app/CaseTest",
            "/app/casetest2",
            "Worker",
            "worker",
            "OnlyUpper",
            "[$LATEST]ab",
        ];
        let cases: [(&str, NameMatch); 8] = [
            ("Worker", NameMatch::Exact("Worker".into())),
            ("worker", NameMatch::Exact("worker".into())),
            (
                "WORKER",
                NameMatch::Ambiguous(vec!["Worker".into(), "worker".into()]),
            ),
            ("onlyupper", NameMatch::CaseInsensitive("OnlyUpper".into())),
            (
                "/APP/casetest",
                NameMatch::CaseInsensitive("/app/CaseTest".into()),
            ),
            (
                "[$latest]AB",
                NameMatch::CaseInsensitive("[$LATEST]ab".into()),
            ),
            ("/app/case", NameMatch::NotFound),
            ("", NameMatch::NotFound),
        ];
        for (wanted, want) in cases {
            assert_eq!(resolve_name(wanted, names), want, "{wanted}");
        }
    }

    #[test]
    fn similar_names_for_hints() {
        let names = [
            "/aws/lambda/orders-api",
            "/aws/lambda/billing",
            "/vpc/flow-logs",
        ];
        assert_eq!(
            similar_names("orders", names, 5),
            vec!["/aws/lambda/orders-api"]
        );
        assert_eq!(
            similar_names("/AWS/LAMBDA", names, 1),
            vec!["/aws/lambda/billing"]
        );
        assert!(similar_names("zzz", names, 5).is_empty());
        assert_eq!(not_found_hint(&[], "x"), "; x");
    }

    #[test]
    fn near_misses_are_suggested() {
        let names = [
            "/aws/lambda/orders-api",
            "/aws/lambda/billing",
            "/vpc/flow-logs",
            "/ecs/Payments-Service",
        ];
        let cases: [(&str, &[&str]); 10] = [
            ("/aws/lambda/order-api", &["/aws/lambda/orders-api"]),
            ("order-api", &["/aws/lambda/orders-api"]),
            ("/aws/lambda/ordres-api", &["/aws/lambda/orders-api"]),
            ("/aws/lambda/biling", &["/aws/lambda/billing"]),
            ("/vpc/flowlogs", &["/vpc/flow-logs"]),
            ("/ecs/payment-service", &["/ecs/Payments-Service"]),
            ("/aws/lambda/inventory", &[]),
            ("api", &["/aws/lambda/orders-api"]),
            ("xyz", &[]),
            ("/aws/lambda/abc", &[]),
        ];
        for (wanted, want) in cases {
            assert_eq!(similar_names(wanted, names, 5), want, "{wanted}");
        }
    }

    #[test]
    fn edit_distances() {
        let cases = [
            ("", "", 0),
            ("a", "", 1),
            ("kitten", "sitting", 3),
            ("order-api", "orders-api", 1),
            ("ordres", "orders", 2),
            ("é", "e", 1),
        ];
        for (a, b, want) in cases {
            assert_eq!(edit_distance(a, b), want, "{a} {b}");
            assert_eq!(edit_distance(b, a), want, "{b} {a}");
        }
    }
}
