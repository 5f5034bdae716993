"""Every feature over archived data: grants by name and by the tags a group had when it was
archived (also for a group since deleted from CloudWatch), joins between archive and live,
the audit log, and the same answers over live-only, archive-only and mixed time ranges.
Expected answers come from what the test loaded, or from a server reading CloudWatch alone."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
from adbc_driver_flightsql import dbapi as flightsql
from adbc_driver_manager import Error as AdbcError

from helpers import connect, qi, run, scalar, ts_lit
from loader import create_group, logs_client
from servers import child_env, exe, hash_password, pacing_args, running, start_logflight

DAY_MS = 86_400_000
NOW = int(time.time() * 1000)
PAYMENTS = "/arc/Payments-API"  # tagged team=payments
ORDERS = "/arc/orders/Web"  # untagged: granted by name
GONE = "/arc/Gone$Group"  # tagged team=payments, deleted from CloudWatch after archiving
DAYS_AGO = [0.2, 1.5, 3.5, 5.5, 8.5]
PER_DAY = 60
PASSWORDS = {"alice": "alice-arch-pass", "bob": "bob-arch-pass"}


def events(group: str, stream: str) -> list[tuple[int, str]]:
    out = []
    for d in DAYS_AGO:
        base = NOW - int(d * DAY_MS)
        for i in range(PER_DAY):
            level = "ERROR" if i % 5 == 0 else "INFO"
            out.append((base - i * 997, json.dumps({"g": group, "s": stream, "i": i, "level": level})))
    return sorted(out)  # PutLogEvents takes a call's events in time order


@pytest.fixture(scope="module")
def env(own_moto, workdir):
    client = logs_client(own_moto)
    loaded: dict[str, list[tuple[str, int, str]]] = {}
    for group, tags in [(PAYMENTS, {"team": "payments"}), (ORDERS, None), (GONE, {"team": "payments"})]:
        streams = {s: events(group, s) for s in ("2026/11/24/[$LATEST]ab12", "Worker")}
        # One day of retention: days ended more than a day (and an hour) ago are final.
        create_group(client, group, streams, tags=tags, retention_days=1)
        loaded[group] = [(s, ts, m) for s, evs in streams.items() for ts, m in evs]
    root = str(workdir / f"archive-features-{uuid.uuid4().hex[:6]}")
    done = subprocess.run(
        [exe(), "archive", "--source", "cloudwatch", "--endpoint-url", own_moto, "--region", "us-east-1",
         "--archive-root", root, "--groups", "/arc/*", *pacing_args()],
        capture_output=True, text=True, timeout=300, env=child_env())
    assert done.returncode == 0, done.stdout + done.stderr
    client.delete_log_group(logGroupName=GONE)
    audit = workdir / f"audit-archive-{uuid.uuid4().hex[:6]}.jsonl"
    users = "".join(f'[[users]]\nname = "{u}"\npassword_hash = "{hash_password(p)}"\n\n'
                    for u, p in PASSWORDS.items())
    config = workdir / f"archive-features-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(f'''audit_log = "{audit}"
archive_root = "{root}"

{users}
[[grants]]
users = ["alice"]
tags = {{ team = "payments" }}

[[grants]]
users = ["bob"]
log_groups = ["/arc/orders/*"]
''')

    def ready(srv) -> bool:
        with login(srv.uri, "alice") as conn:
            return scalar(conn, "SELECT 1") == 1

    with running(start_logflight(own_moto, workdir / "logflight-archive-features.log", *pacing_args(),
                                 "--config", str(config), ready=ready)) as archived, \
         running(start_logflight(own_moto, workdir / "logflight-archive-features-live.log",
                                 *pacing_args())) as live:
        yield {"archived": archived, "live": live, "loaded": loaded, "audit": audit, "root": root}


def login(uri: str, user: str):
    return flightsql.connect(uri, db_kwargs={"username": user, "password": PASSWORDS[user]})


def test_grants_apply_to_archived_groups_by_name_and_by_remembered_tags(env):
    uri = env["archived"].uri
    archive_tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'logflight$archive'"
    with login(uri, "alice") as alice, login(uri, "bob") as bob:
        # The deleted group is still searchable, by whoever its tags (as archived) grant.
        assert sorted(run(alice, archive_tables).column(0).to_pylist()) == sorted([PAYMENTS, GONE])
        assert run(bob, archive_tables).column(0).to_pylist() == [ORDERS]
        n = scalar(alice, f'SELECT count(*) FROM "logflight$archive".{qi(GONE)}')
        assert n == len(env["loaded"][GONE])
        assert scalar(bob, f'SELECT count(*) FROM "logflight$archive".{qi(ORDERS)}') == len(env["loaded"][ORDERS])
        for conn, hidden in [(alice, ORDERS), (bob, PAYMENTS), (bob, GONE)]:
            for table in (f'"logflight$archive".{qi(hidden)}', f"{qi(hidden)}.all_log_streams"):
                with pytest.raises(AdbcError) as err:
                    run(conn, f"SELECT count(*) FROM {table}")
                assert "not found" in str(err.value).lower() or "no such" in str(err.value).lower(), err.value


def test_joins_and_json_functions_over_archive_and_live(env):
    with login(env["archived"].uri, "alice") as alice:
        # Each archived event of the final days joins exactly one event of the live table.
        cutoff = ts_lit(NOW - 3 * DAY_MS)
        joined = scalar(alice, f"""
            SELECT count(*) FROM {qi(PAYMENTS)}.all_log_streams l
            JOIN "logflight$archive".{qi(PAYMENTS)} a
              ON l.log_stream = a.log_stream AND l.time = a.time AND l.message = a.message
            WHERE l.time < {cutoff}""")
        want = sum(1 for _, ts, _ in env["loaded"][PAYMENTS] if ts < NOW - 3 * DAY_MS)
        assert joined == want > 0
        errors = run(alice, f"""
            SELECT json_get_str(message, 's') AS s, count(*) AS n FROM "logflight$archive".{qi(GONE)}
            WHERE json_get_str(message, 'level') = 'ERROR' GROUP BY s ORDER BY s""")
        expect: dict[str, int] = {}
        for stream, _, message in env["loaded"][GONE]:
            if json.loads(message)["level"] == "ERROR":
                expect[stream] = expect.get(stream, 0) + 1
        assert dict(zip(errors.column("s").to_pylist(), errors.column("n").to_pylist())) == expect


RANGES = {
    "archive only": lambda t: f"time < {ts_lit(NOW - 3 * DAY_MS)}",
    "live only": lambda t: f"time >= {ts_lit(NOW - DAY_MS // 2)}",
    "across the seam": lambda t: f"time >= {ts_lit(NOW - 4 * DAY_MS)} AND time < {ts_lit(NOW - DAY_MS // 3)}",
    "everything": lambda t: "true",
}
SHAPES = [
    "SELECT log_stream, time, message FROM {t} WHERE {w} ORDER BY time, log_stream, message",
    "SELECT log_stream, count(*) AS n, min(time) AS a, max(time) AS b FROM {t} WHERE {w} GROUP BY log_stream ORDER BY log_stream",
    "SELECT count(*) AS n FROM {t} WHERE {w} AND message LIKE '%ERROR%'",
    "SELECT time, message FROM {t} WHERE {w} ORDER BY time DESC, message LIMIT 7",
]


def test_live_only_archive_only_and_mixed_ranges_answer_alike(env):
    with login(env["archived"].uri, "alice") as archived, connect(env["live"].uri) as live:
        t = f"{qi(PAYMENTS)}.all_log_streams"
        for name, where in RANGES.items():
            for shape in SHAPES:
                sql = shape.format(t=t, w=where(t))
                want = run(live, sql)
                assert want.num_rows > 0, (name, sql)
                assert run(archived, sql).equals(want), (name, sql)
        # The archive alone answers its final days as the live table does.
        old = RANGES["archive only"]("")
        for shape in SHAPES:
            want = run(live, shape.format(t=t, w=old))
            got = run(archived, shape.format(t=f'"logflight$archive".{qi(PAYMENTS)}', w=old))
            assert got.equals(want), shape


def test_the_audit_log_records_archive_queries(env):
    marker = uuid.uuid4().hex[:8]
    sql = f"SELECT count(*) AS n, '{marker}' AS m FROM \"logflight$archive\".{qi(GONE)}"
    with login(env["archived"].uri, "alice") as alice:
        assert run(alice, sql).column("n").to_pylist() == [len(env["loaded"][GONE])]
    with login(env["archived"].uri, "bob") as bob:
        with pytest.raises(AdbcError):
            run(bob, sql)
    lines = [json.loads(line) for line in env["audit"].read_text().splitlines()]
    done = [l for l in lines if l.get("sql") == sql and l["event"] == "query" and l["rpc"] == "DoGet"]
    assert len(done) == 1, lines[-5:]
    assert done[0]["principal"] == "alice" and done[0]["outcome"] == "ok" and done[0]["rows"] == 1, done[0]
    refused = [l for l in lines if l.get("sql") == sql and l["principal"] == "bob"]
    assert refused and all(l["outcome"] == "failed" for l in refused), refused
