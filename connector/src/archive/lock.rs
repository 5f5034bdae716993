//! S3 Object Lock: an object's retention date and legal hold, so that
//! `prune` leaves locked parts alone and says until when.
//!
//! A bucket with Object Lock is versioned: a plain DELETE of a locked
//! object succeeds by adding a delete marker while the locked version
//! stays, so the archive would look pruned while the bytes remain, and the
//! deletion record would be wrong. Prune therefore asks for each part's
//! lock first (a HEAD, which returns `x-amz-object-lock-*` headers) and
//! keeps the days whose parts are locked. object_store does not surface
//! those headers, so the HEAD is sent through a presigned URL.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::Signer;

use crate::error::{ConnectorError, Result};

/// What keeps an object from being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLock {
    /// `GOVERNANCE` or `COMPLIANCE`, with the date it holds until.
    pub retention: Option<(String, i64)>,
    pub legal_hold: bool,
}

impl ObjectLock {
    /// Why the object cannot be deleted at `now_ms`, if it cannot.
    pub fn blocks(&self, now_ms: i64) -> Option<String> {
        if self.legal_hold {
            return Some("S3 Object Lock legal hold".into());
        }
        match &self.retention {
            Some((mode, until)) if *until > now_ms => Some(format!(
                "S3 Object Lock {mode} retention until {}",
                crate::time::iso8601(*until)
            )),
            _ => None,
        }
    }
}

/// Reads Object Lock state through presigned HEAD requests.
#[derive(Debug, Clone)]
pub struct LockReader {
    s3: Arc<AmazonS3>,
    /// The root's prefix inside the bucket, without slashes at its ends.
    prefix: String,
    http: reqwest::Client,
}

impl LockReader {
    pub fn new(s3: Arc<AmazonS3>, prefix: &str) -> Self {
        Self {
            s3,
            prefix: prefix.trim_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The lock of the object at `location` (relative to the root).
    pub async fn lock_of(&self, location: &str) -> Result<ObjectLock> {
        let full = if self.prefix.is_empty() {
            location.to_string()
        } else {
            format!("{}/{location}", self.prefix)
        };
        let path = Path::parse(&full)
            .map_err(|e| ConnectorError::Archive(format!("bad part path {full}: {e}")))?;
        let url = self
            .s3
            .signed_url(reqwest::Method::HEAD, &path, Duration::from_secs(300))
            .await
            .map_err(|e| ConnectorError::Archive(format!("cannot sign a HEAD of {full}: {e}")))?;
        let response = self.http.head(url).send().await.map_err(|e| {
            ConnectorError::Archive(format!("cannot read the Object Lock of {full}: {e}"))
        })?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(ObjectLock {
                retention: None,
                legal_hold: false,
            });
        }
        if !response.status().is_success() {
            return Err(ConnectorError::Archive(format!(
                "cannot read the Object Lock of {full}: HTTP {}",
                response.status()
            )));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        parse_lock(
            header("x-amz-object-lock-mode").as_deref(),
            header("x-amz-object-lock-retain-until-date").as_deref(),
            header("x-amz-object-lock-legal-hold").as_deref(),
        )
        .map_err(|e| ConnectorError::Archive(format!("the Object Lock of {full}: {e}")))
    }
}

/// The lock the three headers describe.
pub fn parse_lock(
    mode: Option<&str>,
    until: Option<&str>,
    hold: Option<&str>,
) -> std::result::Result<ObjectLock, String> {
    let retention = match until {
        Some(text) => Some((
            mode.unwrap_or("GOVERNANCE").to_string(),
            parse_time(text).ok_or_else(|| format!("unreadable retain-until date {text:?}"))?,
        )),
        None => None,
    };
    Ok(ObjectLock {
        retention,
        legal_hold: hold.is_some_and(|h| h.eq_ignore_ascii_case("ON")),
    })
}

/// Milliseconds of an ISO 8601 UTC time as S3 writes it
/// (`2026-12-03T10:00:00.000Z`, fractions and the `Z` optional, or `+00:00`).
fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    let (date, time) = text.split_once('T')?;
    let day = super::layout::Day::parse(date)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (
        parts.next()??,
        parts.next()??,
        parts.next().unwrap_or(Some(0))?,
    );
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(3).collect();
        if !fraction.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        format!("{digits:0<3}").parse::<i64>().ok()?
    };
    Some(day.start_ms() + ((h * 60 + m) * 60 + s) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::layout::Day;

    #[test]
    fn lock_headers_read_as_s3_writes_them() {
        let day = Day::parse("2026-12-03").unwrap().start_ms();
        // (mode, retain-until, legal hold) headers → lock read, blocks now
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<(&'a str, i64)>,
            bool,
        );
        let cases: [Case; 7] = [
            (None, None, None, None, false),
            (
                Some("COMPLIANCE"),
                Some("2026-12-03T10:00:00.000Z"),
                None,
                Some(("COMPLIANCE", day + 36_000_000)),
                false,
            ),
            (
                Some("GOVERNANCE"),
                Some("2026-12-03T10:00:00Z"),
                Some("OFF"),
                Some(("GOVERNANCE", day + 36_000_000)),
                false,
            ),
            (
                None,
                Some("2026-12-03T00:00:01.5Z"),
                None,
                Some(("GOVERNANCE", day + 1_500)),
                false,
            ),
            (
                None,
                Some("2026-12-03T23:59:59+00:00"),
                None,
                Some(("GOVERNANCE", day + 86_399_000)),
                false,
            ),
            (None, None, Some("ON"), None, true),
            (None, None, Some("on"), None, true),
        ];
        for (mode, until, hold, retention, held) in cases {
            let lock = parse_lock(mode, until, hold).unwrap();
            assert_eq!(
                lock.retention,
                retention.map(|(m, t)| (m.to_string(), t)),
                "{until:?}"
            );
            assert_eq!(lock.legal_hold, held, "{hold:?}");
        }
        for bad in [
            "tomorrow",
            "2026-12-03",
            "2026-12-03T25:00:00Z",
            "2026-12-03T10:00:00.x1Z",
        ] {
            assert!(parse_lock(None, Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_hold_or_a_future_date_blocks() {
        let lock = |retention: Option<(&str, i64)>, legal_hold| ObjectLock {
            retention: retention.map(|(m, t)| (m.to_string(), t)),
            legal_hold,
        };
        assert_eq!(lock(None, false).blocks(100), None);
        assert_eq!(lock(Some(("COMPLIANCE", 99)), false).blocks(100), None);
        assert!(lock(Some(("COMPLIANCE", 101)), false)
            .blocks(100)
            .unwrap()
            .contains("COMPLIANCE retention until"));
        assert!(lock(None, true).blocks(100).unwrap().contains("legal hold"));
    }
}
