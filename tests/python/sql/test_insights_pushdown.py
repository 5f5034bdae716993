"""SQL aggregations pushed into Logs Insights, proven exact by difference: the same
generated aggregations run on two catalogs over the same demo data, one with
`insights_pushdown = "exact"` (the default) and one with it off, through the real server
and ADBC, and every answer (rows and Arrow schema) must be identical.

The demo source answers the pushed Logs Insights text with logflight's own evaluator
(connector/src/insights_pushdown/eval.rs); the fakecloud tier (tests/fakecloud/) checks
that evaluator against another implementation of Logs Insights.
"""

from __future__ import annotations

import ast
import json
import random
import re
import time

import pyarrow as pa
import pytest

from helpers import connect, run, ts_lit
from servers import running, start_serve

GROUPS = ["/aws/lambda/orders-api", "/ecs/Payments-Service", "/var/log/secure", "/aws/cloudtrail/management"]
# Fixed for the whole module so both catalogs are asked the very same question; the
# milliseconds make the range's ends fall inside seconds (the edges read by a scan).
NOW_MS = int(time.time() * 1000) // 1000 * 1000 + 437


@pytest.fixture(scope="module")
def pushdown_server(workdir):
    config = workdir / "insights-pushdown.toml"
    config.write_text(
        """
[[catalogs]]
name = "pushed"
source = "demo"
insights_pushdown = "exact"

[[catalogs]]
name = "scanned"
source = "demo"
insights_pushdown = "off"
"""
    )
    audit = workdir / "audit-insights-pushdown.jsonl"
    with running(start_serve(workdir / "logflight-insights-pushdown.log", "--config", str(config),
                             "--audit-log", str(audit))) as srv:
        yield srv


@pytest.fixture(scope="module")
def pconn(pushdown_server):
    with connect(pushdown_server.uri) as c:
        yield c


def tbl(catalog: str, group: str, stream: str = "all_log_streams") -> str:
    return f'"{catalog}"."{group}"."{stream}"'


def plan_text(conn, sql: str) -> str:
    t = run(conn, "EXPLAIN " + sql)
    return "\n".join(t.column("plan").to_pylist())


def sorted_rows(t: pa.Table) -> list[tuple]:
    return sorted(tuple(r.values()) for r in t.to_pylist())


def render(template: str, catalog: str) -> str:
    """`{t('/group')}` or `{t('/group', 'stream')}` in a template -> that catalog's table."""
    return re.sub(r"\{t\((.*?)\)\}", lambda m: tbl(catalog, *ast.literal_eval(f"({m.group(1)},)")), template)


def both(conn, template: str) -> tuple[pa.Table, pa.Table]:
    return run(conn, render(template, "pushed")), run(conn, render(template, "scanned"))


def streams_of(conn, group: str) -> list[str]:
    t = run(conn, f"SELECT DISTINCT log_stream FROM {tbl('scanned', group)} ORDER BY 1")
    return t.column(0).to_pylist()


