"""A cluster of three `logflight serve` nodes on loopback over one moto, against a single
node over the same data: several accounts (moto keeps them apart through sts:AssumeRole) in
several regions, one catalog per account and region.

What is checked: every node answers every query exactly as the single node does (a
differential test, each node in turn coordinating); each account-region is read by one node
only, whichever node coordinates (the nodes' own Prometheus counters); EXPLAIN shows the
stages and EXPLAIN ANALYZE which node read what; the node list can come from the config
file's `[cluster]` table. Failures and TLS are in test_cluster_failures.py.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from accounts import CATALOGS, config_text, credentials

from helpers import connect, expect_error, run
from loader import create_group, logs_client
from servers import free_port, pacing_args, running, start_serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "typed"))
import cloudtrail_records as trail  # noqa: E402 - the typed tests' CloudTrail records

BASE_MS = (int(time.time()) // 60 - 60) * 60_000
GROUP = "/audit/logins"

USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]


def events_of(i: int) -> dict[str, list[tuple[int, str]]]:
    """Each catalog's own events: different counts and users, so a query reading the wrong
    account or region, or one twice, gives another answer."""
    streams: dict[str, list[tuple[int, str]]] = {"web-1": [], "web-2": []}
    for k in range(6 + 3 * i):
        user = USERS[(k * (i + 1)) % len(USERS)]
        outcome = "denied" if (k + i) % 4 == 0 else "ok"
        stream = "web-1" if k % 3 else "web-2"
        streams[stream].append((BASE_MS + i * 7_000 + k * 1000, f"login user={user} outcome={outcome} n={k}"))
    return streams


def load_accounts(endpoint: str) -> dict[str, dict[str, list[tuple[int, str]]]]:
    loaded = {}
    for i, (name, region, account) in enumerate(CATALOGS):
        streams = events_of(i)
        client = logs_client(endpoint, region=region, credentials=credentials(endpoint, account))
        create_group(client, GROUP, streams)
        loaded[name] = streams
        if name == "a2_us":
            # A CloudTrail group (known by its name): typed tables decode on the reading node.
            records = sorted((e.ts, e.message) for e in trail.trail(trail.CONSOLE_GROUP))
            create_group(client, trail.CONSOLE_GROUP, {trail.US_STREAM: records})
    return loaded


def start_cluster(workdir, endpoint: str, tag: str, *extra: str, env=None):
    """Three nodes, the node list in the config file's [cluster] table; returns the servers
    and their worker URLs (in start order)."""
    ports = [free_port() for _ in range(3)]
    nodes = [f"http://127.0.0.1:{p}" for p in ports]
    config = workdir / f"cluster-{tag}.toml"
    config.write_text(config_text(endpoint, nodes))
    servers = [
        start_serve(workdir / f"logflight-{tag}-{i}.log", "--config", str(config),
                    "--cluster-listen", f"127.0.0.1:{p}", *pacing_args(), *extra, metrics=True, env=env)
        for i, p in enumerate(ports)
    ]
    return servers, nodes


@pytest.fixture(scope="module")
def world(own_moto, workdir):
    loaded = load_accounts(own_moto)
    single_config = workdir / "cluster-single.toml"
    single_config.write_text(config_text(own_moto))
    single = start_serve(workdir / "logflight-single.log", "--config", str(single_config), *pacing_args())
    servers, nodes = start_cluster(workdir, own_moto, "main")
    try:
        yield {"single": single, "nodes": servers, "urls": nodes, "loaded": loaded}
    finally:
        for s in [single, *servers]:
            with running(s):
                pass


def rows(srv, sql: str) -> list[tuple]:
    with connect(srv.uri) as conn:
        t = run(conn, sql)
    return [tuple(r.values()) for r in t.to_pylist()]


def union_all(select: str) -> str:
    """`select` (with {c} for the catalog) over every catalog, tagged with its name."""
    return " UNION ALL ".join(
        select.format(c=name, tag=f"'{name}'") for name, _, _ in CATALOGS
    )


QUERIES = {
    "counts per catalog and stream": union_all(
        f'SELECT {{tag}} AS catalog, log_stream, count(*) AS n FROM {{c}}."{GROUP}".all_log_streams GROUP BY log_stream'
    ) + " ORDER BY catalog, log_stream",
    "denied logins everywhere (filter pattern)": "SELECT catalog, count(*) AS n FROM (" + union_all(
        f"SELECT {{tag}} AS catalog, message FROM {{c}}.\"{GROUP}\".all_log_streams WHERE message LIKE '%outcome=denied%'"
    ) + ") GROUP BY catalog ORDER BY catalog",
    "users in two accounts (join)": f"""
        WITH x AS (SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u FROM a1_us."{GROUP}".all_log_streams),
             y AS (SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u FROM a4_ap."{GROUP}".all_log_streams)
        SELECT x.u, count(*) AS pairs FROM x JOIN y ON x.u = y.u GROUP BY x.u ORDER BY x.u""",
    "first events of a stream table (limit)": f'SELECT log_stream, time, message FROM a2_us."{GROUP}"."web-1" ORDER BY time LIMIT 4',
    "latest event per region and user": "SELECT u, max(t) AS last, count(*) AS n FROM (" + union_all(
        f"SELECT split_part(split_part(message, 'user=', 2), ' ', 1) AS u, time AS t FROM {{c}}.\"{GROUP}\".all_log_streams"
    ) + ") GROUP BY u ORDER BY u",
    "a named stream with a time range": f"""SELECT count(*) AS n FROM own_eu."{GROUP}".all_log_streams
        WHERE log_stream = 'web-1' AND time >= to_timestamp_millis({BASE_MS + 3000})""",
    # A top-k right above a remote scan of several partitions (two named streams, one
    # partition each): the newest events, not the first ones read.
    "newest events of an account (top-k)": f"""SELECT log_stream, time, message FROM a3_eu."{GROUP}".all_log_streams
        WHERE log_stream IN ('web-1', 'web-2') ORDER BY time DESC, message LIMIT 5""",
    # A join with a fetch: the remote side must not be cut to its first rows.
    "a limited join counts its rows": f"""SELECT count(*) AS n FROM (
        SELECT x.message FROM a4_us."{GROUP}".all_log_streams x JOIN a1_eu."{GROUP}".all_log_streams y
        ON split_part(x.message, ' ', 2) = split_part(y.message, ' ', 2) LIMIT 40)""",
    "a typed table (CloudTrail)": f"""SELECT eventsource, eventname, count(*) AS n, min(useridentity.accountid) AS a
        FROM a2_us."{trail.CONSOLE_GROUP}".cloudtrail_events GROUP BY 1, 2 ORDER BY 1, 2""",
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_node_answers_as_a_single_node(world, name):
    sql = QUERIES[name]
    want = rows(world["single"], sql)
    assert want, "the query has rows, so the comparison is not vacuous"
    for node in world["nodes"]:
        assert rows(node, sql) == want, f"{name} through {node.uri}"


def test_answers_are_the_loaded_events(world):
    """Not only equal to the single node: equal to what was loaded."""
    got = rows(world["nodes"][1], QUERIES["counts per catalog and stream"])
    want = sorted(
        (name, stream, len(events))
        for name, streams in world["loaded"].items()
        for stream, events in streams.items()
    )
    assert got == want


def read_calls(srv) -> dict[str, int]:
    """Successful GetLogEvents and FilterLogEvents calls per catalog, from the node's own
    Prometheus endpoint."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{srv.metrics_port}/metrics", timeout=10).read().decode()
    calls: dict[str, int] = {}
    for m in re.finditer(r'^logflight_api_calls_total\{catalog="([^"]+)",api="(GetLogEvents|FilterLogEvents)",outcome="([^"]+)"\} (\d+)',
                         text, re.M):
        calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(4))
    return calls


