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

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Retention rules, (group pattern, days): the first rule matching a
    /// group gives its retention (the config file's `[[retention]]`).
    pub retention: Vec<(NamePattern, u32)>,
    /// The retention of groups no rule names (`--older-than`); without
    /// it they are kept.
    pub default_days: Option<u32>,
    /// Legal holds by group pattern, with what prune says of each
    /// (`--hold`, the config file's `[[legal_holds]]`).
    pub holds: Vec<(NamePattern, String)>,
    /// Who asks, for the deletion record.
    pub who: String,
    pub run: String,
}

impl PruneOptions {
    /// Days a group's archive is kept, and where that comes from.
    pub fn retention_of(&self, group: &str) -> Option<(u32, String)> {
        self.retention
            .iter()
            .find(|(p, _)| p.matches(group))
            .map(|(p, days)| (*days, format!("retention rule {}", p.text())))
            .or_else(|| self.default_days.map(|d| (d, "--older-than".to_string())))
    }
}

/// The record of one prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub format: u32,
    pub run: String,
    pub who: String,
    pub at: String,
    /// `--older-than`, when given; each day records its own retention.
    #[serde(default)]
    pub older_than_days: Option<u32>,
    pub days: Vec<DeletedDay>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedDay {
    pub catalog: String,
    pub log_group: String,
    pub day: String,
    /// The retention the day was deleted under, in days.
    #[serde(default)]
    pub retention_days: u32,
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
    /// Groups no retention rule names (and no `--older-than` was given).
    pub unruled: Vec<String>,
    /// (group, day, why) of days past retention kept by S3 Object Lock.
    pub locked: Vec<(String, Day, String)>,
    /// (group, days, where the retention comes from) of the groups pruned.
    pub retention: Vec<(String, u32, String)>,
}

/// Why a group is held, if it is.
fn hold(group: &GroupRecord, holds: &[(NamePattern, String)]) -> Option<String> {
    if let Some(value) = group.tags.get(HOLD_TAG) {
        return Some(format!("tagged {HOLD_TAG}={value}"));
    }
    holds
        .iter()
        .find(|(p, _)| p.matches(&group.log_group))
        .map(|(_, why)| why.clone())
}

/// Prunes the archived `groups` of `catalog`.
pub async fn prune(
    root: &ArchiveRoot,
    catalog: &str,
    groups: &[GroupRecord],
    now: i64,
    options: &PruneOptions,
) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let mut victims: Vec<(String, Day, CommitRecord, u32)> = Vec::new();
    for group in groups {
        if let Some(why) = hold(group, &options.holds) {
            report.held.push((group.log_group.clone(), why));
            continue;
        }
        let Some((days, source)) = options.retention_of(&group.log_group) else {
            report.unruled.push(group.log_group.clone());
            continue;
        };
        let cutoff = now - i64::from(days) * DAY_MS;
        let before = victims.len();
        for (day, record) in commit::latest(root, catalog, &group.log_group).await? {
            if record.pruned {
                // A prune stopped after this tombstone may have left files.
                delete_parts(root, &record.parts).await?;
            } else if day.end_ms() < cutoff && !record.parts.is_empty() {
                if let Some(why) = locked(root, &record.parts, now).await? {
                    report.locked.push((group.log_group.clone(), day, why));
                    continue;
                }
                victims.push((group.log_group.clone(), day, record, days));
            }
        }
        if victims.len() > before {
            report
                .retention
                .push((group.log_group.clone(), days, source));
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
        older_than_days: options.default_days,
        rows: victims.iter().map(|(_, _, r, _)| r.rows).sum(),
        days: victims
            .iter()
            .map(|(group, day, r, days)| DeletedDay {
                catalog: catalog.to_string(),
                log_group: group.clone(),
                day: day.text(),
                retention_days: *days,
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
    for (group, day, previous, _) in victims {
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

/// Why S3 Object Lock keeps any of `parts` at `now`, if it does: a day
/// is deleted whole or not at all.
async fn locked(root: &ArchiveRoot, parts: &[PartFile], now: i64) -> Result<Option<String>> {
    let Some(locks) = root.locks() else {
        return Ok(None);
    };
    for part in parts {
        if let Some(why) = locks.lock_of(&part.path).await?.blocks(now) {
            return Ok(Some(format!("{why} on {}", part.path)));
        }
    }
    Ok(None)
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
