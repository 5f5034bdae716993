"""Flight SQL statements byte by byte, as clients of every age send them: a prepared
statement executed through the handle it was created with after DoPut bound its parameters
(clients that predate updated handles), the facts GetSqlInfo and ListActions state, and
descriptors with no command in them."""

from __future__ import annotations

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from helpers import table
from loader import LAMBDA_GROUP
from protowire import field, fields, sql_any, unpack_any


@pytest.fixture
def client(server):
    c = flight.FlightClient(server.uri)
    yield c
    c.close()


def prepare(client, sql: str) -> bytes:
    """CreatePreparedStatement: the handle the server gives back."""
    body = sql_any("ActionCreatePreparedStatementRequest", field(1, sql.encode()))
    (result,) = list(client.do_action(flight.Action("CreatePreparedStatement", body)))
    type_url, value = unpack_any(result.body.to_pybytes())
    assert type_url.endswith("ActionCreatePreparedStatementResult"), type_url
    return fields(value)[1]


def prepared_command(handle: bytes) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(sql_any("CommandPreparedStatementQuery", field(1, handle)))


def bind(client, handle: bytes, params: pa.Table) -> bytes:
    """DoPut of one parameter row: the updated handle the server answers with."""
    writer, reader = client.do_put(prepared_command(handle), params.schema)
    writer.write_table(params)
    writer.done_writing()
    answer = reader.read()
    writer.close()
    return fields(answer.to_pybytes())[1]


def execute(client, handle: bytes) -> pa.Table:
    info = client.get_flight_info(prepared_command(handle))
    return client.do_get(info.endpoints[0].ticket).read_all()


def test_a_client_that_keeps_its_original_handle_runs_with_what_it_bound(client, data):
    sql = f"SELECT count(*) AS n FROM {table(LAMBDA_GROUP)} WHERE log_stream = $1"
    expected = dict(data.stream_counts(LAMBDA_GROUP))
    assert len(set(expected.values())) > 1, expected  # a stale binding would show
    original = prepare(client, sql)
    counts = {}
    for stream in expected:
        updated = bind(client, original, pa.table({"$1": [stream]}))
        assert updated != original
        # The newer way: execute the handle DoPut returned.
        assert execute(client, updated).column("n").to_pylist() == [expected[stream]]
        # The older way (flightsql-dbapi, older JDBC and Go drivers): execute the original.
        counts[stream] = execute(client, original).column("n").to_pylist()[0]
    assert counts == expected


def test_an_unbound_statement_says_how_to_bind(client):
    original = prepare(client, "SELECT $1 AS x")
    with pytest.raises(pa.ArrowInvalid) as info:
        execute(client, original)
    text = str(info.value)
    assert "$1" in text and "DoPut" in text, text


def test_sql_info_names_the_arrow_library(server):
    with flightsql.connect(server.uri) as conn:
        info = conn.adbc_get_info()
    version = info["vendor_arrow_version"]
    major = int(version.split(".")[0])
    assert major >= 50 and version.count(".") == 2, version


def test_list_actions_names_what_works(client):
    kinds = {a.type for a in client.list_actions()}
    assert kinds == {"CreatePreparedStatement", "ClosePreparedStatement"}, kinds


@pytest.mark.parametrize("descriptor, want", [
    (flight.FlightDescriptor.for_command(b""), "the descriptor's command is empty"),
    (flight.FlightDescriptor.for_path("logs", "x"), "PATH descriptor"),
    # A CommandStatementQuery without its Any.
    (flight.FlightDescriptor.for_command(field(1, b"SELECT 1")), "bare protobuf message"),
])
def test_descriptors_without_a_command_say_what_was_sent(client, descriptor, want):
    with pytest.raises(pa.ArrowInvalid) as info:
        client.get_flight_info(descriptor)
    text = str(info.value)
    assert want in text and "ticket" not in text.split(". gRPC client debug context")[0], text


def test_two_clients_preparing_the_same_statement_keep_their_own_values(server, data):
    """Two connections under one login (a dashboard's service user) prepare the same SQL and
    bind different streams, interleaved; each executes the handle it created and gets its own
    stream's count, never the other's."""
    sql = f"SELECT count(*) AS n FROM {table(LAMBDA_GROUP)} WHERE log_stream = $1"
    expected = dict(data.stream_counts(LAMBDA_GROUP))
    (a, count_a), (b, count_b) = sorted(expected.items(), key=lambda kv: kv[1])[:1] + \
        sorted(expected.items(), key=lambda kv: kv[1])[-1:]
    assert count_a != count_b
    first, second = flight.FlightClient(server.uri), flight.FlightClient(server.uri)
    try:
        handle_1, handle_2 = prepare(first, sql), prepare(second, sql)
        assert handle_1 != handle_2
        bind(first, handle_1, pa.table({"$1": [a]}))
        bind(second, handle_2, pa.table({"$1": [b]}))
        assert execute(first, handle_1).column("n").to_pylist() == [count_a]
        assert execute(second, handle_2).column("n").to_pylist() == [count_b]
    finally:
        first.close()
        second.close()
