"""logflight through the fault-injecting proxy: answers stay exact, or the query fails.

A separate logflight server reads the session's moto through `faultproxy`,
which throttles, fails and answers empty pages (with synthetic continuation
tokens) on a share of the read calls. Every answer is checked against the
loaded record, and the proxy's counters must show that faults really were
injected while the test's queries ran, so no test here can pass vacuously.
"""

from __future__ import annotations

import zlib
from collections import Counter

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from faultproxy import FaultProxy
from fixtures import connection
from servers import pacing_args, running, scrape, start_logflight
from helpers import expected_rows, table_rows, connect, ms_list, run, scalar, table, ts_lit
from loader import CASE_GROUP, CLOUDTRAIL_GROUP, LAMBDA_GROUP


# Injected on every read operation (GetLogEvents, FilterLogEvents,
# DescribeLogStreams, DescribeLogGroups) during the "exact answers" tests.
FAULTS = dict(throttle_rate=0.2, server_error_rate=0.1, empty_page_rate=0.3)
# Enough for the SDK's retries to outlast any run of injected faults here.
TOLERANT_ATTEMPTS = 20
# The server used to watch a query fail: few attempts, so it fails fast.
STRICT_ATTEMPTS = 3
# The APIs a query's rows can come from (which one is the server's choice).
EVENT_APIS = ("FilterLogEvents", "GetLogEvents")


@pytest.fixture(scope="module")
def proxy(moto_endpoint, data):
    with FaultProxy(moto_endpoint, seed=1) as p:
        yield p


@pytest.fixture(scope="module")
def tolerant_server(proxy, workdir):
    # --cache-ttl-secs 0: every query lists groups and streams again, so the
    # listing calls go through the faults too.
    with running(start_logflight(
        proxy.url, workdir / "logflight-faults.log",
        "--max-attempts", str(TOLERANT_ATTEMPTS), "--cache-ttl-secs", "0", *pacing_args(),
        metrics=True,
    )) as srv:
        yield srv


@pytest.fixture(scope="module")
def strict_server(proxy, workdir):
    with running(start_logflight(
        proxy.url, workdir / "logflight-faults-strict.log",
        "--max-attempts", str(STRICT_ATTEMPTS), "--cache-ttl-secs", "0", *pacing_args(),
    )) as srv:
        yield srv


@pytest.fixture
def faulty(request, proxy):
    """The proxy injecting FAULTS, seeded per test; checks afterwards that faults happened."""
    with proxy.session(seed=zlib.crc32(request.node.name.encode()), **FAULTS):
        yield proxy


@pytest.fixture
def quiet_proxy(proxy):
    with proxy.session():
        yield proxy


fconn = connection("tolerant_server", check_alive=True)


def assert_faults_injected(proxy: FaultProxy) -> dict:
    s = proxy.stats()["all"]
    injected = s["throttled"] + s["server_errors"] + s["empty_pages"]
    assert injected > 0, f"no fault was injected, the test proved nothing: {proxy.stats()}"
    assert s["upstream_failures"] == 0, proxy.stats()
    return s


# Exact answers through faults -------------------------------------------------------------------


@pytest.mark.parametrize("group", [LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP])
def test_counts_per_stream(fconn, faulty, data, group):
    for _ in range(2):
        got = run(fconn, f"SELECT log_stream, count(*) AS n FROM {table(group)} GROUP BY log_stream")
        assert dict(zip(got.column("log_stream").to_pylist(), got.column("n").to_pylist())) == dict(
            data.stream_counts(group)
        )
    assert_faults_injected(faulty)


def test_count_of_big_stream(fconn, faulty, data):
    """More than 10,000 events in one stream: GetLogEvents pages, empty pages and all."""
    expected = data.count(LAMBDA_GROUP, data.big_stream)
    assert expected > 10_000
    for _ in range(2):
        assert scalar(fconn, f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}") == expected
    assert_faults_injected(faulty)


