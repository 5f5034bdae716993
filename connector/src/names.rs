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

/// Up to `max` candidates that look like `wanted`, for "did you mean" hints.
pub fn similar_names<'a, I>(wanted: &str, candidates: I, max: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = wanted.to_lowercase();
    let stem = w.trim_matches('/');
    let mut found: Vec<String> = candidates
        .into_iter()
        .filter(|c| {
            let c = c.to_lowercase();
            !stem.is_empty() && (c.contains(stem) || stem.contains(c.trim_matches('/')))
        })
        .map(str::to_string)
        .collect();
    found.sort();
    found.truncate(max);
    found
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
}
