"""`flow_log_records` (VPC Flow Logs) and `lambda_invocations` (Lambda REPORT lines and
JSON `platform.report` records) through the real server and ADBC, with every expected
row computed here in Python.

These typed tables are written on another branch: until it is merged, the servers of
this module do not start (the config's flow_log_format is refused) or the tables are
missing, and every test here fails. Run after the merge.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import pyarrow as pa
import re

import pytest


def stable_id(where: str) -> str:
    """A test id without the literal times (computed from now), so every pytest worker collects the same ids."""
    return re.sub(r"'\d{4}-\d\d-\d\d[ T][0-9:.]+Z?'", "'<time>'", where)

from fixtures import connection
from helpers import qi, run
from loader import create_group, logs_client
from servers import running, start_logflight

SEED = 20261207
NOW_S = int(time.time())
rng = random.Random(SEED)


def hexid(n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


# VPC Flow Logs ----------------------------------------------------------------------------

DEFAULT_GROUP = "/vpc/flow-logs"  # detected by name, default (version 2) format
CUSTOM_GROUP = "/net/custom"  # a [[typed_tables]] rule with its own format
DEFAULT_STREAMS = [f"eni-{hexid(17)}-all", f"eni-{hexid(17)}-all"]
CUSTOM_STREAM = f"eni-{hexid(17)}-all"
ACCOUNT = "111122223333"

V2_FIELDS = ["version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
             "packets", "bytes", "start", "end", "action", "log-status"]
CUSTOM_FIELDS = ["version", "vpc-id", "subnet-id", "instance-id", "interface-id", "srcaddr", "dstaddr", "srcport",
                 "dstport", "protocol", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr", "action", "log-status",
                 "traffic-path", "start", "end", "packets", "bytes"]
CUSTOM_FORMAT = " ".join("${" + f + "}" for f in CUSTOM_FIELDS)
INT32 = {"version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path"}
INT64 = {"packets", "bytes"}
SECONDS = {"start", "end"}
ADDRS = ["10.0.1.5", "10.0.2.17", "172.31.9.9", "198.51.100.7", "203.0.113.44"]


def flow_values(eni: str, version: int) -> dict:
    """One flow record's fields (text as in the log); NODATA/SKIPDATA and ICMP sometimes."""
    start = NOW_S - rng.randint(600, 4 * 3600)
    end = start + rng.randint(1, 60)
    kind = rng.random()
    if kind < 0.1:  # no traffic in the window: every traffic field is '-'
        v = {f: "-" for f in CUSTOM_FIELDS}
        v.update({"version": str(version), "interface-id": eni, "start": str(start), "end": str(end),
                  "log-status": rng.choice(["NODATA", "SKIPDATA"])})
        v["account-id"] = ACCOUNT if kind < 0.05 else "-"
        return v
    protocol = rng.choice([6, 6, 6, 17, 1])
    icmp = protocol == 1
    v = {
        "version": str(version), "account-id": ACCOUNT, "interface-id": eni,
        "srcaddr": rng.choice(ADDRS), "dstaddr": rng.choice(ADDRS),
        "srcport": "0" if icmp else str(rng.choice([22, 443, 3306, rng.randint(1024, 65535)])),
        "dstport": "0" if icmp else str(rng.choice([22, 22, 80, 443, rng.randint(1024, 65535)])),
        "protocol": str(protocol), "packets": str(rng.randint(1, 5000)), "bytes": str(rng.randint(40, 3_000_000_000)),
        "start": str(start), "end": str(end), "action": rng.choice(["ACCEPT", "ACCEPT", "REJECT"]), "log-status": "OK",
        "vpc-id": "vpc-" + hexid(8), "subnet-id": "subnet-" + hexid(8),
        "instance-id": rng.choice(["i-" + hexid(17), "-"]), "tcp-flags": str(rng.choice([2, 18, 19, 3])) if protocol == 6 else "-",
        "type": rng.choice(["IPv4", "IPv6"]), "pkt-srcaddr": rng.choice(ADDRS), "pkt-dstaddr": rng.choice(ADDRS),
        "traffic-path": rng.choice(["1", "7", "8", "-"]),
    }
    return v


