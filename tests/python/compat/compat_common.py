"""Shared by the compatibility tier: who to log in as, what every client must find
(computed from the record of what was loaded, never from logflight), and running a
client that lives outside this interpreter as a child process that prints JSON."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loader import CASE_GROUP, CASE_STREAM_LOWER, CASE_STREAM_UPPER, Dataset
from servers import LogflightServer

ROOT = Path(__file__).resolve().parents[3]

USER = "compat-user"
# A colon and a non-ASCII letter: Basic credentials split at the first colon only, and the
# base64 of UTF-8 must survive every client's encoding.
PASSWORD = "pa:ss-wörd-7"


@dataclass(frozen=True)
class Login:
    """How to reach a server: its address, and the credentials it wants (all None:
    anonymous). `token` is a static bearer token the server also accepts."""

    server: LogflightServer
    user: str | None = None
    password: str | None = None
    token: str | None = None

    host = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def uri(self) -> str:
        return self.server.uri

    @property
    def authenticated(self) -> bool:
        return self.user is not None


# What every client must find ---------------------------------------------------------

CATALOG = "cloudwatch"
SYSTEM_SCHEMAS = {"information_schema", "logflight$meta"}  # logflight's, beside the groups
QUERY_GROUP = CASE_GROUP
QUERY_STREAM = CASE_STREAM_UPPER  # "Worker"
PARAM_STREAM = CASE_STREAM_LOWER  # "worker": differs from "Worker" only by case


def expected_tables(data: Dataset, group: str = QUERY_GROUP) -> set[str]:
    """A group's tables: one per stream (empty ones too) and all_log_streams."""
    return set(data.groups[group]) | {"all_log_streams"}


def count_sql(group: str = QUERY_GROUP, stream: str = QUERY_STREAM) -> str:
    """A count over one stream's table."""
    return f'SELECT count(*) AS n FROM "{group}"."{stream}"'


def param_sql(placeholder: str = "?") -> str:
    """A count over the group's all_log_streams with the stream name as a bound parameter."""
    return f'SELECT count(*) AS n FROM "{QUERY_GROUP}".all_log_streams WHERE log_stream = {placeholder}'


def user_schemas(names) -> set[str]:
    """The log groups among schema names."""
    return set(names) - SYSTEM_SCHEMAS


# Clients in a child process ----------------------------------------------------------


def run_json(cmd: list[str], spec: dict, *, timeout: float = 120, env: dict[str, str] | None = None) -> dict:
    """Run a client script that reads `spec` as JSON on stdin and prints one JSON object
    (each step's result or error) on stdout; fail with its stderr if it prints none."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    out = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, timeout=timeout,
                         env=child_env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert out.returncode == 0 and lines, f"{cmd} exited {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return json.loads(lines[-1])


def step(results: dict, name: str):
    """One step's value from a child client's results; its error fails the test with the
    client's own message."""
    got = results[name]
    assert "error" not in got, f"{name}: {got['error']}"
    return got["value"]


def sqlalchemy1_python() -> str:
    """The interpreter of the SQLAlchemy 1.x environment tests/run.sh makes for
    flightsql-dbapi (LOGFLIGHT_SQLALCHEMY1_PYTHON, default .venv-sqlalchemy1)."""
    path = os.environ.get("LOGFLIGHT_SQLALCHEMY1_PYTHON") or str(ROOT / ".venv-sqlalchemy1" / "bin" / "python")
    if not Path(path).exists():
        import pytest

        pytest.fail(f"{path} does not exist: run the tests with `bash tests/run.sh`, which creates it")
    return path


def run_client_once(cache: dict, login: Login, token: bool, cmd: list[str], spec: dict,
                    env: dict[str, str] | None = None) -> dict:
    """Every step of a client script against `login` (with its static token if `token`), run
    once per login and kept in `cache`: the script's spec plus the login's credentials."""
    key = (tuple(cmd), login.port, login.user, login.password, token)
    if key not in cache:
        if token:
            credentials = {"token": login.token}
        elif login.authenticated:
            credentials = {"user": login.user, "password": login.password}
        else:
            credentials = {}
        cache[key] = run_json(cmd, {**spec, **credentials}, env=env)
    return cache[key]
