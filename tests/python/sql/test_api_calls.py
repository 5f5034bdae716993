"""What a query costs in CloudWatch API calls, counted by a proxy in front of moto.

A group of 100,000 events in 10 streams whose time spans do not overlap is
loaded; a logflight server reads it through `faultproxy` (no faults), which
records every request. The assertions are the ones an API-quota-conscious
user cares about: LIMIT reads almost nothing, a one-stream query never reads
another stream, and a time range inside one stream's span never asks for
another stream's events.
"""

from __future__ import annotations

import time

import pytest

from faultproxy import FaultProxy
from helpers import connect, run, scalar, ts_lit
from loader import create_group, logs_client
from servers import pacing_args, running, scrape, start_logflight

GROUP = "/calls/Big-Group"
STREAMS = [f"app/{i:02d}" for i in range(10)]
PER_STREAM = 10_000
STEP_MS = 50  # one event every 50 ms: each stream spans 500 s
EVENT_APIS = ("GetLogEvents", "FilterLogEvents")


@pytest.fixture(scope="module")
def spans(own_moto):
    """Loads the group into this module's own moto (the shared one's group
    listing is asserted exactly elsewhere); returns {stream: (first_ms, last_ms)}."""
    base = int(time.time() * 1000) - 3 * 3_600_000
    starts = {stream: base + i * PER_STREAM * STEP_MS for i, stream in enumerate(STREAMS)}
    create_group(logs_client(own_moto), GROUP, {
        stream: [(start + j * STEP_MS, f"{stream} event {j}") for j in range(PER_STREAM)]
        for stream, start in starts.items()
    })
    return {stream: (start, start + (PER_STREAM - 1) * STEP_MS) for stream, start in starts.items()}


@pytest.fixture(scope="module")
def proxy(own_moto, spans):
    with FaultProxy(own_moto, seed=3) as p:
        yield p


@pytest.fixture(scope="module")
def calls_server(proxy, workdir):
    with running(start_logflight(proxy.url, workdir / "logflight-calls.log", *pacing_args(), metrics=True)) as srv:
        yield srv


@pytest.fixture
def conn(calls_server, proxy):
    with connect(calls_server.uri) as c:
        # Warm the name caches, then count only what the test's query does.
        assert scalar(c, f'SELECT count(*) FROM "{GROUP}".all_log_streams WHERE false') == 0
        proxy.reset_stats()
        yield c
    calls_server.assert_alive()


def event_reads(proxy: FaultProxy) -> list[dict]:
    return proxy.requests(*EVENT_APIS)


def test_limit_10_on_100k_events_makes_at_most_two_reads(conn, proxy):
    rows = run(conn, f'SELECT * FROM "{GROUP}".all_log_streams LIMIT 10')
    assert rows.num_rows == 10
    reads = event_reads(proxy)
    assert 1 <= len(reads) <= 2, reads
    assert all(r.get("limit", 10_001) <= 10 for r in reads), reads


def test_limit_on_one_stream_of_the_group(conn, proxy):
    rows = run(conn, f"SELECT * FROM \"{GROUP}\".all_log_streams WHERE log_stream = '{STREAMS[4]}' LIMIT 3")
    assert rows.num_rows == 3
    assert set(rows.column("log_stream").to_pylist()) == {STREAMS[4]}
    assert 1 <= len(event_reads(proxy)) <= 2, event_reads(proxy)


@pytest.mark.parametrize("table_sql", [
    f'"{GROUP}"."{STREAMS[3]}"',
    f"\"{GROUP}\".all_log_streams WHERE log_stream = '{STREAMS[3]}'",
])
def test_a_query_on_one_stream_never_reads_another(conn, proxy, table_sql):
    assert scalar(conn, f"SELECT count(*) FROM {table_sql}") == PER_STREAM
    reads = event_reads(proxy)
    assert reads, "the query made no read call"
    for r in reads:
        named = r.get("logStreamNames") or [r.get("logStreamName")]
        assert named == [STREAMS[3]], r
    # Two pages at most for 10,000 events, plus the end-of-stream call.
    assert len(reads) <= 3, reads


def test_a_stream_table_is_looked_up_once(conn, proxy):
    """A stream table's name is checked with one prefix listing, then remembered for the
    listing cache's lifetime: not listed again when the scan starts, nor by the next query."""
    table = f'"{GROUP}"."{STREAMS[5]}"'
    assert scalar(conn, f"SELECT count(*) FROM {table}") == PER_STREAM
    lookups = proxy.requests("DescribeLogStreams")
    assert len(lookups) <= 1, lookups
    assert all(r.get("logStreamNamePrefix") == STREAMS[5] for r in lookups), lookups
    proxy.reset_stats()
    assert scalar(conn, f"SELECT count(*) FROM {table} WHERE message LIKE '%event 7%'") > 0
    assert proxy.requests("DescribeLogStreams") == []


