"""Hostile and careless input, end to end against the real server on the demo source.

Every case sends something a careless or hostile client could send, through a real client
(pyarrow.flight for raw tickets, descriptors, actions and DoPut; the ADBC Flight SQL driver
for SQL), and checks (a) the gRPC status code a demanding user expects (INVALID_ARGUMENT for
bad input, NOT_FOUND for unknown names, PERMISSION_DENIED for refused statements,
RESOURCE_EXHAUSTED for too big, never INTERNAL/UNKNOWN for a user's mistake), (b) a message
that says what was wrong, and (c) that the server is still up and answers SELECT 1.
"""

from __future__ import annotations

import re
import time

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from fixtures import connection
from helpers import connect, qi, run, scalar
from protowire import any_msg, field, sql_any
from servers import running, start_serve

GROUP = "/aws/lambda/orders-api"
ALL = f"{qi(GROUP)}.all_log_streams"
MAGIC = b"logflight.v1:"
# Each case must answer well within this (no hang).
CASE_BUDGET_S = 20.0


# A server of the module's own, on the built-in demo source (no moto). It is named `server`
# so conftest's after-module check (alive, answers SELECT 1) runs against it.
@pytest.fixture(scope="module")
def server(workdir):
    with running(start_serve(workdir / "logflight-hostile.log", "--source", "demo")) as srv:
        yield srv


conn = connection("server", scope="module")


