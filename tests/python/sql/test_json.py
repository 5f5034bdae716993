"""JSON messages: datafusion-functions-json's functions through the real server and
ADBC, and predicates on JSON fields pushed to CloudWatch as JSON filter patterns
(seen by the counting proxy; moto ignores JSON patterns and returns every event,
so the answers also show that DataFusion re-checks every pushed predicate).
"""

from __future__ import annotations

import json
import time


from fixtures import connection, server_behind_proxy
from helpers import run, scalar
from loader import create_group

GROUP = "/json/trail"
NOW_MS = int(time.time() * 1000)
RECORDS = [
    {"eventName": name, "userIdentity": {"type": who, "userName": user}, "readOnly": ro, "status": status}
    for i, (name, who, user, ro, status) in enumerate(
        [
            ("ConsoleLogin", "IAMUser", "alice", False, 200),
            ("ConsoleLogin", "Root", "root", False, 200),
            ("GetSecretValue", "AssumedRole", "ci", True, 403),
            ("StopLogging", "IAMUser", "mallory", False, 200),
            ("ConsoleLogin", "IAMUser", "bob", False, 401),
        ]
    )
]
MESSAGES = [json.dumps(r) for r in RECORDS] + ["plain text, not JSON"]


def load_trail(client) -> None:
    create_group(client, GROUP, {"trail": [(NOW_MS - 600_000 + i, m) for i, m in enumerate(MESSAGES)]})


json_server = server_behind_proxy("json", seed=13, load=load_trail)
jconn = connection("json_server")


def test_json_functions_read_nested_fields(jconn):
    t = run(jconn, f"""SELECT json_get_str(message, 'userIdentity', 'userName') AS user_name,
                              json_get_int(message, 'status') AS status,
                              json_get_bool(message, 'readOnly') AS read_only,
                              message->>'eventName' AS event
                       FROM "{GROUP}".all_log_streams ORDER BY time""")
    want = [
        {"user_name": r["userIdentity"]["userName"], "status": r["status"], "read_only": r["readOnly"], "event": r["eventName"]}
        for r in RECORDS
    ] + [{"user_name": None, "status": None, "read_only": None, "event": None}]
    assert t.to_pylist() == want


def test_json_predicates_are_pushed_as_json_patterns(json_server, jconn):
    _, proxy = json_server
    proxy.reset_stats()
    sql = f"""SELECT json_get_str(message, 'userIdentity', 'userName') AS u FROM "{GROUP}".all_log_streams
              WHERE json_get_str(message, 'eventName') = 'ConsoleLogin' AND json_get_int(message, 'status') >= 400"""
    got = run(jconn, sql).column("u").to_pylist()
    assert got == [r["userIdentity"]["userName"] for r in RECORDS
                   if r["eventName"] == "ConsoleLogin" and r["status"] >= 400]
    patterns = [r.get("filterPattern") for r in proxy.requests("FilterLogEvents")]
    assert patterns and all(p == '{ ($.eventName = "ConsoleLogin") && ($.status >= 400) }' for p in patterns), patterns
    plan = "\n".join(run(jconn, f"EXPLAIN {sql}").column("plan").to_pylist())
    assert 'filter_pattern="{ ($.eventName = \\"ConsoleLogin\\") && ($.status >= 400) }"' in plan, plan


def test_predicates_that_cannot_be_patterns_still_answer(jconn):
    # A number compared as text, and `<>`: not pushed, answered by DataFusion.
    n = scalar(jconn, f"""SELECT count(*) FROM "{GROUP}".all_log_streams
                          WHERE (message->>'status') = '200' AND json_get_str(message, 'eventName') <> 'StopLogging'""")
    assert n == sum(1 for r in RECORDS if r["status"] == 200 and r["eventName"] != "StopLogging")


def test_json_fields_discovers_fields_types_and_shares(jconn):
    t = run(jconn, f"SELECT * FROM json_fields('{GROUP}', 100) ORDER BY field")
    rows = {r["field"]: r for r in t.to_pylist()}
    n = len(RECORDS)  # the plain-text message is not JSON and not counted
    assert set(rows) == {"eventName", "userIdentity", "userIdentity.type", "userIdentity.userName", "readOnly", "status"}
    assert rows["eventName"] == {"field": "eventName", "type": "string", "events": n, "share": 1.0,
                                 "example": RECORDS[0]["eventName"], "sql": "json_get_str(message, 'eventName')"}
    assert rows["userIdentity"]["type"] == "object"
    assert rows["userIdentity.type"]["sql"] == "json_get_str(message, 'userIdentity', 'type')"
    assert rows["readOnly"]["type"] == "boolean"
    assert rows["status"]["type"] == "integer"
    # The expression it suggests reads the field.
    got = scalar(jconn, f"""SELECT count(*) FROM "{GROUP}".all_log_streams
                            WHERE {rows['userIdentity.type']['sql']} = 'IAMUser'""")
    assert got == sum(r["userIdentity"]["type"] == "IAMUser" for r in RECORDS)


def test_json_fields_arguments_are_checked(jconn):
    from helpers import expect_error

    expect_error(jconn, f"SELECT * FROM json_fields('{GROUP}', 0)", contains=["sample must be 1 to 10000"])
    expect_error(jconn, "SELECT * FROM json_fields('/json/none')", contains=['"/json/none" not found'])
    expect_error(jconn, f"SELECT * FROM json_fields('{GROUP}', 10, 'nope')", contains=['unknown catalog "nope"'])
