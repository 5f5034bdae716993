"""Errors that say what to do: where a missing group was looked for and what is near it,
how to write a group name, DESCRIBE and the SHOW statements people type first, and a regex
that does not compile reported as the client's mistake (INVALID_ARGUMENT), never INTERNAL."""

from __future__ import annotations

import adbc_driver_manager
import pytest

from helpers import expect_error, group_tables, qi, run
from loader import LAMBDA_GROUP

INVALID = adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
NOT_FOUND = adbc_driver_manager.AdbcStatusCode.NOT_FOUND


@pytest.mark.parametrize("missing", ["/aws/lambda/order-api", "/aws/lambda/ordres-api", "/aws/lambda/orders-apii"])
def test_near_miss_is_suggested_and_the_place_searched_named(conn, missing):
    err = expect_error(conn, f"SELECT * FROM {qi(missing)}.all_log_streams", status=NOT_FOUND,
                       contains=[missing, f'did you mean "{LAMBDA_GROUP}"'])
    assert 'in catalog "cloudwatch" (cloudwatch(us-east-1))' in str(err), err


def test_unquoted_group_name_gets_a_hint_to_quote_it(conn):
    expect_error(conn, f"SELECT * FROM {LAMBDA_GROUP}", status=INVALID,
                 contains=["must be quoted", f'FROM "{LAMBDA_GROUP}".all_log_streams'])


def test_describe_a_table(conn):
    t = run(conn, f"DESCRIBE {qi(LAMBDA_GROUP)}.all_log_streams")
    assert t.column("column_name").to_pylist() == ["log_group", "log_stream", "time", "ingestion_time", "message"]
    assert run(conn, f"DESC {qi(LAMBDA_GROUP)}.all_log_streams").num_rows == 5


def test_show_schemas_databases_and_catalogs(conn, data):
    groups = sorted(data.groups)
    for sql in ["SHOW SCHEMAS", "SHOW DATABASES"]:
        t = run(conn, sql)
        assert t.column_names == ["catalog_name", "schema_name"], sql
        names = t.column("schema_name").to_pylist()
        assert [n for n in names if n in groups] == groups, (sql, names)
    assert run(conn, "SHOW CATALOGS").column("catalog_name").to_pylist() == ["cloudwatch"]
    t = run(conn, "SHOW SCHEMAS LIKE '/aws/lambda/%'")
    assert t.column("schema_name").to_pylist() == [LAMBDA_GROUP]


@pytest.mark.parametrize("written", [LAMBDA_GROUP, LAMBDA_GROUP.upper()])
def test_show_tables_from_a_group(conn, data, written):
    t = run(conn, f"SHOW TABLES FROM {qi(written)}")
    assert set(t.column("table_schema").to_pylist()) == {LAMBDA_GROUP}
    assert sorted(t.column("table_name").to_pylist()) == sorted(group_tables(LAMBDA_GROUP, data.groups[LAMBDA_GROUP]))
    assert run(conn, f"SHOW TABLES IN cloudwatch.{qi(LAMBDA_GROUP)}").num_rows == t.num_rows


def test_show_tables_from_a_missing_group(conn):
    expect_error(conn, 'SHOW TABLES FROM "/aws/lambda/order-api"', status=NOT_FOUND,
                 contains=[f'did you mean "{LAMBDA_GROUP}"'])


@pytest.mark.parametrize("sql", [
    f"SELECT count(*) FROM {qi(LAMBDA_GROUP)}.all_log_streams WHERE message ~ '('",
    f"SELECT count(*) FROM {qi(LAMBDA_GROUP)}.all_log_streams WHERE regexp_like(message, '[a-')",
    "SELECT regexp_replace('abc', '(', 'x')",
    "SELECT 'abc' ~ '*'",
])
def test_bad_regex_is_invalid_argument_with_the_regex_error(conn, sql):
    expect_error(conn, sql, status=INVALID, contains=["invalid regular expression", "regex parse error"])