def typed(field: str, text: str):
    if text == "-":
        return None
    if field in INT32 or field in INT64:
        return int(text)
    if field in SECONDS:
        return dt.datetime.fromtimestamp(int(text), dt.timezone.utc)
    return text


def flow_events(fields: list[str], streams: list[str], n: int, version: int):
    """(stream, ts ms, line, expected row) of n records in the format of `fields`."""
    out = []
    for i in range(n):
        stream = streams[i % len(streams)]
        v = flow_values(stream[:21], version)
        line = " ".join(v[f] for f in fields)
        ts = (int(v["end"]) + rng.randint(0, 300)) * 1000 + i
        row = {f.replace("-", "_"): typed(f, v[f]) for f in fields}
        out.append((stream, ts, line, row))
    return out


DEFAULT_EVENTS = flow_events(V2_FIELDS, DEFAULT_STREAMS, 80, 2)
CUSTOM_EVENTS = flow_events(CUSTOM_FIELDS, [CUSTOM_STREAM], 40, 5)

# Lambda ------------------------------------------------------------------------------------

TEXT_GROUP = "/aws/lambda/orders-fn"
JSON_GROUP = "/aws/lambda/json-fn"
DAY = dt.datetime.fromtimestamp(NOW_S, dt.timezone.utc).strftime("%Y/%m/%d")
TEXT_STREAMS = {f"{DAY}/[$LATEST]{hexid(32)}": "$LATEST", f"{DAY}/[7]{hexid(32)}": "7"}
JSON_STREAM = f"{DAY}/[12]{hexid(32)}"


