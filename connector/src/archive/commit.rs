//! Commit records: the truth of what a day of the archive holds.
//!
//! Each record is created once, with a create-only write, and names every
//! part of the day; the newest version is the day. See docs/archive.md for
//! why that makes the archive exactly-once.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use serde::{Deserialize, Serialize};

use super::layout::{commit_path, commits_of, parse_commit, Day};
use super::store::ArchiveRoot;
use crate::error::{ConnectorError, Result};

/// 2: content hashes from xxHash64 (1: from SHA-256, see
/// [`ContentHash`]).
pub const FORMAT: u32 = 2;

/// One Parquet file of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartFile {
    /// Relative to the archive root.
    pub path: String,
    /// Where the part was staged; read from there while the final copy is
    /// missing (a run stopped between its commit and the copy).
    pub staged: String,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    pub min_time_ms: i64,
    pub max_time_ms: i64,
}

/// One version of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub format: u32,
    pub catalog: String,
    pub log_group: String,
    pub day: String,
    pub version: u64,
    pub parts: Vec<PartFile>,
    /// Events of the day in the archive.
    pub rows: u64,
    /// Order-independent hash of the events' ids (see [`ContentHash`]).
    pub content_hash: String,
    /// When the run that made this version began reading the day.
    pub read_started_ms: i64,
    /// No event can arrive for the day any more; it is never read again.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// False when CloudWatch had already expired part of the day before it
    /// was first archived.
    pub complete: bool,
    /// Set by prune: the day's parts were deleted on schedule.
    #[serde(default)]
    pub pruned: bool,
    pub run: String,
    pub committed_at: String,
}

impl CommitRecord {
    /// The first version of a day, with no parts.
    pub fn empty(catalog: &str, group: &str, day: Day) -> Self {
        Self {
            format: FORMAT,
            catalog: catalog.to_string(),
            log_group: group.to_string(),
            day: day.text(),
            version: 0,
            parts: Vec::new(),
            rows: 0,
            content_hash: ContentHash::default().hex(),
            read_started_ms: 0,
            is_final: false,
            complete: true,
            pruned: false,
            run: String::new(),
            committed_at: String::new(),
        }
    }

    pub fn day(&self) -> Option<Day> {
        Day::parse(&self.day)
    }
}

/// A wrapping sum over a day's event ids of each id's 128-bit hash (two
/// xxHash64s under different seeds): the same for the same set of events
/// in any order, cheap to extend with a new part, and cheap to compute,
/// which matters because every archived event passes through it. It
/// tells a difference between the archive and CloudWatch apart from
/// chance, not from an adversary: the parts' SHA-256 in the commit record
/// is what shows a file was not altered. Records of format 1 hashed with
/// SHA-256; a run extending such a day hashes its parts again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentHash(pub u128);

impl ContentHash {
    pub fn add(&mut self, event_id: &str) {
        use twox_hash::XxHash64;
        const SEEDS: (u64, u64) = (0x6c6f_6766_6c69_6768, 0x9e37_79b9_7f4a_7c15);
        let high = XxHash64::oneshot(SEEDS.0, event_id.as_bytes());
        let low = XxHash64::oneshot(SEEDS.1, event_id.as_bytes());
        self.0 = self
            .0
            .wrapping_add((u128::from(high) << 64) | u128::from(low));
    }

    /// The hash of a set of ids.
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hash = Self::default();
        ids.into_iter().for_each(|id| hash.add(id));
        hash
    }

    pub fn combine(self, other: ContentHash) -> ContentHash {
        ContentHash(self.0.wrapping_add(other.0))
    }

    pub fn hex(self) -> String {
        format!("{:032x}", self.0)
    }

    pub fn parse(text: &str) -> Option<ContentHash> {
        u128::from_str_radix(text, 16).ok().map(ContentHash)
    }
}

/// The newest record of every day of a group.
pub async fn latest(
    root: &ArchiveRoot,
    catalog: &str,
    group: &str,
) -> Result<BTreeMap<Day, CommitRecord>> {
    let prefix = commits_of(catalog, group);
    let listed: Vec<_> = root
        .store()
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| root.error("list the commit records", &e))?;
    let mut newest: BTreeMap<Day, (u64, Path)> = BTreeMap::new();
    for meta in listed {
        if let Some((day, version)) = parse_commit(&meta.location) {
            let entry = newest
                .entry(day)
                .or_insert((version, meta.location.clone()));
            if version > entry.0 {
                *entry = (version, meta.location);
            }
        }
    }
    let mut records = BTreeMap::new();
    for (day, (_, location)) in newest {
        records.insert(day, read(root, &location).await?);
    }
    Ok(records)
}

async fn read(root: &ArchiveRoot, location: &Path) -> Result<CommitRecord> {
    let bytes = root
        .store()
        .get(location)
        .await
        .map_err(|e| root.error("read a commit record", &e))?
        .bytes()
        .await
        .map_err(|e| root.error("read a commit record", &e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ConnectorError::Archive(format!("commit record {location} is not valid: {e}")))
}

/// What creating a version came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Yes,
    /// Another run created this version first.
    Taken,
}

/// Creates `record` as its version; never overwrites one.
pub async fn create(root: &ArchiveRoot, record: &CommitRecord) -> Result<Created> {
    let day = record
        .day()
        .ok_or_else(|| ConnectorError::Archive(format!("bad day {:?}", record.day)))?;
    let location = commit_path(&record.catalog, &record.log_group, day, record.version);
    let body = serde_json::to_vec_pretty(record)
        .map_err(|e| ConnectorError::Archive(format!("cannot encode a commit record: {e}")))?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match root.store().put_opts(&location, body.into(), options).await {
        Ok(_) => Ok(Created::Yes),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Taken),
        Err(e) => Err(root.error("create a commit record", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hashes_ignore_order_and_combine() {
        let mut a = ContentHash::default();
        for id in ["1", "2", "3"] {
            a.add(id);
        }
        let mut b = ContentHash::default();
        for id in ["3", "1"] {
            b.add(id);
        }
        let mut two = ContentHash::default();
        two.add("2");
        assert_ne!(a, b);
        assert_eq!(a, b.combine(two));
        assert_eq!(ContentHash::parse(&a.hex()), Some(a));
    }

    #[tokio::test]
    async fn versions_are_created_once_and_the_newest_wins() {
        let root = ArchiveRoot::in_memory();
        let day = Day::parse("2026-11-24").unwrap();
        let mut record = CommitRecord::empty("c", "/g", day);
        record.version = 1;
        assert_eq!(create(&root, &record).await.unwrap(), Created::Yes);
        record.rows = 99;
        assert_eq!(create(&root, &record).await.unwrap(), Created::Taken);
        record.version = 2;
        record.rows = 5;
        assert_eq!(create(&root, &record).await.unwrap(), Created::Yes);
        let mut other = CommitRecord::empty("c", "/g", day.next());
        other.version = 1;
        create(&root, &other).await.unwrap();
        let newest = latest(&root, "c", "/g").await.unwrap();
        assert_eq!(newest.len(), 2);
        assert_eq!(newest[&day].version, 2);
        assert_eq!(newest[&day].rows, 5);
        assert!(latest(&root, "c", "/other").await.unwrap().is_empty());
    }
}
