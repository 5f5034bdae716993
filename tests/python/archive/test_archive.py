"""The archive end to end: `logflight archive` against moto's CloudWatch Logs, into a local
directory and into moto's S3; read back by logflight, pyarrow and DuckDB; backfill, new and
late events, a short-retention group, runs killed with SIGKILL and resumed, concurrent runs,
verify finding planted differences, prune with and without a hold. Every expected answer
comes from what the test loaded."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import botocore.config
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from helpers import connect, qi, run, scalar
from loader import create_group, logs_client, put_events
from servers import child_env, exe, free_port, pacing_args, running, start_logflight

DAY_MS = 86_400_000
LONG = "/aws/lambda/Arch$ive-Orders"  # no retention
SHORT = "/Short/Retention.#1"  # keeps events one day: its old days are final
HELD = "/held/Case-42"  # retention one day, under a legal hold tag
BIG = "/big/Kill-Me"  # for the kill and concurrency tests
HOLD_TAG = "logflight:legal-hold"
NOW = int(time.time() * 1000)


def day_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")


class Loaded:
    """What the test put into CloudWatch: (group, day) -> messages."""

    def __init__(self):
        self.by_day: dict[tuple[str, str], list[str]] = collections.defaultdict(list)

    def put(self, client, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        put_events(client, group, stream, sorted(events))
        for ts, message in events:
            self.by_day[(group, day_of(ts))].append(message)

    def counts(self, group: str) -> dict[str, int]:
        return {day: len(m) for (g, day), m in self.by_day.items() if g == group}


def events(group: str, days_ago: list[float], per_day: int, tag: str = "") -> list[tuple[int, str]]:
    out = []
    for d in days_ago:
        base = NOW - int(d * DAY_MS)
        for i in range(per_day):
            ts = base - i * 1_000
            level = "ERROR" if i % 7 == 0 else "INFO"
            out.append((ts, json.dumps({"group": group, "n": i, "d": d, "level": level, "tag": tag})))
    return out


@pytest.fixture(scope="module")
def setup(own_moto, workdir):
    client = logs_client(own_moto)
    loaded = Loaded()
    create_group(client, LONG, ["2026/11/24/[$LATEST]ab12", "Second"])
    loaded.put(client, LONG, "2026/11/24/[$LATEST]ab12", events(LONG, [0.1, 1.2, 2.5, 4.5], 150))
    loaded.put(client, LONG, "Second", events(LONG, [0.2, 3.5], 80, "second"))
    create_group(client, SHORT, ["only"], retention_days=1)
    loaded.put(client, SHORT, "only", events(SHORT, [0.3, 2.2, 3.2, 5.2], 120))
    create_group(client, HELD, ["h"], retention_days=1, tags={HOLD_TAG: "case-42"})
    loaded.put(client, HELD, "h", events(HELD, [3.5], 40))
    s3 = boto3.client("s3", endpoint_url=own_moto, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=botocore.config.Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="archive")
    return {"client": client, "loaded": loaded, "endpoint": own_moto, "workdir": workdir, "s3": s3}


def archive_cmd(setup, root: str, *args: str) -> list[str]:
    return [exe(), "archive", *args, "--source", "cloudwatch", "--endpoint-url", setup["endpoint"],
            "--region", "us-east-1", "--archive-root", root, "--archive-endpoint-url", setup["endpoint"],
            *pacing_args()]


def archive(setup, root: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(archive_cmd(setup, root, *args), capture_output=True, text=True, timeout=300,
                          env=child_env())
    if check:
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done


def fresh_dir(setup, name: str) -> str:
    path = setup["workdir"] / f"archive-{name}-{uuid.uuid4().hex[:6]}"
    return str(path)


def hive(root: str) -> ds.Dataset:
    part = ds.partitioning(pa.schema([("catalog", pa.string()), ("log_group", pa.string()),
                                      ("day", pa.string())]), flavor="hive")
    return ds.dataset(root, format="parquet", partitioning=part,
                      exclude_invalid_files=True, ignore_prefixes=["_", "."])


def counts_by_day(table: pa.Table, group: str) -> dict[str, int]:
    out = collections.Counter()
    for g, day in zip(table.column("log_group").to_pylist(), table.column("day").to_pylist()):
        if g == group:
            out[day] += 1
    return dict(out)


GROUPS = f"{LONG},{SHORT},{HELD}"


def test_a_backfill_is_a_table_pyarrow_and_duckdb_read_whole(setup):
    root = fresh_dir(setup, "backfill")
    done = archive(setup, root, "--groups", GROUPS)
    assert "3 groups" in done.stdout, done.stdout
    loaded = setup["loaded"]
    table = hive(root).to_table()
    for group in (LONG, SHORT, HELD):
        assert counts_by_day(table, group) == loaded.counts(group), group
    assert table.column("event_id").null_count == 0
    assert len(set(table.column("event_id").to_pylist())) == table.num_rows
    # Files are sorted by time.
    for fragment in hive(root).get_fragments():
        times = fragment.to_table(columns=["time"]).column("time").to_pylist()
        assert times == sorted(times), fragment.path
    # DuckDB decodes the names the same way.
    con = duckdb.connect()
    rows = con.execute(
        "SELECT log_group, day, count(*), count(DISTINCT event_id) FROM read_parquet(?, hive_partitioning = true, "
        "hive_types = {'catalog': VARCHAR, 'log_group': VARCHAR, 'day': VARCHAR}) GROUP BY ALL",
        [f"{root}/catalog=*/log_group=*/day=*/*.parquet"],
    ).fetchall()
    got = {(g, d): (n, distinct) for g, d, n, distinct in rows}
    want = {k: (len(v), len(v)) for k, v in loaded.by_day.items()}
    assert got == want


def test_an_s3_archive_is_the_same_table(setup):
    done = archive(setup, "s3://archive/logs", "--groups", GROUPS)
    assert "into s3://archive/logs" in done.stdout
    s3fs = pafs.S3FileSystem(endpoint_override=setup["endpoint"], scheme="http", access_key="testing",
                             secret_key="testing", region="us-east-1")
    part = ds.partitioning(pa.schema([("catalog", pa.string()), ("log_group", pa.string()),
                                      ("day", pa.string())]), flavor="hive")
    table = ds.dataset("archive/logs", filesystem=s3fs, format="parquet", partitioning=part,
                       ignore_prefixes=["_", "."]).to_table()
    for group in (LONG, SHORT, HELD):
        assert counts_by_day(table, group) == setup["loaded"].counts(group), group
    keys = [o["Key"] for o in setup["s3"].list_objects_v2(Bucket="archive", Prefix="logs/_logflight/commits/")["Contents"]]
    assert keys and all(k.endswith(".json") for k in keys)
    # A second run finds nothing new.
    again = archive(setup, "s3://archive/logs", "--groups", GROUPS)
    assert " 0 events written" in again.stdout, again.stdout


def test_new_and_late_events_are_added_once(setup):
    root = fresh_dir(setup, "incremental")
    archive(setup, root, "--groups", LONG)
    client, loaded = setup["client"], setup["loaded"]
    # New events now, and late ones three days in the past on an existing day.
    loaded.put(client, LONG, "Second", [(NOW - 5_000 - i, f"new event {i}") for i in range(30)])
    loaded.put(client, LONG, "Second", [(NOW - 3 * DAY_MS - i * 10, f"late event {i}") for i in range(20)])
    done = archive(setup, root, "--groups", LONG)
    assert " 50 events written" in done.stdout, done.stdout
    table = hive(root).to_table()
    assert counts_by_day(table, LONG) == loaded.counts(LONG)
    assert len(set(table.column("event_id").to_pylist())) == table.num_rows
    assert " 0 events written" in archive(setup, root, "--groups", LONG).stdout


@pytest.fixture(scope="module")
def big(setup):
    """A group large enough that a run takes a while, so kills land inside it."""
    client, loaded = setup["client"], setup["loaded"]
    create_group(client, BIG, ["a", "b"])
    for stream in ("a", "b"):
        loaded.put(client, BIG, stream, events(BIG + stream, [0.5, 1.5, 2.5, 3.5, 4.5], 6_000))
    return loaded.counts(BIG)


def archived_ids(root: str, group: str) -> dict[str, list[str]]:
    if not list(Path(root).glob("catalog=*/log_group=*/day=*/*.parquet")):
        return {}
    table = hive(root).to_table(filter=ds.field("log_group") == group)
    out = collections.defaultdict(list)
    for day, event_id in zip(table.column("day").to_pylist(), table.column("event_id").to_pylist()):
        out[day].append(event_id)
    return {day: sorted(ids) for day, ids in out.items()}


def test_runs_killed_at_any_point_resume_to_the_same_archive(setup, big):
    whole = fresh_dir(setup, "whole")
    began = time.monotonic()
    archive(setup, whole, "--groups", BIG)
    took = time.monotonic() - began
    expected = archived_ids(whole, BIG)
    assert {d: len(ids) for d, ids in expected.items()} == big
    root = fresh_dir(setup, "killed")
    total = sum(big.values())
    partial = []
    # The runs spill to their own temporary directory, so what kills leave there is seen.
    tmp = Path(fresh_dir(setup, "killed-tmp"))
    tmp.mkdir()
    env = {**child_env(), "TMPDIR": str(tmp)}
    commits = Path(root, "_logflight", "commits")

    def commit_count() -> int:
        return sum(1 for _ in commits.rglob("*.json")) if commits.exists() else 0

    def kill(proc) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if Path(root).exists():
            partial.append(sum(len(ids) for ids in archived_ids(root, BIG).values()))

    # Kill points spread over the length of an uninterrupted run (on this machine, now), and
    # past it: a new group's days are read as one window and committed at its end, so only
    # the later kills find commits to resume from (a run may also finish before its kill).
    for delay in [took * k / 10 for k in range(1, 14)]:
        proc = subprocess.Popen(archive_cmd(setup, root, "--groups", BIG), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        time.sleep(delay)
        kill(proc)
    # And kills right after a run's first, second and third part lands: the days of one
    # window are read together and then committed one by one, and empty days commit too,
    # so the kill waits for the parts of days that have events.
    for after in (1, 2, 3):
        fresh = fresh_dir(setup, f"killed-after-{after}")
        proc = subprocess.Popen(archive_cmd(setup, fresh, "--groups", BIG), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(Path(fresh).glob("catalog=*/log_group=*/day=*/*.parquet"))) >= after:
                break
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        seen = sum(len(ids) for ids in archived_ids(fresh, BIG).values())
        partial.append(seen)
        archive(setup, fresh, "--groups", BIG)
        assert archived_ids(fresh, BIG) == expected, after
        # Nothing but parts in the data folders, or Athena, Spark and pyarrow (which read every
        # file not named _* or .*) would count a half-published copy twice.
        strays = [f for f in Path(fresh).glob("catalog=*/log_group=*/day=*/*")
                  if not (f.name.startswith("part-") and f.name.endswith(".parquet"))]
        assert strays == [], strays
    # The kills landed inside runs: the archive was seen part-way.
    assert any(0 < rows < total for rows in partial), (partial, total)
    assert commit_count() > 0
    archive(setup, root, "--groups", BIG)
    assert archived_ids(root, BIG) == expected
    # The killed runs' spill files are removed by the next run.
    done = subprocess.run(archive_cmd(setup, root, "--groups", BIG), capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert not list(tmp.glob("logflight-archive-*")), list(tmp.iterdir())
    # Nothing staged remains published twice: every final part is named by a commit.
    named = set()
    for record in Path(root, "_logflight", "commits").rglob("*.json"):
        named.update(p["path"] for p in json.loads(record.read_text())["parts"])
    for part in Path(root).glob("catalog=*/log_group=*/day=*/*.parquet"):
        assert str(part.relative_to(root)) in named, part


def test_concurrent_runs_write_each_event_once(setup, big):
    root = fresh_dir(setup, "concurrent")
    procs = [subprocess.Popen(archive_cmd(setup, root, "--groups", BIG), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=child_env()) for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{out}\n{err}"
    ids = archived_ids(root, BIG)
    assert {d: len(v) for d, v in ids.items()} == big
    assert all(len(v) == len(set(v)) for v in ids.values())


def verify(setup, root: str, group: str) -> subprocess.CompletedProcess:
    return archive(setup, root, "verify", "--groups", group, check=False)


def verify_rows(done: subprocess.CompletedProcess) -> list[dict]:
    """verify's CSV report, parsed as CSV (a damaged part's message holds commas)."""
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_verify_finds_what_differs(setup):
    root = fresh_dir(setup, "verify")
    archive(setup, root, "--groups", SHORT)
    clean = verify(setup, root, SHORT)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert ",ok" in clean.stdout
    # A late event (within the group's one-day retention, as CloudWatch requires) that
    # CloudWatch has and the archive does not yet.
    late = NOW - DAY_MS // 2 - 77
    setup["loaded"].put(setup["client"], SHORT, "only", [(late, "planted late event")])
    found = verify(setup, root, SHORT)
    assert found.returncode != 0
    planted = [row for row in verify_rows(found) if row["day"] == day_of(late)]
    assert planted and planted[0]["missing_from_archive"] == "1", found.stdout
    assert planted[0]["status"] == "missing from the archive"
    assert planted[0]["archive_hash"] != planted[0]["cloudwatch_hash"]
    archive(setup, root, "--groups", SHORT)
    fixed = verify(setup, root, SHORT)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    for row in verify_rows(fixed):
        if row["gone_from_cloudwatch"] == "0":
            assert row["archive_hash"] == row["cloudwatch_hash"], row
    # A commit record whose hash is not its parts' events is named.
    record = max(Path(root).glob("_logflight/commits/**/*.json"), key=lambda p: p.stat().st_mtime)
    text = json.loads(record.read_text())
    text["content_hash"] = "0" * 32
    record.write_text(json.dumps(text))
    altered = verify(setup, root, SHORT)
    assert altered.returncode != 0 and "the commit record says " + "0" * 32 in altered.stdout, altered.stdout
    # A damaged part file is named.
    part = next(Path(root).glob("catalog=*/log_group=*/day=*/*.parquet"))
    with open(part, "ab") as f:
        f.write(b"x")
    damaged = verify(setup, root, SHORT)
    assert damaged.returncode != 0 and "damaged" in damaged.stdout and part.name in damaged.stdout
    rows = verify_rows(damaged)
    assert any(row["status"].startswith("damaged") for row in rows), damaged.stdout


def test_prune_deletes_on_the_record_and_never_under_a_hold(setup):
    root = fresh_dir(setup, "prune")
    archive(setup, root, "--groups", GROUPS)
    before = hive(root).to_table()
    done = archive(setup, root, "prune", "--older-than", "2", "--groups", GROUPS, "--hold", "/aws/lambda/*")
    assert f"held: {HELD} (tagged {HOLD_TAG}=case-42)" in done.stdout, done.stdout
    assert f"held: {LONG} (--hold /aws/lambda/*)" in done.stdout, done.stdout
    after = hive(root).to_table()
    cutoff = day_of(NOW - 2 * DAY_MS)
    old_short = {d: n for d, n in counts_by_day(before, SHORT).items() if d < cutoff}
    assert old_short, "the short group has days to prune"
    assert counts_by_day(after, SHORT) == {d: n for d, n in counts_by_day(before, SHORT).items() if d >= cutoff}
    assert counts_by_day(after, HELD) == counts_by_day(before, HELD)
    assert counts_by_day(after, LONG) == counts_by_day(before, LONG)
    records = list(Path(root, "_logflight", "deletions").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["rows"] == sum(old_short.values())
    assert {d["day"] for d in record["days"]} == set(old_short)
    assert all(f["sha256"] and f["rows"] for d in record["days"] for f in d["files"])
    # A later run does not archive the pruned days again, and a second prune has nothing.
    archive(setup, root, "--groups", SHORT)
    assert counts_by_day(hive(root).to_table(), SHORT) == counts_by_day(after, SHORT)
    again = archive(setup, root, "prune", "--older-than", "2", "--groups", GROUPS, "--hold", "/aws/lambda/*")
    assert "nothing past its retention to delete" in again.stdout, again.stdout


def test_prune_follows_the_config_files_retention_and_holds(setup, workdir):
    """[[retention]] per group (the first entry naming a group decides, over --older-than),
    [[legal_holds]] with their reasons, and groups no rule names kept without --older-than."""
    root = fresh_dir(setup, "policy")
    archive(setup, root, "--groups", GROUPS)
    before = hive(root).to_table()
    config = workdir / f"policy-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(f"""
