"""The fakecloud tier (bash tests/fakecloud.sh): aggregations pushed into Logs Insights
checked against the same aggregations scanned, with fakecloud evaluating the Logs
Insights side: the real server, ADBC, and StartQuery/GetQueryResults over HTTP.

fakecloud 0.51 evaluates `filter` with one `=` or `like` per command and `stats count(*)
... by <field>`; it has no `bin()`, and skips `in` and `not like`. The generated queries stay
inside what it evaluates: grouping by stream and log group, conditions on time, stream
equality, stream prefixes and message patterns. Time buckets, stream lists and NOT LIKE
are proven on the demo source's evaluator (tests/python/sql/test_insights_pushdown.py);
test_fakecloud_has_no_bin below records why.

fakecloud takes an endTime's whole second in (AWS stated it stops at endTime*1000); the
pushed server is left to find that out (`--insights-range-end auto`, the default).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from helpers import connect, run, ts_lit  # noqa: E402
from servers import free_port, running, start_serve  # noqa: E402

GROUP = "/fc/app"
OTHER = "/fc/other"
STREAMS = ["web-1", "web-2", "db.primary", "batch/2026/[$LATEST]x"]
WORDS = ["GET /a 200", "GET /b 500 ERROR", "POST /a 201", "ERROR timeout", "slow query", "sshd Accepted",
         "Failed password", "a_c", "x.y", "[warn] disk"]
# Whole seconds, so the events sit on second boundaries too; the queries' bounds have
# milliseconds, which the edge scans answer.
BASE_MS = (int(time.time()) - 4 * 3600) * 1000
NOW_MS = int(time.time()) * 1000 + 437


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"fakecloud exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("fakecloud did not listen within 30 s")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logflight-fakecloud")


@pytest.fixture(scope="module")
def fakecloud(workdir):
    exe = os.environ.get("FAKECLOUD_BIN", "fakecloud")
    port = free_port()
    log = workdir / "fakecloud.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "--addr", f"127.0.0.1:{port}", "--log-level", "warn"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(endpoint: str):
    return boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _events(rng: random.Random, n: int) -> list[tuple[int, str]]:
    out = []
    for _ in range(n):
        # On second boundaries, just after, just before, and anywhere.
        ms = rng.choice([0, 1, 999, rng.randint(0, 999)])
        out.append((BASE_MS + rng.randint(0, 4 * 3600 - 1) * 1000 + ms, f"{rng.choice(WORDS)} id={rng.randint(1, 99)}"))
    return sorted(out)


@pytest.fixture(scope="module")
def loaded(fakecloud):
    rng = random.Random(7)
    client = _client(fakecloud)
    for group, streams in [(GROUP, STREAMS), (OTHER, ["only"])]:
        client.create_log_group(logGroupName=group)
        for stream in streams:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            events = _events(rng, 400)
            client.put_log_events(logGroupName=group, logStreamName=stream,
                                  logEvents=[{"timestamp": t, "message": m} for t, m in events])
    return fakecloud


@pytest.fixture(scope="module")
def fconn(loaded, workdir):
    """(pushed, scanned): two servers over the same fakecloud. The scanned one reads with
    `--pushdown false`, every event and SQL's own filters, because fakecloud's
    FilterLogEvents returns nothing for the `%term%` patterns logflight's scans send."""
    common = ["--source", "cloudwatch", "--endpoint-url", loaded, "--region", "us-east-1"]
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    # The range end left to `auto`: found out per query, as it must be against AWS.
    pushed = start_serve(workdir / "logflight-pushed.log", *common, "--insights-pushdown", "exact", env=env)
    with running(pushed) as on:
        with running(start_serve(workdir / "logflight-scanned.log", *common, "--pushdown", "false", env=env)) as off:
            with connect(on.uri) as on_conn, connect(off.uri) as off_conn:
                yield on_conn, off_conn


def tbl(group: str, stream: str = "all_log_streams") -> str:
    return f'"{group}"."{stream}"'


def plan(conn, sql: str) -> str:
    return "\n".join(run(conn, "EXPLAIN " + sql).column("plan").to_pylist())


def rows(t) -> list[tuple]:
    return sorted(tuple(r.values()) for r in t.to_pylist())


