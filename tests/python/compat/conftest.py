"""Fixtures of the compatibility tier: the session's anonymous server, one server with
authentication over the same moto and data, and `login`, which runs a test against each."""

from __future__ import annotations

import subprocess

import adbc_driver_flightsql.dbapi as flightsql
import pytest

from compat_common import PASSWORD, USER, Login
from helpers import scalar
from servers import LogflightServer, exe, hash_password, running, start_logflight


def _new_token() -> tuple[str, str]:
    """`logflight new-token`: (the token for the client, its sha256 for the config)."""
    out = subprocess.run([exe(), "new-token"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    token = out.stdout.split("token (give it to the client; it is not stored): ")[1].split()[0]
    digest = out.stdout.split('token_sha256 = "')[1].split('"')[0]
    return token, digest


@pytest.fixture(scope="session")
def secured_login(moto_endpoint, data, workdir):
    """logflight with one user and one static token, both granted every group, over the
    session's moto: the data of the anonymous `server`, behind authentication."""
    token, digest = _new_token()
    config = workdir / "compat-auth.toml"
    config.write_text(
        f'[[users]]\nname = "{USER}"\npassword_hash = "{hash_password(PASSWORD)}"\nroles = ["reader"]\n\n'
        f'[[tokens]]\nname = "compat-token"\ntoken_sha256 = "{digest}"\nroles = ["reader"]\n\n'
        '[[grants]]\nroles = ["reader"]\nlog_groups = ["*"]\n'
    )

    def ready(srv: LogflightServer) -> bool:
        with flightsql.connect(srv.uri, db_kwargs={"username": USER, "password": PASSWORD}) as conn:
            return scalar(conn, "SELECT 1") == 1

    with running(start_logflight(moto_endpoint, workdir / "logflight-compat-auth.log", "--config", str(config),
                                 ready=ready)) as srv:
        yield Login(srv, USER, PASSWORD, token)


@pytest.fixture(scope="session")
def anonymous_login(server) -> Login:
    return Login(server)


@pytest.fixture(params=["anonymous", "password"])
def login(request) -> Login:
    """Each test runs once against the server without authentication and once against the
    one with, logging in with a username and password."""
    return request.getfixturevalue("anonymous_login" if request.param == "anonymous" else "secured_login")
