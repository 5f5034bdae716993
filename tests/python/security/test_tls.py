"""TLS and mutual TLS, end to end: certificates made here (trustme), the real
`logflight serve --tls-cert/--tls-key [--tls-client-ca]` on the demo source, and
real clients (pyarrow.flight, ADBC) with and without the right certificates."""

from __future__ import annotations

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest
import trustme

from helpers import scalar
from servers import run_cli, running, start_serve

SQL = b"SELECT count(*) AS n FROM \"/aws/lambda/orders-api\".all_log_streams"


@pytest.fixture(scope="module")
def pki(workdir):
    ca = trustme.CA()
    other_ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.logflight.test")
    stranger = other_ca.issue_cert("stranger.logflight.test")
    d = workdir / "pki"
    d.mkdir(exist_ok=True)
    paths = {}
    for name, blob in {
        "ca": ca.cert_pem,
        "server_cert": server.cert_chain_pems[0],
        "server_key": server.private_key_pem,
    }.items():
        paths[name] = d / f"{name}.pem"
        blob.write_to_path(str(paths[name]))
    return {
        "paths": paths,
        "ca": ca.cert_pem.bytes(),
        "client": (client.cert_chain_pems[0].bytes(), client.private_key_pem.bytes()),
        "stranger": (stranger.cert_chain_pems[0].bytes(), stranger.private_key_pem.bytes()),
    }


def tls_client(srv, pki, cert=None) -> flight.FlightClient:
    kwargs = {"tls_root_certs": pki["ca"]}
    if cert:
        kwargs.update(cert_chain=cert[0], private_key=cert[1])
    return flight.FlightClient(srv.uri, **kwargs)


def count(client) -> int:
    return client.do_get(flight.Ticket(SQL)).read_all().column("n")[0].as_py()


def ready_with(pki, cert=None):
    def ready(srv) -> bool:
        c = tls_client(srv, pki, cert)
        try:
            return count(c) > 0
        finally:
            c.close()

    return ready


def serve_tls(log_path, pki, *extra: str, client_cert=None):
    """`logflight serve` on the demo source with the server certificate of `pki`; ready once a
    client trusting pki's CA (presenting `client_cert`, if given) reads from it."""
    p = pki["paths"]
    return start_serve(
        log_path, "--source", "demo",
        "--tls-cert", str(p["server_cert"]), "--tls-key", str(p["server_key"]), *extra,
        ready=ready_with(pki, client_cert), scheme="grpc+tls",
    )


@pytest.fixture(scope="module")
def tls_server(pki, workdir):
    with running(serve_tls(workdir / "logflight-tls.log", pki)) as srv:
        yield srv


@pytest.fixture(scope="module")
def mtls_server(pki, workdir):
    with running(serve_tls(workdir / "logflight-mtls.log", pki, "--tls-client-ca", str(pki["paths"]["ca"]),
                           client_cert=pki["client"])) as srv:
        yield srv


def test_tls_serves_pyarrow_and_adbc(tls_server, pki):
    c = tls_client(tls_server, pki)
    n = count(c)
    assert n > 0
    c.close()
    with flightsql.connect(tls_server.uri, db_kwargs={"adbc.flight.sql.client_option.tls_root_certs": pki["ca"].decode()}) as conn:
        assert scalar(conn, SQL.decode()) == n


def test_tls_refuses_plaintext_and_unverified_clients(tls_server, pki):
    plain = flight.FlightClient(f"grpc://127.0.0.1:{tls_server.port}")
    with pytest.raises((flight.FlightError, pa.ArrowException)):
        count(plain)
    plain.close()
    # The system roots do not vouch for the test CA.
    unverified = flight.FlightClient(tls_server.uri)
    with pytest.raises((flight.FlightError, pa.ArrowException)):
        count(unverified)
    unverified.close()
    tls_server.assert_alive()
    c = tls_client(tls_server, pki)
    assert count(c) > 0
    c.close()


def test_mutual_tls_needs_a_client_certificate_from_the_ca(mtls_server, pki):
    good = tls_client(mtls_server, pki, pki["client"])
    assert count(good) > 0
    good.close()
    for cert in (None, pki["stranger"]):
        c = tls_client(mtls_server, pki, cert)
        with pytest.raises((flight.FlightError, pa.ArrowException)):
            count(c)
        c.close()
    mtls_server.assert_alive()
    cert, key = pki["client"]
    with flightsql.connect(mtls_server.uri, db_kwargs={
        "adbc.flight.sql.client_option.tls_root_certs": pki["ca"].decode(),
        "adbc.flight.sql.client_option.mtls_cert_chain": cert.decode(),
        "adbc.flight.sql.client_option.mtls_private_key": key.decode(),
    }) as conn:
        assert scalar(conn, "SELECT 1") == 1
    with pytest.raises(adbc_driver_manager.Error):
        with flightsql.connect(mtls_server.uri, db_kwargs={"adbc.flight.sql.client_option.tls_root_certs": pki["ca"].decode()}) as conn:
            scalar(conn, "SELECT 1")


def test_tls_files_that_cannot_be_read_stop_the_start(workdir, pki):
    out = run_cli("serve", "--source", "demo", "--listen", "127.0.0.1:0",
                  "--tls-cert", str(workdir / "missing.pem"), "--tls-key", str(pki["paths"]["server_key"]))
    assert out.returncode != 0
    assert "cannot read the TLS certificate" in out.stderr and "missing.pem" in out.stderr, out.stderr
    out = run_cli("serve", "--source", "demo", "--listen", "127.0.0.1:0", "--tls-cert", str(pki["paths"]["server_cert"]))
    assert out.returncode != 0 and "go together" in out.stderr, out.stderr