def request_id() -> str:
    h = hexid(32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def text_invocation(stream: str, t_ms: int, cold: bool, xray: bool):
    """START, app lines, END, REPORT of one invocation; the expected row of its REPORT."""
    rid = request_id()
    duration = round(rng.uniform(0.5, 900), 2)
    billed = int(duration) + 1
    memory = rng.choice([128, 512, 1024])
    used = rng.randint(40, memory)
    init = round(rng.uniform(80, 900), 2) if cold else None
    report = (f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
              f"Memory Size: {memory} MB\tMax Memory Used: {used} MB\t")
    if cold:
        report += f"Init Duration: {init:.2f} ms\t"
    if xray:
        report += f"\nXRAY TraceId: 1-{hexid(8)}-{hexid(24)}\tSegmentId: {hexid(16)}\tSampled: true\t"
    lines = [
        (t_ms, f"START RequestId: {rid} Version: {TEXT_STREAMS[stream]}"),
        (t_ms + 1, f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.000Z}\t{rid}\tINFO\tprocessing order"),
        (t_ms + 2, f"END RequestId: {rid}"),
        (t_ms + 3, report),
    ]
    row = {"request_id": rid, "duration_ms": duration, "billed_duration_ms": billed, "memory_size_mb": memory,
           "max_memory_used_mb": used, "init_duration_ms": init, "status": None,
           "version": TEXT_STREAMS[stream], "log_group": TEXT_GROUP, "log_stream": stream, "time_ms": t_ms + 3}
    return lines, row


def json_invocation(t_ms: int, cold: bool, status: str):
    rid = request_id()
    iso = dt.datetime.fromtimestamp(t_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    metrics = {"durationMs": round(rng.uniform(0.5, 900), 3), "billedDurationMs": rng.randint(1, 901),
               "memorySizeMB": 256, "maxMemoryUsedMB": rng.randint(50, 256)}
    if cold:
        metrics["initDurationMs"] = round(rng.uniform(80, 900), 3)
    lines = [
        (t_ms, json.dumps({"time": iso, "type": "platform.start", "record": {"requestId": rid, "version": "12"}})),
        (t_ms + 1, json.dumps({"timestamp": iso, "level": "INFO", "requestId": rid, "message": "working"})),
        (t_ms + 2, json.dumps({"time": iso, "type": "platform.report",
                               "record": {"requestId": rid, "metrics": metrics, "status": status}})),
    ]
    row = {"request_id": rid, "duration_ms": metrics["durationMs"], "billed_duration_ms": metrics["billedDurationMs"],
           "memory_size_mb": 256, "max_memory_used_mb": metrics["maxMemoryUsedMB"],
           "init_duration_ms": metrics.get("initDurationMs"), "status": status, "version": "12",
           "log_group": JSON_GROUP, "log_stream": JSON_STREAM, "time_ms": t_ms + 2}
    return lines, row


LAMBDA_LINES: dict[str, dict[str, list]] = {TEXT_GROUP: {s: [] for s in TEXT_STREAMS}, JSON_GROUP: {JSON_STREAM: []}}
LAMBDA_ROWS: list[dict] = []
for i in range(30):
    stream = list(TEXT_STREAMS)[i % 2]
    lines, row = text_invocation(stream, (NOW_S - 3600) * 1000 + i * 10_000, cold=i % 5 == 0, xray=i % 3 == 0)
    LAMBDA_LINES[TEXT_GROUP][stream] += lines
    LAMBDA_ROWS.append(row)
for i in range(12):
    lines, row = json_invocation((NOW_S - 3000) * 1000 + i * 10_000, cold=i % 4 == 0,
                                 status=rng.choice(["success", "success", "error", "timeout"]))
    LAMBDA_LINES[JSON_GROUP][JSON_STREAM] += lines
    LAMBDA_ROWS.append(row)

CONFIG = f"""
[[typed_tables]]
log_groups = ["{CUSTOM_GROUP}"]
format = "vpc_flow_logs"
flow_log_format = "{CUSTOM_FORMAT}"
"""


@pytest.fixture(scope="module")
def loaded(own_moto, workdir):
    client = logs_client(own_moto)
    by = {}
    for stream, ts, line, _ in DEFAULT_EVENTS:
        by.setdefault(stream, []).append((ts, line))
    create_group(client, DEFAULT_GROUP, {s: sorted(v) for s, v in by.items()})
    create_group(client, CUSTOM_GROUP, {CUSTOM_STREAM: sorted((ts, line) for _, ts, line, _ in CUSTOM_EVENTS)})
    for group, streams in LAMBDA_LINES.items():
        create_group(client, group, {s: sorted(v) for s, v in streams.items()})
    path = workdir / "typed-flow-lambda.toml"
    path.write_text(CONFIG)
    return own_moto, path


@pytest.fixture(scope="module")
def fl_on(loaded, workdir):
    endpoint, config = loaded
    with running(start_logflight(endpoint, workdir / "logflight-fl-on.log", "--config", str(config))) as srv:
        yield srv


@pytest.fixture(scope="module")
def fl_off(loaded, workdir):
    endpoint, config = loaded
    with running(start_logflight(endpoint, workdir / "logflight-fl-off.log", "--config", str(config),
                                 "--pushdown", "false")) as srv:
        yield srv


conn = connection("fl_on", scope="module")
off_conn = connection("fl_off", scope="module")


def normal(v):
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        return v.replace(tzinfo=dt.timezone.utc)
    if isinstance(v, float):
        return round(v, 6)
    return v


def rows_of(t: pa.Table, columns: list[str]) -> list[tuple]:
    return sorted((tuple(normal(r[c]) for c in columns) for r in t.to_pylist()), key=repr)


def expected_flow(events, extra=()) -> list[tuple]:
    return sorted((tuple(normal(v) for v in list(row.values()) + [s]) for s, _, _, row in events), key=repr)


# Flow logs -------------------------------------------------------------------------------


@pytest.mark.parametrize("group,fields,events", [(DEFAULT_GROUP, V2_FIELDS, DEFAULT_EVENTS),
                                                 (CUSTOM_GROUP, CUSTOM_FIELDS, CUSTOM_EVENTS)],
                         ids=["default-v2", "custom"])
def test_flow_log_records_every_value(conn, group, fields, events):
    cols = [f.replace("-", "_") for f in fields]
    t = run(conn, f"SELECT * FROM {qi(group)}.flow_log_records")
    assert t.column_names[:len(cols)] == cols
    assert t.column_names[len(cols):] == ["log_group", "log_stream", "time"]
    assert rows_of(t, cols + ["log_stream"]) == expected_flow(events)
    # NODATA/SKIPDATA records and ICMP are in the data.
    assert any(row["log_status"] in ("NODATA", "SKIPDATA") for _, _, _, row in events)
    assert any(row["protocol"] == 1 for _, _, _, row in events)


@pytest.mark.parametrize("group,fields", [(DEFAULT_GROUP, V2_FIELDS), (CUSTOM_GROUP, CUSTOM_FIELDS)],
                         ids=["default-v2", "custom"])
def test_flow_log_types(conn, group, fields):
    schema = run(conn, f"SELECT * FROM {qi(group)}.flow_log_records LIMIT 1").schema
    for f in fields:
        typ = schema.field(f.replace("-", "_")).type
        if f in INT32:
            assert typ == pa.int32(), (f, typ)
        elif f in INT64:
            assert typ == pa.int64(), (f, typ)
        elif f in SECONDS:
            assert typ == pa.timestamp("s", tz="UTC"), (f, typ)
        else:
            assert pa.types.is_string(typ) or typ == pa.string_view(), (f, typ)


FLOW_QUESTIONS = [
    ("dstport = 22", lambda r: r["dstport"] == 22),
    ("action = 'REJECT'", lambda r: r["action"] == "REJECT"),
    ("srcaddr IN ('10.0.1.5', '203.0.113.44')", lambda r: r["srcaddr"] in ("10.0.1.5", "203.0.113.44")),
    ("protocol = 1", lambda r: r["protocol"] == 1),
    ("dstport = 22 AND action = 'ACCEPT'", lambda r: r["dstport"] == 22 and r["action"] == "ACCEPT"),
    ("log_status = 'NODATA' OR action = 'REJECT'", lambda r: r["log_status"] == "NODATA" or r["action"] == "REJECT"),
]


@pytest.mark.parametrize("group,events", [(DEFAULT_GROUP, DEFAULT_EVENTS), (CUSTOM_GROUP, CUSTOM_EVENTS)],
                         ids=["default-v2", "custom"])
@pytest.mark.parametrize("where,pred", FLOW_QUESTIONS, ids=[stable_id(q) for q, _ in FLOW_QUESTIONS])
def test_flow_pushdown_on_and_off_answer_alike(conn, off_conn, group, events, where, pred):
    sql = f"SELECT log_stream, time, srcaddr, dstaddr, action FROM {qi(group)}.flow_log_records WHERE {where}"
    cols = ["log_stream", "srcaddr", "dstaddr", "action"]
    got_on, got_off = rows_of(run(conn, sql), cols), rows_of(run(off_conn, sql), cols)
    want = sorted(((s, row["srcaddr"], row["dstaddr"], row["action"]) for s, _, _, row in events if pred(row)), key=repr)
    assert got_on == got_off == want


# Lambda ------------------------------------------------------------------------------------

LAMBDA_COLS = ["request_id", "duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb",
               "init_duration_ms", "status", "version", "log_group", "log_stream"]


def expected_lambda(group: str, pred=lambda r: True) -> list[tuple]:
    return sorted((tuple(normal(r[c]) for c in LAMBDA_COLS) for r in LAMBDA_ROWS
                   if r["log_group"] == group and pred(r)), key=repr)


@pytest.mark.parametrize("group", [TEXT_GROUP, JSON_GROUP], ids=["text", "json"])
def test_lambda_invocations_one_row_per_report(conn, group):
    t = run(conn, f"SELECT * FROM {qi(group)}.lambda_invocations")
    for c in LAMBDA_COLS + ["time"]:
        assert c in t.column_names, (c, t.column_names)
    assert rows_of(t, LAMBDA_COLS) == expected_lambda(group)
    times = sorted(normal(v) for v in t.column("time").to_pylist())
    assert times == sorted(dt.datetime.fromtimestamp(r["time_ms"] / 1000, dt.timezone.utc)
                           for r in LAMBDA_ROWS if r["log_group"] == group)


def test_lambda_types(conn):
    schema = run(conn, f"SELECT * FROM {qi(TEXT_GROUP)}.lambda_invocations LIMIT 1").schema
    assert schema.field("duration_ms").type == pa.float64()
    assert schema.field("init_duration_ms").type == pa.float64()
    for c in ("billed_duration_ms", "memory_size_mb", "max_memory_used_mb"):
        assert schema.field(c).type == pa.int64(), c


def test_lambda_cold_and_warm(conn):
    t = run(conn, f"""SELECT count(*) FILTER (WHERE init_duration_ms IS NULL) AS warm,
                             count(*) FILTER (WHERE init_duration_ms IS NOT NULL) AS cold
                      FROM {qi(TEXT_GROUP)}.lambda_invocations""").to_pylist()[0]
    rows = [r for r in LAMBDA_ROWS if r["log_group"] == TEXT_GROUP]
    assert t == {"warm": sum(r["init_duration_ms"] is None for r in rows),
                 "cold": sum(r["init_duration_ms"] is not None for r in rows)}
    assert t["warm"] and t["cold"]


def test_lambda_version_comes_from_the_stream_name(conn):
    t = run(conn, f"""SELECT version, count(*) AS n FROM {qi(TEXT_GROUP)}.lambda_invocations
                      GROUP BY version ORDER BY version""")
    want = {}
    for r in LAMBDA_ROWS:
        if r["log_group"] == TEXT_GROUP:
            want[r["version"]] = want.get(r["version"], 0) + 1
    assert dict(zip(t.column("version").to_pylist(), t.column("n").to_pylist())) == want == {"$LATEST": 15, "7": 15}


LAMBDA_QUESTIONS = [
    (f"request_id = '{LAMBDA_ROWS[3]['request_id']}'", lambda r: r["request_id"] == LAMBDA_ROWS[3]["request_id"]),
    (f"request_id = '{LAMBDA_ROWS[-1]['request_id']}'", lambda r: r["request_id"] == LAMBDA_ROWS[-1]["request_id"]),
    ("status = 'timeout'", lambda r: r["status"] == "timeout"),
    ("init_duration_ms IS NOT NULL", lambda r: r["init_duration_ms"] is not None),
    ("max_memory_used_mb > 100", lambda r: r["max_memory_used_mb"] > 100),
]


@pytest.mark.parametrize("group", [TEXT_GROUP, JSON_GROUP], ids=["text", "json"])
@pytest.mark.parametrize("where,pred", LAMBDA_QUESTIONS, ids=[stable_id(q) for q, _ in LAMBDA_QUESTIONS])
def test_lambda_pushdown_on_and_off_answer_alike(conn, off_conn, group, where, pred):
    sql = f"SELECT * FROM {qi(group)}.lambda_invocations WHERE {where}"
    got_on, got_off = rows_of(run(conn, sql), LAMBDA_COLS), rows_of(run(off_conn, sql), LAMBDA_COLS)
    assert got_on == got_off == expected_lambda(group, pred)


def test_information_schema_lists_the_typed_tables(conn):
    t = run(conn, """SELECT table_schema, table_name FROM information_schema.tables
                     WHERE table_name IN ('flow_log_records', 'lambda_invocations', 'cloudtrail_events')""")
    got = set(zip(t.column("table_schema").to_pylist(), t.column("table_name").to_pylist()))
    assert got == {(DEFAULT_GROUP, "flow_log_records"), (CUSTOM_GROUP, "flow_log_records"),
                   (TEXT_GROUP, "lambda_invocations"), (JSON_GROUP, "lambda_invocations")}
