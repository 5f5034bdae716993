"""Fixtures of the compatibility tier: the session's anonymous server, one server with
authentication over the same moto and data, and `login`, which runs a test against each."""

from __future__ import annotations


import adbc_driver_flightsql.dbapi as flightsql
import pytest

from compat_common import PASSWORD, USER, Login
from helpers import scalar
from servers import LogflightServer, hash_password, new_token, running, start_logflight


@pytest.fixture(scope="session")
def secured_login(moto_endpoint, data, workdir):
    """logflight with one user and one static token, both granted every group, over the
    session's moto: the data of the anonymous `server`, behind authentication."""
    token, digest = new_token()
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
