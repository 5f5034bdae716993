//! Which typed table a log group gets: the rule documented in
//! docs/typed-tables.md, as pure functions.
//!
//! 1. The operator's `[[typed_tables]]` rules, first match wins (a rule
//!    may also say a group has no typed table).
//! 2. The group's name: `/aws/lambda/...` is Lambda's own naming; a name
//!    containing `cloudtrail` (the console's `aws-cloudtrail-logs-...`,
//!    the common `/aws/cloudtrail/...`) is CloudTrail; one containing
//!    `flow-log`, `flowlog` or `flow_log` is VPC Flow Logs.
//! 3. The names of the group's first streams, as each service names them:
//!    `<account>_CloudTrail_<region>`, `eni-<hex>-all|accept|reject`,
//!    `YYYY/MM/DD/[<version>]<hex>`.
//!
//! Events are never sampled to decide: that would cost a read per group
//! whenever the tables are listed.

use crate::access::NamePattern;
use crate::model::LogStream;

/// A log format logflight has a typed table for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    CloudTrail,
    FlowLogs,
    Lambda,
}

impl FormatKind {
    pub const ALL: [FormatKind; 3] = [
        FormatKind::CloudTrail,
        FormatKind::FlowLogs,
        FormatKind::Lambda,
    ];

    /// The typed table's name.
    pub fn table_name(self) -> &'static str {
        match self {
            FormatKind::CloudTrail => super::cloudtrail::TABLE,
            FormatKind::FlowLogs => "flow_log_records",
            FormatKind::Lambda => "lambda_invocations",
        }
    }

    /// The name used in configuration and messages.
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::CloudTrail => "cloudtrail",
            FormatKind::FlowLogs => "vpc_flow_logs",
            FormatKind::Lambda => "lambda",
        }
    }

    pub fn from_name(name: &str) -> Option<FormatKind> {
        FormatKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The format whose typed table is called `table` (any case).
    pub fn of_table(table: &str) -> Option<FormatKind> {
        FormatKind::ALL
            .into_iter()
            .find(|k| k.table_name().eq_ignore_ascii_case(table))
    }
}

/// One `[[typed_tables]]` rule.
#[derive(Debug, Clone)]
pub struct FormatRule {
    pub log_groups: Vec<NamePattern>,
    /// `None`: the groups have no typed table, whatever their names say.
    pub format: Option<FormatKind>,
    /// The flow log's `LogFormat` (`${version} ${account-id} ...`).
    pub flow_log_format: Option<String>,
}

/// What a group holds, as far as the rules can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub kind: FormatKind,
    /// The flow-log format a rule gave, if any.
    pub flow_log_format: Option<String>,
    /// Decided by a rule rather than by names.
    pub configured: bool,
}

/// The format `group` holds; `streams` are some of its streams (the first
/// listed page is enough), when known.
pub fn detect(
    group: &str,
    streams: Option<&[LogStream]>,
    rules: &[FormatRule],
) -> Option<Detected> {
    if let Some(rule) = rules
        .iter()
        .find(|r| r.log_groups.iter().any(|p| p.matches(group)))
    {
        return rule.format.map(|kind| Detected {
            kind,
            flow_log_format: rule.flow_log_format.clone(),
            configured: true,
        });
    }
    let found = |kind| {
        Some(Detected {
            kind,
            flow_log_format: None,
            configured: false,
        })
    };
    if let Some(kind) = by_group_name(group) {
        return found(kind);
    }
    let streams = streams?;
    for kind in FormatKind::ALL {
        if !streams.is_empty() && streams.iter().all(|s| stream_named_by(kind, &s.name)) {
            return found(kind);
        }
    }
    None
}

fn by_group_name(group: &str) -> Option<FormatKind> {
    let lower = group.to_ascii_lowercase();
    if lower.starts_with("/aws/lambda/") {
        Some(FormatKind::Lambda)
    } else if lower.contains("cloudtrail") {
        Some(FormatKind::CloudTrail)
    } else if ["flow-log", "flowlog", "flow_log"]
        .iter()
        .any(|w| lower.contains(w))
    {
        Some(FormatKind::FlowLogs)
    } else {
        None
    }
}

/// Whether `stream` is named as the service of `kind` names its streams.
pub fn stream_named_by(kind: FormatKind, stream: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match kind {
        // 111122223333_CloudTrail_us-east-1
        FormatKind::CloudTrail => {
            stream
                .split_once("_CloudTrail_")
                .is_some_and(|(account, region)| {
                    account.len() == 12
                        && account.bytes().all(|b| b.is_ascii_digit())
                        && !region.is_empty()
                })
        }
        // eni-0a1b2c3d4e5f60718-all
        FormatKind::FlowLogs => stream.strip_prefix("eni-").is_some_and(|rest| {
            let id = ["-all", "-accept", "-reject"]
                .iter()
                .find_map(|s| rest.strip_suffix(s))
                .unwrap_or(rest);
            hex(id)
        }),
        // 2026/12/06/[$LATEST]0f3c...
        FormatKind::Lambda => lambda_version(stream).is_some(),
    }
}

