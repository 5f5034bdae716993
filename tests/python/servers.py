"""Starting the real `logflight serve` for tests: hermetic environment, free port, and a wait
until it answers `SELECT 1` (with its log on failure)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import connect, scalar

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0



@dataclass
class LogflightServer:
    proc: subprocess.Popen
    port: int
    log_path: Path
    scheme: str = "grpc"
    metrics_port: int | None = None  # its --metrics-listen port, if started with metrics=True

    @property
    def uri(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError as e:
            return f"<cannot read {self.log_path}: {e}>"

    def assert_alive(self) -> None:
        assert self.proc.poll() is None, f"logflight exited with {self.proc.returncode}; log:\n{self.log()}"

    def assert_serving(self) -> None:
        """The process is up and a brand-new plain ADBC connection answers SELECT 1."""
        self.assert_alive()
        with connect(self.uri) as conn:
            assert scalar(conn, "SELECT 1") == 1, self.log()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exe() -> str:
    return os.environ.get("LOGFLIGHT_BIN") or str(ROOT / "target" / "debug" / "logflight")


def pacing_args() -> list[str]:
    """Lift the server's client-side pacing (published AWS quotas, e.g. FilterLogEvents 5/s,
    halved on every throttle) if this build has it: these tests are about correctness under
    faults, and moto has no quota, so waiting out the pacer would only make them slow."""
    try:
        text = subprocess.run([exe(), "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    if "--api-tps" not in text:
        return []
    return ["--api-tps", "DescribeLogGroups=500,DescribeLogStreams=500,GetLogEvents=500,FilterLogEvents=500"]


def new_token() -> tuple[str, str]:
    """`logflight new-token`: (the token for the client, its sha256 for the config)."""
    out = subprocess.run([exe(), "new-token"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    token = out.stdout.split("token (give it to the client; it is not stored): ")[1].split()[0]
    digest = out.stdout.split('token_sha256 = "')[1].split('"')[0]
    return token, digest


def hash_password(password: str) -> str:
    """`logflight hash-password`, as an operator writing [[users]] runs it."""
    out = subprocess.run([exe(), "hash-password"], input=password + "\n", capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("$argon2id$"), line
    return line


def child_env() -> dict[str, str]:
    """The environment of a logflight child: moto's fake credentials, none of the caller's
    AWS_ or LOGFLIGHT_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOGFLIGHT_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        RUST_BACKTRACE="1",
        NO_COLOR="1",
        # moto answers Logs Insights without running `filter` or `stats`, so an
        # aggregation pushed into it would come back wrong: the suite scans, and the
        # pushdown is proven on its own (sql/test_insights_pushdown.py, tests/fakecloud).
        LOGFLIGHT_INSIGHTS_PUSHDOWN="off",
    )
    return env


def start_logflight(endpoint: str, log_path: Path, *extra: str, **kwargs) -> LogflightServer:
    """Start logflight exactly as conftest does, but against `endpoint` (keyword
    arguments go to start_serve)."""
    return start_serve(
        log_path,
        "--source", "cloudwatch",
        "--endpoint-url", endpoint,
        "--region", "us-east-1",
        *extra,
        **kwargs,
    )


@contextlib.contextmanager
def logflight_behind_proxy(endpoint: str, log_path: Path, seed: int, *extra: str, **kwargs):
    """logflight reading `endpoint` through a FaultProxy that injects no faults and
    records every request; yields (server, proxy) and stops both. `extra` are more
    `serve` flags, keyword arguments go to start_serve."""
    from faultproxy import FaultProxy

    with FaultProxy(endpoint, seed=seed) as proxy:
        with running(start_logflight(proxy.url, log_path, *pacing_args(), *extra, **kwargs)) as srv:
            yield srv, proxy


def answers_select_1(srv: LogflightServer) -> bool:
    with connect(srv.uri) as conn:
        return scalar(conn, "SELECT 1") == 1


def start_serve(log_path: Path, *args: str, ready=answers_select_1, scheme: str = "grpc",
                env: dict[str, str] | None = None, metrics: bool = False) -> LogflightServer:
    """`logflight serve *args` on a free loopback port; returns once `ready(server)` is true
    (by default: it answers SELECT 1 over plain ADBC). `env` adds to the child's environment;
    `metrics=True` adds `--metrics-listen` on another free port, kept in `metrics_port`."""
    port = free_port()
    child = child_env()
    child.update(env or {})
    metrics_port = free_port() if metrics else None
    metrics_args = ["--metrics-listen", f"127.0.0.1:{metrics_port}"] if metrics else []
    cmd = [exe(), "serve", "--listen", f"127.0.0.1:{port}", *metrics_args, *args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child)
    srv = LogflightServer(proc, port, log_path, scheme, metrics_port)
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"logflight exited with {proc.returncode}: {' '.join(cmd)}\n{srv.log()}")
        try:
            if ready(srv):
                return srv
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last = e
        time.sleep(0.2)
    stop(proc)
    pytest.fail(f"logflight did not answer SELECT 1 (last error: {last!r}): {' '.join(cmd)}\n{srv.log()}")


@contextlib.contextmanager
def running(srv: LogflightServer):
    """`with running(start_serve(...)) as srv:` (or start_logflight): the server, stopped
    when the block ends."""
    try:
        yield srv
    finally:
        stop(srv.proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run_cli(*args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
    """`logflight *args` to its end in the hermetic environment, text output captured."""
    return subprocess.run([exe(), *args], input=input, capture_output=True, text=True, timeout=timeout,
                          env=child_env())


def scrape(port: int) -> dict[str, float]:
    """Prometheus text from logflight's --metrics-listen port, as {series: value}."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    return series
