//! CloudWatch Logs as a DataFusion catalog: each log group a schema, each log
//! stream a table, plus the virtual `all_log_streams` table in every group.
//!
//! DataFusion asks for schemas synchronously, so group and stream listings
//! live in a cache with a time-to-live. Before a statement is planned, the
//! session calls [`LogCatalog::prepare_table`] (or
//! [`LogCatalog::prepare_listing`]) for what it references; those are async,
//! refresh what is stale and turn unknown or ambiguous names into errors
//! that name the problem, which the sync trait methods could not return.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result as DfResult;
use futures::{StreamExt, TryStreamExt};
use tracing::debug;

use crate::access::{GroupAccess, RestrictedSource};
use crate::archive::schema::{is_archive_schema, resolve_archived, ArchiveSchema, ARCHIVE_SCHEMA};
use crate::archive::table::ArchiveView;
use crate::counters::ReadCounters;
use crate::error::{ConnectorError, Result};
use crate::formats::detect::{detect, FormatKind, FormatRule};
use crate::formats::{instantiate, RecordFormat};
use crate::meta_schema::{check_meta_table, is_meta_schema, MetaSchema, META_SCHEMA};
use crate::model::{LogGroup, LogStream};
use crate::names::{not_found_hint, resolve_name, similar_names, NameMatch};
use crate::scan::ScanTotals;
use crate::source::SharedSource;
use crate::table::{LogTable, ScanOptions, TableScope};
use crate::typed_table::TypedTable;

/// The virtual table over every stream of a group.
pub const ALL_LOG_STREAMS: &str = "all_log_streams";

/// How many groups' streams are listed at once for information_schema.
const LISTING_CONCURRENCY: usize = 4;

#[derive(Debug)]
struct Cached<T> {
    at: Instant,
    value: T,
}

#[derive(Debug)]
struct CatalogState {
    name: String,
    source: SharedSource,
    ttl: Duration,
    scan: ScanOptions,
    totals: Arc<ScanTotals>,
    groups: RwLock<Option<Cached<Arc<Vec<LogGroup>>>>>,
    streams: RwLock<HashMap<String, Cached<Arc<Vec<LogStream>>>>>,
    /// (group, stream) names found by an exact prefix lookup, and when: a
    /// query names its stream table at planning and again at scan time, and
    /// dashboards repeat queries; each would otherwise cost a listing call.
    exact_streams: RwLock<HashMap<(String, String), Instant>>,
    /// The catalog's archive, if it has one.
    archive: Option<Arc<ArchiveView>>,
    /// The operator's `[[typed_tables]]` rules.
    format_rules: Arc<Vec<FormatRule>>,
    /// Each group's typed table, once resolved (see [`crate::formats::detect`]).
    formats: RwLock<HashMap<String, Cached<Option<TypedFormat>>>>,
}

/// A group's typed table: which format, and its decoder and pushdown.
#[derive(Debug, Clone)]
pub struct TypedFormat {
    pub kind: FormatKind,
    pub format: Arc<dyn RecordFormat>,
}