def generate(rng: random.Random, count: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(count):
        group = rng.choice([GROUP, GROUP, OTHER])
        keys = rng.sample([("log_stream", "s"), ("log_group", "g")], rng.randint(0, 2))
        where = []
        if rng.random() < 0.8:
            where.append(f"time >= {ts_lit(NOW_MS - rng.randint(60, 4 * 3600) * 1000 - rng.randint(0, 999))}")
        if rng.random() < 0.6:
            end = NOW_MS - rng.randint(0, 3 * 3600) * 1000 - rng.choice([0, 1, 999, rng.randint(0, 999)])
            where.append(f"time {rng.choice(['<', '<='])} {ts_lit(end)}")
        if rng.random() < 0.3:
            s = rng.choice(STREAMS if group == GROUP else ["only"])
            prefix = s[: rng.randint(1, len(s))].split("_")[0] or s[0]
            where.append(rng.choice([f"log_stream = '{s}'", f"log_stream LIKE '{prefix}%'"]))
        if rng.random() < 0.6:
            word = rng.choice(["ERROR", "GET", "/a", "id=1", "Failed", "x.y", "[warn]", "a_c", "sshd"])
            where.append(f"message LIKE '{rng.choice(['%{}%', '{}%']).format(word)}'")
        agg = rng.choice(["count(*) AS n", "count(message) AS n"])
        select = ", ".join([f"{k} AS {a}" for k, a in keys] + [agg])
        sql = f"SELECT {select} FROM {{T}}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if keys:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        out.append((sql, group))
    return out


def test_pushed_aggregations_equal_scanned_ones_on_fakecloud(fconn):
    pushed, scanned = fconn
    queries = generate(random.Random(16), 60)
    counted = 0
    for template, group in queries:
        sql = template.replace("{T}", tbl(group))
        assert "InsightsAggregate" in plan(pushed, sql), sql
        assert "InsightsAggregate" not in plan(scanned, sql), sql
        on, off = run(pushed, sql), run(scanned, sql)
        assert on.schema == off.schema, sql
        assert rows(on) == rows(off), sql
        counted += any(r[-1] for r in rows(on))
    assert counted > len(queries) // 2


def test_the_whole_group_counts_alike(fconn):
    pushed, scanned = fconn
    sql = f"SELECT log_stream, count(*) AS n FROM {tbl(GROUP)} GROUP BY 1"
    on, off = run(pushed, sql), run(scanned, sql)
    assert rows(on) == rows(off)
    assert sum(n for _, n in rows(on)) == 400 * len(STREAMS)


def test_fakecloud_has_no_bin(loaded):
    """Why time buckets are not in this tier: fakecloud 0.51 reads `bin(1h)` as a field
    it does not have and puts every event in one group. If this fails, fakecloud learnt
    bin(): add date_trunc/date_bin keys to generate()."""
    client = _client(loaded)
    qid = client.start_query(logGroupName=GROUP, startTime=BASE_MS // 1000, endTime=NOW_MS // 1000,
                             queryString="stats count(*) as c0 by bin(1h)")["queryId"]
    for _ in range(50):
        out = client.get_query_results(queryId=qid)
        if out["status"] == "Complete":
            break
        time.sleep(0.1)
    assert len(out["results"]) == 1, out["results"]


def test_the_range_end_setting_is_what_keeps_the_edges_exact(loaded, fconn, workdir):
    """fakecloud takes an endTime's whole second in. Told `instant` (AWS's stated rule),
    logflight counts the edge after the last whole second twice: a range ending 1 ms into
    a second that holds events comes out too high. `auto` (the pushed server) and `second`
    are exact."""
    pushed, scanned = fconn
    client = _client(loaded)
    events = client.filter_log_events(logGroupName=GROUP, logStreamNames=["web-1"])["events"]
    t = next(e["timestamp"] for e in events if e["timestamp"] % 1000 == 1)
    sql = f"SELECT count(*) AS n FROM {tbl(GROUP)} WHERE time <= {ts_lit(t)}"
    truth = run(scanned, sql).to_pylist()
    assert run(pushed, sql).to_pylist() == truth
    common = ["--source", "cloudwatch", "--endpoint-url", loaded, "--region", "us-east-1"]
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    srv = start_serve(workdir / "logflight-instant.log", *common, "--insights-pushdown", "exact",
                      "--insights-range-end", "instant", env=env)
    with running(srv), connect(srv.uri) as wrong:
        assert run(wrong, sql).to_pylist()[0]["n"] > truth[0]["n"]
    srv = start_serve(workdir / "logflight-second.log", *common, "--insights-pushdown", "exact",
                      "--insights-range-end", "second", env=env)
    with running(srv), connect(srv.uri) as told:
        assert run(told, sql).to_pylist() == truth