def generate(rng: random.Random, conn, count: int) -> list[tuple[str, str]]:
    """(template, group) of aggregations in the pushable subset (see render)."""
    streams = {g: streams_of(conn, g) for g in GROUPS}
    keys = [
        ("log_stream", "log_stream"),
        ("date_trunc('hour', time)", "hour"),
        ("date_trunc('minute', time)", "minute"),
        ("date_trunc('day', time)", "day"),
        ("date_bin(INTERVAL '15 minutes', time)", "q"),
        ("date_bin(INTERVAL '90 seconds', time, TIMESTAMP '2001-01-01 00:00:00')", "b90"),
        ("log_group", "grp"),
    ]
    terms = ["ERROR", "error", "Failed", "REPORT", "Accepted", "sshd", "GET", "eventName", " ", "a_c", "[", "/", "."]
    queries = []
    for _ in range(count):
        group = rng.choice(GROUPS)
        chosen = rng.sample(keys, rng.randint(0, 3))
        where = []
        if rng.random() < 0.8:
            start = NOW_MS - rng.randint(1, 30 * 3600) * 1000 - rng.randint(0, 999)
            where.append(f"time >= {ts_lit(start)}")
        if rng.random() < 0.5:
            end = NOW_MS - rng.randint(0, 10 * 3600) * 1000 - rng.choice([0, 1, 999, rng.randint(0, 999)])
            where.append(f"time {rng.choice(['<', '<='])} {ts_lit(end)}")
        if rng.random() < 0.3 and streams[group]:
            s = rng.choice(streams[group])
            # A prefix with no wildcard in it (`_` is one): pushed as a stream prefix.
            prefix = s[:rng.randint(1, len(s))].split("_")[0] or s[0]
            where.append(rng.choice([f"log_stream = '{s}'", f"log_stream LIKE '{prefix}%'",
                                     f"log_stream IN ('{s}', 'no-such-stream')"]))
        if rng.random() < 0.5:
            term = rng.choice(terms)
            form = rng.choice(["%{}%", "{}%", "%{}%{}%"])
            pattern = form.format(term, rng.choice(terms)) if form.count("{}") == 2 else form.format(term)
            where.append(f"message {rng.choice(['LIKE', 'NOT LIKE'])} '{pattern}'")
        aggs = rng.choice([["count(*) AS n"], ["count(message) AS m"], ["count(*) AS n", "count(log_stream) AS s"]])
        select = [f"{k} AS {alias}" for k, alias in chosen] + aggs
        sql = f"SELECT {', '.join(select)} FROM {{t({group!r})}}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if chosen:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(chosen)))
        queries.append((sql, group))
    return queries


def test_generated_aggregations_answer_the_same_pushed_or_scanned(pconn):
    rng = random.Random(16)
    queries = generate(rng, pconn, 60)
    pushed = 0
    nonempty = 0
    for template, _group in queries:
        on, off = both(pconn, template)
        sql = render(template, "pushed")
        assert on.schema == off.schema, sql
        assert sorted_rows(on) == sorted_rows(off), sql
        pushed += "InsightsAggregate" in plan_text(pconn, sql)
        nonempty += any(v for r in on.to_pylist() for v in r.values() if isinstance(v, int) and v > 0)
    # Every generated query is in the pushable subset, and most count something.
    assert pushed == len(queries)
    assert nonempty > len(queries) // 2


def test_the_plan_shows_the_insights_query(pconn):
    sql = (f"SELECT date_trunc('hour', time) AS h, count(*) AS n FROM {tbl('pushed', '/aws/lambda/orders-api')} "
           f"WHERE time >= {ts_lit(NOW_MS - 6 * 3_600_000)} AND message LIKE '%ERROR%' GROUP BY 1")
    plan = plan_text(pconn, sql)
    assert 'query="filter @message like /ERROR/ | stats count(*) as c0 by bin(1h)"' in plan, plan
    # The range starts 437 ms into a second: those milliseconds are read, not guessed.
    assert "edges read by scan=" in plan, plan
    analyzed = "\n".join(run(pconn, "EXPLAIN ANALYZE " + sql).column("plan").to_pylist())
    assert "insights_queries=1" in analyzed, analyzed


@pytest.mark.parametrize(
    "select, reason",
    [
        ("count(DISTINCT log_stream)", "approximate in Insights"),
        ("sum(length(message))", "not an exact Insights aggregate"),
        ("count(*) FILTER (WHERE message LIKE '%a%')", "filtered aggregate"),
    ],
)
def test_what_insights_would_answer_differently_is_scanned(pconn, select, reason):
    template = f"SELECT log_stream, {select} AS v FROM {{t('/var/log/secure')}} GROUP BY 1"
    sql = render(template, "pushed")
    assert "InsightsAggregate" not in plan_text(pconn, sql), reason
    on, off = both(pconn, template)
    assert sorted_rows(on) == sorted_rows(off)