/// The function version in a Lambda stream's name
/// (`2026/12/06/[$LATEST]0f3c...` → `$LATEST`).
pub fn lambda_version(stream: &str) -> Option<&str> {
    let (date, rest) = stream.split_at_checked(11)?;
    let date_ok = date.len() == 11
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 10 => b == b'/',
            _ => b.is_ascii_digit(),
        });
    let (version, _) = rest.strip_prefix('[')?.split_once(']')?;
    (date_ok && !version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(names: &[&str]) -> Vec<LogStream> {
        names.iter().map(|n| LogStream::named(*n)).collect()
    }

    #[test]
    fn groups_are_recognised_by_rules_then_names_then_streams() {
        let rules = vec![
            FormatRule {
                log_groups: vec![NamePattern::new("/org/trail*")],
                format: Some(FormatKind::CloudTrail),
                flow_log_format: None,
            },
            FormatRule {
                log_groups: vec![NamePattern::new("/aws/lambda/cloudtrail-*")],
                format: None,
                flow_log_format: None,
            },
            FormatRule {
                log_groups: vec![NamePattern::new("/net/*")],
                format: Some(FormatKind::FlowLogs),
                flow_log_format: Some("${version} ${srcaddr}".into()),
            },
        ];
        let kind = |g: &str, s: Option<&[LogStream]>| detect(g, s, &rules).map(|d| d.kind);
        type Case<'a> = (&'a str, Option<Vec<LogStream>>, Option<FormatKind>);
        let cases: Vec<Case> = vec![
            ("/org/trail-main", None, Some(FormatKind::CloudTrail)),
            ("/aws/lambda/cloudtrail-shipper", None, None),
            ("/net/vpc-a", None, Some(FormatKind::FlowLogs)),
            ("/aws/lambda/orders", None, Some(FormatKind::Lambda)),
            ("/AWS/Lambda/orders", None, Some(FormatKind::Lambda)),
            (
                "aws-cloudtrail-logs-111122223333-0f1e2d3c",
                None,
                Some(FormatKind::CloudTrail),
            ),
            (
                "/aws/CloudTrail/management",
                None,
                Some(FormatKind::CloudTrail),
            ),
            ("/vpc/flow-logs", None, Some(FormatKind::FlowLogs)),
            ("VPCFlowLogs", None, Some(FormatKind::FlowLogs)),
            ("/ecs/payments", None, None),
            (
                "/audit",
                Some(streams(&[
                    "111122223333_CloudTrail_us-east-1",
                    "444455556666_CloudTrail_eu-west-1",
                ])),
                Some(FormatKind::CloudTrail),
            ),
            (
                "/network",
                Some(streams(&["eni-0a1b2c3d4e5f60718-all", "eni-0123abcd"])),
                Some(FormatKind::FlowLogs),
            ),
            (
                "/functions/orders",
                Some(streams(&[
                    "2026/12/06/[$LATEST]0f3c9a",
                    "2026/12/05/[7]ab12",
                ])),
                Some(FormatKind::Lambda),
            ),
            // One stream of another kind, or none: no typed table.
            (
                "/audit",
                Some(streams(&["111122223333_CloudTrail_us-east-1", "misc"])),
                None,
            ),
            ("/audit", Some(vec![]), None),
        ];
        for (group, s, want) in cases {
            assert_eq!(kind(group, s.as_deref()), want, "{group} {s:?}");
        }
        let net = detect("/net/vpc-a", None, &rules).unwrap();
        assert_eq!(
            net.flow_log_format.as_deref(),
            Some("${version} ${srcaddr}")
        );
        assert!(net.configured);
    }

    #[test]
    fn stream_names_and_lambda_versions() {
        assert_eq!(
            lambda_version("2026/12/06/[$LATEST]0f3c9a"),
            Some("$LATEST")
        );
        assert_eq!(lambda_version("2026/12/06/[12]0f3c9a"), Some("12"));
        for bad in [
            "2026/12/06/$LATEST",
            "2026-12-06/[1]x",
            "x",
            "2026/12/06/[]ab",
            "",
        ] {
            assert_eq!(lambda_version(bad), None, "{bad}");
        }
        assert!(stream_named_by(
            FormatKind::CloudTrail,
            "111122223333_CloudTrail_us-east-1"
        ));
        assert!(!stream_named_by(
            FormatKind::CloudTrail,
            "1111_CloudTrail_us-east-1"
        ));
        assert!(stream_named_by(
            FormatKind::FlowLogs,
            "eni-0a1b2c3d4e5f60718-reject"
        ));
        assert!(!stream_named_by(FormatKind::FlowLogs, "eni-xyz"));
        assert_eq!(
            FormatKind::of_table("CloudTrail_Events"),
            Some(FormatKind::CloudTrail)
        );
        assert_eq!(
            FormatKind::from_name("VPC_FLOW_LOGS"),
            Some(FormatKind::FlowLogs)
        );
    }
}
