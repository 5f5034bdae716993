//! Where everything of the archive lives: pure functions from catalog,
//! group, day and run to object paths, and back. See docs/archive.md.

use object_store::path::Path;

use crate::time::{civil_from_days, days_from_civil, DAY_MS};

/// The folder of logflight's own records; Hive readers skip names that
/// start with `_`.
pub const RECORDS: &str = "_logflight";

/// A UTC day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn of_ms(ms: i64) -> Day {
        Day(ms.div_euclid(DAY_MS))
    }

    pub fn start_ms(self) -> i64 {
        self.0 * DAY_MS
    }

    /// The last millisecond of the day (inclusive).
    pub fn end_ms(self) -> i64 {
        self.start_ms() + DAY_MS - 1
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    /// `YYYY-MM-DD`.
    pub fn text(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The day of `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let mut parts = text.splitn(3, '-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        if text.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let day = Day(days_from_civil(y, m, d));
        (day.text() == text).then_some(day)
    }
}

/// A name as a path segment: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`
/// (upper-case hex), what pyarrow's and DuckDB's Hive writers produce and
/// decode, and one key per name.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The name of an encoded segment; `None` for text [`encode_name`] never makes.
pub fn decode_name(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let name = String::from_utf8(out).ok()?;
    (encode_name(&name) == segment).then_some(name)
}

fn path(parts: &[String]) -> Path {
    // The segments are already encoded; parse keeps them as they are.
    Path::parse(parts.join("/")).expect("encoded segments form a valid path")
}

fn group_dirs(catalog: &str, group: &str) -> [String; 2] {
    [
        format!("catalog={}", encode_name(catalog)),
        format!("log_group={}", encode_name(group)),
    ]
}

/// The final path of a part written by `run`.
pub fn part_path(catalog: &str, group: &str, day: Day, run: &str) -> Path {
    let [c, g] = group_dirs(catalog, group);
    path(&[
        c,
        g,
        format!("day={}", day.text()),
        format!("part-{run}.parquet"),
    ])
}

/// Where `run` stages that part before its commit.
pub fn staged_path(catalog: &str, group: &str, day: Day, run: &str) -> Path {
    let [c, g] = group_dirs(catalog, group);
    path(&[
        RECORDS.into(),
        "staging".into(),
        run.into(),
        c,
        g,
        format!("day={}.parquet", day.text()),
    ])
}

/// The folder of every commit record of a group.
pub fn commits_of(catalog: &str, group: &str) -> Path {
    let [c, g] = group_dirs(catalog, group);
    path(&[RECORDS.into(), "commits".into(), c, g])
}

/// The commit record `version` of a day.
pub fn commit_path(catalog: &str, group: &str, day: Day, version: u64) -> Path {
    let [c, g] = group_dirs(catalog, group);
    path(&[
        RECORDS.into(),
        "commits".into(),
        c,
        g,
        format!("day={}", day.text()),
        format!("v{version:010}.json"),
    ])
}

/// (day, version) of a commit record's path.
pub fn parse_commit(location: &Path) -> Option<(Day, u64)> {
    let mut parts: Vec<&str> = location.as_ref().rsplit('/').take(2).collect();
    parts.reverse();
    let [day, file] = parts.as_slice() else {
        return None;
    };
    let day = Day::parse(day.strip_prefix("day=")?)?;
    let version = file
        .strip_prefix('v')?
        .strip_suffix(".json")?
        .parse()
        .ok()?;
    Some((day, version))
}

/// The folder of the group records of a catalog.
pub fn groups_of(catalog: &str) -> Path {
    path(&[
        RECORDS.into(),
        "groups".into(),
        format!("catalog={}", encode_name(catalog)),
    ])
}

/// What the archive knows of a group (its tags when archived, retention).
pub fn group_path(catalog: &str, group: &str) -> Path {
    let [c, g] = group_dirs(catalog, group);
    path(&[RECORDS.into(), "groups".into(), c, format!("{g}.json")])
}

/// The group a group record's path names.
pub fn parse_group(location: &Path) -> Option<String> {
    let file = location.as_ref().rsplit('/').next()?;
    decode_name(file.strip_prefix("log_group=")?.strip_suffix(".json")?)
}

/// A deletion record (written before anything is deleted).
pub fn deletion_path(time: &str, run: &str) -> Path {
    path(&[
        RECORDS.into(),
        "deletions".into(),
        format!("{}-{run}.json", time.replace(':', "")),
    ])
}

/// The staging folder of every run.
pub fn staging() -> Path {
    path(&[RECORDS.into(), "staging".into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_their_encoding() {
        let cases = [
            ("/aws/lambda/Orders$x", "%2Faws%2Flambda%2FOrders%24x"),
            (
                "/aws/ecs/My.Service#blue",
                "%2Faws%2Fecs%2FMy.Service%23blue",
            ),
            ("UPPER.Case-_~x", "UPPER.Case-_~x"),
            ("100%done", "100%25done"),
            ("k=v&z", "k%3Dv%26z"),
            ("ünï", "%C3%BCn%C3%AF"),
            ("2024", "2024"),
        ];
        for (name, encoded) in cases {
            assert_eq!(encode_name(name), encoded);
            assert_eq!(decode_name(encoded).as_deref(), Some(name));
        }
        for bad in ["%2f", "%zz", "%2", "a b", "%FF"] {
            assert_eq!(decode_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_are_utc_calendar_days() {
        let cases = [
            (0, "1970-01-01"),
            (951_782_400_000, "2000-02-29"),
            (1_795_000_000_123, "2026-11-18"),
            (-1, "1969-12-31"),
        ];
        for (ms, text) in cases {
            let day = Day::of_ms(ms);
            assert_eq!(day.text(), text);
            assert_eq!(Day::parse(text), Some(day));
            assert!(day.start_ms() <= ms && ms <= day.end_ms());
            assert_eq!(day.next().start_ms(), day.end_ms() + 1);
        }
        for bad in ["2026-02-30", "2026-13-01", "26-01-01", "2026-1-01", "x"] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_are_hive_partitions_and_parse_back() {
        let day = Day::parse("2026-11-24").unwrap();
        assert_eq!(
            part_path("cloudwatch", "/aws/lambda/Orders$x", day, "r1").as_ref(),
            "catalog=cloudwatch/log_group=%2Faws%2Flambda%2FOrders%24x/day=2026-11-24/part-r1.parquet"
        );
        let commit = commit_path("cloudwatch", "/a", day, 7);
        assert_eq!(
            commit.as_ref(),
            "_logflight/commits/catalog=cloudwatch/log_group=%2Fa/day=2026-11-24/v0000000007.json"
        );
        assert_eq!(parse_commit(&commit), Some((day, 7)));
        assert!(commit
            .as_ref()
            .starts_with(commits_of("cloudwatch", "/a").as_ref()));
        let group = group_path("cloudwatch", "/a/B$");
        assert_eq!(parse_group(&group).as_deref(), Some("/a/B$"));
        assert!(group.as_ref().starts_with(groups_of("cloudwatch").as_ref()));
        assert!(staged_path("cloudwatch", "/a", day, "r1")
            .as_ref()
            .starts_with(staging().as_ref()));
    }
}
