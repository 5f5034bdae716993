"""Authentication, authorization by tags and names, and the audit log, end to end:
moto with tagged log groups behind the recording proxy, the real `logflight serve`
with users, a static token and grants in its config file, and real clients (ADBC,
pyarrow.flight).

Expected visibility is computed here from the groups' tags and the grants below,
not read back from logflight.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from helpers import expect_error, qi, run, scalar
from loader import create_group, logs_client
from servers import hash_password, logflight_behind_proxy, new_token, running, start_logflight

Status = adbc_driver_manager.AdbcStatusCode
NOW_MS = int(time.time() * 1000)
META = "logflight$meta"

# group -> (tags, streams); every stream gets EVENTS events.
GROUPS = {
    "/sec/payments/api": ({"team": "payments"}, ["a", "b"]),
    "/sec/payments/Worker": ({"team": "payments", "tier": "batch"}, ["w"]),
    "/sec/orders/api": ({"team": "orders"}, ["o"]),
    "/sec/vault/Secrets": ({"team": "security"}, ["v"]),
    "/sec/public/status": ({}, ["s"]),
}
EVENTS = 7

PASSWORDS = {"alice": "alice-pass", "bob": "b0b:with:colons", "audra": "audit-all"}
ROLES = {"alice": ["payments"], "bob": [], "audra": ["auditor"]}
# A distinctive AWS secret: it must never show in a log, a message or the audit log.
AWS_SECRET = "aws-secret-" + uuid.uuid4().hex


def visible(principal: str) -> set[str]:
    """The groups the grants in CONFIG give each principal."""
    out = set()
    for name, (tags, _) in GROUPS.items():
        if principal == "alice" and tags.get("team") == "payments":
            out.add(name)
        if principal == "bob" and name.startswith("/sec/orders/"):
            out.add(name)
        if principal == "audra":
            out.add(name)
        if principal == "dashboard" and name.startswith("/sec/public/"):
            out.add(name)
    return out


GRANTS = """
[[grants]]
roles = ["payments"]
tags = { team = "payments" }

[[grants]]
users = ["bob"]
log_groups = ["/sec/orders/*"]

[[grants]]
roles = ["auditor"]
log_groups = ["*"]

