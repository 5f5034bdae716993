//! Which log groups a principal may read, and a source that shows it only
//! those.
//!
//! Access is decided in one place, the source: every path a statement can
//! take to CloudWatch (catalog listings, `information_schema`, the
//! `logflight$meta` tables, scans, `insights()`, `json_fields()`) goes
//! through [`LogSource`], so a [`RestrictedSource`] in front of the real one
//! covers them all, including paths added later. A group the principal may
//! not see is left out of every listing, and naming it fails exactly as a
//! group that does not exist (NotFound), so its existence is not disclosed.
//!
//! Rules match a group by name pattern and/or by its tags, the way
//! CloudTrail Lake authorizes event data stores by tag. A name-only rule is
//! decided without any call; a tag rule reads the group's tags
//! (ListTagsForResource) once per cache period. No events, streams or
//! Insights queries of a group are read before it is allowed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::insights::{InsightsOutput, InsightsRequest, QueryLanguage};
use crate::model::{EventPage, LogGroup, LogStream, ReadRequest};
use crate::names::not_found_hint;
use crate::source::{LogSource, SharedSource};

/// Tag lookups run at once while a listing is filtered.
const TAG_CONCURRENCY: usize = 8;

/// A log group name pattern: `*` matches any run of characters (`/` too),
/// `?` one character; everything else matches itself, case-sensitively, as
/// CloudWatch names are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(Vec<char>);

impl NamePattern {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.chars().collect())
    }

    /// The pattern as written.
    pub fn text(&self) -> String {
        self.0.iter().collect()
    }

    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        glob_match(&self.0, &name)
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.iter().collect::<String>())
    }
}

/// Iterative glob matching with one backtrack point: linear in practice,
/// never exponential however many `*` a pattern has.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// One grant: groups whose name matches any pattern (when there are
/// patterns) and that carry every listed tag (when there are tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRule {
    pub names: Vec<NamePattern>,
    pub tags: BTreeMap<String, String>,
}

impl AccessRule {
    fn name_matches(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|p| p.matches(name))
    }

    fn tags_match(&self, tags: &BTreeMap<String, String>) -> bool {
        self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

/// What a principal may read in one catalog: the union of its rules. No
/// rules means nothing is visible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupAccess {
    pub rules: Vec<AccessRule>,
}

/// What the name alone says about a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameDecision {
    Allowed,
    Denied,
    /// A rule whose name part matches needs the group's tags.
    NeedsTags,
}

impl GroupAccess {
    pub fn new(rules: Vec<AccessRule>) -> Self {
        Self { rules }
    }

    /// Decides from the name where it can, so that tags are read only for
    /// groups a tag rule could admit.
    pub fn by_name(&self, name: &str) -> NameDecision {
        let mut needs_tags = false;
        for rule in self.rules.iter().filter(|r| r.name_matches(name)) {
            if rule.tags.is_empty() {
                return NameDecision::Allowed;
            }
            needs_tags = true;
        }
        if needs_tags {
            NameDecision::NeedsTags
        } else {
            NameDecision::Denied
        }
    }

    /// The full decision, given the group's tags.
    pub fn allows(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        self.rules
            .iter()
            .any(|r| r.name_matches(name) && r.tags_match(tags))
    }
}

/// A cached decision about one group, by name.
#[derive(Debug, Clone, Copy)]
struct Decision {
    at: Instant,
    allowed: bool,
}

/// A [`LogSource`] that shows and reads only the groups a [`GroupAccess`]
/// allows; see the module docs.
/// Cheap to clone: clones share their decisions.
#[derive(Debug, Clone)]
pub struct RestrictedSource {
    inner: SharedSource,
    access: Arc<GroupAccess>,
    ttl: Duration,
    decisions: Arc<Mutex<HashMap<String, Decision>>>,
}

impl RestrictedSource {
    /// `ttl` bounds how long a tag-based decision is reused.
    pub fn new(inner: SharedSource, access: GroupAccess, ttl: Duration) -> Self {
        Self {
            inner,
            access: Arc::new(access),
            ttl,
            decisions: Arc::default(),
        }
    }