def test_a_time_range_inside_one_stream_skips_the_others(conn, proxy, spans):
    first, last = spans[STREAMS[6]]
    lo, hi = first + 100_000, last - 100_000
    got = scalar(conn, f'SELECT count(*) FROM "{GROUP}".all_log_streams WHERE time BETWEEN {ts_lit(lo)} AND {ts_lit(hi)}')
    assert got == sum(1 for j in range(PER_STREAM) if lo <= first + j * STEP_MS <= hi)
    reads = event_reads(proxy)
    assert reads
    for r in reads:
        # Every read asks only for times inside stream 6's span, where no
        # other stream has events (FilterLogEvents' bounds are inclusive).
        assert lo <= r["startTime"] and r["endTime"] <= hi, r


def test_full_scan_reads_each_event_once(conn, proxy):
    assert scalar(conn, f'SELECT count(*) FROM "{GROUP}".all_log_streams') == len(STREAMS) * PER_STREAM
    reads = event_reads(proxy)
    # 100,000 events in pages of up to 10,000 (per time slice): a handful of calls.
    assert len(reads) <= 20, len(reads)


def delta(before: dict, after: dict, series: str) -> float:
    return after.get(series, 0) - before.get(series, 0)


def test_metrics_count_what_the_api_saw(conn, proxy, calls_server):
    before = scrape(calls_server.metrics_port)
    n = scalar(conn, f'SELECT count(*) FROM "{GROUP}".all_log_streams')
    after = scrape(calls_server.metrics_port)
    for api in EVENT_APIS:
        series = f'logflight_api_calls_total{{catalog="cloudwatch",api="{api}",outcome="ok"}}'
        assert delta(before, after, series) == len(proxy.requests(api)), (api, proxy.requests(api))
    assert delta(before, after, 'logflight_events_scanned_total{catalog="cloudwatch"}') == n
    assert delta(before, after, 'logflight_queries_total{outcome="ok"}') == 1
    assert delta(before, after, "logflight_rows_returned_total") == 1
    assert delta(before, after, "logflight_query_duration_seconds_count") == 1


@pytest.fixture(scope="module")
def slow_server(proxy, workdir):
    """A server paced at 2 calls a second, so a full scan takes many seconds."""
    with running(start_logflight(
        proxy.url, workdir / "logflight-slow.log",
        "--api-tps", "FilterLogEvents=2,GetLogEvents=2,DescribeLogStreams=50,DescribeLogGroups=50",
        "--scan-partitions", "1",
        metrics=True,
    )) as srv:
        yield srv


def test_a_client_that_goes_away_stops_the_api_calls(slow_server, proxy):
    import pyarrow.flight as flight

    client = flight.FlightClient(slow_server.uri)
    sql = f'SELECT * FROM "{GROUP}".all_log_streams'
    # Warm the name caches first, so only the scan's calls are counted.
    client.do_get(flight.Ticket(f"{sql} WHERE false".encode())).read_all()
    proxy.reset_stats()
    reader = client.do_get(flight.Ticket(sql.encode()))
    first = reader.read_chunk()
    assert first.data.num_rows > 0
    reader.cancel()
    client.close()
    time.sleep(1.5)  # let a call already in flight finish
    settled = len(event_reads(proxy))
    time.sleep(3)
    assert len(event_reads(proxy)) == settled, "API calls went on after the client left"
    # 100,000 events need at least 10 pages: the scan was stopped early.
    assert settled < 10, settled
    metrics = scrape(slow_server.metrics_port)
    assert metrics['logflight_queries_total{outcome="cancelled"}'] >= 1


def test_show_lists_only_what_it_shows(conn, proxy, own_moto):
    """SHOW SCHEMAS needs the groups, not their streams; SHOW TABLES FROM one group lists
    that group's streams only, however many other groups there are."""
    now = int(time.time() * 1000)
    client = logs_client(own_moto)
    for name in ("/calls/show-a", "/calls/show-b"):
        create_group(client, name, {"s1": [(now, "x")], "s2": [(now, "y")]})
    names = run(conn, "SHOW SCHEMAS").column("schema_name").to_pylist()
    assert GROUP in names
    assert proxy.requests("DescribeLogStreams") == []
    proxy.reset_stats()
    t = run(conn, 'SHOW TABLES FROM "/calls/show-a"')
    assert sorted(t.column("table_name").to_pylist()) == ["all_log_streams", "s1", "s2"]
    listed = {r.get("logGroupName") for r in proxy.requests("DescribeLogStreams")}
    assert listed == {"/calls/show-a"}, listed