/// The catalog named `name`, or an error listing the catalogs there are;
/// `context` starts the message (e.g. the function that asked).
pub fn find_catalog<'a>(
    catalogs: &'a BTreeMap<String, LogCatalog>,
    name: &str,
    context: &str,
) -> Result<&'a LogCatalog> {
    catalogs.get(name).ok_or_else(|| {
        ConnectorError::InvalidRequest(format!(
            "{context}unknown catalog {name:?}; catalogs are: {}",
            catalogs.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// One catalog over one [`LogSource`](crate::source::LogSource).
#[derive(Debug, Clone)]
pub struct LogCatalog {
    state: Arc<CatalogState>,
}

impl LogCatalog {
    /// `ttl` bounds how stale a group or stream listing may be.
    pub fn new(name: impl Into<String>, source: SharedSource, ttl: Duration) -> Self {
        Self::with_scan_options(name, source, ttl, ScanOptions::default())
    }

    pub fn with_scan_options(
        name: impl Into<String>,
        source: SharedSource,
        ttl: Duration,
        scan: ScanOptions,
    ) -> Self {
        Self {
            state: Arc::new(CatalogState {
                name: name.into(),
                source,
                ttl,
                scan,
                totals: Arc::default(),
                groups: RwLock::new(None),
                streams: RwLock::new(HashMap::new()),
                exact_streams: RwLock::new(HashMap::new()),
                archive: None,
                format_rules: Arc::default(),
                formats: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// A copy of this catalog's settings over `source` and `archive`, with
    /// empty caches (scan totals are shared).
    fn fresh_state(
        &self,
        source: SharedSource,
        archive: Option<Arc<ArchiveView>>,
        format_rules: Arc<Vec<FormatRule>>,
    ) -> Self {
        let state = &self.state;
        Self {
            state: Arc::new(CatalogState {
                name: state.name.clone(),
                source,
                ttl: state.ttl,
                scan: state.scan,
                totals: Arc::clone(&state.totals),
                groups: RwLock::new(None),
                streams: RwLock::new(HashMap::new()),
                exact_streams: RwLock::new(HashMap::new()),
                archive,
                format_rules,
                formats: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The same catalog with an archive, which answers the days it holds
    /// and its own schema `logflight$archive`.
    pub fn with_archive(self, archive: ArchiveView) -> Self {
        self.fresh_state(
            Arc::clone(&self.state.source),
            Some(Arc::new(archive)),
            Arc::clone(&self.state.format_rules),
        )
    }

    /// The same catalog with the operator's `[[typed_tables]]` rules.
    pub fn with_format_rules(self, rules: Vec<FormatRule>) -> Self {
        self.fresh_state(
            Arc::clone(&self.state.source),
            self.state.archive.clone(),
            Arc::new(rules),
        )
    }

    pub fn archive(&self) -> Option<&Arc<ArchiveView>> {
        self.state.archive.as_ref()
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The same catalog as one principal sees it: only the groups `access`
    /// allows, on every path (see [`crate::access`]). Listings are cached
    /// per view; scan totals are shared with `self`, so server metrics
    /// count every principal's reads.
    pub fn restricted(&self, access: GroupAccess) -> LogCatalog {
        let archive = self
            .state
            .archive
            .as_ref()
            .map(|a| Arc::new(a.restricted(access.clone())));
        let source: SharedSource = Arc::new(RestrictedSource::new(
            Arc::clone(&self.state.source),
            access,
            self.state.ttl,
        ));
        self.fresh_state(source, archive, Arc::clone(&self.state.format_rules))
    }

    pub fn source(&self) -> &SharedSource {
        &self.state.source
    }

    /// What every scan of this catalog has fetched since start.
    pub fn scan_totals(&self) -> &ScanTotals {
        &self.state.totals
    }

    /// The totals a scan of this catalog adds to.
    pub fn shared_totals(&self) -> Arc<ScanTotals> {
        Arc::clone(&self.state.totals)
    }

    fn cached_groups(&self, fresh_only: bool) -> Option<Arc<Vec<LogGroup>>> {
        let guard = self.state.groups.read().expect("group cache lock");
        guard
            .as_ref()
            .filter(|c| !fresh_only || c.at.elapsed() < self.state.ttl)
            .map(|c| Arc::clone(&c.value))
    }

    async fn refresh_groups(&self) -> Result<Arc<Vec<LogGroup>>> {
        let mut groups = self.state.source.list_groups().await?;
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        let groups = Arc::new(groups);
        *self.state.groups.write().expect("group cache lock") = Some(Cached {
            at: Instant::now(),
            value: Arc::clone(&groups),
        });
        Ok(groups)
    }

    /// Every log group, from the cache when it is fresh.
    pub async fn groups(&self) -> Result<Arc<Vec<LogGroup>>> {
        match self.cached_groups(true) {
            Some(g) => Ok(g),
            None => self.refresh_groups().await,
        }
    }

    /// The log group a SQL name refers to (see [`crate::names`]).
    pub async fn resolve_group(&self, name: &str) -> Result<LogGroup> {
        let mut groups = self.groups().await?;
        let mut refreshed = false;
        loop {
            match resolve_name(name, groups.iter().map(|g| g.name.as_str())) {
                NameMatch::Exact(n) | NameMatch::CaseInsensitive(n) => {
                    return Ok(groups
                        .iter()
                        .find(|g| g.name == n)
                        .cloned()
                        .expect("resolved name is listed"))
                }
                NameMatch::Ambiguous(candidates) => {
                    return Err(ConnectorError::AmbiguousName {
                        kind: "log group",
                        name: name.to_string(),
                        candidates,
                    })
                }
                // The group may have been created since the last listing.
                NameMatch::NotFound if !refreshed => {
                    groups = self.refresh_groups().await?;
                    refreshed = true;
                }
                NameMatch::NotFound => {
                    let similar = similar_names(name, groups.iter().map(|g| g.name.as_str()), 5);
                    return Err(ConnectorError::GroupNotFound {
                        name: name.to_string(),
                        hint: not_found_hint(
                            &similar,
                            "list the log groups with SELECT schema_name FROM information_schema.schemata",
                        ),
                    });
                }
            }
        }
    }

    fn cached_streams(&self, group: &str, fresh_only: bool) -> Option<Arc<Vec<LogStream>>> {
        let guard = self.state.streams.read().expect("stream cache lock");
        guard
            .get(group)
            .filter(|c| !fresh_only || c.at.elapsed() < self.state.ttl)
            .map(|c| Arc::clone(&c.value))
    }

    /// Every stream of a group (fully listed), from the cache when fresh.
    pub async fn streams(&self, group: &str) -> Result<Arc<Vec<LogStream>>> {
        if let Some(s) = self.cached_streams(group, true) {
            return Ok(s);
        }
        let pages: Vec<Vec<LogStream>> = self
            .state
            .source
            .list_streams(group, None, &ReadCounters::default())
            .try_collect()
            .await?;
        let mut streams: Vec<LogStream> = pages.into_iter().flatten().collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        let streams = Arc::new(streams);
        debug!(group, count = streams.len(), "listed log streams");
        self.state
            .streams
            .write()
            .expect("stream cache lock")
            .insert(
                group.to_string(),
                Cached {
                    at: Instant::now(),
                    value: Arc::clone(&streams),
                },
            );
        Ok(streams)
    }

    /// Looks for a stream with exactly this name using a prefix listing, which
    /// touches only the streams that start with it.
    async fn find_exact_stream(&self, group: &str, name: &str) -> Result<bool> {
        if self
            .cached_streams(group, true)
            .is_some_and(|s| s.iter().any(|s| s.name == name))
        {
            return Ok(true);
        }
        let key = (group.to_string(), name.to_string());
        let found_at = self
            .state
            .exact_streams
            .read()
            .expect("exact stream cache lock")
            .get(&key)
            .copied();
        if found_at.is_some_and(|at| at.elapsed() < self.state.ttl) {
            return Ok(true);
        }
        let mut pages = self
            .state
            .source
            .list_streams(group, Some(name), &ReadCounters::default());
        while let Some(page) = pages.next().await {
            if page?.iter().any(|s| s.name == name) {
                let mut found = self
                    .state
                    .exact_streams
                    .write()
                    .expect("exact stream cache lock");
                // Bounded: stale entries go when the map grows.
                if found.len() >= 10_000 {
                    let ttl = self.state.ttl;
                    found.retain(|_, at| at.elapsed() < ttl);
                }
                found.insert(key, Instant::now());
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The stream (or `all_log_streams`) a SQL table name refers to in `group`.
    pub async fn resolve_table(&self, group: &str, name: &str) -> Result<TableScope> {
        if name.eq_ignore_ascii_case(ALL_LOG_STREAMS) {
            return Ok(TableScope::AllStreams);
        }
        let typed = FormatKind::of_table(name);
        if let Some(kind) = typed {
            if self
                .typed_format(group)
                .await?
                .is_some_and(|t| t.kind == kind)
            {
                return Ok(TableScope::Typed(kind));
            }
        }
        if self.find_exact_stream(group, name).await? {
            return Ok(TableScope::Stream(name.to_string()));
        }
        let streams = self.streams(group).await?;
        match resolve_name(name, streams.iter().map(|s| s.name.as_str())) {
            NameMatch::Exact(n) | NameMatch::CaseInsensitive(n) => Ok(TableScope::Stream(n)),
            NameMatch::Ambiguous(candidates) => Err(ConnectorError::AmbiguousName {
                kind: "log stream",
                name: name.to_string(),
                candidates,
            }),
            NameMatch::NotFound => {
                if let Some(kind) = typed {
                    return Err(ConnectorError::InvalidRequest(format!(
                        "log group {group:?} has no {} table: nothing in its name or its streams' names says it holds {} records (docs/typed-tables.md); if it does, say so in the config: [[typed_tables]] log_groups = [{group:?}], format = {:?}",
                        kind.table_name(),
                        kind.name(),
                        kind.name(),
                    )));
                }
                let similar = similar_names(name, streams.iter().map(|s| s.name.as_str()), 5);
                Err(ConnectorError::StreamNotFound {
                    group: group.to_string(),
                    stream: name.to_string(),
                    hint: not_found_hint(
                        &similar,
                        &format!(
                            "the group has {} streams; query all_log_streams to read them all",
                            streams.len()
                        ),
                    ),
                })
            }
        }
    }

    /// Makes `schema.table` resolvable by the sync DataFusion APIs, or
    /// explains why it is not; returns the log group's exact name (none for
    /// the metadata schema), for the audit log.
    pub async fn prepare_table(&self, schema: &str, table: &str) -> Result<Option<String>> {
        if is_meta_schema(schema) {
            return check_meta_table(table).map(|_| None);
        }
        if let (true, Some(archive)) = (is_archive_schema(schema), self.archive()) {
            return resolve_archived(archive, table).await.map(Some);
        }
        let found = async {
            let group = self.resolve_group(schema).await?;
            self.resolve_table(&group.name, table).await?;
            Ok(Some(group.name))
        };
        found
            .await
            .map_err(|e: ConnectorError| e.searched_in(&self.place()))
    }

    /// `catalog "NAME" (SOURCE)`, e.g. `catalog "cloudwatch"
    /// (cloudwatch(us-east-1))`: where a name was looked for, in messages.
    pub fn place(&self) -> String {
        format!("catalog {:?} ({})", self.name(), self.source().describe())
    }

    /// Loads every group's stream listing, for information_schema queries.
    pub async fn prepare_listing(&self) -> Result<()> {
        let names: Vec<String> = self
            .groups()
            .await?
            .iter()
            .map(|g| g.name.clone())
            .collect();
        let catalog = self.clone();
        futures::stream::iter(names.into_iter().map(move |name| {
            let catalog = catalog.clone();
            async move { catalog.streams(&name).await.map(|_| ()) }
        }))
        .buffer_unordered(LISTING_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        if let Some(archive) = self.archive() {
            archive.groups().await?;
        }
        Ok(())
    }

    /// Table names of a group (streams, then `all_log_streams`, then its
    /// typed table if it has one) as last listed.
    pub fn cached_table_names(&self, group: &str) -> Vec<String> {
        let streams = self.cached_streams(group, false);
        let mut names: Vec<String> = streams
            .as_ref()
            .map(|s| s.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        names.push(ALL_LOG_STREAMS.to_string());
        if let Some(kind) = self.cached_typed_table(group, streams.as_deref().map(Vec::as_slice)) {
            names.push(kind.table_name().to_string());
        }
        names
    }

    /// The typed table `group` has as far as the rules and the last
    /// listing (`streams`) tell, without I/O.
    fn cached_typed_table(&self, group: &str, streams: Option<&[LogStream]>) -> Option<FormatKind> {
        detect(group, streams, &self.state.format_rules).map(|found| found.kind)
    }

    /// The typed table `group` has, if any: decided by the rules and names
    /// of [`crate::formats::detect`] (the first page of streams when the
    /// group's name says nothing), with a flow log's format from the rule
    /// or else from the source (EC2 DescribeFlowLogs); cached for the TTL.
    pub async fn typed_format(&self, group: &str) -> Result<Option<TypedFormat>> {
        if let Some(c) = self
            .state
            .formats
            .read()
            .expect("format cache lock")
            .get(group)
            .filter(|c| c.at.elapsed() < self.state.ttl)
        {
            return Ok(c.value.clone());
        }
        let rules = &self.state.format_rules;
        let mut found = detect(group, None, rules);
        if found.is_none() {
            let sample = match self.cached_streams(group, true) {
                Some(all) => all.as_ref().clone(),
                None => self
                    .state
                    .source
                    .list_streams(group, None, &ReadCounters::default())
                    .next()
                    .await
                    .transpose()?
                    .unwrap_or_default(),
            };
            found = detect(group, Some(&sample), rules);
        }
        let typed = match found {
            None => None,
            Some(found) => {
                let flow_log_format = match (found.kind, found.flow_log_format) {
                    (FormatKind::FlowLogs, None) => {
                        self.state.source.flow_log_format(group).await?
                    }
                    (_, given) => given,
                };
                let format = instantiate(found.kind, flow_log_format.as_deref()).map_err(|e| {
                    ConnectorError::Config(format!("the flow log format of {group:?}: {e}"))
                })?;
                Some(TypedFormat {
                    kind: found.kind,
                    format,
                })
            }
        };
        self.state
            .formats
            .write()
            .expect("format cache lock")
            .insert(
                group.to_string(),
                Cached {
                    at: Instant::now(),
                    value: typed.clone(),
                },
            );
        Ok(typed)
    }
}

impl CatalogProvider for LogCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .cached_groups(false)
            .map(|g| g.iter().map(|g| g.name.clone()).collect())
            .unwrap_or_default();
        names.push(META_SCHEMA.to_string());
        if self.archive().is_some() {
            names.push(ARCHIVE_SCHEMA.to_string());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if is_meta_schema(name) {
            return Some(Arc::new(MetaSchema::new(Arc::clone(self.source()))));
        }
        if is_archive_schema(name) {
            let archive = self.archive()?;
            return Some(Arc::new(ArchiveSchema::new(
                Arc::clone(archive),
                self.state.scan,
            )));
        }
        let groups = self.cached_groups(false)?;
        match resolve_name(name, groups.iter().map(|g| g.name.as_str())) {
            NameMatch::Exact(n) | NameMatch::CaseInsensitive(n) => {
                let group = groups.iter().find(|g| g.name == n)?.clone();
                Some(Arc::new(GroupSchema {
                    catalog: self.clone(),
                    group,
                }))
            }
            _ => None,
        }
    }
}

/// One log group seen as a schema.
#[derive(Debug)]
pub struct GroupSchema {
    catalog: LogCatalog,
    group: LogGroup,
}

#[async_trait]
impl SchemaProvider for GroupSchema {
    fn table_names(&self) -> Vec<String> {
        self.catalog.cached_table_names(&self.group.name)
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let scope = self.catalog.resolve_table(&self.group.name, name).await?;
        let table = LogTable::new(
            self.catalog.name(),
            Arc::clone(self.catalog.source()),
            Arc::clone(&self.catalog.state.totals),
            self.group.clone(),
            scope.clone(),
            self.catalog.state.scan,
        )
        .with_archive(self.catalog.archive().cloned());
        if let TableScope::Typed(kind) = scope {
            let typed = self
                .catalog
                .typed_format(&self.group.name)
                .await?
                .filter(|t| t.kind == kind)
                .ok_or_else(|| {
                    ConnectorError::InvalidRequest(format!(
                        "log group {:?} no longer has a {} table",
                        self.group.name,
                        kind.table_name()
                    ))
                })?;
            return Ok(Some(Arc::new(TypedTable::new(table, kind, typed.format))));
        }
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(ALL_LOG_STREAMS)
            || FormatKind::of_table(name).is_some_and(|kind| {
                let streams = self.catalog.cached_streams(&self.group.name, false);
                self.catalog
                    .cached_typed_table(&self.group.name, streams.as_deref().map(Vec::as_slice))
                    == Some(kind)
            })
            || self
                .catalog
                .cached_streams(&self.group.name, false)
                .is_some_and(|s| {
                    !matches!(
                        resolve_name(name, s.iter().map(|s| s.name.as_str())),
                        NameMatch::NotFound | NameMatch::Ambiguous(_)
                    )
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::demo::DemoSource;

    fn catalog() -> LogCatalog {
        LogCatalog::new(
            "cloudwatch",
            Arc::new(DemoSource::generate(1_795_000_000_000)),
            Duration::from_secs(60),
        )
    }

    #[tokio::test]
    async fn resolves_groups_and_tables_with_clear_errors() {
        let c = catalog();
        assert_eq!(
            c.resolve_group("/ecs/payments-service").await.unwrap().name,
            "/ecs/Payments-Service"
        );
        let err = c.resolve_group("orders").await.unwrap_err().to_string();
        assert!(
            err.contains("\"orders\" not found") && err.contains("/aws/lambda/orders-api"),
            "{err}"
        );
        assert_eq!(
            c.resolve_table("/ecs/Payments-Service", "payments-worker")
                .await
                .unwrap(),
            TableScope::Stream("Payments-Worker".into())
        );
        assert_eq!(
            c.resolve_table("/ecs/Payments-Service", "ALL_LOG_STREAMS")
                .await
                .unwrap(),
            TableScope::AllStreams
        );
        let err = c
            .resolve_table("/vpc/flow-logs", "eni-x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"eni-x\" not found in log group \"/vpc/flow-logs\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sync_views_follow_the_cache() {
        let c = catalog();
        // Before any listing, only the metadata schema, which is always there.
        assert_eq!(c.schema_names(), vec![META_SCHEMA.to_string()]);
        c.prepare_listing().await.unwrap();
        assert!(c.schema_names().contains(&"/var/log/secure".to_string()));
        let schema = c
            .schema("/VAR/LOG/SECURE")
            .expect("case-insensitive schema");
        assert_eq!(
            schema.table_names(),
            vec![
                "ip-10-0-1-12",
                "ip-10-0-2-34",
                "ip-10-0-3-99",
                ALL_LOG_STREAMS
            ]
        );
        assert!(schema.table_exist("IP-10-0-1-12"));
        assert!(!schema.table_exist("nope"));
    }
}