def test_each_account_region_is_read_by_one_node(world):
    """Every node coordinates a scan of every catalog; afterwards each catalog's read calls
    were all made by one node (its owner's pacer), and the owners are spread."""
    sql = QUERIES["counts per catalog and stream"]
    for node in world["nodes"]:
        rows(node, sql)
    per_node = [read_calls(n) for n in world["nodes"]]
    owners = {}
    for name, _, _ in CATALOGS:
        readers = [i for i, calls in enumerate(per_node) if calls.get(name, 0) > 0]
        assert len(readers) == 1, f"{name} was read by nodes {readers}: {per_node}"
        owners[name] = readers[0]
        # Three coordinators, three scans, all through the owner.
        assert per_node[readers[0]][name] >= 3
    assert len(set(owners.values())) >= 2, f"every account on one node: {owners}"


def plan_text(srv, sql: str) -> str:
    return "\n".join(r[-1] for r in rows(srv, sql))


def test_explain_shows_stages_and_explain_analyze_the_node_that_read(world):
    """Through each node: EXPLAIN ANALYZE of a scan names the node that read it (its worker
    address), with the API calls it made, and that node is the same whoever coordinates."""
    sql = f'SELECT log_stream, count(*) FROM a3_eu."{GROUP}".all_log_streams GROUP BY log_stream'
    readers = set()
    for node in world["nodes"]:
        text = plan_text(node, f"EXPLAIN ANALYZE {sql}")
        found = re.findall(r"partitions_read\[([0-9.:]+)\]=(\d+)", text)
        assert found, text
        assert re.search(r"api_calls\[[0-9.:]+\]=[1-9]", text), text
        readers.update(addr for addr, _ in found)
    assert len(readers) == 1, readers
    (reader,) = readers
    assert f"http://{reader}" in world["urls"]
    # Coordinated by another node, the scan is a stage of its own behind a network boundary.
    others = [n for n, url in zip(world["nodes"], world["urls"]) if url != f"http://{reader}"]
    text = plan_text(others[0], f"EXPLAIN {sql}")
    assert "NetworkCoalesceExec" in text and "LogScan" in text, text


def test_grants_are_decided_by_the_coordinating_node(world):
    """Names resolve on the node the client talks to, before anything is sent anywhere: a
    group that does not exist fails there with its own message, not on a worker."""
    with connect(world["nodes"][0].uri) as conn:
        expect_error(conn, 'SELECT * FROM a1_us."/nope".all_log_streams', contains=["/nope", "not found"])