def test_count_in_time_range(fconn, faulty, data):
    lo, hi = data.shared_ts, data.shared_ts_2
    whole_group = f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time >= {ts_lit(lo)} AND time <= {ts_lit(hi)}"
    one_stream = (
        f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)} "
        f"WHERE time > {ts_lit(lo)} AND time < {ts_lit(hi)}"
    )
    for _ in range(2):
        assert scalar(fconn, whole_group) == data.count(LAMBDA_GROUP, where=lambda e: lo <= e.ts <= hi)
        assert scalar(fconn, one_stream) == data.count(
            LAMBDA_GROUP, data.big_stream, where=lambda e: lo < e.ts < hi
        )
    assert_faults_injected(faulty)


def test_order_by_time_limit(fconn, faulty, data):
    events = data.select(LAMBDA_GROUP)
    first = sorted((e.ts, e.stream, e.message) for e in events)[:25]
    last = sorted(((e.ts, e.stream, e.message) for e in events), key=lambda r: (-r[0], r[1], r[2]))[:10]
    for _ in range(2):
        got = run(
            fconn,
            f"SELECT time, log_stream, message FROM {table(LAMBDA_GROUP)} ORDER BY time, log_stream, message LIMIT 25",
        )
        assert list(zip(ms_list(got.column("time")), got.column("log_stream").to_pylist(),
                        got.column("message").to_pylist())) == first
        got = run(
            fconn,
            f"SELECT time, log_stream, message FROM {table(LAMBDA_GROUP)} "
            "ORDER BY time DESC, log_stream, message LIMIT 10",
        )
        assert list(zip(ms_list(got.column("time")), got.column("log_stream").to_pylist(),
                        got.column("message").to_pylist())) == last
    assert_faults_injected(faulty)


@pytest.mark.parametrize("role", ["medium", "small"])
def test_rows_of_a_stream(fconn, faulty, data, role):
    """Full row equality of a smaller stream, read by name (GetLogEvents) and by filter."""
    stream = data.lambda_streams[role]
    expected = Counter(expected_rows(data, LAMBDA_GROUP, stream))
    got = run(fconn, f"SELECT * FROM {table(LAMBDA_GROUP, stream)}")
    assert Counter(table_rows(got)) == expected
    got = run(fconn, f"SELECT * FROM {table(LAMBDA_GROUP)} WHERE log_stream = '{stream}'")
    assert Counter(table_rows(got)) == expected
    assert_faults_injected(faulty)


@pytest.mark.parametrize("group", [CASE_GROUP, CLOUDTRAIL_GROUP])
def test_every_row_of_a_group(fconn, faulty, data, group):
    expected = Counter(expected_rows(data, group))
    for _ in range(2):
        got = run(fconn, f"SELECT log_group, log_stream, time, message FROM {table(group)}")
        assert Counter(table_rows(got)) == expected
    assert_faults_injected(faulty)


def test_metadata_listing(fconn, faulty, data):
    """Listing calls (DescribeLogGroups / DescribeLogStreams) go through the faults too."""
    got = run(fconn, "SELECT table_schema, table_name FROM information_schema.tables")
    by_schema: dict[str, set] = {}
    for schema, name in zip(got.column("table_schema").to_pylist(), got.column("table_name").to_pylist()):
        by_schema.setdefault(schema, set()).add(name)
    for group, streams in data.groups.items():
        assert set(streams) <= by_schema.get(group, set()), (group, by_schema.get(group))
    assert faulty.stats()["operations"]["DescribeLogStreams"]["total"] >= len(data.groups)
    assert_faults_injected(faulty)


def test_every_kind_of_fault_is_injected(fconn, faulty, data):
    """A mixed workload: all answers exact, and each kind of fault happened."""
    assert scalar(fconn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}") == data.count(LAMBDA_GROUP)
    assert scalar(fconn, f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}") == data.count(
        LAMBDA_GROUP, data.big_stream
    )
    for stream in data.groups[CASE_GROUP]:
        assert scalar(fconn, f"SELECT count(*) FROM {table(CASE_GROUP, stream)}") == data.count(CASE_GROUP, stream)
    s = assert_faults_injected(faulty)
    ops = faulty.stats()["operations"]
    assert s["throttled"] > 0 and s["server_errors"] > 0 and s["empty_pages"] > 0, ops
    assert s["tokens_restored"] > 0, ops
    # Every read API the server used often enough saw faults.
    for op, c in ops.items():
        if op in EVENT_APIS and c["total"] >= 10:
            assert c["throttled"] + c["server_errors"] + c["empty_pages"] > 0, ops