@pytest.mark.parametrize(
    "where",
    [
        "message ILIKE '%error%'",
        "message LIKE '%sshd'",
        "message LIKE 'a\\%b%'",
        "length(message) > 100",
        "json_get_str(message, 'eventName') = 'ConsoleLogin'",
    ],
)
def test_conditions_insights_cannot_match_exactly_keep_the_scan(pconn, where):
    template = f"SELECT count(*) AS n FROM {{t('/aws/cloudtrail/management')}} WHERE {where}"
    sql = render(template, "pushed")
    assert "InsightsAggregate" not in plan_text(pconn, sql)
    on, off = both(pconn, template)
    assert on.to_pylist() == off.to_pylist()


def test_week_buckets_and_empty_ranges(pconn):
    # Weeks start on Monday in SQL, on no weekday in an epoch-aligned bin: not pushed.
    sql = f"SELECT date_trunc('week', time) AS w, count(*) AS n FROM {tbl('pushed', '/var/log/secure')} GROUP BY 1"
    assert "InsightsAggregate" not in plan_text(pconn, sql)
    # Nothing in range: one row of 0 without GROUP BY, no rows with it, as SQL says.
    future = f"time >= {ts_lit(NOW_MS + 10 * 86_400_000)}"
    on, off = both(pconn, f"SELECT count(*) AS n FROM {{t('/var/log/secure')}} WHERE {future}")
    assert on.to_pylist() == off.to_pylist() == [{"n": 0}]
    on, off = both(pconn, f"SELECT log_stream, count(*) AS n FROM {{t('/var/log/secure')}} WHERE {future} GROUP BY 1")
    assert on.num_rows == off.num_rows == 0


def test_a_stream_table_is_pushed_with_its_stream(pconn):
    stream = streams_of(pconn, "/ecs/Payments-Service")[0]
    template = f"SELECT date_trunc('hour', time) AS h, count(*) AS n FROM {{t('/ecs/Payments-Service', {stream!r})}} GROUP BY 1"
    sql = render(template, "pushed")
    plan = plan_text(pconn, sql)
    assert f'filter @logStream = \\"{stream}\\"' in plan or f'filter @logStream = "{stream}"' in plan, plan
    on, off = both(pconn, template)
    assert sorted_rows(on) == sorted_rows(off) and on.num_rows > 0


@pytest.mark.parametrize(
    "template",
    [
        # An alias, a CTE, HAVING / ORDER BY / LIMIT above, a UNION of two groups, a join
        # of two pushed aggregations: the aggregation itself is pushed in each.
        "SELECT x.log_stream, count(*) AS n FROM {t('/var/log/secure')} AS x GROUP BY x.log_stream",
        "WITH c AS (SELECT date_trunc('hour', time) AS h, count(*) AS n FROM {t('/var/log/secure')} GROUP BY 1) "
        "SELECT h, n FROM c WHERE n > 5 ORDER BY n DESC, h LIMIT 3",
        "SELECT log_stream, count(*) AS n FROM {t('/aws/lambda/orders-api')} GROUP BY log_stream "
        "HAVING count(*) > 10 ORDER BY n DESC",
        "SELECT 'a' AS g, count(*) AS n FROM {t('/var/log/secure')} UNION ALL "
        "SELECT 'b', count(*) FROM {t('/ecs/Payments-Service')} WHERE message LIKE '%ERROR%'",
        "SELECT a.h, a.n AS secure, b.n AS payments FROM "
        "(SELECT date_trunc('hour', time) AS h, count(*) AS n FROM {t('/var/log/secure')} GROUP BY 1) a JOIN "
        "(SELECT date_trunc('hour', time) AS h, count(*) AS n FROM {t('/ecs/Payments-Service')} GROUP BY 1) b ON a.h = b.h",
    ],
    ids=["alias", "cte-having-limit", "having", "union", "join"],
)
def test_pushed_inside_larger_statements(pconn, template):
    sql = render(template, "pushed")
    assert "InsightsAggregate" in plan_text(pconn, sql)
    on, off = both(pconn, template)
    assert on.schema == off.schema
    if "ORDER BY" in template:
        assert on.to_pylist() == off.to_pylist()
    else:
        assert sorted_rows(on) == sorted_rows(off)
    assert on.num_rows > 0


