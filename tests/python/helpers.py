"""Small helpers shared by the end-to-end test modules."""

from __future__ import annotations

import datetime as dt
import os
import re

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pytest


def qi(name: str) -> str:
    """Quote an SQL identifier (log group and stream names need it)."""
    return '"' + name.replace('"', '""') + '"'


def table(group: str, stream: str = "all_log_streams", catalog: bool = False) -> str:
    ref = f"{qi(group)}.{qi(stream)}"
    return f"cloudwatch.{ref}" if catalog else ref


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC text with milliseconds and a trailing Z."""
    t = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ts_lit(ms: int) -> str:
    """An SQL timestamp literal for an epoch-millisecond value."""
    return f"TIMESTAMP '{iso_ms(ms)}'"


def to_ms(value) -> int:
    """Arrow timestamp value (as returned by to_pylist) -> epoch milliseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return int(value)


def connect(uri: str):
    return flightsql.connect(uri)


def run(conn, sql: str, parameters=None) -> pa.Table:
    with conn.cursor() as cur:
        if parameters is None:
            cur.execute(sql)
        else:
            cur.execute(sql, parameters=parameters)
        return cur.fetch_arrow_table()


def scalar(conn, sql: str, parameters=None):
    t = run(conn, sql, parameters)
    assert t.num_rows == 1 and t.num_columns == 1, f"expected one value from {sql!r}, got {t}"
    return t.column(0)[0].as_py()


# Status codes that mean "the server failed" rather than "the request was wrong".
SERVER_FAULT_CODES = (
    adbc_driver_manager.AdbcStatusCode.UNKNOWN,
    adbc_driver_manager.AdbcStatusCode.INTERNAL,
    adbc_driver_manager.AdbcStatusCode.IO,
)


def expect_error(conn, sql: str, *, contains=(), status=None, parameters=None) -> adbc_driver_manager.Error:
    """Run `sql`, require an ADBC error, and check its message and status code.

    `contains` are substrings that must all appear (case-insensitively) in the
    error message; `status` is an AdbcStatusCode (or a tuple of them).
    """
    with pytest.raises(adbc_driver_manager.Error) as info:
        run(conn, sql, parameters)
    err = info.value
    text = str(err)
    for piece in contains:
        assert piece.lower() in text.lower(), f"{piece!r} not in error message: {text}"
    if status is not None:
        allowed = status if isinstance(status, tuple) else (status,)
        assert err.status_code in allowed, f"status {err.status_code!r} not in {allowed}; message: {text}"
    return err


def ms_list(column) -> list[int]:
    """A timestamp column (any unit) -> list of epoch milliseconds."""
    typ = column.type
    assert pa.types.is_timestamp(typ), f"not a timestamp column: {typ}"
    if typ.unit != "ms":
        column = column.cast(pa.timestamp("ms", tz=typ.tz))
    return column.cast(pa.int64()).to_pylist()


def table_rows(t) -> list[tuple]:
    """(group, stream, time in ms, message) of each row of a result table."""
    return list(
        zip(
            t.column("log_group").to_pylist(),
            t.column("log_stream").to_pylist(),
            ms_list(t.column("time")),
            t.column("message").to_pylist(),
        )
    )


def expected_rows(data, group, stream=None) -> list[tuple]:
    """The same tuples from the record of what was loaded."""
    return [(e.group, e.stream, e.ts, e.message) for e in data.select(group, stream)]


def drain_pty(master: int) -> bytes:
    """Everything written to a pseudo-terminal until its child closes it; closes `master`."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks)


def typed_table(group: str, streams) -> str | None:
    """The typed table docs/typed-tables.md says a group gets (no config rules)."""
    lower = group.lower()
    if lower.startswith("/aws/lambda/"):
        return "lambda_invocations"
    if "cloudtrail" in lower:
        return "cloudtrail_events"
    if any(w in lower for w in ("flow-log", "flowlog", "flow_log")):
        return "flow_log_records"
    streams = list(streams)
    if not streams:
        return None
    if all(re.fullmatch(r"\d{12}_CloudTrail_.+", s) for s in streams):
        return "cloudtrail_events"
    if all(re.fullmatch(r"eni-[0-9a-fA-F]+(-all|-accept|-reject)?", s) for s in streams):
        return "flow_log_records"
    if all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[[^\]]+\].*", s) for s in streams):
        return "lambda_invocations"
    return None


def group_tables(group: str, streams) -> set[str]:
    """Every table of a group's schema: its streams, all_log_streams, its typed table."""
    streams = set(streams)
    typed = typed_table(group, streams)
    return streams | {"all_log_streams"} | ({typed} if typed else set())
