"""Session fixtures: a real moto server, deterministic data, the real logflight.

Environment (set by tests/run.sh; defaults suit a repository checkout):
  LOGFLIGHT_BIN          path of the logflight binary (default target/debug/logflight)
  LOGFLIGHT_MOTO_SERVER  path of moto_server (default .venv/bin/moto_server)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers  # noqa: E402
import servers  # noqa: E402
from servers import free_port, stop  # noqa: E402
import loader  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return text[-limit:]


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


def start_moto(log_path: Path) -> tuple[subprocess.Popen, str]:
    """moto's CloudWatch Logs server on a free loopback port, answering HTTP."""
    exe = _executable("LOGFLIGHT_MOTO_SERVER", ROOT / ".venv" / "bin" / "moto_server", "moto_server")
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"moto_server exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            urllib.request.urlopen(url + "/", timeout=1).read()
            return proc, url
        except urllib.error.HTTPError:
            return proc, url  # it answers HTTP, which is all we need
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"moto_server did not answer on {url}:\n{tail(log_path)}")
        time.sleep(0.1)


@contextlib.contextmanager
def moto(log_path: Path):
    """`with moto(log_path) as url:` start_moto's server, stopped when the block ends."""
    proc, url = start_moto(log_path)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def moto_server():
    """`moto` for tests that stop their moto part-way (`with moto_server(log) as url:`); a
    fixture, because a test module cannot import from conftest while another conftest
    (tests/python/compat) is also imported under that name."""
    return moto


@pytest.fixture(scope="session")
def moto_endpoint(workdir):
    with moto(workdir / "moto.log") as url:
        yield url


@pytest.fixture(scope="module")
def own_moto(workdir, request):
    """A moto of the test module's own, for data that must not show in the shared one."""
    with moto(workdir / f"moto-{request.module.__name__}.log") as url:
        yield url


@pytest.fixture(scope="session")
def data(moto_endpoint) -> loader.Dataset:
    dataset = loader.generate()
    client = loader.logs_client(moto_endpoint)
    loader.load(client, dataset)
    loader.verify_loaded(client, dataset)
    return dataset


@pytest.fixture(scope="session")
def server(moto_endpoint, data, workdir):
    """The real `logflight serve` against the session's moto (see servers.py)."""
    with servers.running(servers.start_logflight(moto_endpoint, workdir / "logflight.log")) as srv:
        yield srv


@pytest.fixture(autouse=True, scope="module")
def _server_survives_module(server):
    """After every test module, the server process must still be up and serving."""
    yield
    server.assert_serving()


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
