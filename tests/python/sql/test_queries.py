"""SQL results through ADBC Flight SQL, checked against the loaded record."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pyarrow as pa
import pytest

import loader
from helpers import expected_rows, table_rows, connect, ms_list, qi, run, scalar, table, ts_lit
from loader import CASE_GROUP, CLOUDTRAIL_GROUP, LAMBDA_GROUP, QUIET_GROUP

ALL_GROUPS = [LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP, QUIET_GROUP]

# The contract: column names, Arrow types and nullability, in this order.
EXPECTED_SCHEMA = pa.schema(
    [
        pa.field("log_group", pa.utf8(), nullable=False),
        pa.field("log_stream", pa.utf8(), nullable=False),
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("ingestion_time", pa.timestamp("ms", tz="UTC"), nullable=True),
        pa.field("message", pa.utf8(), nullable=False),
    ]
)


# Counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_count_per_group(sql, data, group):
    got = sql(f"SELECT count(*) AS n FROM {table(group)}")
    assert got.column("n").to_pylist() == [data.count(group)]


@pytest.mark.parametrize("group", [LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP])
def test_counts_per_stream_group_by(sql, data, group):
    got = sql(f"SELECT log_stream, count(*) AS n FROM {table(group)} GROUP BY log_stream")
    assert dict(zip(got.column("log_stream").to_pylist(), got.column("n").to_pylist())) == dict(
        data.stream_counts(group)
    )


def test_big_single_stream_table_pages_through_everything(sql, data):
    # More than 10,000 events: one CloudWatch page is not enough.
    expected = data.count(LAMBDA_GROUP, data.big_stream)
    assert expected > 10_000
    assert sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)}").column(0).to_pylist() == [expected]


def test_fully_qualified_name_with_catalog(sql, data):
    t = table(LAMBDA_GROUP, data.big_stream, catalog=True)
    assert sql(f"SELECT count(*) FROM {t}").column(0).to_pylist() == [data.count(LAMBDA_GROUP, data.big_stream)]


@pytest.mark.parametrize("role", ["medium", "small"])
def test_single_stream_counts(sql, data, role):
    stream = data.lambda_streams[role]
    assert sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP, stream)}").column(0).to_pylist() == [
        data.count(LAMBDA_GROUP, stream)
    ]


def test_empty_stream_and_group(sql):
    assert sql(f"SELECT count(*) FROM {table(QUIET_GROUP, loader.QUIET_STREAM)}").column(0).to_pylist() == [0]
    assert sql(f"SELECT * FROM {table(QUIET_GROUP)}").num_rows == 0


# Row contents -------------------------------------------------------------------------


@pytest.mark.parametrize("group", [LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP])
def test_every_row_matches_the_record(sql, data, group):
    """Group, stream, millisecond timestamp and the exact message text (incl. newlines, tabs, UTF-8, JSON)."""
    got = sql(f"SELECT log_group, log_stream, time, message FROM {table(group)}")
    assert Counter(table_rows(got)) == Counter(expected_rows(data, group))


def test_single_stream_rows_match_the_record(sql, data):
    stream = data.lambda_streams["small"]
    got = sql(f"SELECT * FROM {table(LAMBDA_GROUP, stream)}")
    assert Counter(table_rows(got)) == Counter(expected_rows(data, LAMBDA_GROUP, stream))


def test_ingestion_time_is_set_by_the_service(sql, data):
    got = sql(
        "SELECT count(ingestion_time) AS n, min(ingestion_time) AS lo, max(ingestion_time) AS hi "
        f"FROM {table(LAMBDA_GROUP)}"
    )
    assert got.column("n").to_pylist() == [data.count(LAMBDA_GROUP)]
    lo, hi = ms_list(got.column("lo"))[0], ms_list(got.column("hi"))[0]
    # moto stamps ingestion time when PutLogEvents runs; allow clock rounding.
    assert data.load_started_ms - 1000 <= lo <= hi <= data.load_finished_ms + 1000


def test_select_star_limit(sql, data):
    got = sql(f"SELECT * FROM {table(LAMBDA_GROUP)} LIMIT 7")
    assert got.num_rows == 7
    recorded = set(expected_rows(data, LAMBDA_GROUP))
    assert all(row in recorded for row in table_rows(got))


def test_schema_of_every_table_kind(conn, data):
    for ref in [
        table(LAMBDA_GROUP),
        table(LAMBDA_GROUP, data.big_stream),
        table(CLOUDTRAIL_GROUP, loader.CLOUDTRAIL_STREAM, catalog=True),
        table(QUIET_GROUP, loader.QUIET_STREAM),
    ]:
        got = run(conn, f"SELECT * FROM {ref} LIMIT 3").schema
        assert [(f.name, f.type, f.nullable) for f in got] == [
            (f.name, f.type, f.nullable) for f in EXPECTED_SCHEMA
        ], ref


def test_log_group_column_has_the_real_name(sql):
    got = sql(f"SELECT DISTINCT log_group FROM {qi('/APP/casetest')}.all_log_streams")
    assert got.column(0).to_pylist() == [CASE_GROUP]


# Ordering --------------------------------------------------------------------------------


def test_order_by_time_limit_5(sql, data):
    got = sql(f"SELECT log_stream, time, message FROM {table(LAMBDA_GROUP)} ORDER BY time LIMIT 5")
    times = ms_list(got.column("time"))
    assert times == sorted(e.ts for e in data.select(LAMBDA_GROUP))[:5]
    recorded = {(e.stream, e.ts, e.message) for e in data.select(LAMBDA_GROUP)}
    for row in zip(got.column("log_stream").to_pylist(), times, got.column("message").to_pylist()):
        assert row in recorded


def test_full_order_by_time(sql, data):
    got = sql(f"SELECT time, message FROM {table(LAMBDA_GROUP)} ORDER BY time, message")
    expected = sorted((e.ts, e.message) for e in data.select(LAMBDA_GROUP))
    assert list(zip(ms_list(got.column("time")), got.column("message").to_pylist())) == expected


def test_order_by_time_desc_limit_3(sql, data):
    got = sql(f"SELECT time FROM {table(LAMBDA_GROUP, data.big_stream)} ORDER BY time DESC LIMIT 3")
    assert ms_list(got.column("time")) == sorted((e.ts for e in data.select(LAMBDA_GROUP, data.big_stream)), reverse=True)[:3]


def test_order_by_time_across_groups(sql, data):
    got = sql(
        f"SELECT time FROM {table(CASE_GROUP)} UNION ALL SELECT time FROM {table(CLOUDTRAIL_GROUP)} "
        "ORDER BY time LIMIT 10"
    )
    expected = sorted(e.ts for e in data.events if e.group in (CASE_GROUP, CLOUDTRAIL_GROUP))[:10]
    assert ms_list(got.column("time")) == expected


# Time predicates at millisecond boundaries ------------------------------------------------

TIME_OPS = {
    "=": lambda ts, x: ts == x,
    "<=": lambda ts, x: ts <= x,
    "<": lambda ts, x: ts < x,
    ">": lambda ts, x: ts > x,
    ">=": lambda ts, x: ts >= x,
    "<>": lambda ts, x: ts != x,
}


def _scopes(data):
    return {
        "all_log_streams": (table(LAMBDA_GROUP), dict(group=LAMBDA_GROUP)),
        "big_stream": (table(LAMBDA_GROUP, data.big_stream), dict(group=LAMBDA_GROUP, stream=data.big_stream)),
        "small_stream": (
            table(LAMBDA_GROUP, data.lambda_streams["small"]),
            dict(group=LAMBDA_GROUP, stream=data.lambda_streams["small"]),
        ),
    }


def test_shared_timestamp_is_really_shared(data):
    # Guard for the fixture: the boundary tests below rely on these ties.
    assert data.count(LAMBDA_GROUP, where=lambda e: e.ts == data.shared_ts) == 7
    assert data.count(LAMBDA_GROUP, where=lambda e: e.ts == data.shared_ts - 1) >= 2
    assert data.count(LAMBDA_GROUP, where=lambda e: e.ts == data.shared_ts + 1) >= 4


@pytest.mark.parametrize("scope", ["all_log_streams", "big_stream", "small_stream"])
@pytest.mark.parametrize("op", list(TIME_OPS))
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_time_comparison_with_timestamp_literal(sql, data, scope, op, offset):
    ref, sel = _scopes(data)[scope]
    x = data.shared_ts + offset
    got = sql(f"SELECT count(*) FROM {ref} WHERE time {op} {ts_lit(x)}").column(0).to_pylist()
    assert got == [data.count(**sel, where=lambda e: TIME_OPS[op](e.ts, x))], f"time {op} {ts_lit(x)}"


@pytest.mark.parametrize("op", list(TIME_OPS))
def test_time_comparison_literal_on_the_left(sql, data, op):
    x = data.shared_ts
    flipped = {"=": "=", "<=": ">=", "<": ">", ">": "<", ">=": "<=", "<>": "<>"}[op]
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE {ts_lit(x)} {flipped} time").column(0).to_pylist()
    assert got == [data.count(LAMBDA_GROUP, where=lambda e: TIME_OPS[op](e.ts, x))]


@pytest.mark.parametrize("scope", ["all_log_streams", "big_stream"])
def test_time_between_is_inclusive(sql, data, scope):
    ref, sel = _scopes(data)[scope]
    a, b = data.shared_ts, data.shared_ts_2
    got = sql(f"SELECT count(*) FROM {ref} WHERE time BETWEEN {ts_lit(a)} AND {ts_lit(b)}").column(0).to_pylist()
    assert got == [data.count(**sel, where=lambda e: a <= e.ts <= b)]


def test_time_between_single_millisecond(sql, data):
    x = data.shared_ts
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time BETWEEN {ts_lit(x)} AND {ts_lit(x)}")
    assert got.column(0).to_pylist() == [7]


def test_time_half_open_range(sql, data):
    a, b = data.shared_ts, data.shared_ts_2
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time >= {ts_lit(a)} AND time < {ts_lit(b)}")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: a <= e.ts < b)]


def test_time_open_range_both_exclusive(sql, data):
    a, b = data.shared_ts, data.shared_ts_2
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time > {ts_lit(a)} AND time < {ts_lit(b)}")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: a < e.ts < b)]


def test_time_empty_range(sql, data):
    a = data.shared_ts
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time > {ts_lit(a)} AND time < {ts_lit(a + 1)}")
    assert got.column(0).to_pylist() == [0]


def test_time_disjunction_is_not_narrowed(sql, data):
    """An OR of two ranges must not be pushed down as a single range."""
    a, b = data.shared_ts, data.shared_ts_2
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time <= {ts_lit(a)} OR time > {ts_lit(b)}")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: e.ts <= a or e.ts > b)]


def test_time_negated_range(sql, data):
    a = data.shared_ts
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE NOT (time >= {ts_lit(a)})")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: not e.ts >= a)]


def test_time_in_list(sql, data):
    a, b = data.shared_ts, data.shared_ts_2
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time IN ({ts_lit(a)}, {ts_lit(b)})")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: e.ts in (a, b))]


def test_time_with_to_timestamp_millis(sql, data):
    x = data.shared_ts
    got = sql(
        f"SELECT count(*) FROM {table(LAMBDA_GROUP)} "
        f"WHERE time >= to_timestamp_millis({x}) AND time <= to_timestamp_millis({x + 1})"
    )
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: x <= e.ts <= x + 1)]


def test_time_literal_with_utc_offset(sql, data):
    """The same instant written in +02:00 must select the same events."""
    import datetime as dt

    x = data.shared_ts
    local = dt.datetime.fromtimestamp(x / 1000, dt.timezone(dt.timedelta(hours=2)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{x % 1000:03d}+02:00"
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time = TIMESTAMP '{text}'")
    assert got.column(0).to_pylist() == [7]


def test_time_relative_to_now(conn, data):
    before = int(time.time() * 1000)
    got = scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time >= now() - INTERVAL '1 hour'")
    after = int(time.time() * 1000)
    # now() is taken somewhere between `before` and `after`.
    most = data.count(LAMBDA_GROUP, where=lambda e: e.ts >= before - 3_600_000)
    least = data.count(LAMBDA_GROUP, where=lambda e: e.ts >= after - 3_600_000)
    assert least <= got <= most
    assert got > 0


def test_time_filter_with_stream_filter(sql, data):
    a, b = data.shared_ts, data.shared_ts_2
    medium = data.lambda_streams["medium"]
    got = sql(
        f"SELECT count(*) FROM {table(LAMBDA_GROUP)} "
        f"WHERE log_stream = '{medium}' AND time BETWEEN {ts_lit(a)} AND {ts_lit(b + 1)}"
    )
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, medium, where=lambda e: a <= e.ts <= b + 1)]


def test_time_group_by_minute(sql, data):
    got = sql(
        f"SELECT date_trunc('minute', time) AS m, count(*) AS n FROM {table(CASE_GROUP)} GROUP BY 1"
    )
    expected = Counter(e.ts // 60_000 * 60_000 for e in data.select(CASE_GROUP))
    assert dict(zip(ms_list(got.column("m")), got.column("n").to_pylist())) == dict(expected)


# Stream and message predicates ---------------------------------------------------------------


def test_log_stream_filters(sql, data):
    small, medium = data.lambda_streams["small"], data.lambda_streams["medium"]
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream IN ('{small}', '{medium}')")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, small) + data.count(LAMBDA_GROUP, medium)]
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream <> '{small}'")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP) - data.count(LAMBDA_GROUP, small)]
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream IN ('{small}', 'no-such-stream')")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, small)]


@pytest.mark.parametrize(
    "group, value",
    [
        (LAMBDA_GROUP, "no-such-stream"),
        (CASE_GROUP, "WORKER"),  # differs from real streams only by case
        (CASE_GROUP, "Worker "),
    ],
)
def test_where_log_stream_matching_no_stream_is_empty(sql, group, value):
    """A WHERE predicate on the log_stream column is a filter, not a table name: no match means no rows."""
    got = sql(f"SELECT count(*) FROM {table(group)} WHERE log_stream = '{value}'")
    assert got.column(0).to_pylist() == [0]
    got = sql(f"SELECT * FROM {table(group)} WHERE log_stream = '{value}'")
    assert got.num_rows == 0


def test_log_stream_prefix_like(sql, data):
    prefix = data.big_stream[:10]  # e.g. "2026/11/25"
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream LIKE '{prefix}%'")
    assert got.column(0).to_pylist() == [data.count(LAMBDA_GROUP, where=lambda e: e.stream.startswith(prefix))]
    got = sql(f"SELECT count(*) FROM {table(CASE_GROUP)} WHERE log_stream LIKE 'W%'")
    assert got.column(0).to_pylist() == [data.count(CASE_GROUP, "Worker")]


def test_log_group_filters(sql, data):
    got = sql(f"SELECT count(*) FROM {table(CASE_GROUP)} WHERE log_group = '{CASE_GROUP}'")
    assert got.column(0).to_pylist() == [data.count(CASE_GROUP)]
    got = sql(f"SELECT count(*) FROM {table(CASE_GROUP)} WHERE log_group = '{LAMBDA_GROUP}'")
    assert got.column(0).to_pylist() == [0]
    got = sql(f"SELECT count(*) FROM {table(CASE_GROUP)} WHERE log_group = '/app/casetest'")
    assert got.column(0).to_pylist() == [0]


def test_limit_with_filter_returns_only_matchingtable_rows(sql, data):
    x = data.shared_ts
    got = sql(f"SELECT time, log_stream FROM {table(LAMBDA_GROUP)} WHERE time >= {ts_lit(x)} AND time <= {ts_lit(x + 1)} LIMIT 5")
    assert got.num_rows == 5
    assert all(x <= t <= x + 1 for t in ms_list(got.column("time")))
    small = data.lambda_streams["small"]
    got = sql(f"SELECT log_stream FROM {table(LAMBDA_GROUP)} WHERE log_stream = '{small}' LIMIT 100")
    assert got.column(0).to_pylist() == [small] * min(100, data.count(LAMBDA_GROUP, small))


def test_limit_larger_than_table(sql, data):
    got = sql(f"SELECT * FROM {table(CASE_GROUP, 'OnlyUpper')} LIMIT 1000")
    assert got.num_rows == data.count(CASE_GROUP, "OnlyUpper")


def test_offset_and_limit(sql, data):
    got = sql(f"SELECT time FROM {table(LAMBDA_GROUP, data.big_stream)} ORDER BY time LIMIT 4 OFFSET 10000")
    assert ms_list(got.column("time")) == sorted(e.ts for e in data.select(LAMBDA_GROUP, data.big_stream))[10000:10004]


def test_log_stream_equality_is_case_sensitive_in_where(sql, data):
    # Case-insensitive matching applies to table names, not to string comparison.
    got = sql(f"SELECT count(*) FROM {table(CASE_GROUP)} WHERE log_stream = 'worker'")
    assert got.column(0).to_pylist() == [data.count(CASE_GROUP, loader.CASE_STREAM_LOWER)]


@pytest.mark.parametrize(
    "pattern, predicate",
    [
        ("%ERROR%", lambda m: "ERROR" in m),
        ("%error%", lambda m: "error" in m),
        ("INFO%", lambda m: m.startswith("INFO")),
        ("%PaymentDeclined", lambda m: m.endswith("PaymentDeclined")),
        ("%trace=T%", lambda m: "trace=T" in m),
    ],
    ids=["ERROR", "error-lowercase", "INFO-prefix", "suffix", "trace"],
)
@pytest.mark.parametrize("group", [LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP])
def test_message_like(sql, data, group, pattern, predicate):
    got = sql(f"SELECT count(*) FROM {table(group)} WHERE message LIKE '{pattern}'")
    assert got.column(0).to_pylist() == [data.count(group, where=lambda e: predicate(e.message))]


def test_message_like_combined_with_time(sql, data):
    a = data.shared_ts
    got = sql(
        f"SELECT count(*) FROM {table(LAMBDA_GROUP, data.big_stream)} "
        f"WHERE message LIKE '%ERROR%' AND time < {ts_lit(a)}"
    )
    expected = data.count(LAMBDA_GROUP, data.big_stream, where=lambda e: "ERROR" in e.message and e.ts < a)
    assert got.column(0).to_pylist() == [expected]


def test_json_message_field(sql, data):
    got = sql(f"""SELECT count(*) FROM {table(CLOUDTRAIL_GROUP)} WHERE message LIKE '%"eventName":"RunInstances"%'""")
    assert got.column(0).to_pylist() == [
        data.count(CLOUDTRAIL_GROUP, where=lambda e: '"eventName":"RunInstances"' in e.message)
    ]


def test_multiline_messages_survive(sql, data):
    got = sql(f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE strpos(message, chr(10)) > 0")
    expected = data.count(LAMBDA_GROUP, where=lambda e: "\n" in e.message)
    assert expected > 0
    assert got.column(0).to_pylist() == [expected]


# Joins ---------------------------------------------------------------------------------------


def test_join_two_groups_on_planted_token(sql, data):
    lambda_tokens = Counter(
        e.message.split("trace=", 1)[1] for e in data.select(LAMBDA_GROUP) if "trace=T" in e.message
    )
    trail_tokens: Counter = Counter()
    for e in data.select(CLOUDTRAIL_GROUP):
        if '"traceId":"' in e.message:
            trail_tokens[e.message.split('"traceId":"', 1)[1].split('"', 1)[0]] += 1
    expected_pairs = sum(n * trail_tokens[tok] for tok, n in lambda_tokens.items())
    expected_tokens = len(set(lambda_tokens) & set(trail_tokens))
    assert expected_pairs > 0

    got = sql(
        f"""
        SELECT count(*) AS pairs, count(DISTINCT a.tok) AS tokens
        FROM (SELECT split_part(message, 'trace=', 2) AS tok
              FROM {table(LAMBDA_GROUP)} WHERE message LIKE '%trace=T%') a
        JOIN (SELECT split_part(split_part(message, '"traceId":"', 2), '"', 1) AS tok
              FROM {table(CLOUDTRAIL_GROUP)} WHERE message LIKE '%"traceId":"%') b
          ON a.tok = b.tok
        """
    )
    assert got.column("pairs").to_pylist() == [expected_pairs]
    assert got.column("tokens").to_pylist() == [expected_tokens]


def test_join_two_groups_on_minute(sql, data):
    case_minutes = Counter(e.ts // 60_000 for e in data.select(CASE_GROUP))
    trail_minutes = Counter(e.ts // 60_000 for e in data.select(CLOUDTRAIL_GROUP))
    expected = sum(n * trail_minutes[m] for m, n in case_minutes.items())
    got = sql(
        f"SELECT count(*) FROM {table(CASE_GROUP)} a JOIN {table(CLOUDTRAIL_GROUP)} b "
        "ON date_trunc('minute', a.time) = date_trunc('minute', b.time)"
    )
    assert got.column(0).to_pylist() == [expected]


def test_self_join_on_exact_timestamp(sql, data):
    """Pairs of distinct streams of the lambda group that logged in the very same millisecond."""
    by_ts: dict[int, Counter] = {}
    for e in data.select(LAMBDA_GROUP):
        by_ts.setdefault(e.ts, Counter())[e.stream] += 1
    expected = 0
    for streams in by_ts.values():
        total = sum(streams.values())
        expected += sum(n * (total - n) for n in streams.values())
    got = sql(
        f"SELECT count(*) FROM {table(LAMBDA_GROUP)} a JOIN {table(LAMBDA_GROUP)} b "
        "ON a.time = b.time AND a.log_stream <> b.log_stream"
    )
    assert got.column(0).to_pylist() == [expected]


# Prepared statements with parameters ------------------------------------------------------------


@pytest.mark.parametrize("role", ["big", "small"])
def test_prepared_statement_dollar_placeholder(conn, data, role):
    stream = data.lambda_streams[role]
    got = scalar(
        conn,
        f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream = $1",
        parameters=(stream,),
    )
    assert got == data.count(LAMBDA_GROUP, stream)


def test_prepared_statement_question_mark_placeholder(conn, data):
    stream = data.lambda_streams["medium"]
    got = scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream = ?", parameters=(stream,))
    assert got == data.count(LAMBDA_GROUP, stream)


def test_prepared_statement_two_parameters(conn, data):
    stream, x = data.big_stream, data.shared_ts
    got = scalar(
        conn,
        f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream = $1 AND time <= to_timestamp_millis($2)",
        parameters=(stream, x),
    )
    assert got == data.count(LAMBDA_GROUP, stream, where=lambda e: e.ts <= x)


def test_prepared_statement_reexecuted_with_new_values(conn, data):
    query = f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE log_stream = $1"
    with conn.cursor() as cur:
        for stream in data.lambda_streams.values():
            cur.execute(query, parameters=(stream,))
            assert cur.fetch_arrow_table().column(0).to_pylist() == [data.count(LAMBDA_GROUP, stream)]


def test_prepared_statement_timestamp_parameter(conn, data):
    import datetime as dt

    x = data.shared_ts
    value = dt.datetime.fromtimestamp(x / 1000, dt.timezone.utc)
    got = scalar(conn, f"SELECT count(*) FROM {table(LAMBDA_GROUP)} WHERE time = $1", parameters=(value,))
    assert got == 7


# Concurrency ------------------------------------------------------------------------------------


def test_concurrent_queries(server, data):
    queries = {
        f"SELECT count(*) FROM {table(group)}": data.count(group)
        for group in (LAMBDA_GROUP, CLOUDTRAIL_GROUP, CASE_GROUP)
    }
    results: list = []
    errors: list = []

    def worker(text, expected):
        try:
            with connect(server.uri) as c:
                results.append((scalar(c, text), expected))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=item) for item in list(queries.items()) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == len(threads)
    assert all(got == expected for got, expected in results), results
