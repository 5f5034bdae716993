"""Plain Arrow Flight (no Flight SQL): a ticket holding SQL text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from helpers import ms_list, table, ts_lit
from loader import CASE_GROUP, LAMBDA_GROUP


@pytest.fixture
def client(server):
    c = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    yield c
    c.close()


def do_get(client, text: str | bytes) -> pa.Table:
    raw = text if isinstance(text, bytes) else text.encode()
    return client.do_get(flight.Ticket(raw)).read_all()


def test_count_ticket(client, data):
    t = do_get(client, f"SELECT count(*) AS n FROM {table(LAMBDA_GROUP)}")
    assert t.column_names == ["n"]
    assert t.column("n").to_pylist() == [data.count(LAMBDA_GROUP)]


def test_rows_ticket(client, data):
    t = do_get(client, f"SELECT log_stream, time, message FROM {table(CASE_GROUP)} ORDER BY time, log_stream, message")
    expected = sorted((e.ts, e.stream, e.message) for e in data.select(CASE_GROUP))
    got = list(zip(ms_list(t.column("time")), t.column("log_stream").to_pylist(), t.column("message").to_pylist()))
    assert got == expected


def test_big_stream_ticket(client, data):
    t = do_get(client, f"SELECT * FROM {table(LAMBDA_GROUP, data.big_stream)}")
    assert t.num_rows == data.count(LAMBDA_GROUP, data.big_stream)
    assert t.schema.field("time").type == pa.timestamp("ms", tz="UTC")


def test_time_boundary_ticket(client, data):
    x = data.shared_ts
    t = do_get(client, f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time <= {ts_lit(x)}")
    assert t.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: e.ts <= x)]


def _flight_error(client, text: str | bytes) -> Exception:
    with pytest.raises((flight.FlightError, pa.ArrowException)) as info:
        do_get(client, text)
    return info.value


def test_bad_sql_ticket(client):
    err = _flight_error(client, "SELEC 1")
    # gRPC INVALID_ARGUMENT surfaces in pyarrow as ArrowInvalid; INTERNAL/UNKNOWN as FlightServerError.
    assert isinstance(err, (pa.ArrowInvalid, flight.FlightServerError)), f"{type(err).__name__}: {err}"
    assert "SELEC" in str(err)


def test_bad_sql_ticket_is_invalid_argument(client):
    err = _flight_error(client, "SELECT FROM WHERE")
    assert isinstance(err, pa.ArrowInvalid), f"{type(err).__name__}: {err}"
    assert "InvalidArgument" in str(err) or "INVALID_ARGUMENT" in str(err) or "gRPC code: 3" in str(err), str(err)


def test_unknown_group_ticket(client):
    err = _flight_error(client, f"SELECT * FROM {table('/no/such/group')}")
    assert "/no/such/group" in str(err)
    # gRPC NOT_FOUND surfaces in pyarrow as ArrowKeyError.
    assert isinstance(err, pa.ArrowKeyError), f"{type(err).__name__}: {err}"


def test_refused_ticket(client, tmp_path):
    target = tmp_path / "ticket.csv"
    err = _flight_error(client, f"COPY (SELECT 1) TO '{target}'")
    assert "read-only" in str(err).lower()
    assert not target.exists()
    err = _flight_error(client, "SET datafusion.execution.batch_size = 1")
    assert "read-only" in str(err).lower()


def test_serving_after_bad_tickets(client, data):
    for text in ["SELEC 1", "DROP TABLE x", "", b"\xff\xfe not utf-8"]:
        _flight_error(client, text)
    assert do_get(client, "SELECT 1 AS one").column("one").to_pylist() == [1]


def test_client_abandoning_a_large_stream(server, data):
    """A client that disconnects after the first batch must not hurt the server."""
    impatient = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    reader = impatient.do_get(flight.Ticket(f"SELECT * FROM {table(LAMBDA_GROUP)}".encode()))
    first = reader.read_chunk()
    assert first.data.num_rows > 0
    reader.cancel()
    impatient.close()
    server.assert_alive()
    with flight.FlightClient(f"grpc://127.0.0.1:{server.port}") as again:
        t = again.do_get(flight.Ticket(f"SELECT count(*) FROM {table(LAMBDA_GROUP)}".encode())).read_all()
    assert t.column(0).to_pylist() == [data.count(LAMBDA_GROUP)]
