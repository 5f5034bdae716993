"""`cloudtrail_events`, the typed table of CloudTrail log groups, through the real server
and ADBC, against CloudTrail records of many event types (cloudtrail_records.py) whose
typed rows are computed in Python.

Three servers over one moto of this module's own, all with the same config (a
[[typed_tables]] rule for /security/trail and two [[catalogs]] over the same moto):
pushdown on (behind a recording proxy, so the pushed CloudWatch requests can be
checked), `--pushdown false` (differential answers), and
`--cloudtrail-delivery-delay-secs 60` (the stated bound of the widened range).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa
import re

import pytest


def stable_id(where: str) -> str:
    """A test id without the literal times (computed from now), so every pytest worker collects the same ids."""
    return re.sub(r"'\d{4}-\d\d-\d\d[ T][0-9:.]+Z?'", "'<time>'", where)

import cloudtrail_records as ct
from cloudtrail_records import (BROKEN_GROUP, BROKEN_LINE, BROKEN_STREAM, CONFIGURED_GROUP, CONSOLE_GROUP,
                                EU_STREAM, ORG_GROUP, PLAIN_GROUP, TRAIL_GROUPS, US_STREAM)
from fixtures import connection
from helpers import expect_error, qi, run
from jsonpattern import matches
from loader import logs_client
from servers import logflight_behind_proxy, running, start_logflight

CONFIG = f"""
[[typed_tables]]
log_groups = ["{CONFIGURED_GROUP}"]
format = "cloudtrail"

[[catalogs]]
name = "ct"

