"""Deterministic CloudWatch Logs test data, loaded into moto through boto3.

Everything the tests expect is computed from the in-memory record kept here
(`Dataset.events`), never from logflight itself.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

SEED = 20261124

# Group and stream names -----------------------------------------------------

LAMBDA_GROUP = "/aws/lambda/orders-api"
CLOUDTRAIL_GROUP = "/aws/cloudtrail/Management"
CASE_GROUP = "/app/CaseTest"
QUIET_GROUP = "/app/quiet"

CLOUDTRAIL_STREAM = "123456789012_CloudTrail_us-east-1"
CASE_STREAM_UPPER = "Worker"
CASE_STREAM_LOWER = "worker"
CASE_STREAM_ONLY_UPPER = "OnlyUpper"
QUIET_STREAM = "idle"  # a stream that never receives an event

BIG_STREAM_EVENTS = 12_000  # more than one GetLogEvents / FilterLogEvents page
PUT_BATCH = 4_000  # events per PutLogEvents call (AWS allows up to 10,000)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def lambda_stream_name(day: dt.date, hex_id: str) -> str:
    return f"{day:%Y/%m/%d}/[$LATEST]{hex_id}"


@dataclass(frozen=True)
class Event:
    group: str
    stream: str
    ts: int  # milliseconds since the epoch, UTC
    message: str


@dataclass
class Dataset:
    events: list[Event]
    groups: dict[str, list[str]]  # group -> its streams (including empty ones)
    lambda_streams: dict[str, str]  # role ("big", "medium", "small") -> stream name
    # Timestamps planted on purpose so that several events share them, with
    # neighbours exactly one millisecond before and after.
    shared_ts: int
    shared_ts_2: int
    load_started_ms: int = 0
    load_finished_ms: int = 0
    trace_tokens: list[str] = field(default_factory=list)

    # -- helpers used by the tests to compute expected values ---------------

    def select(self, group: str | None = None, stream: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if (group is None or e.group == group) and (stream is None or e.stream == stream)
        ]

    def count(self, group: str | None = None, stream: str | None = None, where=None) -> int:
        rows = self.select(group, stream)
        if where is not None:
            rows = [e for e in rows if where(e)]
        return len(rows)

    def stream_counts(self, group: str) -> Counter:
        return Counter(e.stream for e in self.select(group))

    @property
    def big_stream(self) -> str:
        return self.lambda_streams["big"]


# Generation -------------------------------------------------------------------

_LAMBDA_TEMPLATES = [
    ("INFO", "INFO order {order} accepted for customer c-{cust}"),
    ("INFO", "INFO order {order} shipped trace={trace}"),
    ("INFO", "INFO inventory check ok sku=SKU-{sku} (no error)"),
    ("DEBUG", "DEBUG cache hit key=orders:{order}"),
    ("WARN", "WARN slow downstream call took {ms} ms"),
    ("ERROR", "ERROR failed to charge card for order {order}: PaymentDeclined"),
    ("ERROR", "ERROR Task timed out after 3.00 seconds\n  at handler (/var/task/index.js:42:7)\n\tat process"),
]


def _lambda_message(rng: random.Random, trace_tokens: list[str]) -> str:
    r = rng.random()
    if r < 0.05:
        return f"START RequestId: {rng.getrandbits(128):032x} Version: $LATEST"
    if r < 0.10:
        return f"END RequestId: {rng.getrandbits(128):032x}"
    if r < 0.13:
        return (
            f"REPORT RequestId: {rng.getrandbits(128):032x}\tDuration: {rng.uniform(1, 900):.2f} ms"
            f"\tBilled Duration: {rng.randint(1, 900)} ms\tMemory Size: 512 MB"
        )
    if r < 0.14:
        return f"INFO unicode payload ✓ café 東京 order {rng.randint(1, 99999)}"
    _, template = rng.choices(_LAMBDA_TEMPLATES, weights=[30, 12, 10, 10, 8, 6, 2])[0]
    return template.format(
        order=rng.randint(1, 99_999),
        cust=rng.randint(1, 500),
        sku=rng.randint(100, 999),
        ms=rng.randint(500, 9000),
        trace=rng.choice(trace_tokens),
    )


_CLOUDTRAIL_EVENTS = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("s3.amazonaws.com", "GetBucketAcl"),
    ("iam.amazonaws.com", "CreateRole"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("logs.amazonaws.com", "CreateLogStream"),
]


def _cloudtrail_message(rng: random.Random, ts: int, trace_tokens: list[str]) -> str:
    source, name = rng.choice(_CLOUDTRAIL_EVENTS)
    record = {
        "eventVersion": "1.08",
        "eventTime": dt.datetime.fromtimestamp(ts / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "userIdentity": {"type": "AssumedRole", "accountId": "123456789012"},
        "requestID": f"{rng.getrandbits(64):016x}",
    }
    if rng.random() < 0.6:
        record["traceId"] = rng.choice(trace_tokens)
    if rng.random() < 0.1:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "User is not authorized (ERROR)"
    return json.dumps(record, separators=(",", ":"))


def _case_message(rng: random.Random, stream: str, i: int) -> str:
    level = rng.choice(["INFO", "INFO", "INFO", "ERROR", "WARN"])
    return f"{level} {stream} job {i} finished in {rng.randint(1, 500)} ms"


def generate(now_ms: int | None = None, seed: int = SEED) -> Dataset:
    """Build the whole dataset in memory (nothing is sent anywhere)."""
    rng = random.Random(seed)
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    # moto rejects events older than 14 days or more than 2 h in the future.
    lo = now_ms - 3 * HOUR_MS
    hi = now_ms - MINUTE_MS

    def rand_ts() -> int:
        return rng.randint(lo, hi)

    today = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc).date()
    lambda_streams = {
        "big": lambda_stream_name(today, f"{rng.getrandbits(128):032x}"),
        "medium": lambda_stream_name(today, f"{rng.getrandbits(128):032x}"),
        "small": lambda_stream_name(today, f"{rng.getrandbits(128):032x}"),
    }
    trace_tokens = [f"T{n:05d}" for n in rng.sample(range(100_000), 150)]

    events: list[Event] = []

    def add(group: str, stream: str, ts: int, message: str) -> None:
        events.append(Event(group, stream, ts, message))

    # Lambda group: one big stream (> 10,000 events) and two smaller ones.
    sizes = {"big": BIG_STREAM_EVENTS, "medium": 1_500, "small": 57}
    for role, size in sizes.items():
        for _ in range(size):
            add(LAMBDA_GROUP, lambda_streams[role], rand_ts(), _lambda_message(rng, trace_tokens))

    # Planted millisecond ties and exact-boundary neighbours.
    shared_ts = lo + 77 * MINUTE_MS + 123  # odd millisecond on purpose
    shared_ts_2 = shared_ts + 41 * MINUTE_MS + 456
    planted = [
        # (stream role, timestamp, how many events)
        ("big", shared_ts - 1, 2),
        ("big", shared_ts, 4),
        ("medium", shared_ts, 2),
        ("small", shared_ts, 1),
        ("big", shared_ts + 1, 3),
        ("medium", shared_ts + 1, 1),
        ("big", shared_ts_2 - 1, 1),
        ("big", shared_ts_2, 3),
        ("small", shared_ts_2, 2),
        ("medium", shared_ts_2 + 1, 2),
    ]
    for role, ts, n in planted:
        for k in range(n):
            add(LAMBDA_GROUP, lambda_streams[role], ts, f"INFO planted tie {ts} #{k} role={role}")

    # CloudTrail group: JSON messages.
    for _ in range(700):
        ts = rand_ts()
        add(CLOUDTRAIL_GROUP, CLOUDTRAIL_STREAM, ts, _cloudtrail_message(rng, ts, trace_tokens))
    for k in range(3):  # a tie inside CloudTrail too
        add(CLOUDTRAIL_GROUP, CLOUDTRAIL_STREAM, shared_ts, _cloudtrail_message(rng, shared_ts, trace_tokens))

    # Case-sensitivity group: streams differing only by case, plus OnlyUpper.
    for stream, size in [(CASE_STREAM_UPPER, 40), (CASE_STREAM_LOWER, 25), (CASE_STREAM_ONLY_UPPER, 10)]:
        for i in range(size):
            add(CASE_GROUP, stream, rand_ts(), _case_message(rng, stream, i))

    groups = {
        LAMBDA_GROUP: list(lambda_streams.values()),
        CLOUDTRAIL_GROUP: [CLOUDTRAIL_STREAM],
        CASE_GROUP: [CASE_STREAM_UPPER, CASE_STREAM_LOWER, CASE_STREAM_ONLY_UPPER],
        QUIET_GROUP: [QUIET_STREAM],
    }
    for e in events:
        assert lo <= e.ts <= hi, e
    return Dataset(
        events=events,
        groups=groups,
        lambda_streams=lambda_streams,
        shared_ts=shared_ts,
        shared_ts_2=shared_ts_2,
        trace_tokens=trace_tokens,
    )


# Loading ------------------------------------------------------------------------


def logs_client(endpoint_url: str, attempts: int | None = None, *, region: str = "us-east-1",
                credentials: dict | None = None):
    """A boto3 client for moto; `attempts` caps botocore's retries (1: none). `credentials`
    (aws_access_key_id, aws_secret_access_key, aws_session_token) default to moto's."""
    import boto3
    import botocore.config

    config = None
    if attempts is not None:
        config = botocore.config.Config(retries={"total_max_attempts": attempts, "mode": "standard"})
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client("logs", endpoint_url=endpoint_url, region_name=region, config=config, **keys)