def test_metrics_count_the_retries(fconn, faulty, data, tolerant_server):
    before = scrape(tolerant_server.metrics_port)
    assert scalar(fconn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}") == data.count(group=LAMBDA_GROUP)
    after = scrape(tolerant_server.metrics_port)
    injected = faulty.stats()["all"]
    assert injected["throttled"] + injected["server_errors"] > 0, injected

    def grew(series: str) -> float:
        return after.get(series, 0) - before.get(series, 0)

    # Every injected throttle or 5xx was retried, and counted as such.
    retried = grew('logflight_api_retries_total{catalog="cloudwatch"}')
    assert retried == injected["throttled"] + injected["server_errors"], (retried, injected)
    throttled = sum(
        grew(f'logflight_api_calls_total{{catalog="cloudwatch",api="{api}",outcome="throttled"}}')
        for api in ("DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents")
    )
    assert throttled == injected["throttled"], (throttled, injected)
    assert grew('logflight_queries_total{outcome="ok"}') == 1


def test_concurrent_queries(tolerant_server, faulty, data):
    """Several connections at once, each answer exact."""
    import concurrent.futures

    queries = [
        (f"SELECT count(*) FROM {table(LAMBDA_GROUP)}", data.count(LAMBDA_GROUP)),
        (f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}", data.count(LAMBDA_GROUP, data.big_stream)),
        (f"SELECT count(*) FROM {table(CLOUDTRAIL_GROUP)}", data.count(CLOUDTRAIL_GROUP)),
        (f"SELECT count(*) FROM {table(CASE_GROUP)}", data.count(CASE_GROUP)),
    ] * 2

    def one(item):
        text, _ = item
        with connect(tolerant_server.uri) as c:
            return scalar(c, text)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, queries))
    assert got == [n for _, n in queries]
    assert_faults_injected(faulty)


# Failures: the query fails, never a partial answer ---------------------------------------------


def _fetch_until_error(conn, text: str) -> tuple[int, Exception | None]:
    """Stream a query's batches; (rows received, the error or None).

    An error at execute time is an adbc_driver_manager.Error; one while
    streaming batches comes out of the pyarrow reader (OSError / ArrowException).
    """
    rows = 0
    try:
        with conn.cursor() as cur:
            cur.execute(text)
            reader = cur.fetch_record_batch()
            for batch in reader:
                rows += batch.num_rows
    except (adbc_driver_manager.Error, pa.ArrowException, OSError) as e:
        return rows, e
    return rows, None


def _assert_throttle_error(err, apis: str | tuple[str, ...]) -> None:
    text = str(err)
    apis = (apis,) if isinstance(apis, str) else apis
    assert "throttl" in text.lower(), f"message does not mention throttling: {text}"
    assert any(api in text for api in apis), f"message names none of {apis}: {text}"
    # The Go Flight SQL driver reports the gRPC status code name in the message,
    # e.g. "(ResourceExhausted; DoGet: endpoint 0: [])". (ADBC itself maps
    # RESOURCE_EXHAUSTED to its own status INTERNAL, which says nothing about the server.)
    assert "(ResourceExhausted;" in text, f"gRPC code is not RESOURCE_EXHAUSTED: {text}"


