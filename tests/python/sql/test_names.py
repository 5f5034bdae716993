"""Log group / log stream name resolution: exact, case-insensitive, ambiguous, unknown."""

from __future__ import annotations

import adbc_driver_manager
import pytest
from adbc_driver_manager import AdbcStatusCode

import loader
from helpers import expect_error, qi, scalar, table
from loader import CASE_GROUP, CLOUDTRAIL_GROUP, LAMBDA_GROUP


def count(conn, ref: str) -> int:
    return scalar(conn, f"SELECT count(*) FROM {ref}")


def test_exact_stream_names_that_differ_only_by_case(conn, data):
    assert count(conn, table(CASE_GROUP, "Worker")) == data.count(CASE_GROUP, "Worker")
    assert count(conn, table(CASE_GROUP, "worker")) == data.count(CASE_GROUP, "worker")
    assert data.count(CASE_GROUP, "Worker") != data.count(CASE_GROUP, "worker")


def test_exact_stream_returns_only_that_streams_rows(conn, data):
    got = scalar(conn, f"SELECT count(DISTINCT log_stream) FROM {table(CASE_GROUP, 'Worker')}")
    assert got == 1
    assert scalar(conn, f"SELECT min(log_stream) FROM {table(CASE_GROUP, 'Worker')}") == "Worker"


def test_unquoted_stream_is_lowercased_then_matched_exactly(conn, data):
    # SQL folds unquoted identifiers to lower case: `worker` is the exact lower-case stream.
    assert count(conn, f"{qi(CASE_GROUP)}.worker") == data.count(CASE_GROUP, "worker")
    assert scalar(conn, f"SELECT min(log_stream) FROM {qi(CASE_GROUP)}.WORKER") == "worker"


@pytest.mark.parametrize(
    "ref",
    [
        f'{qi("/APP/casetest")}.{qi("OnlyUpper")}',
        f"{qi(CASE_GROUP)}.onlyupper",
        f'{qi(CASE_GROUP)}.{qi("ONLYUPPER")}',
        f'cloudwatch.{qi("/app/casetest")}.{qi("onlyUPPER")}',
    ],
)
def test_case_insensitive_unique_match(conn, data, ref):
    assert count(conn, ref) == data.count(CASE_GROUP, loader.CASE_STREAM_ONLY_UPPER)
    assert scalar(conn, f"SELECT min(log_stream) FROM {ref}") == loader.CASE_STREAM_ONLY_UPPER


@pytest.mark.parametrize(
    "group_spelling, group",
    [
        ("/aws/cloudtrail/management", CLOUDTRAIL_GROUP),
        ("/AWS/CLOUDTRAIL/MANAGEMENT", CLOUDTRAIL_GROUP),
        ("/AWS/lambda/Orders-API", LAMBDA_GROUP),
    ],
)
def test_case_insensitive_group(conn, data, group_spelling, group):
    assert count(conn, table(group_spelling)) == data.count(group)


def test_case_insensitive_group_and_stream_table(conn, data):
    stream = data.lambda_streams["small"]
    assert count(conn, table("/AWS/LAMBDA/ORDERS-API", stream.upper())) == data.count(LAMBDA_GROUP, stream)


@pytest.mark.parametrize("spelling", ["WORKER", "wOrKeR"])
def test_ambiguous_stream_names(conn, spelling):
    err = expect_error(
        conn,
        f"SELECT count(*) FROM {table(CASE_GROUP, spelling)}",
        contains=("ambiguous", "Worker", "worker"),
    )
    # Both candidates are named with their exact spelling; it is the user's mistake, not a server fault.
    text = str(err)
    assert "Worker" in text and "worker" in text
    assert isinstance(err, adbc_driver_manager.ProgrammingError), f"{type(err).__name__}: {err}"


def test_all_log_streams_is_not_ambiguous(conn, data):
    assert count(conn, table(CASE_GROUP)) == data.count(CASE_GROUP)


@pytest.mark.parametrize(
    "ref, missing",
    [
        (table("/aws/lambda/no-such-function"), "/aws/lambda/no-such-function"),
        (table(CASE_GROUP, "NoSuchStream"), "NoSuchStream"),
        (table(LAMBDA_GROUP, "2026/01/01/[$LATEST]00000000000000000000000000000000"),
         "2026/01/01/[$LATEST]00000000000000000000000000000000"),
    ],
)
def test_unknown_group_or_stream(conn, ref, missing):
    err = expect_error(conn, f"SELECT * FROM {ref}", contains=(missing,))
    assert isinstance(err, adbc_driver_manager.ProgrammingError), type(err)
    assert err.status_code == AdbcStatusCode.NOT_FOUND, f"{err.status_code!r}: {err}"


def test_unknown_catalog(conn):
    expect_error(conn, f"SELECT * FROM nocatalog.{qi(CASE_GROUP)}.all_log_streams", contains=("nocatalog",))


def test_server_answers_after_name_errors(conn):
    expect_error(conn, f"SELECT * FROM {table(CASE_GROUP, 'WORKER')}", contains=("ambiguous",))
    expect_error(conn, f"SELECT * FROM {table('/nope')}", contains=("/nope",))
    assert scalar(conn, "SELECT 1") == 1