    fn cached(&self, name: &str) -> Option<bool> {
        let decisions = self.decisions.lock().expect("access decision lock");
        decisions
            .get(name)
            .filter(|d| d.at.elapsed() < self.ttl)
            .map(|d| d.allowed)
    }

    fn remember(&self, name: &str, allowed: bool) {
        let mut decisions = self.decisions.lock().expect("access decision lock");
        if decisions.len() >= 100_000 {
            let ttl = self.ttl;
            decisions.retain(|_, d| d.at.elapsed() < ttl);
        }
        decisions.insert(
            name.to_string(),
            Decision {
                at: Instant::now(),
                allowed,
            },
        );
    }

    /// Whether `group` (as listed) may be seen, reading its tags only when a
    /// tag rule could admit it.
    async fn decide(&self, group: &LogGroup) -> Result<bool> {
        match self.access.by_name(&group.name) {
            NameDecision::Allowed => return Ok(true),
            NameDecision::Denied => return Ok(false),
            NameDecision::NeedsTags => {}
        }
        if let Some(allowed) = self.cached(&group.name) {
            return Ok(allowed);
        }
        let tags = self.inner.group_tags(group).await?;
        let allowed = self.access.allows(&group.name, &tags);
        self.remember(&group.name, allowed);
        Ok(allowed)
    }

    async fn filter(&self, groups: Vec<LogGroup>) -> Result<Vec<LogGroup>> {
        let decided: Vec<(LogGroup, bool)> = stream::iter(groups.into_iter().map(|g| async move {
            let allowed = self.decide(&g).await?;
            Ok::<_, ConnectorError>((g, allowed))
        }))
        .buffered(TAG_CONCURRENCY)
        .try_collect()
        .await?;
        Ok(decided
            .into_iter()
            .filter_map(|(g, allowed)| allowed.then_some(g))
            .collect())
    }

    /// Fails as a missing group would unless `name` is allowed: the name
    /// alone when it can, else the group's listing entry and tags.
    async fn check(&self, name: &str) -> Result<()> {
        let allowed = match self.access.by_name(name) {
            NameDecision::Allowed => true,
            NameDecision::Denied => false,
            NameDecision::NeedsTags => match self.cached(name) {
                Some(allowed) => allowed,
                None => {
                    let listed = self.inner.list_groups_with_prefix(name).await?;
                    match listed.into_iter().find(|g| g.name == name) {
                        Some(group) => self.decide(&group).await?,
                        None => false,
                    }
                }
            },
        };
        if allowed {
            Ok(())
        } else {
            Err(not_visible(name))
        }
    }
}

/// The error for a group the principal may not see: the same as for a
/// group that does not exist, so the answer does not tell them apart.
fn not_visible(name: &str) -> ConnectorError {
    ConnectorError::GroupNotFound {
        name: name.to_string(),
        hint: not_found_hint(
            &[],
            "list the log groups with SELECT schema_name FROM information_schema.schemata",
        ),
    }
}

/// The group name of a log group ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`),
/// or the identifier itself when it is a name.
fn group_name_of(identifier: &str) -> &str {
    match identifier.split_once(":log-group:") {
        Some((prefix, rest)) if prefix.starts_with("arn:") => {
            rest.strip_suffix(":*").unwrap_or(rest)
        }
        _ => identifier,
    }
}

/// True when a query text has a command that picks log groups itself
/// (Logs Insights `SOURCE logGroups(...)`, PPL `source = ...`), which a
/// restricted principal may not use: logflight could not check its groups.
fn names_its_own_groups(query: &str) -> bool {
    let lower = query.to_ascii_lowercase();
    lower
        .split('|')
        .any(|command| command.trim_start().starts_with("source"))
}

#[async_trait]
impl LogSource for RestrictedSource {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn account_key(&self) -> String {
        self.inner.account_key()
    }

