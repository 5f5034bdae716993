//! What the archive remembers of each group: its tags when it was archived
//! (grants by tag apply to archived data with them), its retention and ARN.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::layout::{group_path, groups_of, parse_group};
use super::store::ArchiveRoot;
use crate::error::{ConnectorError, Result};
use crate::model::LogGroup;
use crate::time::{iso8601, now_ms};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub catalog: String,
    pub log_group: String,
    pub arn: Option<String>,
    pub retention_in_days: Option<i32>,
    pub class: String,
    pub tags: BTreeMap<String, String>,
    pub archived_at: String,
}

impl GroupRecord {
    pub fn of(catalog: &str, group: &LogGroup, tags: BTreeMap<String, String>) -> Self {
        Self {
            catalog: catalog.to_string(),
            log_group: group.name.clone(),
            arn: group.arn.clone(),
            retention_in_days: group.retention_in_days,
            class: group.class.name().to_string(),
            tags,
            archived_at: iso8601(now_ms()),
        }
    }
}

/// Writes (or replaces) a group's record.
pub async fn write(root: &ArchiveRoot, record: &GroupRecord) -> Result<()> {
    let body = serde_json::to_vec_pretty(record)
        .map_err(|e| ConnectorError::Archive(format!("cannot encode a group record: {e}")))?;
    root.store()
        .put(
            &group_path(&record.catalog, &record.log_group),
            PutPayload::from(body),
        )
        .await
        .map_err(|e| root.error("write a group record", &e))?;
    Ok(())
}

/// Every archived group of a catalog, by name.
pub async fn list(root: &ArchiveRoot, catalog: &str) -> Result<BTreeMap<String, GroupRecord>> {
    let listed: Vec<_> = root
        .store()
        .list(Some(&groups_of(catalog)))
        .try_collect()
        .await
        .map_err(|e| root.error("list the archived groups", &e))?;
    let mut records = BTreeMap::new();
    for meta in listed {
        if parse_group(&meta.location).is_none() {
            continue;
        }
        let bytes = root
            .store()
            .get(&meta.location)
            .await
            .map_err(|e| root.error("read a group record", &e))?
            .bytes()
            .await
            .map_err(|e| root.error("read a group record", &e))?;
        let record: GroupRecord = serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::Archive(format!("group record {} is not valid: {e}", meta.location))
        })?;
        records.insert(record.log_group.clone(), record);
    }
    Ok(records)
}