[[grants]]
users = ["dashboard"]
catalogs = ["cloudwatch"]
log_groups = ["/sec/public/*"]
"""


def login(uri: str, user: str, password: str, **kwargs):
    return flightsql.connect(uri, db_kwargs={"username": user, "password": password, **kwargs})


@pytest.fixture(scope="module")
def setup(own_moto, workdir):
    client = logs_client(own_moto)
    for name, (tags, streams) in GROUPS.items():
        events = [(NOW_MS - 60_000 + i, f'{{"n": {i}, "group": "{name}"}}') for i in range(EVENTS)]
        create_group(client, name, {s: events for s in streams}, tags=tags)
    token, digest = new_token()
    users = "".join(
        f'[[users]]\nname = "{u}"\npassword_hash = "{hash_password(p)}"\nroles = {json.dumps(ROLES[u])}\n\n'
        for u, p in PASSWORDS.items()
    )
    config = workdir / "security.toml"
    audit = workdir / "audit.jsonl"
    config.write_text(
        f'audit_log = "{audit}"\n\n{users}[[tokens]]\nname = "dashboard"\ntoken_sha256 = "{digest}"\n{GRANTS}'
    )
    return {"moto": own_moto, "config": config, "audit": audit, "token": token}


def authed_ready(user: str, password: str, scheme_kwargs=None):
    def ready(srv) -> bool:
        with login(srv.uri, user, password, **(scheme_kwargs or {})) as conn:
            return scalar(conn, "SELECT 1") == 1

    return ready


@pytest.fixture(scope="module")
def secured(setup, workdir):
    """(server, proxy) with authentication and grants on."""
    with logflight_behind_proxy(
        setup["moto"], workdir / "logflight-security.log", 11,
        "--config", str(setup["config"]),
        ready=authed_ready("audra", PASSWORDS["audra"]),
        env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET},
    ) as pair:
        yield pair


@pytest.fixture
def srv(secured):
    return secured[0]


@pytest.fixture
def proxy(secured):
    return secured[1]


# Authentication ---------------------------------------------------------------------


def test_every_rpc_needs_a_token(srv):
    client = flight.FlightClient(srv.uri)
    sql = flight.FlightDescriptor.for_command(b"SELECT 1")
    calls = {
        "ListActions": lambda o: list(client.list_actions(o)),
        "ListFlights": lambda o: list(client.list_flights(options=o)),
        "DoGet": lambda o: client.do_get(flight.Ticket(b"SELECT 1"), o).read_all(),
        "GetFlightInfo": lambda o: client.get_flight_info(sql, o),
        "GetSchema": lambda o: client.get_schema(sql, o),
        "DoAction": lambda o: list(client.do_action(flight.Action("CreatePreparedStatement", b""), o)),
        "DoPut": lambda o: client.do_put(sql, pa.schema([("x", pa.int64())]), o)[0].close(),
    }
    headers = {
        "none": [],
        "forged bearer": [(b"authorization", b"Bearer forged")],
        "forged signed": [(b"authorization", b"Bearer lf1.eyJzdWIiOiJhdWRyYSIsImV4cCI6OTk5OTk5OTk5OTl9.AAAA")],
        # Basic credentials on any RPC are checked like a Handshake's: a wrong password fails.
        "wrong basic": [(b"authorization", b"Basic " + base64.b64encode(b"audra:not-her-password"))],
    }
    for rpc, call in calls.items():
        for what, h in headers.items():
            # pyarrow raises FlightUnauthenticatedError, or for GetSchema a plain
            # OSError that quotes the code.
            with pytest.raises((flight.FlightUnauthenticatedError, OSError)) as info:
                call(flight.FlightCallOptions(headers=h))
            text = str(info.value)
            assert isinstance(info.value, flight.FlightUnauthenticatedError) or "unauthenticated error" in text, f"{rpc} with {what}: {text}"
            assert any(w in text.lower() for w in ("authenticate", "token", "bearer", "wrong username or password")), \
                f"{rpc} with {what}: {text}"
    client.close()
    # ADBC without credentials fails on its first call, with UNAUTHENTICATED.
    with pytest.raises(adbc_driver_manager.Error) as info:
        with flightsql.connect(srv.uri) as conn:
            scalar(conn, "SELECT 1")
    assert info.value.status_code == Status.UNAUTHENTICATED, info.value


def basic_header(user: str, password: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode()))]


def test_basic_credentials_on_every_call_without_a_handshake(srv, setup):
    """Clients that never Handshake (some npm clients, Arrow Java's header middleware) send
    Basic credentials on every RPC: each call is answered as that user, with that user's grants;
    Argon2 runs once (one `login` audit line), not per call; a wrong password and an unknown user
    are refused alike, each with a `denied` line."""
    before = len(audit_lines(setup))
    client = flight.FlightClient(srv.uri)
    bob = flight.FlightCallOptions(headers=basic_header("bob", PASSWORDS["bob"]))
    orders = b'SELECT count(*) AS n FROM "/sec/orders/api".all_log_streams'
    for _ in range(5):
        assert client.do_get(flight.Ticket(orders), bob).read_all().column(0).to_pylist() == [EVENTS]
    info = client.get_flight_info(flight.FlightDescriptor.for_command(orders), bob)
    assert client.do_get(info.endpoints[0].ticket, bob).read_all().column(0).to_pylist() == [EVENTS]
    # bob's grants hold: the vault is not his (hidden, as if it did not exist).
    with pytest.raises(pa.ArrowKeyError) as denied:
        client.do_get(flight.Ticket(b'SELECT count(*) FROM "/sec/vault/Secrets".all_log_streams'), bob).read_all()
    assert "not found" in str(denied.value), denied.value
    answers = []
    for user, password in [("bob", "not-bobs"), ("nobody", PASSWORDS["bob"])]:
        with pytest.raises(flight.FlightUnauthenticatedError) as info:
            client.do_get(flight.Ticket(b"SELECT 1"), flight.FlightCallOptions(headers=basic_header(user, password))).read_all()
        assert password not in str(info.value)
        answers.append(str(info.value).split(". gRPC client debug context")[0])
    assert answers[0] == answers[1] and "wrong username or password" in answers[0], answers
    client.close()
    new = audit_lines(setup)[before:]
    logins = [e for e in new if e["event"] == "login" and e.get("principal") == "bob"]
    assert len(logins) == 1, new
    denied_lines = [e for e in new if e["event"] == "denied"]
    assert len(denied_lines) == 2 and denied_lines[0]["error"] == denied_lines[1]["error"], denied_lines
    queries = [e for e in new if e["event"] == "query" and e.get("principal") == "bob"]
    assert len(queries) >= 6, new


def test_wrong_and_unknown_credentials_get_the_same_answer(srv):
    messages = []
    for user, password in [("audra", "Wr0ng-Pa55-q7"), ("nobody", "audit-all"), ("dashboard", "Dash-Pa55-z3")]:
        with pytest.raises(adbc_driver_manager.Error) as info:
            with login(srv.uri, user, password) as conn:
                scalar(conn, "SELECT 1")
        assert info.value.status_code == Status.UNAUTHENTICATED, info.value
        assert password not in str(info.value)
        messages.append("wrong username or password" in str(info.value))
    assert all(messages), messages


def test_basic_login_with_pyarrow_and_a_colon_in_the_password(srv):
    client = flight.FlightClient(srv.uri)
    key, value = client.authenticate_basic_token("bob", PASSWORDS["bob"])
    assert key == b"authorization" and value.startswith(b"Bearer lf1."), (key, value)
    opts = flight.FlightCallOptions(headers=[(key, value)])
    t = client.do_get(flight.Ticket(b"SELECT count(*) AS n FROM \"/sec/orders/api\".all_log_streams"), opts).read_all()
    assert t.column("n").to_pylist() == [EVENTS]
    client.close()


def _handshake(client, payload: bytes = b"", header: bytes | None = None) -> bytes:
    """A Handshake with a hand-made payload and/or authorization header (pyarrow's own
    basic-token call always pads); returns the token the server sent back."""

    class Handler(flight.ClientAuthHandler):
        token = b""

        def authenticate(self, outgoing, incoming):
            outgoing.write(payload)
            self.token = incoming.read()

        def get_token(self):
            return self.token

    handler = Handler()
    headers = [(b"authorization", header)] if header else []
    client.authenticate(handler, flight.FlightCallOptions(headers=headers))
    return handler.token


def _works(client, token: bytes) -> bool:
    opts = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer " + token)])
    return client.do_get(flight.Ticket(b"SELECT 1 AS x"), opts).read_all().column(0).to_pylist() == [1]


def test_unpadded_basic_credentials_are_accepted(srv):
    # alice:alice-pass is 16 bytes, so its base64 has padding to leave off.
    padded = base64.b64encode(f"alice:{PASSWORDS['alice']}".encode())
    assert padded.endswith(b"=")
    for encoded in (padded, padded.rstrip(b"=")):
        client = flight.FlightClient(srv.uri)
        token = _handshake(client, header=b"Basic " + encoded)
        assert token.startswith(b"lf1."), token
        assert _works(client, token)
        client.close()


def test_basic_auth_in_the_handshake_payload(srv):
    """Older JDBC drivers send a BasicAuth message (username = field 2, password = field 3)."""

    def field(number: int, text: str) -> bytes:
        data = text.encode()
        return bytes([number << 3 | 2, len(data)]) + data

    client = flight.FlightClient(srv.uri)
    token = _handshake(client, payload=field(2, "bob") + field(3, PASSWORDS["bob"]))
    assert _works(client, token)
    with pytest.raises(flight.FlightUnauthenticatedError):
        _handshake(client, payload=field(2, "bob") + field(3, "nope"))
    with pytest.raises(flight.FlightUnauthenticatedError):
        _handshake(client, payload=b"\xff\xfe garbage")
    client.close()


def test_a_static_token_sees_only_its_grant(srv, setup):
    with flightsql.connect(srv.uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {setup['token']}"}) as conn:
        names = set(run(conn, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '/sec/%'").column(0).to_pylist())
        assert names == visible("dashboard")
    with flightsql.connect(srv.uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {setup['token']}x"}) as conn:
        expect_error(conn, "SELECT 1", status=Status.UNAUTHENTICATED)


def test_tokens_expire(setup, workdir):
    with running(start_logflight(
        setup["moto"], workdir / "logflight-short-token.log",
        "--config", str(setup["config"]), "--token-ttl-secs", "2",
        ready=authed_ready("audra", PASSWORDS["audra"]),
    )) as short:
        client = flight.FlightClient(short.uri)
        header = client.authenticate_basic_token("audra", PASSWORDS["audra"])
        opts = flight.FlightCallOptions(headers=[header])
        assert client.do_get(flight.Ticket(b"SELECT 1 AS x"), opts).read_all().column(0).to_pylist() == [1]
        time.sleep(3.2)
        with pytest.raises(flight.FlightUnauthenticatedError) as info:
            client.do_get(flight.Ticket(b"SELECT 1 AS x"), opts).read_all()
        assert "expired" in str(info.value), info.value
        # A new handshake gets a new token that works.
        opts = flight.FlightCallOptions(headers=[client.authenticate_basic_token("audra", PASSWORDS["audra"])])
        assert client.do_get(flight.Ticket(b"SELECT 1 AS x"), opts).read_all().num_rows == 1
        client.close()


# Authorization ------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["alice", "bob", "audra"])
def test_listings_show_only_granted_groups(srv, user):
    want = visible(user)
    with login(srv.uri, user, PASSWORDS[user]) as conn:
        schemata = set(run(conn, "SELECT schema_name FROM information_schema.schemata").column(0).to_pylist())
        assert {s for s in schemata if s.startswith("/sec/")} == want
        tables = run(conn, "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema LIKE '/sec/%'")
        assert set(tables.column(0).to_pylist()) == want
        columns = run(conn, "SELECT DISTINCT table_schema FROM information_schema.columns WHERE table_schema LIKE '/sec/%'")
        assert set(columns.column(0).to_pylist()) == want
        meta = run(conn, f"SELECT log_group FROM {META}.log_groups WHERE log_group LIKE '/sec/%'")
        assert set(meta.column(0).to_pylist()) == want
        streams = run(conn, f"SELECT DISTINCT log_group FROM {META}.log_streams")
        assert {g for g in streams.column(0).to_pylist() if g.startswith("/sec/")} == want
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        schemas = {s["db_schema_name"] for c in objects for s in (c["catalog_db_schemas"] or [])}
        assert {s for s in schemas if s.startswith("/sec/")} == want
        for group in want:
            assert scalar(conn, f"SELECT count(*) FROM {qi(group)}.all_log_streams") == EVENTS * len(GROUPS[group][1])


def denied_attempts(denied: str, allowed: str) -> list[str]:
    d, a = qi(denied), qi(allowed)
    upper = qi(denied.upper())
    stream = GROUPS[denied][1][0]
    return [
        f"SELECT count(*) FROM {d}.all_log_streams",
        f"SELECT count(*) FROM cloudwatch.{d}.all_log_streams",
        f"SELECT count(*) FROM {upper}.all_log_streams",
        f"SELECT * FROM {d}.{qi(stream)}",
        f"SELECT * FROM {a}.all_log_streams x JOIN {d}.all_log_streams y ON x.message = y.message",
        f"SELECT count(*) FROM {a}.all_log_streams WHERE message IN (SELECT message FROM {d}.all_log_streams)",
        f"SELECT * FROM {a}.all_log_streams WHERE EXISTS (SELECT 1 FROM {d}.all_log_streams)",
        f"WITH x AS (SELECT * FROM {d}.all_log_streams) SELECT count(*) FROM x",
        f"SELECT * FROM {a}.all_log_streams UNION ALL SELECT * FROM {d}.all_log_streams",
        f"SELECT * FROM json_fields('{denied}')",
        f"SELECT * FROM insights('fields @message', now() - INTERVAL '1 hour', now(), ['{denied}'])",
        f"SELECT * FROM insights('fields @message', now() - INTERVAL '1 hour', now(), ['{allowed}', '{denied}'])",
        f"SELECT * FROM insights('fields @message', now() - INTERVAL '1 hour', now(), 'arn:aws:logs:us-east-1:123456789012:log-group:{denied}:*')",
        f"EXPLAIN SELECT * FROM {d}.all_log_streams",
        f"SHOW COLUMNS FROM {d}.all_log_streams",
    ]


def test_naming_a_hidden_group_is_not_found_on_every_path(srv, proxy):
    denied, allowed = "/sec/orders/api", "/sec/payments/api"
    assert denied not in visible("alice") and allowed in visible("alice")
    proxy.reset_stats()
    with login(srv.uri, "alice", PASSWORDS["alice"]) as conn:
        for sql in denied_attempts(denied, allowed):
            err = expect_error(conn, sql, status=Status.NOT_FOUND)
            assert "not found" in str(err), f"{sql}: {err}"
        # The answer is that of a group that does not exist: no word of access, and no
        # "did you mean" naming another hidden group.
        hidden = expect_error(conn, f"SELECT * FROM {qi(denied)}.all_log_streams", status=Status.NOT_FOUND)
        text = str(hidden)
        assert f'log group "{denied}" not found' in text, text
        assert not any(w in text.lower() for w in ("permission", "denied", "grant", "access")), text
        near = expect_error(conn, 'SELECT * FROM "/sec/vault/secret".all_log_streams', status=Status.NOT_FOUND)
        for other in set(GROUPS) - visible("alice"):
            assert other not in str(near), str(near)
        # Bound parameters (a prepared statement) change nothing.
        expect_error(conn, f"SELECT count(*) FROM {qi(denied)}.all_log_streams WHERE message = ?", parameters=("x",), status=Status.NOT_FOUND)
        # Listings filtered by the hidden name find nothing.
        assert run(conn, f"SELECT * FROM information_schema.tables WHERE table_schema = '{denied}'").num_rows == 0
        assert run(conn, f"SELECT * FROM {META}.log_groups WHERE log_group = '{denied}'").num_rows == 0
        assert run(conn, f"SELECT * FROM {META}.log_streams WHERE log_group = '{denied}'").num_rows == 0
    # Nothing of the hidden group was read: no stream listing, no events, no Insights query.
    for op in ("DescribeLogStreams", "GetLogEvents", "FilterLogEvents", "StartQuery"):
        for body in proxy.requests(op):
            named = json.dumps(body)
            assert denied not in named, f"{op} read the hidden group: {named}"
    tagged = [r.get("resourceArn", "") for r in proxy.requests("ListTagsForResource")]
    assert all(":log-group:" in arn for arn in tagged), tagged


def test_queries_that_name_their_own_groups_are_refused(srv):
    with login(srv.uri, "alice", PASSWORDS["alice"]) as conn:
        expect_error(
            conn,
            "SELECT * FROM insights('SOURCE logGroups(namePrefix: [\"/sec\"]) | fields @message', now() - INTERVAL '1 hour', now(), ['/sec/payments/api'])",
            contains=["SOURCE"], status=Status.UNAUTHORIZED,
        )
        expect_error(
            conn,
            "SELECT * FROM insights_sql('SELECT * FROM `logGroups(logGroupIdentifier: [''/sec/orders/api''])`', now() - INTERVAL '1 hour', now(), [])",
            contains=["insights_sql"], status=Status.UNAUTHORIZED,
        )


def test_tickets_and_handles_carry_no_authority(srv):
    """A ticket made for the auditor, replayed by alice, is planned again as alice."""
    auditor = flight.FlightClient(srv.uri)
    opts = flight.FlightCallOptions(headers=[auditor.authenticate_basic_token("audra", PASSWORDS["audra"])])
    info = auditor.get_flight_info(flight.FlightDescriptor.for_command(b'SELECT count(*) FROM "/sec/vault/Secrets".all_log_streams'), opts)
    ticket = info.endpoints[0].ticket
    assert auditor.do_get(ticket, opts).read_all().column(0).to_pylist() == [EVENTS]
    alice = flight.FlightClient(srv.uri)
    alice_opts = flight.FlightCallOptions(headers=[alice.authenticate_basic_token("alice", PASSWORDS["alice"])])
    with pytest.raises((flight.FlightError, pa.ArrowException)) as err:
        alice.do_get(ticket, alice_opts).read_all()
    assert "not found" in str(err.value), err.value
    auditor.close()
    alice.close()


# The audit log and secrets ---------------------------------------------------------------


def audit_lines(setup) -> list[dict]:
    return [json.loads(line) for line in setup["audit"].read_text().splitlines()]


def test_the_audit_log_records_who_did_what(srv, setup):
    marker = uuid.uuid4().hex[:8]
    with login(srv.uri, "alice", PASSWORDS["alice"]) as conn:
        ok_sql = f"SELECT count(*) AS n, '{marker}' AS m FROM \"/sec/payments/API\".all_log_streams"
        assert run(conn, ok_sql).column("n").to_pylist() == [EVENTS * 2]
        bad_sql = f"SELECT '{marker}' FROM \"/sec/vault/Secrets\".all_log_streams"
        expect_error(conn, bad_sql, status=Status.NOT_FOUND)
    lines = audit_lines(setup)
    done = [l for l in lines if l["event"] == "query" and l.get("sql") == ok_sql and l["rpc"] == "DoGet"]
    assert len(done) == 1, lines[-5:]
    entry = done[0]
    assert entry["principal"] == "alice" and entry["outcome"] == "ok", entry
    assert entry["client"].startswith("127.0.0.1:"), entry
    assert entry["groups"] == [{"catalog": "cloudwatch", "log_group": "/sec/payments/api"}], entry
    assert entry["rows"] == 1 and entry["api_calls"] >= 1 and entry["events_scanned"] == EVENTS * 2, entry
    refused = [l for l in lines if l.get("sql") == bad_sql]
    assert refused and all(l["outcome"] == "failed" and l["error_code"] == "NotFound" for l in refused), refused
    assert all(l["principal"] == "alice" for l in refused)
    logins = [l for l in lines if l["event"] == "login"]
    assert any(l["principal"] == "alice" and l["outcome"] == "ok" for l in logins)
    assert any(l["outcome"] == "failed" and l["principal"] is None for l in logins)
    denied = [l for l in lines if l["event"] == "denied"]
    assert denied and all(l["error_code"] == "Unauthenticated" for l in denied)


def test_no_secret_reaches_a_log(srv, setup):
    # Make sure failed logins and bad tokens happened before looking.
    with pytest.raises(adbc_driver_manager.Error):
        with login(srv.uri, "alice", "not-" + PASSWORDS["alice"]) as conn:
            scalar(conn, "SELECT 1")
    secrets = [*PASSWORDS.values(), "not-" + PASSWORDS["alice"], setup["token"], AWS_SECRET]
    client = flight.FlightClient(srv.uri)
    issued = client.authenticate_basic_token("audra", PASSWORDS["audra"])[1].decode().split(" ", 1)[1]
    client.close()
    secrets.append(issued)
    for path in (srv.log_path, setup["audit"]):
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a secret is in {path.name}"