[[catalogs]]
name = "mirror"
"""


@pytest.fixture(scope="module")
def loaded(own_moto, workdir):
    ct.load(logs_client(own_moto))
    path = workdir / "typed-cloudtrail.toml"
    path.write_text(CONFIG)
    return own_moto, path


@pytest.fixture(scope="module")
def on(loaded, workdir):
    endpoint, config = loaded
    with logflight_behind_proxy(endpoint, workdir / "logflight-typed-on.log", 31, "--config", str(config)) as pair:
        yield pair


@pytest.fixture(scope="module")
def off(loaded, workdir):
    endpoint, config = loaded
    with running(start_logflight(endpoint, workdir / "logflight-typed-off.log", "--config", str(config),
                                 "--pushdown", "false")) as srv:
        yield srv


@pytest.fixture(scope="module")
def tight(loaded, workdir):
    endpoint, config = loaded
    with running(start_logflight(endpoint, workdir / "logflight-typed-tight.log", "--config", str(config),
                                 "--cloudtrail-delivery-delay-secs", "60")) as srv:
        yield srv


conn = connection("on", scope="module")
off_conn = connection("off", scope="module")
tight_conn = connection("tight", scope="module")


def ct_table(group: str, catalog: str | None = None) -> str:
    return (f"{catalog}." if catalog else "") + f"{qi(group)}.cloudtrail_events"


def lit(ms: int) -> str:
    """A string literal for eventtime, as Lake users write it."""
    return "'" + ct.iso(ms) + "'"


def expected_rows(group: str | None = None) -> dict[str, dict]:
    return {e.eventid: ct.expected_row(e) for e in ct.trail(group)}


# Whole table ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", TRAIL_GROUPS)
def test_every_column_of_every_record(conn, group):
    t = run(conn, f"SELECT * FROM {ct_table(group)}")
    assert t.column_names == ct.COLUMN_NAMES
    got = {r["eventid"]: {k: ct.normalise(v) for k, v in r.items()} for r in t.to_pylist()}
    want = expected_rows(group)
    assert sorted(got) == sorted(want)
    for eventid, row in want.items():
        for col in ct.COLUMN_NAMES:
            assert got[eventid][col] == row[col], (eventid, col, row["eventjson"])


def test_arrow_types_of_the_schema(conn):
    schema = run(conn, f"SELECT * FROM {ct_table(CONSOLE_GROUP)} LIMIT 1").schema
    ts_utc = pa.timestamp("ms", tz="UTC")
    assert schema.field("eventtime").type == ts_utc
    assert pa.types.is_timestamp(schema.field("time").type)
    for col in ("eventversion", "eventname", "errorcode", "eventid", "eventjson", "log_group", "log_stream",
                "apiversion", "annotation"):
        assert pa.types.is_string(schema.field(col).type) or pa.types.is_large_string(schema.field(col).type) \
            or schema.field(col).type == pa.string_view(), (col, schema.field(col).type)
    for col in ("readonly", "managementevent"):
        assert schema.field(col).type == pa.bool_(), col
    for col in ("requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails", "addendum",
                "edgedevicedetails"):
        typ = schema.field(col).type
        assert pa.types.is_map(typ), (col, typ)
        assert pa.types.is_string(typ.key_type) and pa.types.is_string(typ.item_type), (col, typ)
    ui = schema.field("useridentity").type
    assert pa.types.is_struct(ui)
    sc = ui.field("sessioncontext").type
    assert [f.name for f in sc] == ["attributes", "sessionissuer", "webidfederationdata", "sourceidentity",
                                   "ec2roledelivery", "ec2issuedinvpc"]
    assert sc.field("attributes").type.field("creationdate").type == ts_utc
    assert pa.types.is_map(sc.field("webidfederationdata").type.field("attributes").type)
    assert [f.name for f in ui.field("onbehalfof").type] == ["userid", "identitystorearn"]
    assert [f.name for f in ui.field("inscopeof").type] == ["sourcearn", "sourceaccount", "issuertype",
                                                           "credentialsissuedto"]
    res = schema.field("resources").type
    assert pa.types.is_list(res) and [f.name for f in res.value_type] == ["accountid", "type", "arn", "arnprefix"]
    assert [f.name for f in schema.field("tlsdetails").type] == ["tlsversion", "ciphersuite",
                                                                 "clientprovidedhostheader"]


def test_eventtime_is_the_records_time_not_cloudwatchs(conn):
    t = run(conn, f"SELECT eventid, eventtime, time FROM {ct_table(CONSOLE_GROUP)}")
    by_id = {r["eventid"]: r for r in t.to_pylist()}
    for e in ct.trail(CONSOLE_GROUP):
        r = by_id[e.eventid]
        assert ct.normalise(r["eventtime"]) == dt.datetime.fromtimestamp(e.event_ms / 1000, dt.timezone.utc)
        assert ct.normalise(r["time"]) == dt.datetime.fromtimestamp(e.ts / 1000, dt.timezone.utc)
    late = by_id[ct.LATE.eventid]
    assert ct.normalise(late["time"]) - ct.normalise(late["eventtime"]) == dt.timedelta(hours=5)


# Nested access -------------------------------------------------------------------------


def test_dotted_struct_access_at_depth(conn):
    t = run(conn, f"""SELECT eventid,
                             useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
                             useridentity.sessioncontext.attributes.mfaauthenticated AS mfa,
                             useridentity.sessioncontext.attributes.creationdate AS created,
                             useridentity.sessioncontext.webidfederationdata.federatedprovider AS idp,
                             useridentity.onbehalfof.userid AS on_behalf,
                             useridentity.inscopeof.issuertype AS issuer_type,
                             tlsdetails.tlsversion AS tls,
                             resources[1]['arn'] AS first_arn,
                             resources[2]['arnprefix'] AS second_prefix
                      FROM {ct_table(CONSOLE_GROUP)}""")
    got = {r.pop("eventid"): {k: ct.normalise(v) for k, v in r.items()} for r in t.to_pylist()}

    def path(rec, *keys):
        for k in keys:
            if isinstance(rec, list):
                rec = rec[k] if len(rec) > k else None
            elif isinstance(rec, dict):
                rec = rec.get(k)
            else:
                return None
        return rec

    for e in ct.trail(CONSOLE_GROUP):
        r = e.record
        created = path(r, "userIdentity", "sessionContext", "attributes", "creationDate")
        want = {
            "issuer_arn": path(r, "userIdentity", "sessionContext", "sessionIssuer", "arn"),
            "mfa": path(r, "userIdentity", "sessionContext", "attributes", "mfaAuthenticated"),
            "created": created and dt.datetime.fromtimestamp(ct.parse_time(created) / 1000, dt.timezone.utc),
            "idp": path(r, "userIdentity", "sessionContext", "webIdFederationData", "federatedProvider"),
            "on_behalf": path(r, "userIdentity", "onBehalfOf", "userId"),
            "issuer_type": path(r, "userIdentity", "inScopeOf", "issuerType"),
            "tls": path(r, "tlsDetails", "tlsVersion"),
            "first_arn": path(r, "resources", 0, "ARN"),
            "second_prefix": path(r, "resources", 1, "ARNPrefix"),
        }
        assert got[e.eventid] == want, e.message
    # The data has every kind of nesting somewhere, so the checks are not vacuous.
    for col in ("issuer_arn", "mfa", "idp", "on_behalf", "issuer_type", "tls", "first_arn", "second_prefix"):
        assert any(v[col] is not None for v in got.values()), col


def test_unaliased_struct_fields_and_map_values_are_named_as_trino_names_them(conn):
    # Lake (Trino) names `useridentity.arn` `arn`; DataFusion would name it after the path.
    t = run(conn, f"""SELECT useridentity.sessioncontext.sessionissuer.username, requestparameters['roleName'],
                             tlsdetails.tlsversion, useridentity.arn, useridentity.sessioncontext.sessionissuer.arn
                      FROM {ct_table(CONSOLE_GROUP)} ORDER BY 1 LIMIT 1""")
    names = t.schema.names
    assert names[:3] == ["username", "roleName", "tlsversion"], names
    # Two paths ending in `arn`: neither is renamed, so the two stay apart.
    assert names[3] != names[4] and all("[" in n for n in names[3:]), names


def test_map_values_by_subscript_and_element_at(conn):
    t = run(conn, f"""SELECT eventid,
                             requestparameters['bucketName'] AS bucket,
                             element_at(requestparameters, 'key') AS key,
                             requestparameters['instancesSet'] AS instances,
                             additionaleventdata['MFAUsed'] AS mfa_used,
                             requestparameters['clientToken'] AS token
                      FROM {ct_table(CONSOLE_GROUP)}""")
    got = {r.pop("eventid"): r for r in t.to_pylist()}

    def value(v):  # element_at may give a one-item list (map_extract) or the value
        return v[0] if isinstance(v, list) and len(v) == 1 else (None if v == [] else v)

    for e in ct.trail(CONSOLE_GROUP):
        rp = e.record.get("requestParameters") or {}
        ad = e.record.get("additionalEventData") or {}
        g = got[e.eventid]
        assert value(g["bucket"]) == rp.get("bucketName"), e.message
        assert ct.normalise_map_value(value(g["key"])) == ct.normalise_map_value(ct.text(rp.get("key"))), e.message
        assert ct.normalise_map_value(value(g["instances"])) == ct.normalise_map_value(ct.text(rp.get("instancesSet")))
        assert value(g["mfa_used"]) == ad.get("MFAUsed")
        assert value(g["token"]) is None
    assert any(value(g["bucket"]) for g in got.values())


def test_element_at_on_a_map_is_the_value_as_in_lake(conn):
    """Lake's (Trino's) element_at(map, key) is the key's value, and cloudtrail.rs says
    Lake's `element_at(...) = / LIKE` idioms keep working. In DataFusion element_at on a
    map is map_extract, a one-item list, so the comparison does not plan (logflight bug,
    reported; this test fails until element_at answers the value)."""
    want = sorted(e.eventid for e in ct.trail(CONSOLE_GROUP)
                  if (e.record.get("requestParameters") or {}).get("bucketName") == "payroll")
    for where in ("element_at(requestparameters, 'bucketName') = 'payroll'",
                  "element_at(requestparameters, 'bucketName') LIKE 'pay%'"):
        t = run(conn, f"SELECT eventid FROM {ct_table(CONSOLE_GROUP)} WHERE {where}")
        assert sorted(t.column("eventid").to_pylist()) == want, where
    assert want


def test_counts_by_eventname_and_identity_type(conn):
    t = run(conn, f"""SELECT eventname, useridentity.type AS who, count(*) AS n
                      FROM {ct_table(CONSOLE_GROUP)} GROUP BY 1, 2""")
    got = {(r["eventname"], r["who"]): r["n"] for r in t.to_pylist()}
    want = Counter((e.record["eventName"], e.record.get("userIdentity", {}).get("type"))
                   for e in ct.trail(CONSOLE_GROUP))
    assert got == dict(want)
    n = run(conn, f"""SELECT count(*) AS n FROM {ct_table(ORG_GROUP)}
                      WHERE useridentity.type = 'AssumedRole'""").column("n")[0].as_py()
    assert n == sum(e.record.get("userIdentity", {}).get("type") == "AssumedRole" for e in ct.trail(ORG_GROUP))


# Several groups and catalogs ---------------------------------------------------------------


def test_join_of_two_trail_groups_on_access_key(conn):
    t = run(conn, f"""SELECT a.eventid AS a_id, b.eventid AS b_id
                      FROM {ct_table(CONSOLE_GROUP)} a JOIN {ct_table(ORG_GROUP)} b
                      ON a.useridentity.accesskeyid = b.useridentity.accesskeyid""")
    got = sorted(zip(t.column("a_id").to_pylist(), t.column("b_id").to_pylist()))

    def key(e):
        return (e.record.get("userIdentity") or {}).get("accessKeyId")

    want = sorted((a.eventid, b.eventid) for a in ct.trail(CONSOLE_GROUP) for b in ct.trail(ORG_GROUP)
                  if key(a) is not None and key(a) == key(b))
    assert got == want and want


def test_union_all_across_groups_and_catalogs(conn):
    t = run(conn, f"""SELECT 'ct' AS c, log_group, eventid FROM ct.{ct_table(CONSOLE_GROUP)}
                      UNION ALL SELECT 'ct', log_group, eventid FROM ct.{ct_table(CONFIGURED_GROUP)}
                      UNION ALL SELECT 'mirror', log_group, eventid FROM mirror.{ct_table(ORG_GROUP)}
                      UNION ALL SELECT 'mirror', log_group, eventid FROM mirror.{ct_table(CONFIGURED_GROUP)}""")
    got = sorted(zip(*(t.column(i).to_pylist() for i in range(3))))
    want = sorted([("ct", e.group, e.eventid) for e in ct.trail(CONSOLE_GROUP) + ct.trail(CONFIGURED_GROUP)]
                  + [("mirror", e.group, e.eventid) for e in ct.trail(ORG_GROUP) + ct.trail(CONFIGURED_GROUP)])
    assert got == want


# Which groups have the table ---------------------------------------------------------------


def test_information_schema_lists_cloudtrail_events_for_detected_groups_only(conn):
    t = run(conn, """SELECT table_schema, table_name FROM information_schema.tables
                     WHERE table_catalog = 'ct' AND table_name = 'cloudtrail_events'""")
    schemas = set(t.column("table_schema").to_pylist())
    assert schemas == {CONSOLE_GROUP, ORG_GROUP, CONFIGURED_GROUP, BROKEN_GROUP}


def test_typed_table_of_an_undetected_group_is_a_clear_error(conn):
    expect_error(conn, f"SELECT * FROM {ct_table(PLAIN_GROUP)}",
                 contains=[PLAIN_GROUP, "no cloudtrail_events table", "[[typed_tables]]"])


def test_a_line_that_is_not_a_record_fails_the_query_naming_stream_and_time(conn):
    broken = next(e for e in ct.EVENTS if e.message == BROKEN_LINE)
    err = expect_error(conn, f"SELECT eventname FROM {ct_table(BROKEN_GROUP)}",
                       contains=[BROKEN_STREAM, BROKEN_GROUP, "not a record", ct.iso(broken.ts)[:19]])
    # gRPC FAILED_PRECONDITION (the ADBC driver reports an error in DoGet's stream as
    # UNKNOWN, with the gRPC code in its message).
    assert "FailedPrecondition" in str(err), str(err)
    # all_log_streams still reads the line.
    n = run(conn, f"SELECT count(*) AS n FROM {qi(BROKEN_GROUP)}.all_log_streams").column("n")[0].as_py()
    assert n == 2


# Differential: pushdown on and off ---------------------------------------------------------

LATE_MS = ct.LATE.event_ms
EARLY_MS = ct.EARLY.event_ms
RECENT_MS = ct.NOW_MS - 2 * ct.HOUR_MS


def _t(row, col):
    return row[col]


def _ui(row, *keys):
    v = row["useridentity"]
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def _rp(row, key):
    m = row["requestparameters"]
    return m.get(key) if m else None


def _et(row):
    return ct.parse_time(ct.EVENTS_BY_ID[row["eventid"]].record["eventTime"])


QUESTIONS = [
    ("eventname = 'ConsoleLogin'", lambda r: r["eventname"] == "ConsoleLogin"),
    ("eventname IN ('GetObject', 'PutObject', 'Invoke')", lambda r: r["eventname"] in ("GetObject", "PutObject", "Invoke")),
    ("useridentity.type = 'AssumedRole'", lambda r: _ui(r, "type") == "AssumedRole"),
    ("useridentity.sessioncontext.sessionissuer.username = 'Admin'",
     lambda r: _ui(r, "sessioncontext", "sessionissuer", "username") == "Admin"),
    ("useridentity.sessioncontext.attributes.mfaauthenticated = 'true'",
     lambda r: _ui(r, "sessioncontext", "attributes", "mfaauthenticated") == "true"),
    ("errorcode IS NULL", lambda r: r["errorcode"] is None),
    ("errorcode = 'AccessDenied'", lambda r: r["errorcode"] == "AccessDenied"),
    ("readonly = true", lambda r: r["readonly"] is True),
    ("readonly = false", lambda r: r["readonly"] is False),
    ("NOT readonly", lambda r: r["readonly"] is False),
    ("readonly IS TRUE", lambda r: r["readonly"] is True),
    ("managementevent = false", lambda r: r["managementevent"] is False),
    ("requestparameters['bucketName'] = 'payroll'", lambda r: _rp(r, "bucketName") == "payroll"),
    (f"eventtime > {lit(RECENT_MS)}", lambda r: _et(r) > RECENT_MS),
    (f"eventtime BETWEEN {lit(LATE_MS - 60_000)} AND {lit(LATE_MS + 60_000)}",
     lambda r: LATE_MS - 60_000 <= _et(r) <= LATE_MS + 60_000),
    (f"eventtime >= {lit(EARLY_MS - 30_000)} AND eventtime < {lit(EARLY_MS + 30_000)}",
     lambda r: EARLY_MS - 30_000 <= _et(r) < EARLY_MS + 30_000),
    ("eventname = 'ConsoleLogin' OR useridentity.type = 'Root'",
     lambda r: r["eventname"] == "ConsoleLogin" or _ui(r, "type") == "Root"),
    ("errorcode = 'AccessDenied' OR readonly", lambda r: r["errorcode"] == "AccessDenied" or r["readonly"] is True),
    (f"log_stream = '{EU_STREAM}' AND readonly", lambda r: r["log_stream"] == EU_STREAM and r["readonly"] is True),
    (f"log_stream = '{US_STREAM}' AND eventname = 'DescribeInstances'",
     lambda r: r["log_stream"] == US_STREAM and r["eventname"] == "DescribeInstances"),
    (f"errorcode = 'AccessDenied' AND eventtime > {lit(RECENT_MS)}",
     lambda r: r["errorcode"] == "AccessDenied" and _et(r) > RECENT_MS),
    ("eventsource = 's3.amazonaws.com' AND (readonly OR errorcode IS NOT NULL)",
     lambda r: r["eventsource"] == "s3.amazonaws.com" and (r["readonly"] is True or r["errorcode"] is not None)),
    ("apiversion = '20141112'", lambda r: r["apiversion"] == "20141112"),
    ("sharedeventid = 'true'", lambda r: r["sharedeventid"] == "true"),
    ("useridentity.sessioncontext.ec2roledelivery = 'v2'",
     lambda r: _ui(r, "sessioncontext", "ec2roledelivery") == "v2"),
    ("useridentity.invokedby = 'cloudtrail.amazonaws.com'", lambda r: _ui(r, "invokedby") == "cloudtrail.amazonaws.com"),
]


def question_sql(where: str) -> str:
    return " UNION ALL ".join(f"SELECT eventid, log_group FROM {ct_table(g)} WHERE {where}" for g in TRAIL_GROUPS)


def answer(conn, where: str) -> list[tuple]:
    t = run(conn, question_sql(where))
    return sorted(zip(t.column("eventid").to_pylist(), t.column("log_group").to_pylist()))


def expected_answer(pred) -> list[tuple]:
    return sorted((e.eventid, e.group) for e in ct.trail() if pred(ct.expected_row(e)))


def covered(e: ct.Event, requests: list[dict]) -> list[dict]:
    """The recorded read requests that would return `e` from real CloudWatch."""
    out = []
    for q in requests:
        if q.get("logGroupName") != e.group:
            continue
        names = q.get("logStreamNames") or ([q["logStreamName"]] if "logStreamName" in q else None)
        if names is not None and e.stream not in names:
            continue
        if "logStreamNamePrefix" in q and not e.stream.startswith(q["logStreamNamePrefix"]):
            continue
        if "startTime" in q and e.ts < q["startTime"]:
            continue
        if "endTime" in q and e.ts > q["endTime"]:
            continue
        if q.get("filterPattern") and not matches(q["filterPattern"], e.message):
            continue
        out.append(q)
    return out


@pytest.mark.parametrize("where,pred", QUESTIONS, ids=[stable_id(q) for q, _ in QUESTIONS])
def test_pushdown_on_and_off_answer_alike(on, conn, off_conn, where, pred):
    _, proxy = on
    want = expected_answer(pred)
    proxy.reset_stats()
    got_on = answer(conn, where)
    requests = proxy.requests("FilterLogEvents", "GetLogEvents")
    got_off = answer(off_conn, where)
    assert got_on == got_off
    assert got_on == want
    # The CloudWatch requests themselves would have returned every answer event (real
    # CloudWatch applies the JSON pattern; moto ignores it, so the answer alone cannot tell).
    by_id = ct.EVENTS_BY_ID
    missed = [(i, [q.get("filterPattern") for q in requests if q.get("logGroupName") == g])
              for i, g in want if not covered(by_id[i], requests)]
    assert not missed, missed


@pytest.mark.parametrize("where,pattern", [
    ("eventname = 'ConsoleLogin'", '$.eventName = \\"ConsoleLogin\\"'),
    ("errorcode = 'AccessDenied'", '$.errorCode = \\"AccessDenied\\"'),
    ("useridentity.sessioncontext.sessionissuer.username = 'Admin'",
     '$.userIdentity.sessionContext.sessionIssuer.userName = \\"Admin\\"'),
    ("readonly = false", "$.readOnly IS FALSE"),
    ("requestparameters['bucketName'] = 'payroll'", '$.requestParameters.bucketName = \\"payroll\\"'),
])
def test_explain_shows_the_pushed_pattern(conn, where, pattern):
    plan = "\n".join(run(conn, f"EXPLAIN SELECT eventid FROM {ct_table(CONSOLE_GROUP)} WHERE {where}")
                     .column("plan").to_pylist())
    scan = [line for line in plan.splitlines() if "LogScan" in line]
    decode = [line for line in plan.splitlines() if "TypedDecode" in line]
    assert scan and "filter_pattern=" in scan[0] and pattern in scan[0], plan
    assert decode and "pushed=[" in decode[0], plan


def test_eventtime_range_widens_cloudwatchs_range_by_the_delivery_bounds(conn):
    plan = "\n".join(run(conn, f"""EXPLAIN SELECT eventid FROM {ct_table(CONSOLE_GROUP)}
                                   WHERE eventtime BETWEEN {lit(LATE_MS - 60_000)} AND {lit(LATE_MS + 60_000)}""")
                     .column("plan").to_pylist())
    assert "record time" in plan, plan


def test_late_delivery_within_the_default_bound_is_found(conn):
    where = f"eventtime BETWEEN {lit(LATE_MS - 60_000)} AND {lit(LATE_MS + 60_000)}"
    assert answer(conn, where) == [(ct.LATE.eventid, CONSOLE_GROUP)]
    where = f"eventtime >= {lit(EARLY_MS - 30_000)} AND eventtime < {lit(EARLY_MS + 30_000)}"
    assert answer(conn, where) == [(ct.EARLY.eventid, CONSOLE_GROUP)]


def test_late_delivery_beyond_a_60s_bound_is_outside_the_range(tight_conn):
    """The stated bound: with --cloudtrail-delivery-delay-secs 60 CloudWatch is read up
    to 60 s after the eventtime range, so a record delivered 5 hours late is not read.
    Documented behaviour, not a bug: the operator sets the bound."""
    where = f"eventtime BETWEEN {lit(LATE_MS - 60_000)} AND {lit(LATE_MS + 60_000)}"
    assert answer(tight_conn, where) == []
    # The same server still finds the record when the range is on CloudWatch's time.
    t = run(tight_conn, f"""SELECT eventid FROM {ct_table(CONSOLE_GROUP)}
                            WHERE time >= TIMESTAMP '{ct.iso(ct.LATE.ts - 1000)}'
                              AND time <= TIMESTAMP '{ct.iso(ct.LATE.ts + 1000)}'
                              AND eventname = 'LateDelivered'""")
    assert t.column("eventid").to_pylist() == [ct.LATE.eventid]
