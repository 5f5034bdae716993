"""`--ipc-compression`: the same answers, fewer bytes on the wire.

Three servers on the synthetic source (none, lz4, zstd) answer the same
query; the bytes each sends are counted by a TCP relay between client and
server, so the test sees what really crossed the connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pyarrow.flight as flight
import pytest

from helpers import connect, run
from servers import run_cli, running, start_serve

EVENTS = 60_000
QUERY = 'SELECT log_stream, time, message FROM "/synthetic/app".all_log_streams ORDER BY time'


class CountingRelay:
    """Forwards TCP connections to `port`, counting the bytes sent back to the client."""

    def __init__(self, port: int):
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.to_client = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src, dst, count):
        try:
            while chunk := src.recv(65536):
                if count:
                    with self.lock:
                        self.to_client += len(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def reset(self) -> None:
        with self.lock:
            self.to_client = 0

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def servers(workdir):
    with contextlib.ExitStack() as stack:
        started = {}
        for codec in ("none", "lz4", "zstd"):
            srv = stack.enter_context(running(start_serve(
                workdir / f"logflight-{codec}.log",
                "--source", "synthetic", "--synthetic-events", str(EVENTS),
                "--ipc-compression", codec,
            )))
            relay = CountingRelay(srv.port)
            stack.callback(relay.close)
            started[codec] = (srv, relay)
        yield started


def test_compressed_results_are_identical_and_smaller(servers):
    tables, sizes = {}, {}
    for codec, (srv, relay) in servers.items():
        relay.reset()
        client = flight.connect(f"grpc://127.0.0.1:{relay.port}")
        tables[codec] = client.do_get(flight.Ticket(QUERY.encode())).read_all()
        client.close()
        sizes[codec] = relay.to_client
    assert tables["none"].num_rows == EVENTS
    assert tables["lz4"].equals(tables["none"])
    assert tables["zstd"].equals(tables["none"])
    # Log text compresses well: each codec must at least halve the bytes, and
    # zstd beats lz4.
    assert sizes["lz4"] < sizes["none"] / 2, sizes
    assert sizes["zstd"] < sizes["lz4"], sizes


def test_adbc_reads_compressed_results(servers):
    srv, _ = servers["zstd"]
    with connect(srv.uri) as conn:
        table = run(conn, QUERY + " LIMIT 5000")
    plain, _ = servers["none"]
    with connect(plain.uri) as conn:
        want = run(conn, QUERY + " LIMIT 5000")
    assert table.num_rows == 5000
    assert table.equals(want)


def test_an_unknown_codec_is_refused(workdir):
    done = run_cli("serve", "--source", "demo", "--ipc-compression", "brotli", timeout=30)
    assert done.returncode != 0
    assert "brotli" in done.stderr and "zstd" in done.stderr, done.stderr
