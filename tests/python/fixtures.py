"""Fixture factories for what several test modules set up the same way.

    insights_server = server_behind_proxy("insights", seed=9, load=load_groups)
    iconn = connection("insights_server")

A module names the fixtures by the names it assigns them to.
"""

from __future__ import annotations

from typing import Callable

import pytest

from helpers import connect
from loader import logs_client
from servers import logflight_behind_proxy


def server_behind_proxy(name: str, *, seed: int, load: Callable[..., None]):
    """A module fixture for data that must not show in the shared moto: `load(client)` fills
    the module's own moto through a boto3 client, then logflight reads that moto through a
    FaultProxy that injects nothing and records every request (logflight_behind_proxy with
    `seed`; the server's log is logflight-{name}.log). Yields (server, proxy)."""

    @pytest.fixture(scope="module")
    def _server_behind_proxy(own_moto, workdir):
        load(logs_client(own_moto))
        with logflight_behind_proxy(own_moto, workdir / f"logflight-{name}.log", seed=seed) as pair:
            yield pair

    return _server_behind_proxy


def connection(server_fixture: str, *, scope: str = "function", check_alive: bool = False):
    """A fixture: a fresh ADBC Flight SQL connection to the server of the fixture named
    `server_fixture` (a LogflightServer, or a (server, proxy) pair), closed after each test
    (with scope="module": after the module). check_alive=True: the server process must still
    be up after the connection is closed."""

    @pytest.fixture(scope=scope)
    def _connection(request):
        srv = request.getfixturevalue(server_fixture)
        if isinstance(srv, tuple):
            srv = srv[0]
        with connect(srv.uri) as c:
            yield c
        if check_alive:
            srv.assert_alive()

    return _connection
