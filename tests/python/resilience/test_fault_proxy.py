"""The fault-injecting proxy itself, driven by boto3 against the session's moto."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import faultproxy
import loader
from faultproxy import READ_OPERATIONS, FaultProxy
from loader import CASE_GROUP, LAMBDA_GROUP, QUIET_GROUP

# The proxy as a script: the file the tests import it from.
FAULTPROXY_SCRIPT = Path(faultproxy.__file__).resolve()


def logs_client(endpoint_url: str, attempts: int = 1):
    """A boto3 client; attempts=1 means no botocore retries at all."""
    return loader.logs_client(endpoint_url, attempts)


@pytest.fixture(scope="module")
def running_proxy(moto_endpoint, data):
    with FaultProxy(moto_endpoint, seed=7) as proxy:
        yield proxy


@pytest.fixture
def proxy(running_proxy):
    with running_proxy.session(seed=7):
        yield running_proxy


@pytest.fixture
def via(proxy):
    """boto3 through the proxy, without retries."""
    return logs_client(proxy.url)


@pytest.fixture(scope="module")
def direct(moto_endpoint):
    """boto3 straight to moto."""
    return logs_client(moto_endpoint, attempts=3)


def error_code(info) -> str:
    return info.value.response["Error"]["Code"]


# Reads that follow tokens exactly as logflight does -------------------------------------


def filter_all(client, group: str, **kwargs) -> tuple[list[tuple], int]:
    """Every FilterLogEvents page until there is no nextToken: (events, calls)."""
    events, token, calls = [], None, 0
    while True:
        resp = client.filter_log_events(logGroupName=group, **kwargs, **({"nextToken": token} if token else {}))
        calls += 1
        events += [(e["logStreamName"], e["timestamp"], e["message"], e["eventId"]) for e in resp["events"]]
        token = resp.get("nextToken")
        if not token:
            return events, calls
        assert calls < 10_000, "FilterLogEvents never ended"


def get_all(client, group: str, stream: str, **kwargs) -> tuple[list[tuple], int]:
    """GetLogEvents from the head until the token sent comes back: (events, calls)."""
    events, token, calls = [], None, 0
    while True:
        resp = client.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs,
            **({"nextToken": token} if token else {}),
        )
        calls += 1
        events += [(e["timestamp"], e["message"], e["ingestionTime"]) for e in resp["events"]]
        nxt = resp.get("nextForwardToken")
        if nxt is None or nxt == token:
            return events, calls
        token = nxt
        assert calls < 10_000, "GetLogEvents never ended"


def describe_streams_all(client, group: str, **kwargs) -> tuple[list[str], int]:
    names, token, calls = [], None, 0
    while True:
        resp = client.describe_log_streams(logGroupName=group, **kwargs, **({"nextToken": token} if token else {}))
        calls += 1
        names += [s["logStreamName"] for s in resp["logStreams"]]
        nxt = resp.get("nextToken")
        if nxt is None or nxt == token:
            return names, calls
        token = nxt
        assert calls < 10_000, "DescribeLogStreams never ended"


# Throttle and server errors ----------------------------------------------------------------


def test_throttle_parses_as_throttling_exception(proxy, via):
    proxy.configure(throttle_rate=1.0)
    for call in (
        lambda: via.filter_log_events(logGroupName=CASE_GROUP),
        lambda: via.get_log_events(logGroupName=CASE_GROUP, logStreamName="Worker"),
        lambda: via.describe_log_streams(logGroupName=CASE_GROUP),
        lambda: via.describe_log_groups(),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info) == "ThrottlingException"
        assert info.value.response["Error"]["Message"] == "Rate exceeded"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert type(info.value).__name__ == "ThrottlingException"
    ops = proxy.stats()["operations"]
    for op in READ_OPERATIONS:
        assert ops[op]["throttled"] == 1 and ops[op]["forwarded"] == 0 and ops[op]["total"] == 1, ops[op]


def test_throttle_is_per_operation(proxy, via, data):
    proxy.configure(throttle_rate={"FilterLogEvents": 1.0})
    with pytest.raises(ClientError) as info:
        via.filter_log_events(logGroupName=CASE_GROUP)
    assert error_code(info) == "ThrottlingException"
    # Other operations are untouched.
    got, _ = get_all(via, CASE_GROUP, "Worker")
    assert len(got) == data.count(CASE_GROUP, "Worker")
    ops = proxy.stats()["operations"]
    assert ops["FilterLogEvents"]["throttled"] == 1
    assert ops["GetLogEvents"]["throttled"] == 0 and ops["GetLogEvents"]["forwarded"] >= 1


def test_throttle_is_not_applied_to_writes_by_default(proxy, via):
    proxy.configure(throttle_rate=1.0)
    # A write operation (not a read): forwarded. moto answers ResourceAlreadyExists.
    with pytest.raises(ClientError) as info:
        via.create_log_group(logGroupName=CASE_GROUP)
    assert error_code(info) == "ResourceAlreadyExistsException"
    assert proxy.stats()["operations"]["CreateLogGroup"]["forwarded"] == 1


def test_server_error_500_and_503(proxy, via):
    proxy.configure(server_error_rate=1.0, server_error_kinds=["500-json"])
    with pytest.raises(ClientError) as info:
        via.filter_log_events(logGroupName=CASE_GROUP)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error_code(info) == "ServiceUnavailableException"
    assert info.value.response["Error"]["Message"] == "injected 500"

    proxy.configure(server_error_kinds=["503-plain"])
    with pytest.raises(ClientError) as info:
        via.get_log_events(logGroupName=CASE_GROUP, logStreamName="Worker")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    ops = proxy.stats()["operations"]
    assert ops["FilterLogEvents"]["server_errors"] == 1 and ops["FilterLogEvents"]["forwarded"] == 0
    assert ops["GetLogEvents"]["server_errors"] == 1 and ops["GetLogEvents"]["forwarded"] == 0


def test_botocore_retries_through_faults(proxy, data):
    """With retries on, boto3 gets the right answer through throttles and 500s."""
    proxy.configure(throttle_rate=0.2, server_error_rate=0.2)
    client = logs_client(proxy.url, attempts=15)
    for _ in range(2):
        got, _ = get_all(client, CASE_GROUP, "OnlyUpper")
        assert len(got) == data.count(CASE_GROUP, "OnlyUpper")
    s = proxy.stats()["all"]
    assert s["throttled"] > 0 and s["server_errors"] > 0


# Empty pages with synthetic tokens -------------------------------------------------------------


def test_filter_log_events_with_empty_pages_reads_everything(proxy, via, direct, data):
    expected, direct_calls = filter_all(direct, LAMBDA_GROUP)
    assert len(expected) == data.count(LAMBDA_GROUP) and direct_calls >= 2  # really paginated
    proxy.configure(empty_page_rate=0.5)
    got, calls = filter_all(via, LAMBDA_GROUP)
    assert got == expected
    ops = proxy.stats()["operations"]["FilterLogEvents"]
    assert ops["empty_pages"] > 0
    assert calls == direct_calls + ops["empty_pages"]
    # Every synthetic token came back and was restored before forwarding.
    assert ops["tokens_restored"] == ops["empty_pages"]
    assert ops["forwarded"] == direct_calls


def test_filter_log_events_small_pages_with_time_range(proxy, via, direct, data):
    lo, hi = data.shared_ts - 5 * loader.MINUTE_MS, data.shared_ts_2
    kwargs = dict(startTime=lo, endTime=hi, limit=500)
    expected, direct_calls = filter_all(direct, LAMBDA_GROUP, **kwargs)
    assert len(expected) == data.count(LAMBDA_GROUP, where=lambda e: lo <= e.ts <= hi)
    assert direct_calls > 3
    proxy.configure(empty_page_rate=0.5)
    got, calls = filter_all(via, LAMBDA_GROUP, **kwargs)
    assert got == expected
    assert proxy.stats()["operations"]["FilterLogEvents"]["empty_pages"] > 0


@pytest.mark.parametrize("role", ["big", "small"])
def test_get_log_events_with_empty_pages_reads_everything(proxy, via, direct, data, role):
    stream = data.lambda_streams[role]
    expected, direct_calls = get_all(direct, LAMBDA_GROUP, stream)
    assert len(expected) == data.count(LAMBDA_GROUP, stream)
    proxy.configure(empty_page_rate=0.5)
    got, calls = get_all(via, LAMBDA_GROUP, stream)
    assert got == expected
    ops = proxy.stats()["operations"]["GetLogEvents"]
    assert ops["empty_pages"] > 0
    assert calls == direct_calls + ops["empty_pages"]
    assert ops["tokens_restored"] == ops["empty_pages"]


def test_get_log_events_small_pages(proxy, via, direct, data):
    stream = data.lambda_streams["medium"]
    expected, direct_calls = get_all(direct, LAMBDA_GROUP, stream, limit=200)
    assert len(expected) == data.count(LAMBDA_GROUP, stream) and direct_calls > 5
    proxy.configure(empty_page_rate=0.5)
    got, _ = get_all(via, LAMBDA_GROUP, stream, limit=200)
    assert got == expected


@pytest.mark.parametrize("group, stream", [(QUIET_GROUP, loader.QUIET_STREAM), (CASE_GROUP, "OnlyUpper")])
def test_get_log_events_end_of_stream_survives_every_page_empty(proxy, via, data, group, stream):
    """empty_page_rate=1.0: every original request first gets an empty page, yet the read ends.

    The real answer to a restored request may echo the restored token (the end
    of the stream); the proxy then echoes the synthetic token the client sent.
    """
    proxy.configure(empty_page_rate=1.0)
    got, calls = get_all(via, group, stream)
    assert len(got) == data.count(group, stream)
    ops = proxy.stats()["operations"]["GetLogEvents"]
    assert ops["empty_pages"] == ops["tokens_restored"] == ops["forwarded"] > 0
    assert calls == 2 * ops["forwarded"]


def test_empty_page_never_echoes_the_token_sent(proxy, via, data):
    proxy.configure(empty_page_rate=1.0)
    stream = data.lambda_streams["small"]
    first = via.get_log_events(logGroupName=LAMBDA_GROUP, logStreamName=stream, startFromHead=True)
    assert first["events"] == [] and first["nextForwardToken"].startswith("lfproxy:")
    real = via.get_log_events(
        logGroupName=LAMBDA_GROUP, logStreamName=stream, startFromHead=True, nextToken=first["nextForwardToken"]
    )
    assert len(real["events"]) == data.count(LAMBDA_GROUP, stream)
    token = real["nextForwardToken"]
    # A real token now gets an empty page whose token differs from it...
    empty = via.get_log_events(logGroupName=LAMBDA_GROUP, logStreamName=stream, startFromHead=True, nextToken=token)
    assert empty["events"] == [] and empty["nextForwardToken"] not in (token, first["nextForwardToken"])
    # ...and the restored request, at the end of the stream, returns the token it was sent.
    end = via.get_log_events(
        logGroupName=LAMBDA_GROUP, logStreamName=stream, startFromHead=True, nextToken=empty["nextForwardToken"]
    )
    assert end["events"] == [] and end["nextForwardToken"] == empty["nextForwardToken"]
    # Synthetic tokens are unique even for the same original token.
    again = via.get_log_events(logGroupName=LAMBDA_GROUP, logStreamName=stream, startFromHead=True, nextToken=token)
    assert again["nextForwardToken"] != empty["nextForwardToken"]


def test_describe_log_streams_with_empty_pages(proxy, via, direct, data):
    expected, direct_calls = describe_streams_all(direct, LAMBDA_GROUP, limit=1)
    assert sorted(expected) == sorted(data.groups[LAMBDA_GROUP]) and direct_calls >= 3
    proxy.configure(empty_page_rate=0.5)
    got, _ = describe_streams_all(via, LAMBDA_GROUP, limit=1)
    assert got == expected
    assert proxy.stats()["operations"]["DescribeLogStreams"]["empty_pages"] > 0


def test_describe_log_groups_gets_no_empty_pages(proxy, via, data):
    proxy.configure(empty_page_rate=1.0)
    names = [g["logGroupName"] for g in via.describe_log_groups()["logGroups"]]
    assert set(data.groups) <= set(names)
    assert proxy.stats()["operations"]["DescribeLogGroups"]["empty_pages"] == 0


# Statistics and reproducibility ------------------------------------------------------------------


def _outcomes(client, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            client.describe_log_streams(logGroupName=CASE_GROUP)
            out.append("ok")
        except ClientError as e:
            out.append(e.response["Error"]["Code"])
    return out


def test_stats_count_every_call(proxy, via):
    proxy.configure(throttle_rate=0.3, server_error_rate=0.2, server_error_kinds=["500-json"])
    outcomes = _outcomes(via, 60)
    ops = proxy.stats()["operations"]["DescribeLogStreams"]
    assert ops["total"] == 60
    assert ops["throttled"] == outcomes.count("ThrottlingException") > 0
    assert ops["server_errors"] == outcomes.count("ServiceUnavailableException") > 0
    assert ops["forwarded"] == outcomes.count("ok") > 0
    assert ops["throttled"] + ops["server_errors"] + ops["forwarded"] == 60
    assert proxy.stats()["all"]["total"] == 60

    proxy.reset_stats()
    assert proxy.stats() == {"operations": {}, "all": {k: 0 for k in proxy.stats()["all"]}}


def test_stats_are_thread_safe(proxy):
    import concurrent.futures

    proxy.configure(throttle_rate=0.5)
    clients = [logs_client(proxy.url) for _ in range(8)]

    def work(c):
        return _outcomes(c, 25)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = [o for r in pool.map(work, clients) for o in r]
    ops = proxy.stats()["operations"]["DescribeLogStreams"]
    assert ops["total"] == len(results) == 200
    assert ops["throttled"] == results.count("ThrottlingException")
    assert ops["forwarded"] == results.count("ok")


def test_same_seed_same_faults(proxy, via):
    proxy.configure(seed=123, throttle_rate=0.4)
    first = _outcomes(via, 20)
    proxy.configure(seed=123)
    second = _outcomes(via, 20)
    proxy.configure(seed=124)
    third = _outcomes(via, 20)
    assert first == second
    assert first != third
    assert "ThrottlingException" in first and "ok" in first


def test_http_control_endpoints(proxy, via):
    base = proxy.url + "/__proxy"

    def post(path, body):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    config = post("/config", {"throttle_rate": {"DescribeLogGroups": 1.0}})
    assert config["throttle_rate"] == {"DescribeLogGroups": 1.0}
    with pytest.raises(ClientError) as info:
        via.describe_log_groups()
    assert error_code(info) == "ThrottlingException"
    with urllib.request.urlopen(base + "/stats", timeout=10) as resp:
        stats = json.loads(resp.read())
    assert stats["operations"]["DescribeLogGroups"]["throttled"] == 1
    # Control requests are never forwarded nor counted.
    assert set(stats["operations"]) == {"DescribeLogGroups"}

    assert post("/reset", {}) == {"ok": True}
    assert proxy.stats()["all"]["total"] == 0
    post("/config", {"clear": True})
    via.describe_log_groups()
    # Bad configuration is refused with 400.
    with pytest.raises(urllib.error.HTTPError) as bad:
        post("/config", {"throttle_rate": 2})
    assert bad.value.code == 400


# Rate limit ---------------------------------------------------------------------------------------


def test_rate_limit_throttles_beyond_tps(proxy, via):
    proxy.configure(rate_limits={"DescribeLogGroups": 5})
    start = time.monotonic()
    outcomes = []
    for _ in range(20):
        try:
            via.describe_log_groups(limit=1)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    elapsed = time.monotonic() - start
    ok = outcomes.count("ok")
    # A bucket of 5 plus what refills while the calls run.
    assert 5 <= ok <= 5 + int(5 * elapsed) + 1, (ok, elapsed, outcomes)
    assert outcomes.count("ThrottlingException") == 20 - ok
    ops = proxy.stats()["operations"]["DescribeLogGroups"]
    assert ops["rate_limited"] == 20 - ok and ops["throttled"] == 0 and ops["forwarded"] == ok
    # Other operations have no limit.
    for _ in range(10):
        via.describe_log_streams(logGroupName=CASE_GROUP)
    # The bucket refills.
    time.sleep(0.5)
    via.describe_log_groups(limit=1)


def test_rate_limit_sustained_rate(proxy, via):
    """Calls paced at 20/s against a 10/s limit (burst 1): about half get through."""
    proxy.configure(rate_limits={"DescribeLogGroups": 10}, rate_limit_burst=1)
    outcomes = []
    start = time.monotonic()
    for i in range(30):
        delay = start + i * 0.05 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            via.describe_log_groups(limit=1)
            outcomes.append("ok")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ThrottlingException"
            outcomes.append("throttled")
    elapsed = time.monotonic() - start
    ok = outcomes.count("ok")
    # Never more than the limit allows (one in the bucket plus 10/s), yet about that many.
    assert 8 <= ok <= 1 + 10 * elapsed + 1, (ok, elapsed, outcomes)
    assert outcomes.count("throttled") == proxy.stats()["operations"]["DescribeLogGroups"]["rate_limited"] > 0
    proxy.configure(rate_limits={})
    assert _outcomes(via, 5) == ["ok"] * 5


# Script use ---------------------------------------------------------------------------------------


def test_runs_as_a_script(moto_endpoint, data):
    proc = subprocess.Popen(
        [sys.executable, str(FAULTPROXY_SCRIPT), "--upstream", moto_endpoint, "--port", "0",
         "--throttle-rate", "1.0", "--operations", "DescribeLogGroups", "--rate-limit", "FilterLogEvents=1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        port = int(proc.stdout.readline().strip())
        client = logs_client(f"http://127.0.0.1:{port}")
        with pytest.raises(ClientError) as info:
            client.describe_log_groups()
        assert error_code(info) == "ThrottlingException"
        assert len(client.describe_log_streams(logGroupName=CASE_GROUP)["logStreams"]) == 3
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/__proxy/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats["operations"]["DescribeLogGroups"]["throttled"] == 1
        assert stats["operations"]["DescribeLogStreams"]["forwarded"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/__proxy/config", timeout=10) as resp:
            assert json.loads(resp.read())["rate_limits"] == {"FilterLogEvents": 1000.0}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode is not None
