"""InfluxData's flightsql-dbapi, the DB-API 2 driver and SQLAlchemy dialect (`datafusion://`,
the URL Apache Superset can load), without and with a login.

It needs SQLAlchemy < 2, so it runs in its own environment as a child process
(clients/flightsql_dbapi_client.py) that runs every step once per login and reports each
step's value or error. Its parameterised query binds with DoPut and then executes the
handle it created, ignoring the handle the server sends back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compat_common import (
    CATALOG,
    PARAM_STREAM,
    QUERY_GROUP,
    QUERY_STREAM,
    Login,
    count_sql,
    expected_tables,
    param_sql,
    run_client_once,
    sqlalchemy1_python,
    step,
    user_schemas,
)

SCRIPT = Path(__file__).resolve().parent / "clients" / "flightsql_dbapi_client.py"
COLUMNS = ["log_group", "log_stream", "time", "ingestion_time", "message"]


@pytest.fixture(scope="module")
def cache() -> dict:
    return {}


def run_client(login: Login, cache: dict, *, token: bool = False) -> dict:
    """Every step of the client script against `login` (one child process per login)."""
    spec = {
        "host": login.host, "port": login.port,
        "group": QUERY_GROUP, "param": PARAM_STREAM,
        "count_sql": count_sql(), "param_sql": param_sql("?"), "param_sql_named": param_sql(":stream"),
    }
    return run_client_once(cache, login, token, [sqlalchemy1_python(), str(SCRIPT)], spec,
                           env={"SQLALCHEMY_SILENCE_UBER_WARNING": "1"})


@pytest.fixture
def results(login, cache) -> dict:
    return run_client(login, cache)


def test_dbapi_lists_catalogs_schemas_tables(results, data):
    assert CATALOG in step(results, "catalogs")
    assert user_schemas(step(results, "schemas")) == set(data.groups)
    assert set(step(results, "tables")) == expected_tables(data)


def test_dbapi_query(results, data):
    assert step(results, "query") == [[data.count(QUERY_GROUP, QUERY_STREAM)]]


def test_dbapi_parameterised_query_on_the_original_handle(results, data):
    """The server keeps the parameters bound by DoPut for the handle the client made (it
    sends no updated handle back to GetFlightInfo)."""
    assert step(results, "param_query") == [[data.count(QUERY_GROUP, PARAM_STREAM)]]


def test_sqlalchemy_dialect_reflects(results, data):
    assert step(results, "sa_dialect") == ["datafusion", "flightsql"]
    assert user_schemas(step(results, "sa_schemas")) == set(data.groups)
    assert set(step(results, "sa_tables")) == expected_tables(data)
    assert step(results, "sa_columns") == COLUMNS


def test_sqlalchemy_dialect_core_select(results, data):
    want = {s: n for s, n in data.stream_counts(QUERY_GROUP).items() if s != PARAM_STREAM}
    assert step(results, "sa_select") == want


def test_sqlalchemy_dialect_bound_parameter(results, data):
    """With feature-sqlalchemy-prepared-statements=on: the same DoPut-then-original-handle
    binding as the DB-API, answered from the same binding table."""
    assert step(results, "sa_param_query") == data.count(QUERY_GROUP, PARAM_STREAM)


def test_static_token(secured_login, cache, data):
    results = run_client(secured_login, cache, token=True)
    assert step(results, "query") == [[data.count(QUERY_GROUP, QUERY_STREAM)]]
    assert set(step(results, "sa_tables")) == expected_tables(data)