    fn quota(&self) -> Option<&crate::quota::ApiQuota> {
        self.inner.quota()
    }

    async fn list_groups(&self) -> Result<Vec<LogGroup>> {
        let groups = self.inner.list_groups().await?;
        self.filter(groups).await
    }

    async fn list_groups_with_prefix(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        let groups = self.inner.list_groups_with_prefix(prefix).await?;
        self.filter(groups).await
    }

    fn has_insights(&self) -> bool {
        self.inner.has_insights()
    }

    async fn run_insights(&self, request: &InsightsRequest) -> Result<InsightsOutput> {
        if request.language == QueryLanguage::OpenSearchSql {
            return Err(ConnectorError::AccessDenied(
                "insights_sql() names its log groups inside the query text, which logflight cannot check against your grants; use insights() or insights_ppl() with a list of log groups".into(),
            ));
        }
        if names_its_own_groups(&request.query) {
            return Err(ConnectorError::AccessDenied(
                "a SOURCE command in the query picks log groups that logflight cannot check against your grants; pass the log groups as the function's argument instead".into(),
            ));
        }
        for identifier in &request.groups {
            self.check(group_name_of(identifier)).await?;
        }
        self.inner.run_insights(request).await
    }

    /// A pointer comes from a query that passed the checks above.
    async fn log_record(&self, ptr: &str) -> Result<std::collections::HashMap<String, String>> {
        self.inner.log_record(ptr).await
    }

    async fn group_tags(&self, group: &LogGroup) -> Result<BTreeMap<String, String>> {
        self.check(&group.name).await?;
        self.inner.group_tags(group).await
    }

    async fn flow_log_format(&self, group: &str) -> Result<Option<String>> {
        self.check(group).await?;
        self.inner.flow_log_format(group).await
    }

    fn list_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<Vec<LogStream>>> {
        // The check runs before the inner listing starts: a denied group
        // costs no DescribeLogStreams call.
        let this = self.clone();
        let (group, prefix, counters) = (
            group.to_string(),
            prefix.map(str::to_string),
            counters.clone(),
        );
        stream::once(async move {
            this.check(&group).await?;
            Ok(this
                .inner
                .list_streams(&group, prefix.as_deref(), &counters))
        })
        .try_flatten()
        .boxed()
    }

    fn read_events(
        &self,
        request: &ReadRequest,
        counters: &ReadCounters,
    ) -> BoxStream<'static, Result<EventPage>> {
        let this = self.clone();
        let (request, counters) = (request.clone(), counters.clone());
        stream::once(async move {
            this.check(&request.group).await?;
            Ok(this.inner.read_events(&request, &counters))
        })
        .try_flatten()
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::demo::DemoSource;

