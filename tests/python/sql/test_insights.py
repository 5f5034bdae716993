"""Logs Insights passthrough through the real server and ADBC, on moto (which runs
simple Logs Insights queries: fields, sort, limit). What moto cannot produce is tested
against a scripted endpoint in connector/tests/scripted_endpoint.rs: the Failed,
Cancelled and Timeout states, StopQuery on cancel, the row caps and the splitting of a
capped query (moto ignores StartQuery's limit and returns every row), result pages
(moto has no nextToken), statistics (moto reports none), LimitExceededException and
the queue of concurrent queries, GetLogRecord (moto has none).
"""

from __future__ import annotations

import json
import time

import adbc_driver_manager
import pyarrow as pa
import pytest

from fixtures import connection
from helpers import expect_error, run
from loader import create_group, logs_client
from servers import logflight_behind_proxy, scrape

GROUP = "/insights/app"
NOW_MS = int(time.time() * 1000)
EVENTS = [(NOW_MS - 3_600_000 + i * 1000, f"request {i} status={200 if i % 4 else 500}") for i in range(12)]
WINDOW = "now() - INTERVAL '3 hours', now()"


@pytest.fixture(scope="module")
def insights_server(own_moto, workdir):
    """logflight behind a recording proxy, with an audit log and Prometheus metrics."""
    create_group(logs_client(own_moto), GROUP, {"web": EVENTS})
    audit = workdir / "audit-insights.jsonl"
    with logflight_behind_proxy(own_moto, workdir / "logflight-insights.log", 9,
                                "--audit-log", str(audit), metrics=True) as (srv, proxy):
        yield srv, proxy


iconn = connection("insights_server")


def test_insights_rows_are_typed(iconn):
    t = run(iconn, f"""SELECT * FROM insights('fields @timestamp, @message | sort @timestamp desc | limit 3',
                                          {WINDOW}, '{GROUP}')""")
    assert t.schema.names == ["@timestamp", "@message"]
    assert t.schema.field("@timestamp").type == pa.timestamp("ms", tz="UTC")
    want = sorted(EVENTS, reverse=True)[:3]
    got = [(int(r["@timestamp"].timestamp() * 1000), r["@message"]) for r in t.to_pylist()]
    assert got == want


def test_insights_joins_with_sql_and_runs_once(insights_server, iconn):
    _, proxy = insights_server
    proxy.reset_stats()
    # A query of its own (the text differs), so no earlier result is reused.
    t = run(iconn, f"""
        SELECT a.log_stream, count(*) AS n
        FROM insights('fields @timestamp, @message | sort @timestamp asc', {WINDOW}, ['{GROUP}'], 100) i
        JOIN "{GROUP}".all_log_streams a ON a.message = i."@message"
        WHERE i."@message" LIKE '%status=500%'
        GROUP BY a.log_stream""")
    assert t.to_pylist() == [{"log_stream": "web", "n": sum("status=500" in m for _, m in EVENTS)}]
    # GetFlightInfo and DoGet both plan the statement; the query runs once.
    assert len(proxy.requests("StartQuery")) == 1
    assert len(proxy.requests("GetQueryResults")) >= 1


def test_insights_argument_errors_are_clear(iconn):
    cases = [
        (f"SELECT * FROM insights('fields @message', {WINDOW}, '{GROUP}', 0)",
         "outside 1..=100000, the most one Logs Insights QL query returns"),
        (f"SELECT * FROM insights_ppl('fields @message', {WINDOW}, '{GROUP}', 10001)",
         "outside 1..=10000, the most one OpenSearch PPL query returns"),
        (f"SELECT * FROM insights('fields @message', {WINDOW}, '{GROUP}', NULL, NULL, 'whole')",
         'unknown option "whole"'),
        (f"SELECT * FROM insights('fields @message', now(), now() - INTERVAL '1 day', '{GROUP}')", "is after the end"),
        (f"SELECT * FROM insights('fields @message', {WINDOW})", "takes 4 to 7 arguments"),
        (f"SELECT * FROM insights('fields @message', {WINDOW}, '{GROUP}', 10, 'nope')", 'unknown catalog "nope"'),
        (f"SELECT * FROM insights('', {WINDOW}, '{GROUP}')", "query text is empty"),
    ]
    for sql, want in cases:
        expect_error(iconn, sql, contains=[want])


def test_insights_on_a_missing_group_names_it(iconn):
    expect_error(
        iconn,
        f"SELECT * FROM insights('fields @message', {WINDOW}, '/insights/nope')",
        contains=["/insights/nope", "does not exist"],
        status=adbc_driver_manager.AdbcStatusCode.NOT_FOUND,
    )


def _audit_lines(workdir, text: str) -> list[dict]:
    lines = [json.loads(line) for line in (workdir / "audit-insights.jsonl").read_text().splitlines()]
    return [line for line in lines if text in (line.get("sql") or "")]


def test_insights_costs_show_in_explain_analyze_audit_and_metrics(insights_server, iconn, workdir):
    srv, proxy = insights_server
    query = "fields @timestamp, @message | sort @timestamp asc | limit 7"
    before = scrape(srv.metrics_port)
    proxy.reset_stats()
    t = run(iconn, f"EXPLAIN ANALYZE SELECT count(*) FROM insights('{query}', {WINDOW}, '{GROUP}')")
    plan = "\n".join(t.column("plan").to_pylist())
    assert f'InsightsExec: language=Logs Insights QL, query="{query}", groups=[{GROUP}], time=[' in plan, plan
    for metric in ["insights_queries=1", "insights_records_matched=", "insights_records_scanned=",
                   "insights_bytes_scanned=", "insights_queue_time=", "api_calls="]:
        assert metric in plan, f"{metric}: {plan}"
    # GetFlightInfo and DoGet both plan the statement: the query runs, and counts, once.
    assert len(proxy.requests("StartQuery")) == 1
    after = scrape(srv.metrics_port)
    label = '{catalog="cloudwatch"}'
    assert after[f"logflight_insights_queries_total{label}"] - before.get(f"logflight_insights_queries_total{label}", 0) == 1
    for name in ["bytes_scanned_total", "records_scanned_total", "queue_seconds_total"]:
        assert f"logflight_insights_{name}{label}" in after, name
    # The audit line of the DoGet names the Logs Insights query it ran.
    lines = [line for line in _audit_lines(workdir, query) if line["rpc"] == "DoGet"]
    assert lines and lines[-1]["insights_queries"] == 1, lines
    assert lines[-1]["api_calls"] >= 2, "StartQuery and GetQueryResults"
    # moto reports no statistics: zero figures are left out of the line.
    assert "insights_bytes_scanned" not in lines[-1]


def test_insights_without_insights_queries_leaves_the_audit_fields_out(iconn, workdir):
    run(iconn, "SELECT 42 AS no_insights_here")
    line = _audit_lines(workdir, "no_insights_here")[-1]
    assert "insights_queries" not in line and line["outcome"] == "ok"


def test_insights_whole_messages_fail_clearly_without_get_log_record(iconn):
    # moto answers every row with a @ptr but has no GetLogRecord: the query fails
    # naming the call rather than returning the (possibly truncated) messages.
    expect_error(
        iconn,
        f"""SELECT * FROM insights('fields @timestamp, @message | limit 2', {WINDOW}, '{GROUP}',
                                   NULL, NULL, 'whole_messages')""",
        contains=["GetLogRecord"],
    )
