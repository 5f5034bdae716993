"""Tools over the ADBC Flight SQL driver: sqlalchemy-adbc's `adbc+flightsql` dialect,
polars' read_database and pandas' read_sql, each without and with a login.

Expected values come from the loaded record (`data`); the SQL is what a user of each tool
writes. pandas' read_sql refuses `params` on a raw ADBC connection ("'params' is not
implemented for ADBC drivers"), so its parameterised query goes through the SQLAlchemy
engine, as pandas' documentation recommends.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import adbc_driver_flightsql.dbapi as flightsql
import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa

from compat_common import (
    CATALOG,
    PARAM_STREAM,
    QUERY_GROUP,
    QUERY_STREAM,
    Login,
    count_sql,
    expected_tables,
    param_sql,
    user_schemas,
)


def engine_url(login: Login, *, token: bool = False) -> str:
    """sqlalchemy-adbc's URL: plaintext needs tls=false (its default is TLS); a username and
    password go to the driver as query keys; a token goes in the password field."""
    if token:
        return f"adbc+flightsql://:{quote(login.token, safe='')}@{login.host}:{login.port}?tls=false"
    query = {"tls": "false"}
    if login.authenticated:
        query.update(username=login.user, password=login.password)
    return f"adbc+flightsql://{login.host}:{login.port}?{urlencode(query)}"


def adbc_connect(login: Login):
    kwargs = {"username": login.user, "password": login.password} if login.authenticated else {}
    return flightsql.connect(login.uri, db_kwargs=kwargs)


@pytest.fixture
def engine(login):
    eng = sa.create_engine(engine_url(login))
    yield eng
    eng.dispose()


# sqlalchemy-adbc -----------------------------------------------------------------------


def test_sqlalchemy_adbc_dialect_loads(engine):
    assert (engine.dialect.name, engine.dialect.driver) == ("flightsql", "adbc")


def test_sqlalchemy_adbc_lists_schemas_and_columns(engine, data):
    inspector = sa.inspect(engine)
    assert user_schemas(inspector.get_schema_names()) == set(data.groups)
    columns = [(c["name"], type(c["type"]).__name__) for c in inspector.get_columns(QUERY_STREAM, schema=QUERY_GROUP)]
    # Types reflect from the Flight SQL column metadata of GetTables (TYPE_NAME), not NullType.
    assert columns == [("log_group", "String"), ("log_stream", "String"), ("time", "DateTime"),
                       ("ingestion_time", "DateTime"), ("message", "String")]


@pytest.mark.xfail(strict=True, reason="sqlalchemy-adbc 0.3.0 keeps only table_type == 'table' (lower case); "
                   "Flight SQL servers, logflight included, say 'TABLE'")
def test_sqlalchemy_adbc_lists_tables(engine, data):
    assert set(sa.inspect(engine).get_table_names(schema=QUERY_GROUP)) == expected_tables(data)


def test_sqlalchemy_adbc_query_and_bound_parameter(engine, data):
    with engine.connect() as conn:
        assert conn.execute(sa.text(count_sql())).scalar_one() == data.count(QUERY_GROUP, QUERY_STREAM)
        got = conn.execute(sa.text(param_sql(":stream")), {"stream": PARAM_STREAM}).scalar_one()
    assert got == data.count(QUERY_GROUP, PARAM_STREAM)


def test_sqlalchemy_adbc_core_select_on_a_reflected_table(engine, data):
    """What an ORM-style tool generates: a SELECT built on a reflected table."""
    streams = sa.Table("all_log_streams", sa.MetaData(), schema=QUERY_GROUP, autoload_with=engine)
    query = (sa.select(streams.c.log_stream, sa.func.count().label("n"))
             .where(streams.c.log_stream != PARAM_STREAM)
             .group_by(streams.c.log_stream))
    with engine.connect() as conn:
        got = {row.log_stream: row.n for row in conn.execute(query)}
    want = {s: n for s, n in data.stream_counts(QUERY_GROUP).items() if s != PARAM_STREAM}
    assert got == want


def test_sqlalchemy_adbc_static_token_in_the_url(secured_login, data):
    eng = sa.create_engine(engine_url(secured_login, token=True))
    try:
        with eng.connect() as conn:
            assert conn.execute(sa.text(count_sql())).scalar_one() == data.count(QUERY_GROUP, QUERY_STREAM)
    finally:
        eng.dispose()


def test_sqlalchemy_adbc_without_credentials_is_refused(secured_login):
    anonymous = sa.create_engine(engine_url(Login(secured_login.server)))  # no credentials
    try:
        with pytest.raises(sa.exc.DBAPIError) as info:
            with anonymous.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
        assert "UNAUTHENTICATED" in str(info.value).upper(), info.value
    finally:
        anonymous.dispose()


# polars --------------------------------------------------------------------------------


def test_polars_read_database_over_adbc(login, data):
    with adbc_connect(login) as conn:
        schemas = pl.read_database("SELECT schema_name FROM information_schema.schemata", connection=conn)
        tables = pl.read_database(
            "SELECT table_catalog, table_name FROM information_schema.tables WHERE table_schema = ?",
            connection=conn, execute_options={"parameters": [QUERY_GROUP]},
        )
        counts = pl.read_database(
            f'SELECT log_stream, count(*) AS n FROM "{QUERY_GROUP}".all_log_streams GROUP BY log_stream',
            connection=conn,
        )
        one = pl.read_database(param_sql(), connection=conn, execute_options={"parameters": [PARAM_STREAM]})
    assert user_schemas(schemas["schema_name"].to_list()) == set(data.groups)
    assert set(tables["table_catalog"].to_list()) == {CATALOG}
    assert set(tables["table_name"].to_list()) == expected_tables(data)
    assert dict(zip(counts["log_stream"].to_list(), counts["n"].to_list())) == dict(data.stream_counts(QUERY_GROUP))
    assert one["n"].to_list() == [data.count(QUERY_GROUP, PARAM_STREAM)]


def test_polars_read_database_over_sqlalchemy_adbc(engine, data):
    got = pl.read_database(sa.text(param_sql(":stream")), connection=engine,
                           execute_options={"parameters": {"stream": PARAM_STREAM}})
    assert got["n"].to_list() == [data.count(QUERY_GROUP, PARAM_STREAM)]


# pandas --------------------------------------------------------------------------------


def test_pandas_read_sql_over_adbc(login, data):
    with adbc_connect(login) as conn:
        tables = pd.read_sql(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{QUERY_GROUP}'", conn)
        frame = pd.read_sql(f'SELECT time, message FROM "{QUERY_GROUP}"."{QUERY_STREAM}" ORDER BY time', conn)
    assert set(tables["table_name"]) == expected_tables(data)
    want = sorted(data.select(QUERY_GROUP, QUERY_STREAM), key=lambda e: e.ts)
    assert len(frame) == len(want)
    assert sorted(frame["message"]) == sorted(e.message for e in want)
    # Arrow timestamps arrive as pandas datetimes in UTC, at millisecond precision.
    assert str(frame["time"].dt.tz) == "UTC"
    assert [int(t.timestamp() * 1000) for t in frame["time"]] == [e.ts for e in want]


def test_pandas_read_sql_with_params_over_sqlalchemy_adbc(engine, data):
    frame = pd.read_sql(sa.text(param_sql(":stream")), engine, params={"stream": PARAM_STREAM})
    assert frame["n"].tolist() == [data.count(QUERY_GROUP, PARAM_STREAM)]