    fn rule(names: &[&str], tags: &[(&str, &str)]) -> AccessRule {
        AccessRule {
            names: names.iter().map(|n| NamePattern::new(n)).collect(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn name_patterns() {
        let cases = [
            ("*", "/aws/lambda/orders", true),
            ("*", "", true),
            ("/aws/lambda/*", "/aws/lambda/orders", true),
            ("/aws/lambda/*", "/aws/lambda/", true),
            ("/aws/lambda/*", "/aws/lambdax", false),
            ("/aws/*/orders", "/aws/lambda/orders", true),
            ("/aws/*/orders", "/aws/lambda/orders-api", false),
            ("/ecs/Payments-?ervice", "/ecs/Payments-Service", true),
            ("/ecs/Payments-Service", "/ecs/payments-service", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("日本*", "日本語", true),
            ("?", "日", true),
            ("**", "x", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                NamePattern::new(pattern).matches(name),
                want,
                "{pattern} ~ {name}"
            );
        }
        // Many stars against a long non-matching name stay fast (no blow-up).
        let long = "a".repeat(10_000);
        assert!(!NamePattern::new(&format!("{}b", "*a".repeat(50))).matches(&long));
    }

    #[test]
    fn decisions_by_name_and_tags() {
        let team = |t: &str| BTreeMap::from([("team".to_string(), t.to_string())]);
        let access = GroupAccess::new(vec![
            rule(&["/aws/lambda/*"], &[]),
            rule(&[], &[("team", "payments")]),
            rule(&["/secure/*"], &[("team", "security")]),
        ]);
        let cases = [
            ("/aws/lambda/orders", NameDecision::Allowed),
            ("/ecs/x", NameDecision::NeedsTags),
            ("/secure/a", NameDecision::NeedsTags),
        ];
        for (name, want) in cases {
            assert_eq!(access.by_name(name), want, "{name}");
        }
        assert!(access.allows("/ecs/x", &team("payments")));
        assert!(!access.allows("/ecs/x", &team("security")));
        assert!(access.allows("/secure/a", &team("security")));
        assert!(access.allows("/secure/a", &team("payments")));
        assert!(!access.allows("/other", &BTreeMap::new()));
        let names_only = GroupAccess::new(vec![rule(&["/a/*"], &[])]);
        assert_eq!(names_only.by_name("/b"), NameDecision::Denied);
        assert_eq!(GroupAccess::default().by_name("/a"), NameDecision::Denied);
    }

    #[test]
    fn arns_and_source_commands() {
        assert_eq!(
            group_name_of("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*"),
            "/aws/lambda/x"
        );
        assert_eq!(
            group_name_of("arn:aws:logs:us-east-1:123456789012:log-group:/a:b"),
            "/a:b"
        );
        assert_eq!(group_name_of("/aws/lambda/x"), "/aws/lambda/x");
        assert!(names_its_own_groups(
            "SOURCE logGroups(namePrefix: ['/']) | fields @message"
        ));
        assert!(names_its_own_groups("fields @message |  source x"));
        assert!(!names_its_own_groups(
            "fields @message, @logStream | filter @message like /source/"
        ));
    }

    #[tokio::test]
    async fn a_restricted_source_lists_and_reads_only_allowed_groups() {
        let demo: SharedSource = Arc::new(DemoSource::generate(1_795_000_000_000));
        let all: Vec<String> = demo
            .list_groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        let tagged = {
            let mut found = None;
            for g in demo.list_groups().await.unwrap() {
                let tags = demo.group_tags(&g).await.unwrap();
                if let Some((k, v)) = tags.into_iter().next() {
                    found = Some((g.name.clone(), k, v));
                    break;
                }
            }
            found.expect("a demo group has tags")
        };
        let access = GroupAccess::new(vec![
            rule(&["/aws/lambda/*"], &[]),
            rule(&[], &[(tagged.1.as_str(), tagged.2.as_str())]),
        ]);
        let restricted =
            RestrictedSource::new(Arc::clone(&demo), access.clone(), Duration::from_secs(60));
        let visible: Vec<String> = restricted
            .list_groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert!(visible.contains(&tagged.0), "{visible:?}");
        for name in &all {
            let mut tags = BTreeMap::new();
            if let Some(g) = demo
                .list_groups()
                .await
                .unwrap()
                .into_iter()
                .find(|g| &g.name == name)
            {
                tags = demo.group_tags(&g).await.unwrap();
            }
            assert_eq!(visible.contains(name), access.allows(name, &tags), "{name}");
        }
        let hidden = all
            .iter()
            .find(|n| !visible.contains(n))
            .expect("some group is hidden");
        let err = restricted
            .read_events(
                &ReadRequest::whole_group(hidden.as_str()),
                &ReadCounters::default(),
            )
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::GroupNotFound { .. }), "{err}");
        let err = restricted
            .list_streams(hidden, None, &ReadCounters::default())
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::GroupNotFound { .. }), "{err}");
        let pages: Vec<EventPage> = restricted
            .read_events(
                &ReadRequest::whole_group(visible[0].as_str()),
                &ReadCounters::default(),
            )
            .try_collect()
            .await
            .unwrap();
        assert!(pages.iter().map(|p| p.events.len()).sum::<usize>() > 0);
    }
}
