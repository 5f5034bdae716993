"""Per-query limits of `logflight serve`: result rows, memory, run time, and the
bounded queue of concurrent queries; each refusal has its gRPC code and a message
naming the limit, and the server keeps serving after it."""

from __future__ import annotations

import adbc_driver_manager
import pyarrow.flight as flight
import pytest

from helpers import connect, expect_error, scalar
from servers import running, start_serve

# ADBC has no RESOURCE_EXHAUSTED status; the gRPC code shows in its message.
EXHAUSTED = "(ResourceExhausted;"
SECURE = '"/var/log/secure".all_log_streams'
BIG = 'SELECT * FROM "/synthetic/app".all_log_streams'


@pytest.fixture(scope="module")
def demo_limited(workdir):
    with running(start_serve(workdir / "logflight-limits-demo.log", "--source", "demo",
                             "--max-result-rows", "100", "--query-memory-mb", "1")) as srv:
        yield srv


@pytest.fixture(scope="module")
def busy(workdir):
    with running(start_serve(workdir / "logflight-limits-busy.log", "--source", "synthetic",
                             "--synthetic-events", "20000000", "--max-concurrent-queries", "1",
                             "--max-queued-queries", "0", "--query-timeout-secs", "2")) as srv:
        yield srv


def test_a_result_past_max_result_rows_fails(demo_limited):
    with connect(demo_limited.uri) as conn:
        expect_error(conn, f"SELECT * FROM {SECURE}", contains=["more than 100 rows", "max_result_rows", EXHAUSTED])
        assert scalar(conn, f"SELECT count(*) FROM (SELECT * FROM {SECURE} LIMIT 100)") == 100
        # Aggregates over many events return few rows: not limited.
        assert scalar(conn, f"SELECT count(*) FROM {SECURE}") > 100


def test_a_query_past_its_memory_fails_without_spilling(demo_limited):
    with connect(demo_limited.uri) as conn:
        err = expect_error(conn, 'SELECT message FROM "/aws/cloudtrail/management".all_log_streams ORDER BY message LIMIT 101 OFFSET 5000',
                           contains=[EXHAUSTED])
        assert "memory" in str(err).lower() or "resources exhausted" in str(err).lower(), err
        assert scalar(conn, "SELECT 1") == 1


def test_a_query_past_its_time_fails(busy):
    with connect(busy.uri) as conn:
        expect_error(conn, f"SELECT count(*), max(length(message)) FROM ({BIG}) t",
                     contains=["longer than 2 s", "query_timeout_secs"],
                     status=adbc_driver_manager.AdbcStatusCode.TIMEOUT)
        assert scalar(conn, "SELECT 1") == 1


def test_queries_past_the_queue_are_refused_then_admitted(busy):
    client = flight.connect(busy.uri)
    reader = client.do_get(flight.Ticket(f"{BIG} LIMIT 5000000".encode()))
    reader.read_chunk()  # the first query holds the only slot while its stream is open
    with connect(busy.uri) as conn:
        expect_error(conn, "SELECT 1", contains=["queries are running", "max_queued_queries", EXHAUSTED])
    reader.cancel()
    client.close()
    with connect(busy.uri) as conn:
        for _ in range(50):
            try:
                assert scalar(conn, "SELECT 1") == 1
                break
            except adbc_driver_manager.Error:
                import time
                time.sleep(0.1)
        else:
            pytest.fail("the slot was not given back after the first query's client left")
