"""Session fixtures: a real moto server, deterministic data, the real logflight.

Environment (set by tests/run.sh; defaults suit a repository checkout):
  LOGFLIGHT_BIN          path of the logflight binary (default target/debug/logflight)
  LOGFLIGHT_MOTO_SERVER  path of moto_server (default .venv/bin/moto_server)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
import loader  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return text[-limit:]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def uri(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def assert_alive(self) -> None:
        code = self.proc.poll()
        assert code is None, f"logflight exited with status {code}; log:\n{tail(self.log_path)}"


def _executable(env_var: str, default: Path, which: str | None = None) -> str:
    value = os.environ.get(env_var)
    if value:
        return value
    if default.exists():
        return str(default)
    found = shutil.which(which) if which else None
    if found:
        return found
    pytest.fail(f"{env_var} is not set and {default} does not exist (run the tests with `bash tests/run.sh`)")


def pytest_configure(config):
    # Flight SQL has no transactions; the ADBC DB-API wrapper warns about it on every connect.
    config.addinivalue_line("filterwarnings", "ignore:Cannot disable autocommit:Warning")


# Session fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logflight-e2e")


@pytest.fixture(scope="session")
def moto_endpoint(workdir):
    exe = _executable("LOGFLIGHT_MOTO_SERVER", ROOT / ".venv" / "bin" / "moto_server", "moto_server")
    port = free_port()
    log_path = workdir / "moto.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}:\n{tail(log_path)}")
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except urllib.error.HTTPError:
                break  # it answers HTTP, which is all we need
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"moto_server did not answer on {url}:\n{tail(log_path)}")
            time.sleep(0.1)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def data(moto_endpoint) -> loader.Dataset:
    dataset = loader.generate()
    client = loader.logs_client(moto_endpoint)
    loader.load(client, dataset)
    loader.verify_loaded(client, dataset)
    return dataset


@pytest.fixture(scope="session")
def server(moto_endpoint, data, workdir):
    exe = _executable("LOGFLIGHT_BIN", ROOT / "target" / "debug" / "logflight")
    port = free_port()
    log_path = workdir / "logflight.log"
    # Hermetic: no AWS profile/credentials/endpoint and no LOGFLIGHT_* settings
    # (config file, catalog name, ...) leak in from the caller's environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOGFLIGHT_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
        RUST_BACKTRACE="1",
        NO_COLOR="1",
    )
    cmd = [
        exe, "serve",
        "--source", "cloudwatch",
        "--endpoint-url", moto_endpoint,
        "--region", "us-east-1",
        "--listen", f"127.0.0.1:{port}",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    srv = Server(proc=proc, port=port, log_path=log_path)
    try:
        _wait_until_serving(srv, cmd)
        yield srv
    finally:
        stop(proc)


def _wait_until_serving(srv: Server, cmd: list[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            pytest.fail(f"logflight exited with {srv.proc.returncode}: {' '.join(cmd)}\n{tail(srv.log_path)}")
        if port_open(srv.port):
            try:
                with helpers.connect(srv.uri) as conn:
                    if helpers.scalar(conn, "SELECT 1") == 1:
                        return
            except Exception as e:  # noqa: BLE001 - keep polling, report the last one
                last_error = e
        time.sleep(0.2)
    pytest.fail(
        f"logflight did not answer SELECT 1 within {START_TIMEOUT_S:.0f}s "
        f"(last error: {last_error!r}): {' '.join(cmd)}\n{tail(srv.log_path)}"
    )


@pytest.fixture(autouse=True, scope="module")
def _server_survives_module(server):
    """After every test module, the server process must still be up and serving."""
    yield
    server.assert_alive()
    with helpers.connect(server.uri) as conn:
        assert helpers.scalar(conn, "SELECT 1") == 1


# Per-test fixtures -------------------------------------------------------------------


@pytest.fixture
def conn(server):
    """A fresh ADBC Flight SQL connection to the running server."""
    with helpers.connect(server.uri) as c:
        yield c


@pytest.fixture
def sql(conn):
    """Run a query and return its pyarrow.Table."""

    def _run(text: str, parameters=None):
        return helpers.run(conn, text, parameters)

    return _run
