"""Drives InfluxData's flightsql-dbapi (DB-API 2 and its `datafusion` SQLAlchemy
dialect) for test_flightsql_dbapi.py. It runs in .venv-sqlalchemy1, since the package
requires SQLAlchemy < 2: reads a JSON spec on stdin, prints one JSON object mapping each
step to {"value": ...} or {"error": "..."}, so one failing step does not hide the others.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable
from urllib.parse import quote

import flightsql
import sqlalchemy as sa

# flightsql.sqlalchemy is NOT imported: a tool such as Superset only has the URL, and then
# only the entry point's name, `datafusion://`, loads the dialect (`datafusion+flightsql://`
# is registered by importing flightsql.sqlalchemy).


def attempt(results: dict, name: str, fn: Callable[[], Any]) -> None:
    try:
        results[name] = {"value": fn()}
    except Exception as e:  # noqa: BLE001 - the test reports the client's own error
        results[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=3)}


def dbapi_steps(spec: dict, results: dict) -> None:
    client = flightsql.FlightSQLClient(
        host=spec["host"], port=spec["port"], insecure=True,
        user=spec.get("user"), password=spec.get("password"), token=spec.get("token"),
    )
    conn = flightsql.connect(client)

    def catalogs() -> list[str]:
        info = client.get_catalogs()
        return client.do_get(info.endpoints[0].ticket).read_all().column("catalog_name").to_pylist()

    def scalar(sql: str, params=None):
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        return [[int(v) if isinstance(v, int) else v for v in row] for row in rows]

    attempt(results, "catalogs", catalogs)
    attempt(results, "schemas", conn.flightsql_get_schema_names)
    attempt(results, "tables", lambda: conn.flightsql_get_table_names(spec["group"]))
    attempt(results, "query", lambda: scalar(spec["count_sql"]))
    attempt(results, "param_query", lambda: scalar(spec["param_sql"], (spec["param"],)))
    conn.close()
    client.close()


def engine_url(spec: dict, **query: str) -> str:
    auth = ""
    if spec.get("user"):
        auth = f"{quote(spec['user'], safe='')}:{quote(spec['password'], safe='')}@"
    if spec.get("token"):
        query["token"] = spec["token"]
    text = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"insecure": "true", **query}.items())
    return f"datafusion://{auth}{spec['host']}:{spec['port']}?{text}"


def sqlalchemy_steps(spec: dict, results: dict) -> None:
    group, stream = spec["group"], spec["param"]
    engine = sa.create_engine(engine_url(spec))
    inspector = sa.inspect(engine)
    attempt(results, "sa_dialect", lambda: [engine.dialect.name, engine.dialect.driver])
    attempt(results, "sa_schemas", inspector.get_schema_names)
    attempt(results, "sa_tables", lambda: inspector.get_table_names(schema=group))
    attempt(results, "sa_columns", lambda: [c["name"] for c in inspector.get_columns("all_log_streams", schema=group)])

    def grouped_counts() -> dict[str, int]:
        # A Core SELECT with a literal in its WHERE, as a BI tool builds one: the dialect
        # renders the literal inline (it binds no parameter unless told to).
        t = sa.Table("all_log_streams", sa.MetaData(), schema=group, autoload_with=engine)
        query = sa.select(t.c.log_stream, sa.func.count().label("n")).where(t.c.log_stream != stream)
        with engine.connect() as conn:
            return {r.log_stream: int(r.n) for r in conn.execute(query.group_by(t.c.log_stream))}

    attempt(results, "sa_select", grouped_counts)
    engine.dispose()

    # With the dialect's prepared-statement feature on, bound parameters are sent as
    # parameters (DoPut on the handle, then GetFlightInfo on the same handle).
    prepared = sa.create_engine(engine_url(spec, **{"feature-sqlalchemy-prepared-statements": "on"}))

    def bound() -> int:
        with prepared.connect() as conn:
            return int(conn.execute(sa.text(spec["param_sql_named"]), {"stream": stream}).scalar())

    attempt(results, "sa_param_query", bound)
    prepared.dispose()


def main() -> None:
    spec = json.load(sys.stdin)
    results: dict = {}
    dbapi_steps(spec, results)
    sqlalchemy_steps(spec, results)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
