"""Start-up checks: a setting that cannot work fails `serve` at once, with one line naming
the setting and what to do, instead of retries and the SDK's dump on the first query.
Connection failures during a query are not retried like throttling either."""

from __future__ import annotations

import socket
import subprocess
import time

import adbc_driver_manager
import pytest

from helpers import connect, expect_error, scalar
from servers import child_env, exe, free_port, running, start_logflight, start_serve, stop

FAST_S = 3.0  # a failed start must end well within this


def serve_fails(*args: str) -> str:
    """Runs `serve *args`, requires a non-zero exit within FAST_S and one line on stderr."""
    started = time.monotonic()
    listen = [] if "--listen" in args else ["--listen", f"127.0.0.1:{free_port()}"]
    out = subprocess.run([exe(), "serve", *listen, *args],
                         capture_output=True, text=True, timeout=30, env=child_env())
    elapsed = time.monotonic() - started
    assert out.returncode != 0, out
    assert elapsed < FAST_S, f"took {elapsed:.1f} s: {out.stderr}"
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


def busy_port() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def test_endpoint_url_without_scheme(moto_endpoint):
    bare = moto_endpoint.removeprefix("http://")
    line = serve_fails("--source", "cloudwatch", "--region", "us-east-1", "--endpoint-url", bare)
    assert "--endpoint-url" in line and f"write http://{bare}" in line, line


def test_endpoint_url_with_nothing_listening():
    url = f"http://127.0.0.1:{free_port()}"
    line = serve_fails("--source", "cloudwatch", "--region", "us-east-1", "--endpoint-url", url)
    assert "--endpoint-url" in line and url in line and "cannot connect" in line, line


def test_misspelt_region_names_the_nearest(moto_endpoint):
    line = serve_fails("--source", "cloudwatch", "--region", "us-eest-1", "--endpoint-url", moto_endpoint)
    assert '--region "us-eest-1"' in line and 'did you mean "us-east-1"' in line, line


def test_new_looking_region_is_only_warned_about(moto_endpoint, workdir):
    srv = start_serve(workdir / "new-region.log", "--source", "cloudwatch", "--endpoint-url", moto_endpoint,
                      "--region", "eu-west-9")
    with running(srv):
        srv.assert_serving()
    assert 'did you mean "eu-west-1"' in srv.log(), srv.log()


@pytest.mark.parametrize("flag", ["--metrics-listen", "--listen"])
def test_busy_port_names_its_setting(flag):
    with busy_port() as s:
        taken = f"127.0.0.1:{s.getsockname()[1]}"
        line = serve_fails("--source", "demo", flag, taken)
    assert line.startswith("error:") and f"{flag} {taken}" in line, line


def test_listen_on_a_host_name(workdir):
    port = free_port()
    log = workdir / "listen-localhost.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([exe(), "serve", "--source", "demo", "--listen", f"localhost:{port}"],
                                stdout=f, stderr=subprocess.STDOUT, env=child_env())
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with connect(f"grpc://127.0.0.1:{port}") as conn:
                    assert scalar(conn, "SELECT 1") == 1
                break
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
    finally:
        stop(proc)


def test_principal_without_grant_is_warned_about(workdir):
    config = workdir / "ungranted.toml"
    config.write_text('[[tokens]]\nname = "dashboard"\ntoken_sha256 = "' + "ab" * 32 + '"\nroles = ["viewer"]\n')
    port = free_port()
    log = workdir / "ungranted.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([exe(), "serve", "--source", "demo", "--config", str(config),
                                 "--listen", f"127.0.0.1:{port}"],
                                stdout=f, stderr=subprocess.STDOUT, env=child_env())
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        stop(proc)
    text = log.read_text()
    assert "WARN" in text and '"dashboard" has no [[grants]] entry' in text and "viewer" in text, text


def test_lost_endpoint_fails_fast_naming_it(data, workdir, moto_server):
    """The endpoint goes away under a running server: the query fails in well under the
    seconds eight paced retries take, with UNAVAILABLE naming the endpoint."""
    with moto_server(workdir / "moto-lost.log") as url:
        srv = start_logflight(url, workdir / "lost-endpoint.log")
    with running(srv):
        with connect(srv.uri) as conn:
            started = time.monotonic()
            err = expect_error(conn, 'SELECT * FROM "/aws/lambda/x".all_log_streams',
                               status=adbc_driver_manager.AdbcStatusCode.IO,
                               contains=[f"cannot connect to {url}", "--endpoint-url"])
            elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"took {elapsed:.1f} s: {err}"
    assert "attempts" not in str(err), err
