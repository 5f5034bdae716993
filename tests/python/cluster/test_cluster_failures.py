"""A cluster when things go wrong, and its security: a node killed in the middle of a query
(the query fails naming it, never a short answer; the planning node keeps serving; the node
comes back and is used again), grants decided on the node the client talks to, mutual TLS
between the nodes, and the worker port refused off loopback without TLS.

Three real `logflight serve` nodes on loopback over moto, several accounts through
sts:AssumeRole, as in test_cluster.py.
"""

from __future__ import annotations

import re
import threading
import time

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest
import trustme

from helpers import connect, expect_error, run
from loader import create_group, logs_client
from servers import free_port, new_token, pacing_args, run_cli, start_serve, stop
from accounts import CATALOGS, config_text, credentials

SLOW = "/slow/app"
STREAMS = 24
# GetLogEvents at 3 calls a second: a read of 24 streams (two calls each) takes ~16 s.
SLOW_TPS = ["--api-tps", "DescribeLogGroups=500,DescribeLogStreams=500,GetLogEvents=3,FilterLogEvents=500"]
BASE_MS = (int(time.time()) // 60 - 30) * 60_000


def load_slow(endpoint: str) -> None:
    for i, (_, region, account) in enumerate(CATALOGS):
        streams = {f"app-{s:02d}": [(BASE_MS + s * 100 + k, f"event {k} of stream {s}") for k in range(3)]
                   for s in range(STREAMS)}
        create_group(logs_client(endpoint, region=region, credentials=credentials(endpoint, account)), SLOW, streams)


def start_node(workdir, config, port: int, tag: str, *extra: str, ready=None):
    kwargs = {"ready": ready} if ready else {}
    return start_serve(workdir / f"logflight-{tag}-{port}.log", "--config", str(config),
                       "--cluster-listen", f"127.0.0.1:{port}", *extra, **kwargs)


def owner_of(srv, catalog: str) -> str:
    """The worker address (127.0.0.1:PORT) of the node that reads `catalog`, from EXPLAIN
    ANALYZE of a small scan."""
    with connect(srv.uri) as conn:
        t = run(conn, f'EXPLAIN ANALYZE SELECT count(*) FROM {catalog}."{SLOW}"."app-00"')
    text = "\n".join(t.column(t.num_columns - 1).to_pylist())
    found = set(re.findall(r"partitions_read\[([0-9.:]+)\]", text))
    assert len(found) == 1, text
    return found.pop()


@pytest.fixture(scope="module")
def slow_cluster(own_moto, workdir):
    load_slow(own_moto)
    ports = [free_port() for _ in range(3)]
    config = workdir / "cluster-slow.toml"
    config.write_text(config_text(own_moto, [f"http://127.0.0.1:{p}" for p in ports]))
    nodes = {p: start_node(workdir, config, p, "slow", *SLOW_TPS) for p in ports}
    try:
        yield {"nodes": nodes, "config": config}
    finally:
        for s in nodes.values():
            stop(s.proc)


def test_a_node_killed_mid_query_fails_it_naming_the_node(slow_cluster, workdir):
    nodes = slow_cluster["nodes"]
    any_node = next(iter(nodes.values()))
    owners = {name: owner_of(any_node, name) for name, _, _ in CATALOGS}
    victim_addr = owners["a1_us"]
    victim_port = int(victim_addr.rsplit(":", 1)[1])
    coordinator = next(s for p, s in nodes.items() if p != victim_port)
    # Reads every stream of the victim's account (GetLogEvents per stream, paced): long enough
    # to be killed in the middle.
    sql = f"SELECT count(*) AS n FROM a1_us.\"{SLOW}\".all_log_streams WHERE log_stream LIKE 'app-%'"
    outcome: dict = {}

    def query():
        try:
            with connect(coordinator.uri) as conn:
                outcome["rows"] = run(conn, sql).to_pylist()
        except Exception as e:  # noqa: BLE001 - the failure is what is tested
            outcome["error"] = str(e)

    t = threading.Thread(target=query)
    started = time.monotonic()
    t.start()
    time.sleep(3)
    nodes[victim_port].proc.kill()
    t.join(timeout=120)
    assert not t.is_alive(), "the query hung after its node died"
    assert "rows" not in outcome, f"a short answer instead of an error: {outcome}"
    assert "UNAVAILABLE" in outcome["error"] or "Unavailable" in outcome["error"], outcome
    assert f"cluster node http://{victim_addr}/" in outcome["error"], outcome
    assert time.monotonic() - started < 60

    # The planning node keeps serving: statements that need no scan, and scans owned by
    # the nodes still up.
    coordinator.assert_serving()
    alive = [name for name, addr in owners.items() if addr != victim_addr]
    assert alive, owners
    with connect(coordinator.uri) as conn:
        n = run(conn, f'SELECT count(*) AS n FROM {alive[0]}."{SLOW}"."app-01"').column("n")[0].as_py()
        assert n == 3
        # A query that needs the dead node fails at once, naming it again.
        expect_error(conn, f'SELECT count(*) FROM a1_us."{SLOW}"."app-01"', contains=[f"http://{victim_addr}/"])

    # The node comes back on its worker port and is used again.
    nodes[victim_port] = start_node(workdir, slow_cluster["config"], victim_port, "slow-back", *SLOW_TPS)
    with connect(coordinator.uri) as conn:
        n = run(conn, f'SELECT count(*) AS n FROM a1_us."{SLOW}"."app-01"').column("n")[0].as_py()
        assert n == 3
    assert owner_of(coordinator, "a1_us") == victim_addr


def tls_lines(pki) -> str:
    d = pki["dir"]
    return f'tls_cert = "{d / "node.pem"}"\ntls_key = "{d / "node-key.pem"}"\ntls_ca = "{d / "ca.pem"}"\n'


def test_grants_are_decided_by_the_node_the_client_talks_to(own_moto, workdir, slow_cluster, pki):
    """A token granted only some catalogs' groups: through any node it sees and reads only
    those, though the nodes that read for it hold every role. (With authentication on, the
    nodes must use mutual TLS: without it, serve refuses to start.)"""
    token, digest = new_token()
    ports = [free_port() for _ in range(3)]
    auth = (f'\n[[tokens]]\nname = "partner"\ntoken_sha256 = "{digest}"\n'
            '\n[[grants]]\nusers = ["partner"]\ncatalogs = ["a2_us"]\nlog_groups = ["/slow/*"]\n')
    plain = workdir / "cluster-grants-plain.toml"
    plain.write_text(config_text(own_moto, [f"http://127.0.0.1:{p}" for p in ports]) + auth)
    out = run_cli("serve", "--config", str(plain), "--listen", f"127.0.0.1:{free_port()}",
                  "--cluster-listen", f"127.0.0.1:{ports[0]}", timeout=60)
    assert out.returncode != 0 and "mutual TLS" in out.stderr, out.stderr
    config = workdir / "cluster-grants.toml"
    config.write_text(config_text(own_moto, [f"https://127.0.0.1:{p}" for p in ports]) + tls_lines(pki) + auth)
    header = {"adbc.flight.sql.authorization_header": f"Bearer {token}"}

    def ready(srv) -> bool:
        with flightsql.connect(srv.uri, db_kwargs=header) as conn:
            return run(conn, "SELECT 1 AS x").column(0).to_pylist() == [1]

    nodes = [start_node(workdir, config, p, "grants", *pacing_args(), ready=ready) for p in ports]
    try:
        for srv in nodes:
            with flightsql.connect(srv.uri, db_kwargs=header) as conn:
                n = run(conn, f'SELECT count(*) AS n FROM a2_us."{SLOW}".all_log_streams').column("n")[0].as_py()
                assert n == 3 * STREAMS
                expect_error(conn, f'SELECT count(*) FROM a1_us."{SLOW}".all_log_streams', contains=[SLOW, "not found"])
    finally:
        for s in nodes:
            stop(s.proc)


@pytest.fixture(scope="module")
def pki(workdir):
    ca = trustme.CA()
    node = ca.issue_cert("127.0.0.1", "localhost")
    stranger = trustme.CA().issue_cert("127.0.0.1")
    d = workdir / "cluster-pki"
    d.mkdir(exist_ok=True)
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    node.cert_chain_pems[0].write_to_path(str(d / "node.pem"))
    node.private_key_pem.write_to_path(str(d / "node-key.pem"))
    return {
        "dir": d,
        "ca": ca.cert_pem.bytes(),
        "node": (node.cert_chain_pems[0].bytes(), node.private_key_pem.bytes()),
        "stranger": (stranger.cert_chain_pems[0].bytes(), stranger.private_key_pem.bytes()),
    }


def test_nodes_talk_over_mutual_tls(own_moto, workdir, pki, slow_cluster):
    ports = [free_port() for _ in range(3)]
    config = workdir / "cluster-tls.toml"
    config.write_text(config_text(own_moto, [f"https://127.0.0.1:{p}" for p in ports]) + tls_lines(pki))
    nodes = [start_node(workdir, config, p, "tls", *pacing_args()) for p in ports]
    try:
        for srv in nodes:
            with connect(srv.uri) as conn:
                t = run(conn, " UNION ALL ".join(
                    f"SELECT '{name}' AS c, count(*) AS n FROM {name}.\"{SLOW}\".all_log_streams" for name, _, _ in CATALOGS
                ) + " ORDER BY c")
            assert t.column("n").to_pylist() == [3 * STREAMS] * len(CATALOGS)
        # Somebody else on the worker port: without a certificate, or with one from another
        # CA, the TLS handshake is refused before any request.
        for cert in (None, pki["stranger"]):
            kwargs = {"tls_root_certs": pki["ca"]}
            if cert:
                kwargs.update(cert_chain=cert[0], private_key=cert[1])
            client = flight.FlightClient(f"grpc+tls://127.0.0.1:{ports[0]}", **kwargs)
            with pytest.raises(flight.FlightError) as refused:
                client.list_actions(options=flight.FlightCallOptions(timeout=10))
            client.close()
            assert "UNIMPLEMENTED" not in str(refused.value).upper(), refused.value
        # And in plain text, nothing at all.
        client = flight.FlightClient(f"grpc://127.0.0.1:{ports[0]}")
        with pytest.raises(flight.FlightError):
            client.list_actions(options=flight.FlightCallOptions(timeout=10))
        client.close()
    finally:
        for s in nodes:
            stop(s.proc)


def test_the_worker_port_is_refused_off_loopback_without_tls(workdir):
    port = free_port()
    out = run_cli("serve", "--source", "demo", "--listen", f"127.0.0.1:{free_port()}",
                  "--cluster-listen", f"0.0.0.0:{port}", "--cluster-nodes", f"http://10.1.2.3:{port}",
                  timeout=60)
    assert out.returncode != 0
    assert "refusing to serve the worker port" in out.stderr and "mutual TLS" in out.stderr, out.stderr
