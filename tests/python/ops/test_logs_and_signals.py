"""The server's own log and how it stops: no colour codes in a file, JSON lines on
request, one event per line, and SIGTERM handled like SIGINT (docs/operations.md)."""

from __future__ import annotations

import json
import signal

import pytest

from helpers import connect, scalar
from servers import start_logflight

ESC = "\x1b["


def stop_with(srv, sig) -> int:
    srv.proc.send_signal(sig)
    return srv.proc.wait(timeout=10)


def log_of_one_query(moto_endpoint, log_path, sql: str, want, *args: str) -> str:
    """The whole log of a server (stderr a file; NO_COLOR empty, which counts as unset) that
    answered `sql` with `want` and was stopped with SIGTERM."""
    srv = start_logflight(moto_endpoint, log_path, *args, env={"NO_COLOR": ""})
    try:
        with connect(srv.uri) as conn:
            assert scalar(conn, sql) == want
        assert stop_with(srv, signal.SIGTERM) == 0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
    return srv.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_and_is_logged(moto_endpoint, data, workdir, sig):
    srv = start_logflight(moto_endpoint, workdir / f"stop-{sig.name}.log")
    try:
        assert stop_with(srv, sig) == 0, srv.log()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
    log = srv.log()
    assert "shutting down" in log and sig.name in log, log


def test_text_log_has_no_colour_codes_in_a_file_and_one_event_per_line(moto_endpoint, data, workdir):
    # NO_COLOR empty counts as unset (no-color.org): only the terminal check keeps colour out.
    log = log_of_one_query(moto_endpoint, workdir / "plain.log", "SELECT\n  41 + 1\n  AS answer", 42)
    assert ESC not in log, log
    lines = log.splitlines()
    assert any("SELECT\\n  41 + 1\\n  AS answer" in line for line in lines), log
    assert not any(line.startswith("  41 + 1") or line.startswith("  AS answer") for line in lines), log


def test_json_log_lines_parse(moto_endpoint, data, workdir):
    log = log_of_one_query(moto_endpoint, workdir / "json.log", "SELECT\n  7 AS seven", 7, "--log-format", "json")
    assert ESC not in log, log
    # stdout (the banner) shares the file in this harness; every other line is a JSON event.
    events = [json.loads(line) for line in log.splitlines() if not line.startswith(("logflight ", "connect: "))]
    assert events, log
    for e in events:
        assert {"timestamp", "level", "target", "fields"} <= e.keys(), e
    queries = [e for e in events if e["fields"].get("message") == "query"]
    assert any(e["fields"].get("sql") == "SELECT\n  7 AS seven" for e in queries), log
    stops = [e for e in events if str(e["fields"].get("message", "")).startswith("shutting down")]
    assert stops and stops[0]["fields"]["signal"] == "SIGTERM", log