def put_events(client, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """PutLogEvents of (timestamp ms, message) pairs, PUT_BATCH a call; every event must be
    accepted."""
    for start in range(0, len(events), PUT_BATCH):
        resp = client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ts, "message": message} for ts, message in events[start : start + PUT_BATCH]],
        )
        if "rejectedLogEventsInfo" in resp:
            raise RuntimeError(f"moto rejected events for {group}/{stream}: {resp['rejectedLogEventsInfo']}")


def create_group(client, group: str, streams: dict[str, list[tuple[int, str]]] | list[str] = (), *,
                 tags: dict[str, str] | None = None, kms_key_id: str | None = None,
                 retention_days: int | None = None) -> None:
    """A log group (with its tags, KMS key and retention when given) and its streams:
    `streams` maps each stream to its (timestamp ms, message) events, or names streams
    to leave empty."""
    args = {"logGroupName": group}
    if kms_key_id:
        args["kmsKeyId"] = kms_key_id
    if tags:
        args["tags"] = tags
    client.create_log_group(**args)
    if retention_days:
        client.put_retention_policy(logGroupName=group, retentionInDays=retention_days)
    events = streams if isinstance(streams, dict) else {}
    for stream in streams:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
        put_events(client, group, stream, events.get(stream, []))


def load(client, data: Dataset) -> None:
    """Create every group and stream, then put every event (sorted per call)."""
    data.load_started_ms = int(time.time() * 1000)
    for group, streams in data.groups.items():
        client.create_log_group(logGroupName=group)
        for stream in streams:
            client.create_log_stream(logGroupName=group, logStreamName=stream)

    by_stream: dict[tuple[str, str], list[Event]] = {}
    for e in data.events:
        by_stream.setdefault((e.group, e.stream), []).append(e)

    for (group, stream), evs in by_stream.items():
        put_events(client, group, stream, [(e.ts, e.message) for e in sorted(evs, key=lambda e: e.ts)])
    data.load_finished_ms = int(time.time() * 1000)


def verify_loaded(client, data: Dataset) -> None:
    """Sanity check of the fixture itself: moto holds exactly what we recorded."""
    for group, streams in data.groups.items():
        for stream in streams:
            got = 0
            kwargs = dict(logGroupName=group, logStreamName=stream, startFromHead=True)
            token = None
            while True:
                resp = client.get_log_events(**kwargs, **({"nextToken": token} if token else {}))
                got += len(resp["events"])
                if not resp["events"] or resp["nextForwardToken"] == token:
                    break
                token = resp["nextForwardToken"]
            expected = data.count(group, stream)
            if got != expected:
                raise RuntimeError(f"moto holds {got} events in {group}/{stream}, expected {expected}")
