"""Bad SQL and refused (non read-only) statements; the server keeps serving."""

from __future__ import annotations

import os
from pathlib import Path

import adbc_driver_manager
import pytest
from adbc_driver_manager import AdbcStatusCode

from helpers import SERVER_FAULT_CODES, expect_error, scalar, table
from loader import CASE_GROUP, LAMBDA_GROUP

BAD_SQL = [
    "SELEC 1",
    "SELECT FROM WHERE",
    "SELECT * FROM",
    "SELECT 1 +",
    "SELECT no_such_column FROM \"/app/CaseTest\".all_log_streams",
    "SELECT count(*) FROM \"/app/CaseTest\".all_log_streams WHERE time > 'not a timestamp'",
    "SELECT no_such_function(message) FROM \"/app/CaseTest\".all_log_streams",
    "   ",  # the driver itself refuses an empty string, so send only blanks
]


@pytest.fixture
def still_serving(server):
    """After the test, a brand-new connection still gets an answer to SELECT 1."""
    yield
    server.assert_serving()


@pytest.mark.parametrize("text", BAD_SQL)
def test_bad_sql_is_invalid_argument(conn, still_serving, text):
    err = expect_error(conn, text)
    assert isinstance(err, adbc_driver_manager.ProgrammingError), f"{type(err).__name__}: {err}"
    assert err.status_code == AdbcStatusCode.INVALID_ARGUMENT, f"{err.status_code!r}: {err}"
    # The same connection keeps working.
    assert scalar(conn, "SELECT 1") == 1


def test_syntax_error_message_is_clear(conn, still_serving):
    err = expect_error(conn, "SELEC 1")
    assert "SELEC" in str(err)


def _refused_statements(scratch: Path) -> list[str]:
    out_csv = scratch / "copy-out.csv"
    return [
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        f"CREATE EXTERNAL TABLE t2 (a TEXT) STORED AS CSV LOCATION '{scratch}/'",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        f"COPY (SELECT 1 AS a) TO '{out_csv}' STORED AS CSV",
        f"COPY (SELECT * FROM {table(CASE_GROUP)}) TO '{scratch / 'dump.parquet'}'",
        "CREATE TABLE t AS SELECT 1",
        "CREATE TABLE t3 (a INT)",
        "CREATE VIEW v AS SELECT 1",
        "CREATE SCHEMA s",
        f"CREATE TABLE {table(CASE_GROUP, 'NewStream')} AS SELECT 1",
        f"INSERT INTO {table(CASE_GROUP, 'Worker')} VALUES ('g', 's', now(), now(), 'm')",
        "INSERT INTO t VALUES (1)",
        f"DELETE FROM {table(CASE_GROUP, 'Worker')}",
        f"UPDATE {table(CASE_GROUP, 'Worker')} SET message = 'x'",
        f"DROP TABLE {table(CASE_GROUP, 'Worker')}",
        f"DROP SCHEMA {table(CASE_GROUP).split('.')[0]} CASCADE",
        "DROP TABLE IF EXISTS t",
        "DROP VIEW IF EXISTS v",
        "SET datafusion.execution.batch_size = 1",
        "SET datafusion.catalog.information_schema = false",
    ]


REFUSED_IDS = [
    "create-external-passwd",
    "create-external-dir",
    "copy-tmp-x-csv",
    "copy-csv-scratch",
    "copy-parquet-scratch",
    "ctas",
    "create-table",
    "create-view",
    "create-schema",
    "ctas-into-group",
    "insert-stream",
    "insert-t",
    "delete",
    "update",
    "drop-table",
    "drop-schema",
    "drop-table-if-exists",
    "drop-view",
    "set-batch-size",
    "set-information-schema",
]


@pytest.mark.parametrize("index", range(len(REFUSED_IDS)), ids=REFUSED_IDS)
def test_refused_statements_are_read_only_errors(conn, still_serving, tmp_path, index):
    text = _refused_statements(tmp_path)[index]
    tmp_x_existed = os.path.exists("/tmp/x.csv")
    before = sorted(p.name for p in tmp_path.iterdir())

    err = expect_error(conn, text, contains=("read-only",))
    # A refusal is the client's problem (the server reports PermissionDenied), never a server fault.
    assert err.status_code not in SERVER_FAULT_CODES, f"{err.status_code!r}: {err}"

    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a refused statement wrote files"
    if not tmp_x_existed:
        assert not os.path.exists("/tmp/x.csv"), "COPY ... TO '/tmp/x.csv' created the file"
    assert scalar(conn, "SELECT 1") == 1


def test_refused_statements_change_nothing(conn, data, still_serving):
    expect_error(conn, f"DELETE FROM {table(CASE_GROUP, 'Worker')}", contains=("read-only",))
    expect_error(conn, "SET datafusion.execution.batch_size = 1", contains=("read-only",))
    expect_error(conn, "CREATE VIEW v AS SELECT 1", contains=("read-only",))
    assert scalar(conn, f"SELECT count(*) FROM {table(CASE_GROUP, 'Worker')}") == data.count(CASE_GROUP, "Worker")
    expect_error(conn, "SELECT * FROM v")
    # batch_size was not changed server-side: results are still complete and correct.
    assert scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)}") == data.count(LAMBDA_GROUP)


def test_refused_through_execute_update(conn, still_serving, tmp_path):
    """The Flight SQL update path (DoPut CommandStatementUpdate) must not run writes either."""
    target = tmp_path / "update-path.csv"
    for text in [f"COPY (SELECT 1) TO '{target}'", "CREATE TABLE t AS SELECT 1", "DROP TABLE IF EXISTS t"]:
        with conn.cursor() as cur:
            with pytest.raises(adbc_driver_manager.Error):
                cur.adbc_statement.set_sql_query(text)
                cur.adbc_statement.execute_update()
    assert not target.exists()


def test_refused_in_prepared_statement(conn, still_serving, tmp_path):
    target = tmp_path / "prepared.csv"
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error) as info:
            cur.adbc_prepare(f"COPY (SELECT 1) TO '{target}'")
            cur.execute(f"COPY (SELECT 1) TO '{target}'")
            cur.fetch_arrow_table()
    assert "read-only" in str(info.value).lower(), str(info.value)
    assert not target.exists()


def test_many_errors_in_a_row_then_queries_work(conn, data, still_serving):
    for _ in range(20):
        expect_error(conn, "SELEC 1")
        expect_error(conn, "DROP TABLE x", contains=("read-only",))
        expect_error(conn, f"SELECT * FROM {table('/nope')}")
    assert scalar(conn, f"SELECT count(*) FROM {table(CASE_GROUP)}") == data.count(CASE_GROUP)
