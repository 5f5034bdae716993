"""The `logflight$meta` schema: log_groups and log_streams, through the real server
and ADBC, against moto (through the counting proxy, to check what is pushed down).

Expected values come from what this module creates, not from logflight.
"""

from __future__ import annotations

import time


from fixtures import connection, server_behind_proxy
from helpers import expect_error, run, scalar
from loader import create_group, put_events

META = "logflight$meta"
NOW_MS = int(time.time() * 1000)
# name -> (retention days or None, kms key or None, tags, streams)
GROUPS = {
    "/meta/audit/trail": (2192, "arn:aws:kms:us-east-1:123456789012:key/k-audit", {"team": "security", "compliance": "pci"}, ["a", "b"]),
    "/meta/app/Orders": (30, None, {"team": "orders"}, ["web-1", "web-2", "worker"]),
    "/meta/app/orders-dlq": (None, None, {}, []),
    "/other/thing": (7, None, {"team": "misc"}, ["x"]),
}
# One event per stream of /meta/app/Orders, so last_event_time is known.
EVENT_MS = NOW_MS - 3_600_000


def load_groups(client) -> None:
    for name, (retention, kms, tags, streams) in GROUPS.items():
        create_group(client, name, streams, tags=tags, kms_key_id=kms, retention_days=retention)
    for i, s in enumerate(GROUPS["/meta/app/Orders"][3]):
        put_events(client, "/meta/app/Orders", s, [(EVENT_MS + i, "x")])


meta_server = server_behind_proxy("meta", seed=5, load=load_groups)
mconn = connection("meta_server")


def test_log_groups_reports_every_setting(mconn):
    t = run(mconn, f"""SELECT log_group, arn, retention_in_days, kms_key_id, log_group_class,
                              creation_time, tags
                       FROM {META}.log_groups ORDER BY log_group""")
    rows = t.to_pylist()
    assert [r["log_group"] for r in rows] == sorted(GROUPS)
    for r in rows:
        retention, kms, tags, _ = GROUPS[r["log_group"]]
        assert r["retention_in_days"] == retention, r  # NULL: never expires
        assert r["kms_key_id"] == kms, r
        assert dict(r["tags"]) == tags, r
        assert r["arn"].startswith("arn:aws:logs:us-east-1:123456789012:log-group:" + r["log_group"])
        assert r["log_group_class"] == "STANDARD"
        assert abs(r["creation_time"].timestamp() * 1000 - NOW_MS) < 600_000


def test_audit_queries_on_retention_and_tags(mconn):
    short = run(mconn, f"""SELECT log_group FROM {META}.log_groups
                           WHERE retention_in_days IS NULL OR retention_in_days < 6 * 365
                           ORDER BY log_group""").column("log_group").to_pylist()
    assert short == sorted(n for n, (r, *_rest) in GROUPS.items() if r is None or r < 6 * 365)
    teams = run(mconn, f"""SELECT log_group, tags['team'] AS team FROM {META}.log_groups
                           WHERE tags['team'] = 'orders'""").to_pylist()
    assert teams == [{"log_group": "/meta/app/Orders", "team": "orders"}]


def test_log_streams_and_their_times(mconn):
    t = run(mconn, f"""SELECT log_group, log_stream, last_event_time FROM {META}.log_streams
                       WHERE log_group LIKE '/meta/%' ORDER BY log_group, log_stream""")
    want = [(g, s) for g in sorted(GROUPS) if g.startswith("/meta/") for s in sorted(GROUPS[g][3])]
    assert list(zip(t.column("log_group").to_pylist(), t.column("log_stream").to_pylist())) == want
    times = {(r["log_group"], r["log_stream"]): r["last_event_time"] for r in t.to_pylist()}
    for i, s in enumerate(GROUPS["/meta/app/Orders"][3]):
        assert int(times[("/meta/app/Orders", s)].timestamp() * 1000) == EVENT_MS + i


def test_name_predicates_are_pushed_into_the_listings(meta_server, mconn):
    _, proxy = meta_server
    proxy.reset_stats()
    n = scalar(mconn, f"SELECT count(*) FROM {META}.log_streams WHERE log_group = '/meta/app/Orders' AND log_stream LIKE 'web%'")
    assert n == 2
    groups = proxy.requests("DescribeLogGroups")
    assert groups and all(r.get("logGroupNamePrefix") == "/meta/app/Orders" for r in groups), groups
    streams = proxy.requests("DescribeLogStreams")
    assert streams and all(
        r.get("logGroupName") == "/meta/app/Orders" and r.get("logStreamNamePrefix") == "web" for r in streams
    ), streams

    proxy.reset_stats()
    names = run(mconn, f"SELECT log_group FROM {META}.log_groups WHERE log_group LIKE '/meta/app/%' ORDER BY 1")
    assert names.column("log_group").to_pylist() == ["/meta/app/Orders", "/meta/app/orders-dlq"]
    assert [r.get("logGroupNamePrefix") for r in proxy.requests("DescribeLogGroups")] == ["/meta/app/"]
    # Tags cost one call per group: only when the column is asked for.
    assert proxy.requests("ListTagsForResource") == []
    proxy.reset_stats()
    scalar(mconn, f"SELECT count(*) FROM {META}.log_groups WHERE log_group LIKE '/meta/app/%' AND cardinality(map_keys(tags)) >= 0")
    assert len(proxy.requests("ListTagsForResource")) == 2


def test_listed_in_catalog_metadata_and_information_schema(meta_server, mconn):
    tables = run(mconn, f"""SELECT table_name FROM information_schema.tables
                            WHERE table_schema = '{META}' ORDER BY 1""").column("table_name").to_pylist()
    assert tables == ["log_groups", "log_streams"]
    objects = mconn.adbc_get_objects(depth="tables", db_schema_filter=META).read_all().to_pylist()
    got = sorted(t["table_name"] for c in objects for s in c["catalog_db_schemas"] or [] for t in s["db_schema_tables"] or [])
    assert got == ["log_groups", "log_streams"]
    expect_error(mconn, f"SELECT * FROM {META}.log_group", contains=["log_groups, log_streams"])
    # Quoted and upper-cased spellings name the same schema.
    assert scalar(mconn, f'SELECT count(*) FROM "{META.upper()}".LOG_GROUPS WHERE log_group = \'/other/thing\'') == 1
