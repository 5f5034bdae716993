"""Logs Insights passthrough through the real server and ADBC, on moto (which runs
simple Logs Insights queries: fields, sort, limit). The states moto cannot produce
(Failed, Cancelled, Timeout, the 10,000-row cap, StopQuery on cancel) are tested
against a scripted endpoint in connector/tests/scripted_endpoint.rs.
"""

from __future__ import annotations

import time

import adbc_driver_manager
import pyarrow as pa

from fixtures import connection, server_behind_proxy
from helpers import expect_error, run
from loader import create_group

GROUP = "/insights/app"
NOW_MS = int(time.time() * 1000)
EVENTS = [(NOW_MS - 3_600_000 + i * 1000, f"request {i} status={200 if i % 4 else 500}") for i in range(12)]
WINDOW = "now() - INTERVAL '3 hours', now()"


insights_server = server_behind_proxy("insights", seed=9, load=lambda client: create_group(client, GROUP, {"web": EVENTS}))
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
        (f"SELECT * FROM insights('fields @message', {WINDOW}, '{GROUP}', 0)", "outside 1..=10000"),
        (f"SELECT * FROM insights('fields @message', now(), now() - INTERVAL '1 day', '{GROUP}')", "is after the end"),
        (f"SELECT * FROM insights('fields @message', {WINDOW})", "takes 4 to 6 arguments"),
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