[[retention]]
log_groups = ["*"]
catalogs = ["some-other-catalog"]
days = 1

[[retention]]
log_groups = ["/Short/*"]
days = 3

[[legal_holds]]
log_groups = ["/aws/lambda/Arch$ive-*"]
reason = "litigation 2026-114"
""")
    done = archive(setup, root, "prune", "--config", str(config), "--groups", GROUPS)
    assert f"held: {LONG} ([[legal_holds]] /aws/lambda/Arch$ive-*: litigation 2026-114)" in done.stdout, done.stdout
    assert f"held: {HELD} (tagged {HOLD_TAG}=case-42)" in done.stdout, done.stdout
    assert f"retention: {SHORT} keeps 3 days (retention rule /Short/*)" in done.stdout, done.stdout
    after = hive(root).to_table()
    cutoff = day_of(NOW - 3 * DAY_MS)
    kept = {d: n for d, n in counts_by_day(before, SHORT).items() if d >= cutoff}
    assert kept != counts_by_day(before, SHORT), "the short group has days past three days"
    assert counts_by_day(after, SHORT) == kept
    assert counts_by_day(after, LONG) == counts_by_day(before, LONG)
    record = json.loads(next(Path(root, "_logflight", "deletions").glob("*.json")).read_text())
    assert {d["retention_days"] for d in record["days"]} == {3}
    assert record["older_than_days"] is None
    # --older-than covers only the groups no entry names: the rule's 3 days win over 1 here,
    # and with the hold dropped from the config, LONG (named by no rule) follows the flag.
    config.write_text('[[retention]]\nlog_groups = ["/Short/*"]\ndays = 3\n')
    flagged = archive(setup, root, "prune", "--config", str(config), "--groups", f"{SHORT},{LONG}",
                      "--older-than", "1")
    assert f"retention: {LONG} keeps 1 day (--older-than)" in flagged.stdout, flagged.stdout
    final = hive(root).to_table()
    assert counts_by_day(final, SHORT) == kept
    assert counts_by_day(final, LONG) == {d: n for d, n in counts_by_day(before, LONG).items()
                                          if d >= day_of(NOW - DAY_MS)}
    # Without --older-than a group no rule names is kept, and said so.
    other = fresh_dir(setup, "policy-unruled")
    archive(setup, other, "--groups", LONG)
    unruled = archive(setup, other, "prune", "--config", str(config), "--groups", LONG)
    assert f"kept: {LONG} (no [[retention]] entry names it" in unruled.stdout, unruled.stdout
    assert counts_by_day(hive(other).to_table(), LONG) == counts_by_day(before, LONG)
    # Nothing to go by, and entries that would not do what they say, are refused.
    bare = archive(setup, other, "prune", "--groups", LONG, check=False)
    assert bare.returncode != 0 and "--older-than DAYS, or [[retention]]" in bare.stderr, bare.stderr
    for text, message in [('[[retention]]\nlog_groups = ["*"]\ndays = 0\n', "days = 0"),
                          ('[[legal_holds]]\nlog_groups = ["*"]\nreason = " "\n', "has no reason"),
                          ('[[retention]]\nlog_groups = ["*"]\ndayz = 3\n', "dayz")]:
        config.write_text(text)
        refused = archive(setup, other, "prune", "--config", str(config), "--groups", LONG, check=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr


def test_prune_honours_s3_object_lock(setup):
    """Days whose parts S3 Object Lock keeps (a retention date to come, or a legal hold) are
    not deleted (a DELETE would only add a delete marker over the locked version), and are
    named with the lock; the other days past retention go, on the record."""
    s3 = setup["s3"]
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    root = "s3://locked/logs"
    group = "/locked/Object-Lock"
    create_group(setup["client"], group, ["s"])
    setup["loaded"].put(setup["client"], group, "s", events(group, [0.2, 3.5, 4.5, 5.5, 6.5], 20))
    archive(setup, root, "--groups", group)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="locked", Prefix="logs/catalog=")["Contents"])
    cutoff = day_of(NOW - 2 * DAY_MS)
    old = [k for k in keys if k.split("day=")[1][:10] < cutoff]
    assert len(old) >= 4, keys
    retained, held = old[0], old[1]
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)
    s3.put_object_retention(Bucket="locked", Key=retained,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    s3.put_object_legal_hold(Bucket="locked", Key=held, LegalHold={"Status": "ON"})
    done = archive(setup, root, "prune", "--older-than", "2", "--groups", group)
    day = lambda key: key.split("day=")[1][:10]  # noqa: E731
    assert f"locked: {group} {day(retained)} (S3 Object Lock COMPLIANCE retention until {until.year}" in done.stdout, done.stdout
    assert f"locked: {group} {day(held)} (S3 Object Lock legal hold" in done.stdout, done.stdout
    left = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="locked", Prefix="logs/catalog=")["Contents"])
    assert left == sorted([retained, held] + [k for k in keys if day(k) >= cutoff]), left
    record_key = next(o["Key"] for o in s3.list_objects_v2(Bucket="locked", Prefix="logs/_logflight/deletions/")["Contents"])
    record = json.loads(s3.get_object(Bucket="locked", Key=record_key)["Body"].read())
    assert {d["day"] for d in record["days"]} == {day(k) for k in old[2:]}
    # Once the hold is lifted the day goes; the retention date still keeps the other.
    s3.put_object_legal_hold(Bucket="locked", Key=held, LegalHold={"Status": "OFF"})
    again = archive(setup, root, "prune", "--older-than", "2", "--groups", group)
    assert f"locked: {group} {day(retained)}" in again.stdout, again.stdout
    assert f"locked: {group} {day(held)}" not in again.stdout, again.stdout
    left = [o["Key"] for o in s3.list_objects_v2(Bucket="locked", Prefix="logs/catalog=")["Contents"]]
    assert held not in left and retained in left


QUERIES = [
    "SELECT count(*) AS n FROM {t}",
    "SELECT log_stream, count(*) AS n, min(time) AS a, max(time) AS b FROM {t} GROUP BY log_stream ORDER BY log_stream",
    "SELECT date_trunc('day', time) AS d, count(*) AS n FROM {t} GROUP BY d ORDER BY d",
    "SELECT count(*) AS n FROM {t} WHERE json_get_str(message, 'level') = 'ERROR'",
    "SELECT count(*) AS n FROM {t} WHERE message LIKE '%\"n\": 7,%'",
    "SELECT log_stream, time, message FROM {t} ORDER BY time, message LIMIT 9",
    "SELECT count(*) AS n FROM {t} WHERE time >= now() - INTERVAL '3 days' AND time < now() - INTERVAL '1 day'",
]


def test_one_table_over_archive_and_live(setup, workdir):
    root = fresh_dir(setup, "served")
    archive(setup, root, "--groups", f"{SHORT},{LONG}")
    endpoint = setup["endpoint"]
    with running(start_logflight(endpoint, workdir / "logflight-live.log", *pacing_args())) as live, \
         running(start_logflight(endpoint, workdir / "logflight-archived.log", *pacing_args(),
                                 "--archive-root", root)) as archived, \
         running(start_logflight(endpoint, workdir / "logflight-archived-nopush.log", *pacing_args(),
                                 "--archive-root", root, "--pushdown", "false")) as nopush:
        with connect(live.uri) as a, connect(archived.uri) as b, connect(nopush.uri) as c:
            for group in (SHORT, LONG):
                t = f"{qi(group)}.all_log_streams"
                for sql in QUERIES:
                    q = sql.format(t=t)
                    want = run(a, q)
                    assert run(b, q).equals(want), q
                    assert run(c, q).equals(want), q
            # The short group's final days come from the archive, the rest from CloudWatch.
            plan = "\n".join(run(b, f"EXPLAIN SELECT count(*) FROM {qi(SHORT)}.all_log_streams")
                             .column(1).to_pylist())
            assert "DataSourceExec" in plan and "LogScan" in plan, plan
            # The archive alone, as its own schema.
            n = scalar(b, f'SELECT count(*) FROM "logflight$archive".{qi(SHORT)}')
            assert n == sum(setup["loaded"].counts(SHORT).values())
            names = run(b, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'logflight$archive'")
            assert sorted(names.column(0).to_pylist()) == sorted([SHORT, LONG])


def test_a_cluster_answers_archive_and_live_as_one_node_and_spreads_the_archive(setup, workdir):
    """Three nodes over the same archive and CloudWatch: every query answers as one node does,
    and the archive's files are read by every node (EXPLAIN ANALYZE counts each node's rows)."""
    root = fresh_dir(setup, "cluster")
    archive(setup, root, "--groups", f"{SHORT},{LONG}")
    endpoint = setup["endpoint"]
    ports = [free_port() for _ in range(3)]
    nodes = ",".join(f"http://127.0.0.1:{p}" for p in ports)
    common = [*pacing_args(), "--archive-root", root, "--cluster-nodes", nodes]
    single = start_logflight(endpoint, workdir / "logflight-archive-single.log", *pacing_args(), "--archive-root", root)
    cluster = [start_logflight(endpoint, workdir / f"logflight-archive-node-{p}.log", *common,
                               "--cluster-listen", f"127.0.0.1:{p}") for p in ports]
    try:
        with connect(single.uri) as one:
            for node in cluster:
                with connect(node.uri) as conn:
                    for group in (SHORT, LONG):
                        t = f"{qi(group)}.all_log_streams"
                        for sql in QUERIES:
                            q = sql.format(t=t)
                            assert run(conn, q).equals(run(one, q)), (node.uri, q)
        with connect(cluster[0].uri) as conn:
            text = "\n".join(run(conn, f'EXPLAIN ANALYZE SELECT count(*) FROM "logflight$archive".{qi(LONG)}')
                             .column(1).to_pylist())
        readers = {addr: int(n) for addr, n in re.findall(r"rows_read\[([0-9.:]+)\]=(\d+)", text)}
        assert sorted(readers) == sorted(f"127.0.0.1:{p}" for p in ports), text
        assert sum(readers.values()) == sum(setup["loaded"].counts(LONG).values()), text
        assert all(n > 0 for n in readers.values()), text
    finally:
        for s in [single, *cluster]:
            with running(s):
                pass


def metric(text: str, series: str, default: float | None = None) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    if default is not None:
        return default
    raise AssertionError(f"no {series} in\n{text}")


def test_a_run_exports_its_prometheus_metrics(setup, big, workdir):
    """--metrics-listen serves the run's counters while it runs; --metrics-file writes them
    when it ends, with the outcome; the figures are the events the test loaded."""
    import urllib.request

    root = fresh_dir(setup, "metrics")
    path = workdir / f"archive-{uuid.uuid4().hex[:6]}.prom"
    # Paced to 4 FilterLogEvents calls a second, so the run lasts long enough to be scraped.
    cmd = [exe(), "archive", "--source", "cloudwatch", "--endpoint-url", setup["endpoint"],
           "--region", "us-east-1", "--archive-root", root, "--groups", BIG,
           "--api-tps", "DescribeLogGroups=500,DescribeLogStreams=500,GetLogEvents=500,FilterLogEvents=4",
           "--metrics-listen", "127.0.0.1:0", "--metrics-file", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    line = proc.stderr.readline()
    assert line.startswith("metrics: http://"), line
    url = line.split()[1]
    scraped = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            break  # the run ended between poll() and the request
        # A catalog's series appear once its run has planned its days.
        if metric(text, 'logflight_archive_events_read_total{catalog="cloudwatch"}', 0) > 0:
            scraped = text
            break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert scraped is not None, "the run was never seen reading"
    assert "# TYPE logflight_archive_events_written_total counter" in scraped
    assert "logflight_archive_run_success" not in scraped, "not ended yet"
    final = path.read_text()
    total = sum(big.values())
    assert metric(final, 'logflight_archive_events_written_total{catalog="cloudwatch"}') == total
    assert metric(final, 'logflight_archive_events_read_total{catalog="cloudwatch"}') >= total
    planned = metric(final, 'logflight_archive_days_planned{catalog="cloudwatch"}')
    assert planned >= len(big) and metric(final, 'logflight_archive_days_done_total{catalog="cloudwatch"}') == planned
    calls = metric(final, 'logflight_api_calls_total{catalog="cloudwatch",api="FilterLogEvents",outcome="ok"}')
    assert calls >= -(-total // 10_000)
    assert metric(final, "logflight_archive_run_success") == 1
    assert metric(final, "logflight_archive_run_end_timestamp_seconds") >= metric(
        final, "logflight_archive_run_start_timestamp_seconds")
    # A failed run says so in the file (the group's archive root cannot be written).
    blocked = workdir / f"not-a-dir-{uuid.uuid4().hex[:6]}"
    blocked.write_text("a file where the archive root should be")
    failed = archive(setup, str(blocked), "--groups", LONG, "--metrics-file", str(path), check=False)
    assert failed.returncode != 0
    assert metric(path.read_text(), "logflight_archive_run_success") == 0


TRAIL = "/aws/cloudtrail/Archived-Trail"  # retention one day: its old days are final


def trail_records(days_ago: list[float], per_day: int) -> list[tuple[int, str]]:
    out = []
    names = ["ConsoleLogin", "GetObject", "DeleteBucket", "AssumeRole"]
    for d in days_ago:
        base = NOW - int(d * DAY_MS)
        for i in range(per_day):
            ts = base - i * 1_000
            event_time = dt.datetime.fromtimestamp((ts - 45_000) / 1000, dt.timezone.utc)
            out.append((ts, json.dumps({
                "eventVersion": "1.09",
                "eventTime": event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventName": names[i % len(names)],
                "eventSource": "s3.amazonaws.com",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/u{i % 3}"},
                "requestParameters": {"bucketName": f"b{i % 2}"},
                "readOnly": i % 2 == 0,
                "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{d}-{i}")),
            })))
    return out


def test_typed_tables_read_archived_days_like_all_log_streams(setup, workdir):
    client = setup["client"]
    create_group(client, TRAIL, ["111122223333_CloudTrail_us-east-1"], retention_days=1)
    put_events(client, TRAIL, "111122223333_CloudTrail_us-east-1", sorted(trail_records([0.2, 2.3, 3.4], 60)))
    root = fresh_dir(setup, "typed")
    archive(setup, root, "--groups", TRAIL)
    endpoint = setup["endpoint"]
    table = f"{qi(TRAIL)}.cloudtrail_events"
    queries = [
        f"SELECT eventid, eventname, useridentity.arn AS arn, readonly, eventtime, time FROM {table} ORDER BY eventid",
        f"SELECT eventname, count(*) AS n FROM {table} WHERE readonly = false GROUP BY 1 ORDER BY 1",
        f"SELECT count(*) AS n FROM {table} WHERE requestparameters['bucketName'] = 'b1' "
        f"AND eventtime < now() - INTERVAL '2' DAY",
    ]
    with running(start_logflight(endpoint, workdir / "logflight-typed-live.log", *pacing_args())) as live, \
         running(start_logflight(endpoint, workdir / "logflight-typed-archived.log", *pacing_args(),
                                 "--archive-root", root)) as archived:
        with connect(live.uri) as a, connect(archived.uri) as b:
            for q in queries:
                want = run(a, q)
                assert want.num_rows > 0, q
                assert run(b, q).equals(want), q
            assert scalar(b, f"SELECT count(*) FROM {table}") == 180
            # The final days are decoded from the archive, the rest from CloudWatch.
            plan = "\n".join(run(b, f"EXPLAIN SELECT count(*) FROM {table}").column(1).to_pylist())
            assert "TypedDecode" in plan and "DataSourceExec" in plan and "LogScan" in plan, plan