def test_always_throttled_filter_log_events_fails(strict_server, quiet_proxy, data):
    quiet_proxy.configure(throttle_rate={"FilterLogEvents": 1.0})
    query = f"SELECT * FROM {table(LAMBDA_GROUP)}"
    with connect(strict_server.uri) as conn:
        rows, err = _fetch_until_error(conn, query)
        assert err is not None, f"the query succeeded with {rows} rows while every FilterLogEvents was throttled"
        assert rows == 0, f"{rows} partial rows before the error"
        _assert_throttle_error(err, "FilterLogEvents")
        ops = quiet_proxy.stats()["operations"]
        assert ops["FilterLogEvents"]["throttled"] >= STRICT_ATTEMPTS
        assert ops["FilterLogEvents"]["forwarded"] == 0

        # The server keeps serving: same connection and a new one, once the throttling stops.
        quiet_proxy.configure(clear=True)
        assert scalar(conn, "SELECT 1") == 1
        assert scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}") == data.count(LAMBDA_GROUP)
    strict_server.assert_alive()
    with connect(strict_server.uri) as conn:
        assert scalar(conn, f"SELECT count(*) FROM {table(CASE_GROUP)}") == data.count(CASE_GROUP)


def test_always_throttled_grpc_code_seen_by_plain_flight(strict_server, quiet_proxy):
    """The same failure through pyarrow.flight (a DoGet of SQL text): gRPC RESOURCE_EXHAUSTED."""
    quiet_proxy.configure(throttle_rate={"FilterLogEvents": 1.0})
    client = flight.FlightClient(strict_server.uri)
    try:
        with pytest.raises((flight.FlightError, pa.ArrowException)) as info:
            client.do_get(flight.Ticket(f"SELECT count(*) FROM {table(LAMBDA_GROUP)}".encode())).read_all()
    finally:
        client.close()
    text = str(info.value)
    assert "FilterLogEvents" in text and "throttl" in text.lower(), text
    # pyarrow names the gRPC status code in its message.
    assert "gRPC returned resource exhausted error" in text, text


def test_throttled_after_first_page_fails_not_partial(strict_server, quiet_proxy, data):
    """The first page is read, every later page is throttled: the query must fail, not answer 10,000."""
    quiet_proxy.configure(throttle_rate={api: 1.0 for api in EVENT_APIS}, continuation_only=True)
    with connect(strict_server.uri) as conn:
        for text in [
            f"SELECT count(*) FROM {table(LAMBDA_GROUP)}",
            f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}",
        ]:
            rows, err = _fetch_until_error(conn, text)
            assert err is not None, f"{text} answered {rows} row(s) although its second page never came"
            _assert_throttle_error(err, EVENT_APIS)
        ops = quiet_proxy.stats()["operations"]
        assert sum(ops[api]["forwarded"] for api in EVENT_APIS if api in ops) >= 2, ops
        # Streaming the rows: batches of the first page may arrive before the error,
        # but the stream always ends in the error, never as a (short) success.
        rows, err = _fetch_until_error(conn, f"SELECT * FROM {table(LAMBDA_GROUP)}")
        assert err is not None, f"SELECT * answered {rows} rows of {data.count(LAMBDA_GROUP)}"
        assert rows < data.count(LAMBDA_GROUP)
        quiet_proxy.configure(clear=True)
        assert scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}") == data.count(LAMBDA_GROUP)
    strict_server.assert_alive()


@pytest.mark.parametrize("kind", ["500-json", "503-plain"])
def test_persistent_server_errors_fail_as_unavailable(strict_server, quiet_proxy, data, kind):
    quiet_proxy.configure(server_error_rate={api: 1.0 for api in EVENT_APIS}, server_error_kinds=[kind])
    with connect(strict_server.uri) as conn:
        rows, err = _fetch_until_error(conn, f"SELECT * FROM {table(LAMBDA_GROUP, data.big_stream)}")
        assert err is not None, f"the query succeeded with {rows} rows while every read call failed"
        assert rows == 0
        text = str(err)
        assert any(api in text for api in EVENT_APIS), text
        assert "(Unavailable;" in text, f"gRPC code is not UNAVAILABLE: {text}"
        ops = quiet_proxy.stats()["operations"]
        assert sum(ops[api]["server_errors"] for api in EVENT_APIS if api in ops) >= STRICT_ATTEMPTS, ops
        assert sum(ops[api]["forwarded"] for api in EVENT_APIS if api in ops) == 0, ops
        quiet_proxy.configure(clear=True)
        assert scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}") == data.count(
            LAMBDA_GROUP, data.big_stream
        )
