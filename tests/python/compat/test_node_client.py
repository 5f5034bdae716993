"""A Node.js Flight SQL client from npm, @firetiger-oss/flight-sql-client (installed into
tests/node by tests/run.sh with `npm ci`), without and with a login.

With a username and password this client sends `authorization: Basic ...` on every call
(it does a Handshake too, but keeps no token from it), so the password tests pass only when
the server takes Basic credentials on any RPC. Its own getCatalogs/getSchemas/prepare send
malformed requests, and its doPut never returns once the server answers; the script uses
its Flight-level calls for those steps (see tests/node/flightsql_node_client.js).
"""

from __future__ import annotations

import shutil

import pytest

from compat_common import (
    CATALOG,
    PARAM_STREAM,
    QUERY_GROUP,
    QUERY_STREAM,
    ROOT,
    Login,
    count_sql,
    expected_tables,
    param_sql,
    run_client_once,
    step,
    user_schemas,
)

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "flightsql_node_client.js"


def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH (tests/run.sh needs it for the compatibility tier)")
    if not (NODE_DIR / "node_modules" / "@firetiger-oss" / "flight-sql-client").is_dir():
        pytest.fail(f"{NODE_DIR}/node_modules is missing: run the tests with `bash tests/run.sh` (npm ci)")
    return exe


@pytest.fixture(scope="module")
def cache() -> dict:
    return {}


def run_client(login: Login, cache: dict, *, token: bool = False) -> dict:
    """Every step of the Node script against `login` (one child process per login)."""
    spec = {
        "host": login.host, "port": login.port, "catalog": CATALOG, "group": QUERY_GROUP,
        "param": PARAM_STREAM, "count_sql": count_sql(), "param_sql": param_sql("$1"),
    }
    return run_client_once(cache, login, token, [node(), str(SCRIPT)], spec)


@pytest.fixture
def results(login, cache) -> dict:
    return run_client(login, cache)


def test_lists_catalogs_schemas_tables(results, data):
    assert CATALOG in step(results, "catalogs")
    assert user_schemas(step(results, "schemas")) == set(data.groups)
    tables = step(results, "tables")
    assert {schema for schema, _, _ in tables} == {QUERY_GROUP}
    assert {name for _, name, _ in tables} == expected_tables(data)
    assert {kind for _, _, kind in tables} == {"TABLE"}


def test_query(results, data):
    assert step(results, "query") == [data.count(QUERY_GROUP, QUERY_STREAM)]


def test_parameterised_query_on_the_original_handle(results, data):
    assert step(results, "param_query") == [data.count(QUERY_GROUP, PARAM_STREAM)]


def test_static_token(secured_login, cache, data):
    results = run_client(secured_login, cache, token=True)
    assert step(results, "query") == [data.count(QUERY_GROUP, QUERY_STREAM)]
    assert step(results, "param_query") == [data.count(QUERY_GROUP, PARAM_STREAM)]


def test_wrong_password_is_refused(secured_login, cache):
    wrong = Login(secured_login.server, secured_login.user, "not-" + secured_login.password)
    results = run_client(wrong, cache)
    for name in ("catalogs", "tables", "query"):
        assert "error" in results[name], f"{name} answered with a wrong password: {results[name]}"
        assert "UNAUTHENTICATED" in results[name]["error"].upper() or "authenticat" in results[name]["error"].lower(), results[name]