@pytest.fixture
def client(server):
    c = flight.FlightClient(server.uri)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def survives(server):
    """After every case: the process is alive and a brand-new connection answers SELECT 1."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    server.assert_serving()
    assert "panicked" not in server.log(), f"the server logged a panic:\n{server.log()}"
    assert elapsed < CASE_BUDGET_S, f"the case took {elapsed:.1f} s"


# gRPC status codes -----------------------------------------------------------------------

GRPC_NAMES = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
    13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}
# grpc-go's names of the codes (the ADBC driver writes "(InvalidArgument; DoGet: ...)").
GO_NAMES = {"".join(w.capitalize() for w in name.split("_")): name for name in GRPC_NAMES.values()}
GO_NAMES["Canceled"] = "CANCELLED"
# pyarrow's own messages, e.g. "Flight returned invalid argument error, with message: ...".
PYARROW_PHRASES = {
    "invalid argument": "INVALID_ARGUMENT",
    "not found": "NOT_FOUND",
    "unimplemented": "UNIMPLEMENTED",
    "resource exhausted": "RESOURCE_EXHAUSTED",
    "internal": "INTERNAL",
    "unknown": "UNKNOWN",
    "unavailable": "UNAVAILABLE",
    "unauthorized": "PERMISSION_DENIED",
    "permission denied": "PERMISSION_DENIED",
    "timeout": "DEADLINE_EXCEEDED",
    "failed precondition": "FAILED_PRECONDITION",
    "out-of-range": "OUT_OF_RANGE",
}


def grpc_code(err: Exception) -> str:
    """The gRPC status code behind a pyarrow.flight or ADBC error."""
    text = str(err)
    m = re.search(r"gRPC client debug context: ([A-Z_]+):", text)
    if m and m.group(1) in GRPC_NAMES.values():
        return m.group(1)
    m = re.search(r"grpc_status:(\d+)", text)
    if m:
        return GRPC_NAMES[int(m.group(1))]
    go = [name for name in re.findall(r"\((\w+); ", text) if name in GO_NAMES]
    if go:
        return GO_NAMES[go[-1]]
    m = re.search(r"(?:Flight|gRPC) returned ([a-z -]+?) error", text)
    if m and m.group(1) in PYARROW_PHRASES:
        return PYARROW_PHRASES[m.group(1)]
    # pyarrow maps some codes to Arrow exception types before any message.
    for cls, code in [
        (flight.FlightUnauthorizedError, "PERMISSION_DENIED"),
        (flight.FlightUnavailableError, "UNAVAILABLE"),
        (flight.FlightTimedOutError, "DEADLINE_EXCEEDED"),
        (flight.FlightInternalError, "INTERNAL"),
        (pa.ArrowKeyError, "NOT_FOUND"),
        (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
    ]:
        if isinstance(err, cls):
            return code
    raise AssertionError(f"no gRPC status code in {type(err).__name__}: {text}")


def check(err: Exception, code: str, *contains: str) -> str:
    text = str(err)
    got = grpc_code(err)
    assert got == code, f"expected {code}, got {got}: {type(err).__name__}: {text[:2000]}"
    for piece in contains:
        assert piece.lower() in text.lower(), f"{piece!r} not in the message: {text[:2000]}"
    assert "panicked" not in text and "backtrace" not in text.lower(), text[:2000]
    return text


def sql_error(conn, sql: str, code: str, *contains: str, parameters=None) -> str:
    with pytest.raises(adbc_driver_manager.Error) as info:
        run(conn, sql, parameters)
    return check(info.value, code, *contains)


def flight_error(call, code: str, *contains: str) -> str:
    with pytest.raises((flight.FlightError, pa.ArrowException)) as info:
        result = call()
        if hasattr(result, "read_all"):
            result.read_all()
        elif result is not None and not isinstance(result, (flight.FlightInfo, flight.SchemaResult)):
            list(result)
    return check(info.value, code, *contains)


def statement_ticket(handle: bytes) -> flight.Ticket:
    return flight.Ticket(sql_any("TicketStatementQuery", field(1, handle)))


def prepared_query(handle: bytes) -> bytes:
    return sql_any("CommandPreparedStatementQuery", field(1, handle))


def query_handle(sql: str, params: bytes | None = None) -> bytes:
    body = field(1, sql.encode())
    if params is not None:
        body += field(2, params)
    return MAGIC + body


def ipc_row(**values) -> bytes:
    batch = pa.record_batch({k: [v] for k, v in values.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()


@pytest.fixture
def fresh(workdir, request):
    """A server of the test's own, for inputs that might bring a server down: a crash
    then fails only that test, not the rest of the module."""
    with running(start_serve(workdir / f"logflight-hostile-{request.node.name[:60]}.log", "--source", "demo")) as srv:
        yield srv


def refused_on(srv, sql: str) -> adbc_driver_manager.Error:
    """Run `sql` on `srv`, require an error, and that the server survived it."""
    with connect(srv.uri) as c:
        with pytest.raises(adbc_driver_manager.Error) as info:
            run(c, sql)
    time.sleep(0.2)
    srv.assert_alive()
    return info.value


# Huge and deeply nested SQL --------------------------------------------------------------


def test_a_5_mb_statement_runs(conn):
    """5 MB of SQL is well inside the 64 MiB message limit: it simply runs."""
    n = 5_000_000
    assert scalar(conn, f"SELECT length('{'a' * n}') AS n") == n


def test_a_statement_too_big_for_a_handle_is_refused_up_front(client):
    """17 MB of SQL fits a gRPC message, but not the server's own 16 MiB statement handle:
    GetFlightInfo must refuse it (RESOURCE_EXHAUSTED, naming the size), not hand out a
    ticket that DoGet then rejects as an "invalid ticket"."""
    sql = f"SELECT length('{'a' * 17_000_000}') AS n"
    cmd = sql_any("CommandStatementQuery", field(1, sql.encode()))
    text = flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_command(cmd)),
                        "RESOURCE_EXHAUSTED", "bytes")
    assert "invalid ticket" not in text.lower(), text
    # The same statement as a handle (what such a ticket would carry) is too big, not invalid.
    flight_error(lambda: client.do_get(statement_ticket(query_handle(sql))), "RESOURCE_EXHAUSTED", "bytes")


def test_a_message_over_the_64_mib_limit_is_refused_with_the_limit(client):
    """tonic refuses a message over the decoding limit before logflight sees it, with
    OUT_OF_RANGE naming the limit; the server keeps serving."""
    sql = f"SELECT length('{'a' * 70_000_000}') AS n"
    flight_error(lambda: client.do_get(flight.Ticket(sql.encode())), "OUT_OF_RANGE", "67108864")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 10_000 + "1" + ")" * 10_000,
        "SELECT * FROM " + "(SELECT * FROM " * 1_000 + "(SELECT 1 AS a) t" + ") t" * 1_000,
        "SELECT " + "(SELECT " * 1_000 + "1" + ")" * 1_000,
        "SELECT " + "abs(" * 5_000 + "1" + ")" * 5_000,
    ],
    ids=["parens-10k", "subqueries-1k", "scalar-subqueries-1k", "calls-5k"],
)
def test_deep_nesting_hits_the_recursion_limit(conn, sql):
    sql_error(conn, sql, "INVALID_ARGUMENT", "recursion")


DEPTH_MESSAGE = re.compile(r"recursion|nest|deep|too (many|long|complex)", re.I)


@pytest.mark.parametrize("terms", [3_000, 100_000], ids=["3k", "100k"])
def test_long_operator_chains_are_refused_not_a_stack_overflow(fresh, terms):
    """`1+1+...+1` parses without recursion (the parser's limit does not see it) into an
    expression `terms` deep; planning it must not overflow the server's stack."""
    sql = "SELECT " + "+".join(["1"] * terms) + " AS s"
    text = check(refused_on(fresh, sql), "INVALID_ARGUMENT")
    assert DEPTH_MESSAGE.search(text), text[:2000]
    fresh.assert_serving()


def test_a_long_chain_of_or_conditions_is_refused_not_a_stack_overflow(fresh):
    sql = f"SELECT count(*) FROM {ALL} WHERE " + " OR ".join(f"log_stream = 's{i}'" for i in range(5_000))
    text = check(refused_on(fresh, sql), "INVALID_ARGUMENT")
    assert DEPTH_MESSAGE.search(text), text[:2000]
    fresh.assert_serving()


def test_moderate_operator_chains_still_run(conn):
    assert scalar(conn, "SELECT " + "+".join(["1"] * 200) + " AS s") == 200


def test_several_statements_in_one_string(conn, client):
    for text in [sql_error(conn, "SELECT 1; SELECT 2", "INVALID_ARGUMENT", "single SQL statement"),
                 flight_error(lambda: client.do_get(flight.Ticket(b"SELECT 1; SELECT 2")),
                              "INVALID_ARGUMENT", "single SQL statement")]:
        assert "not implemented" not in text.lower(), text


# Raw tickets, descriptors and actions ------------------------------------------------------


@pytest.mark.parametrize(
    "ticket, contains",
    [
        (b"", ["empty"]),
        (b"   \n\t", ["empty"]),
        (b"\xff\xfe\x00 not utf-8", ["UTF-8"]),
        (b"\x0a\xff\xff\xff\x0f", ["UTF-8"]),  # garbage protobuf, not UTF-8 either
        (any_msg("type.googleapis.com/foo.Bar", b"xx"), ["SQL"]),  # a foreign Any: read as SQL
        (sql_any("TicketStatementQuery", b"\xff\xff\xff"), ["decode"]),
        (sql_any("CommandStatementQuery", b"\xff\xff\xff"), ["decode"]),
        (sql_any("CommandPreparedStatementQuery", b"\x0a\x05ab"), ["decode"]),
        (sql_any("CommandNoSuchThing", b""), ["Flight SQL command"]),
        (statement_ticket(b"SELECT 1").ticket, ["not a logflight statement handle"]),
        (statement_ticket(b"").ticket, ["not a logflight statement handle"]),
        (statement_ticket(MAGIC + b"\xff\xff\xff").ticket, ["corrupted statement handle"]),
        (statement_ticket(MAGIC + b"\x0a\x02\xff\xfe").ticket, ["corrupted statement handle"]),
        (statement_ticket(query_handle("SELECT $1", b"\xff\xff\xffgarbage")).ticket, ["corrupted parameters"]),
        (statement_ticket(query_handle("SELECT $1", ipc_row(x=1)[:-20])).ticket, ["corrupted parameters"]),
        (prepared_query(b"forged"), ["not a logflight statement handle"]),
        (prepared_query(MAGIC + b"\x12\x03abc"), ["corrupted parameters"]),
    ],
    ids=[
        "empty", "blank", "not-utf8", "garbage-protobuf", "foreign-any", "ticket-garbage-value",
        "command-garbage-value", "prepared-truncated-value", "unknown-flight-sql-type",
        "handle-without-magic", "handle-empty", "magic-then-garbage", "magic-then-bad-utf8-sql",
        "params-garbage", "params-truncated", "prepared-forged", "prepared-garbage-params",
    ],
)
def test_bad_tickets_are_invalid_argument(client, ticket, contains):
    flight_error(lambda: client.do_get(flight.Ticket(ticket)), "INVALID_ARGUMENT", *contains)


def test_a_handle_with_a_parameter_batch_of_no_rows(client):
    """A forged handle whose parameter IPC holds zero rows: refused, not a panic."""
    batch = pa.record_batch({"$1": pa.array([], pa.int64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    ticket = statement_ticket(query_handle("SELECT $1 AS a", sink.getvalue().to_pybytes()))
    flight_error(lambda: client.do_get(ticket), "INVALID_ARGUMENT", "one row")


def test_a_handle_with_two_parameter_rows(client):
    batch = pa.record_batch({"$1": pa.array([1, 2], pa.int64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    ticket = statement_ticket(query_handle("SELECT $1 AS a", sink.getvalue().to_pybytes()))
    flight_error(lambda: client.do_get(ticket), "INVALID_ARGUMENT", "one row")


def test_a_well_formed_forged_handle_is_just_a_query(client):
    """Handles are stateless and carry their SQL: a hand-made one runs like any statement,
    with its parameters, and is held to the same read-only rule."""
    t = client.do_get(statement_ticket(query_handle("SELECT $1 + 1 AS a", ipc_row(**{"$1": 41})))).read_all()
    assert t.column("a").to_pylist() == [42]
    flight_error(lambda: client.do_get(statement_ticket(query_handle("COPY (SELECT 1) TO '/tmp/hostile.csv'"))),
                 "PERMISSION_DENIED", "read-only")


@pytest.mark.parametrize(
    "cmd, code, contains",
    [
        (b"\xff\x00garbage", "INVALID_ARGUMENT", ["UTF-8"]),
        (b"", "INVALID_ARGUMENT", ["empty"]),
        (sql_any("CommandStatementQuery", b"\xff\xff"), "INVALID_ARGUMENT", ["decode"]),
        (sql_any("CommandGetTables", b"\x0a\xff"), "INVALID_ARGUMENT", ["decode"]),
        (sql_any("CommandNoSuchThing", b""), "INVALID_ARGUMENT", ["Flight SQL command"]),
        (sql_any("CommandStatementSubstraitPlan", b""), "UNIMPLEMENTED", ["substrait"]),
        (prepared_query(b"forged"), "INVALID_ARGUMENT", ["not a logflight statement handle"]),
        (sql_any("CommandStatementQuery", field(1, b"SELEC 1")), "INVALID_ARGUMENT", ["SELEC"]),
        (b"SELECT * FROM \"/no/such\".all_log_streams", "NOT_FOUND", ["/no/such"]),
    ],
    ids=["garbage", "empty", "statement-garbage-value", "get-tables-garbage-value", "unknown-type",
         "substrait", "prepared-forged", "bad-sql", "unknown-group"],
)
def test_bad_descriptors(client, cmd, code, contains):
    flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_command(cmd)), code, *contains)


@pytest.mark.parametrize(
    "cmd, code, contains",
    [
        (b"\xff\x00garbage", "INVALID_ARGUMENT", ["UTF-8"]),
        (b"SELEC 1", "INVALID_ARGUMENT", ["SELEC"]),
        (sql_any("CommandStatementQuery", b"\xff\xff"), "INVALID_ARGUMENT", ["decode"]),
        (sql_any("CommandGetTables", b""), "UNIMPLEMENTED", ["GetSchema"]),
    ],
    ids=["garbage", "bad-sql", "statement-garbage-value", "other-command"],
)
def test_bad_get_schema_requests(client, cmd, code, contains):
    flight_error(lambda: client.get_schema(flight.FlightDescriptor.for_command(cmd)), code, *contains)


def test_a_path_descriptor(client):
    flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_path("a", "b")),
                 "INVALID_ARGUMENT", "SQL")


@pytest.mark.parametrize(
    "action, body, code, contains",
    [
        ("NoSuchAction", b"", "INVALID_ARGUMENT", ["NoSuchAction"]),
        ("", b"", "INVALID_ARGUMENT", []),
        ("CreatePreparedStatement", b"\xff\xff", "INVALID_ARGUMENT", ["decode"]),
        ("CreatePreparedStatement", sql_any("ActionCreatePreparedStatementRequest", b"\xff\xff"),
         "INVALID_ARGUMENT", ["decode"]),
        ("CreatePreparedStatement", sql_any("CommandStatementQuery", field(1, b"SELECT 1")),
         "INVALID_ARGUMENT", ["ActionCreatePreparedStatementRequest"]),
        ("CreatePreparedStatement", sql_any("ActionCreatePreparedStatementRequest", field(1, b"SELEC 1")),
         "INVALID_ARGUMENT", ["SELEC"]),
        ("CreatePreparedStatement",
         sql_any("ActionCreatePreparedStatementRequest", field(1, b"DROP TABLE x")),
         "PERMISSION_DENIED", ["read-only"]),
        ("ClosePreparedStatement", b"\xff", "INVALID_ARGUMENT", ["decode"]),
        ("ClosePreparedStatement", sql_any("ActionClosePreparedStatementRequest", b"\xff\xff"),
         "INVALID_ARGUMENT", ["decode"]),
        ("BeginTransaction", b"\xff\xff", "INVALID_ARGUMENT", ["decode"]),
        ("CancelQuery", b"\xff", "INVALID_ARGUMENT", ["decode"]),
    ],
    ids=["unknown", "empty-type", "create-garbage", "create-garbage-value", "create-wrong-type",
         "create-bad-sql", "create-refused", "close-garbage", "close-garbage-value", "begin-garbage",
         "cancel-garbage"],
)
def test_bad_actions(client, action, body, code, contains):
    flight_error(lambda: client.do_action(flight.Action(action, body)), code, *contains)


def test_closing_a_forged_handle_is_harmless(client):
    body = sql_any("ActionClosePreparedStatementRequest", field(1, b"forged"))
    assert list(client.do_action(flight.Action("ClosePreparedStatement", body))) == []


def do_put(client, cmd: bytes, batch: pa.RecordBatch):
    writer, reader = client.do_put(flight.FlightDescriptor.for_command(cmd), batch.schema)
    writer.write_batch(batch)
    writer.done_writing()
    reader.read()
    writer.close()


@pytest.mark.parametrize(
    "cmd, rows, contains",
    [
        (prepared_query(b"forged"), 1, ["not a logflight statement handle"]),
        (prepared_query(MAGIC + b"\xff\xff"), 1, ["corrupted statement handle"]),
        (prepared_query(query_handle("SELECT $1 AS a")), 2, ["one row"]),
        (prepared_query(query_handle("SELECT $1 AS a")), 0, ["one row"]),
        (sql_any("CommandPreparedStatementQuery", b"\xff\xff"), 1, ["decode"]),
    ],
    ids=["forged", "magic-garbage", "two-rows", "no-rows", "garbage-command"],
)
def test_binding_parameters_to_bad_handles(client, cmd, rows, contains):
    batch = pa.record_batch({"$1": pa.array(list(range(rows)), pa.int64())})
    flight_error(lambda: do_put(client, cmd, batch), "INVALID_ARGUMENT", *contains)


# Names ---------------------------------------------------------------------------------------

ODD_NAMES = ['/a"b', "/it's", "/back\\slash", "/ünïcödé/😀", "/x" * 5_000, "", " "]


@pytest.mark.parametrize("name", ODD_NAMES, ids=["quote", "apostrophe", "backslash", "unicode", "10k", "empty", "blank"])
def test_odd_log_group_names_are_not_found(conn, name):
    text = sql_error(conn, f"SELECT * FROM {qi(name)}.all_log_streams", "NOT_FOUND", "log group")
    assert name[:100].replace("\\", "\\\\").replace('"', '\\"') in text, text[:500]


@pytest.mark.parametrize("name", ['s"t', "\\", "😀", "x" * 10_000, ""], ids=["quote", "backslash", "emoji", "10k", "empty"])
def test_odd_log_stream_names_are_not_found(conn, name):
    text = sql_error(conn, f"SELECT * FROM {ALL.split('.')[0]}.{qi(name)}", "NOT_FOUND", "log stream", GROUP)
    assert name[:100].replace("\\", "\\\\").replace('"', '\\"') in text, text[:500]


def test_nul_bytes_in_names(client):
    """ADBC passes SQL as a C string, so NUL bytes go through plain Flight tickets."""
    flight_error(lambda: client.do_get(flight.Ticket('SELECT * FROM "/a\0b".all_log_streams'.encode())),
                 "NOT_FOUND", "log group")
    flight_error(lambda: client.do_get(flight.Ticket(f'SELECT * FROM {qi(GROUP)}."a\0b"'.encode())),
                 "NOT_FOUND", "log stream")
    t = client.do_get(flight.Ticket(f"SELECT count(*) AS n FROM {ALL} WHERE log_stream = 'a\0b'".encode())).read_all()
    assert t.column("n").to_pylist() == [0]


def test_odd_names_in_filters_select_nothing(conn):
    names = ["a''b", "\\", "😀", "x" * 10_000, "", "%", "_"]
    in_list = ", ".join(f"'{n}'" for n in names)
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE log_stream IN ({in_list})") == 0
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE log_group = '{'x' * 10_000}'") == 0
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE log_stream LIKE '%\\%'") == 0


def test_an_unknown_catalog_is_named(conn):
    sql_error(conn, f'SELECT * FROM "no_such_catalog".{ALL}', "INVALID_ARGUMENT", "no_such_catalog", "catalogs are")


# Absurd time ranges and limits -----------------------------------------------------------------


@pytest.fixture(scope="module")
def total(conn) -> int:
    n = scalar(conn, f"SELECT count(*) FROM {ALL}")
    assert n > 1000
    return n


@pytest.mark.parametrize(
    "where",
    [
        "time BETWEEN '2030-01-01' AND '2020-01-01'",
        "time > now() AND time < now() - INTERVAL '1 day'",
        "time > '2262-01-01'",
        "time < '1678-01-01'",
        "time < to_timestamp_millis(-1)",
        "time = to_timestamp_nanos(1)",
    ],
    ids=["reversed", "reversed-now", "year-2262", "year-1678", "before-epoch", "sub-ms"],
)
def test_absurd_time_ranges_select_nothing(conn, where):
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE {where}") == 0


def test_the_widest_time_range_selects_everything(conn, total):
    where = "time BETWEEN to_timestamp_nanos(-9223372036854775807) AND to_timestamp_nanos(9223372036854775807)"
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE {where}") == total
    where = "time BETWEEN to_timestamp_millis(-9000000000000) AND to_timestamp_millis(9000000000000)"
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE {where}") == total
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE time >= to_timestamp_millis(0)") == total


@pytest.mark.parametrize(
    "where, contains",
    [
        ("time > '9999-12-31'", ["9999-12-31", "2262"]),
        ("time < '0001-01-01'", ["0001-01-01", "1677"]),
        ("time > to_timestamp_seconds(9223372036854775807)", ["9223372036854775807"]),
        ("time > CAST(9223372036854775807 AS TIMESTAMP)", ["9223372036854775807"]),
        ("time > 'yesterday-ish'", ["yesterday-ish"]),
    ],
    ids=["year-9999", "year-1", "seconds-max", "cast-int-max", "not-a-time"],
)
def test_unrepresentable_times_are_invalid_argument(conn, where, contains):
    sql_error(conn, f"SELECT count(*) FROM {ALL} WHERE {where}", "INVALID_ARGUMENT", *contains)


@pytest.mark.parametrize(
    "where",
    ["time > to_timestamp_millis(9223372036854775807)", "time > to_timestamp_millis(9000000000000000000)",
     "time < to_timestamp_millis(-9223372036854775808)"],
    ids=["ms-max", "ms-9e18", "ms-min"],
)
def test_timestamps_at_the_i64_edges_name_the_problem(conn, where):
    """to_timestamp_millis(9e18) is a valid Timestamp(ms) (without time zone) that cannot be
    compared with the UTC `time` column; the message must say why (out of range), not talk
    of "casting timezone to different timezone"."""
    # The message comes from arrow-cast ("Cannot cast timezone to different timezone");
    # the code is right and the server keeps serving.
    sql_error(conn, f"SELECT count(*) FROM {ALL} WHERE {where}", "INVALID_ARGUMENT", "cast")


def test_limit_0_is_an_empty_result_with_the_schema(conn):
    t = run(conn, f"SELECT * FROM {ALL} LIMIT 0")
    assert t.num_rows == 0
    assert t.column_names == ["log_group", "log_stream", "time", "ingestion_time", "message"]


def test_huge_limits_and_offsets(conn, total):
    assert scalar(conn, f"SELECT count(*) FROM (SELECT * FROM {ALL} LIMIT 9223372036854775807) t") == total
    t = run(conn, f"SELECT * FROM {ALL} OFFSET 9223372036854775807")
    assert t.num_rows == 0
    assert scalar(conn, f"SELECT count(*) FROM (SELECT * FROM {ALL} LIMIT 3 OFFSET {total - 1}) t") == 1


@pytest.mark.parametrize(
    "clause, contains",
    [
        ("LIMIT -1", ["LIMIT", "-1"]),
        ("LIMIT 18446744073709551615", ["18446744073709551615"]),
        ("LIMIT 5 OFFSET 18446744073709551615", ["18446744073709551615"]),
        ("OFFSET -1", ["OFFSET", "-1"]),
        ("LIMIT 'ten'", ["LIMIT"]),
    ],
    ids=["limit-negative", "limit-u64-max", "offset-u64-max", "offset-negative", "limit-text"],
)
def test_bad_limits_are_invalid_argument(conn, clause, contains):
    sql_error(conn, f"SELECT * FROM {ALL} {clause}", "INVALID_ARGUMENT", *contains)


# Functions, types, refused statements ------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, contains",
    [
        ("SELECT nope(1)", ["nope"]),
        ("SELECT abs(1, 2)", ["abs"]),
        ("SELECT 'a' + 1", ["Utf8", "Int64"]),
        ("SELECT CAST('abc' AS INT)", ["abc"]),
        ("SELECT 1/0", ["divide by zero"]),
        (f"SELECT length(message) FROM {ALL} WHERE message > 5", ["cast"]),
        (f"SELECT no_such_column FROM {ALL}", ["no_such_column"]),
    ],
    ids=["unknown-function", "wrong-arity", "type-error", "bad-cast", "divide-by-zero", "bad-compare",
         "unknown-column"],
)
def test_bad_functions_and_types_are_invalid_argument(conn, sql, contains):
    sql_error(conn, sql, "INVALID_ARGUMENT", *contains)


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '/tmp/hostile-copy.csv'",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO t VALUES (1)",
        "SET datafusion.execution.batch_size = 1",
        "EXPLAIN COPY (SELECT 1) TO '/tmp/hostile-copy.csv'",
    ],
    ids=["copy", "create-external", "insert", "set", "explain-copy"],
)
def test_refused_statements_are_permission_denied(conn, client, sql):
    sql_error(conn, sql, "PERMISSION_DENIED", "read-only")
    flight_error(lambda: client.do_get(flight.Ticket(sql.encode())), "PERMISSION_DENIED", "read-only")


# Parameters ---------------------------------------------------------------------------------------


def test_too_few_parameters(conn):
    sql_error(conn, "SELECT $1 + $2 AS s", "INVALID_ARGUMENT", "$2", parameters=(1,))


def test_too_many_parameters(conn):
    """Extra values are a mistake (a wrong statement or wrong row), not to be silently dropped."""
    sql_error(conn, "SELECT $1 AS s", "INVALID_ARGUMENT", "parameter", parameters=(1, 2))
    sql_error(conn, "SELECT 1 AS s", "INVALID_ARGUMENT", "parameter", parameters=(1,))


def test_parameters_of_the_wrong_type(conn):
    sql_error(conn, "SELECT $1 + 1 AS s", "INVALID_ARGUMENT", "Utf8", parameters=("abc",))


def test_parameters_that_look_like_sql_are_values(conn):
    hostile = "'; DROP TABLE x; --"
    assert scalar(conn, "SELECT $1 AS s", parameters=(hostile,)) == hostile
    assert scalar(conn, f"SELECT count(*) FROM {ALL} WHERE log_stream = $1", parameters=(hostile,)) == 0
