"""`logflight query`'s progress line: on a terminal for scans over a second, never elsewhere.

The scan is made slow on purpose: the CLI reads the session's moto through the
fault proxy (which throttles a share of the calls) with the client-side pacer
set to a couple of calls per second, so the whole-group scan runs for several
seconds. stderr is a real pseudo-terminal (Python's `pty`), as a user's shell
gives it.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess

import pytest

from faultproxy import FaultProxy
from loader import LAMBDA_GROUP
from helpers import drain_pty
from servers import child_env, exe

SLOW_PACE = "FilterLogEvents=3,GetLogEvents=3,DescribeLogStreams=5,DescribeLogGroups=5"
LINE = re.compile(
    r"scanning: ([\d,]+) events \([\d.]+ (?:B|KiB|MiB|GiB)\), ([\d,]+) API calls, ([\d,]+) throttled, ([\d.]+)s"
)


@pytest.fixture
def slow_endpoint(moto_endpoint, data):
    """A fresh proxy per test, so each test sees the same seeded faults."""
    with FaultProxy(moto_endpoint, seed=1, throttle_rate={"GetLogEvents": 0.2}) as p:
        yield p.url, p


def slow_query(data) -> str:
    """Every stream of the Lambda group by name: GetLogEvents per stream, about eight
    calls (the big stream takes several pages), so at three calls a second the scan
    lasts a few seconds."""
    names = ", ".join(f"'{s}'" for s in data.lambda_streams.values())
    return f'SELECT COUNT(*) AS n FROM "{LAMBDA_GROUP}".all_log_streams WHERE log_stream IN ({names})'


def query_cmd(endpoint: str, query: str) -> list[str]:
    return [
        exe(), "query",
        "--source", "cloudwatch",
        "--endpoint-url", endpoint,
        "--region", "us-east-1",
        "--api-tps", SLOW_PACE,
        "--max-attempts", "20",
        "--format", "csv",
        query,
    ]


def run_with_terminal_stderr(cmd: list[str]) -> tuple[int, str, bytes]:
    """Run `cmd` with stderr on a pseudo-terminal; return (exit code, stdout, terminal bytes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=child_env())
    os.close(slave)
    terminal = drain_pty(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=120), out, terminal


def count_of(csv_out: str) -> int:
    lines = csv_out.strip().splitlines()
    assert lines[0] == "n", csv_out
    return int(lines[1])


def test_a_slow_scan_shows_progress_on_a_terminal_and_erases_it(slow_endpoint, data):
    endpoint, proxy = slow_endpoint
    before = proxy.stats()
    code, out, terminal = run_with_terminal_stderr(query_cmd(endpoint, slow_query(data)))
    assert code == 0, terminal.decode(errors="replace")
    assert count_of(out) == data.count(LAMBDA_GROUP)

    text = terminal.decode()
    lines = LINE.findall(text)
    assert lines, f"no progress line on the terminal: {text!r}"
    # Redrawn in place, never scrolled: carriage returns, no newlines.
    assert "\n" not in text.replace("\r\n", ""), text
    events = [int(e.replace(",", "")) for e, _, _, _ in lines]
    calls = [int(c.replace(",", "")) for _, c, _, _ in lines]
    seconds = [float(s) for _, _, _, s in lines]
    assert events == sorted(events) and calls == sorted(calls) and seconds == sorted(seconds)
    assert seconds[0] >= 1.0, "the line must wait a second before it appears"
    assert 0 < calls[-1], lines
    assert events[-1] <= data.count(LAMBDA_GROUP)
    # The line is erased at the end so the shell prompt starts clean.
    assert text.endswith("\r\x1b[K"), repr(text[-80:])

    # The throttle count on the line is the proxy's: it cannot exceed what was injected.
    throttled = [int(t.replace(",", "")) for _, _, t, _ in lines]
    injected = proxy.stats()["all"]["throttled"] - before["all"]["throttled"]
    assert injected > 0, "the proxy must have throttled some calls"
    assert 1 <= throttled[-1] <= injected


def test_no_progress_when_stderr_is_not_a_terminal(slow_endpoint, data):
    endpoint, _ = slow_endpoint
    done = subprocess.run(query_cmd(endpoint, slow_query(data)), capture_output=True, text=True, timeout=120, env=child_env())
    assert done.returncode == 0, done.stderr
    assert count_of(done.stdout) == data.count(LAMBDA_GROUP)
    assert done.stderr == "", repr(done.stderr)


def test_a_fast_query_prints_nothing_on_the_terminal(slow_endpoint):
    endpoint, _ = slow_endpoint
    cmd = [exe(), "query", "--source", "demo", "--format", "csv", "SELECT 1 AS n"]
    code, out, terminal = run_with_terminal_stderr(cmd)
    assert code == 0
    assert count_of(out) == 1
    assert terminal == b"", terminal