def test_parameters_bind_before_the_pushdown(pconn):
    sql = (f"SELECT log_stream, count(*) AS n FROM {tbl('pushed', '/var/log/secure')} "
           "WHERE time >= $1 AND message LIKE $2 GROUP BY 1")
    since = pa.scalar(NOW_MS - 5 * 3_600_000, type=pa.timestamp("ms", tz="UTC"))
    with pconn.cursor() as cur:
        cur.execute(sql, parameters=(since, "%sshd%"))
        on = cur.fetch_arrow_table()
    with pconn.cursor() as cur:
        cur.execute(sql.replace('"pushed"', '"scanned"'), parameters=(since, "%sshd%"))
        off = cur.fetch_arrow_table()
    assert sorted_rows(on) == sorted_rows(off) and on.num_rows > 0


def test_the_audit_log_records_what_the_insights_query_cost(pconn, workdir):
    marker = "audit_of_a_pushed_aggregation"
    run(pconn, f"SELECT log_stream, count(*) AS {marker} FROM {tbl('pushed', '/var/log/secure')} GROUP BY 1")
    lines = [json.loads(line) for line in (workdir / "audit-insights-pushdown.jsonl").read_text().splitlines()]
    doget = [line for line in lines if marker in (line.get("sql") or "") and line["rpc"] == "DoGet"]
    assert doget, lines[-3:]
    line = doget[-1]
    assert line["insights_queries"] == 1, line
    # The demo's Insights reports what it scanned, as CloudWatch does.
    assert line["insights_records_scanned"] > 0 and line["insights_bytes_scanned"] > 0, line


def test_the_last_second_is_settled_by_a_probe_when_it_holds_events(pconn):
    """A range ending inside a second that holds events after its first millisecond: the
    range-end rule decides whether the core took them in, so a one-second probe query runs
    (two Insights queries in all) and the answer still equals the scan's."""
    t = run(pconn, f"SELECT max(time) AS t FROM {tbl('scanned', '/var/log/secure')} "
                   "WHERE date_part('millisecond', time) % 1000 <> 0").column("t")[0].as_py()
    end = ts_lit(int(t.timestamp() * 1000))
    template = f"SELECT log_stream, count(*) AS n FROM {{t('/var/log/secure')}} WHERE time <= {end} GROUP BY 1"
    on, off = both(pconn, template)
    assert sorted_rows(on) == sorted_rows(off)
    analyzed = "\n".join(run(pconn, "EXPLAIN ANALYZE " + render(template, "pushed")).column("plan").to_pylist())
    assert "last second read by scan=" in analyzed and "insights_queries=2" in analyzed, analyzed


def test_buckets_in_another_time_zone_keep_the_scan(pconn):
    # date_trunc in Asia/Kolkata (UTC+5:30) is not Insights' UTC bin(1h).
    template = ("SELECT date_trunc('hour', time AT TIME ZONE 'Asia/Kolkata') AS h, count(*) AS n "
                "FROM {t('/var/log/secure')} GROUP BY 1")
    assert "InsightsAggregate" not in plan_text(pconn, render(template, "pushed"))
    on, off = both(pconn, template)
    assert sorted_rows(on) == sorted_rows(off)


def test_a_source_without_insights_scans(workdir):
    # The synthetic source has no Logs Insights: its aggregations are scanned, not failed.
    with running(start_serve(workdir / "logflight-synthetic-agg.log", "--source", "synthetic",
                             "--synthetic-events", "5000", "--insights-pushdown", "exact")) as srv:
        with connect(srv.uri) as conn:
            sql = 'SELECT log_stream, count(*) AS n FROM "/synthetic/app".all_log_streams GROUP BY 1'
            assert "InsightsAggregate" not in plan_text(conn, sql)
            assert sum(n for _, n in sorted_rows(run(conn, sql))) == 5000
