//! `logflight archive verify`: each archived day against its own records
//! (every part present, of the size and SHA-256 its commit names, its
//! events hashing to the day's content hash) and against CloudWatch (the
//! same events, by id and by content hash, for the same day).

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

use super::commit::{self, CommitRecord, ContentHash};
use super::layout::Day;
use super::part::{event_ids, ids_in, readable};
use super::store::ArchiveRoot;
use crate::counters::ReadCounters;
use crate::error::Result;
use crate::model::{LogGroup, LogGroupClass, ReadApi, ReadRequest, StreamSelection, TimeRange};
use crate::source::SharedSource;

/// The verdict on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCheck {
    pub log_group: String,
    pub day: Day,
    pub archived: u64,
    pub in_cloudwatch: u64,
    /// Events CloudWatch has that the archive does not.
    pub missing_from_archive: u64,
    /// Events the archive has that CloudWatch no longer has (expired by
    /// retention, or the group deleted): expected, not an error.
    pub gone_from_cloudwatch: u64,
    /// Parts whose files are missing or differ from their commit.
    pub damaged_parts: Vec<String>,
    /// The content hash of the events the parts hold (hex; empty when a
    /// part is damaged) and of the events CloudWatch holds for the day.
    pub archive_hash: String,
    pub cloudwatch_hash: String,
}

impl DayCheck {
    /// True when the archive is whole and holds everything CloudWatch has.
    pub fn ok(&self) -> bool {
        self.missing_from_archive == 0 && self.damaged_parts.is_empty()
    }
}

/// Checks every committed day of `group` in `range`.
pub async fn verify_group(
    root: &ArchiveRoot,
    catalog: &str,
    source: &SharedSource,
    group: &LogGroup,
    range: TimeRange,
) -> Result<Vec<DayCheck>> {
    let latest = commit::latest(root, catalog, &group.name).await?;
    let mut checks = Vec::new();
    for (day, record) in latest {
        let span = TimeRange::new(Some(day.start_ms()), Some(day.end_ms()));
        if record.pruned || span.intersect(&range).is_empty() {
            continue;
        }
        checks.push(verify_day(root, source, group, day, &record).await?);
    }
    Ok(checks)
}

async fn verify_day(
    root: &ArchiveRoot,
    source: &SharedSource,
    group: &LogGroup,
    day: Day,
    record: &CommitRecord,
) -> Result<DayCheck> {
    let mut damaged = Vec::new();
    for part in &record.parts {
        let location = readable(root, part).await?;
        let bytes = match root.store().get(&location).await {
            Ok(got) => got
                .bytes()
                .await
                .map_err(|e| root.error("read a part", &e))?,
            Err(object_store::Error::NotFound { .. }) => {
                damaged.push(format!("{} is missing", part.path));
                continue;
            }
            Err(e) => return Err(root.error("read a part", &e)),
        };
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if bytes.len() as u64 != part.bytes || sha != part.sha256 {
            damaged.push(format!(
                "{} differs from its commit (SHA-256 {sha}, {} bytes; the commit says {}, {} bytes)",
                part.path,
                bytes.len(),
                part.sha256,
                part.bytes
            ));
        }
    }
    let span = TimeRange::new(Some(day.start_ms()), Some(day.end_ms()));
    let archived = if damaged.is_empty() {
        ids_in(root, &record.parts, span).await?
    } else {
        Default::default()
    };
    let archive_hash = if damaged.is_empty() {
        let hash = ContentHash::of(archived.iter().map(String::as_str)).hex();
        // Records before format 2 hashed ids with SHA-256; theirs cannot be compared.
        if record.format >= commit::FORMAT && hash != record.content_hash {
            damaged.push(format!(
                "the parts' events hash to {hash}, the commit record says {}",
                record.content_hash
            ));
        }
        hash
    } else {
        String::new()
    };
    let live = cloudwatch_ids(source, group, span).await?;
    let cloudwatch_hash = ContentHash::of(live.iter().map(String::as_str)).hex();
    Ok(DayCheck {
        log_group: group.name.clone(),
        day,
        archived: record.rows,
        in_cloudwatch: live.len() as u64,
        missing_from_archive: live.iter().filter(|id| !archived.contains(*id)).count() as u64,
        gone_from_cloudwatch: archived.iter().filter(|id| !live.contains(*id)).count() as u64,
        damaged_parts: damaged,
        archive_hash,
        cloudwatch_hash,
    })
}

async fn cloudwatch_ids(
    source: &SharedSource,
    group: &LogGroup,
    span: TimeRange,
) -> Result<std::collections::HashSet<String>> {
    let request = ReadRequest {
        group: group.name.clone(),
        streams: StreamSelection::All,
        time: span,
        filter_pattern: None,
        limit: None,
        require_streams: false,
        api: match group.class {
            LogGroupClass::InfrequentAccess => ReadApi::GetLogEvents,
            _ => ReadApi::FilterLogEvents,
        },
    };
    let pages: Vec<_> = source
        .read_events(&request, &ReadCounters::default())
        .try_collect()
        .await?;
    let events: Vec<_> = pages
        .into_iter()
        .flat_map(|p| p.events)
        .filter(|e| span.contains(e.timestamp_ms))
        .collect();
    Ok(event_ids(&events).into_iter().collect())
}
