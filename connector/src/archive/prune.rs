//! `logflight archive prune`: deleting days past their retention, on the
//! record.
//!
//! A deletion record (who, when, which files with their rows and SHA-256)
//! is created first and stays; then each day gets a last commit version
//! marked `pruned`, so no later run archives it again and no reader looks
//! for its files; then the files are deleted. A prune stopped half way is
//! finished by the next one. Groups under a legal hold (a tag, or a name
//! pattern given by the operator) are never touched, and said so.

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::commit::{self, CommitRecord, ContentHash, Created, PartFile};
use super::groups::GroupRecord;
use super::layout::{deletion_path, Day};
use super::store::ArchiveRoot;
use crate::access::NamePattern;
use crate::error::{ConnectorError, Result};
use crate::time::{iso8601, DAY_MS};

/// The tag that puts a group under a legal hold (any value).
pub const HOLD_TAG: &str = "logflight:legal-hold";

#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Days that ended more than this many days ago are deleted.
    pub older_than_days: u32,
    /// Groups whose names match are held.
    pub holds: Vec<NamePattern>,
    /// Who asks, for the deletion record.
    pub who: String,
    pub run: String,
}

/// The record of one prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub format: u32,
    pub run: String,
    pub who: String,
    pub at: String,
    pub older_than_days: u32,
    pub days: Vec<DeletedDay>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedDay {
    pub catalog: String,
    pub log_group: String,
    pub day: String,
    pub rows: u64,
    pub content_hash: String,
    pub files: Vec<PartFile>,
}

#[derive(Debug, Default)]
pub struct PruneReport {
    pub record: Option<String>,
    pub days: usize,
    pub files: usize,
    pub rows: u64,
    /// Groups kept whole, with why.
    pub held: Vec<(String, String)>,
}

/// Why a group is held, if it is.
fn hold(group: &GroupRecord, holds: &[NamePattern]) -> Option<String> {
    if let Some(value) = group.tags.get(HOLD_TAG) {
        return Some(format!("tagged {HOLD_TAG}={value}"));
    }
    holds
        .iter()
        .find(|p| p.matches(&group.log_group))
        .map(|p| format!("held by the pattern {}", p.text()))
}

/// Prunes the archived `groups` of `catalog`.
pub async fn prune(
    root: &ArchiveRoot,
    catalog: &str,
    groups: &[GroupRecord],
    now: i64,
    options: &PruneOptions,
) -> Result<PruneReport> {
    let cutoff = now - i64::from(options.older_than_days) * DAY_MS;
    let mut report = PruneReport::default();
    let mut victims: Vec<(String, Day, CommitRecord)> = Vec::new();
    for group in groups {
        if let Some(why) = hold(group, &options.holds) {
            report.held.push((group.log_group.clone(), why));
            continue;
        }
        for (day, record) in commit::latest(root, catalog, &group.log_group).await? {
            if record.pruned {
                // A prune stopped after this tombstone may have left files.
                delete_parts(root, &record.parts).await?;
            } else if day.end_ms() < cutoff && !record.parts.is_empty() {
                victims.push((group.log_group.clone(), day, record));
            }
        }
    }
    if victims.is_empty() {
        return Ok(report);
    }
    let record = DeletionRecord {
        format: 1,
        run: options.run.clone(),
        who: options.who.clone(),
        at: iso8601(now),
        older_than_days: options.older_than_days,
        rows: victims.iter().map(|(_, _, r)| r.rows).sum(),
        days: victims
            .iter()
            .map(|(group, day, r)| DeletedDay {
                catalog: catalog.to_string(),
                log_group: group.clone(),
                day: day.text(),
                rows: r.rows,
                content_hash: r.content_hash.clone(),
                files: r.parts.clone(),
            })
            .collect(),
    };
    let location = deletion_path(&record.at, &options.run);
    let body = serde_json::to_vec_pretty(&record)
        .map_err(|e| ConnectorError::Archive(format!("cannot encode a deletion record: {e}")))?;
    let put = object_store::PutOptions {
        mode: object_store::PutMode::Create,
        ..Default::default()
    };
    root.store()
        .put_opts(&location, body.into(), put)
        .await
        .map_err(|e| root.error("create the deletion record", &e))?;
    report.record = Some(location.to_string());
    for (group, day, previous) in victims {
        // The tombstone still names the parts, so a prune stopped before
        // deleting them finishes the job; readers skip pruned days.
        let mut tombstone = CommitRecord {
            version: previous.version + 1,
            rows: 0,
            content_hash: ContentHash::default().hex(),
            is_final: true,
            pruned: true,
            run: options.run.clone(),
            committed_at: iso8601(now),
            ..previous.clone()
        };
        tombstone.read_started_ms = previous.read_started_ms;
        if commit::create(root, &tombstone).await? == Created::Taken {
            warn!(group = %group, day = %day.text(), "the day changed while pruning; left for the next prune");
            continue;
        }
        report.days += 1;
        report.rows += previous.rows;
        report.files += previous.parts.len();
        delete_parts(root, &previous.parts).await?;
    }
    Ok(report)
}

async fn delete_parts(root: &ArchiveRoot, parts: &[PartFile]) -> Result<()> {
    for part in parts {
        for path in [&part.path, &part.staged] {
            delete(root, path).await?;
        }
    }
    Ok(())
}

async fn delete(root: &ArchiveRoot, path: &str) -> Result<()> {
    use object_store::ObjectStoreExt;
    let location = object_store::path::Path::parse(path)
        .map_err(|e| ConnectorError::Archive(format!("bad part path {path}: {e}")))?;
    match root.store().delete(&location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(root.error("delete a part", &e)),
    }
}
