"""Catalog metadata through Flight SQL (ADBC) and through SQL (SHOW TABLES, information_schema)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from helpers import group_tables, run
from loader import CASE_GROUP, CLOUDTRAIL_GROUP, LAMBDA_GROUP, QUIET_GROUP

COLUMNS = ["log_group", "log_stream", "time", "ingestion_time", "message"]
META_SCHEMA = "logflight$meta"
SYSTEM_SCHEMAS = {"information_schema", META_SCHEMA}


def expected_tables(data) -> dict[str, set[str]]:
    return {group: group_tables(group, streams) for group, streams in data.groups.items()}


def objects(conn, **kwargs) -> list[dict]:
    return conn.adbc_get_objects(**kwargs).read_all().to_pylist()


def tables_by_schema(catalog: dict) -> dict[str, set[str]]:
    return {
        s["db_schema_name"]: {t["table_name"] for t in (s["db_schema_tables"] or [])}
        for s in catalog["catalog_db_schemas"] or []
    }


def the_catalog(rows: list[dict]) -> dict:
    matches = [c for c in rows if c["catalog_name"] == "cloudwatch"]
    assert len(matches) == 1, [c["catalog_name"] for c in rows]
    return matches[0]


def test_get_objects_catalogs(conn):
    names = [c["catalog_name"] for c in objects(conn, depth="catalogs")]
    assert "cloudwatch" in names


def test_get_objects_lists_every_group_and_table(conn, data):
    catalog = the_catalog(objects(conn, depth="tables"))
    got = tables_by_schema(catalog)
    user_schemas = {name: tables for name, tables in got.items() if name not in SYSTEM_SCHEMAS}
    assert user_schemas == expected_tables(data)
    assert got[META_SCHEMA] == {"log_groups", "log_streams"}


def test_get_objects_db_schemas_only(conn, data):
    catalog = the_catalog(objects(conn, depth="db_schemas"))
    names = {s["db_schema_name"] for s in catalog["catalog_db_schemas"]}
    assert names - SYSTEM_SCHEMAS == set(data.groups)
    assert SYSTEM_SCHEMAS <= names


def test_get_objects_schema_filter(conn, data):
    catalog = the_catalog(objects(conn, depth="tables", db_schema_filter=CASE_GROUP))
    assert tables_by_schema(catalog) == {CASE_GROUP: expected_tables(data)[CASE_GROUP]}


def test_get_objects_table_filter(conn, data):
    catalog = the_catalog(objects(conn, depth="tables", table_name_filter="all_log_streams"))
    got = {name: tables for name, tables in tables_by_schema(catalog).items() if tables}
    assert got == {group: {"all_log_streams"} for group in data.groups}


def test_get_objects_table_types_are_consistent(conn):
    types = set(conn.adbc_get_table_types())
    assert types, "no table types"
    catalog = the_catalog(objects(conn, depth="tables", db_schema_filter=LAMBDA_GROUP))
    for schema in catalog["catalog_db_schemas"]:
        for t in schema["db_schema_tables"]:
            assert t["table_type"] in types, (t, types)


def test_get_objects_columns(conn):
    catalog = the_catalog(
        objects(conn, depth="columns", db_schema_filter=CLOUDTRAIL_GROUP, table_name_filter="all_log_streams")
    )
    [schema] = catalog["catalog_db_schemas"]
    [tbl] = schema["db_schema_tables"]
    cols = sorted(tbl["table_columns"], key=lambda c: c["ordinal_position"])
    assert [c["column_name"] for c in cols] == COLUMNS


@pytest.mark.parametrize(
    "group, table_name",
    [(LAMBDA_GROUP, "all_log_streams"), (CASE_GROUP, "Worker"), (CASE_GROUP, "worker"), (QUIET_GROUP, "idle")],
)
def test_get_table_schema(conn, group, table_name):
    schema = conn.adbc_get_table_schema(table_name, db_schema_filter=group)
    assert [(f.name, f.type, f.nullable) for f in schema] == [
        ("log_group", pa.utf8(), False),
        ("log_stream", pa.utf8(), False),
        ("time", pa.timestamp("ms", tz="UTC"), False),
        ("ingestion_time", pa.timestamp("ms", tz="UTC"), True),
        ("message", pa.utf8(), False),
    ]


def test_get_table_schema_lambda_stream(conn, data):
    schema = conn.adbc_get_table_schema(data.big_stream, catalog_filter="cloudwatch", db_schema_filter=LAMBDA_GROUP)
    assert schema.names == COLUMNS


def test_show_tables(conn, data):
    t = run(conn, "SHOW TABLES")
    rows = {
        (r["table_catalog"], r["table_schema"], r["table_name"])
        for r in t.select(["table_catalog", "table_schema", "table_name"]).to_pylist()
    }
    for group, tables in expected_tables(data).items():
        for name in tables:
            assert ("cloudwatch", group, name) in rows, (group, name)


def test_information_schema_tables(conn, data):
    t = run(
        conn,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = 'cloudwatch' AND table_schema <> 'information_schema'",
    )
    got: dict[str, set[str]] = {}
    for r in t.to_pylist():
        got.setdefault(r["table_schema"], set()).add(r["table_name"])
    assert got.pop(META_SCHEMA) == {"log_groups", "log_streams"}
    assert got == expected_tables(data)


def test_information_schema_columns(conn):
    t = run(
        conn,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_schema = '{LAMBDA_GROUP}' AND table_name = 'all_log_streams' ORDER BY ordinal_position",
    )
    rows = t.to_pylist()
    assert [r["column_name"] for r in rows] == COLUMNS
    assert [r["is_nullable"] for r in rows] == ["NO", "NO", "NO", "YES", "NO"]
    assert rows[0]["data_type"] == rows[1]["data_type"] == rows[4]["data_type"]
    assert "Timestamp" in rows[2]["data_type"] and "UTC" in rows[2]["data_type"]
    assert rows[2]["data_type"] == rows[3]["data_type"]


def test_information_schema_lists_case_variants(conn):
    t = run(
        conn,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{CASE_GROUP}' ORDER BY table_name",
    )
    assert t.column(0).to_pylist() == sorted(["OnlyUpper", "Worker", "worker", "all_log_streams"])
